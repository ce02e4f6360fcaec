"""Renditions: one content model per format family, carried as JSON or XML.

A family declares (``FormatFamily.renditions``) how its XML rendition converts to the JSON model, how
paths in the model map to XPaths, and how content is compared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lxml import etree

from harness.extensions import family_member

__all__ = ["Family", "family"]

Path = tuple[str | int, ...]


@dataclass(slots=True, frozen=True)
class Family:
    name: str
    namespace: str
    prefix: str
    from_xml: Callable[[etree._Element], dict[str, Any]]
    to_xml: Callable[[dict[str, Any]], bytes]
    xpath: Callable[[Path], str]
    content_of: Callable[[dict[str, Any]], dict[str, Any]]


def family(name: str) -> Family | None:
    """The rendition family ``name`` (a format's ``family:``), or None when the format has a single rendition.

    A format family declares its renditions in its ``FormatFamily.renditions``.
    """
    found: Family | None = family_member("renditions", name)
    return found
