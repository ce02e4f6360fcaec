"""Person and vehicle queries: rules, the data-set matching and the ``dataset_answer`` check."""

from __future__ import annotations

from harness.extensions import FAMILIES, FormatFamily

__all__ = ["FAMILY"]

FAMILY = FormatFamily(
    name="queries",
    formats=("person-query/1.0", "person-result/1.0", "vehicle-query/1.0", "vehicle-result/1.0"),
    rule_modules=("harness.families.queries.rules",),
    check_modules=("harness.families.queries.checks",),
)
FAMILIES.add(FAMILY.name, FAMILY)
