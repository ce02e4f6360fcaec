"""EMSI (TSO 2.0, JSON): schema only; no rules beyond the schema and no checks of its own."""

from __future__ import annotations

from harness.extensions import FAMILIES, FormatFamily, PersonalField

__all__ = ["FAMILY"]

FAMILY = FormatFamily(
    name="emsi",
    formats=("emsi/1.0",),
    rule_modules=(),
    check_modules=(),
    # EMSI has no caller block: what it carries of a caller is the user who raised the message
    # (CONTEXT.ORIGIN.USER_ID; ORIGIN.NAME names the organisation) and the named places of the event and the
    # missions (POSITION.NAME: an address, "Quai des Célestins"). Coordinates are kept (docs/recordings.md).
    personal_fields=(
        PersonalField("emsi/1.0", "/CONTEXT/ORIGIN/USER_ID", "text"),
        PersonalField("emsi/1.0", "/EVENT/EGEO/*/POSITION/NAME", "address"),
        PersonalField("emsi/1.0", "/MISSION/*/POSITION/NAME", "address"),
    ),
    volatile=("/CONTEXT/ID", "/CONTEXT/CREATION"),  # the ACK's own id and time
)
FAMILIES.add(FAMILY.name, FAMILY)
