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
    personal_fields=(
        PersonalField("person-query/1.0", "/criteria/familyName", "name"),
        PersonalField("person-query/1.0", "/criteria/givenName", "name"),
        PersonalField("person-query/1.0", "/criteria/dateOfBirth", "date"),
        PersonalField("person-result/1.0", "/matches/*/familyName", "name"),
        PersonalField("person-result/1.0", "/matches/*/givenNames/*", "name"),
        PersonalField("person-result/1.0", "/matches/*/dateOfBirth", "date"),
        PersonalField("vehicle-query/1.0", "/vrm", "vrm"),
        PersonalField("vehicle-result/1.0", "/vehicle/vrm", "vrm"),
        # The data set has no catalog format (queries.md, "Certification data set"): "dataset" names it here.
        PersonalField("dataset", "/persons/*/familyName", "name"),
        PersonalField("dataset", "/persons/*/givenNames/*", "name"),
        PersonalField("dataset", "/persons/*/dateOfBirth", "date"),
        PersonalField("dataset", "/vehicles/*/vrm", "vrm"),
    ),
)
FAMILIES.add(FAMILY.name, FAMILY)
