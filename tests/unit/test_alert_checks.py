"""The runner's additions for XML answers: ``replace:`` in messages; the xml, cap_answer, error_located, body checks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.catalog import Catalog
from harness.endpoints.alert_hub import AlertHub
from harness.families.cap.message import CapHeader
from harness.model import ConfigurationError, Format, Sample
from harness.runner.checks import CHECKS, CheckContext, Mismatch
from harness.runner.context import Message, ScenarioContext
from harness.transport import Response

CAP = "urn:oasis:names:tc:emergency:cap:1.2"
ORIGINAL = f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="{CAP}">
  <identifier>ORIGINAL-ID</identifier>
  <sender>force@example.police.uk</sender>
  <sent>2026-03-14T09:30:00+00:00</sent>
  <status>Exercise</status>
  <msgType>Alert</msgType>
  <scope>Restricted</scope>
  <restriction>police only</restriction>
  <info>
    <category>Safety</category>
    <event>Test</event>
    <urgency>Immediate</urgency>
    <severity>Minor</severity>
    <certainty>Observed</certainty>
  </info>
</alert>
""".encode()
READ = CapHeader(
    "ORIGINAL-ID", "force@example.police.uk", "2026-03-14T09:30:00+00:00", "Exercise", "Restricted", "police only", None
)


def _context(catalog: Catalog, sent: bytes = ORIGINAL) -> ScenarioContext:
    ctx = ScenarioContext(catalog, "http://127.0.0.1:9")
    ctx.sent["submit"] = Message(catalog.format("cap/1.2"), sent, "application/xml", None, None)
    return ctx


def _run(name: str, expected: Any, body: bytes, ctx: ScenarioContext, sent: Message | None = None) -> list[Mismatch]:
    response = Response(202, "Accepted", (("Content-Type", "application/xml"),), body, 1.0)
    return list(CHECKS.get(name)(expected, CheckContext(response, ctx, sent)))


# --------------------------------------------------------------------------- replace


def _xml_format(catalog: Catalog) -> Format:
    return catalog.format("cap/1.2")


def test_replace_escapes_values_as_character_data(catalog: Catalog, tmp_path: Any) -> None:
    ctx = _context(catalog)
    message = ctx.build_message({"same_as": "submit", "replace": {"ORIGINAL-ID": "a<b>&\"c'"}})
    assert b"<identifier>a&lt;b&gt;&amp;&quot;c&apos;</identifier>" in message.body
    fresh = ctx.build_message({"same_as": "submit", "replace": {"ORIGINAL-ID": "${uuid:alert}"}})
    assert f"<identifier>{ctx.uuids['alert']}</identifier>".encode() in fresh.body
    assert fresh.format is _xml_format(catalog)


def test_replace_of_text_that_does_not_occur_is_a_suite_bug(catalog: Catalog) -> None:
    with pytest.raises(ConfigurationError, match="does not occur"):
        _context(catalog).build_message({"same_as": "submit", "replace": {"NOT-THERE": "x"}})


def test_replace_in_json_keeps_the_model_in_step(catalog: Catalog, tmp_path: Any) -> None:
    fmt = catalog.format("emsi/1.0")
    ctx = ScenarioContext(catalog, "http://127.0.0.1:9")
    body = json.dumps({"CONTEXT": {"ID": "OLD", "MODE": "ACTUAL", "MSGTYPE": "ALERT"}, "EVENT": {"ID": "E"}}).encode()
    ctx.sent["first"] = Message(fmt, body, fmt.media_type, json.loads(body), Sample("x.json", True))
    message = ctx.build_message({"same_as": "first", "replace": {"OLD": 'new "quoted"'}})
    assert message.model is not None and message.model["CONTEXT"]["ID"] == 'new "quoted"'
    assert json.loads(message.body) == message.model


# --------------------------------------------------------------------------- xml


def test_xml_check_compares_texts_counts_and_absence(catalog: Catalog) -> None:
    ctx = _context(catalog)
    spec = {
        "namespaces": {"cap": CAP},
        "/cap:alert/cap:status": "Exercise",
        "count(/cap:alert/cap:info)": 1,
        "/cap:alert/cap:note": {"present": False},
        "/cap:alert/cap:sent": {"date_time": True},
    }
    assert _run("xml", spec, ORIGINAL, ctx) == []
    wrong = {"namespaces": {"cap": CAP}, "/cap:alert/cap:status": "Actual", "/cap:alert/cap:scope": {"present": False}}
    assert [m.field for m in _run("xml", wrong, ORIGINAL, ctx)] == [
        "body /cap:alert/cap:status",
        "body /cap:alert/cap:scope",
    ]
    assert _run("xml", {"/nothing": "x"}, ORIGINAL, ctx)[0].actual is None
    assert "not usable XML" in _run("xml", {"/a": "b"}, b"{}", ctx)[0].message
    with pytest.raises(ConfigurationError, match="bad XPath"):
        _run("xml", {"/cap:alert": "x"}, ORIGINAL, ctx)


