"""An in-memory transport: the runner's requests go to a handler in the same process, no socket.

For fast tests of the engine, the session and the reporters::

    async def sut(request: Request) -> Response: ...
    transport = MemoryTransport(sut)

A handler returns a :class:`harness.transport.Response` (``elapsed_ms`` and ``url`` are filled in)
or raises :class:`harness.model.TransportError` to stand for a transport failure.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from urllib.parse import urlsplit

from harness.model import BadAnswer, TargetUnreachable, TransportError
from harness.transport import Request, Response

__all__ = ["Handler", "MemoryTransport", "answer"]

Handler = Callable[[Request], Awaitable[Response]]


def answer(status: int, body: bytes = b"", content_type: str | None = None, reason: str = "") -> Response:
    """A response for a handler to return (``elapsed_ms`` and ``url`` are set by the transport)."""
    headers = (("Content-Type", content_type),) if content_type else ()
    return Response(status, reason, headers + (("Content-Length", str(len(body))),), body, 0.0)


class MemoryTransport:
    """Carries each request to ``handler`` in-process; ``reachable`` is what :meth:`probe` finds.

    ``requests`` keeps every request sent, in order, for a test to look at.
    """

    def __init__(self, handler: Handler, reachable: bool = True, max_response_bytes: int = 16 << 20) -> None:
        self.handler = handler
        self.reachable = reachable
        self.max_response_bytes = max_response_bytes
        self.requests: list[Request] = []
        self.closed = False

    async def send(self, request: Request) -> Response:
        if self.closed:
            raise TransportError("the in-memory transport is closed")
        self.requests.append(request)
        started = time.perf_counter()
        response = await self.handler(request)
        if len(response.body) > self.max_response_bytes:
            raise BadAnswer(f"response body passed the {self.max_response_bytes}-byte limit")
        return replace(response, elapsed_ms=(time.perf_counter() - started) * 1000, url=request.url)

    async def probe(self, base_url: str) -> None:
        if not self.reachable:
            raise TargetUnreachable(f"nothing answers at {urlsplit(base_url).netloc or base_url}")

    async def close(self) -> None:
        self.closed = True
