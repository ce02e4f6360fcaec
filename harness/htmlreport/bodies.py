"""How a message body is shown in the report: pretty JSON or XML, text, or a hex dump beside decoded fields.

The decoded fields of a binary body come from the format family that declares a view of its media type
(``FormatFamily.body_views``). Everything is bounded: a body is shown up to :data:`SHOWN_BYTES`, parsed only
within the validators' limits, XML through the hardened parser (no DTD, no
entities, no network).
"""

from __future__ import annotations

import base64
import binascii
import difflib
import json
from collections.abc import Callable
from typing import Any

from lxml import etree

from harness.codecs.multipart import MultipartError, parse_multipart
from harness.extensions import body_view_of
from harness.validation.jsonsafe import UnsafeJson, parse_json
from harness.validation.xmlsafe import UnsafeXml, parse_xml

__all__ = ["SHOWN_BYTES", "body_view", "diff_ops", "hex_dump", "message_view"]

SHOWN_BYTES = 16 << 10
"""At most this much of a body is put in the report (the bundle keeps all of it)."""
_PARSE_BYTES = 1 << 20
_TEXT_TYPES = ("text/", "application/json", "application/xml", "+json", "+xml", "application/problem")


def hex_dump(data: bytes, limit: int = SHOWN_BYTES) -> str:
    """16 octets per line: offset, hex, printable ASCII."""
    lines = []
    for offset in range(0, min(len(data), limit), 16):
        chunk = data[offset : offset + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append(f"{offset:08x}  {hexes:<47}  {text}")
    if len(data) > limit:
        lines.append(f"... {len(data) - limit} more octets")
    return "\n".join(lines)


def _family_view(view: Callable[[bytes], str], data: bytes) -> str:
    try:
        return view(data)
    except Exception as exc:  # a family's view (perhaps a third party's): the report goes on without it
        return f"not decodable: {type(exc).__name__}: {exc}"


def _shown_text(data: bytes) -> str:
    text = data[:SHOWN_BYTES].decode("utf-8", "replace")
    return text + (f"\n... {len(data) - SHOWN_BYTES} more octets" if len(data) > SHOWN_BYTES else "")


def _pretty_json(data: bytes) -> str | None:
    if len(data) > _PARSE_BYTES:
        return None
    try:  # the validators' parser: bounded depth, so a hostile body cannot exhaust the stack
        return json.dumps(parse_json(data), indent=2, ensure_ascii=False)
    except (UnsafeJson, ValueError, RecursionError):
        return None


def _pretty_xml(data: bytes) -> str | None:
    if len(data) > _PARSE_BYTES:
        return None
    try:
        root = parse_xml(data)
    except (UnsafeXml, etree.XMLSyntaxError, ValueError, RecursionError):
        return None
    etree.indent(root, space="  ")
    return str(etree.tostring(root, encoding="unicode"))


_MAX_NESTING = 4
"""Multipart bodies inside multipart bodies are shown this deep; deeper ones as bytes (a SUT may nest at will)."""


def body_view(media_type: str, data: bytes, depth: int = 0) -> dict[str, Any]:
    """``{"kind": json|xml|text|binary|multipart|empty, "text"?, "hex"?, "decoded"?, "parts"?, "size"}``."""
    size = len(data)
    if not data:
        return {"kind": "empty", "size": 0}
    essence = media_type.split(";")[0].strip().lower()
    view = body_view_of(essence)  # a format family's decoded view of its binary media type
    if view is not None:
        return {"kind": "binary", "hex": hex_dump(data), "decoded": _family_view(view, data), "size": size}
    if essence.startswith("multipart/") and depth >= _MAX_NESTING:
        return {"kind": "binary", "hex": hex_dump(data), "decoded": "multipart nested too deep to show", "size": size}
    if essence.startswith("multipart/"):
        try:
            parts = parse_multipart(media_type, data)
        except (MultipartError, ValueError) as exc:
            return {"kind": "binary", "hex": hex_dump(data), "decoded": f"not a multipart body: {exc}", "size": size}
        return {
            "kind": "multipart",
            "size": size,
            "parts": [
                {"media_type": p.media_type, **body_view(p.media_type, p.content, depth + 1)} for p in parts[:16]
            ],
        }
    looks_json = "json" in essence or (not essence and data.lstrip()[:1] in (b"{", b"["))
    if looks_json and (pretty := _pretty_json(data)) is not None:
        return {"kind": "json", "text": _shown_text(pretty.encode()), "size": size}
    looks_xml = "xml" in essence or (not essence and data.lstrip()[:1] == b"<")
    if looks_xml and (pretty := _pretty_xml(data)) is not None:
        return {"kind": "xml", "text": _shown_text(pretty.encode()), "size": size}
    try:
        data[:SHOWN_BYTES].decode("utf-8")
        textual = not essence or essence.startswith(_TEXT_TYPES) or any(t in essence for t in _TEXT_TYPES)
    except UnicodeDecodeError:
        textual = False
    if textual:
        return {"kind": "text", "text": _shown_text(data), "size": size}
    return {"kind": "binary", "hex": hex_dump(data), "size": size}


def message_view(message: dict[str, Any] | None, redact: Any = None) -> dict[str, Any] | None:
    """A request or answer of an ``exchanges.jsonl`` record (interface 3) as the report shows it."""
    if not isinstance(message, dict):
        return None
    headers = [[str(pair[0]), str(pair[1])] for pair in message.get("headers") or [] if isinstance(pair, list | tuple)]
    body_text = str(message.get("body") or "")
    if message.get("body_encoding") == "base64":
        try:
            data = base64.b64decode(body_text)
        except (binascii.Error, ValueError):
            data = body_text.encode()
    else:
        data = body_text.encode()
    media_type = next((value for name, value in headers if name.lower() == "content-type"), "")
    view: dict[str, Any] = {"start_line": str(message.get("start_line", "")), "headers": headers}
    view["body"] = body_view(media_type, data)
    if redact is not None:
        view = json.loads(redact(json.dumps(view, ensure_ascii=False)))
    return view


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    except (ValueError, TypeError, RecursionError):  # a value read from a bundle may nest past the stack
        return f"(a {type(value).__name__} nested too deep to show)"


def diff_ops(expected: Any, actual: Any) -> dict[str, list[list[str]]]:
    """Expected and actual as text, cut into ``[op, text]`` runs: ``=`` same, ``-`` only expected, ``+`` only actual.

    Multi-line values are compared line by line; two alike strings character by character;
    anything else (numbers, unlike strings) as a whole.
    """
    left, right = _as_text(expected)[:SHOWN_BYTES], _as_text(actual)[:SHOWN_BYTES]
    by_line = "\n" in left or "\n" in right
    a: list[str] = left.splitlines(keepends=True) if by_line else list(left)
    b: list[str] = right.splitlines(keepends=True) if by_line else list(right)
    ops_left: list[list[str]] = []
    ops_right: list[list[str]] = []

    def add(ops: list[list[str]], op: str, text: str) -> None:
        if not text:
            return
        if ops and ops[-1][0] == op:
            ops[-1][1] += text
        else:
            ops.append([op, text])

    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if not by_line and (not isinstance(expected, str) or not isinstance(actual, str) or matcher.ratio() < 0.5):
        # Two numbers, or two unlike strings: characters they share by chance are no agreement.
        return {"expected": [["-", left]] if left else [], "actual": [["+", right]] if right else []}
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            add(ops_left, "=", "".join(a[i1:i2]))
            add(ops_right, "=", "".join(b[j1:j2]))
        else:
            add(ops_left, "-", "".join(a[i1:i2]))
            add(ops_right, "+", "".join(b[j1:j2]))
    return {"expected": ops_left, "actual": ops_right}
