"""The HTTP adapter: aiohttp client, bounded reads, no redirects followed, errors in the harness's own types."""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import aiohttp

from harness.model import TargetUnreachable, TransportError
from harness.transport import Request, Response, TransportOptions

__all__ = ["HttpTransport"]


@contextlib.contextmanager
def _translated(url: str, timeout_s: float) -> Iterator[None]:
    """Map aiohttp's and the OS's failures to the harness's error types, most specific first."""
    try:
        yield
    except aiohttp.ClientConnectorError as exc:
        raise TargetUnreachable(f"cannot connect to {_origin(url)}: {exc.os_error.strerror or exc}") from exc
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
        raise TransportError(f"no complete answer from {_origin(url)} within {timeout_s:g} s") from exc
    except aiohttp.ServerDisconnectedError as exc:
        raise TransportError(f"{_origin(url)} closed the connection before answering") from exc
    except aiohttp.ClientPayloadError as exc:
        raise TransportError(f"broken response body from {_origin(url)}: {exc}") from exc
    except aiohttp.ClientResponseError as exc:
        raise TransportError(f"malformed response from {_origin(url)}: {exc.message}") from exc
    except aiohttp.ClientError as exc:
        raise TransportError(f"HTTP failure talking to {_origin(url)}: {exc}") from exc
    except OSError as exc:
        raise TransportError(f"network error talking to {_origin(url)}: {exc.strerror or exc}") from exc


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


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

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=max(1, self.options.concurrency), force_close=False)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.options.timeout_s),
                auto_decompress=False,
                skip_auto_headers=("Content-Type",),
            )
        return self._session

    async def send(self, request: Request) -> Response:
        session = self._client()
        started = time.perf_counter()
        with _translated(request.url, self.options.timeout_s):
            async with session.request(
                request.method,
                request.url,
                headers=list(request.headers),
                data=_payload(request),
                allow_redirects=False,
            ) as answer:
                body = await self._read_bounded(answer)
                return Response(
                    status=answer.status,
                    reason=answer.reason or "",
                    headers=tuple((k, v) for k, v in answer.headers.items()),
                    body=body,
                    elapsed_ms=(time.perf_counter() - started) * 1000,
                    url=request.url,
                )

    async def _read_bounded(self, answer: aiohttp.ClientResponse) -> bytes:
        limit = self.options.max_response_bytes
        if answer.content_length is not None and answer.content_length > limit:
            raise TransportError(f"response body of {answer.content_length} bytes is over the {limit}-byte limit")
        chunks: list[bytes] = []
        size = 0
        async for chunk in answer.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise TransportError(f"response body passed the {limit}-byte limit")
            chunks.append(chunk)
        return b"".join(chunks)

    async def probe(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), self.options.timeout_s)
        except (TimeoutError, OSError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise TargetUnreachable(f"cannot connect to {_origin(base_url)}: {reason}") from None
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
