"""Reporters: they see events and the model only, and turn a run into evidence."""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit
from xml.sax.saxutils import escape, quoteattr

import harness
from harness.events import (
    Event,
    ExchangeCompleted,
    OperatorActionRequired,
    RunFinished,
    RunNote,
    RunStarted,
    ScenarioFinished,
    Summary,
    WireMessage,
)
from harness.model import CheckFailure, ScenarioResult, Verdict
from harness.reporting.hints import RunHints
from harness.transport import TransportOptions, credential_name

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


REDACTED = "[redacted]"
MIN_VERBATIM = 8
"""A credential is searched for verbatim (in bodies, other headers, free text) only from this many characters
on: a shorter value is replaced where it stands and nowhere else, since a search would corrupt other bytes."""

# Possessive (``++``, ``*+``): each scan ends at the next delimiter and never backtracks, so a hostile body of
# ``?`` or ``://`` runs costs time linear in its length. The user information is matched with the ``://`` before
# it and the ``@`` after it (put back by the replacement), not by look-around: a literal prefix lets the engine
# jump from one ``://`` to the next instead of trying every position (15 times faster on a results.json).
_USERINFO = re.compile(r"://[^/?#@\s\"'<>\\]++@")
_USERINFO_REDACTED = f"://{REDACTED}@"
_QUERY = re.compile(r"([?&]([^=&?#\s\"'<>\\]*+)=)([^&?#\s\"'<>\\]*+)")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
# What a terminal obeys or reorders beyond C0/C1: the line and paragraph separators and the bidirectional
# controls (embeddings, overrides, isolates, marks) with which a name can be shown as another ("Trojan Source").
_REORDERING = "\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_UNPRINTABLE = re.compile(f"[\x00-\x08\x0a-\x1f\x7f-\x9f{_REORDERING}]")
_JSON_UNPRINTABLE = re.compile(f"[\x7f-\x9f{_REORDERING}]")


def credential_values(name: str, value: str) -> set[str]:
    """What of header ``name: value`` is a credential wherever it appears: the value; for Authorization,
    also the credentials after the scheme word and, for Basic, the decoded ``user:password`` and password;
    for Cookie, each cookie's value. Empty when ``name`` names no credential."""
    if not credential_name(name):
        return set()
    value = value.strip()
    values = {value}
    lowered = name.lower()
    if lowered in ("authorization", "proxy-authorization"):
        scheme, _, credentials = value.partition(" ")
        credentials = credentials.strip()
        values.add(credentials)
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
            except (binascii.Error, ValueError):
                decoded = ""
            values |= {decoded, decoded.partition(":")[2]}
    elif lowered in ("cookie", "set-cookie"):
        for pair in value.split(";"):
            values.add(pair.partition("=")[2].strip())
    return {v for v in values if v}


