"""The forwarding: a passive, byte-exact HTTP/1.1 proxy at the level of asyncio protocols.

Each client connection gets its own upstream connection (so keep-alive on one side is keep-alive on the other,
and pipelined requests stay in order). Every chunk read from one side is written to the other side first, as it
came, and only then shown to that direction's :class:`~harness.proxy.wire.MessageCutter`; when a request and its
answer are both complete, the pair (a :class:`~harness.recording.exchange.RecordedExchange`) is handed to
``on_exchange``, which must return at once (the checker queues it). Flow control is passed through: a side whose
write buffer fills pauses reading on the other side, so memory stays bounded whatever the peers do.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from harness.protocols.http1 import Target, os_reason, tls_reason
from harness.proxy.wire import UPGRADED, MessageCutter, SeenMessage
from harness.recording.exchange import RecordedExchange, rfc3339

__all__ = [
    "MAX_PENDING",
    "MAX_PENDING_BYTES",
    "ProxyCounters",
    "ProxyServer",
    "RawExchange",
    "exchange_of",
    "probe_upstream",
]

MAX_PENDING = 256
"""Requests of one connection waiting for their answers that the proxy keeps; past it, it stops watching."""
MAX_PENDING_BYTES = 4 << 20
"""Bodies of several requests waiting for their answers, kept at most per connection (one may hold 1 MiB)."""

RawExchange = tuple[
    float,
    str,
    str,
    str,
    str,
    tuple[tuple[str, str], ...],
    bytes,
    int,
    str,
    str,
    tuple[tuple[str, str], ...],
    bytes,
    float,
    int,
    int,
    bool,
]
"""The fields of a :class:`RecordedExchange` in order, with ``started`` as ``time.time()``: what the forwarding
hands over when the exchange is checked in another process (plain values pickle several times faster, and the
date and the dataclass are made there, off the forwarding; :func:`exchange_of` makes the exchange)."""


@dataclass(slots=True)
class ProxyCounters:
    """What the forwarding counted (mutated on the event loop only)."""

    connections: int = 0
    upstream_failures: int = 0
    unwatched: int = 0
    """Connections whose framing the proxy could not follow (forwarded all the same, not checked)."""
    bytes_up: int = 0
    bytes_down: int = 0


async def probe_upstream(upstream: Target, context: ssl.SSLContext | None, timeout_s: float = 10.0) -> str | None:
    """None when a connection (and TLS handshake) to ``upstream`` succeeds, else why not, in one line."""
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(
                upstream.host, upstream.port, ssl=context, server_hostname=upstream.host if context else None
            ),
            timeout_s,
        )
    except TimeoutError:
        return f"{upstream.origin}: no connection within {timeout_s:g} s"
    except ssl.SSLError as exc:
        return f"{upstream.origin}: TLS failed: {tls_reason(exc)}"
    except OSError as exc:
        return f"{upstream.origin}: {os_reason(exc)}"
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()
    return None


class ProxyServer:
    """Listens where told and forwards every connection to ``upstream``."""

    def __init__(
        self,
        upstream: Target,
        on_exchange: Callable[[RecordedExchange], None],
        *,
        upstream_tls: ssl.SSLContext | None = None,
        listen_tls: ssl.SSLContext | None = None,
        body_limit: int = 1 << 20,
        on_problem: Callable[[str], None] | None = None,
        on_unframed: Callable[[str, str], None] | None = None,
        on_raw: Callable[[RawExchange], None] | None = None,
    ) -> None:
        """``on_raw``, when given, is called instead of ``on_exchange`` with the exchange's plain fields."""
        self.upstream = upstream
        self.on_exchange = on_exchange
        self.on_raw = on_raw
        self.upstream_tls = upstream_tls
        self.listen_tls = listen_tls
        self.body_limit = body_limit
        self.on_problem = on_problem or (lambda text: None)
        self.on_unframed = on_unframed or (lambda side, reason: None)
        """Called with ("request" or "answer", why) when a connection's bytes cannot be framed as HTTP/1.1."""
        self.counters = ProxyCounters()
        self._server: asyncio.Server | None = None
        self._open: set[_ClientSide] = set()

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Bind ``host:port`` (port 0: any free one) and return the address bound."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _ClientSide(self), host, port, ssl=self.listen_tls)
        bound = self._server.sockets[0].getsockname()
        return str(bound[0]), int(bound[1])

    async def close(self) -> None:
        """Stop listening and close every connection (an exchange still in flight is not handed over)."""
        if self._server is not None:
            self._server.close()
        for side in list(self._open):
            side.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)