# --------------------------------------------------------------------------- cap_answer


def test_cap_answer_accepts_the_reference_ack(catalog: Catalog) -> None:
    ack = AlertHub(catalog).ack_alert(READ)
    assert _run("cap_answer", {"msgType": "Ack", "original": "submit"}, ack, _context(catalog)) == []


def test_cap_answer_explains_each_departure(catalog: Catalog) -> None:
    hub = AlertHub(catalog)
    ctx = _context(catalog)
    other = CapHeader("OTHER", READ.sender, READ.sent, READ.status, READ.scope, READ.restriction, None)
    wrong_reference = hub.ack_alert(other)
    fields = {m.field for m in _run("cap_answer", {"msgType": "Ack", "original": "submit"}, wrong_reference, ctx)}
    assert fields == {"body references"}
    public = CapHeader(READ.identifier, READ.sender, READ.sent, "Actual", "Public", None, None)
    mismatches = _run("cap_answer", {"original": "submit"}, hub.ack_alert(public), ctx)
    assert {m.field for m in mismatches} == {"body status", "body scope", "body restriction"}
    error = hub.error_alert(READ, [])
    assert [m.field for m in _run("cap_answer", {"msgType": "Ack"}, error, ctx)] == ["body msgType"]


def test_cap_answer_wants_the_rules_named_in_the_note(catalog: Catalog) -> None:
    from harness.model import Finding

    error = AlertHub(catalog).error_alert(READ, [Finding("/cap:alert/cap:scope", "CAP-02", "no restriction")])
    ctx = _context(catalog)
    assert _run("cap_answer", {"msgType": "Error", "original": "submit", "note_rules": ["CAP-02"]}, error, ctx) == []
    missing = _run("cap_answer", {"note_rules": ["CAP-07", "CAP-0"]}, error, ctx)
    assert [m.field for m in missing] == ["body note"] and "CAP-07, CAP-0" in missing[0].message


def test_an_error_without_references_is_tolerated_only_for_cap_04(catalog: Catalog) -> None:
    error = AlertHub(catalog).error_alert(None, [])
    assert _run("cap_answer", {"msgType": "Error"}, error, _context(catalog)) == []
    not_cap = _run("cap_answer", {"msgType": "Ack"}, b"<alert/>", _context(catalog))
    assert [m.field for m in not_cap] == ["body"]


def test_cap_answer_needs_an_original_with_its_triple(catalog: Catalog) -> None:
    with pytest.raises(ConfigurationError, match="needs a CAP alert"):
        _run("cap_answer", {"original": "submit"}, AlertHub(catalog).ack_alert(READ), _context(catalog, b"<x/>"))


# --------------------------------------------------------------------------- error_located, body


def test_error_located_finds_a_matching_location_and_rule(catalog: Catalog) -> None:
    problem = json.dumps(
        {"errors": [{"location": "/de:EDXLDistribution/de:contentObject[2]/x", "rule": "CAP-02", "message": "m"}]}
    ).encode()
    ctx = _context(catalog)
    assert _run("error_located", {"location": r"contentObject\[2\]", "rule": "CAP-02"}, problem, ctx) == []
    assert _run("error_located", {"location": r"contentObject\[1\]"}, problem, ctx)[0].field == "body /errors"
    assert _run("error_located", {"location": "x", "rule": "CAP-03"}, problem, ctx)[0].field == "body /errors"


def test_body_kept_and_compared_byte_for_byte(catalog: Catalog) -> None:
    ctx = _context(catalog)
    assert _run("body", {"keep_as": "first"}, b"<a/>", ctx) == []
    assert _run("body", {"same_as": "first"}, b"<a/>", ctx) == []
    assert _run("body", {"same_as": "first"}, b"<a />", ctx)[0].message == "body differs from first"
    with pytest.raises(ConfigurationError, match="no body was kept"):
        _run("body", {"same_as": "other"}, b"<a/>", ctx)
