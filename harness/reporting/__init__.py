"""Reporters: they see events and the model only, and turn a run into evidence."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit
from xml.sax.saxutils import escape, quoteattr

import harness
from harness.events import (
    Event,
    OperatorActionRequired,
    RunFinished,
    RunNote,
    RunStarted,
    ScenarioFinished,
    Summary,
)
from harness.model import CheckFailure, ScenarioResult, Verdict
from harness.reporting.hints import RunHints
from harness.reporting.records import body_record, exchange_record, wire_record
from harness.reporting.redaction import (
    MIN_VERBATIM,
    REDACTED,
    Redactor,
    credential_values,
    printable,
    printable_json,
    url_credentials,
)

__all__ = [
    "JUNIT_OUTCOMES",
    "MIN_VERBATIM",
    "REDACTED",
    "ConsoleReporter",
    "JUnitReporter",
    "JournalReporter",
    "Redactor",
    "ResultsJsonReporter",
    "body_record",
    "console_mark",
    "credential_values",
    "exchange_record",
    "failure_line",
    "printable",
    "printable_json",
    "read_journal",
    "results_document",
    "summary_line",
    "target_without_credentials",
    "timeline_line",
    "url_credentials",
    "wire_record",
    "write_atomically",
]

_MARKS = {
    Verdict.PASSED: "PASS",
    Verdict.FAILED: "FAIL",
    Verdict.ERROR: "ERR ",
    Verdict.SKIPPED: "SKIP",
    Verdict.MANUAL: "MAN ",
}


def console_mark(result: ScenarioResult) -> str:
    """The console's four letters for a scenario: its verdict's, ``WARN`` for a failed SHOULD scenario."""
    if result.verdict == Verdict.FAILED and result.level == "SHOULD":
        return "WARN"
    return _MARKS[result.verdict]


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file then rename, so a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def failure_line(failure: CheckFailure, limit: int = 120) -> str:
    """A failed check as the console shows it: ``step / check: expected X, got Y (why)``, then, for a wrong
    status, the checks of that answer it kept from running (``; not checked (status was 202): problem``)."""
    return (
        f"{failure.step} / {failure.check}: expected {_short(failure.expected, limit)}, "
        f"got {_short(failure.actual, limit)} ({failure.message})"
        + (f"; {failure.not_checked_note}" if failure.not_checked else "")
    )


def timeline_line(row: Mapping[str, Any]) -> str:
    """One attempt of a delivery as the console shows it: number, time, offset, answer or fault, gap."""
    when = str(row.get("time", ""))[11:23]
    gap = row.get("gap_ms")
    return f"attempt {row.get('attempt')}: {when} +{row.get('offset_ms')} ms {row.get('answer')}" + (
        f" (gap {gap} ms)" if gap is not None else ""
    )


class ConsoleReporter:
    """One line per scenario as it finishes, its failures beneath it, a summary at the end."""

    def __init__(self, stream: TextIO | None = None, max_failures: int = 5, redact: Redactor | None = None) -> None:
        self.stream = stream or sys.stdout
        self.redact = redact or Redactor()
        self.max_failures = max_failures
        self.total = 0
        self.done = 0
        self.hints = RunHints()

    def __call__(self, event: Event) -> None:
        self.hints.observe(event)
        if isinstance(event, RunNote):
            self._print(f"note: {event.message}")
        elif isinstance(event, OperatorActionRequired):
            self._print(
                f"OPERATOR ({event.scenario} / {event.step}): {event.instruction}; waiting up to {event.timeout_s:g} s"
            )
        elif isinstance(event, RunStarted):
            self.total, self.done = event.scenarios, 0
            self._print(f"{event.suite}@{event.version} against {event.target}: {event.scenarios} scenarios")
        elif isinstance(event, ScenarioFinished):
            self.done += 1
            self._scenario(event.result)
        elif isinstance(event, RunFinished):
            verdict = "CERTIFIED (every MUST scenario passed)" if event.certified else "NOT CERTIFIED"
            if not event.certifying:
                verdict = "NOT CERTIFYING (the run is marked as not certifying)"
            should = sum(1 for r in event.results if r.verdict == Verdict.FAILED and r.level == "SHOULD")
            warned = f" ({should} SHOULD: warnings)" if should else ""
            self._print(f"{event.suite}@{event.version}: {summary_line(event.summary)}{warned} -> {verdict}")
            for hint in self.hints.lines(event):
                self._print(hint)

    def _scenario(self, result: ScenarioResult) -> None:
        width = len(str(self.total))
        self._print(
            f"[{self.done:>{width}}/{self.total}] {console_mark(result)} {result.id} {result.level:<6} "
            f"{result.title} ({result.duration_ms:.0f} ms)"
        )
        for failure in result.failures[: self.max_failures]:
            self._print("      " + failure_line(failure))
        hidden = len(result.failures) - self.max_failures
        if hidden > 0:
            self._print(f"      ... and {hidden} more (see results.json)")
        if result.timeline and result.verdict != Verdict.PASSED:  # a sender's attempts: the evidence of the verdict
            for row in result.timeline:
                self._print("      " + timeline_line(row))

    def _print(self, line: str) -> None:
        print(printable(self.redact(line)), file=self.stream, flush=True)


def summary_line(summary: Summary) -> str:
    return ", ".join(f"{count} {name}" for name, count in summary.as_dict().items())


def target_without_credentials(url: str) -> str:
    """``url`` without user information, query or fragment (where credentials travel): what evidence records."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None and not parts.query and not parts.fragment:
        return url
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc, query="", fragment=""))