class _ClientSide(asyncio.Protocol):
    """One client connection and, through :class:`_UpstreamSide`, its upstream connection."""

    def __init__(self, proxy: ProxyServer) -> None:
        self.proxy = proxy
        self.client: asyncio.Transport | None = None
        self.upstream: asyncio.Transport | None = None
        self.early: list[bytes] = []
        self.connecting: asyncio.Task[None] | None = None
        self.pending: deque[SeenMessage] = deque()
        self.client_eof = False
        self.closed = False
        self.requests = MessageCutter(
            answers=False, on_head=self.request_head, on_message=_ignore, body_limit=proxy.body_limit
        )
        self.answers = MessageCutter(
            answers=True, on_message=self.answered, method_of=self.method, body_limit=proxy.body_limit
        )

    # -- client side ------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses of asyncio's
        self.client = transport
        self.proxy.counters.connections += 1
        self.proxy._open.add(self)
        transport.pause_reading()  # nothing is read before there is somewhere to write it
        self.connecting = asyncio.get_running_loop().create_task(self.connect())  # held: a task is weakly kept

    async def connect(self) -> None:
        proxy = self.proxy
        upstream = proxy.upstream
        context = proxy.upstream_tls
        try:
            await asyncio.get_running_loop().create_connection(
                lambda: _UpstreamSide(self),
                upstream.host,
                upstream.port,
                ssl=context,
                server_hostname=upstream.host if context else None,
            )
        except (OSError, ssl.SSLError) as exc:
            proxy.counters.upstream_failures += 1
            why = tls_reason(exc) if isinstance(exc, ssl.SSLError) else os_reason(exc)
            proxy.on_problem(f"upstream {upstream.origin} unreachable ({why}): client connection closed")
            self.close()

    def upstream_ready(self, transport: asyncio.Transport) -> None:
        if self.closed:
            transport.close()
            return
        self.upstream = transport
        early, self.early = self.early, []
        for data in early:  # forwarded and watched like any later bytes
            self.data_received(data)
        if self.client_eof:  # the client finished before the upstream was there: pass its end on now
            self.eof_received()
        elif self.client is not None:
            self.client.resume_reading()

    def data_received(self, data: bytes) -> None:
        upstream = self.upstream
        if upstream is None:
            self.early.append(data)  # only possible before pause_reading took effect
            return
        upstream.write(data)  # first the bytes go on, unchanged; then they are watched
        self.proxy.counters.bytes_up += len(data)
        was_blind = self.requests.blind
        self.requests.feed(data)
        if len(self.pending) > 1 and sum(len(request.body) for request in self.pending) > MAX_PENDING_BYTES:
            self._stop_watching(f"more than {MAX_PENDING_BYTES >> 20} MiB of requests waiting for their answers")
        if self.requests.blind and not was_blind:
            self._unwatched("request", self.requests)

    def eof_received(self) -> bool:
        self.client_eof = True
        upstream = self.upstream
        if upstream is not None and upstream.can_write_eof():
            upstream.write_eof()
        elif upstream is not None and not self.pending:
            upstream.close()
        return True  # keep the client open for the answers still to come

    def connection_lost(self, exc: Exception | None) -> None:
        self.close()

    def pause_writing(self) -> None:  # the client reads slower than the upstream answers
        if self.upstream is not None:
            self.upstream.pause_reading()

    def resume_writing(self) -> None:
        if self.upstream is not None and not self.upstream.is_closing():
            self.upstream.resume_reading()

    # -- answers ----------------------------------------------------------------------------------------

    def answer_data(self, data: bytes) -> None:
        if self.client is not None:
            self.client.write(data)
        self.proxy.counters.bytes_down += len(data)
        was_blind = self.answers.blind
        self.answers.feed(data)
        if self.answers.blind and not was_blind:
            self._unwatched("answer", self.answers)

    def upstream_ended(self) -> None:
        if not self.closed:  # the upstream ended it (not the proxy closing after the client went away)
            was_blind = self.answers.blind
            self.answers.end()
            if self.answers.blind and not was_blind:
                self._unwatched("answer", self.answers)
        client = self.client
        if client is not None and not client.is_closing():
            if client.can_write_eof():
                client.write_eof()
            client.close()

    def request_head(self, request: SeenMessage) -> None:
        self.pending.append(request)
        if len(self.pending) > MAX_PENDING:  # a client pipelining without end: watching it would cost memory
            self._stop_watching(f"more than {MAX_PENDING} requests waiting for their answers")

    def _stop_watching(self, reason: str) -> None:
        """Forward the rest of this connection unwatched (not a fault of either side); reported after the feed."""
        self.requests.stop(reason)
        self.answers.stop("its requests are no longer watched")
        self.pending.clear()

    def method(self) -> str:
        return self.pending[0].start[0] if self.pending else "GET"

    def answered(self, answer: SeenMessage) -> None:
        status = int(answer.start[1])
        if 100 <= status < 200 and status != 101:
            return  # an interim answer: the final one is still to come
        if not self.pending:
            if not self.requests.blind:  # an answer nobody asked for: the upstream's framing is broken
                self.answers.stop(f"an answer ({answer.start[1]}) to no request", fault=True)  # reported after feed
            return
        request = self.pending.popleft()
        raw = _raw(self.proxy.upstream.origin, request, answer)
        if self.proxy.on_raw is not None:
            self.proxy.on_raw(raw)
        else:
            try:
                exchange = exchange_of(raw)
            except ValueError:
                return
            self.proxy.on_exchange(exchange)
        if self.client_eof and not self.pending and self.upstream is not None and not self.upstream.can_write_eof():
            self.upstream.close()

    def _unwatched(self, side: str, cutter: MessageCutter) -> None:
        if cutter.reason == UPGRADED:
            return
        self.proxy.counters.unwatched += 1
        self.proxy.on_problem(f"connection not watched from here on ({cutter.reason}); still forwarded unchanged")
        if cutter.fault:  # the bytes break HTTP/1.1: a finding, so unchecked traffic never passes for conforming
            self.proxy.on_unframed(side, cutter.reason)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.proxy._open.discard(self)
        for transport in (self.client, self.upstream):
            if transport is not None and not transport.is_closing():
                transport.close()


