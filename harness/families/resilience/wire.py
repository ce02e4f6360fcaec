"""The difficult client of the receiver role (``specs/resilience.md``): raw HTTP/1.1 connections the harness
opens and drives itself, so that it controls when each request is released, and how (whole, half then closed,
a few bytes a second).

The run's transport (``adapters/http``) shares keep-alive connections and caps the exchanges in flight; the
receiver scenarios need the opposite: one connection per attempt, opened first, every request written in the
same turn of the event loop. The request's bytes and the answer's framing are the transport's own
(:mod:`harness.protocols.http1`), the credentials and TLS those the operator gave the run (its
:class:`~harness.transport.TransportOptions`).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass

from harness.model import BadAnswer
from harness.protocols.http1 import ResponseReader, connect_failure, encode_request, parse_target, request_head
from harness.runner.exchanges import rfc3339_at
from harness.transport import Attempt, Request, Response, TransportOptions, tls_context, with_headers

__all__ = ["USER_AGENT", "Connection", "Exchange", "Outcome", "open_connection", "release_together"]

USER_AGENT = "netcode-harness (resilience)"
MAX_ANSWER = 16 << 20


@dataclass(slots=True, frozen=True)
class Outcome:
    """One attempt on its own connection: the answer as a transport would give it (``attempts`` holds the wire
    record, ``status`` None and ``error`` set when no complete answer came), the connection's local address,
    and when the request was released (monotonic seconds, to compare attempts of one step)."""

    response: Response | None
    attempt: Attempt
    connection: str
    released: float
    answered: float


class Connection:
    """One TCP (or TLS) connection to the target, opened before anything is written."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, origin: str) -> None:
        self.reader, self.writer, self.origin = reader, writer, origin
        local = writer.get_extra_info("sockname")
        self.name = f"{local[0]}:{local[1]}" if isinstance(local, tuple) else "?"

    def close(self) -> None:
        self.writer.close()


async def open_connection(url: str, options: TransportOptions | None, timeout_s: float) -> Connection:
    """A connection to the origin of ``url`` (TLS for https, with the run's CA bundle and client certificate)."""
    target = parse_target(url)
    context: ssl.SSLContext | None = tls_context(options or TransportOptions()) if target.tls else None
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(
                target.host, target.port, ssl=context, server_hostname=target.host if context else None
            )
    except (OSError, TimeoutError) as exc:
        raise connect_failure(exc, target.origin) from None
    return Connection(reader, writer, target.origin)


def _head(request: Request, options: TransportOptions | None) -> tuple[str, list[tuple[str, str]]]:
    target = parse_target(request.url)
    headers = with_headers(request.headers, options.headers if options else ())
    if not any(name.lower() == "accept-encoding" for name, _ in headers):
        headers.append(("Accept-Encoding", "identity"))  # the answer is compared byte for byte
    return request_head(request.method, target, headers, request.body, USER_AGENT)


class Exchange:
    """One request on one connection: written (whole, or in parts) and its answer read."""

    def __init__(self, connection: Connection, request: Request, options: TransportOptions | None) -> None:
        self.connection = connection
        self.request = request
        self.start_line, self.headers = _head(request, options)
        self.head = encode_request(self.start_line, self.headers, b"")
        self.released = 0.0
        self.released_at = ""
        self.written = b""

    def release(self, body: bytes | None = None) -> None:
        """Write the head and ``body`` (the whole body when None) without waiting: the caller releases several
        in one turn of the event loop."""
        self.released, self.released_at = time.monotonic(), rfc3339_at(time.time())
        self.written = self.request.body if body is None else body
        self.connection.writer.write(self.head + self.written)

    def attempt(
        self,
        status: int | None = None,
        answer: tuple[str, tuple[tuple[str, str], ...], bytes] | None = None,
        error: str = "",
    ) -> Attempt:
        line, headers, body = answer or ("", (), b"")
        elapsed = (time.monotonic() - self.released) * 1000
        answered = rfc3339_at(time.time()) if answer else ""
        return Attempt(
            1,
            self.start_line,
            tuple(self.headers),
            self.written,
            self.released_at,
            line,
            headers,
            body,
            answered,
            status,
            elapsed,
            error,
        )

    async def answer(self, timeout_s: float) -> Outcome:
        """Read the answer (bounded in size and time); an attempt without a complete answer says why."""
        reader = ResponseReader(self.connection.origin, MAX_ANSWER)
        try:
            await self.connection.writer.drain()
            async with asyncio.timeout(timeout_s):
                while True:
                    data = await self.connection.reader.read(64 * 1024)
                    got = reader.feed(data) if data else reader.end()
                    if got is not None:
                        break
        except (TimeoutError, OSError, BadAnswer) as exc:
            reason = f"no answer within {timeout_s:g} s" if isinstance(exc, TimeoutError) else str(exc) or "closed"
            if isinstance(exc, OSError) and not str(exc):
                reason = type(exc).__name__
            return Outcome(None, self.attempt(error=reason), self.connection.name, self.released, time.monotonic())
        finally:
            self.connection.close()
        answered = time.monotonic()
        record = self.attempt(got.status, (got.start_line, got.headers, got.body))
        response = Response(
            got.status, got.reason, got.headers, got.body, record.elapsed_ms, self.request.url, (record,)
        )
        return Outcome(response, record, self.connection.name, self.released, answered)


async def release_together(
    requests: Sequence[Request], options: TransportOptions | None, timeout_s: float
) -> list[Outcome]:
    """Each request on a connection of its own: every connection opened first, then every request written in
    one turn of the event loop (no ``await`` between the writes), then every answer read. The attempts are
    concurrent by construction: each is on the wire before any answer is read."""
    opened = await asyncio.gather(
        *(open_connection(r.url, options, timeout_s) for r in requests), return_exceptions=True
    )
    connections = [c for c in opened if isinstance(c, Connection)]
    if len(connections) < len(opened):
        for connection in connections:
            connection.close()
        raise next(e for e in opened if isinstance(e, BaseException))
    exchanges = [Exchange(c, r, options) for c, r in zip(connections, requests, strict=True)]
    for exchange in exchanges:
        exchange.release()
    return list(await asyncio.gather(*(exchange.answer(timeout_s) for exchange in exchanges)))
