"""One exchange as it crossed the wire between two real systems: what the proxy saw, a recording keeps and a
replay sends again.

A :class:`RecordedExchange` is the contract between the proxy (``harness proxy``, which builds one per
request/answer pair it forwarded) and the recording writer (``harness.recording.har``, which streams them to a
HAR 1.2 file). It holds the messages as received: header names with their case and order, values decoded
through Latin-1 so every byte maps to one character and back (``value.encode("latin-1")`` gives the wire
bytes), and the bodies after transfer decoding (a chunked body is de-chunked; a ``Content-Encoding`` is NOT
undone: the bytes are what the sender meant as the message body).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from harness.reporting.redaction import Redactor

__all__ = ["Header", "RecordedExchange", "rfc3339"]

Header = tuple[str, str]
"""One header line as received: (name, value), both Latin-1 decoded from the wire bytes, name case kept."""


def rfc3339(moment: datetime) -> str:
    """``moment`` as RFC 3339 in UTC with milliseconds (``2026-12-05T10:12:26.123Z``), as HAR's
    ``startedDateTime`` wants it."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class RecordedExchange:
    """A request and its answer as forwarded.

    ``origin`` is the scheme and authority the request went to (``https://upstream.example:8443``): with
    ``target`` (the request target as sent, origin-form ``/path?query``) it makes the absolute URL a HAR entry
    needs. ``answer_status`` is 0 (with empty answer fields) when no answer came (upstream closed or failed).
    ``elapsed_ms`` runs from the request's first byte forwarded to the answer's last byte received. A body over
    the proxy's bound is kept as its first bytes, the rest counted in ``request_dropped``/``answer_dropped``.
    """

    started: str
    origin: str
    method: str
    target: str
    http_version: str
    request_headers: tuple[Header, ...]
    request_body: bytes
    answer_status: int
    answer_reason: str
    answer_http_version: str
    answer_headers: tuple[Header, ...]
    answer_body: bytes
    elapsed_ms: float
    request_dropped: int = 0
    """Bytes of the request body received and forwarded but not kept (the proxy keeps a bounded prefix)."""
    answer_dropped: int = 0
    """Bytes of the answer body received and forwarded but not kept."""
    request_complete: bool = True
    """False when the answer came before the whole request body (e.g. a ``413`` sent without reading it)."""

    @property
    def url(self) -> str:
        """The absolute URL of the request (``origin`` + ``target``; an absolute-form target as it is)."""
        if "://" in self.target:
            return self.target
        return self.origin.rstrip("/") + (self.target if self.target.startswith("/") else "/" + self.target)

    def header(self, name: str, *, answer: bool = False) -> str | None:
        """The first value of header ``name`` (any case) of the request, or of the answer with ``answer``."""
        lowered = name.lower()
        for key, value in self.answer_headers if answer else self.request_headers:
            if key.lower() == lowered:
                return value
        return None

    def redacted(self, redactor: Redactor) -> RecordedExchange:
        """This exchange with its credentials redacted as ``specs/evidence.md`` (Credentials) says, by the one
        :class:`~harness.reporting.redaction.Redactor` every output uses: credential header values replaced where
        they stand, the URL's user information and credential query parameters, and the known credentials (and
        those the exchange's own credential headers carry) wherever they appear verbatim in either message."""
        pattern = redactor.pattern_for(self.request_headers, self.answer_headers)
        return replace(
            self,
            origin=redactor.text(self.origin, pattern),
            target=redactor.text(self.target, pattern),
            request_headers=tuple(redactor.headers(self.request_headers, pattern)),
            request_body=redactor.body(self.request_body, pattern),
            answer_reason=redactor.text(self.answer_reason, pattern),
            answer_headers=tuple(redactor.headers(self.answer_headers, pattern)),
            answer_body=redactor.body(self.answer_body, pattern),
        )
