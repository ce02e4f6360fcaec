"""The contract between the runner and the adapters that carry messages to a system under test.

Every adapter returns one normalised :class:`Response`, so checks are written
once. Adapters are found through the entry-point group ``harness.adapters``.
"""

from __future__ import annotations

import ssl
import zlib
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.extensions import ADAPTERS
from harness.model import BadAnswer, ConfigurationError

__all__ = [
    "Counterpart",
    "Request",
    "Response",
    "Transport",
    "TransportOptions",
    "decode_body",
    "decoded_body",
    "load_transport",
    "tls_context",
    "with_headers",
]


@dataclass(slots=True, frozen=True)
class Request:
    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


@dataclass(slots=True, frozen=True)
class Response:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    elapsed_ms: float
    url: str = ""

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None

    def header_values(self, name: str) -> list[str]:
        lowered = name.lower()
        return [value for key, value in self.headers if key.lower() == lowered]


@dataclass(slots=True, frozen=True)
class TransportOptions:
    """What every adapter is configured with.

    Credentials (``headers`` values, ``key_password``) are secrets: they are
    kept out of ``repr`` and never written to any output.
    """

    timeout_s: float = 10.0
    max_response_bytes: int = 16 << 20
    concurrency: int = 8
    ca_bundle: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    key_password: str | None = field(default=None, repr=False)
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value these options carry, for redaction."""
        values = [value for _, value in self.headers]
        if self.key_password:
            values.append(self.key_password)
        return tuple(v for v in values if v)


def tls_context(options: TransportOptions) -> ssl.SSLContext:
    """The client's TLS context: the system's CAs or ``ca_bundle``, and a client certificate for mutual TLS."""
    try:
        context = ssl.create_default_context(cafile=options.ca_bundle)
        if options.client_cert:
            context.load_cert_chain(options.client_cert, options.client_key, password=options.key_password)
    except FileNotFoundError as exc:
        raise ConfigurationError(f"TLS file not found: {exc.filename}") from None
    except ssl.SSLError as exc:
        # Never echo the password; the reason is enough ("bad decrypt", "key values mismatch").
        raise ConfigurationError(f"unusable TLS credentials: {exc.reason or 'cannot load'}") from None
    return context


def with_headers(headers: tuple[tuple[str, str], ...], extra: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """A request's headers, then each of ``extra`` (credentials) whose name it does not set (any case)."""
    merged = list(headers)
    if extra:
        given = {name.lower() for name, _ in merged}
        merged += [header for header in extra if header[0].lower() not in given]
    return merged


def decoded_body(headers: tuple[tuple[str, str], ...], body: bytes, limit: int) -> bytes:
    """``body`` as its ``Content-Encoding`` header says it was encoded, expanded at most to ``limit``."""
    encoding = next((value for name, value in headers if name.lower() == "content-encoding"), "").strip().lower()
    return decode_body(body, encoding, limit) if encoding else body


def decode_body(body: bytes, encoding: str, limit: int) -> bytes:
    """Undo gzip/deflate, refusing as soon as the output would pass ``limit`` (no bomb expands)."""
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise BadAnswer(f"unsupported Content-Encoding {encoding!r}")
    wbits = 31 if "gzip" in encoding else 15
    try:
        inflater = zlib.decompressobj(wbits)
        out = inflater.decompress(body, limit + 1)
    except zlib.error:
        if encoding != "deflate":
            raise BadAnswer("Content-Encoding gzip, but the body is not gzip data") from None
        try:  # raw deflate, as some servers send it
            inflater = zlib.decompressobj(-15)
            out = inflater.decompress(body, limit + 1)
        except zlib.error:
            raise BadAnswer("Content-Encoding deflate, but the body is not deflate data") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise BadAnswer(f"{encoding} body expands past the {limit}-byte limit")
    return out


class Transport(Protocol):
    """Carries one request to the system under test and brings back its response.

    Failures of the transport itself are raised as :class:`harness.model.TransportError`
    (or :class:`harness.model.TargetUnreachable` when nothing accepts the connection).
    """

    async def send(self, request: Request) -> Response: ...

    async def probe(self, base_url: str) -> None:
        """Raise TargetUnreachable when nothing listens at ``base_url``."""
        ...

    async def close(self) -> None: ...


class Counterpart(Protocol):
    """A reference endpoint the system under test sends to, as the runner sees it."""

    url: str

    def mark(self) -> int:
        """A position in what was received so far; :meth:`wait_for` looks only after it."""
        ...

    async def wait_for(self, method: str, path: str, since: int, timeout_s: float) -> Response | None:
        """The first request ``method path`` received after ``since``, as a Response
        (status is the answer the counterpart gave), or None on time-out."""
        ...


def load_transport(name: str, options: TransportOptions) -> Transport:
    """Instantiate the adapter registered as ``name`` in the ``harness.adapters`` group (:data:`ADAPTERS`)."""
    if name not in ADAPTERS:
        raise ConfigurationError(f"no adapter {name!r} is installed (entry-point group harness.adapters)")
    transport: Transport = ADAPTERS.get(name)(options)
    return transport
