"""ESN / MCData: the binary codec (TS 24.282 clause 15), SDS builders and readers, the ``sds_*`` checks."""

from __future__ import annotations

from harness.extensions import FAMILIES, FormatFamily

__all__ = ["FAMILY"]

FAMILY = FormatFamily(
    name="esn",
    formats=(
        "mcdata-info/1.0",
        "mcdata-payload/1.0",
        "mcdata-sds/1.0",
        "mcdata-signalling/1.0",
        "mcptt-info/1.0",
        "mcptt-location-info/1.0",
    ),
    rule_modules=(),
    check_modules=("harness.families.esn.checks",),
)
FAMILIES.add(FAMILY.name, FAMILY)
