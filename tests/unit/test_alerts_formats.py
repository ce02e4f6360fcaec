"""cap/1.2, edxl-de/1.0 and emsi/1.0: CAP-01..CAP-07, nested validation of EDXL-DE contents, detection,
the catalog's ``embedded`` key, and the Government Security Classification mapping of envelopes.

CAP rule tests start from ``samples/valid/road-closure.xml`` (which breaks no rule) and change one thing;
``findings`` runs the whole rule set, so a test also shows that no other rule fires.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from harness.catalog import Catalog, default_fixtures, read_catalog
from harness.families.cap import rules as cap_rules
from harness.families.cap.rules import cap_timestamp
from harness.families.edxl import rules as edxl
from harness.families.edxl.rules import Tier, distribution_markings, first_refused, gsc_tier, marking_permitted
from harness.families.rules import RULE_SETS, rules_in_force, run_rules
from harness.model import CatalogError, Format
from harness.validation.validator import XPATH_PREFIXES, detect_format, validator_for
from harness.validation.xmlsafe import parse_xml
from tests.alerts_mutations import variants

ROOT = Path(__file__).resolve().parents[2]
FORMATS = ROOT / "fixtures/formats"
CAP = "urn:oasis:names:tc:emergency:cap:1.2"
DE = "urn:oasis:names:tc:emergency:EDXL:DE:1.0"
IR = "urn:netcode:intel-report:1.0"
NAMESPACES = {"cap": CAP, "de": DE, "ir": IR}
ROAD_CLOSURE = FORMATS / "cap/1.2/samples/valid/road-closure.xml"
ENVELOPE = FORMATS / "edxl-de/1.0/samples/valid/cap-and-intel-report.xml"
CONTENT = "/de:EDXLDistribution/de:contentObject[{n}]/de:xmlContent/de:embeddedXMLContent"


def q(local: str, namespace: str = CAP) -> str:
    return f"{{{namespace}}}{local}"


def road_closure() -> etree._Element:
    return parse_xml(ROAD_CLOSURE.read_bytes())


def findings(root: etree._Element) -> set[tuple[str, str]]:
    return {(rule_id, str(path)) for rule_id, path, _ in run_rules("cap", root)}


def rules_of(root: etree._Element) -> set[str]:
    return {rule_id for rule_id, _ in findings(root)}


def child(parent: etree._Element, local: str, text: str | None = None, before: str | None = None) -> etree._Element:
    """Set (or add, before the element ``before``) the child ``local`` of ``parent``."""
    element = parent.find(q(local))
    if element is None:
        element = etree.Element(q(local))
        anchor = parent.find(q(before)) if before else None
        if anchor is not None:
            anchor.addprevious(element)
        else:
            parent.append(element)
    element.text = text
    return element


def info(root: etree._Element) -> etree._Element:
    found = root.find(q("info"))
    assert found is not None
    return found


def area(root: etree._Element) -> etree._Element:
    found = info(root).find(q("area"))
    assert found is not None
    return found


# --------------------------------------------------------------------------- the rule set


def test_the_cap_rule_set_has_twelve_rules_with_their_severities_per_version() -> None:
    run_rules("cap", road_closure())
    assert [r.id for r in RULE_SETS["cap"]] == [f"CAP-{n:02}" for n in range(1, 13)]
    assert all(r.statement for r in RULE_SETS["cap"])
    in_1_0 = {r.id: str(severity) for r, severity in rules_in_force("cap", "1.0")}
    in_1_1 = {r.id: str(severity) for r, severity in rules_in_force("cap", "1.1")}
    assert in_1_0 == {f"CAP-0{n}": "error" for n in range(1, 8)}
    assert in_1_1 == {
        **{f"CAP-0{n}": "error" for n in range(1, 6)},
        "CAP-06": "warning",
        "CAP-07": "warning",
        **{f"CAP-{n:02}": "error" for n in range(8, 13)},
    }
    # A later version that changes nothing keeps 1.1's rules and severities.
    assert {r.id: str(severity) for r, severity in rules_in_force("cap", "1.2")} == in_1_1


@pytest.mark.parametrize("path", sorted((FORMATS / "cap/1.2/samples/valid").iterdir()), ids=lambda p: p.name)
def test_the_valid_samples_break_no_rule(path: Path) -> None:
    assert findings(parse_xml(path.read_bytes())) == set()


def test_a_tree_that_is_not_an_alert_breaks_no_rule() -> None:
    assert findings(parse_xml(b"<alert><identifier>a b</identifier></alert>")) == set()
    assert findings(parse_xml(ENVELOPE.read_bytes())) == set()


# --------------------------------------------------------------------------- CAP-01


@pytest.mark.parametrize("value", ["kent 01", "kent,01", "kent<01", "kent&01", "\tkent", "kent\n", ""])
@pytest.mark.parametrize("local", ["identifier", "sender"])
def test_cap_01_refuses_spaces_commas_lt_amp_and_empty(local: str, value: str) -> None:
    root = road_closure()
    child(root, local, value)
    assert findings(root) == {("CAP-01", f"/cap:alert/cap:{local}")}


@pytest.mark.parametrize("value", ["kent.police-01_a", "alerts@kent.police.uk", "urn:uuid:1234", "a/b:c;d"])
def test_cap_01_accepts_other_characters(value: str) -> None:
    root = road_closure()
    child(root, "identifier", value)
    assert findings(root) == set()


# --------------------------------------------------------------------------- CAP-02


@pytest.mark.parametrize(
    ("scope", "present", "expected"),
    [
        ("Restricted", {}, "/cap:alert/cap:scope"),
        ("Restricted", {"restriction": " "}, "/cap:alert/cap:restriction"),
        ("Restricted", {"addresses": "a@b"}, "/cap:alert/cap:scope"),
        ("Private", {}, "/cap:alert/cap:scope"),
        ("Private", {"restriction": "blue-light only"}, "/cap:alert/cap:scope"),
    ],
)
def test_cap_02_scope_needs_its_audience(scope: str, present: dict[str, str], expected: str) -> None:
    root = road_closure()
    child(root, "scope", scope)
    for local, text in present.items():
        child(root, local, text, before="code")
    assert ("CAP-02", expected) in findings(root)
    assert rules_of(root) <= {"CAP-02", "CAP-07"}


@pytest.mark.parametrize(("scope", "local"), [("Restricted", "restriction"), ("Private", "addresses")])
def test_cap_02_is_satisfied_by_a_non_empty_audience(scope: str, local: str) -> None:
    root = road_closure()
    child(root, "scope", scope)
    child(root, local, "blue-light services", before="code")
    assert findings(root) == set()


# --------------------------------------------------------------------------- CAP-03

GOOD = "alerts@kent.police.uk,kent-01,2026-04-17T07:45:00+01:00"


@pytest.mark.parametrize(
    "references",
    [
        "a@b,kent-01",
        "a@b,kent-01,2026-04-17T07:45:00+01:00,extra",
        ",kent-01,2026-04-17T07:45:00+01:00",
        "a@b,,2026-04-17T07:45:00+01:00",
        "a@b,kent-01,2026-04-17T07:45:00Z",
        "a@b,kent-01,2026-04-17T07:45:00",
        "a@b,kent-01,2026-13-17T07:45:00+01:00",
        "a@b,kent-01,2026-04-17T07:45:00+15:00",
        "a@b,kent-01,2026-04-17T07:45:00.5+01:00",
        f"{GOOD} a@b,kent-02,yesterday",
    ],
)
def test_cap_03_refuses_what_is_not_a_list_of_triples(references: str) -> None:
    root = road_closure()
    child(root, "references", references, before="incidents")
    assert findings(root) == {("CAP-03", "/cap:alert/cap:references")}


@pytest.mark.parametrize(
    "references",
    [GOOD, f"{GOOD} {GOOD.replace('kent-01', 'kent-02')}", f"  {GOOD}\n\t{GOOD}  ", GOOD.replace("07:45", "24:00")],
)
def test_cap_03_accepts_space_separated_triples(references: str) -> None:
    root = road_closure()
    child(root, "references", references, before="incidents")
    assert findings(root) == set()


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2026-04-17T07:45:00+01:00", "2026-04-17T06:45:00+00:00"),
        ("2026-04-17T07:45:00-00:00", "2026-04-17T07:45:00+00:00"),
        ("2026-04-17T24:00:00+00:00", "2026-04-18T00:00:00+00:00"),
    ],
)
def test_cap_timestamps_name_instants(text: str, instant: str) -> None:
    assert cap_timestamp(text) == dt.datetime.fromisoformat(instant)


@pytest.mark.parametrize("text", ["2026-04-17T07:45:00Z", "2026-02-30T07:45:00+00:00", "2026-04-17T07:45:60+00:00"])
def test_what_is_not_a_cap_timestamp(text: str) -> None:
    assert cap_timestamp(text) is None


# --------------------------------------------------------------------------- CAP-04


@pytest.mark.parametrize("msg_type", ["Update", "Cancel", "Ack", "Error"])
def test_cap_04_replies_need_references(msg_type: str) -> None:
    root = road_closure()
    child(root, "msgType", msg_type)
    assert findings(root) == {("CAP-04", "/cap:alert/cap:msgType")}
    child(root, "references", "", before="incidents")
    assert findings(root) == {("CAP-04", "/cap:alert/cap:references"), ("CAP-07", "/cap:alert/cap:references")}
    child(root, "references", GOOD)
    assert findings(root) == set()


# --------------------------------------------------------------------------- CAP-05


@pytest.mark.parametrize(
    "polygon",
    [
        "51.1,0.8 51.2,0.9 51.0,0.9",  # three pairs
        "51.1,0.8 51.2,0.9 51.0,0.9 51.1,0.8 51.1,0.9",  # not closed
        "51.1,0.8 51.2,0.9 51.0,0.9 51.1",  # a lone number
        "51.1,0.8 51.2,0.9,3 51.0,0.9 51.1,0.8",  # three numbers
        "91,0.8 51.2,0.9 51.0,0.9 91,0.8",  # latitude
        "51.1,-180.5 51.2,0.9 51.0,0.9 51.1,-180.5",  # longitude
        "1e1,0.8 51.2,0.9 51.0,0.9 1e1,0.8",  # not a decimal
        "NaN,0.8 51.2,0.9 51.0,0.9 NaN,0.8",
    ],
)
def test_cap_05_refuses_bad_polygons(polygon: str) -> None:
    root = road_closure()
    child(area(root), "polygon", polygon)
    assert findings(root) == {("CAP-05", "/cap:alert/cap:info/cap:area/cap:polygon")}


@pytest.mark.parametrize(
    "polygon",
    [
        "51.1,0.8 51.2,0.9 51.0,0.9 51.1,0.8",
        "51.10,0.8 51.2,0.9 51.0,0.9 51.1,0.800",  # the same pair, written differently
        "-90,-180 90,180 0,0 -90,-180",
        " 51.1,0.8\n51.2,0.9\t51.0,0.9 51.1,0.8 ",
    ],
)
def test_cap_05_accepts_closed_rings(polygon: str) -> None:
    root = road_closure()
    child(area(root), "polygon", polygon)
    assert findings(root) == set()


@pytest.mark.parametrize("circle", ["51.1,0.8", "51.1,0.8 -1", "51.1,0.8 1 2", "51.1 0.8 1", "95,0.8 1", "51,0.8 km"])
def test_cap_05_refuses_bad_circles(circle: str) -> None:
    root = road_closure()
    child(area(root), "circle", circle)
    assert findings(root) == {("CAP-05", "/cap:alert/cap:info/cap:area/cap:circle")}


def test_cap_05_locates_the_polygon_among_several() -> None:
    root = road_closure()
    info(root).addnext(copy.deepcopy(info(root)))
    polygon = area(root).find(q("polygon"))
    assert polygon is not None
    polygon.addnext(copy.deepcopy(polygon))
    polygon.text = "51.1,0.8 51.2,0.9 51.0,0.9"
    assert findings(root) == {("CAP-05", "/cap:alert/cap:info[1]/cap:area/cap:polygon[1]")}


# --------------------------------------------------------------------------- CAP-06


@pytest.mark.parametrize(
    ("effective", "expires"),
    [
        ("2026-04-17T08:00:00+01:00", "2026-04-17T08:00:00+01:00"),  # equal is not after
        ("2026-04-17T08:00:00+01:00", "2026-04-17T07:59:59+01:00"),
        ("2026-04-17T08:00:00+01:00", "2026-04-17T08:30:00+02:00"),  # 06:30Z is before 07:00Z
        (None, "2026-04-17T07:45:00+01:00"),  # equal to sent
        (None, "2026-04-17T06:00:00+00:00"),  # before sent (06:45Z)
    ],
)
def test_cap_06_expires_after_effective_or_sent(effective: str | None, expires: str) -> None:
    root = road_closure()
    element = info(root).find(q("effective"))
    assert element is not None
    if effective is None:
        info(root).remove(element)
    else:
        element.text = effective
    child(info(root), "expires", expires)
    assert findings(root) == {("CAP-06", "/cap:alert/cap:info/cap:expires")}


def test_cap_06_effective_wins_over_sent() -> None:
    root = road_closure()
    child(info(root), "effective", "2026-04-17T05:00:00+01:00")
    child(info(root), "expires", "2026-04-17T06:00:00+01:00")  # before sent, after effective
    assert findings(root) == set()


# --------------------------------------------------------------------------- CAP-07

OPTIONAL_LEAVES = [
    ("alert", "source"),
    ("alert", "code"),
    ("alert", "note"),
    ("alert", "incidents"),
    ("info", "language"),
    ("info", "audience"),
    ("info", "senderName"),
    ("info", "headline"),
    ("info", "description"),
    ("info", "instruction"),
    ("info", "web"),
    ("info", "contact"),
    ("resource", "uri"),
    ("resource", "digest"),
    ("area", "polygon"),
    ("area", "circle"),
]


@pytest.mark.parametrize("content", ["", "   \n\t", "<!-- only a comment -->"], ids=["empty", "blank", "comment"])
@pytest.mark.parametrize(("parent", "local"), OPTIONAL_LEAVES)
def test_cap_07_refuses_an_empty_optional_element(parent: str, local: str, content: str) -> None:
    root = road_closure()
    holder = next(root.iter(q(parent)))
    element = holder.find(q(local))
    assert element is not None
    element.text = None if content.startswith("<") else content
    if content.startswith("<"):
        element.append(etree.Comment(" only a comment "))
    assert {rule for rule, _ in findings(root)} == {"CAP-07"}
    (location,) = [where for rule, where in findings(root)]
    assert root.getroottree().xpath(location, namespaces=NAMESPACES) == [element]


@pytest.mark.parametrize(("parent", "local"), [("info", "event"), ("area", "areaDesc"), ("resource", "mimeType")])
def test_cap_07_leaves_required_elements_to_others(parent: str, local: str) -> None:
    root = road_closure()
    element = next(root.iter(q(parent))).find(q(local))
    assert element is not None
    element.text = ""
    assert findings(root) == set()


# --------------------------------------------------------------------------- rules never raise


def _odd_trees() -> list[etree._Element]:
    trees = [parse_xml(b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>')]
    odd = road_closure()
    odd.insert(0, etree.Comment("c"))
    odd.insert(1, etree.ProcessingInstruction("pi", "x"))
    area(odd).insert(1, etree.Element(q("polygon")))
    child(info(odd), "expires", "not a time")
    child(odd, "sent", "2026-04-17T24:00:00+14:00")
    child(odd, "references", "\u00a0,\u00a0,\u00a0")
    trees.append(odd)
    return trees


def test_rules_never_raise_on_thousands_of_broken_alerts() -> None:
    run_rules("cap", road_closure())
    checked = 0
    trees = _odd_trees() + [parse_xml(data) for _, data in variants("cap/1.2", 1500, seed=7)]
    for tree in trees:
        for item in RULE_SETS["cap"]:
            for location, message in item.check(tree):
                assert isinstance(location, str) and location.startswith("/cap:alert")
                assert message
            checked += 1
    assert checked == len(trees) * len(RULE_SETS["cap"])


# --------------------------------------------------------------------------- nested validation (EDXL-DE)


def _envelope(change: Callable[[etree._Element], None]) -> bytes:
    root = parse_xml(ENVELOPE.read_bytes())
    change(root)
    return etree.tostring(root)


def _alert_in(root: etree._Element, n: int = 1) -> etree._Element:
    found = root.xpath(f"({CONTENT.format(n=n)})/cap:alert", namespaces=NAMESPACES)
    assert isinstance(found, list) and isinstance(found[0], etree._Element)
    return found[0]


def test_the_envelope_format_embeds_cap_and_intel_reports(catalog: Catalog) -> None:
    fmt = catalog.format("edxl-de/1.0")
    assert [inner.id for inner in fmt.embedded] == ["cap/1.2", "intel-report-xml/1.0"]
    assert fmt.embedded_in == f"{{{DE}}}embeddedXMLContent"
    assert all(not inner.embedded for inner in fmt.embedded)
    assert catalog.format("cap/1.2").embedded == ()


def test_a_rule_broken_inside_the_second_content_object_is_located_there(catalog: Catalog) -> None:
    def swap_and_break(root: etree._Element) -> None:
        first, second = root.findall(q("contentObject", DE))
        second.addnext(first)  # the CAP alert is now in contentObject[2]
        _alert_in(root, 2).find(q("msgType")).text = "Update"  # type: ignore[union-attr]

    data = _envelope(swap_and_break)
    result = validator_for(catalog.format("edxl-de/1.0")).validate(data)
    assert [(f.rule, f.location) for f in result.findings] == [
        ("CAP-04", CONTENT.format(n=2) + "/cap:alert/cap:msgType")
    ]
    tree = etree.fromstring(data).getroottree()
    assert tree.xpath(result.findings[0].location, namespaces=NAMESPACES)[0].text == "Update"  # type: ignore[index]


def test_a_schema_error_inside_an_embedded_alert_keeps_rule_schema(catalog: Catalog) -> None:
    def drop_scope(root: etree._Element) -> None:
        alert = _alert_in(root)
        alert.remove(alert.find(q("scope")))  # type: ignore[arg-type]

    result = validator_for(catalog.format("edxl-de/1.0")).validate(_envelope(drop_scope))
    assert [(f.rule, f.location) for f in result.findings] == [("schema", CONTENT.format(n=1) + "/cap:alert/cap:info")]


def test_an_intel_report_rule_is_located_with_its_own_prefix(catalog: Catalog) -> None:
    def no_text(root: etree._Element) -> None:
        root.find(f".//{q('handling', IR)}").text = "C"  # type: ignore[union-attr]

    result = validator_for(catalog.format("edxl-de/1.0")).validate(_envelope(no_text))
    assert [(f.rule, f.location) for f in result.findings] == [
        ("IR-01", CONTENT.format(n=2) + "/ir:intelReport/ir:grading")
    ]


def test_every_message_of_the_envelope_is_judged(catalog: Catalog) -> None:
    def break_both(root: etree._Element) -> None:
        _alert_in(root).find(q("identifier")).text = "a b"  # type: ignore[union-attr]
        root.find(f".//{q('reportId', IR)}").text = "not-a-uuid"  # type: ignore[union-attr]

    result = validator_for(catalog.format("edxl-de/1.0")).validate(_envelope(break_both))
    assert [(f.rule, f.location) for f in result.findings] == [
        ("CAP-01", CONTENT.format(n=1) + "/cap:alert/cap:identifier"),
        ("schema", CONTENT.format(n=2) + "/ir:intelReport/ir:reportId"),
    ]


def test_an_invalid_envelope_reports_the_envelope_only(catalog: Catalog) -> None:
    def break_envelope_and_alert(root: etree._Element) -> None:
        root.find(q("distributionType", DE)).text = "Alert"  # type: ignore[union-attr]
        _alert_in(root).find(q("identifier")).text = "a b"  # type: ignore[union-attr]

    result = validator_for(catalog.format("edxl-de/1.0")).validate(_envelope(break_envelope_and_alert))
    assert [(f.rule, f.location) for f in result.findings] == [("schema", "/de:EDXLDistribution/de:distributionType")]


@pytest.mark.parametrize(
    ("markup", "message"),
    [
        (b'<m xmlns="urn:emergency:cisu:3.0"/>', "is not one of: cap/1.2, intel-report-xml/1.0"),
        (b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.1"/>', "is not one of"),
        (b'<x:any xmlns:x="urn:example"/>', "is not one of"),
    ],
)
def test_anything_else_embedded_is_a_schema_finding(catalog: Catalog, markup: bytes, message: str) -> None:
    def replace_alert(root: etree._Element) -> None:
        alert = _alert_in(root)
        alert.addprevious(etree.fromstring(markup))
        alert.getparent().remove(alert)  # type: ignore[union-attr]

    result = validator_for(catalog.format("edxl-de/1.0")).validate(_envelope(replace_alert))
    (finding,) = result.findings
    assert finding.rule == "schema" and message in finding.message
    assert finding.location.startswith(CONTENT.format(n=1) + "/")


def test_a_second_message_in_one_container_is_a_schema_finding(catalog: Catalog) -> None:
    def two_alerts(root: etree._Element) -> None:
        alert = _alert_in(root)
        alert.addnext(copy.deepcopy(alert))
        alert.find(q("sender")).text = "a&b"  # type: ignore[union-attr]

    result = validator_for(catalog.format("edxl-de/1.0")).validate(_envelope(two_alerts))
    assert sorted((f.rule, f.location) for f in result.findings) == [
        ("CAP-01", CONTENT.format(n=1) + "/cap:alert[1]/cap:sender"),
        ("schema", CONTENT.format(n=1) + "/cap:alert[2]"),
    ]


def test_key_xml_content_is_not_validated_as_a_message(catalog: Catalog) -> None:
    data = (FORMATS / "edxl-de/1.0/samples/valid/non-xml-content-and-ack.xml").read_bytes()
    assert b"<keyXMLContent>" in data
    assert validator_for(catalog.format("edxl-de/1.0")).validate(data).valid


def test_embedded_findings_name_nodes_of_the_envelope(catalog: Catalog) -> None:
    fmt = catalog.format("edxl-de/1.0")
    for sample in fmt.invalid_samples:
        data = Path(sample.path).read_bytes()
        tree = etree.fromstring(data).getroottree()
        for finding in validator_for(fmt).validate(data).findings:
            nodes = tree.xpath(finding.location, namespaces=NAMESPACES)
            assert isinstance(nodes, list) and len(nodes) == 1, (sample.path, finding)


@pytest.mark.parametrize("format_id", ["cap/1.2", "edxl-de/1.0"])
def test_every_finding_of_the_invalid_samples_names_one_node(catalog: Catalog, format_id: str) -> None:
    fmt = catalog.format(format_id)
    for sample in fmt.invalid_samples:
        data = Path(sample.path).read_bytes()
        tree = etree.fromstring(data).getroottree()
        for finding in validator_for(fmt).validate(data).findings:
            assert finding.message
            nodes = tree.xpath(finding.location, namespaces=NAMESPACES)
            assert isinstance(nodes, list) and len(nodes) == 1, (sample.path, finding)


@pytest.mark.parametrize("format_id", ["cap/1.2", "edxl-de/1.0"])
def test_every_cap_rule_has_an_invalid_sample(catalog: Catalog, format_id: str) -> None:
    covered = {rule for sample in catalog.format(format_id).invalid_samples for rule in sample.rules}
    wanted = {f"CAP-0{n}" for n in range(1, 8)} if format_id == "cap/1.2" else {"CAP-04", "IR-01", "schema"}
    assert wanted <= covered


def test_location_prefixes_agree_across_modules() -> None:
    assert XPATH_PREFIXES[cap_rules.NS] == cap_rules.PREFIX == "cap"
    assert XPATH_PREFIXES[DE] == "de"
    assert {"cap", "de", "ir"} == set(NAMESPACES) and edxl.DE_NS == DE and edxl.IR_NS == IR


# --------------------------------------------------------------------------- the catalog's "embedded" key


@pytest.fixture
def fixtures_copy(tmp_path: Path) -> Path:
    root = tmp_path / "fixtures"
    shutil.copytree(default_fixtures(), root)
    return root


@pytest.mark.parametrize(
    "embedded",
    [
        "embedded:\n  in: '{urn:x}c'\n  formats: [cap/9.9]\n",  # unknown format
        "embedded:\n  in: '{urn:x}c'\n  formats: [emsi/1.0]\n",  # not XML
        "embedded:\n  in: '{urn:x}c'\n  formats: [edxl-de/1.0]\n",  # embeds itself (an envelope)
        "embedded: [cap/1.2]\n",  # not a mapping
        "embedded:\n  in: embeddedXMLContent\n  formats: [cap/1.2]\n",  # not a Clark name
        "embedded:\n  formats: [cap/1.2]\n",  # no container
        "embedded:\n  in: '{urn:x}c'\n  formats: []\n",  # no format
    ],
    ids=["unknown", "json", "envelope", "list", "not-clark", "no-in", "no-formats"],
)
def test_a_bad_embedded_key_raises_catalog_error(fixtures_copy: Path, embedded: str) -> None:
    manifest = fixtures_copy / "formats/edxl-de/1.0/format.yaml"
    text = manifest.read_text(encoding="utf-8")
    start = text.index("embedded:")
    end = text.index("max_bytes:")
    manifest.write_text(text[:start] + embedded + text[end:], encoding="utf-8")
    with pytest.raises(CatalogError):
        read_catalog((fixtures_copy,))


# --------------------------------------------------------------------------- detection


def _formats(catalog: Catalog) -> list[Format]:
    return list(catalog.formats.values())


@pytest.mark.parametrize("format_id", ["cap/1.2", "edxl-de/1.0", "emsi/1.0"])
def test_the_valid_samples_are_detected(catalog: Catalog, format_id: str) -> None:
    for sample in catalog.format(format_id).valid_samples:
        detected = detect_format(_formats(catalog), Path(sample.path).read_bytes())
        assert detected is not None and detected.id == format_id, sample.path


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"CONTEXT": null, "EVENT": 1}', "emsi/1.0"),  # present is enough to detect; the schema judges
        (b'{"CONTEXT": {}}', None),
        (b'{"emsi": {"CONTEXT": {}, "EVENT": {}}}', None),
        (
            b'<!DOCTYPE x><EDXLDistribution xmlns="' + DE.encode() + b'"><alert xmlns="' + CAP.encode() + b'"/>',
            "edxl-de/1.0",
        ),
        (b'<!DOCTYPE x><alert xmlns="' + CAP.encode() + b'"/>', "cap/1.2"),
    ],
    ids=["emsi-members", "emsi-event-missing", "hub-sante-wrapper", "refused-envelope", "refused-alert"],
)
def test_detection(catalog: Catalog, data: bytes, expected: str | None) -> None:
    detected = detect_format(_formats(catalog), data)
    assert (detected.id if detected else None) == expected


# --------------------------------------------------------------------------- EMSI


@pytest.mark.corpus
def test_the_corpus_emsi_message_is_valid_once_unwrapped(catalog: Catalog, corpus: Path) -> None:
    document = json.loads((corpus / "emsi/emsi-DC-message.json").read_bytes())
    validator = validator_for(catalog.format("emsi/1.0"))
    assert validator.validate_model(document["emsi"]).valid
    wrapped = validator.validate_model(document)
    assert {f.location for f in wrapped.findings} == {"", "/emsi"}


@pytest.mark.parametrize("path", sorted((FORMATS / "emsi/1.0/samples/valid").iterdir()), ids=lambda p: p.name)
def test_an_emsi_message_wrapped_in_an_emsi_member_is_refused_until_unwrapped(catalog: Catalog, path: Path) -> None:
    """The corpus's shape (``{"emsi": {...}}``), built from our own valid samples so a fresh clone tests it."""
    message = json.loads(path.read_bytes())
    validator = validator_for(catalog.format("emsi/1.0"))
    assert validator.validate_model(message).valid
    wrapped = validator.validate_model({"emsi": message})
    assert {f.location for f in wrapped.findings} == {"", "/emsi"}


