"""CAP 1.2 (alerts): its rules, the reader of an alert's header, the ``cap_answer`` check."""

from __future__ import annotations

from harness.extensions import FAMILIES, FormatFamily, PersonalField

__all__ = ["FAMILY"]

FAMILY = FormatFamily(
    name="cap",
    formats=("cap/1.2",),
    rule_modules=("harness.families.cap.rules",),
    check_modules=("harness.families.cap.checks",),
    personal_fields=(PersonalField("cap/1.2", "{urn:oasis:names:tc:emergency:cap:1.2}contact", "text"),),
    # An Ack or Error is a new alert: its identifier and sent time are the receiver's own.
    volatile=("{urn:oasis:names:tc:emergency:cap:1.2}identifier", "{urn:oasis:names:tc:emergency:cap:1.2}sent"),
)
FAMILIES.add(FAMILY.name, FAMILY)
