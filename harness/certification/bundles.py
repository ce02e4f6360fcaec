"""Reading and verifying evidence bundles (``specs/evidence.md``), behind one narrow interface.

:class:`BundleReader` is what the report, the matrix and the catalogue need:
``open(path)`` gives an :class:`OpenedBundle` (verified or not, with the first
reason it is not). The evidence package provides the authoritative verifier;
until it is wired here, :class:`Ed25519BundleReader` checks what the
specification lists: the DSSE signature by a trusted key, the payload equal to
``statement.json``, every member's digest, the summary and verdict following
from the scenario verdicts, and the predicate agreeing with ``results.json``.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from harness.certification.dsse import verify_envelope
from harness.certification.records import Product, VerifiedRunRecord
from harness.model import UsageError

__all__ = ["BundleReader", "Ed25519BundleReader", "OpenedBundle", "mapping"]

MAX_MEMBERS = 20_000
MAX_MEMBER_BYTES = 1 << 30
MAX_JSON_BYTES = 64 << 20
_VERDICT_SUMMARY = {"passed": "passed", "failed": "failed", "error": "errors", "skipped": "skipped", "manual": "manual"}


@dataclass(slots=True, frozen=True)
class OpenedBundle:
    path: Path
    results: dict[str, Any]
    predicate: dict[str, Any]
    verified: bool
    problem: str
    """Why the bundle does not verify ("" when it does)."""
    signer: str

    def exchanges(self) -> Iterator[dict[str, Any]]:
        """The records of ``exchanges.jsonl``, streamed (interface 3 of the evidence bundle)."""
        try:
            with zipfile.ZipFile(self.path) as archive, archive.open("exchanges.jsonl") as handle:
                for number, line in enumerate(handle, start=1):
                    if len(line) > MAX_JSON_BYTES:
                        raise UsageError(f"{self.path}: exchanges.jsonl line {number} is over {MAX_JSON_BYTES} bytes")
                    if line.strip():
                        try:
                            record = json.loads(line)
                        except ValueError:
                            raise UsageError(f"{self.path}: exchanges.jsonl line {number} is not JSON") from None
                        if isinstance(record, dict):
                            yield record
        except (zipfile.BadZipFile, OSError, KeyError, EOFError) as exc:
            raise UsageError(f"{self.path}: exchanges.jsonl cannot be read ({exc})") from None

    def record(self, status: str = "current") -> VerifiedRunRecord:
        sut, suite = mapping(self.predicate.get("sut")), mapping(self.results.get("suite"))
        listed = self.results.get("scenarios")
        scenarios = [s for s in listed if isinstance(s, dict)] if isinstance(listed, list) else []
        return VerifiedRunRecord(
            product=Product(str(sut.get("supplier", "?")), str(sut.get("product", "?")), str(sut.get("version", "?"))),
            suite=str(suite.get("name", "?")),
            suite_version=str(suite.get("version", "?")),
            certified=bool(self.results.get("certified")),
            status=status,
            bundle=str(self.path),
            verdicts=tuple((str(s.get("id")), str(s.get("verdict"))) for s in scenarios),
            verified=self.verified,
            finished=str(self.results.get("finished", "")),
            signer=self.signer,
            levels=tuple((str(s.get("id")), str(s.get("level"))) for s in scenarios),
        )


def mapping(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one: bundle contents are not trusted to be well-formed."""
    return value if isinstance(value, dict) else {}


class BundleReader(Protocol):
    """Opens an evidence bundle and says whether it verifies against the reader's trusted keys."""

    def open(self, path: Path) -> OpenedBundle: ...


def _json_member(archive: zipfile.ZipFile, name: str) -> Any:
    info = archive.getinfo(name)
    if info.file_size > MAX_JSON_BYTES:
        raise ValueError(f"{name} is over {MAX_JSON_BYTES} bytes")
    try:
        return json.loads(archive.read(name))
    except ValueError:
        raise ValueError(f"{name} is not JSON") from None