# --------------------------------------------------------------------------- security classification


@pytest.mark.parametrize(
    ("marking", "tier"),
    [
        ("OFFICIAL", Tier.OFFICIAL),
        ("official", Tier.OFFICIAL),
        ("UNCLASSIFIED", Tier.OFFICIAL),
        ("UNCLAS", Tier.OFFICIAL),
        ("UNCLASSIFIED AND NOT SENSITIVE", Tier.OFFICIAL),
        ("NOT PROTECTIVELY MARKED", Tier.OFFICIAL),
        ("UNMARK", Tier.OFFICIAL),
        ("", Tier.OFFICIAL),
        ("  ", Tier.OFFICIAL),
        ("OFFICIAL-SENSITIVE", Tier.OFFICIAL_SENSITIVE),
        ("Official Sensitive", Tier.OFFICIAL_SENSITIVE),
        ("official_sensitive", Tier.OFFICIAL_SENSITIVE),
        ("OFFICIAL-SENSITIVE PERSONAL", Tier.OFFICIAL_SENSITIVE),
        ("RESTRICTED", Tier.OFFICIAL_SENSITIVE),
        ("RESTRC", Tier.OFFICIAL_SENSITIVE),
        ("UNCLASSIFIED//FOUO", Tier.OFFICIAL_SENSITIVE),
        ("SENSITIVE BUT UNCLASSIFIED", Tier.OFFICIAL_SENSITIVE),
        ("CONFIDENTIAL", Tier.SECRET),
        ("CONFID", Tier.SECRET),
        ("SECRET", Tier.SECRET),
        ("SECRET UK EYES ONLY", Tier.SECRET),
        ("SECRET//NOFORN", None),
        ("TOP SECRET", Tier.TOP_SECRET),
        ("top-secret", Tier.TOP_SECRET),
        ("TOPSRT", Tier.TOP_SECRET),
        ("TOP SECRET STRAP1", Tier.TOP_SECRET),
        ("NATO RESTRICTED", Tier.OFFICIAL_SENSITIVE),
        ("COSMIC TOP SECRET", Tier.TOP_SECRET),
        ("GEHEIM", None),
        ("OFFICIAL//SOMETHING", None),
        ("OFFICIAL SOMETHING", None),
        ("NOT SECRET", None),
    ],
)
def test_markings_map_to_gsc_tiers(marking: str, tier: Tier | None) -> None:
    assert gsc_tier(marking) == tier
    assert marking_permitted(marking) == (tier is not None and tier <= Tier.OFFICIAL_SENSITIVE)


