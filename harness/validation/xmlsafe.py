"""The one way the harness parses XML: no DTD, no entities, no network, bounded.

A DOCTYPE is refused before lxml sees the document, so nothing declared in
it (entities, external subsets) can be resolved or expanded; the parser is
configured to refuse them anyway, as a second wall.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

__all__ = ["MAX_DEPTH", "UnsafeXml", "parse_xml"]

MAX_DEPTH = 64
_XINCLUDE_NS = b"http://www.w3.org/2001/XInclude"
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)


class UnsafeXml(ValueError):
    """The document is refused as XML; the message says why, in one line."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
        collect_ids=False,
    )


def _as_utf8_prefix(data: bytes) -> bytes:
    """Bytes in which markup can be searched, whatever the document's BOM says."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16").encode("utf-8", "replace")
        except UnicodeDecodeError as exc:
            raise UnsafeXml(f"not well-formed: bad UTF-16 ({exc.reason})") from None
    return data


def parse_xml(data: bytes, max_depth: int = MAX_DEPTH) -> etree._Element:
    """Parse ``data`` into an element tree or raise :class:`UnsafeXml`.

    Refused: any DOCTYPE or entity declaration, XInclude, ``xsi:schemaLocation``
    hints are ignored (never fetched), elements nested deeper than ``max_depth``.
    """
    text = _as_utf8_prefix(data)
    if _DOCTYPE.search(text):
        raise UnsafeXml("a DOCTYPE is not allowed (DTDs and entities are refused)")
    if _ENTITY.search(text):
        raise UnsafeXml("an entity declaration is not allowed")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise UnsafeXml(f"not well-formed: {exc.msg}") from None
    except ValueError as exc:  # e.g. unicode strings with an encoding declaration
        raise UnsafeXml(f"not well-formed: {exc}") from None
    if root is None:
        raise UnsafeXml("not well-formed: empty document")
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise UnsafeXml("a DOCTYPE is not allowed (DTDs and entities are refused)")
    _check_tree(root, max_depth)
    return root


def _check_tree(root: etree._Element, max_depth: int) -> None:
    # iterwalk would re-parse; a manual stack keeps depth without recursion.
    stack: list[tuple[etree._Element, int]] = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > max_depth:
            raise UnsafeXml(f"elements nested deeper than {max_depth} levels")
        tag = element.tag
        if not isinstance(tag, str):
            if isinstance(element, etree._Entity):
                raise UnsafeXml("entity references are not allowed")
            continue
        if tag.startswith("{" + _XINCLUDE_NS.decode() + "}"):
            raise UnsafeXml("XInclude is not allowed")
        stack.extend((child, depth + 1) for child in element)