def url_credentials(url: str) -> set[str]:
    """The user information of ``url`` (and its password, percent-decoded or not), for a verbatim search."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return set()
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    values = {userinfo, unquote(userinfo)}
    if parts.password:
        values |= {parts.password, unquote(parts.password)}
    for name, value in parse_qsl(parts.query):
        if credential_name(name):
            values.add(value)
    return {v for v in values if v}


class Redactor:
    """The one component every output passes through before it is written (``specs/evidence.md``,
    Credentials): console, journal, results, JUnit, HTML report, evidence bundle, store, load results.

    Redaction is by position: the value of a credential header (:func:`~harness.transport.credential_name`),
    the user information of a URL, the value of a credential query parameter become ``[redacted]`` where
    they stand, whatever their length. The credentials the operator gave (``headers``, ``urls``, ``secrets``)
    and those a message carries in its own credential headers are also replaced where found verbatim
    elsewhere, but only when at least :data:`MIN_VERBATIM` characters long: ``X-Api-Version: 1`` is no
    credential, and a short one is never searched as a substring.
    """

    def __init__(
        self,
        secrets: Iterable[str] = (),
        *,
        headers: Iterable[tuple[str, str]] = (),
        urls: Iterable[str] = (),
        names: Iterable[str] = (),
    ) -> None:
        self._names = frozenset(name.lower() for name in names)  # marked secret by the operator
        self._seen: dict[str, tuple[str, bool]] = {}  # header name -> (as shown, secret): names repeat all run
        values = {value for value in secrets if value}
        for name, value in headers:
            values |= credential_values(name, value)
        for url in urls:
            values |= url_credentials(url)
        self._known = frozenset(v for v in values if len(v) >= MIN_VERBATIM)
        self._pattern = _verbatim_pattern(self._known)

    @classmethod
    def for_run(cls, options: TransportOptions, urls: Iterable[str] = ()) -> Redactor:
        """The redactor of a run: the credential headers, the headers marked secret and the key password of
        its transport options, and the credentials in its target URLs."""
        return cls(options.secrets, headers=options.headers, urls=urls, names=options.secret_names)

    def __call__(self, text: str) -> str:
        """``text`` (free text, or a JSON document) with every known credential and every URL's credentials
        replaced."""
        return self.text(text)

    def text(self, text: str, pattern: re.Pattern[str] | None = None) -> str:
        if "://" in text:
            text = _USERINFO.sub(_USERINFO_REDACTED, text)
        if "=" in text and ("?" in text or "&" in text):
            text = _QUERY.sub(_query_value, text)
        pattern = pattern or self._pattern
        if pattern is not None:
            text = pattern.sub(REDACTED, text)
        return text

    def secret_name(self, name: str) -> bool:
        """Whether header ``name``'s value is redacted where it stands (a credential, or marked secret)."""
        return self._name(name)[1]

    def _name(self, name: str) -> tuple[str, bool]:
        known = self._seen.get(name)
        if known is None:
            if len(self._seen) > 4096:  # a SUT inventing header names cannot grow this without bound
                self._seen.clear()
            known = self._seen[name] = (_printable(name), credential_name(name) or name.lower() in self._names)
        return known

    def headers(
        self, headers: Iterable[tuple[str, str]], pattern: re.Pattern[str] | None = None
    ) -> list[tuple[str, str]]:
        """Headers with credential values replaced where they stand, known credentials elsewhere."""
        return [(printed, shown) for printed, shown in self.record_headers(headers, pattern)]

    def record_headers(
        self, headers: Iterable[tuple[str, str]], pattern: re.Pattern[str] | None = None
    ) -> list[list[str]]:
        """:meth:`headers` as ``exchanges.jsonl`` holds them (``[name, value]`` lists), built once per exchange.

        A header that is not a credential is searched like any text (:meth:`text`); the checks are inlined here
        because this runs for every header of every recorded exchange."""
        pattern = pattern or self._pattern
        seen = self._seen
        shown: list[list[str]] = []
        for name, value in headers:
            printed, secret = seen.get(name) or self._name(name)
            if secret:
                value = REDACTED
            else:
                if "://" in value:
                    value = _USERINFO.sub(_USERINFO_REDACTED, value)
                if "=" in value and ("?" in value or "&" in value):
                    value = _QUERY.sub(_query_value, value)
                if pattern is not None:
                    value = pattern.sub(REDACTED, value)
            shown.append([printed, value])
        return shown

    def message(
        self,
        start_line: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        also: Iterable[tuple[str, str]] = (),
    ) -> tuple[str, list[tuple[str, str]], bytes, re.Pattern[str] | None]:
        """One message (request or answer) as it may be recorded: its start line (a URL's credentials),
        headers by position, and its body with every known credential, and those of its own and ``also``'s
        (the other message of the exchange) credential headers, replaced. Also returns the search pattern
        used, for the message's other forms (a decoded body)."""
        headers = list(headers)
        pattern = self.pattern_for(headers, also)
        return self.text(start_line, pattern), self.headers(headers, pattern), self.body(body, pattern), pattern

    def pattern_for(
        self, headers: Iterable[tuple[str, str]], also: Iterable[tuple[str, str]] = ()
    ) -> re.Pattern[str] | None:
        """The verbatim search for one exchange: the known credentials, and those its messages' own
        credential headers carry (8 characters or more)."""
        local: set[str] = set()
        seen = self._seen
        for headers_of in (headers, also):
            for name, value in headers_of:
                secret = (seen.get(name) or self._name(name))[1]
                if secret and len(value) >= MIN_VERBATIM and value not in self._known:
                    local |= {v for v in credential_values(name, value) or {value} if len(v) >= MIN_VERBATIM}
        local -= self._known
        return _verbatim_pattern(self._known | local) if local else self._pattern

    def body_record(self, body: bytes, pattern: re.Pattern[str] | None = None) -> tuple[str, str]:
        """(body, encoding) as ``exchanges.jsonl`` holds it, known credentials replaced: the text when the bytes
        are UTF-8, else base64 of the bytes (searched through Latin-1, so nothing but a credential moves)."""
        if not body:
            return "", "text"
        try:
            return self.text(body.decode("utf-8"), pattern), "text"
        except UnicodeDecodeError:
            cleaned = self.text(body.decode("latin-1"), pattern).encode("latin-1")
            return base64.b64encode(cleaned).decode("ascii"), "base64"

    def body(self, body: bytes, pattern: re.Pattern[str] | None = None) -> bytes:
        """A body's bytes with known credentials replaced: UTF-8 text as text, other bytes one for one
        through Latin-1 (so nothing but the credential moves)."""
        if not body:
            return body
        try:
            return self.text(body.decode("utf-8"), pattern).encode("utf-8")
        except UnicodeDecodeError:
            return self.text(body.decode("latin-1"), pattern).encode("latin-1")


