"""SIP messages (RFC 3261 clause 7): parsing and writing, bounded, written for the harness.

Only what an SDS exchange needs: a request or response line, header fields
(compact forms expanded, folded lines unfolded, names compared
case-insensitively), and a body whose length ``Content-Length`` gives. A
message that is not well-formed raises :class:`SipSyntaxError`.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

__all__ = [
    "ACCEPT_CONTACT",
    "MAX_BODY",
    "MAX_DATAGRAM",
    "MAX_HEAD",
    "REASONS",
    "SipMessage",
    "SipSyntaxError",
    "new_branch",
    "new_tag",
    "parse_message",
    "split_stream",
]

ACCEPT_CONTACT = "*;+g.3gpp.mcdata.sds;require;explicit"
"""The feature tag an SDS MESSAGE carries (TS 24.282)."""

MAX_HEAD = 16 * 1024
"""Start line and header fields together, at most."""
MAX_HEADERS = 64
MAX_BODY = 1 << 20
MAX_DATAGRAM = 65_507
"""The largest UDP payload on IPv4: a SIP message over UDP cannot be longer."""

COMPACT = {
    "v": "Via",
    "f": "From",
    "t": "To",
    "i": "Call-ID",
    "m": "Contact",
    "l": "Content-Length",
    "c": "Content-Type",
    "e": "Content-Encoding",
    "k": "Supported",
    "s": "Subject",
    "a": "Accept-Contact",
}
"""RFC 3261 clause 7.3.3 (and RFC 3841 for ``a``)."""

REASONS = {
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    405: "Method Not Allowed",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    500: "Server Internal Error",
}

_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_REQUEST_LINE = re.compile(r"([A-Za-z0-9\-.!%*_+`'~]+) (\S+) SIP/2\.0")
_STATUS_LINE = re.compile(r"SIP/2\.0 ([1-6]\d\d) (.*)")


class SipSyntaxError(ValueError):
    """Not a well-formed SIP message (or one past the limits)."""


@dataclass(slots=True, frozen=True)
class SipMessage:
    """A SIP request (``method`` and ``uri``) or response (``status`` and ``reason``)."""

    method: str | None
    uri: str | None
    status: int | None
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return self.method is not None

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive, compact forms understood), or None."""
        wanted = _canonical(name).lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def header_values(self, name: str) -> list[str]:
        wanted = _canonical(name).lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    @classmethod
    def request(
        cls, method: str, uri: str, headers: list[tuple[str, str]] | tuple[tuple[str, str], ...], body: bytes = b""
    ) -> SipMessage:
        return cls(method.upper(), uri, None, "", tuple(headers), body)

    @classmethod
    def response(cls, status: int, headers: list[tuple[str, str]], body: bytes = b"", reason: str = "") -> SipMessage:
        return cls(None, None, status, reason or REASONS.get(status, "Unknown"), tuple(headers), body)

    def encode(self) -> bytes:
        """The octets on the wire; ``Content-Length`` is written from the body (any given one is replaced)."""
        if self.method is not None:
            if not _TOKEN.fullmatch(self.method) or not self.uri or any(c in self.uri for c in " \r\n"):
                raise SipSyntaxError(f"bad request line {self.method!r} {self.uri!r}")
            start = f"{self.method} {self.uri} SIP/2.0"
        else:
            start = f"SIP/2.0 {self.status} {self.reason}"
        lines = [start]
        for name, value in self.headers:
            if name.lower() == "content-length":
                continue
            if not _TOKEN.fullmatch(name) or "\r" in value or "\n" in value:
                raise SipSyntaxError(f"header {name!r} cannot be written on one line")
            lines.append(f"{name}: {value}")
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + self.body


def _canonical(name: str) -> str:
    return COMPACT.get(name.lower(), name) if len(name) == 1 else name


def _head_end(data: bytes) -> tuple[int, int] | None:
    """(end of the header block, start of the body), for CRLF CRLF or a bare LF LF."""
    crlf, lf = data.find(b"\r\n\r\n"), data.find(b"\n\n")
    if crlf >= 0 and (lf < 0 or crlf < lf):
        return crlf, crlf + 4
    if lf >= 0:
        return lf, lf + 2
    return None


