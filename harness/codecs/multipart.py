"""``multipart/mixed`` bodies (RFC 2046 clause 5.1) with binary parts kept exact.

Public API::

    parse_media_type(value: str) -> tuple[str, dict[str, str]]
    parse_multipart(content_type: str, body: bytes, *, max_parts: int = MAX_PARTS,
                    max_bytes: int = MAX_BODY_BYTES) -> tuple[Part, ...]
    build_multipart(parts: Sequence[BodyPart], *, boundary: str | None = None,
                    subtype: str = "mixed") -> tuple[str, bytes]          # (Content-Type, body)
    read_entity(data: bytes) -> tuple[str, bytes]                         # a stored sample -> (Content-Type, body)

Every refusal is a :class:`MultipartError` with a ``rule`` (:class:`MultipartFault`,
``MCS-01`` ...) and a ``location``: ``/`` for the body as a whole, ``/part/N``
for its N-th body part (counted from 1).

Exactness: a part's content is every octet between the empty line that ends
its header block and the CRLF that precedes the next delimiter; only that CRLF
belongs to the delimiter (RFC 2046), so a trailing ``0x20`` or ``0x0A`` in a
part is data and is kept. Delimiter lines must therefore be preceded and ended
by CRLF; header lines inside a part may end in CRLF or a bare LF. Accepted
``Content-Transfer-Encoding``: ``7bit``, ``8bit``, ``binary`` (content taken as
is) and ``base64`` (decoded, line breaks and spaces ignored, anything else
refused); absent means ``7bit`` (RFC 2045). Bounded: the body size, the number
of parts, the size of each header block.

Which parts a body of a format must carry is the format family's (the MCData SDS and FD bodies:
:mod:`harness.families.esn.body`); the rule ids of the multipart formats (``MCS-01`` ...) are shared.
"""

from __future__ import annotations

import base64
import binascii
import enum
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_PARTS",
    "BodyPart",
    "MultipartError",
    "MultipartFault",
    "Part",
    "build_multipart",
    "parse_media_type",
    "parse_multipart",
    "read_entity",
]

MAX_BODY_BYTES = 1 << 20
MAX_PARTS = 16
MAX_HEADER_BYTES = 8192
MAX_HEADERS = 32
MAX_MEDIA_TYPE_CHARS = 1024

_TRANSFER_ENCODINGS = frozenset({"7bit", "8bit", "binary", "base64"})

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")


class MultipartFault(enum.StrEnum):
    """Rule ids of the ``multipart`` formats (``docs/decisions-esn.md``)."""

    MALFORMED = "MCS-01"
    MISSING_PART = "MCS-02"
    UNEXPECTED_PART = "MCS-03"
    TRANSFER_ENCODING = "MCS-04"
    TOO_LARGE = "MCS-05"


class MultipartError(ValueError):
    """A body refused as multipart (or as an SDS): ``location`` names the body (``/``) or the part (``/part/N``)."""

    def __init__(self, message: str, *, rule: MultipartFault = MultipartFault.MALFORMED, part: int | None = None):
        self.location = "/" if part is None else f"/part/{part}"
        self.part = part
        self.message = message
        self.rule = rule
        super().__init__(message if part is None else f"part {part}: {message}")


