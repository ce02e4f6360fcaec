"""What every reference endpoint shares: problem documents, bounded bodies, the evidence recorder."""

from __future__ import annotations

import asyncio
import base64
import collections
import datetime as dt
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from harness.model import Finding
from harness.profile import PROBLEM_BASE, PROBLEM_MEDIA_TYPE
from harness.transport import credential_name
from harness.validation.jsonsafe import UnsafeJson, parse_json

__all__ = [
    "BODY",
    "LOG",
    "MAX_BODY",
    "PREREAD",
    "PROBLEM_BASE",
    "BodyIncomplete",
    "BodyTooLarge",
    "BodyTooSlow",
    "ReceivedMessage",
    "Recorder",
    "Refused",
    "json_response",
    "problem",
    "read_body",
    "read_json",
    "recording_middleware",
    "utc_now",
]

LOG = logging.getLogger("harness.endpoints")
MAX_BODY = 1 << 20
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
"""Kept for callers; what the reference endpoint redacts is :func:`harness.transport.credential_name`."""

_TITLES = {
    "invalid-message": "The message is not valid",
    "classification-not-permitted": "The classification may not travel over the network code",
    "conflict": "The identifier is already used by different content",
    "not-found": "No such resource",
    "too-large": "The body is larger than 1 MiB",
    "unsupported-media-type": "The media type is not accepted here",
    "not-acceptable": "No rendition matches the Accept header",
    "incomplete-body": "The body did not arrive whole",
    "method-not-allowed": "Method not allowed",
}


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def json_response(body: Any, status: int = 200, content_type: str = "application/json", **headers: str) -> web.Response:
    """A JSON answer; header keyword arguments use ``_`` for ``-`` (``Accept_Post`` is ``Accept-Post``)."""
    return web.Response(
        body=json.dumps(body, ensure_ascii=False).encode(),
        status=status,
        headers={"Content-Type": content_type, **{name.replace("_", "-"): value for name, value in headers.items()}},
    )


def problem(
    status: int,
    kind: str,
    detail: str | None = None,
    errors: Iterable[Finding] = (),
    *,
    warnings: Iterable[Finding] = (),
    **headers: str,
) -> web.Response:
    """An RFC 9457 problem document whose ``type`` ends with ``/<kind>``.

    ``warnings`` (findings of rules whose severity is warning) go in a ``warnings`` member of the same shape,
    apart from ``errors`` (binding rule 10).
    """
    body: dict[str, Any] = {"type": PROBLEM_BASE + kind, "title": _TITLES.get(kind, kind), "status": status}
    if detail:
        body["detail"] = detail
    findings = [finding.as_dict() for finding in errors]
    if findings:
        body["errors"] = findings
    advised = [finding.as_dict() for finding in warnings]
    if advised:
        body["warnings"] = advised
    return json_response(body, status, PROBLEM_MEDIA_TYPE, **headers)


BODY: web.RequestKey[bytes] = web.RequestKey("body", bytes)
"""Where a handler leaves the body it read, for the recorder."""
PREREAD: web.RequestKey[bytes] = web.RequestKey("preread", bytes)
"""A body a middleware read before the handler (the fault plan needs the message id): :func:`read_body` gives it."""


class Refused(Exception):
    """A request refused before its handler could judge it; the middleware answers with ``response``."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


class BodyTooLarge(Refused):
    def __init__(self) -> None:
        super().__init__(problem(413, "too-large", "bodies are limited to 1 MiB", Connection="close"))


class BodyTooSlow(Refused):
    def __init__(self) -> None:
        super().__init__(
            problem(408, "request-timeout", f"the body must arrive within {BODY_TIMEOUT_S:g} s", Connection="close")
        )


class BodyIncomplete(Refused):
    """The connection ended before the body did (RR-02): nothing of it is kept, and nothing is logged as a fault
    of the endpoint (the answer goes nowhere)."""

    def __init__(self) -> None:
        super().__init__(problem(400, "incomplete-body", "the connection closed before the body ended"))


BODY_TIMEOUT_S = 30.0
"""How long a sender may take to deliver a body: a slow sender cannot hold a reference endpoint."""


async def read_body(request: web.Request, limit: int = MAX_BODY) -> bytes:
    """The request body, refused as soon as it is known to pass ``limit`` (never read whole),
    or when it has not arrived within :data:`BODY_TIMEOUT_S`."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge
    if PREREAD in request:
        if len(request[PREREAD]) > limit:
            raise BodyTooLarge
        return request[PREREAD]
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):
            while True:
                chunk = await request.content.read(64 * 1024)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge
                chunks.append(chunk)
    except TimeoutError:
        raise BodyTooSlow from None
    except (ConnectionError, HttpProcessingError):  # the sender went away mid-body: a half body is not a message
        raise BodyIncomplete from None
    return b"".join(chunks)


