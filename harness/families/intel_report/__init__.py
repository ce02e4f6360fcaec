"""Intelligence reports: rules, the JSON/XML rendition and the ``content`` check."""

from __future__ import annotations

from harness.extensions import FAMILIES, FormatFamily, PersonalField

__all__ = ["FAMILY"]

FAMILY = FormatFamily(
    name="intel-report",
    formats=("intel-report/1.0", "intel-report-xml/1.0"),
    rule_modules=("harness.families.intel_report.rules",),
    check_modules=("harness.families.intel_report.checks",),
    renditions=(("intel-report", "harness.families.intel_report.rendition:RENDITION"),),
    # The POLE subjects (intel-report.md): people's names, dates of birth and aliases, vehicle marks, what
    # describes an object (a phone's number), addresses; in both renditions.
    personal=(
        PersonalField("/subjects/*/familyName", "name"),
        PersonalField("/subjects/*/givenNames/*", "name"),
        PersonalField("/subjects/*/aliases/*", "name"),
        PersonalField("/subjects/*/dateOfBirth", "date"),
        PersonalField("/subjects/*/vrm", "vrm"),
        PersonalField("/subjects/*/description", "text"),
        PersonalField("/subjects/*/address", "address"),
        PersonalField("{urn:netcode:intel-report:1.0}familyName", "name"),
        PersonalField("{urn:netcode:intel-report:1.0}givenName", "name"),
        PersonalField("{urn:netcode:intel-report:1.0}alias", "name"),
        PersonalField("{urn:netcode:intel-report:1.0}dateOfBirth", "date"),
        PersonalField("{urn:netcode:intel-report:1.0}vrm", "vrm"),
        PersonalField("{urn:netcode:intel-report:1.0}description", "text"),
        PersonalField("{urn:netcode:intel-report:1.0}address", "address"),
    ),
    volatile=("/receivedAt",),  # the receiver's clock in the ack
)
FAMILIES.add(FAMILY.name, FAMILY)
