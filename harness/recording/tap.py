"""A run's own traffic recorded: a transport that hands every exchange it carries to a :class:`HarWriter`.

What the proxy does between two real systems, done inside the harness: wrapped around the transport of a run
(``RunSession.with_target(url, transport=RecordingTransport(...))``), it records every sending as it crossed
the wire (the transport's own record of each attempt: every header it added, the body's bytes), test-hook
calls included, so a recording of a run can be replayed (``harness replay``) or made into a suite.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urlsplit

from harness.recording.exchange import RecordedExchange, rfc3339
from harness.transport import Attempt, Request, Response, Transport

__all__ = ["RecordingTransport", "Sink", "exchange_of"]


class Sink(Protocol):
    """Where recorded exchanges go: a :class:`HarWriter`, or anything with its ``add``."""

    def add(self, exchange: RecordedExchange) -> bool: ...


def _start(line: str) -> tuple[str, str, str]:
    """(first, middle, last) of a start line: ``POST /x HTTP/1.1`` or ``HTTP/1.1 202 Accepted``."""
    first, _, rest = line.partition(" ")
    middle, _, last = rest.partition(" ")
    return first, middle, last


def exchange_of(request: Request, response: Response, attempt: Attempt | None) -> RecordedExchange:
    """One exchange as it crossed the wire: from the transport's record of the attempt when it kept one, else
    from the request and the answer themselves."""
    parts = urlsplit(request.url)
    origin = f"{parts.scheme}://{parts.netloc}"
    if attempt is not None and attempt.answer_line:
        method, target, version = _start(attempt.start_line)
        answer_version, status, reason = _start(attempt.answer_line)
        return RecordedExchange(
            started=attempt.sent,
            origin=origin,
            method=method,
            target=target,
            http_version=version or "HTTP/1.1",
            request_headers=attempt.headers,
            request_body=attempt.body,
            answer_status=int(status) if status.isdigit() else (attempt.status or 0),
            answer_reason=reason,
            answer_http_version=answer_version,
            answer_headers=attempt.answer_headers,
            answer_body=attempt.answer_body,
            elapsed_ms=attempt.elapsed_ms,
        )
    target = parts._replace(scheme="", netloc="").geturl() or "/"
    return RecordedExchange(
        started=rfc3339(datetime.now(UTC)),
        origin=origin,
        method=request.method,
        target=target,
        http_version="HTTP/1.1",
        request_headers=request.headers,
        request_body=request.body,
        answer_status=response.status,
        answer_reason=response.reason,
        answer_http_version="HTTP/1.1",
        answer_headers=response.headers,
        answer_body=response.body,
        elapsed_ms=response.elapsed_ms,
    )


class RecordingTransport:
    """``inner`` with every exchange it carries (each attempt of a retried request) recorded by ``writer`` (a
    :class:`~harness.recording.har.HarWriter`)."""

    def __init__(self, inner: Transport, writer: Sink) -> None:
        self.inner = inner
        self.writer = writer

    async def send(self, request: Request) -> Response:
        response = await self.inner.send(request)
        completed: list[Attempt | None] = [attempt for attempt in response.attempts if attempt.answer_line]
        for attempt in completed or [None]:
            self.writer.add(exchange_of(request, response, attempt))
        return response

    async def probe(self, base_url: str) -> None:
        await self.inner.probe(base_url)

    async def close(self) -> None:
        await self.inner.close()
