"""Where run reports come from: a live run (events), a journal, or an evidence bundle."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import harness
from harness.catalog import Catalog
from harness.certification.bundles import OpenedBundle, mapping
from harness.events import Event, ExchangeCompleted, RunFinished
from harness.htmlreport.render import render
from harness.htmlreport.view import MAX_EXCHANGES_WITH_BODIES, RunHeader, build_report
from harness.model import UsageError
from harness.reporting import Redactor, read_journal, results_document, write_atomically
from harness.reporting import exchange_record as reporting_exchange_record

__all__ = ["HtmlReporter", "exchange_record", "make", "report_from_bundle", "report_from_journal", "write_report"]

SPEC_BASE = os.environ.get("HARNESS_SPEC_BASE", "specs/")
"""Where the spec clause links of a report point (a scenario's ``spec:`` is appended)."""
_BINARY_TYPES = ("application/vnd.3gpp.mcdata-signalling", "application/vnd.3gpp.mcdata-payload", "multipart/")


def exchange_record(
    event: ExchangeCompleted, keep_messages: bool = True, redact: Redactor | None = None
) -> dict[str, Any]:
    """An exchange event as the record of ``exchanges.jsonl``, redacted by position
    (:func:`harness.reporting.exchange_record`)."""
    return reporting_exchange_record(event, redact or Redactor(), keep_messages)


def write_report(path: Path, data: Mapping[str, Any]) -> int:
    """Render the report page and write it atomically; its size in bytes."""
    page = render("report.html.j2", r=data, harness_version=harness.__version__).encode()
    try:
        write_atomically(path, page)
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the report ({exc.strerror})") from None
    return len(page)


class HtmlReporter:
    """Keeps the exchanges of a run and writes ``report.html`` when it finishes.

    Messages are kept for the first :data:`MAX_EXCHANGES_WITH_BODIES` exchanges
    (the report shows no more); later ones keep their start line and times.
    """

    def __init__(self, path: Path, catalog: Catalog | None, redact: Redactor | None = None, sut: str = "") -> None:
        self.path = path
        self.catalog = catalog
        self.redact = redact or Redactor()
        self.sut = sut
        self.exchanges: list[dict[str, Any]] = []

    def __call__(self, event: Event) -> None:
        if isinstance(event, ExchangeCompleted):
            keep = len(self.exchanges) < MAX_EXCHANGES_WITH_BODIES
            self.exchanges.append(exchange_record(event, keep, self.redact))
        elif isinstance(event, RunFinished):
            header = RunHeader(
                self.sut, "", "unsigned (live run; the evidence bundle carries the signature)", "live run"
            )
            # Everything a run produced passes through the redactor, the target URL included.
            results = json.loads(self.redact(json.dumps(results_document(event), ensure_ascii=False, default=str)))
            data = build_report(results, self.exchanges, header, self.catalog, SPEC_BASE, redact=self.redact)
            write_report(self.path, data)
            self.exchanges = []


def make(context: Any) -> HtmlReporter | None:
    """Entry point of the ``harness.reporters`` group: ``report.html`` in the run's report folder."""
    options: Mapping[str, Any] = getattr(context, "options", {}) or {}
    if options.get("html") is False:
        return None
    sut = options.get("sut")
    declared = getattr(sut, "as_dict", None)  # the evidence's Sut: shown as a bundle's report shows it
    shown = _sut({"sut": declared()}) if callable(declared) else str(sut or "")
    return HtmlReporter(Path(context.reports) / "report.html", context.catalog, context.redact, shown)


def _sut(predicate: Mapping[str, Any]) -> str:
    sut = mapping(predicate.get("sut"))
    if not sut:
        return ""
    return f"{sut.get('supplier', '?')}/{sut.get('product', '?')}@{sut.get('version', '?')}"


def report_from_bundle(bundle: OpenedBundle, catalog: Catalog | None, checked: bool = True) -> dict[str, Any]:
    """The report of an evidence bundle; ``checked`` says whether trusted keys were given to verify it."""
    if bundle.verified:
        verification = "verified against a trusted key"
    elif checked:
        verification = f"NOT VERIFIED: {bundle.problem}"
    else:
        verification = "not checked (no --trusted-key given)"
    header = RunHeader(_sut(bundle.predicate), bundle.signer or _claimed_signer(bundle), verification, str(bundle.path))
    return build_report(bundle.results, bundle.exchanges(), header, catalog, SPEC_BASE)


def _claimed_signer(bundle: OpenedBundle) -> str:
    import zipfile

    try:
        with zipfile.ZipFile(bundle.path) as archive:
            envelope = json.loads(archive.read("envelope.json"))
        return f"{envelope['signatures'][0]['keyid']} (claimed, not verified)"
    except (KeyError, IndexError, TypeError, ValueError, OSError):
        return ""


def _journal_exchanges(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        return
    with path.open("rb") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a torn last line of a killed run
            if isinstance(record, dict):
                yield record


def report_from_journal(path: Path, catalog: Catalog | None) -> dict[str, Any]:
    """The report of a journal; exchanges come from ``exchanges.jsonl`` beside it when there is one."""
    try:
        finished = read_journal(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a harness journal ({exc})") from None
    header = RunHeader("", "", "unsigned (rebuilt from a journal)", str(path))
    exchanges = _journal_exchanges(path.parent / "exchanges.jsonl")
    return build_report(results_document(finished), exchanges, header, catalog, SPEC_BASE)
