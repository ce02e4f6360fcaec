"""Where run reports come from: a live run (events), a journal, or an evidence bundle."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import harness
from harness.catalog import Catalog
from harness.events import Event, ExchangeCompleted, RunFinished
from harness.evidence.verified import Outcome, VerifiedBundle
from harness.htmlreport.render import render
from harness.htmlreport.view import MAX_EXCHANGES_WITH_BODIES, RunHeader, build_report
from harness.model import UsageError
from harness.reporting import Redactor, read_journal, results_document, write_atomically
from harness.reporting import exchange_record as reporting_exchange_record

__all__ = [
    "HtmlReporter",
    "exchange_record",
    "make",
    "report_from_bundle",
    "report_from_journal",
    "report_not_verified",
    "write_report",
]

SPEC_BASE = os.environ.get("HARNESS_SPEC_BASE", "")
"""Where the spec clause links of a report point (a scenario's ``spec:`` is appended); empty (the default): no
link, the report embeds the clause text itself (docs/decisions-users.md)."""


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

    def __init__(
        self,
        path: Path,
        catalog: Catalog | None,
        redact: Redactor | None = None,
        sut: str = "",
        declared: Mapping[str, str] | None = None,
        run_id: str | None = None,
    ) -> None:
        self.path = path
        self.catalog = catalog
        self.redact = redact or Redactor()
        self.sut = sut
        self.declared = declared
        """The declared system under test (results.json's ``sut``: without one nothing is certified)."""
        self.run_id = run_id
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
            document = results_document(event, run_id=self.run_id, sut=self.declared)
            results = json.loads(self.redact(json.dumps(document, ensure_ascii=False, default=str)))
            data = build_report(results, self.exchanges, header, self.catalog, SPEC_BASE, redact=self.redact)
            write_report(self.path, data)
            self.exchanges = []


def make(context: Any) -> HtmlReporter | None:
    """Entry point of the ``harness.reporters`` group: ``report.html`` in the run's report folder."""
    options: Mapping[str, Any] = getattr(context, "options", {}) or {}
    if options.get("html") is False:
        return None
    sut = options.get("sut")
    declared = sut.as_dict() if sut is not None and hasattr(sut, "as_dict") else None
    return HtmlReporter(
        Path(context.reports) / "report.html",
        context.catalog,
        context.redact,
        str(getattr(sut, "ref", None) or sut or ""),
        declared=declared,
        run_id=options.get("run_id"),
    )


def report_from_bundle(
    bundle: VerifiedBundle, exchanges: Iterable[Mapping[str, Any]], catalog: Catalog | None
) -> dict[str, Any]:
    """The report of a bundle the one verifier found valid; ``exchanges`` are read from the verifier's handle.

    The verdict shown is the verifier's: CERTIFIED only when the bundle certifies (signed by a trusted key
    covering the supplier, certifying, system declared, rule 9 with the issued suite's levels).
    """
    signer = bundle.signer
    if signer is None:
        verification = "valid, unsigned: integrity only, never certifies"
    else:
        verification = f"valid: signed by {signer.holder} (keyid {signer.keyid[:16]}), a key on the trust list"
    header = RunHeader(
        bundle.sut.ref if bundle.sut else "", signer.keyid if signer else "", verification, str(bundle.path)
    )
    data = build_report(bundle.results, exchanges, header, catalog, SPEC_BASE)
    data["certified"] = bundle.certifies
    data["verdict"] = "CERTIFIED" if bundle.certifies else "NOT CERTIFIED"
    return data


def report_not_verified(outcome: Outcome) -> dict[str, Any]:
    """The page of a bundle that does not verify: NOT VERIFIED and the verifier's line, none of its claims."""
    header = RunHeader("", "", f"NOT VERIFIED: {outcome.line()}", str(outcome.path))
    data = build_report({}, (), header, None, SPEC_BASE)
    data.update(title=outcome.path.name, certified=False, verdict="NOT VERIFIED")
    return data


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
