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
    personal_fields=(
        PersonalField("intel-report/1.0", "/subjects/*/familyName", "name"),
        PersonalField("intel-report/1.0", "/subjects/*/givenNames/*", "name"),
        PersonalField("intel-report/1.0", "/subjects/*/aliases/*", "name"),
        PersonalField("intel-report/1.0", "/subjects/*/dateOfBirth", "date"),
        PersonalField("intel-report/1.0", "/subjects/*/vrm", "vrm"),
        PersonalField("intel-report/1.0", "/subjects/*/description", "text"),
        PersonalField("intel-report/1.0", "/subjects/*/address", "address"),
        # A location's point geolocates its address (GDPR art. 4(1) names location data): moved, still a point.
        PersonalField("intel-report/1.0", "/subjects/*/point/lat", "latitude"),
        PersonalField("intel-report/1.0", "/subjects/*/point/lon", "longitude"),
        PersonalField("intel-report-xml/1.0", "{urn:netcode:intel-report:1.0}familyName", "name"),
        PersonalField("intel-report-xml/1.0", "{urn:netcode:intel-report:1.0}givenName", "name"),
        PersonalField("intel-report-xml/1.0", "{urn:netcode:intel-report:1.0}alias", "name"),
        PersonalField("intel-report-xml/1.0", "{urn:netcode:intel-report:1.0}dateOfBirth", "date"),
        PersonalField("intel-report-xml/1.0", "{urn:netcode:intel-report:1.0}vrm", "vrm"),
        PersonalField("intel-report-xml/1.0", "{urn:netcode:intel-report:1.0}description", "text"),
        PersonalField("intel-report-xml/1.0", "{urn:netcode:intel-report:1.0}address", "address"),
        PersonalField("intel-report-xml/1.0", "{urn:netcode:intel-report:1.0}point@lat", "latitude"),
        PersonalField("intel-report-xml/1.0", "{urn:netcode:intel-report:1.0}point@lon", "longitude"),
    ),
    volatile=("/receivedAt",),  # the receiver's clock in the ack
)
FAMILIES.add(FAMILY.name, FAMILY)
