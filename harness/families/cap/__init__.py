"""CAP 1.2 (alerts): its rules, the reader of an alert's header, the ``cap_answer`` check."""

from __future__ import annotations

from harness.extensions import FAMILIES, FormatFamily

__all__ = ["FAMILY"]

FAMILY = FormatFamily(
    name="cap",
    formats=("cap/1.2",),
    rule_modules=("harness.families.cap.rules",),
    check_modules=("harness.families.cap.checks",),
)
FAMILIES.add(FAMILY.name, FAMILY)
