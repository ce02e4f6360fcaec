"""HTTP/1.1 on asyncio, parsed by llhttp (``httptools``): the client the HTTP adapter carries exchanges on.

aiohttp's ``ClientSession`` builds, for every request, a ``ClientRequest``, URL objects, header
multidicts, timers, trace hooks and cookie handling: about 120 µs of client CPU per exchange that
is none of the harness's work (measured in ``docs/measurements.md``). This client does what one
conformance exchange needs and no more: one request written whole, one answer read whole, on
keep-alive connections per origin, at most ``limit`` exchanges at a time.

The request's bytes and the reading of the answer (framing, bounds, every way an answer can break as
:class:`BadAnswer`) are :mod:`harness.protocols.http1`'s, shared with the load users' carrier; this module
adds the connections. Bytes nobody asked for close a connection. Deadlines are the caller's
(``asyncio.timeout``); a cancelled exchange closes its connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ssl
import time
from typing import Any

from harness.model import BadAnswer
from harness.protocols.http1 import (
    Answer,
    ResponseReader,
    Target,
    connect_failure,
    encode_request,
    parse_target,
    request_head,
    tls_reason,
)
from harness.transport import Attempt

__all__ = ["IDEMPOTENT", "Answer", "Client", "now_rfc3339", "tls_reason"]

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
"""The methods RFC 9110 (9.2.2) calls idempotent: the only ones sent again unasked (RFC 9112, 9.3.1)."""


FRESH_S = 1.0
"""How long a connection may have been idle to carry a non-idempotent request (servers' idle timeouts are
seconds at the least: uvicorn 5 s, aiohttp and nginx 75 s)."""


def now_rfc3339() -> str:
    """The time now, RFC 3339 UTC with milliseconds (as the evidence records times)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one exchange on it at a time (framing and bounds: :class:`ResponseReader`)."""

    def __init__(self, origin: str, body_limit: int) -> None:
        self.origin = origin
        self.body_limit = body_limit
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reader: ResponseReader | None = None
        self.answer: asyncio.Future[Answer] | None = None
        self.exchanges = 0  # begun on this connection
        self.idle_since = 0.0  # time.monotonic() when it went back to the pool
        self._writable: asyncio.Future[None] | None = None

    @property
    def reusable(self) -> bool:
        return self.reader is not None and self.reader.reusable and not self.closed

    @property
    def silent(self) -> bool:
        return self.reader is not None and self.reader.silent

    async def exchange(self, data: bytes, head_only: bool) -> Answer:
        assert self.transport is not None
        self.answer = asyncio.get_running_loop().create_future()
        self.reader = ResponseReader(self.origin, self.body_limit, head_only)
        self.exchanges += 1
        self.transport.write(data)
        if self._writable is not None:
            await self._writable
        return await self.answer

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            with contextlib.suppress(RuntimeError):  # its event loop has already closed
                self.transport.abort()

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        answer, reader = self.answer, self.reader
        if answer is None or reader is None or answer.done():
            self.close()  # bytes nobody asked for: this connection is not trusted with another exchange
            return
        try:
            complete = reader.feed(data)
        except BadAnswer as exc:
            answer.set_exception(exc)
            self.close()
            return
        if complete is not None:
            answer.set_result(complete)

    def eof_received(self) -> bool:
        self._ended(None)
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._ended(exc)
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)  # the answer's future carries what went wrong

    def pause_writing(self) -> None:
        self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    def _ended(self, exc: Exception | None) -> None:
        answer, reader = self.answer, self.reader
        if answer is None or reader is None or answer.done():
            return
        try:
            answer.set_result(reader.end(exc))
        except BadAnswer as error:
            answer.set_exception(error)


class Client:
    """Keep-alive connections per origin; ``limit`` exchanges at a time over all of them."""

    def __init__(
        self, tls: ssl.SSLContext | None, limit: int, body_limit: int, user_agent: str = "netcode-harness"
    ) -> None:
        self.tls = tls
        self.limit = max(1, limit)
        self.body_limit = body_limit
        self.user_agent = user_agent
        self._idle: dict[tuple[bool, str, int], list[_Connection]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None

    def _bind(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if loop is not self._loop or self._slots is None:  # connections belong to the loop that made them
            self.close()
            self._loop, self._slots = loop, asyncio.Semaphore(self.limit)
        return self._slots

    async def exchange(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes, record: list[Attempt] | None = None
    ) -> Answer:
        """Send the request, read its answer. Each sending is appended to ``record`` as it goes out and
        completed when its answer (or its failure) comes, so a caller whose deadline cut the exchange short
        still holds what was sent.

        A kept-alive connection the peer had dropped (its idle timeout) takes the request and ends without
        a byte: an idempotent request then goes again, once, on a fresh connection; any other (a POST) is
        never sent a second time, since the peer may have acted on it (RFC 9112, 9.3.1)."""
        target = parse_target(url)
        start_line, sent_headers = request_head(method, target, headers, body, self.user_agent)
        data = encode_request(start_line, sent_headers, body)
        key = (target.tls, target.host, target.port)
        attempts: list[Attempt] = [] if record is None else record
        number = 0
        async with self._bind():
            while True:
                connection = self._kept(key, method in IDEMPOTENT) or await self._connect(target)
                number += 1
                began = time.perf_counter()
                attempts.append(Attempt(number, start_line, tuple(sent_headers), body, now_rfc3339()))
                try:
                    answer = await connection.exchange(data, method == "HEAD")
                except BadAnswer as exc:
                    connection.close()
                    attempts[-1] = _failed(attempts[-1], began, str(exc))
                    if connection.silent and connection.exchanges > 1 and number == 1 and method in IDEMPOTENT:
                        continue
                    raise
                except BaseException:
                    connection.close()
                    raise
                if connection.reusable:
                    connection.idle_since = time.monotonic()
                    self._idle.setdefault(key, []).append(connection)
                else:
                    connection.close()
                attempts[-1] = _answered(attempts[-1], began, answer)
                return answer

    def _kept(self, key: tuple[bool, str, int], idempotent: bool) -> _Connection | None:
        """An idle connection to reuse. A request that must not go twice (a POST) takes only one idle for less
        than :data:`FRESH_S`: a peer's idle timeout is then unlikely to drop it just as the request goes out."""
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            if connection.closed:
                continue
            if idempotent or time.monotonic() - connection.idle_since < FRESH_S:
                return connection
            connection.close()
        return None

    async def _connect(self, target: Target) -> _Connection:
        loop = asyncio.get_running_loop()
        tls: Any = (self.tls or ssl.create_default_context()) if target.tls else None
        try:
            _, connection = await loop.create_connection(
                lambda: _Connection(target.origin, self.body_limit),
                target.host,
                target.port,
                ssl=tls,
                server_hostname=target.host if target.tls else None,
            )
        except (ssl.SSLError, ssl.CertificateError, OSError) as exc:
            raise connect_failure(exc, target.origin) from None
        return connection

    def close(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()


def _answered(attempt: Attempt, began: float, answer: Answer) -> Attempt:
    return Attempt(
        attempt.number,
        attempt.start_line,
        attempt.headers,
        attempt.body,
        attempt.sent,
        answer.start_line,
        answer.headers,
        answer.body,
        now_rfc3339(),
        answer.status,
        (time.perf_counter() - began) * 1000,
    )


def _failed(attempt: Attempt, began: float, error: str) -> Attempt:
    elapsed = (time.perf_counter() - began) * 1000
    return Attempt(
        attempt.number, attempt.start_line, attempt.headers, attempt.body, attempt.sent, elapsed_ms=elapsed, error=error
    )
