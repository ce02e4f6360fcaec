"""The JSON and XML renditions of intel-report/1.0 carry the same content.

Properties over generated reports (:func:`tests.strategies.intel_reports`):
JSON -> XML -> JSON keeps the content, with and without a namespace prefix;
the XML is valid against schema.xsd; :func:`xpath` locates every leaf. Over
the fixtures: every JSON sample and the XML samples of the same ``reportId``
carry the same content, and each invalid XML sample breaks exactly what
``manifest.yaml`` says.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from lxml import etree

from harness.families.intel_report.rendition import NS, content_of, from_xml, to_xml, xpath
from harness.validation.xmlsafe import parse_xml
from tests.strategies import intel_reports

ROOT = Path(__file__).resolve().parents[2]
JSON_DIR = ROOT / "fixtures" / "formats" / "intel-report" / "1.0"
XML_DIR = ROOT / "fixtures" / "formats" / "intel-report-xml" / "1.0"
JSON_VALID = sorted((JSON_DIR / "samples" / "valid").glob("*.json"))
XML_VALID = sorted((XML_DIR / "samples" / "valid").glob("*.xml"))
XML_INVALID = XML_DIR / "samples" / "invalid"
NAMESPACES = {"ir": NS}

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- helpers


@cache
def json_validator() -> Any:
    """The compiled JSON schema of the JSON rendition."""
    return fastjsonschema.compile(json.loads((JSON_DIR / "schema.json").read_text(encoding="utf-8")))


@cache
def xml_schema() -> etree.XMLSchema:
    """schema.xsd, loaded without network access."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    return etree.XMLSchema(etree.parse(str(XML_DIR / "schema.xsd"), parser))


def xsd_errors(data: bytes) -> list[str]:
    """The schema.xsd errors of an XML document (empty when it is valid)."""
    schema = xml_schema()
    if schema.validate(parse_xml(data)):
        return []
    return str(schema.error_log).splitlines() or ["invalid"]


def load_json(path: Path) -> dict[str, Any]:
    """A JSON sample as the JSON model."""
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def load_xml(path: Path) -> dict[str, Any]:
    """An XML sample as the JSON model."""
    return from_xml(parse_xml(path.read_bytes()))


