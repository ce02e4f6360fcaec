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
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import harness
from harness.documents import folder_digest
from harness.events import Event, ExchangeCompleted, RunFinished, RunStarted
from harness.evidence.dsse import envelope
from harness.evidence.verified import SutRef
from harness.evidence.verify import PREDICATE_TYPE, STATEMENT_TYPE
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


def _unserializable(value: object) -> object:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_c_string: Callable[[str], str] = json.encoder.encode_basestring  # json's own (C when there is one)
try:  # the C encoder, made once: json.dumps builds an encoder (and the C one inside it) on every call
    from _json import make_encoder as _make_encoder

    _RECORD_ENCODER: Any = _make_encoder(None, _unserializable, _c_string, None, ": ", ", ", False, False, True)
except ImportError:  # pragma: no cover - an interpreter without the C accelerator
    _RECORD_ENCODER = None


def record_line(record: Mapping[str, Any]) -> bytes:
    """One line of ``exchanges.jsonl``: exactly ``json.dumps(record, ensure_ascii=False)``, UTF-8, and a line feed.

    No circular check: a record is a tree the harness built (bindings came back from JSON)."""
    if _RECORD_ENCODER is None:  # pragma: no cover
        return json.dumps(record, ensure_ascii=False).encode() + b"\n"
    return ("".join(_RECORD_ENCODER(record, 0)) + "\n").encode()


_INFINITY = float("inf")


def _float_text(value: float) -> str:
    if value != value:
        return "NaN"
    if value == _INFINITY:
        return "Infinity"
    if value == -_INFINITY:
        return "-Infinity"
    return float.__repr__(value)


def _key_text(key: object) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, float):
        return _float_text(key)
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return int.__repr__(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {key.__class__.__name__}")


def _indented(value: object, newline: str, out: list[str]) -> None:
    # The order of the checks is json's (a bool is an int, a StrEnum a str); anything else is str()'d.
    if isinstance(value, str):
        out.append(_c_string(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_float_text(value))
    elif isinstance(value, list | tuple):
        if not value:
            out.append("[]")
            return
        inner = newline + "  "
        separator = "[" + inner
        for item in value:
            out.append(separator)
            separator = "," + inner
            _indented(item, inner, out)
        out.append(newline + "]")
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = newline + "  "
        separator = "{" + inner
        for key, item in value.items():
            out.append(separator + _c_string(_key_text(key)) + ": ")
            separator = "," + inner
            _indented(item, inner, out)
        out.append(newline + "}")
    else:
        _indented(str(value), newline, out)


def indented_json(document: object) -> str:
    """``json.dumps(document, indent=2, ensure_ascii=False, default=str)``, the same text at about twice the speed
    (json's indented encoder is pure Python and a generator per container; ``results.json`` holds one object per
    scenario). No circular check: a document made of a run's results is a tree."""
    out: list[str] = []
    _indented(document, "\n", out)
    return "".join(out)


_TEXT_TYPES = ("application/json", "application/xml", "application/sdp", "application/x-www-form-urlencoded")
_CHUNK = 1 << 16


Sut = SutRef
"""The system under test as the operator declared it (the predicate's ``sut``)."""


def body_record(body: bytes, headers: tuple[tuple[str, str], ...], redact: Redactor) -> tuple[str, str]:
    """(body, encoding) of ``exchanges.jsonl`` for ``body`` with credentials redacted: text when UTF-8, else
    base64 (``headers`` are kept for callers of 1.0; the media type no longer decides)."""
    return reporting_body_record(redact.body(body))


def exchange_record(event: ExchangeCompleted, redact: Redactor) -> dict[str, Any]:
    """One line of ``exchanges.jsonl`` (:func:`harness.reporting.exchange_record`: the one the HTML report
    records too)."""
    return reporting_exchange_record(event, redact)


def _walk_samples(node: Any) -> set[str]:
    """Every ``sample: <str>`` reference anywhere in ``node`` (mappings and lists, any depth).

    A container reached twice (scenarios that share their steps, a YAML alias) is walked once: its references
    are in the set already. Its id is stable for the walk, since ``node`` holds it alive meanwhile."""
    found: set[str] = set()
    walked: set[int] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if id(item) in walked:
            continue
        walked.add(id(item))
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "sample" and isinstance(value, str):
                    found.add(value)
                elif isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(value for value in item if isinstance(value, dict | list))
    return found


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
    for reference in sorted(_walk_samples(list(suite.scenarios))):
        parts = reference.split("/")
        if len(parts) < 4 or os.pardir in parts:
            continue
        path = formats / parts[0] / parts[1] / "samples" / "/".join(parts[2:])
        if path.is_file():
            members[f"suite/samples/{reference}"] = path
    return sorted(members.items())


def suite_digest(suite: Suite) -> dict[str, str]:
    """The in-toto digest set of the suite version's folder that ran (evidence.md, "Suite digest")."""
    return {"sha256": folder_digest(Path(suite.directory))}


@functools.lru_cache(maxsize=1)
def harness_digest() -> str:
    """SHA-256 over the harness package's Python sources (name and content), so a verifier can compare builds."""
    root = Path(harness.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def statement_for(
    subjects: list[tuple[str, str]],
    results: Mapping[str, Any],
    suite: Suite,
    sut: SutRef | None,
    run_id: str,
    environment: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The in-toto statement of evidence 1.1; every field check 5 compares is taken from ``results`` itself,
    so the predicate and ``results.json`` agree by construction."""
    predicate = {
        "run_id": run_id,
        "harness": {"name": "netcode-harness", "version": harness.__version__},
        "suite": {
            "name": suite.name,
            "version": suite.version,
            "status": str(suite.status),
            "document": suite.certifies_text,
            "digest": suite_digest(suite),
        },
        "sut": sut.as_dict() if sut is not None else None,
        "certifying": results["certifying"],
        "target": [results["target"]],
        "started": results["started"],
        "finished": results["finished"],
        "summary": results["summary"],
        "certified": results["certified"],
        **({"roles": results["roles"]} if "roles" in results else {}),
        "environment": dict(environment)
        if environment is not None
        else {
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
                self._handle = self.spool.open("ab", buffering=0)  # unbuffered: each line one write(2)
            line = memoryview(record_line(exchange_record(event, self.redact)))
            while line:  # in the OS's hands at once: a killed harness keeps what it had
                written = self._handle.write(line)
                if not written:  # a regular file takes at least a byte, or raises (a full disk)
                    raise OSError(f"cannot write to {self.spool}")
                line = line[written:]
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
            self._handle = self.spool.open("ab", buffering=0)
        self._handle.close()
        # the same bytes as the results.json that ResultsJsonReporter writes beside the bundle
        sut = self.sut.as_dict() if self.sut is not None else None
        document = results_document(event, run_id=self.run_id, sut=sut)
        text = indented_json(document)  # byte for byte json.dumps(..., indent=2, ensure_ascii=False, default=str)
        redacted = self.redact(text)
        results_bytes = redacted.encode() + b"\n"
        # statement_for reads the predicate's fields from what results.json holds: parsed back when redaction
        # changed the text, else the document itself (its JSON types round-trip: strings, numbers, booleans)
        results = document if redacted == text else json.loads(results_bytes)
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
            statement = statement_for(subjects, results, self.suite, self.sut, self.run_id)
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
        sut if isinstance(sut, SutRef) else None,
        options.get("sign_key"),
        run_id=options.get("run_id"),
    )