def _digest(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    if info.file_size > MAX_MEMBER_BYTES:
        raise ValueError(f"{info.filename} is over {MAX_MEMBER_BYTES} bytes")
    digest = hashlib.sha256()
    with archive.open(info) as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _check_results(results: dict[str, Any], predicate: dict[str, Any]) -> None:
    scenarios = results.get("scenarios")
    if not isinstance(scenarios, list):
        raise ValueError("results.json has no scenarios")
    counted = dict.fromkeys(_VERDICT_SUMMARY.values(), 0)
    for scenario in scenarios:
        verdict = scenario.get("verdict") if isinstance(scenario, dict) else None
        if verdict not in _VERDICT_SUMMARY:
            raise ValueError(f"results.json: unknown verdict {verdict!r}")
        counted[_VERDICT_SUMMARY[verdict]] += 1
    if results.get("summary") != counted:
        raise ValueError("results.json: summary does not follow from the scenario verdicts")
    certified = not results.get("interrupted") and all(
        s["verdict"] == "passed" for s in scenarios if s.get("level") == "MUST"
    )
    if bool(results.get("certified")) != certified:
        raise ValueError("results.json: 'certified' does not follow from the MUST verdicts")
    if bool(predicate.get("certified")) != certified:
        raise ValueError("statement: predicate 'certified' disagrees with results.json")
    suite, claimed = mapping(results.get("suite")), mapping(predicate.get("suite"))
    if (suite.get("name"), suite.get("version")) != (claimed.get("name"), claimed.get("version")):
        raise ValueError("statement: predicate suite disagrees with results.json")


class Ed25519BundleReader:
    """Verifies bundles against Ed25519 keys (keyid -> key); an unsigned bundle never verifies."""

    def __init__(self, trusted: Mapping[str, Ed25519PublicKey]) -> None:
        self.trusted = dict(trusted)

    def open(self, path: Path) -> OpenedBundle:
        """The bundle's contents and verdict on it; UsageError only when it cannot be read as a bundle at all."""
        try:
            archive = zipfile.ZipFile(path)
        except FileNotFoundError:
            raise UsageError(f"{path}: no such file") from None
        except (zipfile.BadZipFile, OSError) as exc:
            raise UsageError(f"{path}: not an evidence bundle ({exc})") from None
        with archive:
            members = archive.infolist()
            names = {info.filename for info in members}
            if len(members) > MAX_MEMBERS:
                raise UsageError(f"{path}: over {MAX_MEMBERS} members")
            for needed in ("statement.json", "results.json", "exchanges.jsonl"):
                if needed not in names:
                    raise UsageError(f"{path}: not an evidence bundle (no {needed})")
            try:
                statement = _json_member(archive, "statement.json")
                results = _json_member(archive, "results.json")
            except ValueError as exc:
                raise UsageError(f"{path}: not an evidence bundle ({exc})") from None
            if not isinstance(statement, dict) or not isinstance(results, dict):
                raise UsageError(f"{path}: not an evidence bundle (statement or results not an object)")
            predicate = statement.get("predicate") if isinstance(statement.get("predicate"), dict) else {}
            assert isinstance(predicate, dict)
            signer, problem = "", ""
            try:
                signer = self._verify(archive, members, statement, predicate, results)
            except ValueError as exc:
                problem = str(exc)
            return OpenedBundle(path, results, predicate, not problem, problem, signer)

    def _verify(
        self,
        archive: zipfile.ZipFile,
        members: list[zipfile.ZipInfo],
        statement: dict[str, Any],
        predicate: dict[str, Any],
        results: dict[str, Any],
    ) -> str:
        names = {info.filename for info in members}
        if "envelope.json" not in names:
            raise ValueError("unsigned bundle (no envelope.json)")
        payload, signer = verify_envelope(_json_member(archive, "envelope.json"), self.trusted)
        if payload != archive.read("statement.json"):
            raise ValueError("signed payload differs from statement.json")
        if statement.get("_type") != "https://in-toto.io/Statement/v1":
            raise ValueError("statement.json is not an in-toto Statement v1")
        subjects: dict[str, str] = {}
        for subject in statement.get("subject") or []:
            if isinstance(subject, dict) and isinstance(subject.get("digest"), dict):
                subjects[str(subject.get("name"))] = str(subject["digest"].get("sha256", ""))
        for info in members:
            if info.is_dir() or info.filename in ("statement.json", "envelope.json"):
                continue
            expected = subjects.pop(info.filename, None)
            if expected is None:
                raise ValueError(f"member {info.filename} is not listed in the statement")
            if _digest(archive, info) != expected:
                raise ValueError(f"member {info.filename}: digest does not match the statement")
        if subjects:
            raise ValueError(f"subject {sorted(subjects)[0]} is missing from the bundle")
        _check_results(results, predicate)
        return signer