@dataclass(slots=True, frozen=True)
class Part:
    """One body part as received: its content with the transfer encoding undone."""

    index: int
    """Position in the body, counted from 1."""
    media_type: str
    """Lower-case ``type/subtype`` of its Content-Type (``text/plain`` when absent, RFC 2045)."""
    content: bytes
    transfer_encoding: str = "7bit"
    headers: tuple[tuple[str, str], ...] = ()
    parameters: tuple[tuple[str, str], ...] = ()
    offset: int = 0
    """Octet offset of the content (as sent) in the body."""

    def header(self, name: str) -> str | None:
        """The first header ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)


@dataclass(slots=True, frozen=True)
class BodyPart:
    """A part to build: its Content-Type header value, content and transfer encoding.

    ``transfer_encoding`` None writes no Content-Transfer-Encoding header; ``base64``
    encodes the content (lines of 76 characters); ``binary``/``8bit``/``7bit`` write
    the header and the content as it is.
    """

    content_type: str
    content: bytes
    transfer_encoding: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


# --------------------------------------------------------------------------- media types


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t":
        pos += 1
    return pos


def _quoted(text: str, pos: int) -> tuple[str, int]:
    """The quoted-string starting at ``text[pos] == '"'`` and the position after it."""
    chars: list[str] = []
    pos += 1
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text):
            chars.append(text[pos + 1])
            pos += 2
        elif char == '"':
            return "".join(chars), pos + 1
        else:
            chars.append(char)
            pos += 1
    raise MultipartError(f"Content-Type {text!r}: unterminated quoted string")


def parse_media_type(value: str) -> tuple[str, dict[str, str]]:
    """``("multipart/mixed", {"boundary": "b"})`` for ``multipart/mixed; boundary="b"`` (names lower-cased)."""
    text = value.strip()
    if len(text) > MAX_MEDIA_TYPE_CHARS:
        raise MultipartError(f"Content-Type of {len(text)} characters is too long")
    match = re.match(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+)/([!#$%&'*+.^_`|~0-9A-Za-z-]+)", text)
    if not match:
        raise MultipartError(f"Content-Type {value!r} is not type/subtype")
    media = f"{match[1]}/{match[2]}".lower()
    parameters: dict[str, str] = {}
    pos = _skip_space(text, match.end())
    while pos < len(text):
        if text[pos] != ";":
            raise MultipartError(f"Content-Type {value!r}: ';' expected at character {pos}")
        pos = _skip_space(text, pos + 1)
        if pos == len(text):
            break
        name = _TOKEN.match(text, pos)
        if not name:
            raise MultipartError(f"Content-Type {value!r}: parameter name expected at character {pos}")
        pos = _skip_space(text, name.end())
        if pos == len(text) or text[pos] != "=":
            raise MultipartError(f"Content-Type {value!r}: '=' expected after {name[0]!r}")
        pos = _skip_space(text, pos + 1)
        if pos < len(text) and text[pos] == '"':
            parameter, pos = _quoted(text, pos)
        else:
            token = _TOKEN.match(text, pos)
            if not token:
                raise MultipartError(f"Content-Type {value!r}: value of {name[0]!r} expected at character {pos}")
            parameter, pos = token[0], token.end()
        if name[0].lower() in parameters:
            raise MultipartError(f"Content-Type {value!r}: parameter {name[0]!r} repeated")
        parameters[name[0].lower()] = parameter
        pos = _skip_space(text, pos)
    return media, parameters


def _boundary_of(content_type: str) -> str:
    media, parameters = parse_media_type(content_type)
    if not media.startswith("multipart/"):
        raise MultipartError(f"Content-Type {media} is not multipart")
    boundary = parameters.get("boundary")
    if boundary is None:
        raise MultipartError(f"Content-Type {content_type!r} has no boundary parameter")
    if not _BOUNDARY.fullmatch(boundary):
        raise MultipartError(f"boundary {boundary!r} is not 1..70 characters of RFC 2046 bchars")
    return boundary


# --------------------------------------------------------------------------- parsing


def _headers(data: bytes, start: int, end: int, where: str, part: int | None) -> tuple[list[tuple[str, str]], int]:
    """The header lines from ``start`` up to the empty line, and the offset after that line."""
    headers: list[tuple[str, str]] = []
    pos = start
    while True:
        newline = data.find(b"\n", pos, min(end, start + MAX_HEADER_BYTES + 1))
        if newline < 0:
            if end - start > MAX_HEADER_BYTES:
                raise MultipartError(
                    f"{where} over {MAX_HEADER_BYTES} octets", rule=MultipartFault.TOO_LARGE, part=part
                )
            raise MultipartError(f"{where} is not ended by an empty line", part=part)
        line = data[pos:newline].removesuffix(b"\r")
        pos = newline + 1
        if not line:
            return headers, pos
        if len(headers) >= MAX_HEADERS:
            raise MultipartError(f"{where} has over {MAX_HEADERS} lines", rule=MultipartFault.TOO_LARGE, part=part)
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            raise MultipartError(f"{where}: a header line is not UTF-8 text", part=part) from None
        if line[:1] in (b" ", b"\t") and headers:
            previous, folded = headers[-1]
            headers[-1] = (previous, f"{folded} {text.strip()}")
            continue
        name, colon, value = text.partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            raise MultipartError(f"{where}: {text[:60]!r} is not a 'Name: value' header line", part=part)
        headers.append((name, value.strip()))


def _decode_base64(raw: bytes, index: int) -> bytes:
    compact = raw.translate(None, b" \t\r\n")
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MultipartError(
            f"base64 content does not decode ({exc})", rule=MultipartFault.TRANSFER_ENCODING, part=index
        ) from None


def _read_part(body: bytes, start: int, end: int, index: int) -> Part:
    headers, content_start = _headers(body, start, end, "the header block", index)
    content_types = [value for name, value in headers if name.lower() == "content-type"]
    if len(content_types) > 1:
        raise MultipartError("Content-Type is given twice", part=index)
    try:
        media, parameters = parse_media_type(content_types[0] if content_types else "text/plain")
    except MultipartError as exc:
        raise MultipartError(exc.message, part=index) from None
    encodings = [value.strip().lower() for name, value in headers if name.lower() == "content-transfer-encoding"]
    encoding = encodings[0] if encodings else "7bit"
    if len(encodings) > 1 or encoding not in _TRANSFER_ENCODINGS:
        shown = ", ".join(encodings)
        raise MultipartError(
            f"Content-Transfer-Encoding {shown} is not accepted (7bit, 8bit, binary, base64)",
            rule=MultipartFault.TRANSFER_ENCODING,
            part=index,
        )
    raw = body[content_start:end]
    content = _decode_base64(raw, index) if encoding == "base64" else raw
    return Part(index, media, content, encoding, tuple(headers), tuple(parameters.items()), content_start)


def parse_multipart(
    content_type: str, body: bytes, *, max_parts: int = MAX_PARTS, max_bytes: int = MAX_BODY_BYTES
) -> tuple[Part, ...]:
    """The body parts of ``body``, whose ``content_type`` names the boundary; preamble and epilogue are ignored."""
    boundary = _boundary_of(content_type)
    if len(body) > max_bytes:
        raise MultipartError(f"body of {len(body)} octets is over {max_bytes}", rule=MultipartFault.TOO_LARGE)
    dash = b"--" + boundary.encode("ascii")
    if body.startswith(dash):
        pos = 0
    else:
        found = body.find(b"\r\n" + dash)
        if found < 0:
            raise MultipartError(f"no delimiter line '--{boundary}' (a delimiter starts a line after a CRLF)")
        pos = found + 2
    parts: list[Part] = []
    while True:
        after = pos + len(dash)
        if body.startswith(b"--", after):
            break
        line_end = after
        while line_end < len(body) and body[line_end] in b" \t":
            line_end += 1
        if not body.startswith(b"\r\n", line_end):
            raise MultipartError(f"delimiter at octet {pos} is not followed by CRLF")
        if len(parts) == max_parts:
            raise MultipartError(f"more than {max_parts} body parts", rule=MultipartFault.TOO_LARGE)
        start = line_end + 2
        following = body.find(b"\r\n" + dash, start)
        if following < 0:
            raise MultipartError(
                f"no delimiter after part {len(parts) + 1}: the close delimiter '--{boundary}--' is missing"
            )
        parts.append(_read_part(body, start, following, len(parts) + 1))
        pos = following + 2
    if not parts:
        raise MultipartError("no body part before the close delimiter")
    return tuple(parts)


def read_entity(data: bytes) -> tuple[str, bytes]:
    """A stored multipart message as (Content-Type, body).

    ``data`` is either a MIME entity (header lines, among them ``Content-Type``,
    an empty line, then the body: the layout of the ``mcdata-sds/1.0`` samples)
    or a bare body starting with its first delimiter line ``--boundary``, from
    which the boundary is read (Content-Type ``multipart/mixed``).
    """
    if data.startswith(b"--"):
        line_end = data.find(b"\r\n")
        boundary = data[2 : line_end if line_end >= 0 else len(data)].rstrip(b" \t").decode("ascii", "replace")
        if not _BOUNDARY.fullmatch(boundary):
            raise MultipartError(f"the first line does not hold an RFC 2046 boundary ({boundary[:80]!r})")
        return f'multipart/mixed; boundary="{boundary}"', data
    headers, body_start = _headers(data, 0, len(data), "the entity's header block", None)
    content_types = [value for name, value in headers if name.lower() == "content-type"]
    if len(content_types) != 1:
        raise MultipartError("the entity's header block needs exactly one Content-Type")
    return content_types[0], data[body_start:]


# --------------------------------------------------------------------------- building


def _quote_boundary(boundary: str) -> str:
    return boundary if _TOKEN.fullmatch(boundary) else f'"{boundary}"'


def _header_line(name: str, value: str) -> bytes:
    if "\r" in value or "\n" in value or not _TOKEN.fullmatch(name):
        raise MultipartError(f"header {name!r}: {value!r} cannot be written on one line")
    return f"{name}: {value}\r\n".encode()


def _encoded(part: BodyPart) -> bytes:
    encoding = (part.transfer_encoding or "binary").lower()
    if encoding not in _TRANSFER_ENCODINGS:
        raise MultipartError(f"transfer encoding {encoding!r} is not one of 7bit, 8bit, binary, base64")
    if encoding != "base64":
        return bytes(part.content)
    text = base64.b64encode(part.content)
    return b"\r\n".join(text[i : i + 76] for i in range(0, len(text), 76))


def build_multipart(
    parts: Sequence[BodyPart], *, boundary: str | None = None, subtype: str = "mixed"
) -> tuple[str, bytes]:
    """``(Content-Type, body)`` of a multipart body holding ``parts``; a fresh boundary unless one is given."""
    if not parts:
        raise MultipartError("a multipart body holds at least one part")
    contents = [_encoded(part) for part in parts]
    if boundary is None:
        for _ in range(16):
            boundary = f"netcode-{secrets.token_hex(16)}"
            if not any(f"--{boundary}".encode() in content for content in contents):
                break
        else:  # pragma: no cover - 16 random 128-bit boundaries all inside the content
            raise MultipartError("no boundary found that the content does not contain")
    elif not _BOUNDARY.fullmatch(boundary) or any(f"--{boundary}".encode() in content for content in contents):
        raise MultipartError(f"boundary {boundary!r} is not RFC 2046 bchars or occurs in a part")
    if not _TOKEN.fullmatch(subtype):
        raise MultipartError(f"subtype {subtype!r} is not a token")
    dash = f"--{boundary}".encode()
    out = bytearray()
    for part, content in zip(parts, contents, strict=True):
        out += dash + b"\r\n"
        out += _header_line("Content-Type", part.content_type)
        if part.transfer_encoding is not None:
            out += _header_line("Content-Transfer-Encoding", part.transfer_encoding)
        for name, value in part.headers:
            out += _header_line(name, value)
        out += b"\r\n" + content + b"\r\n"
    out += dash + b"--\r\n"
    return f"multipart/{subtype}; boundary={_quote_boundary(boundary)}", bytes(out)
