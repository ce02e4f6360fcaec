"""The HTTP adapter: HTTP/1.1 on keep-alive connections, bounded reads, no redirects followed, errors in the
harness's own types.

What the system under test answers is never trusted: bodies are read up to a
limit (also after decompression), the whole exchange has one deadline, and a
malformed, cut-off or oversize answer becomes :class:`BadAnswer` (a failed
check) while a refused connection is :class:`TargetUnreachable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ssl
import time
from urllib.parse import urlsplit

import harness
from adapters.http.wire import Client
from harness.model import TransportError
from harness.protocols.http1 import connect_failure, timeout_failure
from harness.transport import Attempt, Request, Response, TransportOptions, decoded_body, tls_context, with_headers

__all__ = ["HttpTransport", "tls_context"]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _unanswered(record: list[Attempt], error: str) -> tuple[Attempt, ...]:
    """The attempts of a failed exchange, the last one (cut short by ``error``) saying so."""
    if record and record[-1].status is None and not record[-1].error:
        record[-1] = dataclasses.replace(record[-1], error=error)
    return tuple(record)


def _one_line(text: object) -> str:
    """Library messages may span lines (a parser may quote the bad bytes); a verdict's message is one line."""
    return " ".join(str(text).split())


class HttpTransport:
    """HTTP/1.1 to the system under test; keep-alive connections per run (:mod:`adapters.http.wire`)."""

    def __init__(self, options: TransportOptions) -> None:
        self.options = options
        self._wire: Client | None = None

    def _client(self) -> Client:
        if self._wire is None:
            self._wire = Client(
                tls_context(self.options),
                self.options.concurrency,
                self.options.max_response_bytes,
                user_agent=f"netcode-harness/{harness.__version__}",
            )
        return self._wire

    async def send(self, request: Request) -> Response:
        """The answer to ``request``; its ``attempts`` are the bytes that crossed the wire, one per sending. A
        failure (:class:`TransportError`) carries the attempts made before it, so none goes unrecorded."""
        client = self._client()
        started = time.perf_counter()
        headers = with_headers(request.headers, self.options.headers)
        record: list[Attempt] = []
        try:
            # One deadline for the whole exchange: a body that trickles in counts against it too.
            async with asyncio.timeout(self.options.timeout_s):
                answer = await client.exchange(request.method, request.url, headers, request.body, record)
        except TimeoutError:
            error = timeout_failure(_origin(request.url), self.options.timeout_s)
            error.attempts = _unanswered(record, str(error))
            raise error from None
        except TransportError as exc:
            exc.args = (_one_line(exc),)
            exc.attempts = _unanswered(record, str(exc))
            raise
        return Response(
            status=answer.status,
            reason=answer.reason,
            headers=answer.headers,
            body=decoded_body(answer.headers, answer.body, self.options.max_response_bytes),
            elapsed_ms=(time.perf_counter() - started) * 1000,
            url=request.url,
            attempts=tuple(record),
        )

    async def probe(self, base_url: str) -> None:
        """Connect (and for https, complete the TLS handshake) or raise TargetUnreachable."""
        parts = urlsplit(base_url)
        host = parts.hostname or ""
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        context = tls_context(self.options) if tls else None
        try:
            async with asyncio.timeout(self.options.timeout_s):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=context, server_hostname=host if tls else None
                )
                if tls:
                    # TLS 1.3 servers judge the client certificate after the handshake: one
                    # request shows whether the server accepts this client at all.
                    writer.write(f"HEAD / HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n".encode())
                    await writer.drain()
                    if not await reader.readline():
                        raise ConnectionResetError("closed without answering")
        except (ssl.SSLError, ssl.CertificateError, OSError) as exc:  # TimeoutError is an OSError
            error = connect_failure(exc, _origin(base_url))
            if tls and isinstance(exc, ConnectionResetError):
                error.args = (f"{error} (the server may demand a client certificate)",)
            raise error from None
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()

    async def close(self) -> None:
        if self._wire is not None:
            self._wire.close()
            self._wire = None
