"""Cross-force checks (spec `queries.md`): rules PQ-01 and VQ-01, and the matching rules.

The matching functions are the spec's rules written once; the reference force
answers with them and the checks-core suite derives its expected answers from
them and the certification data set.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from harness.families.intel_report.rules import vrm_is_valid
from harness.families.rules import RuleViolation, rule

__all__ = [
    "PURPOSES",
    "expected_person_result",
    "expected_vehicle_result",
    "match_persons",
    "match_vehicle",
    "vrm_key",
]

PURPOSES = ("investigation", "safeguarding", "intelligence", "vetting", "missing-person")
MAX_MATCHES = 50


def _purpose(document: Any) -> Iterator[RuleViolation]:
    requested = document.get("requestedBy") if isinstance(document, dict) else None
    if not isinstance(requested, dict):
        return
    purpose = requested.get("purpose")
    if purpose is None:
        yield ("requestedBy",), "a query must state its lawful purpose (requestedBy.purpose)"
    elif purpose not in PURPOSES:
        yield ("requestedBy", "purpose"), f"purpose {purpose!r} is not one of {', '.join(PURPOSES)}"


rule("person-query", "PQ-01", "a query carries a lawful purpose")(_purpose)
rule("vehicle-query", "PQ-01", "a query carries a lawful purpose")(_purpose)


@rule("vehicle-query", "VQ-01", "the vrm, upper-cased, is a UK registration mark in a DVLA style")
def vrm_is_a_mark(document: Any) -> Iterator[RuleViolation]:
    vrm = document.get("vrm") if isinstance(document, dict) else None
    if isinstance(vrm, str) and not vrm_is_valid(vrm.upper()):
        yield ("vrm",), f"vrm {vrm!r} is not a UK registration mark in any DVLA style"


# -- matching ------------------------------------------------------------------------


def _fold(text: str) -> str:
    return text.casefold()


def match_persons(persons: list[dict[str, Any]], criteria: dict[str, Any]) -> list[dict[str, Any]]:
    """Records that match: family name case-insensitive after trimming; given name equal
    (case-insensitively) to one of the record's; date of birth equal. At most 50."""
    family = _fold(str(criteria.get("familyName", "")).strip())
    given = criteria.get("givenName")
    born = criteria.get("dateOfBirth")
    found = []
    for person in persons:
        if _fold(str(person["familyName"]).strip()) != family:
            continue
        if given is not None and _fold(str(given)) not in {_fold(name) for name in person.get("givenNames", [])}:
            continue
        if born is not None and person.get("dateOfBirth") != born:
            continue
        found.append(person)
    return found[:MAX_MATCHES]


def vrm_key(vrm: str) -> str:
    """A mark as compared: upper case, spaces removed (`ab12 cde` is `AB12CDE`)."""
    return vrm.replace(" ", "").upper()


def match_vehicle(vehicles: list[dict[str, Any]], vrm: str) -> dict[str, Any] | None:
    key = vrm_key(vrm)
    return next((vehicle for vehicle in vehicles if vrm_key(vehicle["vrm"]) == key), None)


def expected_person_result(dataset: dict[str, Any], query: dict[str, Any]) -> dict[str, Any]:
    matches = match_persons(dataset["persons"], query["criteria"])
    return {
        "queryId": query["queryId"],
        "profile": "netcode.person-result/1.0",
        "status": "match" if matches else "no-trace",
        "matches": matches,
    }


def expected_vehicle_result(dataset: dict[str, Any], query: dict[str, Any]) -> dict[str, Any]:
    vehicle = match_vehicle(dataset["vehicles"], query["vrm"])
    return {
        "queryId": query["queryId"],
        "profile": "netcode.vehicle-result/1.0",
        "status": "match" if vehicle else "no-trace",
        "vehicle": vehicle,
    }
