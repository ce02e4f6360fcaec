"""The SIP adapter: SDS and notifications as SIP MESSAGE over UDP and TCP (RFC 3261, RFC 3428, TS 24.282).

- :class:`SipTransport` is the harness's ``Transport`` (entry point ``sip`` in
  the group ``harness.adapters``): a request's URL is the SIP URI of the system
  under test (``sip:gw@127.0.0.1:5060;transport=tcp``), its method ``MESSAGE``
  (or ``OPTIONS``); the answer is the final SIP response as a harness
  ``Response`` (status, reason, header fields, body).
- The SIP wire code both sides share lives in the engine's protocol layer:
  :mod:`harness.protocols.sip` parses and writes SIP messages (bounded),
  :mod:`harness.protocols.sip_client` sends one request and waits for its final
  response. The reference side (the SIP server that receives SDS MESSAGEs) is
  the endpoint :class:`harness.endpoints.sip_gateway.SipServer`; this package
  holds the transport only.

A MESSAGE without an ``Accept-Contact`` header gets the MCData SDS feature tag
``*;+g.3gpp.mcdata.sds;require;explicit``. Transport failures become the
harness's own errors: nothing listening is :class:`~harness.model.TargetUnreachable`,
no final response in time or a malformed one :class:`~harness.model.BadAnswer`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
import uuid

from harness.model import BadAnswer, ConfigurationError, TargetUnreachable, TransportError
from harness.protocols.sip import ACCEPT_CONTACT, SipMessage, SipSyntaxError, new_tag
from harness.protocols.sip_client import SipTarget, exchange, parse_sip_uri
from harness.transport import Attempt, Request, Response, TransportOptions

__all__ = ["ACCEPT_CONTACT", "SipMessage", "SipTarget", "SipTransport", "parse_sip_uri"]

FROM_URI = "sip:harness@127.0.0.1"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(exc: BaseException, where: str, timeout_s: float) -> TransportError:
    """The one mapping of what can go wrong carrying a SIP request to the harness's errors."""
    if isinstance(exc, ConnectionRefusedError):
        return TargetUnreachable(f"nothing accepts SIP at {where}")
    if isinstance(exc, TimeoutError):
        return BadAnswer(f"no final SIP response from {where} within {timeout_s:g} s")
    if isinstance(exc, SipSyntaxError):
        return BadAnswer(f"malformed SIP response from {where}: {exc}")
    if isinstance(exc, ConnectionResetError):
        return BadAnswer(f"{where} closed the connection before answering: {exc}")
    return TransportError(f"SIP failure talking to {where}: {getattr(exc, 'strerror', None) or exc}")


def _attempts(
    sent: list[SipMessage], at: str, answer: SipMessage | None, started: float, error: str
) -> tuple[Attempt, ...]:
    """Each transmission of the request as it went (with its Via; UDP retransmissions each), the final
    response with the last one."""
    attempts: list[Attempt] = []
    for number, message in enumerate(sent, start=1):
        head, _, _ = message.encode().partition(b"\r\n\r\n")
        lines = head.decode("utf-8").split("\r\n")
        headers = tuple((n, v.strip()) for n, _, v in (line.partition(":") for line in lines[1:]))
        attempt = Attempt(number, lines[0], headers, message.body, at, error=error if number == len(sent) else "")
        if answer is not None and number == len(sent):
            elapsed = (time.perf_counter() - started) * 1000
            line = f"SIP/2.0 {answer.status} {answer.reason}"
            attempt = dataclasses.replace(
                attempt,
                answer_line=line,
                answer_headers=answer.headers,
                answer_body=answer.body,
                answered=_now(),
                status=answer.status,
                elapsed_ms=elapsed,
            )
        attempts.append(attempt)
    return tuple(attempts)


class SipTransport:
    """Carries one request to the system under test as a SIP request; returns its final response."""

    def __init__(self, options: TransportOptions | None = None) -> None:
        self.options = options or TransportOptions()
        self._sequence = 0

    def build(self, request: Request) -> tuple[SipTarget, SipMessage]:
        """The target and the SIP request for a harness ``Request`` (ConfigurationError for a bad URI)."""
        try:
            target = parse_sip_uri(request.url)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        method = (request.method or "MESSAGE").upper()
        uri = request.url.strip().strip("<>")
        self._sequence += 1
        given = [(name, value) for name, value in (*self.options.headers, *request.headers)]
        names = {name.lower() for name, _ in given}
        headers = [
            ("Max-Forwards", "70"),
            ("From", f"<{FROM_URI}>;tag={new_tag()}"),
            ("To", f"<{uri}>"),
            ("Call-ID", f"{uuid.uuid4()}@127.0.0.1"),
            ("CSeq", f"{self._sequence} {method}"),
        ]
        headers = [(name, value) for name, value in headers if name.lower() not in names]
        if method == "MESSAGE" and "accept-contact" not in names:
            headers.append(("Accept-Contact", ACCEPT_CONTACT))
        return target, SipMessage.request(method, uri, headers + given, request.body)

    async def send(self, request: Request) -> Response:
        target, message = self.build(request)
        started = time.perf_counter()
        where = f"{target.transport}:{target.host}:{target.port}"
        sent: list[SipMessage] = []
        at = _now()
        try:
            answer = await exchange(target, message, self.options.timeout_s, sent)
        except (OSError, TimeoutError, SipSyntaxError) as exc:
            error = _error(exc, where, self.options.timeout_s)
            error.attempts = _attempts(sent, at, None, started, str(error))
            raise error from exc
        elapsed = (time.perf_counter() - started) * 1000
        assert answer.status is not None
        attempts = _attempts(sent, at, answer, started, "")
        return Response(answer.status, answer.reason, answer.headers, answer.body, elapsed, request.url, attempts)

    async def probe(self, base_url: str) -> None:
        """Raise TargetUnreachable unless something answers an OPTIONS at ``base_url`` (a SIP URI)."""
        try:
            await self.send(Request("OPTIONS", base_url))
        except BadAnswer as exc:
            raise TargetUnreachable(str(exc)) from exc

    async def close(self) -> None:
        return None
