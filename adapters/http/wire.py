"""HTTP/1.1 on asyncio, parsed by llhttp (``httptools``): the client the HTTP adapter carries exchanges on.

aiohttp's ``ClientSession`` builds, for every request, a ``ClientRequest``, URL objects, header
multidicts, timers, trace hooks and cookie handling: about 120 µs of client CPU per exchange that
is none of the harness's work (measured in ``docs/measurements.md``). This client does what one
conformance exchange needs and no more: one request written whole, one answer read whole, on
keep-alive connections per origin, at most ``limit`` exchanges at a time.

Nothing the peer sends is trusted: the status line and headers are bounded (``MAX_HEAD_BYTES``),
the body is bounded (``body_limit``, checked against a declared length before any byte of it is
read), bytes nobody asked for close the connection, and every way an answer can break becomes
:class:`BadAnswer` with one line saying how. Deadlines are the caller's (``asyncio.timeout``);
a cancelled exchange closes its connection.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httptools

from harness.model import BadAnswer, ConfigurationError, TargetUnreachable

__all__ = ["MAX_HEAD_BYTES", "Answer", "Client", "tls_reason"]

MAX_HEAD_BYTES = 64 * 1024  # status line and every header together
_SLICE = 8 * 1024  # bytes fed to the parser at a time until the head is complete
_PLAIN_TARGET = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*\Z")
_LINE_BREAK = re.compile(r"[\r\n\0]")
_NO_BODY_STATUS = (204, 304)


@dataclass(slots=True, frozen=True)
class Answer:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(slots=True, frozen=True)
class _Target:
    tls: bool
    host: str  # to connect to (no brackets)
    port: int
    origin: str  # scheme://netloc, for messages
    host_line: str  # "Host: ...\r\n"
    auth_line: str  # "Authorization: Basic ...\r\n" from the URL's userinfo, or ""
    path: str  # the request target: path and query, percent-encoded


def _parse_target(url: str) -> _Target:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"not an http(s) URL: {url!r}")
    tls = parts.scheme == "https"
    try:
        port = parts.port or (443 if tls else 80)
    except ValueError:
        raise ConfigurationError(f"bad port in URL {url!r}") from None
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    if parts.port is not None and parts.port != (443 if tls else 80):
        shown += f":{parts.port}"
    auth = ""
    if parts.username is not None:
        user_pass = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        auth = f"Authorization: Basic {base64.b64encode(user_pass).decode()}\r\n"
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    if not _PLAIN_TARGET.match(path):  # spaces, non-ASCII: percent-encoded as UTF-8, existing escapes kept
        path = quote(path, safe="/:@!$&'()*+,;=-._~%?")
    origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    return _Target(tls, host, port, origin, f"Host: {shown}\r\n", auth, path)


def tls_reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not accepted: {exc.verify_message or exc.reason}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failure: {exc.reason or exc}"
    return str(exc)


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one exchange on it at a time."""

    def __init__(self, origin: str, body_limit: int) -> None:
        self.origin = origin
        self.body_limit = body_limit
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.answer: asyncio.Future[Answer] | None = None
        self.head_only = False  # answer to HEAD: headers, never a body
        self.reusable = False
        self.exchanges = 0  # begun on this connection
        self.silent = False  # the last exchange ended with the connection, before any byte of an answer
        self._writable: asyncio.Future[None] | None = None
        self._error: BadAnswer | None = None
        self._reset()

    def _reset(self) -> None:
        self.reason = b""
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []
        self.size = 0
        self.head_bytes = 0  # bytes fed before the head was complete
        self.head_size = 0  # bytes of status text and headers
        self.head_done = False
        self.framed = False  # Content-Length or chunked: the body's end is known without EOF

    # -- one exchange --------------------------------------------------------------------------

    async def exchange(self, data: bytes, head_only: bool) -> Answer:
        assert self.transport is not None
        self.answer = asyncio.get_running_loop().create_future()
        self.head_only = head_only
        self.reusable = False
        self.exchanges += 1
        self._reset()
        self.transport.write(data)
        if self._writable is not None:
            await self._writable
        return await self.answer

    def close(self) -> None:
        self.closed = True
        self.chunks = []
        if self.transport is not None:
            with contextlib.suppress(RuntimeError):  # its event loop has already closed
                self.transport.abort()

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        answer = self.answer
        if answer is None or answer.done():
            self.close()  # bytes nobody asked for: this connection is not trusted with another exchange
            return
        try:
            while data and not self.head_done:
                piece, data = data[:_SLICE], data[_SLICE:]
                self.head_bytes += len(piece)
                self.parser.feed_data(piece)
                if not self.head_done and self.head_bytes > MAX_HEAD_BYTES:
                    raise BadAnswer(f"status line and headers from {self.origin} exceed {MAX_HEAD_BYTES} bytes")
            if data and not answer.done():
                self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(BadAnswer(f"{self.origin} switched protocols unasked"))
        except httptools.HttpParserCallbackError:
            self._fail(self._error or BadAnswer(f"malformed response from {self.origin}"))
        except httptools.HttpParserError as exc:
            self._fail(BadAnswer(f"malformed response from {self.origin}: {exc}"))
        except BadAnswer as exc:
            self._fail(exc)

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

    # -- llhttp callbacks ----------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.answer is None or self.answer.done():  # a second answer to one request
            self.reusable = False
            self._stop("an answer nobody asked for")

    def on_status(self, status: bytes) -> None:
        self.reason += status
        self.head_size += len(status)

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.head_done:  # trailers after a chunked body are not headers of the answer
            self.head_size += len(name) + len(value) + 4
            self.headers.append((name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape")))

    def on_headers_complete(self) -> None:
        self.head_done = True
        if self.head_size > MAX_HEAD_BYTES:
            self._stop(f"status line and headers from {self.origin} exceed {MAX_HEAD_BYTES} bytes")
        status = self.parser.get_status_code()
        if status < 200:
            return
        for name, value in self.headers:
            lowered = name.lower()
            if lowered == "content-length":
                self.framed = True
                if value.strip().isdigit() and int(value) > self.body_limit and not self.head_only:
                    self._stop(f"response body of {int(value)} bytes is over the {self.body_limit}-byte limit")
            elif lowered == "transfer-encoding" and "chunked" in value.lower():
                self.framed = True
        if self.head_only:  # a HEAD answer's Content-Length describes a body that is never sent
            self._complete(reusable=False)

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > self.body_limit:
            self._stop(f"response body passed the {self.body_limit}-byte limit")
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        if self.parser.get_status_code() < 200:  # 1xx: interim, the answer follows
            self._reset()
            return
        if self.answer is not None and not self.answer.done():
            self._complete(reusable=self.parser.should_keep_alive())

    # -- outcomes ------------------------------------------------------------------------------

    def _stop(self, message: str) -> None:
        self._error = BadAnswer(message)
        raise self._error

    def _complete(self, reusable: bool) -> None:
        assert self.answer is not None
        self.reusable = reusable and not self.closed
        self.answer.set_result(
            Answer(
                self.parser.get_status_code(),
                self.reason.decode("utf-8", "surrogateescape"),
                tuple(self.headers),
                b"".join(self.chunks),
            )
        )

    def _fail(self, error: BadAnswer) -> None:
        self._error, self.chunks = None, []  # a failed answer's body is dropped now, not when a cycle is collected
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(error.with_traceback(None))
        self.close()

    def _ended(self, exc: Exception | None) -> None:
        answer = self.answer
        if answer is None or answer.done():
            return
        if self.head_bytes == 0 and (exc is None or isinstance(exc, (ConnectionResetError, BrokenPipeError))):
            self.silent = True  # closed before a byte of the answer: a kept-alive connection the peer had dropped
        status = self.parser.get_status_code() if self.head_done else 0
        if status >= 200 and not self.framed and status not in _NO_BODY_STATUS and exc is None:
            self._complete(reusable=False)  # a body delimited by the end of the connection
        elif isinstance(exc, ssl.SSLError):
            answer.set_exception(BadAnswer(f"{self.origin}: {tls_reason(exc)}"))
        elif isinstance(exc, OSError):
            reason = exc.strerror or str(exc) or type(exc).__name__
            answer.set_exception(BadAnswer(f"connection to {self.origin} failed mid-exchange: {reason}"))
        else:
            answer.set_exception(BadAnswer(f"{self.origin} closed the connection before answering completely"))


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
        self._targets: dict[str, _Target] = {}

    def _bind(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if loop is not self._loop or self._slots is None:  # connections belong to the loop that made them
            self.close()
            self._loop, self._slots = loop, asyncio.Semaphore(self.limit)
        return self._slots

    def _target(self, url: str) -> _Target:
        target = self._targets.get(url)
        if target is None:
            target = _parse_target(url)
            if len(self._targets) < 1024:  # most runs send to a few dozen URLs; fresh ids make the rest new
                self._targets[url] = target
        return target

    async def exchange(self, method: str, url: str, headers: list[tuple[str, str]], body: bytes) -> Answer:
        target = self._target(url)
        data = self._serialise(method, target, headers, body)
        key = (target.tls, target.host, target.port)
        async with self._bind():
            while True:
                connection = self._kept(key) or await self._connect(target)
                try:
                    answer = await connection.exchange(data, method == "HEAD")
                except BadAnswer:
                    connection.close()
                    # A peer may drop a kept-alive connection just as a request goes out on it (its idle
                    # timeout): with not a byte answered, the request goes again, once, on a fresh connection.
                    if connection.silent and connection.exchanges > 1:
                        continue
                    raise
                except BaseException:
                    connection.close()
                    raise
                if connection.reusable and not connection.closed:
                    self._idle.setdefault(key, []).append(connection)
                else:
                    connection.close()
                return answer

    def _kept(self, key: tuple[bool, str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            if not connection.closed:
                return connection
        return None

    def _serialise(self, method: str, target: _Target, headers: list[tuple[str, str]], body: bytes) -> bytes:
        names = {name.lower() for name, _ in headers}
        lines = [f"{method} {target.path} HTTP/1.1\r\n"]
        if "host" not in names:
            lines.append(target.host_line)
        if target.auth_line and "authorization" not in names:
            lines.append(target.auth_line)
        lines.extend(f"{name}: {value}\r\n" for name, value in headers)
        if "accept" not in names:
            lines.append("Accept: */*\r\n")
        if "accept-encoding" not in names:
            lines.append("Accept-Encoding: gzip, deflate\r\n")  # what the adapter decodes itself, bounded
        if "user-agent" not in names:
            lines.append(f"User-Agent: {self.user_agent}\r\n")
        if (body or method not in ("GET", "HEAD")) and "content-length" not in names:
            lines.append(f"Content-Length: {len(body)}\r\n")
        lines.append("\r\n")
        head = "".join(lines)
        fields = "".join(f"{name}{value}" for name, value in headers)
        if _LINE_BREAK.search(fields) or " " in method or not method:
            raise ConfigurationError("a request header or method carries a line break, NUL or space")
        return head.encode("utf-8") + body

    async def _connect(self, target: _Target) -> _Connection:
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
        except (ssl.SSLError, ssl.CertificateError) as exc:
            raise TargetUnreachable(f"{target.origin}: {tls_reason(exc)}") from None
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise TargetUnreachable(f"cannot connect to {target.origin}: {reason}") from None
        return connection

    def close(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
