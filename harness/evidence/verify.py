"""Offline verification of an evidence bundle (``specs/evidence.md``, "Verifying")."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from harness.evidence.bundle import PREDICATE_TYPE, STATEMENT_TYPE, suite_digest
from harness.evidence.dsse import EnvelopeError, verify
from harness.model import UsageError

__all__ = [
    "MAX_MEMBER_BYTES",
    "BundleReport",
    "Invalid",
    "iter_exchanges",
    "open_bundle",
    "results_follow",
    "verify_bundle",
]

MAX_MEMBER_BYTES = 4 << 30
"""Largest member read (uncompressed): a zip bomb stops here rather than filling memory or disk."""
MAX_SMALL_BYTES = 64 << 20
"""Largest statement, envelope or results document read into memory."""
MAX_MEMBERS = 100_000
MAX_LINE_BYTES = 64 << 20
"""Longest line of exchanges.jsonl read when re-judging."""
_SIGNED = ("statement.json", "envelope.json")
_VERDICTS = {"passed": "passed", "failed": "failed", "error": "errors", "skipped": "skipped", "manual": "manual"}


class Invalid(Exception):
    """The bundle is invalid; the message is the first reason found, on one line."""


@dataclass(slots=True, frozen=True)
class BundleReport:
    path: str
    signed: bool
    keyid: str | None
    certified: bool
    certifiable: bool
    """Signed by a trusted key, SUT declared, and every MUST scenario passed."""
    statement: dict[str, Any]
    results: dict[str, Any]
    digest: str
    """SHA-256 of the bundle file."""

    def as_dict(self) -> dict[str, Any]:
        predicate = self.statement.get("predicate") or {}
        return {
            "bundle": self.path,
            "valid": True,
            "signed": self.signed,
            "keyid": self.keyid,
            "certified": self.certified,
            "certifiable": self.certifiable,
            "suite": predicate.get("suite"),
            "sut": predicate.get("sut"),
            "sha256": self.digest,
        }


def open_bundle(path: Path) -> zipfile.ZipFile:
    """The bundle's archive; unreadable or not a ZIP is a usage error (exit 2)."""
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, zipfile.BadZipFile) as exc:
        raise UsageError(f"{path}: not a readable evidence bundle ({exc})") from None