async def read_json(request: web.Request, limit: int = MAX_BODY) -> tuple[Any, web.Response | None]:
    """A hook's JSON body: read within ``limit`` (:func:`read_body`), kept for the recorder (:data:`BODY`) and parsed
    with the bounded JSON parser. ``(document, None)``, or ``(None, the 400 problem saying why it is not JSON)``."""
    body = await read_body(request, limit=limit)
    request[BODY] = body
    try:
        return parse_json(body), None
    except UnsafeJson as exc:
        return None, problem(400, "invalid-message", str(exc), [Finding("", "schema", str(exc))])


@dataclass(slots=True, frozen=True)
class ReceivedMessage:
    """One request a reference endpoint received, with the status it answered: evidence."""

    received_at: str
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    status: int
    sequence: int = 0

    def as_dict(self) -> dict[str, Any]:
        try:
            text: str | None = self.body.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        return {
            "receivedAt": self.received_at,
            "method": self.method,
            "path": self.path,
            "headers": [list(pair) for pair in self.headers],
            "body": text,
            "bodyBase64": None if text is not None else base64.b64encode(self.body).decode(),
            "status": self.status,
        }


class Recorder:
    """Keeps the most recent messages an endpoint received, secrets redacted: a ring buffer bounded both
    in messages (``capacity``) and in body bytes (``max_bytes``), so it stays flat under a soak.

    Each message gets a sequence number; :meth:`wait_for` lets a runner wait for
    the next message that matches, received after a mark it took earlier.
    """

    def __init__(self, capacity: int = 10_000, max_bytes: int = 16 << 20) -> None:
        self._messages: collections.deque[ReceivedMessage] = collections.deque(maxlen=capacity)
        self._waiters: list[asyncio.Future[None]] = []
        self.sequence = 0
        self.max_bytes = max_bytes
        self._bytes = 0

    def record(self, request: web.BaseRequest, body: bytes, status: int) -> None:
        headers = tuple(
            (name, "[redacted]" if credential_name(name) else value) for name, value in request.headers.items()
        )
        self.sequence += 1
        message = ReceivedMessage(utc_now(), request.method, request.path_qs, headers, body, status, self.sequence)
        if len(self._messages) == self._messages.maxlen:
            self._bytes -= len(self._messages[0].body)
        self._messages.append(message)
        self._bytes += len(body)
        while self._bytes > self.max_bytes and len(self._messages) > 1:  # a soak keeps the newest, bounded
            self._bytes -= len(self._messages.popleft().body)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    @property
    def messages(self) -> list[ReceivedMessage]:
        return list(self._messages)

    def clear(self) -> None:
        self._messages.clear()
        self._bytes = 0

    @property
    def size_bytes(self) -> int:
        """The bodies kept, in bytes (at most ``max_bytes``, or one message if that alone is larger)."""
        return self._bytes

    async def wait_for(
        self, predicate: Callable[[ReceivedMessage], bool], since: int, timeout_s: float
    ) -> ReceivedMessage | None:
        """The first message after sequence ``since`` that satisfies ``predicate``, or None on time-out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            for message in self._messages:
                if message.sequence > since and predicate(message):
                    return message
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                return None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def recording_middleware(recorder: Recorder) -> Any:
    """Record every request (body included, as far as the handler read it) and turn errors into problems."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPNotFound:
            response = problem(404, "not-found", f"no resource at {request.path}")
        except web.HTTPMethodNotAllowed as exc:
            response = problem(
                405,
                "method-not-allowed",
                f"{request.method} is not allowed here",
                Allow=",".join(sorted(exc.allowed_methods)),
            )
        except Refused as exc:
            response = exc.response
        except web.HTTPException as exc:
            response = problem(exc.status, "http-error", exc.reason)
        except Exception as exc:  # a reference endpoint answers, whatever it received
            LOG.exception("reference endpoint failed on %s %s", request.method, request.path)
            response = problem(500, "internal-error", f"reference endpoint fault: {type(exc).__name__}")
        if not request.path.startswith("/_harness/"):
            recorder.record(request, request.get(BODY, b""), response.status)
        return response

    return middleware
