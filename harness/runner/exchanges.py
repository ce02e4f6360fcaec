"""The replay seam: where the runner's exchanges come from.

The runner builds requests and judges answers; it never touches a transport or the counterpart
itself. It asks an :class:`Exchanges` to carry a step's request and to say what the system under
test sent to the counterpart. :class:`LiveExchanges` does that on the wire (a transport per target,
the counterpart reference endpoint) and tells listeners what crossed it; a recorded implementation
(evidence re-judging, ``harness.evidence.rejudge``) answers from a bundle's ``exchanges.jsonl``.
Nobody subclasses the runner to swap one for the other.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

from harness.events import Event, ExchangeCompleted, WireMessage
from harness.model import ConfigurationError, HarnessError, TransportError
from harness.transport import Attempt, Counterpart, Request, Response, Transport

__all__ = ["Carried", "Exchanges", "LiveExchanges", "ManualAction", "Skipped", "now_rfc3339", "rfc3339_at"]


def now_rfc3339() -> str:
    return rfc3339_at(time.time())


def rfc3339_at(timestamp: float) -> str:
    """``timestamp`` (seconds since the epoch) as RFC 3339 UTC with milliseconds, as the evidence records times."""
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ManualAction(HarnessError):
    """The step needs an operator, and the run is unattended: the scenario is ``manual``."""


class Skipped(HarnessError):
    """The scenario needs what the run was not given (a SIP target): the scenario is ``skipped``."""


@dataclass(slots=True, frozen=True)
class Carried:
    """One exchange of a step: the request as it was sent, and the answer to it.

    Live, ``request`` is the request the runner built; recorded, it is the request of the record (its
    fresh identifiers are the recorded run's, which the runner takes over for later steps).
    """

    request: Request
    response: Response


class Exchanges(Protocol):
    """Carries a run's exchanges: live on the wire, or answered from a record."""

    @property
    def counterpart_url(self) -> str:
        """Where the counterpart reference endpoint listens ("" when the run has none)."""
        ...

    def target(self, transport: str | None) -> str:
        """The target of steps carried by ``transport`` (None: the run's own); :class:`Skipped` when the run
        was not given one."""
        ...

    async def hook(self, request: Request) -> Response:
        """A call to one of the SUT's test hooks outside any step (the data set), not part of the evidence."""
        ...

    async def send(self, scenario: str, step: str, request: Request, transport: str | None) -> Carried:
        """Carry ``request`` of step ``step`` of ``scenario``; the request as sent and its answer."""
        ...

    def mark(self) -> int:
        """A position in what the counterpart received so far (see :meth:`received`)."""
        ...

    async def received(
        self, scenario: str, step: str, method: str, path: str, since: int, within_s: float
    ) -> Response | None:
        """What the SUT sent to the counterpart as ``method path`` after ``since`` (for step ``step``), with the
        counterpart's answer as its status; None when nothing came within ``within_s``."""
        ...

    def attended(self, scenario: str, step: str) -> bool:
        """Whether an operator is there to do what a missing test hook would, for this step."""
        ...

    def judged(self, scenario: str, step: str, bindings: Mapping[str, Any]) -> None:
        """Step ``step`` was judged; ``bindings`` is what it captured (recorded with its exchange)."""
        ...

    def ended(self, scenario: str) -> None:
        """The scenario ended (an exchange whose step was never judged, a missing hook say, is recorded now)."""
        ...

    async def control(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """Tell or ask the counterpart through its control API under ``/_harness/`` (a fault plan, the
        attempts so far), not part of the evidence: its decoded JSON answer; a record answers None."""
        ...

    async def attempts(self, scenario: str, step: str, path: str) -> list[dict[str, Any]]:
        """Every attempt the counterpart recorded at ``path``, as ``sut->reference`` exchange records of step
        ``step`` (evidence 1.1 shape; ``answer`` null when none came complete), oldest first. Live, read from
        the counterpart and recorded as the step's exchanges; recorded, read back from the record."""
        ...


CONTROL_PATH = "/_harness/"
"""The counterpart's control API (fault plans, attempts): loopback, the harness's own endpoint."""
CONTROL_TIMEOUT_S = 10.0


class LiveExchanges:
    """Exchanges on the wire: one transport per target, the counterpart; listeners hear every exchange."""

    def __init__(
        self,
        transport: Transport,
        target: str,
        counterpart: Counterpart | None = None,
        extra_targets: Mapping[str, tuple[Transport, str]] | None = None,
        emit: Callable[[Event], None] | None = None,
        unattended: bool = True,
    ) -> None:
        self.transport = transport
        self.target_url = target.rstrip("/")
        self.counterpart = counterpart
        self.extra_targets = dict(extra_targets or {})
        self.emit = emit
        self.unattended = unattended
        self._unreported: dict[tuple[str, str], tuple[Request, Response, str, float]] = {}

    @property
    def counterpart_url(self) -> str:
        return self.counterpart.url if self.counterpart is not None else ""

    def carrier(self, transport: str | None) -> tuple[Transport, str]:
        if transport is None:
            return self.transport, self.target_url
        if transport not in self.extra_targets:
            raise Skipped(f"no {transport.upper()} target given (--{transport}-target)")
        return self.extra_targets[transport]

    def target(self, transport: str | None) -> str:
        return self.carrier(transport)[1]

    async def hook(self, request: Request) -> Response:
        return await self.transport.send(request)

    async def send(self, scenario: str, step: str, request: Request, transport: str | None) -> Carried:
        carrier, _ = self.carrier(transport)
        # Only listeners see when it was sent, and only from here when the transport recorded no attempt: the
        # clock is read now, formatted only if needed (an RFC 3339 string per exchange is a cost of its own).
        sent = time.time() if self.emit is not None else 0.0
        kind = transport or "http"
        try:
            response = await carrier.send(request)
        except TransportError as exc:  # what was sent before it failed is recorded all the same
            self._sent(scenario, step, request, None, kind, sent, exc.attempts)
            raise
        if self.emit is not None:  # recorded once judged, with what the step captured (see judged)
            self._unreported[(scenario, step)] = (request, response, kind, sent)
        return Carried(request, response)

    def judged(self, scenario: str, step: str, bindings: Mapping[str, Any]) -> None:
        self._report(scenario, step, bindings)

    def ended(self, scenario: str) -> None:
        self._report(scenario)

    def _report(self, scenario: str, step: str | None = None, bindings: Mapping[str, Any] | None = None) -> None:
        """Tell listeners about the exchange(s) of ``step`` (every one left of the scenario: None)."""
        if not self._unreported:
            return
        for key in [k for k in self._unreported if k[0] == scenario and step in (None, k[1])]:
            request, response, kind, sent = self._unreported.pop(key)
            self._sent(scenario, key[1], request, response, kind, sent, response.attempts, bindings)

    def _sent(
        self,
        scenario: str,
        step: str,
        req: Request,
        resp: Response | None,
        kind: str,
        sent: float,
        attempts: tuple[Attempt, ...] = (),
        bindings: Mapping[str, Any] | None = None,
    ) -> None:
        """Tell listeners about a harness->sut exchange (a step's request, or the trigger hook's POST): one event
        per sending the transport recorded, else one made of the request and the answer."""
        if self.emit is None:
            return
        captured = dict(bindings or {})
        for each in attempts:
            answer = WireMessage(each.answer_line, each.answer_headers, each.answer_body) if each.answer_line else None
            if answer is not None and resp is not None and resp.body is not each.answer_body:
                answer = WireMessage(answer.start_line, answer.headers, answer.body, resp.body)  # it was decoded
            self.emit(
                ExchangeCompleted(
                    scenario,
                    step,
                    req.method,
                    req.url,
                    each.status,
                    each.elapsed_ms,
                    len(each.body),
                    len(each.answer_body),
                    transport=kind,
                    request=WireMessage(each.start_line, each.headers, each.body),
                    answer=answer,
                    sent=each.sent,
                    answered=each.answered,
                    attempt=each.number,
                    bindings=captured,
                )
            )
        if attempts or resp is None:
            return
        version = "SIP/2.0" if kind == "sip" else "HTTP/1.1"
        target = req.url if kind == "sip" else (urlsplit(req.url)._replace(scheme="", netloc="").geturl() or "/")
        self.emit(
            ExchangeCompleted(
                scenario,
                step,
                req.method,
                req.url,
                resp.status,
                resp.elapsed_ms,
                len(req.body),
                len(resp.body),
                transport=kind,
                request=WireMessage(f"{req.method} {target} {version}", req.headers, req.body),
                answer=WireMessage(f"{version} {resp.status} {resp.reason}", resp.headers, resp.body),
                sent=rfc3339_at(sent),
                answered=now_rfc3339(),
                bindings=captured,
            )
        )

    def mark(self) -> int:
        return self.counterpart.mark() if self.counterpart is not None else 0

    async def received(
        self, scenario: str, step: str, method: str, path: str, since: int, within_s: float
    ) -> Response | None:
        if self.counterpart is None:
            return None
        arrived = await self.counterpart.wait_for(method, path, since, within_s)
        if arrived is not None and self.emit is not None:
            at = now_rfc3339()
            self.emit(
                ExchangeCompleted(
                    scenario,
                    step,
                    method,
                    arrived.url,
                    arrived.status,
                    arrived.elapsed_ms,
                    len(arrived.body),
                    0,
                    direction="sut->reference",
                    request=WireMessage(f"{method} {arrived.url} HTTP/1.1", arrived.headers, arrived.body),
                    answer=WireMessage(f"HTTP/1.1 {arrived.status} {arrived.reason}", (), b""),
                    sent=at,
                    answered=now_rfc3339(),
                )
            )
        return arrived

    def attended(self, scenario: str, step: str) -> bool:
        return not self.unattended

    async def _control(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        import aiohttp  # the counterpart's control API: loopback, the harness's own reference endpoint

        if self.counterpart is None:
            raise ConfigurationError("a fault plan needs a counterpart reference endpoint")
        url = self.counterpart.url.rstrip("/") + CONTROL_PATH + path
        try:
            timeout = aiohttp.ClientTimeout(total=CONTROL_TIMEOUT_S)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.request(method, url, json=dict(body) if body is not None else None) as answer,
            ):
                data = await answer.read()
                if answer.status >= 400:
                    raise ConfigurationError(f"the counterpart refused {method} {CONTROL_PATH}{path}: {data[:200]!r}")
                return json.loads(data) if data else None
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            raise ConfigurationError(f"the counterpart's control API failed: {type(exc).__name__}: {exc}") from None

    async def control(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        return await self._control(method, path, body)

    async def attempts(self, scenario: str, step: str, path: str) -> list[dict[str, Any]]:
        listed = await self._control("GET", "attempts?" + urlencode({"path": path}))
        base = self.counterpart.url.rstrip("/") if self.counterpart is not None else ""
        records: list[dict[str, Any]] = []
        for number, attempt in enumerate(listed if isinstance(listed, list) else (), 1):
            event = _attempt_event(scenario, step, base, number, attempt)
            if self.emit is not None:
                self.emit(event)
            record = _record_of(event)
            if isinstance(attempt, dict) and isinstance(attempt.get("fault"), str):
                record["fault"] = attempt["fault"]  # shown beside the answer live; never judged, never evidence
            records.append(record)
        return records


def _body_of(text: Any, encoding: Any) -> bytes:
    if not isinstance(text, str):
        return b""
    if encoding == "base64":
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return b""
    return text.encode()


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(p[0]), str(p[1])) for p in value or () if isinstance(p, list | tuple) and len(p) == 2)


def _attempt_event(scenario: str, step: str, base: str, number: int, attempt: Mapping[str, Any]) -> ExchangeCompleted:
    """One attempt the counterpart recorded, as the ``sut->reference`` exchange it was."""
    method, path = str(attempt.get("method", "POST")), str(attempt.get("path", ""))
    body = _body_of(attempt.get("body"), attempt.get("body_encoding"))
    status = attempt.get("status")
    answer = None
    if isinstance(status, int) and not isinstance(status, bool):
        reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
        answer_body = _body_of(attempt.get("answer_body"), attempt.get("answer_body_encoding"))
        answer = WireMessage(f"HTTP/1.1 {status} {reason}".rstrip(), _pairs(attempt.get("answer_headers")), answer_body)
    sent, answered = str(attempt.get("at") or ""), str(attempt.get("answered_at") or "")
    start, end = attempt.get("monotonic_ms"), attempt.get("answered_monotonic_ms")
    elapsed = float(end) - float(start) if isinstance(start, int | float) and isinstance(end, int | float) else 0.0
    return ExchangeCompleted(
        scenario,
        step,
        method,
        base + path,
        status if answer is not None else None,
        elapsed,
        len(body),
        len(answer.body) if answer is not None else 0,
        direction="sut->reference",
        request=WireMessage(f"{method} {base}{path} HTTP/1.1", _pairs(attempt.get("header_list")), body),
        answer=answer,
        sent=sent,
        answered=answered,
        attempt=number,
    )


def _wire(message: WireMessage | None) -> dict[str, Any] | None:
    if message is None:
        return None
    try:
        body, encoding = message.body.decode("utf-8"), "text"
    except UnicodeDecodeError:
        body, encoding = base64.b64encode(message.body).decode("ascii"), "base64"
    headers = [[name, value] for name, value in message.headers]
    return {"start_line": message.start_line, "headers": headers, "body": body, "body_encoding": encoding}


def _record_of(event: ExchangeCompleted) -> dict[str, Any]:
    """The exchange as ``exchanges.jsonl`` records it (unredacted: what the step judges is what is recorded)."""
    return {
        "scenario": event.scenario,
        "step": event.step,
        "attempt": event.attempt,
        "direction": event.direction,
        "request": _wire(event.request),
        "answer": _wire(event.answer),
        "sent": event.sent,
        "answered": event.answered,
        "status": event.status,
    }
