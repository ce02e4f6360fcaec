"""Bundles of real runs (reference supplier on loopback), and a tool to rebuild one with changes."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.catalog import Catalog
from harness.evidence.bundle import EvidenceReporter, Sut
from harness.evidence.dsse import envelope
from tests.conftest import certify

SUT = Sut("Example Ltd", "Reference", "1.0")


async def run_with_evidence(
    catalog: Catalog,
    app: web.Application,
    reports: Path,
    suite: str = "checks-core",
    key: Ed25519PrivateKey | None = None,
    sut: Sut | None = SUT,
    certifying: bool = True,
    roles: tuple[str, ...] = (),
) -> Path:
    chosen = catalog.suite(suite)
    dataset = catalog.datasets.get(chosen.dataset) if chosen.dataset else None
    reporter = EvidenceReporter(reports, chosen, catalog.root, dataset, sut=sut, sign_key=key)
    await certify(catalog, app, suite, listeners=[reporter], certifying=certifying, roles=roles)
    assert reporter.bundle is not None
    return reporter.bundle


def members(bundle: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(bundle) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rebuild(
    bundle: Path,
    out: Path,
    change: dict[str, bytes | None] | None = None,
    resign: Ed25519PrivateKey | None = None,
    statement_edit: Any = None,
) -> Path:
    """A copy of ``bundle`` with members replaced (None: removed) or added; with ``resign``, the
    statement's subjects recomputed and the envelope signed again (what a dishonest signer can do)."""
    content = members(bundle)
    for name, data in (change or {}).items():
        if data is None:
            content.pop(name, None)
        else:
            content[name] = data
    if resign is not None:
        statement = json.loads(content["statement.json"])
        statement["subject"] = [
            {"name": name, "digest": {"sha256": hashlib.sha256(data).hexdigest()}}
            for name, data in content.items()
            if name not in ("statement.json", "envelope.json")
        ]
        if statement_edit is not None:
            statement_edit(statement)
        content["statement.json"] = json.dumps(statement, indent=2).encode() + b"\n"
        content["envelope.json"] = json.dumps(envelope(content["statement.json"], resign)).encode()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in content.items():
            archive.writestr(name, data)
    return out


def forge(
    bundle: Path,
    out: Path,
    key: Ed25519PrivateKey,
    results_edit: Any = None,
    predicate_edit: Any = None,
    change: dict[str, bytes | None] | None = None,
) -> Path:
    """What a dishonest signer does: edit ``results.json`` and the predicate alike, then re-sign with its key."""
    changes = dict(change or {})
    if results_edit is not None:
        results = json.loads(members(bundle)["results.json"])
        results_edit(results)
        changes["results.json"] = json.dumps(results, indent=2).encode() + b"\n"

    def edit(statement: dict[str, Any]) -> None:
        if predicate_edit is not None:
            predicate_edit(statement["predicate"])

    return rebuild(bundle, out, changes, resign=key, statement_edit=edit)


def both(edit: Any) -> tuple[Any, Any]:
    """The same edit for results.json and the predicate (a forger keeps them agreeing, check 5)."""
    return edit, edit


def flip(data: bytes, at: int | None = None) -> bytes:
    index = len(data) // 2 if at is None else at
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]
