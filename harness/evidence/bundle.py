"""The evidence bundle reporter: exchanges streamed to disk as they happen, zipped and signed at run end.

Layout and predicate: ``specs/evidence.md``. The exchanges go to a temporary JSON-lines file next
to the reports, one line per exchange, as the run goes (constant memory; a killed run keeps them).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import uuid
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import harness
from harness.events import Event, ExchangeCompleted, RunFinished, RunStarted
from harness.evidence.dsse import envelope
from harness.model import Suite
from harness.reporting import JUnitReporter, Redactor, results_document
from harness.reporting import body_record as reporting_body_record
from harness.reporting import exchange_record as reporting_exchange_record

__all__ = [
    "PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "EvidenceReporter",
    "Sut",
    "body_record",
    "make",
    "statement_for",
    "suite_digest",
    "suite_files",
]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "urn:netcode:certification-run:1.0"
_TEXT_TYPES = ("application/json", "application/xml", "application/sdp", "application/x-www-form-urlencoded")
_CHUNK = 1 << 16


@dataclass(slots=True, frozen=True)
class Sut:
    """The system under test as the operator declared it."""

    supplier: str
    product: str
    version: str

    def as_dict(self) -> dict[str, str]:
        return {"supplier": self.supplier, "product": self.product, "version": self.version}


def body_record(body: bytes, headers: tuple[tuple[str, str], ...], redact: Redactor) -> tuple[str, str]:
    """(body, encoding) of ``exchanges.jsonl`` for ``body`` with credentials redacted: text when UTF-8, else
    base64 (``headers`` are kept for callers of 1.0; the media type no longer decides)."""
    return reporting_body_record(redact.body(body))


def exchange_record(event: ExchangeCompleted, redact: Redactor) -> dict[str, Any]:
    """One line of ``exchanges.jsonl`` (:func:`harness.reporting.exchange_record`: the one the HTML report
    records too)."""
    return reporting_exchange_record(event, redact)


def _walk_samples(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "sample" and isinstance(value, str):
                yield value
            else:
                yield from _walk_samples(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_samples(item)


def suite_files(suite: Suite, fixtures: Path, dataset_dir: Path | None) -> list[tuple[str, Path]]:
    """(member name under ``suite/``, file) for the suite version's files, its data set and the samples it uses."""
    members: dict[str, Path] = {}
    root = Path(suite.directory)
    for path in sorted(root.rglob("*")):
        if path.is_file():
            members[f"suite/{path.relative_to(root).as_posix()}"] = path
    if dataset_dir is not None:
        for path in sorted(dataset_dir.rglob("*")):
            if path.is_file():
                members[f"suite/dataset/{path.relative_to(dataset_dir).as_posix()}"] = path
    formats = fixtures / "formats"
    for reference in sorted(set(_walk_samples(list(suite.scenarios)))):
        parts = reference.split("/")
        if len(parts) < 4 or os.pardir in parts:
            continue
        path = formats / parts[0] / parts[1] / "samples" / "/".join(parts[2:])
        if path.is_file():
            members[f"suite/samples/{reference}"] = path
    return sorted(members.items())


def suite_digest(entries: list[tuple[str, str]]) -> str:
    """SHA-256 over ``name NUL sha256 LF`` of every ``suite/`` member, sorted by name."""
    lines = "".join(f"{name}\0{digest}\n" for name, digest in sorted(entries) if name.startswith("suite/"))
    return hashlib.sha256(lines.encode()).hexdigest()


@functools.lru_cache(maxsize=1)
def harness_digest() -> str:
    """SHA-256 over the harness package's Python sources (name and content), so a verifier can compare builds."""
    root = Path(harness.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return urlunsplit(parts._replace(query="", fragment="")) if parts.query else url
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc, query="", fragment=""))


def _suite_manifest(suite: Suite) -> dict[str, Any]:
    try:
        manifest = yaml.safe_load((Path(suite.directory) / "suite.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def statement_for(
    subjects: list[tuple[str, str]], results: Mapping[str, Any], suite: Suite, sut: Sut | None, targets: list[str]
) -> dict[str, Any]:
    manifest = _suite_manifest(suite)
    document = manifest.get("document") or manifest.get("document_version")
    predicate = {
        "harness": {"name": "netcode-harness", "version": harness.__version__},
        "suite": {
            "name": suite.name,
            "version": suite.version,
            "status": str(getattr(suite, "status", None) or manifest.get("status") or "current"),
            "document_version": None if document is None else str(document),
            "digest": {"sha256": suite_digest(subjects)},
        },
        "sut": sut.as_dict() if sut is not None else None,
        "target": [_without_credentials(t) for t in targets],
        "started": results["started"],
        "finished": results["finished"],
        "summary": results["summary"],
        "certified": results["certified"],
        "environment": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "harness_digest": {"sha256": harness_digest()},
        },
    }
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": digest}} for name, digest in subjects],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }


def _write_member(archive: zipfile.ZipFile, name: str, source: IO[bytes]) -> str:
    digest = hashlib.sha256()
    with archive.open(name, "w", force_zip64=True) as member:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            member.write(chunk)
    return digest.hexdigest()


def _write_bytes(archive: zipfile.ZipFile, name: str, data: bytes) -> str:
    archive.writestr(name, data)
    return hashlib.sha256(data).hexdigest()


class EvidenceReporter:
    """Writes ``<run id>.evidence.zip`` into the report folder for every run."""

    def __init__(
        self,
        reports: Path,
        suite: Suite,
        fixtures: Path,
        dataset_dir: Path | None = None,
        redact: Redactor | None = None,
        sut: Sut | None = None,
        sign_key: Ed25519PrivateKey | None = None,
        run_id: str | None = None,
    ) -> None:
        self.reports = reports
        self.suite = suite
        self.fixtures = fixtures
        self.dataset_dir = dataset_dir
        self.redact = redact or Redactor()
        self.sut = sut
        self.sign_key = sign_key
        self.run_id = run_id or str(uuid.uuid4())
        self.bundle: Path | None = None
        self.targets: list[str] = []
        reports.mkdir(parents=True, exist_ok=True)
        self.spool = reports / f".{self.run_id}.exchanges.jsonl"
        self._handle: IO[bytes] | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, ExchangeCompleted):
            if self._handle is None:
                self._handle = self.spool.open("ab")
            line = json.dumps(exchange_record(event, self.redact), ensure_ascii=False)
            self._handle.write(line.encode() + b"\n")
            self._handle.flush()  # in the OS's hands at once: a killed harness keeps what it had
        elif isinstance(event, RunStarted):
            self.targets = [event.target]
        elif isinstance(event, RunFinished):
            self.finish(event)

    def close(self) -> None:
        """Close the spool without writing a bundle (the exchanges written so far stay on disk)."""
        if self._handle is not None:
            self._handle.close()

    def finish(self, event: RunFinished) -> Path:
        if self._handle is None:
            self._handle = self.spool.open("ab")
        self._handle.close()
        # the same bytes as the results.json that ResultsJsonReporter writes beside the bundle
        text = json.dumps(results_document(event), indent=2, ensure_ascii=False, default=str)
        results_bytes = self.redact(text).encode() + b"\n"
        results = json.loads(results_bytes)
        junit = self.redact(JUnitReporter.render(event)).encode()
        path = self.reports / f"{self.run_id}.evidence.zip"
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        subjects: list[tuple[str, str]] = []
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
            subjects.append(("results.json", _write_bytes(archive, "results.json", results_bytes)))
            with self.spool.open("rb") as spooled:
                subjects.append(("exchanges.jsonl", _write_member(archive, "exchanges.jsonl", spooled)))
            subjects.append(("junit.xml", _write_bytes(archive, "junit.xml", junit)))
            for name, file in suite_files(self.suite, self.fixtures, self.dataset_dir):
                with file.open("rb") as source:
                    subjects.append((name, _write_member(archive, name, source)))
            statement = statement_for(subjects, results, self.suite, self.sut, self.targets)
            statement_bytes = json.dumps(statement, indent=2, ensure_ascii=False).encode() + b"\n"
            archive.writestr("statement.json", statement_bytes)
            if self.sign_key is not None:
                archive.writestr("envelope.json", json.dumps(envelope(statement_bytes, self.sign_key), indent=2))
        with temporary.open("rb") as handle:
            os.fsync(handle.fileno())
        temporary.replace(path)
        self.spool.unlink(missing_ok=True)
        self.bundle = path
        return path


class _Context(Protocol):
    """What the reporter registry hands a reporter factory (``harness.reporting.ReporterContext``)."""

    @property
    def reports(self) -> Path: ...
    @property
    def redact(self) -> Redactor: ...
    @property
    def catalog(self) -> Any: ...
    @property
    def suite(self) -> Suite: ...
    @property
    def options(self) -> Mapping[str, Any]: ...


def make(context: _Context) -> EvidenceReporter | None:
    """Entry point of the ``harness.reporters`` group: on by default, off with option ``evidence=False``.

    Options read: ``sut`` (:class:`Sut`), ``sign_key`` (Ed25519 private key), ``run_id`` (the bundle's name).
    """
    options = context.options
    if options.get("evidence", True) is False:
        return None
    dataset = context.suite.dataset
    dataset_dir = context.catalog.datasets.get(dataset) if dataset else None
    sut = options.get("sut")
    return EvidenceReporter(
        context.reports,
        context.suite,
        Path(context.catalog.root),
        dataset_dir,
        context.redact,
        sut if isinstance(sut, Sut) else None,
        options.get("sign_key"),
        run_id=options.get("run_id"),
    )
