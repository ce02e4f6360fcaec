"""One HTTP/1.1 client exchange without I/O: the request's bytes, and a reader that turns the answer's bytes into
an :class:`Answer` (parsed by llhttp through ``httptools``).

The HTTP adapter (asyncio, ``adapters/http/wire.py``) and the load users' carrier (gevent sockets,
``harness/load/carrier.py``) feed it what their sockets read, so both frame and bound an answer the same way.

Nothing the peer sends is trusted: the status line and headers are bounded (:data:`MAX_HEAD_BYTES`, also while
they are still arriving), the body is bounded (``body_limit``; a declared length over it fails before any byte
of the body is read), and every way an answer can break is :class:`BadAnswer` with one line saying how.
Framing: Content-Length, chunked (trailers ignored), or the end of the connection (then not reusable); 1xx
interim answers are skipped; a HEAD answer ends at its headers; 204 and 304 have no body. An upgrade or bytes
after the answer make the connection not reusable.
"""

from __future__ import annotations

import base64
import functools
import re
import ssl
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

import httptools

from harness.model import BadAnswer, ConfigurationError, TargetUnreachable, TransportError

__all__ = [
    "MAX_HEAD_BYTES",
    "Answer",
    "ResponseReader",
    "Target",
    "connect_failure",
    "encode_request",
    "os_reason",
    "parse_target",
    "request_bytes",
    "request_head",
    "timeout_failure",
    "tls_reason",
]

MAX_HEAD_BYTES = 64 * 1024  # status line and every header together
_SLICE = 8 * 1024  # bytes fed to the parser at a time until the head is complete
_PLAIN_TARGET = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*\Z")
_LINE_BREAK = re.compile(r"[\r\n\0]")
_NO_BODY_STATUS = (204, 304)


@dataclass(slots=True, frozen=True)
class Answer:
    """An answer as it came: status, reason, every header in order and case, the body as received (still
    compressed when it was); ``version`` the HTTP version of its status line."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    version: str = "1.1"

    @property
    def start_line(self) -> str:
        """The status line (its reason as sent; one space before an empty reason, as RFC 9112 4 writes it)."""
        return f"HTTP/{self.version} {self.status} {self.reason}"


@dataclass(slots=True, frozen=True)
class Target:
    tls: bool
    host: str  # to connect to (no brackets)
    port: int
    origin: str  # scheme://host[:port], for messages (never the userinfo)
    host_header: str  # the Host header's value
    auth: str  # "Basic ..." from the URL's userinfo, or ""
    path: str  # the request target: path and query, percent-encoded


@functools.lru_cache(maxsize=1024)  # most runs send to a few dozen URLs; fresh ids in paths make the rest new
def parse_target(url: str) -> Target:
    """What a request to ``url`` connects to and names; :class:`ConfigurationError` for a URL it cannot be."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"not an http(s) URL: {url!r}")
    tls = parts.scheme == "https"
    default = 443 if tls else 80
    try:
        port = parts.port or default
    except ValueError:
        raise ConfigurationError(f"bad port in URL {url!r}") from None
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    if port != default:
        shown += f":{port}"
    auth = ""
    if parts.username is not None:
        user_pass = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        auth = f"Basic {base64.b64encode(user_pass).decode()}"
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    if not _PLAIN_TARGET.match(path):  # spaces, non-ASCII: percent-encoded as UTF-8, existing escapes kept
        path = quote(path, safe="/:@!$&'()*+,;=-._~%?")
    origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    return Target(tls, host, port, origin, shown, auth, path)


def request_head(
    method: str, target: Target, headers: list[tuple[str, str]], body: bytes, user_agent: str
) -> tuple[str, list[tuple[str, str]]]:
    """The request's start line and every header as they will be sent: the step's headers, then what HTTP/1.1
    needs and the step did not set (Host, credentials from the URL, Accept, Accept-Encoding, User-Agent,
    Content-Length)."""
    names = {name.lower() for name, _ in headers}
    if _LINE_BREAK.search("".join(f"{name}{value}" for name, value in headers)) or not method or " " in method:
        raise ConfigurationError("a request header or method carries a line break, NUL or space")
    sent: list[tuple[str, str]] = []
    if "host" not in names:
        sent.append(("Host", target.host_header))
    if target.auth and "authorization" not in names:
        sent.append(("Authorization", target.auth))
    sent.extend(headers)
    if "accept" not in names:
        sent.append(("Accept", "*/*"))
    if "accept-encoding" not in names:
        sent.append(("Accept-Encoding", "gzip, deflate"))  # what the harness decodes itself, bounded
    if "user-agent" not in names:
        sent.append(("User-Agent", user_agent))
    if (body or method not in ("GET", "HEAD")) and "content-length" not in names:
        sent.append(("Content-Length", str(len(body))))
    return f"{method} {target.path} HTTP/1.1", sent


