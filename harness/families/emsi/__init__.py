"""EMSI (TSO 2.0, JSON): schema only; no rules beyond the schema and no checks of its own."""

from __future__ import annotations

from harness.extensions import FAMILIES, FormatFamily

__all__ = ["FAMILY"]

FAMILY = FormatFamily(
    name="emsi",
    formats=("emsi/1.0",),
    rule_modules=(),
    check_modules=(),
)
FAMILIES.add(FAMILY.name, FAMILY)