class _UpstreamSide(asyncio.Protocol):
    def __init__(self, client: _ClientSide) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses of asyncio's
        self.transport = transport
        self.client.upstream_ready(transport)

    def data_received(self, data: bytes) -> None:
        self.client.answer_data(data)

    def eof_received(self) -> bool:
        self.client.upstream_ended()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.upstream_ended()
        self.client.close()

    def pause_writing(self) -> None:  # the upstream reads slower than the client sends
        if self.client.client is not None:
            self.client.client.pause_reading()

    def resume_writing(self) -> None:
        if self.client.client is not None and not self.client.client.is_closing():
            self.client.client.resume_reading()


def _ignore(_: SeenMessage) -> None:
    """A request is complete: nothing to do (it was queued at its head; its body fills in place)."""


def _raw(origin: str, request: SeenMessage, answer: SeenMessage) -> RawExchange:
    return (
        request.began_wall,
        origin,
        request.start[0],
        request.start[1],
        request.start[2],
        request.headers,
        bytes(request.body),
        int(answer.start[1]),
        answer.start[2],
        answer.start[0],
        answer.headers,
        bytes(answer.body),
        (answer.ended - request.began) * 1000.0,
        request.dropped,
        answer.dropped,
        request.complete,
    )


def exchange_of(raw: RawExchange) -> RecordedExchange:
    """The :class:`RecordedExchange` of ``raw`` (the one place an exchange is made from what the cutters saw)."""
    return RecordedExchange(rfc3339(datetime.fromtimestamp(raw[0], UTC)), *raw[1:])