def _read(archive: zipfile.ZipFile, name: str, limit: int = MAX_SMALL_BYTES) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > limit:
        raise Invalid(f"member {name} is larger than {limit} bytes")
    try:
        with archive.open(info) as member:
            data = member.read(limit + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise Invalid(f"member {name} is corrupt ({exc})") from None
    if len(data) > limit:
        raise Invalid(f"member {name} is larger than {limit} bytes")
    return data


def _digest(archive: zipfile.ZipFile, name: str) -> str:
    digest, total = hashlib.sha256(), 0
    try:
        with archive.open(name) as member:
            while chunk := member.read(1 << 16):
                total += len(chunk)
                if total > MAX_MEMBER_BYTES:
                    raise Invalid(f"member {name} is larger than {MAX_MEMBER_BYTES} bytes")
                digest.update(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise Invalid(f"member {name} is corrupt ({exc})") from None
    return digest.hexdigest()


def _json(data: bytes, name: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise Invalid(f"{name} is not JSON") from None
    if not isinstance(value, dict):
        raise Invalid(f"{name} is not a JSON object")
    return value


def results_follow(results: Mapping[str, Any]) -> None:
    """``summary`` and ``certified`` follow from the scenario verdicts (README rule 9)."""
    scenarios = results.get("scenarios")
    if not isinstance(scenarios, list):
        raise Invalid("results.json has no scenario list")
    counts = dict.fromkeys(_VERDICTS.values(), 0)
    must_passed = True
    for scenario in scenarios:
        if not isinstance(scenario, dict) or scenario.get("verdict") not in _VERDICTS:
            raise Invalid("results.json: a scenario has no known verdict")
        counts[_VERDICTS[scenario["verdict"]]] += 1
        if scenario.get("level") == "MUST" and scenario["verdict"] != "passed":
            must_passed = False
    if results.get("summary") != counts:
        raise Invalid(f"verdicts do not follow: summary {results.get('summary')} but the scenarios give {counts}")
    # A run marked not certifying (a retired suite version run with --not-certifying) never certifies.
    certified = must_passed and not results.get("interrupted", False) and results.get("certifying", True) is not False
    if results.get("certified") is not certified:
        raise Invalid(f"verdicts do not follow: certified is {results.get('certified')} but rule 9 gives {certified}")


def _predicate_agrees(predicate: Mapping[str, Any], results: Mapping[str, Any]) -> None:
    suite = predicate.get("suite") or {}
    pairs = [
        ("suite name", suite.get("name"), (results.get("suite") or {}).get("name")),
        ("suite version", suite.get("version"), (results.get("suite") or {}).get("version")),
        ("started", predicate.get("started"), results.get("started")),
        ("finished", predicate.get("finished"), results.get("finished")),
        ("summary", predicate.get("summary"), results.get("summary")),
        ("certified", predicate.get("certified"), results.get("certified")),
    ]
    for what, claimed, recorded in pairs:
        if claimed != recorded:
            raise Invalid(f"predicate disagrees with results.json: {what} {claimed!r} != {recorded!r}")


def iter_exchanges(archive: zipfile.ZipFile) -> Iterator[dict[str, Any]]:
    """The recorded exchanges, one at a time (a bundle of a soak run is never read whole)."""
    with archive.open("exchanges.jsonl") as handle:
        number = 0
        while line := handle.readline(MAX_LINE_BYTES + 1):
            number += 1
            if len(line) > MAX_LINE_BYTES:
                raise Invalid(f"exchanges.jsonl line {number} is longer than {MAX_LINE_BYTES} bytes")
            if line.strip():
                try:
                    record = json.loads(line)
                except ValueError:
                    raise Invalid(f"exchanges.jsonl line {number} is not JSON") from None
                if not isinstance(record, dict):
                    raise Invalid(f"exchanges.jsonl line {number} is not an object")
                yield record


Rejudge = Callable[[zipfile.ZipFile, dict[str, Any]], list[str]]


def verify_bundle(path: Path, trusted: Mapping[str, Ed25519PublicKey], rejudge: Rejudge | None = None) -> BundleReport:
    """Check everything ``evidence.md`` asks; raises Invalid with the first reason, UsageError when unreadable."""
    with open_bundle(path) as archive:
        with path.open("rb") as handle:
            file_digest = hashlib.file_digest(handle, "sha256").hexdigest()
        names = [info.filename for info in archive.infolist()]
        if len(names) > MAX_MEMBERS:
            raise Invalid(f"more than {MAX_MEMBERS} members")
        duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
        if duplicates:
            raise Invalid(f"member {duplicates[0]} appears twice")
        if "statement.json" not in names:
            raise Invalid("member missing: statement.json")
        statement_bytes = _read(archive, "statement.json")
        keyid: str | None = None
        signed = "envelope.json" in names
        if signed:
            try:
                payload, keyid = verify(_json(_read(archive, "envelope.json"), "envelope.json"), trusted)
            except EnvelopeError as exc:
                raise Invalid(str(exc)) from None
            if payload != statement_bytes:
                raise Invalid("signed payload differs from statement.json")
        elif trusted:
            raise Invalid("unsigned bundle: no envelope.json, so no trusted key can vouch for it")
        statement = _json(statement_bytes, "statement.json")
        if statement.get("_type") != STATEMENT_TYPE or statement.get("predicateType") != PREDICATE_TYPE:
            raise Invalid("statement.json is not a certification-run statement")
        subjects = statement.get("subject")
        if not isinstance(subjects, list):
            raise Invalid("statement.json has no subject list")
        listed: dict[str, str] = {}
        for subject in subjects:
            name = subject.get("name") if isinstance(subject, dict) else None
            digest = (subject.get("digest") or {}).get("sha256") if isinstance(subject, dict) else None
            if not isinstance(name, str) or not isinstance(digest, str) or name in listed:
                raise Invalid("statement.json: a subject has no name and sha256, or is listed twice")
            listed[name] = digest
        present = [n for n in names if n not in _SIGNED]
        for name in present:
            if name not in listed:
                raise Invalid(f"member added: {name} is not a subject of the statement")
        for name in listed:
            if name not in names:
                raise Invalid(f"member missing: {name}")
        for name in present:
            if _digest(archive, name) != listed[name]:
                raise Invalid(f"digest mismatch: {name}")
        for required in ("results.json", "exchanges.jsonl", "junit.xml"):
            if required not in listed:
                raise Invalid(f"member missing: {required}")
        predicate = statement.get("predicate")
        if not isinstance(predicate, dict):
            raise Invalid("statement.json has no predicate")
        claimed_suite = ((predicate.get("suite") or {}).get("digest") or {}).get("sha256")
        if claimed_suite != suite_digest(list(listed.items())):
            raise Invalid("predicate disagrees with the suite/ members: suite digest")
        results = _json(_read(archive, "results.json"), "results.json")
        results_follow(results)
        _predicate_agrees(predicate, results)
        if rejudge is not None:
            differences = rejudge(archive, results)
            if differences:
                raise Invalid(f"re-judging differs: {differences[0]}")
    certified = bool(results.get("certified"))
    certifiable = signed and certified and bool(predicate.get("sut"))
    return BundleReport(str(path), signed, keyid, certified, certifiable, statement, results, file_digest)
