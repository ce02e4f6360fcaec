"""The HTML run report: one self-contained page per run (inline styles and script, data as JSON, no network).

Public API::

    HtmlReporter(path, catalog, redact=None, sut="")     # a listener: writes the report when the run finishes
    make(context) -> HtmlReporter | None                  # the ``harness.reporters`` entry point (interface 2)
    report_from_bundle(verified, exchanges, catalog) -> dict  # the data of a verified bundle's report
    report_not_verified(outcome) -> dict                  # the page of a bundle that does not verify
    report_from_journal(path, catalog) -> dict
    write_report(path, data) -> int                       # renders, writes atomically, returns the size
"""

from __future__ import annotations

from harness.htmlreport.report import (
    HtmlReporter,
    exchange_record,
    make,
    report_from_bundle,
    report_from_journal,
    report_not_verified,
    write_report,
)
from harness.htmlreport.view import RunHeader, build_report

__all__ = [
    "HtmlReporter",
    "RunHeader",
    "build_report",
    "exchange_record",
    "make",
    "report_from_bundle",
    "report_from_journal",
    "report_not_verified",
    "write_report",
]
