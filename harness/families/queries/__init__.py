"""Person and vehicle queries: rules, the data-set matching and the ``dataset_answer`` check."""

from __future__ import annotations

from harness.extensions import FAMILIES, FormatFamily, PersonalField

__all__ = ["FAMILY"]

FAMILY = FormatFamily(
    name="queries",
    formats=("person-query/1.0", "person-result/1.0", "vehicle-query/1.0", "vehicle-result/1.0"),
    rule_modules=("harness.families.queries.rules",),
    check_modules=("harness.families.queries.checks",),
    # Search criteria and answers (queries.md), and the certification data set the test hook loads (the
    # same shapes): masked alike, a masked query still finds the masked record.
    personal=(
        PersonalField("/criteria/familyName", "name"),
        PersonalField("/criteria/givenName", "name"),
        PersonalField("/criteria/dateOfBirth", "date"),
        PersonalField("/matches/*/familyName", "name"),
        PersonalField("/matches/*/givenNames/*", "name"),
        PersonalField("/matches/*/dateOfBirth", "date"),
        PersonalField("/vrm", "vrm"),
        PersonalField("/vehicle/vrm", "vrm"),
        PersonalField("/persons/*/familyName", "name"),
        PersonalField("/persons/*/givenNames/*", "name"),
        PersonalField("/persons/*/dateOfBirth", "date"),
        PersonalField("/vehicles/*/vrm", "vrm"),
    ),
)
FAMILIES.add(FAMILY.name, FAMILY)
