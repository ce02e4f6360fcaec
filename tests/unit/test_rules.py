"""IR-01..IR-07 on hand-made JSON models, boundaries included; rules never raise on malformed shapes.

Each test starts from ``samples/valid/full.json`` (which breaks no rule) and
changes one thing. ``violations`` runs the whole rule set, so a test also
shows that no other rule fires.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.families.intel_report.rules import RULE_SET, created_date, parse_date_time, vrm_is_valid
from harness.families.rules import RULE_SETS, run_rules

FULL = Path(__file__).resolve().parents[2] / "fixtures/formats/intel-report/1.0/samples/valid/full.json"

Violation = tuple[str, tuple[str | int, ...]]


def full() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(FULL.read_text(encoding="utf-8"))
    return loaded


def violations(document: Any) -> set[Violation]:
    return {(rule_id, path) for rule_id, path, _ in run_rules("intel-report", document)}


def messages(document: Any) -> list[str]:
    return [message for _, _, message in run_rules("intel-report", document)]


def subject(doc: dict[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in doc["subjects"] if s["type"] == kind)
    return found


def test_the_full_sample_breaks_no_rule() -> None:
    assert violations(full()) == set()


def test_the_rule_set_has_the_seven_rules() -> None:
    run_rules(RULE_SET, {})  # loads the built-in rule sets
    assert [rule.id for rule in RULE_SETS[RULE_SET]] == [f"IR-0{n}" for n in range(1, 8)]
    assert all(rule.statement for rule in RULE_SETS[RULE_SET])


def test_run_rules_of_an_unknown_rule_set_yields_nothing() -> None:
    assert list(run_rules("no-such-rules", full())) == []


# --------------------------------------------------------------------------- IR-01


def test_ir01_handling_c_without_conditions() -> None:
    doc = full()
    del doc["grading"]["conditions"]
    assert violations(doc) == {("IR-01", ("grading",))}


def test_ir01_handling_c_with_empty_conditions() -> None:
    doc = full()
    doc["grading"]["conditions"] = ""
    assert violations(doc) == {("IR-01", ("grading", "conditions"))}


def test_ir01_handling_c_with_non_string_conditions() -> None:
    doc = full()
    doc["grading"]["conditions"] = 42
    assert violations(doc) == {("IR-01", ("grading", "conditions"))}


def test_ir01_handling_p_with_conditions() -> None:
    doc = full()
    doc["grading"]["handling"] = "P"
    assert violations(doc) == {("IR-01", ("grading", "conditions"))}


def test_ir01_handling_p_with_empty_conditions() -> None:
    doc = full()
    doc["grading"]["handling"] = "P"
    doc["grading"]["conditions"] = ""
    assert violations(doc) == {("IR-01", ("grading", "conditions"))}


def test_ir01_handling_p_without_conditions_passes() -> None:
    doc = full()
    doc["grading"]["handling"] = "P"
    del doc["grading"]["conditions"]
    assert violations(doc) == set()


def test_ir01_messages_name_the_handling_code() -> None:
    doc = full()
    del doc["grading"]["conditions"]
    (message,) = messages(doc)
    assert "C" in message and "conditions" in message


# --------------------------------------------------------------------------- IR-02


def test_ir02_duplicate_subject_id() -> None:
    doc = full()
    doc["subjects"].append({"id": "v1", "type": "person", "familyName": "JONES"})
    assert violations(doc) == {("IR-02", ("subjects", 4, "id"))}
    (message,) = messages(doc)
    assert "'v1'" in message


def test_ir02_every_repeat_is_reported() -> None:
    doc = full()
    doc["subjects"] += [{"id": "p1", "type": "location", "address": "x"} for _ in range(2)]
    assert violations(doc) == {("IR-02", ("subjects", 4, "id")), ("IR-02", ("subjects", 5, "id"))}


def test_ir02_ids_differing_in_case_are_distinct() -> None:
    doc = full()
    doc["subjects"].append({"id": "P1", "type": "person", "familyName": "JONES"})
    assert violations(doc) == set()


# --------------------------------------------------------------------------- IR-03


def test_ir03_dangling_to() -> None:
    doc = full()
    doc["links"][1]["to"] = "nobody"
    assert violations(doc) == {("IR-03", ("links", 1, "to"))}


def test_ir03_dangling_from() -> None:
    doc = full()
    doc["links"][2]["from"] = "ghost"
    assert violations(doc) == {("IR-03", ("links", 2, "from"))}


def test_ir03_both_ends_dangling() -> None:
    doc = full()
    doc["links"].append({"from": "x1", "to": "x2", "relation": "knows"})
    assert violations(doc) == {("IR-03", ("links", 3, "from")), ("IR-03", ("links", 3, "to"))}


def test_ir03_self_link() -> None:
    doc = full()
    doc["links"][0]["to"] = "p1"
    assert violations(doc) == {("IR-03", ("links", 0, "to"))}
    (message,) = messages(doc)
    assert "'p1'" in message


def test_ir03_empty_links_pass() -> None:
    doc = full()
    doc["links"] = []
    assert violations(doc) == set()
    del doc["links"]
    assert violations(doc) == set()


# --------------------------------------------------------------------------- IR-04


def test_ir04_date_of_birth_equal_to_created_date_passes() -> None:
    doc = full()
    subject(doc, "person")["dateOfBirth"] = "2026-03-14"
    assert violations(doc) == set()


def test_ir04_date_of_birth_the_day_after_created_fails() -> None:
    doc = full()
    subject(doc, "person")["dateOfBirth"] = "2026-03-15"
    assert violations(doc) == {("IR-04", ("subjects", 0, "dateOfBirth"))}


def test_ir04_created_date_is_the_local_date_of_its_offset() -> None:
    doc = full()
    doc["created"] = "2026-03-14T00:30:00+01:00"  # 2026-03-13T23:30Z, but the author wrote 14 March
    doc["subjects"][3]["occurred"] = "2026-03-13T22:15:00+00:00"
    assert created_date(doc) == dt.date(2026, 3, 14)
    subject(doc, "person")["dateOfBirth"] = "2026-03-14"
    assert violations(doc) == set()
    subject(doc, "person")["dateOfBirth"] = "2026-03-15"
    assert violations(doc) == {("IR-04", ("subjects", 0, "dateOfBirth"))}


def test_ir04_negative_offset_keeps_the_local_date() -> None:
    doc = full()
    doc["created"] = "2026-03-14T23:30:00-05:00"  # 2026-03-15T04:30Z
    doc["reviewBy"] = "2026-03-14"
    subject(doc, "person")["dateOfBirth"] = "2026-03-15"
    assert violations(doc) == {("IR-04", ("subjects", 0, "dateOfBirth"))}


@pytest.mark.parametrize(
    ("occurred", "fails"),
    [
        ("2026-03-14T09:30:00Z", False),
        ("2026-03-14T09:35:00Z", False),  # exactly 5 minutes after
        ("2026-03-14T09:35:00.000Z", False),
        ("2026-03-14T10:35:00+01:00", False),  # the same instant in another offset
        ("2026-03-14T09:35:01Z", True),  # 5 minutes and 1 second after
        ("2026-03-14T09:35:00.001Z", True),
        ("2026-03-14T10:35:01+01:00", True),
        ("2026-03-14T05:35:01-04:00", True),
        ("2026-03-15T00:00:00+23:00", False),  # 2026-03-14T01:00Z, long before
    ],
)
def test_ir04_event_skew_boundary(occurred: str, fails: bool) -> None:
    doc = full()
    subject(doc, "event")["occurred"] = occurred
    expected = {("IR-04", ("subjects", 3, "occurred"))} if fails else set()
    assert violations(doc) == expected


def test_ir04_both_kinds_at_once() -> None:
    doc = full()
    subject(doc, "person")["dateOfBirth"] = "2030-01-01"
    subject(doc, "event")["occurred"] = "2030-01-01T00:00:00Z"
    assert violations(doc) == {
        ("IR-04", ("subjects", 0, "dateOfBirth")),
        ("IR-04", ("subjects", 3, "occurred")),
    }


def test_ir04_is_silent_when_created_cannot_be_read() -> None:
    doc = full()
    doc["created"] = "yesterday"
    subject(doc, "person")["dateOfBirth"] = "2999-01-01"
    assert violations(doc) == set()


# --------------------------------------------------------------------------- IR-05


def test_ir05_review_on_the_created_date_passes() -> None:
    doc = full()
    doc["reviewBy"] = "2026-03-14"
    assert violations(doc) == set()


def test_ir05_review_the_day_before_fails() -> None:
    doc = full()
    doc["reviewBy"] = "2026-03-13"
    assert violations(doc) == {("IR-05", ("reviewBy",))}


def test_ir05_uses_the_local_date_of_created() -> None:
    doc = full()
    doc["created"] = "2026-03-14T00:30:00+01:00"
    doc["reviewBy"] = "2026-03-14"
    assert violations(doc) == set()
    doc["reviewBy"] = "2026-03-13"
    assert violations(doc) == {("IR-05", ("reviewBy",))}


def test_ir05_absent_review_passes() -> None:
    doc = full()
    del doc["reviewBy"]
    assert violations(doc) == set()


# --------------------------------------------------------------------------- IR-06


DVLA_VALID = [
    # current
    "AB12CDE",
    "AB12 CDE",
    "ZZ99ZZZ",
    # prefix
    "A1BCD",
    "A12BCD",
    "A123BCD",
    "A123 BCD",
    "A1 BCD",
    # suffix
    "ABC1D",
    "ABC12D",
    "ABC123D",
    "ABC 123D",
    "ABC 1D",
    # dateless
    "1A",
    "1234 ABC",
    "1234ABC",
    "12 AB",
    "A1",
    "ABC 1234",
    "ABC1234",
    "AB 12",
]

DVLA_INVALID = [
    "ab12cde",  # lower case
    "ab12 cde",
    "Ab12CDE",
    "AB12  CDE",  # two spaces
    "AB 12 CDE",  # two single spaces
    "AB12CDE\n",  # trailing newline
    "AB12CDE ",  # trailing space
    " AB12CDE",  # leading space
    "AB12\tCDE",  # tab
    "AB12-CDE",
    "",
    "AB123CDE",
    "ABCD1234",
    "12345 A",
    "A1234BCD",
    "ABC1234D",
    "AB12CDEF",
    "\uff21\uff22\uff11\uff12\uff23\uff24\uff25",  # full-width
    "AB\u0661\u0662CDE",  # Arabic-Indic digits
]


@pytest.mark.parametrize("vrm", DVLA_VALID)
def test_ir06_every_dvla_style_is_valid(vrm: str) -> None:
    assert vrm_is_valid(vrm)
    doc = full()
    subject(doc, "object")["vrm"] = vrm
    assert violations(doc) == set()


@pytest.mark.parametrize("vrm", DVLA_INVALID)
def test_ir06_invalid_vrm_fails(vrm: str) -> None:
    assert not vrm_is_valid(vrm)
    doc = full()
    subject(doc, "object")["vrm"] = vrm
    assert violations(doc) == {("IR-06", ("subjects", 1, "vrm"))}


@pytest.mark.parametrize("vrm", [123, None, ["AB12CDE"]], ids=["number", "null", "list"])
def test_ir06_non_string_vrm(vrm: Any) -> None:
    doc = full()
    subject(doc, "object")["vrm"] = vrm
    # null is no vrm at all (a vehicle then lacks one); anything else is not a registration mark
    expected_path: tuple[str | int, ...] = ("subjects", 1) if vrm is None else ("subjects", 1, "vrm")
    assert violations(doc) == {("IR-06", expected_path)}


def test_ir06_vehicle_without_vrm_fails() -> None:
    doc = full()
    del subject(doc, "object")["vrm"]
    assert violations(doc) == {("IR-06", ("subjects", 1))}


@pytest.mark.parametrize("object_type", ["weapon", "phone", "other"])
def test_ir06_non_vehicle_without_vrm_passes(object_type: str) -> None:
    doc = full()
    obj = subject(doc, "object")
    obj["objectType"] = object_type
    del obj["vrm"]
    assert violations(doc) == set()


def test_ir06_valid_vrm_on_other_object_passes() -> None:
    doc = full()
    doc["subjects"].append({"id": "o2", "type": "object", "objectType": "other", "vrm": "ABC1"})
    assert violations(doc) == set()


def test_ir06_invalid_vrm_on_a_phone_fails() -> None:
    doc = full()
    doc["subjects"].append({"id": "ph", "type": "object", "objectType": "phone", "vrm": "not a plate"})
    assert violations(doc) == {("IR-06", ("subjects", 4, "vrm"))}


def test_ir06_vrm_on_a_person_is_not_judged() -> None:
    doc = full()
    subject(doc, "person")["vrm"] = "lower"  # the schema refuses the member; IR-06 is about objects
    assert violations(doc) == set()


# --------------------------------------------------------------------------- IR-07


def test_ir07_location_without_address_or_point_fails() -> None:
    doc = full()
    location = subject(doc, "location")
    del location["address"], location["point"]
    assert violations(doc) == {("IR-07", ("subjects", 2))}


@pytest.mark.parametrize("keep", ["address", "point"])
def test_ir07_location_with_one_of_them_passes(keep: str) -> None:
    doc = full()
    location = subject(doc, "location")
    del location["point" if keep == "address" else "address"]
    assert violations(doc) == set()


def test_ir07_every_empty_location_is_reported() -> None:
    doc = full()
    doc["subjects"] += [{"id": f"l{n}", "type": "location"} for n in (2, 3)]
    assert violations(doc) == {("IR-07", ("subjects", 4)), ("IR-07", ("subjects", 5))}


# --------------------------------------------------------------------------- all at once


def test_every_rule_at_once() -> None:
    doc = full()
    doc["grading"]["handling"] = "P"  # IR-01
    doc["subjects"][2]["id"] = "p1"  # IR-02, and l1 now dangles (IR-03)
    subject(doc, "person")["dateOfBirth"] = "2027-01-01"  # IR-04
    doc["reviewBy"] = "2020-01-01"  # IR-05
    subject(doc, "object")["vrm"] = "ab12cde"  # IR-06
    doc["subjects"].append({"id": "l9", "type": "location"})  # IR-07
    assert violations(doc) == {
        ("IR-01", ("grading", "conditions")),
        ("IR-02", ("subjects", 2, "id")),
        ("IR-03", ("links", 1, "to")),
        ("IR-03", ("links", 2, "to")),
        ("IR-04", ("subjects", 0, "dateOfBirth")),
        ("IR-05", ("reviewBy",)),
        ("IR-06", ("subjects", 1, "vrm")),
        ("IR-07", ("subjects", 4)),
    }


# --------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("2026-03-14T09:30:00Z", True),
        ("2026-03-14T09:30:00z", True),
        ("2026-03-14T09:30:00+01:00", True),
        ("2026-03-14T09:30:00", False),  # no offset
        ("not a date", False),
        (20260314, False),
        (None, False),
    ],
)
def test_parse_date_time(value: Any, parsed: bool) -> None:
    result = parse_date_time(value)
    assert (result is not None) == parsed
    if result is not None:
        assert result.tzinfo is not None


# --------------------------------------------------------------------------- never raises


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["2026-03-14", "2026-03-14T09:30:00Z", "9999-12-31", "p1", "C", "P", "vehicle", "location"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=25,
)

_KEYS = st.sampled_from(
    ["created", "grading", "subjects", "links", "reviewBy", "handling", "conditions", "id", "type", "vrm"]
    + ["objectType", "dateOfBirth", "occurred", "address", "point", "from", "to"]
)

_SHAPED = st.recursive(
    _JSON,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_KEYS, children, max_size=6),
    max_leaves=30,
)


@st.composite
def broken_reports(draw: st.DrawFn) -> dict[str, Any]:
    """full.json with some members (top level, grading, a subject, a link) replaced by arbitrary values."""
    doc = full()
    for _ in range(draw(st.integers(1, 5))):
        value = draw(_SHAPED)
        target = draw(st.sampled_from(["top", "grading", "subject", "link"]))
        if target == "top":
            doc[draw(st.sampled_from(["created", "grading", "subjects", "links", "reviewBy"]))] = value
        elif target == "grading" and isinstance(doc.get("grading"), dict):
            doc["grading"][draw(st.sampled_from(["handling", "conditions"]))] = value
        elif target == "subject" and isinstance(doc.get("subjects"), list) and doc["subjects"]:
            index = draw(st.integers(0, len(doc["subjects"]) - 1))
            if isinstance(doc["subjects"][index], dict):
                key = draw(st.sampled_from(["id", "type", "vrm", "objectType", "dateOfBirth", "occurred", "address"]))
                doc["subjects"][index][key] = value
            else:
                doc["subjects"][index] = value
        elif target == "link" and isinstance(doc.get("links"), list) and doc["links"]:
            doc["links"][draw(st.integers(0, len(doc["links"]) - 1))] = value
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=_SHAPED | broken_reports())
def test_rules_never_raise_on_malformed_shapes(document: Any) -> None:
    found = list(run_rules("intel-report", document))
    assert isinstance(found, list)
    for rule_id, path, message in found:
        assert rule_id in {f"IR-0{n}" for n in range(1, 8)}
        assert isinstance(path, tuple)
        assert isinstance(message, str) and message


@pytest.mark.parametrize(
    "document",
    [
        None,
        [],
        "text",
        42,
        {"subjects": "nope"},
        {"subjects": [None, 1, "x", []]},
        {"subjects": [{"id": ["unhashable"], "type": "person"}], "links": [{"from": "a", "to": "b"}]},
        {"links": [None, {"from": {"a": 1}, "to": {"a": 1}}]},
        {"grading": "C"},
        {"grading": {"handling": ["C"]}},
        {"created": 5, "subjects": [{"type": "event", "occurred": "2026-03-14T09:30:00Z"}]},
        {"created": "2026-03-14T09:30:00Z", "subjects": [{"type": "event", "occurred": 12}]},
        {"created": "2026-03-14T09:30:00Z", "reviewBy": ["2026-03-14"]},
        {"subjects": [{"type": "location", "address": None}]},
    ],
)
def test_rules_never_raise_on_hand_made_malformed_shapes(document: Any) -> None:
    assert isinstance(list(run_rules("intel-report", document)), list)


def test_rules_never_raise_for_a_created_at_the_end_of_the_calendar() -> None:
    doc = {"created": "9999-12-31T23:58:00Z", "subjects": [{"type": "event", "occurred": "2026-03-14T09:30:00Z"}]}
    assert list(run_rules("intel-report", doc)) == []
