"""Resilience (specs/resilience.md): fault plans of the reference endpoints, the sender's delivery timeline, its checks;
the receiver scenarios' difficult client (receiver_steps, wire, checks).

A family without formats of its own: the messages are intelligence reports and CAP alerts; what it adds is
how a delivery of them is judged when the other side fails.
"""

from __future__ import annotations

from harness.extensions import FAMILIES, FormatFamily, ScenarioPart

__all__ = ["FAMILY"]

FAMILY = FormatFamily(
    name="resilience",
    formats=(),
    rule_modules=(),
    check_modules=("harness.families.resilience.sender_checks",),
    scenario_parts=(
        ScenarioPart(
            "step",
            "deliver",
            "harness.families.resilience.scenario_parts:DELIVER",
            "harness.families.resilience.sender_steps:run_deliver_step",
        ),
        ScenarioPart(
            "step",
            "resilience",
            "harness.families.resilience.scenario_parts:RESILIENCE",
            "harness.families.resilience.receiver_steps:run_step",
            checks_itself=True,
        ),
    ),
)
FAMILIES.add(FAMILY.name, FAMILY)
