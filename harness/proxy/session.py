"""A proxy session: the checker off the forwarding path, the findings it gathers, the console lines and the
recording.

:class:`ProxySession` does the checking: each exchange, in arrival order (idempotency is judged in that order), is
checked, one console line is printed per finding, and it is added to :class:`Findings` and to the recording. It
runs either in a worker thread of the forwarding process (``ProxySession.submit``: in-process uses, the tests) or,
as ``harness proxy`` runs it, in a child process (:class:`CheckingProcess`) so that the checks never take the
forwarding's interpreter lock. Either way the queue in between is bounded: when it is full the exchange is dropped
and counted (``dropped``); traffic never waits for the checker.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import queue
import signal
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from harness.proxy.checks import ExchangeChecker, ProxyFinding, kind_name
from harness.proxy.server import RawExchange, exchange_of
from harness.recording.exchange import RecordedExchange
from harness.reporting.redaction import Redactor, printable

__all__ = ["EXAMPLES", "KEPT_EXCHANGES", "CheckingProcess", "Findings", "ProxySession", "Recorder"]

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
        start: bool = True,
    ) -> None:
        """``start=False``: no worker thread (the session is run by a :class:`CheckingProcess`)."""
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
        if start:
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
        if self._worker.is_alive():
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
            self.work_one(exchange)

    def work_one(self, exchange: RecordedExchange) -> None:
        """Check one exchange, print and keep its findings, record it (the worker's step, thread or process)."""
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


_END = b"\0\0\0\0"
"""A batch frame of length 0: no more exchanges (the checking process sends its result and ends)."""


class CheckingProcess:
    """The same checking as :class:`ProxySession`, in a child process, so the forwarding process keeps a core.

    The child is forked (before the event loop runs) from a :class:`ProxySession` built with ``start=False``: it
    holds the checker, the redactor, the console and the recording, and does exactly what the thread does, in
    arrival order. The forwarding hands exchanges to :meth:`submit`, which only appends them to a batch that is
    pickled and written to a socket pair once per turn of the event loop (one write however many exchanges
    completed). The queue is bounded by count as the thread's is: the child acknowledges what it has checked, and
    an exchange arriving while ``queue_size`` are sent and unacknowledged is dropped and counted; a child that
    died drops everything after, counted, so the exit code says traffic went unchecked. :meth:`finish` (on the
    loop) sends the end, waits for the child's findings and takes them over.
    """

    def __init__(self, session: ProxySession, *, queue_size: int = 10_000) -> None:
        import multiprocessing
        import socket

        self.session = session
        self.queue_size = queue_size
        self.sent = 0
        self.acked = 0
        self._batch: list[Any] = []
        self._transport: Any = None
        self._link: _Link | None = None
        ours, theirs = socket.socketpair()
        self._socket = ours
        flush = getattr(session.recorder, "flush", None)
        if flush is not None:  # buffered bytes would otherwise be written twice, once by each process
            flush()
        context = multiprocessing.get_context("fork")  # the checker, catalog and recording are inherited, not pickled
        self._process = context.Process(target=_child, args=(session, theirs, ours), name="proxy-checker", daemon=True)
        self._process.start()
        theirs.close()
        session.recorder = None  # the child owns the recording from here on

    @property
    def findings(self) -> Findings:
        return self.session.findings

    @property
    def dropped(self) -> int:
        return self.session.dropped

    @property
    def failures(self) -> list[str]:
        return self.session.failures

    async def start(self) -> None:
        """Connect the batch link on the running loop (call before the first exchange)."""
        loop = asyncio.get_running_loop()
        self._transport, self._link = await loop.create_unix_connection(lambda: _Link(self), sock=self._socket)

    def submit(self, raw: RawExchange) -> None:
        """Queue an exchange (its plain fields, ``ProxyServer(on_raw=...)``) for the checking process; never
        blocks (a full queue or a dead child drops it, counted)."""
        link = self._link
        if link is None or link.lost or self.sent - self.acked >= self.queue_size:
            self.session.dropped += 1
            return
        self.sent += 1
        self._send(raw)

    def unframed(self, side: str, reason: str) -> None:
        """As :meth:`ProxySession.unframed`, judged in the child in order with the exchanges."""
        if self._link is None or self._link.lost:
            self.session.unframed(side, reason)  # the finding is never lost: made here when the child is gone
            return
        self._send(["unframed", side, reason])  # a list: exchanges are tuples

    def _send(self, item: Any) -> None:
        if not self._batch:
            asyncio.get_running_loop().call_soon(self._flush)
        self._batch.append(item)

    def _flush(self) -> None:
        batch, self._batch = self._batch, []
        if not batch or self._link is None or self._link.lost:
            return
        data = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
        self._transport.writelines((len(data).to_bytes(4, "big"), data))

    async def finish_async(self, timeout_s: float = 30.0) -> None:
        """Send what is batched and the end; wait (up to ``timeout_s``) for the child's findings and take them."""
        link = self._link
        if link is None:
            return
        self._flush()
        if not link.lost:
            self._transport.write(_END)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(link.result), timeout_s)
        session = self.session
        result = link.result.result() if link.result.done() else None
        if result is not None:
            findings, dropped, failures = result
            session.findings, session.failures = findings, failures
            session.dropped += dropped
        else:  # the child died or hung: what it had not acknowledged went unchecked, and that is said
            session.dropped += self.sent - self.acked
            session.failures.append("the checking process ended before reporting its findings")
        self._transport.close()

    def finish(self, timeout_s: float = 5.0) -> None:
        """Reap the child (after :meth:`finish_async`; it ends by itself once it has reported, or at the end of
        its input when the proxy stopped before that, e.g. an upstream unreachable at start)."""
        self._socket.close()
        self._process.join(timeout_s)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


