"""File distribution (esn 1.1): the rules MCD-14..17 on a decoded FD SIGNALLING PAYLOAD, and Metadata read.

Public API::

    fd_findings(located: Located) -> tuple[list[Judged], list[Judged]]   # (errors, warnings), each located
    read_metadata(value: bytes) -> tuple[Metadata, list[str]]            # the items, and why it is MCD-17

A :data:`Judged` is ``(octet, rule, message)``: the octet of the message where the fault starts.

- MCD-14 (error) an FD SIGNALLING PAYLOAD without a Payload IE: ``/octet/0``.
- MCD-15 (error) more than one Payload IE: at the second ``0x78`` (once, however many follow); the first
  Payload not FILEURL: at its content-type octet.
- MCD-16 (error) the FILEURL's data is not an absolute ``http``/``https`` URI of printable US-ASCII
  (RFC 1738/3986, **profile**): at the URL's first octet (the content-type octet when the URL is empty).
- MCD-17 (warning) Metadata ([282] 15.2.17) not UTF-8, or not readable as the profile reads it: the items
  ``file-selector`` (RFC 5547 selector attributes ``name:"..."``, ``size:N``, ``type:x/y``, ``hash:alg:..``),
  ``file-date``, ``file-availability:``, ``file-description:``, in that order, each at most once, separated
  by CRLF, LF or one SP; a bare selector list without the ``file-selector:`` keyword is read as the
  file-selector, with a warning. Located at the Metadata IE's ``0x79``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from harness.families.esn.errors import Fault
from harness.families.esn.mcdata import FdSignalling, FileUrl, Located

__all__ = ["MAX_PROBLEMS", "Judged", "Metadata", "fd_findings", "file_url_problem", "read_metadata"]

Judged = tuple[int, str, str]

MAX_PROBLEMS = 10
"""At most this many MCD-17 findings for one Metadata IE (a hostile one could repeat an item thousands of times)."""
_KEYWORDS = ("file-selector", "file-date", "file-availability", "file-description")
_SELECTOR_ATTRIBUTES = ("name", "size", "type", "hash")
_KEYWORD_AT = re.compile(r"(file-selector|file-date|file-availability|file-description|[A-Za-z][A-Za-z0-9-]*):")
_SEPARATOR = re.compile(r"\r\n|\n| ")


@dataclass(slots=True, frozen=True)
class Metadata:
    """What the harness reads from a Metadata IE (its octets stay the message's, byte for byte)."""

    name: str | None = None
    size: int | None = None
    type: str | None = None
    hash: str | None = None
    date: str | None = None
    availability: str | None = None
    description: str | None = None


def _item_end(text: str, start: int, keyword: str) -> int:
    """Where the item whose value starts at ``start`` ends: before a separator followed by a known keyword
    (outside a quoted name, for the selector), or at the end."""
    quoted = False
    position = start
    while position < len(text):
        char = text[position]
        if char == '"' and keyword == "file-selector":
            quoted = not quoted
        elif not quoted and (match := _SEPARATOR.match(text, position)) is not None:
            after = match.end()
            if any(text.startswith(kw + ":", after) for kw in _KEYWORDS):
                return position
            position = after
            continue
        position += 1
    return len(text)


def _selector(value: str, problems: list[str]) -> dict[str, str | int]:
    """RFC 5547 selector attributes ``name:"..." size:N type:x/y hash:alg:...``, separated by spaces."""
    found: dict[str, str | int] = {}
    position = 0
    while position < len(value) and len(problems) < MAX_PROBLEMS:
        if value[position] == " ":
            position += 1
            continue
        colon, space = value.find(":", position), value.find(" ", position)
        name = value[position:colon] if colon >= 0 and (space < 0 or colon < space) else ""
        if name not in _SELECTOR_ATTRIBUTES:
            problems.append(f"file-selector: {value[position : position + 24]!r} is not a selector attribute")
            break
        start = colon + 1
        if name == "name" and value.startswith('"', start):
            end = value.find('"', start + 1)
            if end < 0:
                problems.append("file-selector: the name's closing quote is missing")
                break
            found["name"], position = value[start + 1 : end], end + 1
            continue
        end = value.find(" ", start)
        end = len(value) if end < 0 else end
        text = value[start:end]
        if name in found:
            problems.append(f"file-selector: {name} repeated")
        elif name == "size":
            if text.isascii() and text.isdigit():
                found["size"] = int(text)
            else:
                problems.append(f"file-selector: size {text!r} is not a decimal integer")
        else:
            found[name] = text
        position = end
    return found


def read_metadata(value: bytes) -> tuple[Metadata, list[str]]:
    """The items of a Metadata IE, and every reason it is not readable as the profile reads it (MCD-17)."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Metadata(), [f"not UTF-8 at octet {exc.start} of the value ({exc.reason})"]
    problems: list[str] = []
    items: dict[str, str] = {}
    rank = -1
    position = 0
    while position < len(text) and len(problems) < MAX_PROBLEMS:
        separator = _SEPARATOR.match(text, position)
        if separator is not None:
            position = separator.end()
            continue
        match = _KEYWORD_AT.match(text, position)
        keyword = match[1] if match is not None else ""
        if keyword not in _KEYWORDS:
            if not items and rank < 0 and (keyword in _SELECTOR_ATTRIBUTES or text.startswith('"', position)):
                problems.append("a bare selector list without the file-selector: keyword")
                keyword, start = "file-selector", position
            else:
                shown = keyword or text[position : position + 24]
                problems.append(
                    f"unknown item {shown!r} (file-selector, file-date, file-availability, file-description)"
                )
                end = _item_end(text, position, "")
                position = end
                continue
        else:
            start = match.end() if match is not None else position
        order = _KEYWORDS.index(keyword)
        if keyword in items:
            problems.append(f"{keyword} repeated")
        elif order < rank:
            problems.append(f"{keyword} out of order (the order is {', '.join(_KEYWORDS)})")
        rank = max(rank, order)
        end = _item_end(text, start, keyword)
        items.setdefault(keyword, text[start:end].strip(" "))
        position = end
    selector = _selector(items.get("file-selector", ""), problems)
    if len(problems) >= MAX_PROBLEMS:
        problems[MAX_PROBLEMS - 1 :] = ["... and more (reading stopped)"]
    size = selector.get("size")
    return (
        Metadata(
            name=str(selector["name"]) if "name" in selector else None,
            size=size if isinstance(size, int) else None,
            type=str(selector["type"]) if "type" in selector else None,
            hash=str(selector["hash"]) if "hash" in selector else None,
            date=items.get("file-date"),
            availability=items.get("file-availability"),
            description=items.get("file-description"),
        ),
        problems,
    )


def file_url_problem(url: bytes) -> str | None:
    """Why ``url`` is not an absolute ``http``/``https`` URI of printable US-ASCII (MCD-16), or None."""
    if not url:
        return "the FILEURL is empty"
    bad = next((n for n, octet in enumerate(url) if not 0x21 <= octet <= 0x7E), None)
    if bad is not None:
        return f"octet {bad} of the URL (0x{url[bad]:02X}) is not printable US-ASCII"
    try:
        parts = urlsplit(url.decode("ascii"))
    except ValueError as exc:
        return f"not a URI ({exc})"
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return f"{url.decode('ascii')[:80]!r} is not an absolute http or https URI"
    return None


def fd_findings(located: Located) -> tuple[list[Judged], list[Judged]]:
    """MCD-14..16 (errors) and MCD-17 (warnings) of an FD SIGNALLING PAYLOAD; nothing for another message."""
    message = located.message
    if not isinstance(message, FdSignalling):
        return [], []
    errors: list[Judged] = []
    warnings: list[Judged] = []
    offsets = located.offsets("payloads")
    if not message.payloads:
        errors.append(
            (0, str(Fault.FD_NO_PAYLOAD), "an FD SIGNALLING PAYLOAD over HTTP carries the file's URL in a Payload IE")
        )
    if len(offsets) > 1:  # located at the second 78 (the spec), once however many follow
        repeated = f"{len(offsets)} Payload IEs: an FD message carries exactly one (the second starts here)"
        errors.append((offsets[1], str(Fault.FD_PAYLOAD), repeated))
    if message.payloads:
        first = message.payloads[0]
        if not isinstance(first, FileUrl):
            kind = first.content_type
            text = f"the Payload's content type is {int(kind)} ({kind.name}), not 4 (FILEURL)"
            errors.append((offsets[0] + 3, str(Fault.FD_PAYLOAD), text))
        elif (why := file_url_problem(bytes(first.data))) is not None:
            errors.append((offsets[0] + (4 if first.data else 3), str(Fault.FD_URL), why))
    if message.metadata is not None:
        _, problems = read_metadata(bytes(message.metadata))
        at = located.offsets("metadata")[0]
        warnings += [(at, str(Fault.METADATA), f"Metadata: {problem}") for problem in problems]
    return errors, warnings
