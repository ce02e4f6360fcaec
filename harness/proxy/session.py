"""A proxy session: the checker off the forwarding path, the findings it gathers, the console lines and the
recording.

The forwarding hands each exchange to :meth:`ProxySession.submit`, which only puts it in a bounded queue; one
worker thread takes them in order (idempotency is judged in arrival order), checks them, prints one console line
per finding, adds them to :class:`Findings` and to the recording. When the queue is full the exchange is dropped
and counted (``dropped``): traffic never waits for the checker.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from harness.proxy.checks import ExchangeChecker, ProxyFinding, kind_name
from harness.recording.exchange import RecordedExchange
from harness.reporting.redaction import Redactor, printable

__all__ = ["EXAMPLES", "KEPT_EXCHANGES", "Findings", "ProxySession", "Recorder"]

EXAMPLES = 3
"""First examples kept per rule and per exchange kind."""
KEPT_EXCHANGES = 200
"""Exchanges kept in full (redacted) for the HTML report; the rest are counted."""


class Recorder(Protocol):
    """What the session needs of a recording writer (``harness.recording.har.HarWriter``)."""

    def add(self, exchange: RecordedExchange) -> Any: ...

    def close(self) -> Any: ...


@dataclass
class Findings:
    """Everything the session learnt, bounded: counts, first examples, the first exchanges in full."""

    exchanges: int = 0
    errors: int = 0
    warnings: int = 0
    by_rule: Counter[str] = field(default_factory=Counter)
    rule_severity: dict[str, str] = field(default_factory=dict)
    rule_examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    kind_exchanges: Counter[str] = field(default_factory=Counter)
    kind_findings: dict[str, Counter[str]] = field(default_factory=dict)
    kept: list[dict[str, Any]] = field(default_factory=list)
    mask: Callable[[RecordedExchange], RecordedExchange] | None = None
    """With ``--mask-personal``: the recording's masker, applied to the exchanges kept for the HTML report too."""

    def add_unframed(self, finding: ProxyFinding, redactor: Redactor) -> None:
        """A finding on a connection rather than an exchange (its bytes could not be framed)."""
        self.errors += 1
        self.by_rule[finding.rule] += 1
        self.rule_severity[finding.rule] = "error"
        self.kind_findings.setdefault("unframed", Counter())[finding.rule] += 1
        self.kind_exchanges.setdefault("unframed", 0)  # listed among the kinds, with no exchange
        examples = self.rule_examples.setdefault(finding.rule, [])
        if len(examples) < EXAMPLES:
            examples.append(
                {
                    "exchange": None,
                    "kind": "unframed",
                    "request": "",
                    "side": finding.side,
                    "location": "",
                    "severity": "error",
                    "message": redactor.text(finding.message),
                }
            )

    def add(self, exchange: RecordedExchange, kind: str, found: list[ProxyFinding], redactor: Redactor) -> None:
        self.exchanges += 1
        self.kind_exchanges[kind] += 1
        per_kind = self.kind_findings.setdefault(kind, Counter())
        shown = f"{exchange.method} {redactor.text(exchange.target)} -> {exchange.answer_status}"
        for finding in found:
            if finding.severity == "error":
                self.errors += 1
            else:
                self.warnings += 1
            self.by_rule[finding.rule] += 1
            if self.rule_severity.get(finding.rule) != "error":
                self.rule_severity[finding.rule] = finding.severity
            per_kind[finding.rule] += 1
            examples = self.rule_examples.setdefault(finding.rule, [])
            if len(examples) < EXAMPLES:
                examples.append(
                    {
                        "exchange": self.exchanges,
                        "kind": kind,
                        "request": shown,
                        "side": finding.side,
                        "location": finding.location,
                        "severity": finding.severity,
                        "message": redactor.text(finding.message),
                    }
                )
        if len(self.kept) < KEPT_EXCHANGES:
            self.kept.append(
                {
                    "number": self.exchanges,
                    "kind": kind,
                    "exchange": self._shown(exchange.redacted(redactor)),
                    "findings": [
                        {
                            "rule": f.rule,
                            "severity": f.severity,
                            "side": f.side,
                            "location": f.location,
                            "message": redactor.text(f.message),
                        }
                        for f in found
                    ],
                }
            )

    def _shown(self, exchange: RecordedExchange) -> RecordedExchange:
        """``exchange`` as the report may show it: masked when asked; without its bodies when it cannot be."""
        if self.mask is None:
            return exchange
        try:
            return self.mask(exchange)
        except Exception:  # whatever a hostile body does to the masker: personal data is never shown unmasked
            return replace(exchange, request_body=b"", answer_body=b"")


class ProxySession:
    """Checks exchanges off the forwarding path and keeps what they show."""

    def __init__(
        self,
        checker: ExchangeChecker,
        redactor: Redactor,
        *,
        print_line: Callable[[str], None] = print,
        recorder: Recorder | None = None,
        queue_size: int = 10_000,
        mask: Callable[[RecordedExchange], RecordedExchange] | None = None,
    ) -> None:
        self.checker = checker
        self.redactor = redactor
        self.print_line = print_line
        self.recorder = recorder
        self.findings = Findings(mask=mask)
        self.dropped = 0
        self.failures: list[str] = []
        self._queue: queue.Queue[RecordedExchange | None] = queue.Queue(queue_size)
        self._lock = threading.Lock()
        self._worker = threading.Thread(target=self._work, name="proxy-checker", daemon=True)
        self._worker.start()

    def submit(self, exchange: RecordedExchange) -> None:
        """Queue ``exchange`` for checking; never blocks (a full queue drops it, counted)."""
        try:
            self._queue.put_nowait(exchange)
        except queue.Full:
            self.dropped += 1

    def unframed(self, side: str, reason: str) -> None:
        """A connection whose ``side`` could not be framed as HTTP/1.1 (binding rule 1): a finding of its own, so
        that traffic the proxy could not check never passes for traffic without findings."""
        finding = ProxyFinding("BR-1", f"the {side} bytes are not HTTP/1.1 as RFC 9112 frames it: {reason}", side)
        with self._lock:
            self.findings.add_unframed(finding, self.redactor)
        self.print_line(printable(f"ERROR BR-1 connection: {self.redactor.text(finding.message)}"))

    def finish(self, timeout_s: float = 30.0) -> None:
        """Check what is queued (up to ``timeout_s``), stop the worker, close the recording."""
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout_s)
        self._worker.join(timeout_s)
        if self._worker.is_alive():  # still checking after the time allowed: what waits is counted, not lost silently
            self.dropped += self._queue.qsize()
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None

    def _work(self) -> None:
        while True:
            exchange = self._queue.get()
            if exchange is None:
                return
            try:
                self._one(exchange)
            except Exception as exc:  # one exchange the checker chokes on must not stop the session
                with self._lock:
                    if len(self.failures) < 20:
                        self.failures.append(f"{type(exc).__name__}: {exc}")

    def _one(self, exchange: RecordedExchange) -> None:
        kind = kind_name(exchange)
        found = self.checker.check(exchange)
        with self._lock:
            self.findings.add(exchange, kind, found, self.redactor)
            number = self.findings.exchanges
        for finding in found:
            target = self.redactor.text(exchange.target)
            where = f" at {finding.location}" if finding.location else ""
            line = (
                f"{finding.severity.upper()} {finding.rule} #{number} {kind}: {exchange.method} {target} -> "
                f"{exchange.answer_status}: {self.redactor.text(finding.message)}{where}"
            )
            self.print_line(printable(line))
        if self.recorder is not None:
            self.recorder.add(exchange.redacted(self.redactor))  # credentials never reach the file