def test_tier_labels() -> None:
    assert [t.label for t in Tier] == ["OFFICIAL", "OFFICIAL-SENSITIVE", "SECRET", "TOP SECRET"]


def test_the_markings_of_an_envelope_are_all_found() -> None:
    markings = distribution_markings(parse_xml(ENVELOPE.read_bytes()))
    assert [(m.location, m.text, m.tier) for m in markings] == [
        ("/de:EDXLDistribution/de:combinedConfidentiality", "OFFICIAL-SENSITIVE", Tier.OFFICIAL_SENSITIVE),
        ("/de:EDXLDistribution/de:contentObject[1]/de:confidentiality", "OFFICIAL", Tier.OFFICIAL),
        ("/de:EDXLDistribution/de:contentObject[2]/de:confidentiality", "OFFICIAL-SENSITIVE", Tier.OFFICIAL_SENSITIVE),
        (CONTENT.format(n=2) + "/ir:intelReport/ir:classification", "OFFICIAL-SENSITIVE", Tier.OFFICIAL_SENSITIVE),
    ]
    assert first_refused(parse_xml(ENVELOPE.read_bytes())) is None


@pytest.mark.parametrize(
    ("path", "marking", "location"),
    [
        (f".//{q('combinedConfidentiality', DE)}", "SECRET", "/de:EDXLDistribution/de:combinedConfidentiality"),
        (f".//{q('classification', IR)}", "TOP SECRET", CONTENT.format(n=2) + "/ir:intelReport/ir:classification"),
        (f".//{q('confidentiality', DE)}", "GEHEIM", "/de:EDXLDistribution/de:contentObject[1]/de:confidentiality"),
    ],
)
def test_the_first_marking_that_may_not_travel_is_named(path: str, marking: str, location: str) -> None:
    root = parse_xml(ENVELOPE.read_bytes())
    root.find(path).text = marking  # type: ignore[union-attr]
    refused = first_refused(root)
    assert refused is not None and (refused.location, refused.text) == (location, marking)
    assert root.getroottree().xpath(refused.location, namespaces=NAMESPACES)[0].text == marking  # type: ignore[index]


def test_markings_never_raise_on_broken_envelopes() -> None:
    for _, data in variants("edxl-de/1.0", 800, seed=11):
        for marking in distribution_markings(parse_xml(data)):
            assert marking.location.startswith("/")
    assert distribution_markings(parse_xml(b"<x/>")) == ()