def leaf_paths(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Every (path, scalar) of a JSON model, extensions excluded."""
    if isinstance(value, dict):
        for key, member in value.items():
            if path == () and key == "extensions":
                continue
            yield from leaf_paths(member, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaf_paths(item, (*path, index))
    else:
        yield path, value


_VRM_STYLES = [
    re.compile(p)
    for p in (
        r"[A-Z]{2}[0-9]{2} ?[A-Z]{3}",
        r"[A-Z][0-9]{1,3} ?[A-Z]{3}",
        r"[A-Z]{3} ?[0-9]{1,3}[A-Z]",
        r"[0-9]{1,4} ?[A-Z]{1,3}",
        r"[A-Z]{1,3} ?[0-9]{1,4}",
    )
]


def broken_rules(doc: dict[str, Any]) -> set[str]:
    """IR-01..IR-07 as this test reads them: only to check the samples say what they break."""
    broken: set[str] = set()
    grading = doc["grading"]
    if (grading["handling"] == "C") != bool(grading.get("conditions")):
        broken.add("IR-01")
    ids = [s["id"] for s in doc["subjects"]]
    if len(ids) != len(set(ids)):
        broken.add("IR-02")
    for link in doc.get("links", []):
        if link["from"] not in ids or link["to"] not in ids or link["from"] == link["to"]:
            broken.add("IR-03")
    created = dt.datetime.fromisoformat(doc["created"])
    created_date = doc["created"][:10]
    for subject in doc["subjects"]:
        kind = subject["type"]
        if kind == "person" and subject.get("dateOfBirth", "") > created_date:
            broken.add("IR-04")
        if kind == "event" and dt.datetime.fromisoformat(subject["occurred"]) > created + dt.timedelta(minutes=5):
            broken.add("IR-04")
        if kind == "object":
            vrm = subject.get("vrm")
            if (vrm is None and subject["objectType"] == "vehicle") or (
                vrm is not None and not any(p.fullmatch(vrm) for p in _VRM_STYLES)
            ):
                broken.add("IR-06")
        if kind == "location" and "address" not in subject and "point" not in subject:
            broken.add("IR-07")
    if "reviewBy" in doc and doc["reviewBy"] < created_date:
        broken.add("IR-05")
    return broken


def minimal_doc() -> dict[str, Any]:
    """A small valid report to vary in the boundary tests."""
    return {
        "reportId": "00000000-0000-4000-8000-000000000000",
        "profile": "netcode.intel-report/1.0",
        "created": "2026-01-01T00:00:00Z",
        "originator": {"force": "kent", "system": "K"},
        "classification": "OFFICIAL",
        "grading": {"source": "A", "intelligence": 1, "handling": "P"},
        "subjects": [{"id": "l1", "type": "location", "point": {"lat": 51.5, "lon": 0}}],
        "text": "t",
    }


# --------------------------------------------------------------------------- properties


@PROPERTY
@given(intel_reports())
def test_generated_reports_are_valid_json(doc: dict[str, Any]) -> None:
    json_validator()(copy.deepcopy(doc))


@PROPERTY
@given(doc=intel_reports())
@pytest.mark.parametrize("prefix", [None, "ir"])
def test_json_xml_json_keeps_content(doc: dict[str, Any], prefix: str | None) -> None:
    data = to_xml(doc, prefix=prefix)
    root = parse_xml(data)
    if prefix is None:
        assert root.prefix is None
    else:
        assert data.count(b"xmlns=") == 0 and root.prefix == prefix
    back = from_xml(root)
    assert content_of(back) == content_of(doc)
    assert "extensions" not in back
    assert content_of(from_xml(parse_xml(to_xml(back)))) == content_of(doc)


@PROPERTY
@given(intel_reports())
def test_to_xml_is_schema_valid(doc: dict[str, Any]) -> None:
    data = to_xml(doc)
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert xsd_errors(data) == []


@PROPERTY
@given(intel_reports())
def test_xpath_locates_every_leaf(doc: dict[str, Any]) -> None:
    root = parse_xml(to_xml(doc, prefix="q"))
    for path, value in leaf_paths(doc):
        expr = xpath(path)
        found = root.xpath(expr, namespaces=NAMESPACES)
        assert isinstance(found, list) and len(found) == 1, (path, expr, found)
        node = found[0]
        if isinstance(node, etree._Element):
            if path[-1] == "type":
                assert etree.QName(node).localname == value
            else:
                assert "".join(str(t) for t in node.itertext()) == str(value), (path, expr)
        elif path[-1] in ("lat", "lon"):
            assert float(str(node)) == value
        else:
            assert str(node) == value, (path, expr)


# --------------------------------------------------------------------------- samples


def test_every_xml_sample_renders_a_json_sample() -> None:
    json_ids = {load_json(p)["reportId"] for p in JSON_VALID}
    assert {p.name for p in XML_VALID} >= {"full.xml", "minimal.xml", "vrm-styles.xml", "prefixed.xml"}
    for path in XML_VALID:
        assert load_xml(path)["reportId"] in json_ids, path.name


@pytest.mark.parametrize("path", XML_VALID, ids=lambda p: p.name)
def test_valid_xml_samples_are_schema_and_rule_valid(path: Path) -> None:
    assert xsd_errors(path.read_bytes()) == []
    assert broken_rules(load_xml(path)) == set()


@pytest.mark.parametrize("path", JSON_VALID, ids=lambda p: p.name)
def test_json_sample_and_xml_samples_carry_the_same_content(path: Path) -> None:
    doc = load_json(path)
    json_validator()(copy.deepcopy(doc))
    renditions = [p for p in XML_VALID if load_xml(p)["reportId"] == doc["reportId"]]
    assert renditions, f"no XML sample renders {path.name}"
    for xml_path in renditions:
        assert content_of(load_xml(xml_path)) == content_of(doc), xml_path.name
    data = to_xml(doc)
    assert xsd_errors(data) == []
    assert content_of(from_xml(parse_xml(data))) == content_of(doc)
    assert broken_rules(doc) == set()


def test_full_and_prefixed_samples() -> None:
    full = parse_xml((XML_DIR / "samples" / "valid" / "full.xml").read_bytes())
    extensions = full.find(f"{{{NS}}}extensions")
    assert extensions is not None and len(extensions) == 1
    assert etree.QName(extensions[0]).namespace not in (None, NS)
    assert "extensions" not in from_xml(full)
    data = (XML_DIR / "samples" / "valid" / "prefixed.xml").read_bytes()
    assert b"xmlns=" not in data
    assert parse_xml(data).prefix == "ir"


def test_invalid_samples_break_what_the_manifest_says() -> None:
    manifest = yaml.safe_load((XML_INVALID / "manifest.yaml").read_text(encoding="utf-8"))
    assert set(manifest) == {p.name for p in XML_INVALID.glob("*.xml")}
    for name, rules in manifest.items():
        data = (XML_INVALID / name).read_bytes()
        if rules == ["schema"]:
            assert xsd_errors(data), name
        else:
            assert xsd_errors(data) == [], name
            assert broken_rules(from_xml(parse_xml(data))) == set(rules), name


# --------------------------------------------------------------------------- schema bounds


def _set(doc: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    target: Any = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return doc


def _with_xml(xml: bytes, old: bytes, new: bytes) -> bytes:
    assert old in xml
    return xml.replace(old, new, 1)


def test_counts_at_their_bounds_are_valid() -> None:
    doc = minimal_doc()
    person = {"type": "person", "familyName": "X", "givenNames": ["a"] * 5, "aliases": ["", " "]}
    doc["subjects"] = [{"id": f"s{i}", **person} for i in range(100)]
    doc["links"] = [{"from": "s0", "to": "s1", "relation": "r" * 64}] * 200
    doc["text"] = "\U0001f600" * 8000
    assert xsd_errors(to_xml(doc)) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("subjects",), [{"id": f"s{i}", "type": "location", "address": "a"} for i in range(101)]),
        (("subjects", 0), {"id": "p", "type": "person", "familyName": "X", "givenNames": ["a"] * 6}),
        (("links",), [{"from": "a", "to": "b", "relation": "r"}] * 201),
        (("links",), [{"from": "a", "to": "b", "relation": "r" * 65}]),
        (("links",), [{"from": "a b", "to": "b", "relation": "r"}]),
        (("text",), "x" * 8001),
        (("text",), ""),
        (("reportId",), "00000000-0000-4000-8000-00000000000A"),
        (("originator", "force"), "Kent"),
        (("originator", "force"), " kent"),
        (("originator", "officerId"), "x" * 33),
        (("classification",), "OFFICIAL "),
        (("grading", "intelligence"), 6),
        (("grading", "intelligence"), 0),
        (("grading", "conditions"), ""),
        (("created",), "2026-01-01T00:00:00"),
        (("created",), "2026-01-01t00:00:00z"),
        (("created",), "2026-01-01T24:00:00Z"),
        (("reviewBy",), "2026-01-01Z"),
        (("reviewBy",), "2026-02-30"),
        (("subjects", 0, "point", "lat"), 90.000001),
        (("subjects", 0, "point", "lat"), float("nan")),
        (("subjects", 0, "point", "lon"), -180.5),
        (("subjects", 0, "point", "lon"), float("inf")),
        (("subjects", 0, "id"), "x" * 33),
        (("subjects", 0), {"id": "o", "type": "object", "objectType": "car"}),
        (("subjects", 0), {"id": "e", "type": "event", "occurred": "2026-01-01"}),
    ],
)
def test_out_of_bounds_values_are_schema_invalid(path: tuple[str | int, ...], value: Any) -> None:
    assert xsd_errors(to_xml(_set(minimal_doc(), path, value)))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b'profile="netcode.intel-report/1.0"', b'profile="netcode.intel-report/1.1"'),
        (b' profile="netcode.intel-report/1.0"', b""),
        (b"<text>", b"<extensions/><text>"),
        (b"</text>", b"</text><extensions><reviewBy>2026-01-01</reviewBy></extensions>"),
        (b"</text>", b"</text><extensions><x>1</x></extensions>"),
        (b'lat="51.5"', b'lat="INF"'),
        (b'lat="51.5"', b'lat="NaN"'),
    ],
)
def test_schema_refuses_structural_faults(old: bytes, new: bytes) -> None:
    assert xsd_errors(_with_xml(to_xml(minimal_doc()), old, new))


def test_schema_accepts_foreign_extensions_and_any_prefix() -> None:
    data = _with_xml(
        to_xml(minimal_doc(), prefix="a"),
        b"</a:text>",
        b'</a:text>\n  <a:extensions><e:x xmlns:e="urn:e"><e:y/></e:x><f:z xmlns:f="urn:f"/></a:extensions>',
    )
    assert xsd_errors(data) == []
    assert content_of(from_xml(parse_xml(data))) == content_of(minimal_doc())


# --------------------------------------------------------------------------- units


def test_content_of_compares_numbers_by_value_and_ignores_empty_arrays() -> None:
    a = minimal_doc()
    b = _set(minimal_doc(), ("subjects", 0, "point"), {"lat": 51.5, "lon": 0.0})
    b["links"] = []
    b["extensions"] = {"x.y": 1}
    b["subjects"].append({"id": "p", "type": "person", "familyName": "F", "givenNames": [], "aliases": []})
    a["subjects"].append({"id": "p", "type": "person", "familyName": "F"})
    assert content_of(a) == content_of(b)
    assert content_of(a)["subjects"][0]["point"]["lon"] == 0.0
    assert a["subjects"][0]["point"]["lon"] == 0  # the input is not changed
    assert content_of(a) != content_of(_set(copy.deepcopy(a), ("text",), " t"))


def test_from_xml_reads_integers_as_int_and_keeps_text_exactly() -> None:
    doc = _set(minimal_doc(), ("text",), "  <a & b>\n\t'\"  ")
    back = from_xml(parse_xml(to_xml(doc)))
    assert back["text"] == doc["text"]
    lon = back["subjects"][0]["point"]["lon"]
    assert lon == 0 and isinstance(lon, int)
    assert isinstance(back["subjects"][0]["point"]["lat"], float)
    assert back["grading"]["intelligence"] == 1


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ((), "/ir:intelReport"),
        (("profile",), "/ir:intelReport/@profile"),
        (("reportId",), "/ir:intelReport/ir:reportId"),
        (("subjects", 2, "dateOfBirth"), "/ir:intelReport/ir:subjects/*[3]/ir:dateOfBirth"),
        (("links", 0, "from"), "/ir:intelReport/ir:links/ir:link[1]/@from"),
        (("grading", "conditions"), "/ir:intelReport/ir:grading/ir:conditions"),
        (("subjects", 1, "point", "lat"), "/ir:intelReport/ir:subjects/*[2]/ir:point/@lat"),
        (("subjects", 0, "givenNames", 1), "/ir:intelReport/ir:subjects/*[1]/ir:givenName[2]"),
        (("subjects", 0, "aliases", 0), "/ir:intelReport/ir:subjects/*[1]/ir:alias[1]"),
        (("subjects", 0, "givenNames"), "/ir:intelReport/ir:subjects/*[1]"),
        (("subjects", 3, "id"), "/ir:intelReport/ir:subjects/*[4]/@id"),
        (("subjects", 3, "objectType"), "/ir:intelReport/ir:subjects/*[4]/@objectType"),
        (("subjects", 3, "type"), "/ir:intelReport/ir:subjects/*[4]"),
        (("subjects", 3, "bogus", 7), "/ir:intelReport/ir:subjects/*[4]"),
        (("subjects", "x"), "/ir:intelReport/ir:subjects"),
        (("links",), "/ir:intelReport/ir:links"),
        (("originator", "nope"), "/ir:intelReport/ir:originator"),
        (("extensions", "uk.police.x"), "/ir:intelReport/ir:extensions"),
        (("unknown",), "/ir:intelReport"),
    ],
)
def test_xpath_examples(path: tuple[str | int, ...], expected: str) -> None:
    assert xpath(path) == expected
