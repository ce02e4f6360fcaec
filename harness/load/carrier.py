"""How a load user carries one exchange: a gevent socket per user, kept alive, read by the harness's HTTP/1.1
reader (:mod:`harness.protocols.http1`, shared with the HTTP adapter).

Under Locust's ``FastHttpUser`` is geventhttpclient; a load user used it directly at first (without
``FastHttpSession``'s cookie jar, URL joining and response wrapper). Its request and response objects still
cost more client CPU per exchange than the checks could spare (measured, docs/measurements.md), so a user now
writes the request's bytes itself and feeds what it reads to the same reader the HTTP adapter uses: the same
framing, the same bounds (status line and headers 64 KiB, body ``max_response_bytes``, declared or streamed),
compressed bodies expanded only up to that bound, redirects never followed, an https target verified (the
system's CAs or ``--ca-bundle``; a client certificate for mutual TLS), and the extra headers (credentials) on
every request without ever being written anywhere. A request on a kept-alive connection the server had dropped
goes again, once, on a fresh one.

Only ever used in a Locust process: its sockets are gevent's once Locust has patched the standard library.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from urllib.parse import urlsplit

import harness
from harness.model import BadAnswer, TransportError
from harness.protocols.http1 import (
    Answer,
    ResponseReader,
    Target,
    connect_failure,
    parse_target,
    request_bytes,
    timeout_failure,
)
from harness.transport import Request, Response, TransportOptions, decoded_body, tls_context, with_headers

__all__ = ["Carrier"]

_READ_BLOCK = 64 * 1024


class Carrier:
    """One connection to ``target``'s origin (reopened when the server closes it)."""

    def __init__(self, target: str, options: TransportOptions) -> None:
        parts = urlsplit(target)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self._target = parse_target(target)
        self._extra = options.headers
        self._limit = options.max_response_bytes
        self._timeout = options.timeout_s
        self._tls = tls_context(options) if self._target.tls else None  # made here, after gevent patched ssl
        self._agent = f"netcode-harness/{harness.__version__}"
        self._sock: socket.socket | None = None
        self._uses = 0  # exchanges begun on the current connection

    def send(self, request: Request) -> Response:
        """The answer to ``request``; :class:`TransportError` when none came, :class:`BadAnswer` when it is
        unreadable or over the bound."""
        target = self._on_target(request.url)
        headers = with_headers(request.headers, self._extra)
        data = request_bytes(request.method, target, headers, request.body, self._agent)
        started = time.perf_counter()
        deadline = time.monotonic() + self._timeout
        answer = self._exchange(data, request.method == "HEAD", deadline)
        body = decoded_body(answer.headers, answer.body, self._limit)
        return Response(
            answer.status, answer.reason, answer.headers, body, (time.perf_counter() - started) * 1000, request.url
        )

    def _on_target(self, url: str) -> Target:
        if not (url.startswith(self.origin) and url[len(self.origin) : len(self.origin) + 1] in ("/", "")):
            raise TransportError(f"{url} is not on the load target {self.origin}")
        return parse_target(url)

    def _exchange(self, data: bytes, head_only: bool, deadline: float) -> Answer:
        for attempt in (1, 2):
            sock = self._sock or self._connect(deadline)
            self._uses += 1
            reused = self._uses > 1
            reader = ResponseReader(self._target.origin, self._limit, head_only)
            try:
                answer = self._carry(sock, data, reader, deadline)
            except BadAnswer:
                self.close()
                if reader.silent and reused and attempt == 1:
                    continue  # the server had dropped the kept-alive connection: once more, on a fresh one
                raise
            except BaseException:
                self.close()
                raise
            if not reader.reusable:
                self.close()
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    def _carry(self, sock: socket.socket, data: bytes, reader: ResponseReader, deadline: float) -> Answer:
        try:
            if sock.gettimeout() != self._timeout:  # shortened at the end of an earlier exchange
                sock.settimeout(self._timeout)
            sock.sendall(data)  # each wait on the socket is bounded by the exchange's timeout
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                if remaining < self._timeout:  # the last stretch: no wait may pass the exchange's deadline
                    sock.settimeout(remaining)
                chunk = sock.recv(_READ_BLOCK)
                if not chunk:
                    return reader.end(None)
                answer = reader.feed(chunk)
                if answer is not None:
                    return answer
        except TimeoutError:  # socket.timeout is TimeoutError
            raise timeout_failure(self._target.origin, self._timeout) from None
        except (OSError, ssl.SSLError) as exc:
            return reader.end(exc)

    def _connect(self, deadline: float) -> socket.socket:
        target = self._target
        try:
            sock = socket.create_connection((target.host, target.port), timeout=max(0.001, deadline - time.monotonic()))
        except OSError as exc:
            raise connect_failure(exc, target.origin, TransportError) from None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(self._timeout)
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_hostname=target.host)
        except (ssl.SSLError, ssl.CertificateError, OSError) as exc:
            sock.close()
            raise connect_failure(exc, target.origin, TransportError) from None
        self._sock, self._uses = sock, 0
        return sock

    def close(self) -> None:
        if self._sock is not None:
            sock, self._sock = self._sock, None
            with contextlib.suppress(OSError):
                sock.close()
