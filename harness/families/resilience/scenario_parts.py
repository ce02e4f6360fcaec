"""The keys the resilience family adds to the scenario language (data only: loading the catalog imports no runner
code). The catalog adds each fragment to ``fixtures/schemas/scenario.schema.json`` as a step key; the fragments
may refer to that file's ``$defs``."""

from __future__ import annotations

from typing import Any

__all__ = ["DELIVER", "RESILIENCE"]

DELIVER: dict[str, Any] = {"$ref": "#/$defs/deliver"}
"""``deliver:`` (the sender role): the SUT triggered to send, the fault plan, the timeline judged."""

RESILIENCE: dict[str, Any] = {
    "description": "A receiver scenario's difficult client (specs/resilience.md, receiver_steps.py)",
    "type": "object",
    "additionalProperties": False,
    "required": ["action", "rule"],
    "properties": {
        "action": {"enum": ["concurrent", "sequence", "stall", "burst", "slow", "update-first"]},
        "rule": {"type": "string", "pattern": "^R[RS]-[0-9]{2}$"},
        "shed_rule": {"type": "string", "pattern": "^R[RS]-[0-9]{2}$"},
        "connections": {"type": "integer", "minimum": 2, "maximum": 64},
        "times": {"type": "integer", "minimum": 2, "maximum": 64},
        "messages": {"type": "integer", "minimum": 1, "maximum": 500},
        "retrieve": {"type": "string", "minLength": 1},
        "accept": {"type": "string"},
        "hold_s": {"type": "number", "exclusiveMinimum": 0, "maximum": 30},
        "settle_s": {"type": "number", "minimum": 0, "maximum": 30},
        "rate": {"type": "integer", "minimum": 1, "maximum": 100000},
        "lead_s": {"type": "number", "minimum": 0, "maximum": 30},
        "within_ms": {"type": "number", "exclusiveMinimum": 0},
        "p95_ms": {"type": "number", "exclusiveMinimum": 0},
        "original": {"$ref": "#/$defs/request"},
        "expect_original": {"$ref": "#/$defs/expect"},
    },
}
"""``resilience:`` (the receiver roles): the harness as the difficult client (receiver_steps)."""
