"""The contract between the runner and the adapters that carry messages to a system under test.

Every adapter returns one normalised :class:`Response`, so checks are written
once. Adapters are found through the entry-point group ``harness.adapters``.
"""

from __future__ import annotations

import base64
import functools
import ssl
import zlib
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

from harness.extensions import ADAPTERS
from harness.model import BadAnswer, ConfigurationError

__all__ = [
    "CREDENTIAL_WORDS",
    "Attempt",
    "Counterpart",
    "Request",
    "Response",
    "Transport",
    "TransportOptions",
    "credential_name",
    "decode_body",
    "decoded_body",
    "load_transport",
    "tls_context",
    "with_headers",
    "without_userinfo",
]


@dataclass(slots=True, frozen=True)
class Request:
    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
CREDENTIAL_WORDS = ("key", "token", "secret", "password", "auth")
"""A header (or URL query parameter) whose name contains one of these carries a credential (evidence 1.1)."""


NOT_CREDENTIALS = frozenset({"idempotency-key"})
"""Names with a credential word that carry none: ``Idempotency-Key`` carries the message id (resilience.md RS-08),
which the message itself carries in clear; redacted, the evidence could no longer show that a retry kept its id
(docs/decisions-resilience.md)."""


@functools.lru_cache(maxsize=4096)  # a run sends and receives a few dozen header names, each thousands of times
def credential_name(name: str) -> bool:
    """Whether the value of header or query parameter ``name`` is a credential (``specs/evidence.md``)."""
    lowered = name.lower()
    if lowered in NOT_CREDENTIALS:
        return False
    return lowered in CREDENTIAL_HEADERS or any(word in lowered for word in CREDENTIAL_WORDS)


@dataclass(slots=True, frozen=True)
class Attempt:
    """One sending of a request, as it crossed the wire, and the answer to it as it came back.

    ``start_line``, ``headers`` and ``body`` are the request exactly as written (every header the transport
    added, credentials included: whoever records it redacts it); ``answer_*`` the answer as read (its body
    still compressed when it was), or empty with ``status`` None when no complete answer came (``error``
    says why). ``number`` counts the sendings of one request: 1, then 2 when the transport sent it again.
    """

    number: int
    start_line: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    sent: str
    answer_line: str = ""
    answer_headers: tuple[tuple[str, str], ...] = ()
    answer_body: bytes = b""
    answered: str = ""
    status: int | None = None
    elapsed_ms: float = 0.0
    error: str = ""


@dataclass(slots=True, frozen=True)
class Response:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    elapsed_ms: float
    url: str = ""
    attempts: tuple[Attempt, ...] = ()
    """What crossed the wire for this answer, one per sending (empty from a transport that does not say)."""
    answered_at: str | None = None
    """When the answer arrived (RFC 3339 UTC), for an answer replayed from a record: checks that compare a
    time in the answer with "now" use it, so a re-judged answer is judged by the clock it was answered at.
    None for a live answer (it arrived now)."""

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
    secret_names: tuple[str, ...] = ()
    """Headers the operator marked secret (``--secret-header``) although their names name no credential."""

    @property
    def secrets(self) -> tuple[str, ...]:
        """The secret values these options carry: credential headers (by name, or marked), the key password."""
        marked = {name.lower() for name in self.secret_names}
        values = [value for name, value in self.headers if credential_name(name) or name.lower() in marked]
        if self.key_password:
            values.append(self.key_password)
        return tuple(v for v in values if v)


def without_userinfo(url: str) -> tuple[str, str]:
    """``url`` without its user information, and that information as the Basic credentials it stands for
    (``""`` when it has none)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, ""
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode("ascii")
    return urlunsplit(parts._replace(netloc=hostport)), f"Basic {token}"


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
