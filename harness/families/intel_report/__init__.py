"""Intelligence reports: rules, the JSON/XML rendition and the ``content`` check."""

from __future__ import annotations

from harness.extensions import FAMILIES, FormatFamily

__all__ = ["FAMILY"]

FAMILY = FormatFamily(
    name="intel-report",
    formats=("intel-report/1.0", "intel-report-xml/1.0"),
    rule_modules=("harness.families.intel_report.rules",),
    check_modules=("harness.families.intel_report.checks",),
    renditions=(("intel-report", "harness.families.intel_report.rendition:RENDITION"),),
)
FAMILIES.add(FAMILY.name, FAMILY)
