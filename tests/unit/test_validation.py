"""The validator: every error at once, never an exception, bounded input, strict RFC 3339, format detection.

``validator_for(fmt).validate(data)`` takes any bytes and returns a
:class:`Validation`; a JSON document that breaks several schema constraints
and several rules gets one finding per break, each at its own JSON Pointer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.catalog import Catalog
from harness.model import Format
from harness.validation.jsonschema import is_date, is_date_time
from harness.validation.validator import Validation, detect_format, validator_for

ROOT = Path(__file__).resolve().parents[2]
JSON_SAMPLES = ROOT / "fixtures/formats/intel-report/1.0/samples"
XML_SAMPLES = ROOT / "fixtures/formats/intel-report-xml/1.0/samples"
INTEL_FORMATS = ("intel-report/1.0", "intel-report-xml/1.0")
MIB = 1 << 20

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def full_report() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((JSON_SAMPLES / "valid/full.json").read_text(encoding="utf-8"))
    return loaded


def encode(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


@pytest.fixture
def json_format(catalog: Catalog) -> Format:
    return catalog.format("intel-report/1.0")


@pytest.fixture
def xml_format(catalog: Catalog) -> Format:
    return catalog.format("intel-report-xml/1.0")


# --------------------------------------------------------------------------- every error at once


def test_the_json_validator_reports_every_schema_error_and_every_rule_violation(json_format: Format) -> None:
    doc = full_report()
    # schema errors, each independent of the others
    doc["priority"] = "high"  # unknown top-level member
    doc["classification"] = "RESTRICTED"  # not in the enum
    del doc["text"]  # required member missing
    doc["originator"]["force"] = "West Yorkshire"  # pattern
    doc["subjects"][3]["colour"] = "red"  # member not allowed on an event
    doc["extensions"]["NoDots"] = 1  # extension key pattern
    # rule violations, each schema-valid
    doc["grading"]["handling"] = "P"  # IR-01: conditions with P
    doc["links"][0]["to"] = "nobody"  # IR-03: dangling link
    doc["subjects"][1]["vrm"] = "ab12 cde"  # IR-06: lower-case vrm
    doc["reviewBy"] = "2026-03-13"  # IR-05: before created

    result = validator_for(json_format).validate(encode(doc))

    found = {(finding.location, finding.rule) for finding in result.findings}
    assert found == {
        ("/priority", "schema"),
        ("/classification", "schema"),
        ("", "schema"),
        ("/originator/force", "schema"),
        ("/subjects/3/colour", "schema"),
        ("/extensions/NoDots", "schema"),
        ("/grading/conditions", "IR-01"),
        ("/links/0/to", "IR-03"),
        ("/subjects/1/vrm", "IR-06"),
        ("/reviewBy", "IR-05"),
    }, [f.as_dict() for f in result.findings]
    missing_text = [f for f in result.findings if f.location == "" and f.rule == "schema"]
    assert len(missing_text) == 1 and "text" in missing_text[0].message
    assert result.rules == {"schema", "IR-01", "IR-03", "IR-05", "IR-06"}
    assert all(finding.message for finding in result.findings)
    assert result.model is not None  # the model is kept, even when invalid


def test_several_errors_inside_one_subject_are_all_reported(json_format: Format) -> None:
    doc = full_report()
    person = doc["subjects"][0]
    person["familyName"] = ""  # minLength
    person["givenNames"] = ["A", "B", "C", "D", "E", "F"]  # maxItems
    person["dateOfBirth"] = "1980-02-30"  # format
    person["shoeSize"] = 9  # not allowed
    result = validator_for(json_format).validate(encode(doc))
    locations = {finding.location for finding in result.findings}
    assert locations == {
        "/subjects/0/familyName",
        "/subjects/0/givenNames",
        "/subjects/0/dateOfBirth",
        "/subjects/0/shoeSize",
    }, [f.as_dict() for f in result.findings]
    assert result.rules == {"schema"}


def test_each_error_is_reported_once(json_format: Format) -> None:
    doc = full_report()
    del doc["subjects"][0]["id"]
    result = validator_for(json_format).validate(encode(doc))
    schema_findings = [f for f in result.findings if f.rule == "schema"]
    assert len(schema_findings) == len(set(schema_findings)), [f.as_dict() for f in result.findings]


def test_the_same_errors_in_xml_are_all_reported_with_xpaths(xml_format: Format) -> None:
    data = (XML_SAMPLES / "invalid/several-rules.xml").read_bytes()
    result = validator_for(xml_format).validate(data)
    assert result.rules == {"IR-01", "IR-03", "IR-06"}
    assert all(finding.location.startswith("/ir:intelReport") for finding in result.findings)


# --------------------------------------------------------------------------- never raises


def _json_values() -> st.SearchStrategy[Any]:
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
    )
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=5),
            st.dictionaries(st.text(max_size=12), children, max_size=5),
        ),
        max_leaves=30,
    )


_MEMBERS = (
    "reportId",
    "profile",
    "created",
    "originator",
    "classification",
    "grading",
    "subjects",
    "links",
    "text",
    "reviewBy",
    "extensions",
)


@st.composite
def mutated_reports(draw: st.DrawFn) -> Any:
    """full.json with members replaced by arbitrary JSON values, at the top or inside a subject."""
    doc = full_report()
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        where = draw(st.sampled_from(("top", "subject", "grading", "link")))
        value = draw(_json_values())
        if where == "top":
            doc[draw(st.sampled_from(_MEMBERS))] = value
        elif where == "subject" and isinstance(doc.get("subjects"), list) and doc["subjects"]:
            index = draw(st.integers(min_value=0, max_value=len(doc["subjects"]) - 1))
            target = doc["subjects"][index]
            if isinstance(target, dict):
                key = draw(st.sampled_from(("id", "type", "vrm", "objectType", "dateOfBirth", "occurred", "point")))
                target[key] = value
            else:
                doc["subjects"][index] = value
        elif where == "grading" and isinstance(doc.get("grading"), dict):
            doc["grading"][draw(st.sampled_from(("handling", "conditions", "intelligence")))] = value
        elif where == "link" and isinstance(doc.get("links"), list) and doc["links"]:
            doc["links"][0] = value
    return doc


def _check_validation(fmt: Format, data: bytes) -> None:
    result = validator_for(fmt).validate(data)
    assert isinstance(result, Validation)
    assert result.format_id == fmt.id
    for finding in result.findings:
        assert isinstance(finding.message, str) and finding.message


@pytest.mark.parametrize("format_id", INTEL_FORMATS)
@FUZZ
@given(data=st.binary(max_size=2000))
def test_validate_never_raises_on_arbitrary_bytes(catalog: Catalog, format_id: str, data: bytes) -> None:
    _check_validation(catalog.format(format_id), data)


@pytest.mark.parametrize("format_id", INTEL_FORMATS)
@FUZZ
@given(text=st.text(max_size=500) | st.text(alphabet='{}[]":,0123456789.eE+-truefalsn \\u<>/!?=a', max_size=200))
def test_validate_never_raises_on_arbitrary_text(catalog: Catalog, format_id: str, text: str) -> None:
    _check_validation(catalog.format(format_id), text.encode("utf-8", "surrogatepass"))


@pytest.mark.parametrize("format_id", INTEL_FORMATS)
@FUZZ
@given(document=_json_values() | mutated_reports())
def test_validate_never_raises_on_arbitrary_json(catalog: Catalog, format_id: str, document: Any) -> None:
    _check_validation(catalog.format(format_id), json.dumps(document).encode("utf-8"))


# --------------------------------------------------------------------------- bounded input


def _padded(data: bytes, size: int) -> bytes:
    assert len(data) <= size
    return data + b" " * (size - len(data))


def test_a_message_of_exactly_the_limit_is_validated(json_format: Format) -> None:
    data = _padded((JSON_SAMPLES / "valid/full.json").read_bytes(), MIB)
    assert validator_for(json_format).validate(data).findings == ()


@pytest.mark.parametrize("format_id", INTEL_FORMATS)
def test_a_message_over_the_limit_gets_one_schema_finding_naming_the_limit(catalog: Catalog, format_id: str) -> None:
    fmt = catalog.format(format_id)
    sample = JSON_SAMPLES / "valid/full.json" if fmt.syntax == "json" else XML_SAMPLES / "valid/full.xml"
    data = _padded(sample.read_bytes(), MIB + 1)
    result = validator_for(fmt).validate(data)
    assert len(result.findings) == 1
    finding = result.findings[0]
    assert finding.rule == "schema"
    assert str(MIB) in finding.message
    assert result.model is None


def test_the_size_limit_finding_of_an_xml_format_has_an_xpath_location(xml_format: Format) -> None:
    data = _padded((XML_SAMPLES / "valid/full.xml").read_bytes(), MIB + 1)
    (finding,) = validator_for(xml_format).validate(data).findings
    assert finding.location.startswith("/")


@pytest.mark.parametrize(
    "data",
    [
        b'{"reportId": "a", "reportId": "b"}',
        b'{"a": {"x": 1, "x": 1}}',
        b'{"lat": NaN}',
        b'{"lat": Infinity}',
        b'{"lat": -Infinity}',
        b'{"text": "caf\xe9"}',
        b"\xff\xfe{}",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b"[" * 100_000,
        b"",
        b"{",
        b'{"a": 1} trailing',
    ],
    ids=[
        "duplicate-key",
        "nested-duplicate-key",
        "nan",
        "infinity",
        "minus-infinity",
        "invalid-utf8",
        "utf16-bom",
        "deep-arrays",
        "deep-objects",
        "deep-unclosed",
        "empty",
        "truncated",
        "trailing-garbage",
    ],
)
def test_unsafe_json_gives_a_schema_finding_not_an_exception(json_format: Format, data: bytes) -> None:
    result = validator_for(json_format).validate(data)
    assert len(result.findings) == 1
    assert result.findings[0].rule == "schema"
    assert result.findings[0].location == ""
    assert result.findings[0].message


def test_duplicate_key_finding_names_the_member(json_format: Format) -> None:
    result = validator_for(json_format).validate(b'{"reportId": "a", "reportId": "b"}')
    assert "reportId" in result.findings[0].message


def test_a_duplicate_key_in_an_otherwise_valid_report_is_refused(json_format: Format) -> None:
    text = (JSON_SAMPLES / "valid/full.json").read_text(encoding="utf-8")
    data = text.replace('"text":', '"text": "first", "text":', 1).encode("utf-8")
    result = validator_for(json_format).validate(data)
    assert result.rules == {"schema"}
    assert not result.valid


def test_a_huge_integer_literal_gives_a_finding_not_an_exception(json_format: Format) -> None:
    doc = full_report()
    data = encode(doc).replace(b'"intelligence": 2', b'"intelligence": ' + b"9" * 5000, 1)
    assert len(data) < MIB
    result = validator_for(json_format).validate(data)
    assert result.rules == {"schema"}


def test_a_created_at_the_end_of_time_gives_no_exception(json_format: Format) -> None:
    doc = full_report()
    doc["created"] = "9999-12-31T23:58:00Z"
    doc["reviewBy"] = "9999-12-31"
    result = validator_for(json_format).validate(encode(doc))
    assert result.findings == ()


def test_deep_xml_gives_a_schema_finding_not_an_exception(xml_format: Format) -> None:
    data = b"<a>" * 100_000 + b"</a>" * 100_000
    result = validator_for(xml_format).validate(data)
    assert len(result.findings) == 1
    assert result.findings[0].rule == "schema"
    assert result.findings[0].location == "/"


# --------------------------------------------------------------------------- RFC 3339


@pytest.mark.parametrize(
    "value",
    [
        "2026-03-14T09:30:00Z",
        "2026-03-14T09:30:00+01:00",
        "2026-03-14T09:30:00-05:30",
        "2026-03-14T09:30:00.123456Z",
        "2026-03-14t09:30:00z",
        "2024-02-29T12:00:00Z",
        "2026-12-31T23:59:59+00:00",
        "2026-03-14T00:00:00+23:59",
    ],
)
def test_is_date_time_accepts(value: str) -> None:
    assert is_date_time(value)


@pytest.mark.parametrize(
    "value",
    [
        "2026-03-14T09:30:00",  # no offset
        "2026-03-14T09:30:00.5",  # no offset
        "2026-03-14",  # a date
        "2026-02-30T09:30:00Z",  # February 30
        "2025-02-29T09:30:00Z",  # not a leap year
        "2026-13-01T09:30:00Z",  # month 13
        "2026-03-14T24:00:00Z",  # hour 24
        "2026-03-14T09:60:00Z",  # minute 60
        "2026-03-14T09:30:61Z",  # second 61
        "2026-03-14T09:30:00+24:00",  # offset hour 24
        "2026-03-14T09:30:00+01:60",  # offset minute 60
        "2026-03-14T09:30:00+0100",  # offset without colon
        "2026-03-14 09:30:00Z",  # no T
        "26-03-14T09:30:00Z",  # two-digit year
        "2026-3-14T09:30:00Z",  # one-digit month
        "",
    ],
)
def test_is_date_time_rejects(value: str) -> None:
    assert not is_date_time(value)


@pytest.mark.parametrize("value", ["2024-02-29", "2000-02-29", "2026-01-01", "2026-12-31"])
def test_is_date_accepts(value: str) -> None:
    assert is_date(value)


@pytest.mark.parametrize(
    "value",
    ["2026-02-30", "2025-02-29", "1900-02-29", "2026-13-01", "2026-00-10", "2026-01-00", "2026-3-1", "20260314", ""],
)
def test_is_date_rejects(value: str) -> None:
    assert not is_date(value)


@pytest.mark.parametrize(
    ("check", "value"),
    [
        pytest.param(is_date_time, "2026-03-14T09:30:00Z\n"),
        pytest.param(is_date, "2026-03-14\n"),
        pytest.param(
            is_date_time,
            "\u0662\u0660\u0662\u0666-03-14T09:30:00Z",
        ),
        pytest.param(
            is_date,
            "\u0662\u0660\u0662\u0666-\u0660\u0663-\u0661\u0664",
        ),
    ],
    ids=["date-time-newline", "date-newline", "date-time-arabic-digits", "date-arabic-digits"],
)
def test_rfc3339_checks_reject_trailing_newlines_and_non_ascii_digits(check: Any, value: str) -> None:
    assert not check(value)


def test_a_created_with_a_trailing_newline_is_a_schema_error(json_format: Format) -> None:
    doc = full_report()
    doc["created"] = "2026-03-14T09:30:00Z\n"
    result = validator_for(json_format).validate(encode(doc))
    assert ("/created", "schema") in {(f.location, f.rule) for f in result.findings}


def test_a_created_without_offset_is_a_schema_error(json_format: Format) -> None:
    doc = full_report()
    doc["created"] = "2026-03-14T09:30:00"
    result = validator_for(json_format).validate(encode(doc))
    assert {(f.location, f.rule) for f in result.findings} == {("/created", "schema")}


# --------------------------------------------------------------------------- detect_format


def _formats(catalog: Catalog) -> list[Format]:
    return list(catalog.formats.values())


@pytest.mark.parametrize(
    "name",
    sorted(p.name for p in (JSON_SAMPLES / "valid").iterdir()) + ["../invalid/several-rules.json"],
)
def test_detect_format_recognises_json_samples(catalog: Catalog, name: str) -> None:
    data = (JSON_SAMPLES / "valid" / name).read_bytes()
    detected = detect_format(_formats(catalog), data)
    assert detected is not None and detected.id == "intel-report/1.0"


@pytest.mark.parametrize(
    "name",
    sorted(p.name for p in (XML_SAMPLES / "valid").iterdir()) + ["../invalid/several-rules.xml"],
)
def test_detect_format_recognises_xml_samples(catalog: Catalog, name: str) -> None:
    data = (XML_SAMPLES / "valid" / name).read_bytes()
    detected = detect_format(_formats(catalog), data)
    assert detected is not None and detected.id == "intel-report-xml/1.0"


def test_detect_format_recognises_the_prefixed_xml_sample(catalog: Catalog) -> None:
    data = (XML_SAMPLES / "valid/prefixed.xml").read_bytes()
    assert b"<ir:intelReport" in data
    detected = detect_format(_formats(catalog), data)
    assert detected is not None and detected.id == "intel-report-xml/1.0"


def test_detect_format_recognises_json_with_leading_whitespace(catalog: Catalog) -> None:
    data = b"\n\t  " + (JSON_SAMPLES / "valid/minimal.json").read_bytes()
    detected = detect_format(_formats(catalog), data)
    assert detected is not None and detected.id == "intel-report/1.0"


@pytest.mark.parametrize(
    "data",
    [
        b"hello, this is plain text",
        b"",
        b"   ",
        b'{"profile": "netcode.other/1.0", "reportId": "x"}',
        b'{"reportId": "3f1c2a9e-7b4d-4e2a-9c1f-0a1b2c3d4e5f"}',
        b'["netcode.intel-report/1.0"]',
        b'{"profile": ',
        b'<?xml version="1.0"?><alert xmlns="urn:oasis:names:tc:emergency:cap:1.1"/>',
        b"<intelReport profile='netcode.intel-report/1.0'/>",
        b"<unclosed",
    ],
    ids=[
        "plain-text",
        "empty",
        "blank",
        "unknown-profile",
        "no-profile",
        "json-array",
        "truncated-json",
        "unknown-xml-root",
        "xml-root-without-namespace",
        "broken-xml",
    ],
)
def test_detect_format_returns_none_for_unknown_content(catalog: Catalog, data: bytes) -> None:
    assert detect_format(_formats(catalog), data) is None


def test_detect_format_recognises_json_with_a_utf8_bom(catalog: Catalog, json_format: Format) -> None:
    data = b"\xef\xbb\xbf" + (JSON_SAMPLES / "valid/full.json").read_bytes()
    assert validator_for(json_format).validate(data).valid
    detected = detect_format(_formats(catalog), data)
    assert detected is not None and detected.id == "intel-report/1.0"
