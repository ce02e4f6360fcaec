"""Resilience (specs/resilience.md): fault plans of the reference endpoints, the sender's delivery timeline, its checks;
the receiver scenarios' difficult client (receiver_steps, wire, checks).

A family without formats of its own: the messages are intelligence reports and CAP alerts; what it adds is
how a delivery of them is judged when the other side fails.
"""

from __future__ import annotations

from harness.extensions import FAMILIES, FormatFamily

__all__ = ["FAMILY"]

FAMILY = FormatFamily(
    name="resilience",
    formats=(),
    rule_modules=(),
    check_modules=("harness.families.resilience.sender_checks",),
)
FAMILIES.add(FAMILY.name, FAMILY)
