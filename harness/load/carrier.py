"""How a load user carries one exchange: geventhttpclient's ``HTTPClient``, one keep-alive connection per user.

geventhttpclient is the HTTP client under Locust's ``FastHttpUser``. A load user talks to it directly, not
through ``FastHttpSession``: that session's cookie jar, URL joining, header merging and response wrapper cost
about 70 µs of a request (measured, docs/measurements.md), which the checks need more. What the harness's own
HTTP adapter guarantees holds here too: the answer is bounded (``max_response_bytes``, declared or streamed),
compressed bodies are expanded only up to that bound, redirects are never followed, an https target is verified
(the system's CAs or ``--ca-bundle``; a client certificate for mutual TLS), and the extra headers (credentials)
go on every request without ever being written anywhere.

Only ever imported in a Locust process (it imports gevent's client when a carrier is made).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from harness.model import BadAnswer, TransportError
from harness.transport import Request, Response, TransportOptions, decode_body, tls_context

__all__ = ["Carrier"]

_READ_BLOCK = 64 * 1024


class Carrier:
    """One connection to ``target``'s origin (reopened when the server closes it)."""

    def __init__(self, target: str, options: TransportOptions) -> None:
        from geventhttpclient import HTTPClient

        parts = urlsplit(target)
        tls = parts.scheme == "https"
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self._extra = options.headers
        self._limit = options.max_response_bytes
        settings: dict[str, Any] = {}
        if tls:
            context = tls_context(options)  # made here, after gevent patched ssl
            settings = {"ssl": True, "ssl_context_factory": lambda **_: context}
        self._client = HTTPClient(
            parts.hostname or "",
            parts.port or (443 if tls else 80),
            concurrency=1,
            connection_timeout=options.timeout_s,
            network_timeout=options.timeout_s,
            **settings,
        )

    def send(self, request: Request) -> Response:
        """The answer to ``request``; :class:`TransportError` when none came, :class:`BadAnswer` when it is
        unreadable or over the bound."""
        url = request.url
        if url.startswith(self.origin) and url[len(self.origin) : len(self.origin) + 1] in ("/", ""):
            uri = url[len(self.origin) :] or "/"
        else:
            raise TransportError(f"{url} is not on the load target {self.origin}")
        headers = dict(request.headers)
        for name, value in self._extra:
            headers.setdefault(name, value)
        started = time.perf_counter()
        try:
            answer = self._client.request(request.method, uri, body=request.body, headers=headers)
        except Exception as exc:
            raise TransportError(_reason(exc)) from None
        try:
            body = self._read(answer)
        except BadAnswer:
            raise
        except Exception as exc:
            raise BadAnswer(f"broken response body: {_reason(exc)}") from None
        finally:
            answer.release()
        encoding = answer.get("content-encoding") or ""
        encoding = (", ".join(encoding) if isinstance(encoding, list) else str(encoding)).strip().lower()
        if encoding:
            body = decode_body(body, encoding, self._limit)
        return Response(
            answer.status_code,
            "",
            tuple((str(name), str(value)) for name, value in answer.items()),
            body,
            (time.perf_counter() - started) * 1000,
            url,
        )

    def _read(self, answer: Any) -> bytes:
        limit = self._limit
        declared = answer.content_length
        if declared is not None and declared > limit:
            raise BadAnswer(f"response body of {declared} bytes is over the {limit}-byte limit")
        if declared is not None:
            return bytes(answer.read())
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = answer.read(_READ_BLOCK)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > limit:
                raise BadAnswer(f"response body passed the {limit}-byte limit")
            chunks.append(bytes(chunk))

    def close(self) -> None:
        self._client.close()


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
