"""Strict, bounded JSON parsing: duplicate keys, NaN and deep nesting are refused."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_DEPTH", "UnsafeJson", "parse_json"]

MAX_DEPTH = 64


class UnsafeJson(ValueError):
    """The bytes are refused as JSON; the message says why, in one line."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):  # a member given twice: name the first repeated
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise UnsafeJson(f"duplicate member {key!r}")
            seen.add(key)
    return result


def _constant(name: str) -> Any:
    raise UnsafeJson(f"{name} is not a JSON number")


def _nesting_depth(text: str, limit: int) -> int:
    """Depth of brackets outside strings, stopping as soon as ``limit`` is passed."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif char in "]}":
            depth -= 1
    return deepest


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_constant)


def parse_json(data: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """Parse UTF-8 JSON ``data`` or raise :class:`UnsafeJson` with a one-line reason."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnsafeJson(f"not UTF-8: invalid byte at offset {exc.start}") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    # Scanning only when brackets are many keeps ordinary messages on the fast path.
    if text.count("[") + text.count("{") > max_depth and _nesting_depth(text, max_depth) > max_depth:
        raise UnsafeJson(f"nested deeper than {max_depth} levels")
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise UnsafeJson(f"not well-formed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except UnsafeJson:
        raise
    except RecursionError:
        raise UnsafeJson(f"nested deeper than {max_depth} levels") from None
    except ValueError as exc:  # e.g. an integer literal longer than Python converts
        raise UnsafeJson(f"not acceptable JSON: {str(exc).splitlines()[0]}") from None
