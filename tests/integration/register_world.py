"""A register to test against: real runs signed by a lab and by a supplier, the trust list, the body key,
and ``harness register serve`` started as a process on loopback (its ready line gives the URL)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.catalog import Catalog
from harness.endpoints import build_app
from harness.evidence import TrustEntry, TrustList
from harness.evidence.bundle import Sut
from harness.evidence.keys import keyid
from tests.integration.evidence_helpers import rebuild, run_with_evidence
from tests.integration.served import serve_process

LAB = "Accredited Lab Ltd"
BETA = "Beta Systems"
ACME = Sut("Acme Ltd", "RMS", "2.1")
BETA_ALERTER = Sut(BETA, "Alerter", "3.0")
GAMMA = Sut("Gamma plc", "CAD <b>1</b>", "1.0")
"""A product name holding markup: every page must show it as text."""


@dataclass(slots=True, frozen=True)
class World:
    folder: Path
    trust: Path
    body_key: Path
    body_public: Path
    body: Ed25519PrivateKey
    bundles: dict[str, Path]


def _private(path: Path, key: Ed25519PrivateKey) -> Path:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path


def _entry(key: Ed25519PrivateKey, holder: str, *suppliers: str) -> TrustEntry:
    return TrustEntry(keyid(key.public_key()), key.public_key(), holder, suppliers)


def broken_intel_hub(catalog: Catalog) -> web.Application:
    """The reference supplier answering XML intelligence reports 400: a system with one bug (its run fails)."""
    app = build_app(catalog)

    @web.middleware
    async def refuse_xml(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.endswith("/intel-reports") and "xml" in request.headers.get("Content-Type", ""):
            return web.json_response({"title": "no XML here"}, status=400)
        response: web.StreamResponse = await handler(request)
        return response

    app.middlewares.insert(0, refuse_xml)
    return app


def build_world(folder: Path, catalog: Catalog) -> World:
    """Three products' real runs: Acme (lab-signed, passes), Beta's alerter (self-signed, passes), Gamma
    (lab-signed, fails); and a copy of Beta's bundle with one member changed after signing (refused)."""
    lab, beta, body = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    trust = folder / "trust.json"
    TrustList((_entry(lab, LAB, "*"), _entry(beta, BETA, BETA))).save(trust)

    async def runs() -> dict[str, Path]:
        return {
            "acme": await run_with_evidence(catalog, build_app(catalog), folder / "acme", "intel-core", lab, ACME),
            "acme-next": await run_with_evidence(
                catalog, build_app(catalog), folder / "acme-next", "intel-core", lab, Sut("Acme Ltd", "RMS", "2.2")
            ),
            "beta": await run_with_evidence(
                catalog, build_app(catalog), folder / "beta", "alerts-core@1.1", beta, BETA_ALERTER
            ),
            "gamma": await run_with_evidence(
                catalog, broken_intel_hub(catalog), folder / "gamma", "intel-core", lab, GAMMA
            ),
        }

    bundles = asyncio.run(runs())
    bundles["tampered"] = rebuild(bundles["beta"], folder / "tampered.evidence.zip", {"junit.xml": b"<testsuites/>"})
    _private(folder / "lab.key", lab)  # for runs the lab makes itself (run --register)
    public = folder / "body.pub"
    public.write_bytes(
        body.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return World(folder, trust, _private(folder / "body.key", body), public, body, bundles)


def serve_command(world: World, store: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "harness.cli", "register", "serve", "--store", store, "--trust-list", str(world.trust),
        "--body-key", str(world.body_key), "--port", "0", *extra,
    ]  # fmt: skip


@contextlib.contextmanager
def register_server(world: World, store: str, *extra: str, log: Path | None = None) -> Iterator[str]:
    """``harness register serve`` on 127.0.0.1 port 0; yields its base URL (no trailing slash). With ``log``, the
    server's stderr (its refusal lines) is kept there; the server must then stop cleanly on SIGTERM."""
    if log is None:
        with serve_process(serve_command(world, store, *extra)) as url:
            yield url.rstrip("/")
        return
    with open(log, "w") as errors:
        process = subprocess.Popen(
            serve_command(world, store, *extra), stdout=subprocess.PIPE, stderr=errors, text=True
        )
        assert process.stdout is not None
        try:
            line = process.stdout.readline()
            assert "listening on http" in line, line + log.read_text()
            yield line.split(" on ", 1)[1].split()[0].rstrip("/")
        finally:
            process.terminate()
            process.wait(timeout=60)
            process.stdout.close()
    assert process.returncode == 0 and "Traceback" not in log.read_text(), log.read_text()


def fetch(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
    """(status, JSON or text, headers) of one request; an HTTP error status is an answer, not an exception."""
    request = urllib.request.Request(
        url, data=data, headers=headers or {}, method="POST" if data is not None else "GET"
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            status, body, got = response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        status, body, got = exc.code, exc.read(), exc.headers
    kind = got.get("Content-Type", "")
    return status, json.loads(body) if "json" in kind else body.decode("utf-8", "replace"), got