def encode_request(start_line: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    """The bytes of a request whose head :func:`request_head` made."""
    lines = [start_line, "\r\n"]
    for name, value in headers:
        lines += (name, ": ", value, "\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("utf-8") + body


def request_bytes(method: str, target: Target, headers: list[tuple[str, str]], body: bytes, user_agent: str) -> bytes:
    """The request as sent (:func:`request_head`, encoded)."""
    start_line, sent = request_head(method, target, headers, body, user_agent)
    return encode_request(start_line, sent, body)


def os_reason(exc: BaseException) -> str:
    """An OS error's own words (``strerror``), else its text, else its type."""
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def connect_failure(exc: BaseException, origin: str, error: type[TransportError] = TargetUnreachable) -> TransportError:
    """The one mapping of a failure to connect (TCP, then TLS) to the harness's errors, for the adapter and the
    load users alike: the TLS reason named, an OS error in its own words, one line. ``error`` is the class
    (the adapter: :class:`TargetUnreachable`; a load user counts a plain :class:`TransportError`)."""
    if isinstance(exc, (ssl.SSLError, ssl.CertificateError)):
        return error(f"{origin}: {tls_reason(exc)}")
    return error(f"cannot connect to {origin}: {os_reason(exc)}")


def timeout_failure(origin: str, limit_s: float) -> BadAnswer:
    """No complete answer within the exchange's deadline: the SUT's failure (a failed check)."""
    return BadAnswer(f"no complete answer from {origin} within {limit_s:g} s")


def tls_reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not accepted: {exc.verify_message or exc.reason}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failure: {exc.reason or exc}"
    return str(exc)


class ResponseReader:
    """The answer to one request, from the bytes read after it was sent.

    :meth:`feed` gives the :class:`Answer` once it is complete (else None); :meth:`end` is called when the
    connection ends first. Both raise :class:`BadAnswer` for an answer that breaks HTTP or a bound.
    Afterwards ``reusable`` says whether the connection may carry another exchange, and ``silent`` whether
    it ended before a single byte of an answer (a kept-alive connection the peer had dropped).
    """

    __slots__ = (
        "_error",
        "_extra",
        "_parser",
        "answer",
        "body_limit",
        "chunks",
        "framed",
        "head_bytes",
        "head_done",
        "head_only",
        "head_size",
        "headers",
        "origin",
        "reason",
        "reusable",
        "silent",
        "size",
    )

    def __init__(self, origin: str, body_limit: int, head_only: bool = False) -> None:
        self.origin = origin
        self.body_limit = body_limit
        self.head_only = head_only  # an answer to HEAD: headers, never a body
        self.answer: Answer | None = None
        self.reusable = False
        self.silent = False
        self._extra = False
        self._error: BadAnswer | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._reset()

    def _reset(self) -> None:
        self.reason = b""
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []
        self.size = 0
        self.head_bytes = 0  # bytes fed before the head was complete
        self.head_size = 0  # bytes of status text and headers
        self.head_done = False
        self.framed = False  # Content-Length or chunked: the body's end is known without the connection's

    def feed(self, data: bytes) -> Answer | None:
        if self.answer is not None:
            self.reusable = False  # bytes after the answer: the connection is not trusted with another exchange
            return self.answer
        try:
            while data and not self.head_done:
                piece, data = data[:_SLICE], data[_SLICE:]
                self.head_bytes += len(piece)
                self._parser.feed_data(piece)
                if not self.head_done and self.head_bytes > MAX_HEAD_BYTES:
                    raise BadAnswer(f"status line and headers from {self.origin} exceed {MAX_HEAD_BYTES} bytes")
            if data and self.answer is None:
                self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(BadAnswer(f"{self.origin} switched protocols unasked"))
        except httptools.HttpParserCallbackError:
            if not self._extra:
                self._fail(self._error or BadAnswer(f"malformed response from {self.origin}"))
        except httptools.HttpParserError as exc:
            self._fail(BadAnswer(f"malformed response from {self.origin}: {exc}"))
        if self._extra:
            self.reusable = False
        return self.answer

    def end(self, exc: BaseException | None = None) -> Answer:
        """The connection ended (``exc``: how, if not by the peer closing it): the answer, if its body ran to
        the end of the connection, else :class:`BadAnswer`."""
        if self.answer is not None:
            self.reusable = False
            return self.answer
        if self.head_bytes == 0 and (exc is None or isinstance(exc, (ConnectionResetError, BrokenPipeError))):
            self.silent = True
        status = self._parser.get_status_code() if self.head_done else 0
        if status >= 200 and not self.framed and status not in _NO_BODY_STATUS and exc is None:
            return self._complete(reusable=False)
        if isinstance(exc, ssl.SSLError):
            self._fail(BadAnswer(f"{self.origin}: {tls_reason(exc)}"))
        if isinstance(exc, OSError):
            self._fail(BadAnswer(f"connection to {self.origin} failed mid-exchange: {os_reason(exc)}"))
        self._fail(BadAnswer(f"{self.origin} closed the connection before answering completely"))
        raise AssertionError("unreachable")  # pragma: no cover

    # -- llhttp callbacks ----------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.answer is not None:  # a second answer to one request
            self._extra = True
            raise BadAnswer("an answer nobody asked for")

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
        if self._parser.get_status_code() < 200:
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
        if self._parser.get_status_code() < 200:  # 1xx: interim, the answer follows
            self._reset()
        elif self.answer is None:
            self._complete(reusable=self._parser.should_keep_alive())

    # -- outcomes ------------------------------------------------------------------------------

    def _stop(self, message: str) -> None:
        self._error = BadAnswer(message)
        raise self._error

    def _complete(self, reusable: bool) -> Answer:
        self.reusable = reusable
        self.answer = Answer(
            self._parser.get_status_code(),
            self.reason.decode("utf-8", "surrogateescape"),
            tuple(self.headers),
            b"".join(self.chunks),
            self._parser.get_http_version(),
        )
        self.chunks = []
        return self.answer

    def _fail(self, error: BadAnswer) -> None:
        self._error, self.chunks = None, []  # a failed answer's body is dropped now, not when a cycle is collected
        self.reusable = False
        raise error.with_traceback(None)
