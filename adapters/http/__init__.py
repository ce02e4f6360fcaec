"""The HTTP adapter: aiohttp client, bounded reads, no redirects followed, errors in the harness's own types.

What the system under test answers is never trusted: bodies are read up to a
limit (also after decompression), the whole exchange has one deadline, and a
malformed, cut-off or oversize answer becomes :class:`BadAnswer` (a failed
check) while a refused connection is :class:`TargetUnreachable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import ssl
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import aiohttp

from harness.model import BadAnswer, TargetUnreachable, TransportError
from harness.transport import Request, Response, TransportOptions, decode_body, tls_context

__all__ = ["HttpTransport", "tls_context"]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _tls_reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not accepted: {exc.verify_message or exc.reason}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failure: {exc.reason or exc}"
    return str(exc)


def _one_line(text: object) -> str:
    """Library messages may span lines (aiohttp quotes the bad bytes); a verdict's message is one line."""
    return " ".join(str(text).split())


@contextlib.contextmanager
def _translated(url: str, timeout_s: float) -> Iterator[None]:
    """Map aiohttp's and the OS's failures to the harness's error types, most specific first."""
    try:
        with _failures(url, timeout_s):
            yield
    except TransportError as exc:
        exc.args = (_one_line(exc),)
        raise


@contextlib.contextmanager
def _failures(url: str, timeout_s: float) -> Iterator[None]:
    origin = _origin(url)
    try:
        yield
    except aiohttp.ClientConnectorCertificateError as exc:
        raise TargetUnreachable(f"{origin}: {_tls_reason(exc.certificate_error)}") from exc
    except aiohttp.ClientConnectorSSLError as exc:
        raise TargetUnreachable(f"{origin}: {_tls_reason(exc.os_error)}") from exc
    except aiohttp.ClientConnectorError as exc:
        raise TargetUnreachable(f"cannot connect to {origin}: {exc.os_error.strerror or exc}") from exc
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
        raise BadAnswer(f"no complete answer from {origin} within {timeout_s:g} s") from exc
    except aiohttp.ServerDisconnectedError as exc:
        raise BadAnswer(f"{origin} closed the connection before answering completely") from exc
    except aiohttp.ClientPayloadError as exc:
        raise BadAnswer(f"broken response body from {origin}: {str(exc).splitlines()[0]}") from exc
    except aiohttp.ClientResponseError as exc:
        raise BadAnswer(f"malformed response from {origin}: {exc.message}") from exc
    except aiohttp.ClientOSError as exc:
        raise BadAnswer(f"connection to {origin} failed mid-exchange: {exc.strerror or exc}") from exc
    except aiohttp.ClientError as exc:
        raise TransportError(f"HTTP failure talking to {origin}: {str(exc).splitlines()[0]}") from exc
    except OSError as exc:
        raise TransportError(f"network error talking to {origin}: {exc.strerror or exc}") from exc


def _payload(request: Request) -> bytes | io.BytesIO | None:
    if not request.body and request.method in ("GET", "HEAD"):
        return None
    # Large bodies go as a stream, so writing them never blocks the event loop.
    return io.BytesIO(request.body) if len(request.body) > 256 * 1024 else request.body


class HttpTransport:
    """HTTP/1.1 to the system under test; one connection pool per run."""

    def __init__(self, options: TransportOptions) -> None:
        self.options = options
        self._session: aiohttp.ClientSession | None = None
        self._tls: ssl.SSLContext | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._tls = tls_context(self.options)
            connector = aiohttp.TCPConnector(limit=max(1, self.options.concurrency), ssl=self._tls)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None),
                auto_decompress=False,
                skip_auto_headers=("Content-Type",),
                cookie_jar=aiohttp.DummyCookieJar(),  # no state carried from one exchange to the next
            )
        return self._session

    async def send(self, request: Request) -> Response:
        session = self._client()
        started = time.perf_counter()
        headers = list(request.headers) + [h for h in self.options.headers if h[0] not in dict(request.headers)]
        with _translated(request.url, self.options.timeout_s):
            # One deadline for the whole exchange: a body that trickles in counts against it too.
            async with asyncio.timeout(self.options.timeout_s):
                async with session.request(
                    request.method, request.url, headers=headers, data=_payload(request), allow_redirects=False
                ) as answer:
                    raw = await self._read_bounded(answer)
                    body = decode_body(raw, answer.headers.get("Content-Encoding", "").strip().lower(), self._limit)
                    return Response(
                        status=answer.status,
                        reason=answer.reason or "",
                        headers=tuple((k, v) for k, v in answer.headers.items()),
                        body=body,
                        elapsed_ms=(time.perf_counter() - started) * 1000,
                        url=request.url,
                    )

    @property
    def _limit(self) -> int:
        return self.options.max_response_bytes

    async def _read_bounded(self, answer: aiohttp.ClientResponse) -> bytes:
        limit = self._limit
        if answer.content_length is not None and answer.content_length > limit:
            raise BadAnswer(f"response body of {answer.content_length} bytes is over the {limit}-byte limit")
        if answer.content_length is not None and "chunked" not in answer.headers.get("Transfer-Encoding", ""):
            return await answer.read()  # bounded: the parser reads no more than the declared length
        chunks: list[bytes] = []
        size = 0
        async for chunk in answer.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise BadAnswer(f"response body passed the {limit}-byte limit")
            chunks.append(chunk)
        return b"".join(chunks)

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
        except (ssl.SSLError, ssl.CertificateError) as exc:
            raise TargetUnreachable(f"{_origin(base_url)}: {_tls_reason(exc)}") from None
        except (OSError, TimeoutError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            if tls and isinstance(exc, ConnectionResetError):
                reason += " (the server may demand a client certificate)"
            raise TargetUnreachable(f"cannot connect to {_origin(base_url)}: {reason}") from None
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
