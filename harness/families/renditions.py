"""Renditions: one content model per format family, carried as JSON or XML.

A family registers how its XML rendition converts to the JSON model, how
paths in the model map to XPaths, and how content is compared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lxml import etree

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
    """The rendition family ``name``, or None when the format has a single rendition."""
    if name == "intel-report":
        from harness.families.intel_report import rendition as intel_report

        return Family(
            name=name,
            namespace=intel_report.NS,
            prefix="ir",
            from_xml=intel_report.from_xml,
            to_xml=intel_report.to_xml,
            xpath=intel_report.xpath,
            content_of=intel_report.content_of,
        )
    return None