def results_document(
    event: RunFinished, *, run_id: str | None = None, sut: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """``results.json``: with the fields evidence 1.1's check 5 compares with the predicate (run id, suite, sut,
    target, summary, certified, certifying). ``certified`` is README rule 9 *and* a declared system under test
    (evidence.md, check 7): a run that names no system certifies nothing."""
    return {
        "harness": {"version": harness.__version__},
        "run_id": run_id,
        "suite": {
            "name": event.suite,
            "version": event.version,
            **{key: event.extra[key] for key in ("status", "certifies") if key in event.extra},
        },
        "sut": dict(sut) if sut is not None else None,
        "target": target_without_credentials(event.target),
        "started": event.started,
        "finished": event.finished,
        "certifying": event.certifying,
        "certified": event.certified and sut is not None,
        **({"roles": list(event.extra["roles"])} if event.extra.get("roles") else {}),
        **({"interrupted": True} if event.interrupted else {}),
        "summary": event.summary.as_dict(),
        "scenarios": [result.as_dict() for result in event.results],
    }


class ResultsJsonReporter:
    """Writes ``results.json`` in the report folder when the run finishes."""

    def __init__(
        self,
        directory: Path,
        redact: Redactor | None = None,
        run_id: str | None = None,
        sut: Mapping[str, str] | None = None,
    ) -> None:
        self.path = directory / "results.json"
        self.redact = redact or Redactor()
        self.run_id = run_id
        self.sut = sut

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunFinished):
            document = results_document(event, run_id=self.run_id, sut=self.sut)
            text = json.dumps(document, indent=2, ensure_ascii=False, default=str)
            write_atomically(self.path, self.redact(text).encode() + b"\n")


JUNIT_OUTCOMES: dict[tuple[str, str], tuple[str, str]] = {
    ("failed", "MUST"): ("failure", "MUST"),
    ("failed", "SHOULD"): ("failure", "warning"),
    ("error", "MUST"): ("error", "error"),
    ("error", "SHOULD"): ("error", "error"),
    ("skipped", "MUST"): ("skipped", "skipped"),
    ("skipped", "SHOULD"): ("skipped", "skipped"),
    ("manual", "MUST"): ("skipped", "manual"),
    ("manual", "SHOULD"): ("skipped", "manual"),
}
"""(verdict, level) -> (the JUnit element of the testcase, its ``type``); a passed scenario has none.

The one mapping of docs/verdicts.md: JUnit has no warning, so a failed SHOULD scenario is a ``<failure
type="warning">`` (it failed, and is never counted as passed); JUnit cannot count ``manual`` apart from
``skipped``, so both are ``<skipped>`` and the ``type`` tells them apart."""