def _parse_head(head: bytes) -> tuple[str | None, str | None, int | None, str, list[tuple[str, str]]]:
    if len(head) > MAX_HEAD:
        raise SipSyntaxError(f"header block over {MAX_HEAD} octets")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise SipSyntaxError("header block is not UTF-8") from None
    lines = [line.rstrip("\r") for line in text.split("\n")]
    while lines and not lines[0]:  # RFC 3261 clause 7.5: CRLFs before the start line are ignored
        lines.pop(0)
    if not lines:
        raise SipSyntaxError("no start line")
    start, rest = lines[0], lines[1:]
    method = uri = None
    status: int | None = None
    reason = ""
    if request := _REQUEST_LINE.fullmatch(start):
        method, uri = request[1].upper(), request[2]
    elif response := _STATUS_LINE.fullmatch(start):
        status, reason = int(response[1]), response[2]
    else:
        raise SipSyntaxError(f"not a SIP start line: {start[:80]!r}")
    headers: list[tuple[str, str]] = []
    for line in rest:
        if line[:1] in (" ", "\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon or not _TOKEN.fullmatch(name):
            raise SipSyntaxError(f"not a header field: {line[:80]!r}")
        if len(headers) == MAX_HEADERS:
            raise SipSyntaxError(f"more than {MAX_HEADERS} header fields")
        headers.append((_canonical(name), value.strip()))
    return method, uri, status, reason, headers


def _content_length(headers: list[tuple[str, str]]) -> int | None:
    values = [value for name, value in headers if name.lower() == "content-length"]
    if not values:
        return None
    if len(set(values)) != 1 or not values[0].isdigit():
        raise SipSyntaxError(f"bad Content-Length {values!r}")
    length = int(values[0])
    if length > MAX_BODY:
        raise SipSyntaxError(f"Content-Length {length} is over {MAX_BODY}")
    return length


def parse_message(data: bytes, *, stream: bool = False) -> SipMessage:
    """The message in ``data`` (one UDP datagram, or one message framed from a stream).

    Over UDP a missing ``Content-Length`` means the body is the rest of the
    datagram; a longer datagram than it announces is cut to the announced length
    (RFC 3261 clause 18.3). On a stream ``Content-Length`` is mandatory.
    """
    bounds = _head_end(data)
    if bounds is None:
        raise SipSyntaxError("the header block is not ended by an empty line")
    method, uri, status, reason, headers = _parse_head(data[: bounds[0]])
    body = data[bounds[1] :]
    length = _content_length(headers)
    if length is None:
        if stream:
            raise SipSyntaxError("a message on a stream needs Content-Length")
    elif length > len(body):
        raise SipSyntaxError(f"Content-Length {length} but {len(body)} octet(s) follow")
    else:
        body = body[:length]
    return SipMessage(method, uri, status, reason, tuple(headers), body)


def split_stream(buffer: bytearray) -> bytes | None:
    """Take one whole message off the front of a stream ``buffer`` (None until one is complete).

    Raises :class:`SipSyntaxError` as soon as the buffer cannot start a message within the limits.
    """
    while buffer[:2] == b"\r\n":  # keep-alive CRLFs between messages (RFC 5626 clause 3.5.1)
        del buffer[:2]
    bounds = _head_end(bytes(buffer[: MAX_HEAD + 4]))
    if bounds is None:
        if len(buffer) > MAX_HEAD:
            raise SipSyntaxError(f"no end of the header block within {MAX_HEAD} octets")
        return None
    _, _, _, _, headers = _parse_head(bytes(buffer[: bounds[0]]))
    length = _content_length(headers)
    if length is None:
        raise SipSyntaxError("a message on a stream needs Content-Length")
    end = bounds[1] + length
    if len(buffer) < end:
        return None
    message = bytes(buffer[:end])
    del buffer[:end]
    return message


def new_branch() -> str:
    """A Via branch parameter, with RFC 3261's magic cookie."""
    return "z9hG4bK" + secrets.token_hex(10)


def new_tag() -> str:
    return secrets.token_hex(6)
