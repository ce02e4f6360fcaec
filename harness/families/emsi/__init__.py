"""EMSI (TSO 2.0, JSON): schema only; no rules beyond the schema and no checks of its own."""

from __future__ import annotations

from harness.extensions import FAMILIES, FormatFamily, PersonalField

__all__ = ["FAMILY"]

FAMILY = FormatFamily(
    name="emsi",
    formats=("emsi/1.0",),
    rule_modules=(),
    check_modules=(),
    # EMSI carries no caller block of its own: who called in is the originator (CONTEXT.ORIGIN) of the message.
    personal=(PersonalField("/CONTEXT/ORIGIN/NAME", "name"), PersonalField("/CONTEXT/ORIGIN/USER_ID", "text")),
    volatile=("/CONTEXT/ID", "/CONTEXT/CREATION"),  # the ACK's own id and time
)
FAMILIES.add(FAMILY.name, FAMILY)
