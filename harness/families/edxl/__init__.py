"""EDXL-DE 1.0 (the alerts envelope): distribution markings and what may travel (``rules``)."""

from __future__ import annotations

from harness.extensions import FAMILIES, FormatFamily

__all__ = ["FAMILY"]

FAMILY = FormatFamily(
    name="edxl-de",
    formats=("edxl-de/1.0",),
    rule_modules=("harness.families.edxl.rules",),
    check_modules=(),
    # The Ack is a new distribution: its id and time are the receiver's own.
    volatile=(
        "{urn:oasis:names:tc:emergency:EDXL:DE:1.0}distributionID",
        "{urn:oasis:names:tc:emergency:EDXL:DE:1.0}dateTimeSent",
    ),
)
FAMILIES.add(FAMILY.name, FAMILY)
