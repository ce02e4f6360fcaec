"""CAP-08..CAP-12, the CAP 1.2 rules that alerts.md 1.1 adds, one case at a time.

Each case edits one element of a schema-valid alert and expects exactly the findings listed
(rule, location); empty elements are CAP-07's alone, whatever rule would judge their content.
"""

from __future__ import annotations

import pytest
from lxml import etree

from harness.families.cap.rules import uri_problem
from harness.families.rules import run_rules
from harness.validation.xmlsafe import parse_xml

ALERT = """<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>r-1</identifier><sender>a@b.example</sender><sent>2026-06-03T10:15:00+01:00</sent>
  <status>Actual</status><msgType>Alert</msgType><scope>Public</scope>
  <info>
    <category>Safety</category><event>x</event><urgency>Expected</urgency><severity>Minor</severity>
    <certainty>Likely</certainty>{info}
  </info>
</alert>"""
INFO = "/cap:alert/cap:info"
NEW_RULES = {"CAP-08", "CAP-09", "CAP-10", "CAP-11", "CAP-12"}


def findings(info: str) -> set[tuple[str, str]]:
    root = parse_xml(ALERT.format(info=info).encode())
    return {(rule, str(path)) for rule, path, _ in run_rules("cap", root, "1.1") if rule in NEW_RULES | {"CAP-07"}}


def area(inner: str) -> str:
    return f"<area><areaDesc>d</areaDesc>{inner}</area>"


def resource(inner: str) -> str:
    return f"<resource><resourceDesc>r</resourceDesc><mimeType>text/plain</mimeType>{inner}</resource>"


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        (area("<altitude>0</altitude><ceiling>10</ceiling>"), set()),
        (area("<altitude>10</altitude><ceiling>10</ceiling>"), set()),
        (area("<altitude>-5.5</altitude>"), set()),
        (area("<ceiling>10</ceiling>"), {("CAP-08", f"{INFO}/cap:area/cap:ceiling")}),
        (area("<altitude>10.5</altitude><ceiling>10.25</ceiling>"), {("CAP-09", f"{INFO}/cap:area/cap:altitude")}),
        (area("<altitude>100</altitude><ceiling>-1</ceiling>"), {("CAP-09", f"{INFO}/cap:area/cap:altitude")}),
        (area("") + area("<ceiling>1</ceiling>"), {("CAP-08", f"{INFO}/cap:area[2]/cap:ceiling")}),
        ("<web>https://example.org/a#b</web>", set()),
        ("<web>urn:oid:2.49.0.1</web>", set()),
        ("<web>  https://example.org/  </web>", set()),
        ("<web>https://météo.example/avis</web>", set()),
        ("<web/>", {("CAP-07", f"{INFO}/cap:web")}),
        ("<web>example.org</web>", {("CAP-10", f"{INFO}/cap:web")}),
        ("<web>https:/example.org</web>", {("CAP-10", f"{INFO}/cap:web")}),
        ("<web>https://example.org/a b</web>", {("CAP-10", f"{INFO}/cap:web")}),
        ("<web>https://example.org/%zz</web>", {("CAP-10", f"{INFO}/cap:web")}),
        ("<web>mailto:</web>", {("CAP-10", f"{INFO}/cap:web")}),
        (resource("<uri>https://example.org/r.txt</uri>"), set()),
        (resource("<uri>r.txt</uri><derefUri>aGk=</derefUri>"), set()),
        (resource("<uri>r.txt</uri>"), {("CAP-11", f"{INFO}/cap:resource/cap:uri")}),
        (
            resource("<uri>r.txt</uri><derefUri/>"),
            {("CAP-11", f"{INFO}/cap:resource/cap:uri"), ("CAP-07", f"{INFO}/cap:resource/cap:derefUri")},
        ),
        (resource("<uri>a b.txt</uri><derefUri>aGk=</derefUri>"), {("CAP-11", f"{INFO}/cap:resource/cap:uri")}),
        (
            resource("<uri/><derefUri/>"),
            {("CAP-07", f"{INFO}/cap:resource/cap:uri"), ("CAP-07", f"{INFO}/cap:resource/cap:derefUri")},
        ),
        (resource("<derefUri>aGVs\n  bG8=\n</derefUri>"), set()),
        (resource("<derefUri>aGVsbG8gd29ybGQ=</derefUri>"), set()),
        (resource("<derefUri>aGk</derefUri>"), {("CAP-12", f"{INFO}/cap:resource/cap:derefUri")}),
        (resource("<derefUri>a=Gk</derefUri>"), {("CAP-12", f"{INFO}/cap:resource/cap:derefUri")}),
        (resource("<derefUri>aGk=aGk=</derefUri>"), {("CAP-12", f"{INFO}/cap:resource/cap:derefUri")}),
        (resource("<derefUri>aG-k</derefUri>"), {("CAP-12", f"{INFO}/cap:resource/cap:derefUri")}),
        (resource("<derefUri>aGk_</derefUri>"), {("CAP-12", f"{INFO}/cap:resource/cap:derefUri")}),
    ],
)
def test_case(info: str, expected: set[tuple[str, str]]) -> None:
    assert findings(info) == expected


def test_the_new_rules_are_not_rules_of_1_0() -> None:
    root = parse_xml(ALERT.format(info=area("<ceiling>1</ceiling>") + "<web>x</web>").encode())
    assert {rule for rule, _, _ in run_rules("cap", root, "1.0")} == set()
    assert {rule for rule, _, _ in run_rules("cap", root, "1.1")} == {"CAP-08", "CAP-10"}


def test_rules_tolerate_foreign_and_nested_oddities() -> None:
    root = parse_xml(ALERT.format(info=area("<ceiling>high</ceiling>") + resource("<uri>r</uri>")).encode())
    # The schema refuses a non-decimal ceiling; CAP-08 still sees a ceiling without altitude, CAP-09 stays silent.
    assert {rule for rule, _, _ in run_rules("cap", root, "1.1")} == {"CAP-08", "CAP-11"}
    assert list(run_rules("cap", etree.Element("alert"), "1.1")) == []


def test_uri_problem_explains() -> None:
    assert uri_problem("r.txt", relative_allowed=True) is None
    assert "no scheme" in str(uri_problem("r.txt", relative_allowed=False))
    assert "' ' must be %-escaped" in str(uri_problem("a b", relative_allowed=True))
    assert "names a host" in str(uri_problem("http:x", relative_allowed=False))