class JUnitReporter:
    """JUnit XML as CI systems read it: one testcase per scenario, mapped by :data:`JUNIT_OUTCOMES`.

    Its counts agree with results.json's summary: ``failures`` = failed (MUST and SHOULD), ``errors`` =
    errors, ``skipped`` = skipped + manual, the rest passed; each testcase says its level and verdict as
    properties, and the suite counts MUST and SHOULD failures apart in its own.
    """

    def __init__(self, path: Path, redact: Redactor | None = None) -> None:
        self.path = path
        self.redact = redact or Redactor()

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunFinished):
            write_atomically(self.path, self.redact(self.render(event)).encode())

    @staticmethod
    def render(event: RunFinished) -> str:
        outcomes = [JUNIT_OUTCOMES.get((str(r.verdict), str(r.level))) for r in event.results]
        failures = sum(1 for outcome in outcomes if outcome and outcome[0] == "failure")
        errors = sum(1 for outcome in outcomes if outcome and outcome[0] == "error")
        skipped = sum(1 for outcome in outcomes if outcome and outcome[0] == "skipped")
        should_failed = sum(1 for outcome in outcomes if outcome == ("failure", "warning"))
        manual = sum(1 for outcome in outcomes if outcome == ("skipped", "manual"))
        total_s = sum(r.duration_ms for r in event.results) / 1000
        name = f"{event.suite}@{event.version}"
        counts = (
            f'tests="{len(event.results)}" failures="{failures}" errors="{errors}" skipped="{skipped}" '
            f'time="{total_s:.3f}"'
        )
        suite_properties = {
            "target": event.target,
            "netcode.must_failed": str(failures - should_failed),
            "netcode.should_failed": str(should_failed),
            "netcode.skipped": str(skipped - manual),
            "netcode.manual": str(manual),
        }
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f"<testsuites name={quoteattr(name)} {counts}>",
            f"  <testsuite name={quoteattr(name)} {counts} timestamp={quoteattr(event.started)}>",
            "    <properties>"
            + "".join(f"<property name={quoteattr(k)} value={quoteattr(v)}/>" for k, v in suite_properties.items())
            + "</properties>",
        ]
        for result, outcome in zip(event.results, outcomes, strict=True):
            detail = "\n".join(failure_line(f, 500) for f in result.failures)
            case_name = quoteattr(f"{result.id} [{result.level}] {result.title}")
            lines.append(
                f'    <testcase classname={quoteattr(name)} name={case_name} time="{result.duration_ms / 1000:.3f}">'
            )
            lines.append(
                f'      <properties><property name="netcode.level" value={quoteattr(str(result.level))}/>'
                f'<property name="netcode.verdict" value={quoteattr(str(result.verdict))}/></properties>'
            )
            if outcome is not None:
                element, kind = outcome
                reason = _short(result.failures[0].message, 300) if result.failures else str(result.verdict)
                if kind == "warning":
                    reason = f"warning (SHOULD scenario failed; certification needs only MUST): {reason}"
                elif element == "skipped":
                    reason = f"{kind}: {reason}"
                body = f">{escape(detail)}</{element}>" if detail and element != "skipped" else "/>"
                lines.append(f"      <{element} type={quoteattr(kind)} message={quoteattr(reason)}{body}")
            lines.append("    </testcase>")
        lines += ["  </testsuite>", "</testsuites>", ""]
        return "\n".join(lines)


class JournalReporter:
    """Appends each finished scenario to a JSON-lines journal, flushed and synced at once.

    A harness killed mid-run (even with SIGKILL) loses no finished scenario:
    ``harness report --journal FILE`` rebuilds the reports from the journal.
    """

    def __init__(self, path: Path, redact: Redactor | None = None) -> None:
        self.path = path
        self.redact = redact or Redactor()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = path.open("wb")  # a new journal per run; appended to, never rewritten, during it

    def _append(self, record: dict[str, Any]) -> None:
        line = self.redact(json.dumps(record, ensure_ascii=False, default=str))
        self._handle.write(line.encode() + b"\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def __call__(self, event: Event) -> None:
        if self._handle.closed:
            return
        if isinstance(event, RunStarted):
            self._append(
                {
                    "event": "run-started",
                    "harness": harness.__version__,
                    "suite": event.suite,
                    "version": event.version,
                    "target": event.target,
                    "started": event.started,
                }
            )
        elif isinstance(event, ScenarioFinished):
            self._append({"event": "scenario-finished", **event.result.as_dict()})
        elif isinstance(event, RunFinished):
            self._append(
                {"event": "run-finished", "finished": event.finished, "interrupted": event.interrupted, **event.extra}
            )
            self._handle.close()

    def close(self) -> None:
        """Close the journal (a run that ended without RunFinished leaves what it wrote)."""
        self._handle.close()


def read_journal(path: Path) -> RunFinished:
    """Rebuild a run from its journal; a torn last line (the process died writing it) is ignored.

    Raises ValueError with a one-line reason when the file is no journal of the harness.
    """
    started: dict[str, Any] | None = None
    ended: dict[str, Any] | None = None
    results: dict[str, ScenarioResult] = {}
    with path.open("rb") as handle:
        lines = handle.read().split(b"\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            if number >= len(lines) - 1:
                break  # torn final record
            raise ValueError(f"line {number} is not JSON") from None
        kind = record.get("event") if isinstance(record, dict) else None
        if kind == "run-started":
            started, ended, results = record, None, {}
        elif kind == "scenario-finished" and started is not None:
            try:
                result = ScenarioResult.from_dict(record)
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"line {number}: not a scenario result ({exc})") from None
            results[result.id] = result
        elif kind == "run-finished" and started is not None:
            ended = record
        else:
            raise ValueError(f"line {number}: unexpected record {str(kind)!r}")
    if started is None:
        raise ValueError("no run-started record")
    summary = Summary()
    for result in results.values():
        summary.add(result.verdict)
    interrupted = ended is None or bool(ended.get("interrupted"))
    return RunFinished(
        str(started["suite"]),
        str(started["version"]),
        str(started["target"]),
        str(started["started"]),
        str(ended["finished"]) if ended else "",
        summary,
        tuple(results.values()),
        interrupted,
        {key: ended[key] for key in ("status", "certifies", "certifying") if ended and key in ended},
    )
