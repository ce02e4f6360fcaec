"""The cross-force check fixtures (spec ``queries.md``) are consistent with their schemas and the spec.

The certification data set validates against its own schema, and every record
in it, wrapped as a one-match answer, is a valid ``person-result/1.0`` or
``vehicle-result/1.0`` document. The data set holds the special records that
the spec and the ``checks-core`` suite rely on, checked by content. Every
valid sample of the four query formats is schema-valid; every invalid sample
that declares ``schema`` is schema-invalid, and one that declares only rules
checked in Python (PQ-01, VQ-01) is schema-valid.

Schemas are compiled here with fastjsonschema directly, not through the
harness, so that the fixtures are checked independently of the validator.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest
import yaml

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
DATASET_DIR = FIXTURES / "datasets" / "checks-core" / "1.0"
QUERY_FORMATS = ("person-query/1.0", "vehicle-query/1.0", "person-result/1.0", "vehicle-result/1.0")
PYTHON_RULES = {"PQ-01", "VQ-01"}

WARNING_MARKERS = {
    "violent",
    "weapons",
    "drugs",
    "escaper",
    "self-harm",
    "mental-health",
    "suicidal",
    "contagion",
    "ailment",
    "impersonates-police",
}
VEHICLE_MARKERS = {"stolen", "no-insurance", "no-mot", "of-interest"}
DVLA_STYLES = {
    "current": re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z]{3}$"),
    "prefix": re.compile(r"^[A-Z][0-9]{1,3}[A-Z]{3}$"),
    "suffix": re.compile(r"^[A-Z]{3}[0-9]{1,3}[A-Z]$"),
    "dateless": re.compile(r"^[0-9]{1,4}[A-Z]{1,3}$"),
    "reversed-dateless": re.compile(r"^[A-Z]{1,3}[0-9]{1,4}$"),
}
QUERY_ID = "0f1e2d3c-4b5a-4697-8877-665544332211"

Check = Callable[[Any], Any]


def _is_date(value: str) -> bool:
    """RFC 3339 full-date with a real calendar day."""
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


@cache
def _compiled(schema_path: Path) -> Check:
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    return fastjsonschema.compile(schema, formats={"date": _is_date})


def _format_check(format_id: str) -> Check:
    return _compiled(FIXTURES / "formats" / format_id / "schema.json")


def _schema_valid(check: Check, document: Any) -> bool:
    try:
        check(document)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def _dataset() -> dict[str, Any]:
    document = _load(DATASET_DIR / "dataset.json")
    assert isinstance(document, dict)
    return document


def _persons() -> list[dict[str, Any]]:
    return list(_dataset()["persons"])


def _vehicles() -> list[dict[str, Any]]:
    return list(_dataset()["vehicles"])


def _fold(name: str) -> str:
    return name.strip().casefold()


def _label(record: dict[str, Any]) -> str:
    if "vrm" in record:
        return str(record["vrm"])
    return f"{record['familyName']}-{'-'.join(record['givenNames'])}-{record['dateOfBirth']}"


# --------------------------------------------------------------------------- the data set


def test_the_data_set_validates_against_its_schema() -> None:
    check = _compiled(DATASET_DIR / "schema.json")
    check(_dataset())


def test_the_data_set_schema_refuses_a_spaced_vrm_and_an_unknown_marker() -> None:
    check = _compiled(DATASET_DIR / "schema.json")
    vehicle = {"vrm": "AB12 CDE", "make": "Ford", "model": "Focus", "colour": "Red", "markers": []}
    assert not _schema_valid(check, {"persons": [], "vehicles": [vehicle]})
    person = dict(_persons()[0], warningMarkers=["dangerous"])
    assert not _schema_valid(check, {"persons": [person], "vehicles": []})
    assert not _schema_valid(check, {"persons": [], "vehicles": [], "extra": []})


@pytest.mark.parametrize("person", _persons(), ids=_label)
def test_each_person_is_a_valid_person_result_match(person: dict[str, Any]) -> None:
    document = {"queryId": QUERY_ID, "profile": "netcode.person-result/1.0", "status": "match", "matches": [person]}
    _format_check("person-result/1.0")(document)


@pytest.mark.parametrize("vehicle", _vehicles(), ids=_label)
def test_each_vehicle_is_a_valid_vehicle_result_match(vehicle: dict[str, Any]) -> None:
    document = {"queryId": QUERY_ID, "profile": "netcode.vehicle-result/1.0", "status": "match", "vehicle": vehicle}
    _format_check("vehicle-result/1.0")(document)


def test_the_data_set_is_large_enough() -> None:
    assert len(_persons()) >= 20
    assert len(_vehicles()) >= 20


def test_text_is_in_nfc() -> None:
    for person in _persons():
        for name in [person["familyName"], *person["givenNames"]]:
            assert unicodedata.is_normalized("NFC", name), name


def test_two_smiths_differ_in_date_of_birth_and_a_third_has_another_given_name() -> None:
    smiths = [p for p in _persons() if _fold(p["familyName"]) == "smith"]
    johns = [p for p in smiths if "john" in {_fold(g) for g in p["givenNames"]}]
    assert len({p["dateOfBirth"] for p in johns}) >= 2, "two SMITHs called John must differ in date of birth"
    assert any("john" not in {_fold(g) for g in p["givenNames"]} for p in smiths), "a SMITH not called John"


def test_a_family_name_with_an_apostrophe_and_one_with_a_hyphen() -> None:
    names = [p["familyName"] for p in _persons()]
    assert any("'" in name for name in names)
    hyphenated = [name for name in names if "-" in name]
    assert hyphenated
    assert any(_fold(name).startswith("smith-") for name in hyphenated), "SMITH-JONES, which must not match SMITH"


def test_non_ascii_given_names() -> None:
    given = {g for p in _persons() for g in p["givenNames"]}
    assert {"Zoë", "Siân", "Łukasz"} <= given
    assert sum(1 for name in given if not name.isascii()) >= 3


def test_two_persons_share_family_name_and_date_of_birth_with_different_given_names() -> None:
    seen: dict[tuple[str, str], set[tuple[str, ...]]] = {}
    for person in _persons():
        key = (_fold(person["familyName"]), person["dateOfBirth"])
        seen.setdefault(key, set()).add(tuple(_fold(g) for g in person["givenNames"]))
    assert any(len(given) >= 2 for given in seen.values())


def test_family_names_are_stored_in_upper_and_in_mixed_case() -> None:
    names = [p["familyName"] for p in _persons()]
    assert any(name != name.upper() and name != name.lower() for name in names), "a mixed-case family name"
    assert any(name == name.upper() for name in names), "an upper-case family name"


def test_every_warning_marker_is_used_and_some_persons_have_none() -> None:
    used = {marker for p in _persons() for marker in p["warningMarkers"]}
    assert used == WARNING_MARKERS
    assert any(not p["warningMarkers"] for p in _persons())


def test_source_forces_look_like_force_ids() -> None:
    forces = {p["sourceForce"] for p in _persons()}
    assert {"west-yorkshire", "met", "kent", "greater-manchester", "police-scotland"} <= forces


@pytest.mark.parametrize("style", list(DVLA_STYLES))
def test_each_dvla_style_has_at_least_two_vehicles(style: str) -> None:
    marks = [v["vrm"] for v in _vehicles() if DVLA_STYLES[style].match(v["vrm"])]
    assert len(marks) >= 2, (style, marks)


def test_every_vrm_is_a_mark_in_some_dvla_style_and_unique() -> None:
    marks = [v["vrm"] for v in _vehicles()]
    for mark in marks:
        assert any(style.match(mark) for style in DVLA_STYLES.values()), mark
    assert len({mark.replace(" ", "").upper() for mark in marks}) == len(marks)


def test_vehicle_markers_several_on_one_all_used_and_some_vehicles_without() -> None:
    vehicles = _vehicles()
    assert any(len(v["markers"]) >= 3 for v in vehicles)
    assert {marker for v in vehicles for marker in v["markers"]} == VEHICLE_MARKERS
    assert any(not v["markers"] for v in vehicles)


# --------------------------------------------------------------------------- samples


def _samples() -> list[tuple[str, Path, tuple[str, ...]]]:
    """(format id, sample path, declared rules); an empty rule tuple means a valid sample."""
    found: list[tuple[str, Path, tuple[str, ...]]] = []
    for format_id in QUERY_FORMATS:
        samples = FIXTURES / "formats" / format_id / "samples"
        found += [(format_id, path, ()) for path in sorted((samples / "valid").glob("*.json"))]
        manifest = yaml.safe_load((samples / "invalid" / "manifest.yaml").read_text(encoding="utf-8"))
        for path in sorted((samples / "invalid").glob("*.json")):
            found.append((format_id, path, tuple(str(rule) for rule in manifest[path.name])))
    return found


SAMPLES = _samples()


def _sample_id(sample: tuple[str, Path, tuple[str, ...]]) -> str:
    format_id, path, _ = sample
    return f"{format_id}:{path.parent.name}/{path.name}"


@pytest.mark.parametrize("format_id", QUERY_FORMATS)
def test_each_format_has_valid_and_invalid_samples_all_declared(format_id: str) -> None:
    samples = FIXTURES / "formats" / format_id / "samples"
    assert len(list((samples / "valid").glob("*.json"))) >= 3
    manifest = yaml.safe_load((samples / "invalid" / "manifest.yaml").read_text(encoding="utf-8"))
    files = {path.name for path in (samples / "invalid").glob("*.json")}
    assert files
    assert files == set(manifest), "manifest.yaml and the invalid samples differ"
    assert all(manifest[name] for name in files)


@pytest.mark.parametrize("sample", SAMPLES, ids=[_sample_id(s) for s in SAMPLES])
def test_sample_is_schema_valid_or_not_as_declared(sample: tuple[str, Path, tuple[str, ...]]) -> None:
    format_id, path, rules = sample
    document = _load(path)
    valid = _schema_valid(_format_check(format_id), document)
    if not rules or set(rules) <= PYTHON_RULES:
        assert valid, f"{path.name} must be schema-valid (declares {list(rules) or 'nothing'})"
    else:
        assert "schema" in rules, rules
        assert not valid, f"{path.name} declares schema but passes the schema"


@pytest.mark.parametrize(
    ("format_id", "name", "rules"),
    [
        ("person-query/1.0", "pq-01-purpose-missing.json", ["PQ-01"]),
        ("person-query/1.0", "pq-01-purpose-unknown.json", ["PQ-01"]),
        ("person-query/1.0", "schema-no-family-name.json", ["schema"]),
        ("person-query/1.0", "schema-unknown-member.json", ["schema"]),
        ("person-query/1.0", "schema-bad-query-id.json", ["schema"]),
        ("vehicle-query/1.0", "vq-01-bad-vrm.json", ["VQ-01"]),
        ("vehicle-query/1.0", "vq-01-two-spaces.json", ["VQ-01"]),
        ("vehicle-query/1.0", "pq-01-purpose-missing.json", ["PQ-01"]),
        ("vehicle-query/1.0", "schema-no-vrm.json", ["schema"]),
        ("person-result/1.0", "schema-match-without-matches.json", ["schema"]),
        ("person-result/1.0", "schema-no-trace-with-matches.json", ["schema"]),
        ("person-result/1.0", "schema-bad-marker.json", ["schema"]),
        ("vehicle-result/1.0", "schema-match-without-vehicle.json", ["schema"]),
        ("vehicle-result/1.0", "schema-vrm-with-space.json", ["schema"]),
        ("vehicle-result/1.0", "schema-no-trace-with-vehicle.json", ["schema"]),
    ],
)
def test_the_required_invalid_samples_exist(format_id: str, name: str, rules: list[str]) -> None:
    invalid = FIXTURES / "formats" / format_id / "samples" / "invalid"
    assert (invalid / name).is_file()
    manifest = yaml.safe_load((invalid / "manifest.yaml").read_text(encoding="utf-8"))
    assert manifest[name] == rules


@pytest.mark.parametrize("format_id", QUERY_FORMATS)
def test_format_manifest_names_json_and_detects_by_profile(format_id: str) -> None:
    manifest = yaml.safe_load((FIXTURES / "formats" / format_id / "format.yaml").read_text(encoding="utf-8"))
    assert manifest["id"] == format_id
    assert manifest["syntax"] == "json"
    assert manifest["media_types"] == ["application/json"]
    assert manifest["detect"] == {"profile": f"netcode.{format_id}"}
    expected_rules = {"person-query/1.0": "person-query", "vehicle-query/1.0": "vehicle-query"}.get(format_id)
    assert manifest.get("rules") == expected_rules