class _Link(asyncio.Protocol):
    """The parent's end of the socket pair: acknowledgements (b"A" + 8-byte count) and the result frame
    (b"R" + 4-byte length + pickle)."""

    def __init__(self, owner: CheckingProcess) -> None:
        self.owner = owner
        self.buffer = bytearray()
        self.lost = False
        self.result: asyncio.Future[tuple[Findings, int, list[str]] | None] = asyncio.get_running_loop().create_future()
        """The child's findings, dropped count and failures; None when the link ended without them."""

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        while buffer:
            if buffer[:1] == b"A":
                if len(buffer) < 9:
                    return
                self.owner.acked = int.from_bytes(buffer[1:9], "big")
                del buffer[:9]
            else:
                if len(buffer) < 5 or len(buffer) < 5 + int.from_bytes(buffer[1:5], "big"):
                    return
                size = int.from_bytes(buffer[1:5], "big")
                if not self.result.done():
                    # our own forked child, over a socket pair no one else holds
                    self.result.set_result(pickle.loads(bytes(buffer[5 : 5 + size])))  # noqa: S301
                del buffer[: 5 + size]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.result.done():  # the child is gone without its result: nobody waits the full time for it
            self.result.set_result(None)


def _child(session: ProxySession, link: Any, parents_end: Any) -> None:
    """The checking process: batches in, checks as the thread does, acknowledgements and finally the result out."""
    parents_end.close()  # else the parent's death would never show here as the end of the input
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the parent decides
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    reader = link.makefile("rb")
    done = 0
    try:  # nothing here may print a traceback: a failure is counted, and the parent sees the link end
        while True:
            head = reader.read(4)
            if len(head) < 4 or head == _END:
                break
            batch = pickle.loads(reader.read(int.from_bytes(head, "big")))  # noqa: S301 - from our parent only
            for item in batch:
                if isinstance(item, list):
                    session.unframed(item[1], item[2])
                    continue
                done += 1
                try:
                    exchange = exchange_of(item)
                except ValueError:  # as the forwarding in one process does: not an exchange that can be recorded
                    continue
                session.work_one(exchange)
            link.sendall(b"A" + done.to_bytes(8, "big"))
        if session.recorder is not None:
            session.recorder.close()
            session.recorder = None
        findings = session.findings
        findings.mask = None  # a function of the recording's masker: it stays here
        result = pickle.dumps((findings, session.dropped, session.failures), protocol=pickle.HIGHEST_PROTOCOL)
        link.sendall(b"R" + len(result).to_bytes(4, "big") + result)
    except Exception:  # noqa: S110 - the parent counts what was not acknowledged and says the child failed
        pass
    finally:
        link.close()