def _query_value(match: re.Match[str]) -> str:
    """A ``name=value`` query parameter, its value redacted when the name names a credential."""
    return match.group(1) + REDACTED if credential_name(match.group(2)) else match.group(0)


def _verbatim_pattern(values: Iterable[str]) -> re.Pattern[str] | None:
    """One alternation of every value, and its JSON-escaped form, longest first."""
    forms = {
        form
        for value in values
        for form in (value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=True)[1:-1])
    }
    if not forms:
        return None
    return re.compile("|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True)))


def _printable(text: str) -> str:
    """``text`` with control characters escaped (``\\x1b``): a terminal shows it, never obeys it."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text) if _CONTROL.search(text) else text


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` from a system under test or a bundle as the console prints it: control characters (escape
    sequences, carriage returns, line feeds, bells) shown as ``\\xNN``, line separators and bidirectional
    controls as ``\\uNNNN``, so none reaches the terminal and no line is forged or reordered; tabs kept."""
    return _UNPRINTABLE.sub(_escape, text) if _UNPRINTABLE.search(text) else text


def printable_json(value: Any, **options: Any) -> str:
    """``json.dumps(value, **options)`` for the console: JSON escapes C0 itself, and DEL, C1, line separators
    and bidirectional controls (which it leaves raw with ``ensure_ascii=False``) are written as ``\\uNNNN``
    too; the same value for a JSON reader, nothing a terminal obeys."""
    text = json.dumps(value, **options)
    return _JSON_UNPRINTABLE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def body_record(body: bytes) -> tuple[str, str]:
    """(body, encoding) as ``exchanges.jsonl`` holds it: the text when the bytes are UTF-8, else base64."""
    try:
        return body.decode("utf-8"), "text"
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), "base64"


def wire_record(
    message: WireMessage | None,
    redact: Redactor,
    also: Iterable[tuple[str, str]] = (),
    pattern: re.Pattern[str] | None = None,
) -> dict[str, Any] | None:
    """A request or answer as ``exchanges.jsonl`` records it (evidence 1.1), redacted: start line, every
    header, the body as it crossed the wire, and ``decoded`` when its Content-Encoding was undone. ``pattern``:
    the exchange's verbatim search (:meth:`Redactor.pattern_for`), else made from ``message`` and ``also``."""
    if message is None:
        return None
    if pattern is None:
        pattern = redact.pattern_for(message.headers, also)
    text, encoding = redact.body_record(message.body, pattern)
    record: dict[str, Any] = {
        "start_line": redact.text(message.start_line, pattern),
        "headers": redact.record_headers(message.headers, pattern),
        "body": text,
        "body_encoding": encoding,
    }
    if message.decoded is not None:
        record["decoded"], record["decoded_encoding"] = redact.body_record(message.decoded, pattern)
    return record


def exchange_record(event: ExchangeCompleted, redact: Redactor, keep_messages: bool = True) -> dict[str, Any]:
    """One line of ``exchanges.jsonl``, redacted: what the evidence bundle and the HTML report both record.
    Without ``keep_messages`` the messages keep only their start lines."""
    request, answer = event.request, event.answer
    if request is None:
        request = WireMessage(f"{event.method} {event.url}", (), b"")
    if not keep_messages:
        request = WireMessage(request.start_line, (), b"")
        answer = None if answer is None else WireMessage(answer.start_line, (), b"")
    pattern = redact.pattern_for(request.headers, answer.headers if answer else ())  # one for the exchange
    return {
        "scenario": event.scenario,
        "step": event.step,
        "attempt": event.attempt,
        "direction": event.direction,
        "transport": event.transport,
        "request": wire_record(request, redact, pattern=pattern),
        "answer": wire_record(answer, redact, pattern=pattern),
        "sent": event.sent,
        "answered": event.answered,
        "elapsed_ms": round(event.elapsed_ms, 3),
        "status": event.status,
        "bindings": _bindings(event.bindings, redact),
    }


def _bindings(bindings: Mapping[str, Any], redact: Redactor) -> dict[str, Any]:
    if not bindings:
        return {}
    redacted: dict[str, Any] = json.loads(redact(json.dumps(dict(bindings), ensure_ascii=False, default=str)))
    return redacted


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
                verdict = "NOT CERTIFYING (a retired suite version, run on request)"
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
