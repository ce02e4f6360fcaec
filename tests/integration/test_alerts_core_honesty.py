"""alerts-core certifies the reference alert hub and fails every deliberately broken variant of it.

Each variant overrides one decision of :class:`AlertHub`; the suite must fail
exactly where the spec says that decision matters. Both versions of the suite
run every variant, the hub playing the version of ``alerts.md`` the suite
certifies (tests/integration/test_alerts_versions.py crosses them).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from lxml import etree

from harness.catalog import Catalog
from harness.endpoints import ReferenceServer, build_app
from harness.endpoints.alert_hub import CAP_NS, DE_NS, WARNINGS_HEADING, AlertHub
from harness.endpoints.common import problem
from harness.families.cap.message import CapHeader
from harness.model import Finding
from harness.validation.validator import Validation, validator_for
from harness.validation.xmlsafe import parse_xml
from tests.conftest import certify, failing, verdicts

CAP_ANSWERED_ERRORS = {"AC-02", "AC-03", "AC-11", "AC-12", "AC-13", "AC-14", "AC-15", "AC-16", "AC-17"}
ACKS = {"AC-01", "AC-04", "AC-05", "AC-07"}
# In 1.1, AC-16 and AC-17 expect Acks (CAP-06/07 are warnings) and AC-60..AC-64 refuse CAP-08..CAP-12.
REFUSALS_ADDED_IN_1_1 = {"AC-60", "AC-61", "AC-62", "AC-63", "AC-64"}
VERSIONS = ("1.0", "1.1")


def must_fail_in(version: str, scenarios: set[str]) -> set[str]:
    """The scenarios of ``alerts-core@version`` that a variant failing ``scenarios`` of 1.0 must fail."""
    if version == "1.0":
        return scenarios
    refusals = REFUSALS_ADDED_IN_1_1 if scenarios >= CAP_ANSWERED_ERRORS else set()
    return (scenarios - {"AC-16", "AC-17"}) | refusals


class AckWithWrongReferences(AlertHub):
    """References the original's sender and identifier, without its sent."""

    def ack_alert(self, original: CapHeader) -> bytes:
        return _edited(super().ack_alert(original), "references", f"{original.sender},{original.identifier}")


def _edited(alert: bytes, name: str, text: str) -> bytes:
    root = parse_xml(alert)
    element = root.find(f"{{{CAP_NS}}}{name}")
    assert element is not None
    element.text = text
    return etree.tostring(root)


class AckReferencesAnotherSent(AlertHub):
    """References a well-formed triple, but not the original's: its sent is another time."""

    def ack_alert(self, original: CapHeader) -> bytes:
        other = f"{original.sender},{original.identifier},2000-01-01T00:00:00+00:00"
        return _edited(super().ack_alert(original), "references", other)


class AckNotValidCap(AlertHub):
    """Writes the Ack's sent in UTC with a Z, which CAP does not allow."""

    def ack_alert(self, original: CapHeader) -> bytes:
        ack = super().ack_alert(original)
        return _edited(ack, "sent", (parse_xml(ack).findtext(f"{{{CAP_NS}}}sent") or "").replace("+00:00", "Z"))


class AckScopePublic(AlertHub):
    """Acknowledges every alert as Public, whatever the original's scope."""

    def ack_alert(self, original: CapHeader) -> bytes:
        public = CapHeader(original.identifier, original.sender, original.sent, original.status, "Public", None, None)
        return super().ack_alert(public)


class ErrorWithoutRuleIds(AlertHub):
    def error_alert(self, original: CapHeader | None, findings: Iterable[Finding]) -> bytes:
        return super().error_alert(original, [Finding(f.location, "problem", f.message) for f in findings])


class ErrorNamesFirstFindingOnly(AlertHub):
    def error_alert(self, original: CapHeader | None, findings: Iterable[Finding]) -> bytes:
        return super().error_alert(original, list(findings)[:1])


class ErrorAsProblem(AlertHub):
    """Refuses invalid alerts with a problem document instead of a CAP Error."""

    def cap_answer(self, status: int, alert: bytes) -> web.StreamResponse:
        if status >= 400:
            note = parse_xml(alert).findtext(f"{{{CAP_NS}}}note") or ""
            return problem(status, "invalid-message", note, [Finding("/", "schema", note)])
        return super().cap_answer(status, alert)


class Cap02NotEnforced(AlertHub):
    def validate_alert(self, body: bytes) -> Validation:
        found = super().validate_alert(body)
        return Validation(found.format_id, tuple(f for f in found.findings if f.rule != "CAP-02"), found.model)


class ResendGetsNewAck(AlertHub):
    """Forgets what it acknowledged: an identical re-send is acknowledged afresh."""

    def accept_alert(self, original: CapHeader, content: bytes, warnings: Iterable[Finding] = ()) -> web.StreamResponse:
        self.alerts.clear()
        return super().accept_alert(original, content, warnings)


class DoctypeAccepted(AlertHub):
    """Acknowledges a document with a DOCTYPE instead of refusing it.

    It notes the DOCTYPE while validating and turns the answer into an Ack; nothing is awaited
    between the two calls of one request, so concurrent requests cannot mix.
    """

    def validate_alert(self, body: bytes) -> Validation:
        if b"<!DOCTYPE" in body:
            self.doctype_seen = True
        return super().validate_alert(body)

    def cap_answer(self, status: int, alert: bytes) -> web.StreamResponse:
        if getattr(self, "doctype_seen", False):
            self.doctype_seen = False
            unknown = CapHeader("unknown", "unknown", "2026-01-01T00:00:00+00:00", "Actual", "Public", None, None)
            return super().cap_answer(202, self.ack_alert(unknown))
        return super().cap_answer(status, alert)


class AnyMediaTypeForAlerts(AlertHub):
    async def receive_alert(self, request: web.Request) -> web.StreamResponse:
        headers = {**request.headers, "Content-Type": "application/xml"}
        return await super().receive_alert(request.clone(headers=headers))


class NestedCapNotValidated(AlertHub):
    """Checks the envelope only: findings inside an embedded message are dropped."""

    def validate_distribution(self, body: bytes) -> Validation:
        found = super().validate_distribution(body)
        kept = tuple(f for f in found.findings if "embeddedXMLContent/" not in f.location)
        return Validation(found.format_id, kept, found.model)


class DistributionErrorsUnlocated(AlertHub):
    def validate_distribution(self, body: bytes) -> Validation:
        found = super().validate_distribution(body)
        return Validation(found.format_id, tuple(Finding("/", f.rule, f.message) for f in found.findings))


class ClassificationNotEnforced(AlertHub):
    def classification_refused(self, root: etree._Element) -> str | None:
        return None


class DistributionAckWrongReference(AlertHub):
    def ack_distribution(self, root: etree._Element, reference: str) -> bytes:
        return super().ack_distribution(root, reference.split(",")[0])


class EmsiUpdateIgnored(AlertHub):
    def apply_incident(self, message_id: str, document: dict[str, Any]) -> web.Response | None:
        if document["CONTEXT"]["MSGTYPE"] == "UPDATE":
            return None
        return super().apply_incident(message_id, document)


class EmsiCancelIgnored(AlertHub):
    def apply_incident(self, message_id: str, document: dict[str, Any]) -> web.Response | None:
        if document["CONTEXT"]["MSGTYPE"] == "CANCEL":
            return None
        return super().apply_incident(message_id, document)


class EmsiAckWithoutLink(AlertHub):
    def ack_incident(self, document: dict[str, Any]) -> dict[str, Any]:
        ack = super().ack_incident(document)
        del ack["CONTEXT"]["LINK"]
        return ack


class SlowAck(AlertHub):
    async def receive_alert(self, request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(1.2)
        return await super().receive_alert(request)


class UnknownIncidentAccepted(AlertHub):
    def apply_incident(self, message_id: str, document: dict[str, Any]) -> web.Response | None:
        unknown = str(document["EVENT"]["ID"]) not in self.incidents
        if unknown and document["CONTEXT"]["MSGTYPE"] in ("UPDATE", "CANCEL"):
            return None
        return super().apply_incident(message_id, document)


# variant -> (hub, scenarios that must fail, still certified: only SHOULD scenarios fail)
EXPECTED: dict[str, tuple[type[AlertHub], set[str], bool]] = {
    "ack-wrong-references": (AckWithWrongReferences, ACKS | {"AC-40"}, False),
    "ack-references-another-sent": (AckReferencesAnotherSent, ACKS | {"AC-40"}, False),
    "ack-not-valid-cap": (AckNotValidCap, {"AC-01", "AC-05", "AC-07", "AC-40"}, False),
    "ack-scope-public": (AckScopePublic, {"AC-01", "AC-04"}, False),
    "error-without-rule-ids": (ErrorWithoutRuleIds, CAP_ANSWERED_ERRORS, False),
    "error-names-first-finding-only": (ErrorNamesFirstFindingOnly, {"AC-03"}, False),
    "error-as-problem": (ErrorAsProblem, CAP_ANSWERED_ERRORS | {"AC-06"}, False),
    "cap-02-not-enforced": (Cap02NotEnforced, {"AC-12"}, False),
    "resend-gets-new-ack": (ResendGetsNewAck, {"AC-05"}, False),
    "doctype-accepted": (DoctypeAccepted, {"AC-06"}, False),
    "any-media-type-for-alerts": (AnyMediaTypeForAlerts, {"AC-07"}, False),
    "nested-cap-not-validated": (NestedCapNotValidated, {"AC-21"}, False),
    "distribution-errors-unlocated": (DistributionErrorsUnlocated, {"AC-21", "AC-22"}, False),
    "classification-not-enforced": (ClassificationNotEnforced, {"AC-23"}, False),
    "distribution-ack-wrong-reference": (DistributionAckWrongReference, {"AC-20"}, False),
    "emsi-update-ignored": (EmsiUpdateIgnored, {"AC-31"}, False),
    "emsi-cancel-ignored": (EmsiCancelIgnored, {"AC-32"}, False),
    "emsi-ack-without-link": (EmsiAckWithoutLink, {"AC-30", "AC-31", "AC-32"}, False),
    "slow-ack": (SlowAck, {"AC-40"}, True),
    "unknown-incident-accepted": (UnknownIncidentAccepted, {"AC-34"}, True),
}


@pytest.mark.parametrize("version", VERSIONS)
async def test_reference_supplier_is_certified(catalog: Catalog, version: str) -> None:
    playing = catalog.at({"alerts": version})
    run = await certify(catalog, build_app(playing), f"alerts-core@{version}")
    assert failing(run) == {}
    assert run.certified
    assert run.summary.passed == len(catalog.suite(f"alerts-core@{version}").scenarios)


async def test_the_default_reference_supplier_is_certified_by_the_current_suite(catalog: Catalog) -> None:
    assert catalog.suite("alerts-core").version == "1.1"
    run = await certify(catalog, build_app(catalog), "alerts-core")
    assert failing(run) == {} and run.certified


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("variant", sorted(EXPECTED))
async def test_broken_variant_fails(catalog: Catalog, variant: str, version: str) -> None:
    hub, failing_in_1_0, still_certified = EXPECTED[variant]
    must_fail = must_fail_in(version, failing_in_1_0)
    playing = catalog.at({"alerts": version})
    run = await certify(catalog, build_app(playing, [hub(playing)]), f"alerts-core@{version}")
    outcome = verdicts(run)
    not_failed = {scenario for scenario in must_fail if outcome[scenario] != "failed"}
    assert not_failed == set(), f"{variant}: these scenarios did not fail: {sorted(not_failed)}"
    assert run.certified is still_certified
    for result in run.results:
        for failure in result.failures:
            assert failure.step and failure.check and failure.message


# -- the reference hub's own answers ------------------------------------------------------------------


def _assert_valid(catalog: Catalog, format_id: str, body: bytes, tolerated: frozenset[str] = frozenset()) -> None:
    findings = [f for f in validator_for(catalog.format(format_id)).validate(body).findings if f.rule not in tolerated]
    assert findings == [], body.decode()


def test_every_ack_and_error_the_hub_writes_is_valid_cap(catalog: Catalog) -> None:
    hub = AlertHub(catalog)
    for sample in catalog.format("cap/1.2").samples:
        data = Path(sample.path).read_bytes()
        original = hub.read_alert(parse_xml(data))
        assert original is not None
        verdict = validator_for(catalog.format("cap/1.2")).validate(data)
        findings, warnings = verdict.findings, verdict.warnings
        if verdict.valid:
            ack = hub.ack_alert(original, warnings)
            _assert_valid(catalog, "cap/1.2", ack)
            note = parse_xml(ack).findtext(f"{{{CAP_NS}}}note", "")
            assert all(f.rule in note for f in warnings) and (WARNINGS_HEADING in note) == bool(warnings)
        error = hub.error_alert(original, findings, warnings)
        # An Error may lack references only when the original's triple cannot be read (CAP-04 then).
        tolerated = frozenset() if original.reference else frozenset({"CAP-04"})
        _assert_valid(catalog, "cap/1.2", error, tolerated)
        note = parse_xml(error).findtext(f"{{{CAP_NS}}}note", "")
        errors_part, _, warnings_part = note.partition(WARNINGS_HEADING)
        assert all(f.rule in errors_part for f in findings)
        assert all(f.rule in warnings_part for f in warnings)
    _assert_valid(catalog, "cap/1.2", hub.error_alert(None, []), frozenset({"CAP-04"}))
    hostile = CapHeader("id", "s@x", "2026-01-01T00:00:00+00:00", "Actual", "Public", None, None)
    error = hub.error_alert(hostile, [Finding("/", "schema", "<b>&amp;\x00\ud800 ]]>")])
    _assert_valid(catalog, "cap/1.2", error)
    assert parse_xml(error).findtext(f"{{{CAP_NS}}}note") == "schema at /: <b>&amp;\ufffd\ufffd ]]>"


async def _post(url: str, data: bytes, content_type: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as http, http.post(url, data=data, headers={"Content-Type": content_type}) as r:
        return r.status, await r.read()


async def test_a_content_marking_alone_refuses_the_distribution(catalog: Catalog) -> None:
    sample = next(s for s in catalog.format("edxl-de/1.0").samples if s.path.endswith("cap-and-intel-report.xml"))
    root = parse_xml(Path(sample.path).read_bytes())
    marking = root.find(f"{{{DE_NS}}}contentObject/{{{DE_NS}}}confidentiality")
    assert marking is not None and root.findtext(f"{{{DE_NS}}}combinedConfidentiality") == "OFFICIAL-SENSITIVE"
    marking.text = "SECRET UK EYES ONLY"
    async with ReferenceServer(build_app(catalog, [AlertHub(catalog)])) as url:
        status, body = await _post(url + "/netcode/v1/distributions", etree.tostring(root), "application/xml")
    assert status == 422 and json.loads(body)["type"].endswith("/classification-not-permitted")


async def test_cap_conflict_and_emsi_life_cycle_refusals(catalog: Catalog) -> None:
    minimal = next(s for s in catalog.format("cap/1.2").samples if s.path.endswith("valid/minimal.xml"))
    data = Path(minimal.path).read_bytes()
    alert = {"CONTEXT": {"ID": "m-1", "MODE": "TEST", "MSGTYPE": "ALERT"}, "EVENT": {"ID": "e-1"}}
    async with ReferenceServer(build_app(catalog, [AlertHub(catalog)])) as url:
        first = await _post(url + "/netcode/v1/alerts", data, "application/xml")
        reindented = await _post(url + "/netcode/v1/alerts", data.replace(b"\n  <", b"\n\t<"), "application/xml")
        changed = await _post(url + "/netcode/v1/alerts", data.replace(b">Test<", b">Exercise<"), "application/xml")
        incidents = url + "/netcode/v1/incidents"
        created = await _post(incidents, json.dumps(alert).encode(), "application/json")
        realert = {**alert, "CONTEXT": {**alert["CONTEXT"], "ID": "m-2"}}
        again = await _post(incidents, json.dumps(realert).encode(), "application/json")
        cancel = {"CONTEXT": {"ID": "m-3", "MODE": "TEST", "MSGTYPE": "CANCEL"}, "EVENT": {"ID": "e-1"}}
        cancelled = await _post(incidents, json.dumps(cancel).encode(), "application/json")
        update = {"CONTEXT": {"ID": "m-4", "MODE": "TEST", "MSGTYPE": "UPDATE"}, "EVENT": {"ID": "e-1"}}
        after_cancel = await _post(incidents, json.dumps(update).encode(), "application/json")
        reused = await _post(incidents, json.dumps({**alert, "EVENT": {"ID": "e-9"}}).encode(), "application/json")
        form = await _post(incidents, json.dumps(alert).encode(), "text/plain")
        top_secret = {
            **alert,
            "CONTEXT": {**alert["CONTEXT"], "ID": "m-5", "SECLASS": "TOPSRT"},
            "EVENT": {"ID": "e-5"},
        }
        classified = await _post(incidents, json.dumps(top_secret).encode(), "application/json")
        restricted = {**top_secret, "CONTEXT": {**top_secret["CONTEXT"], "SECLASS": "RESTRC"}}
        permitted = await _post(incidents, json.dumps(restricted).encode(), "application/json")
    assert first[0] == 202 and reindented == first
    assert changed[0] == 409 and parse_xml(changed[1]).findtext(f"{{{CAP_NS}}}msgType") == "Error"
    _assert_valid(catalog, "emsi/1.0", created[1])
    assert [again[0], cancelled[0], after_cancel[0], reused[0], form[0]] == [409, 202, 409, 409, 415]
    assert (classified[0], permitted[0]) == (422, 202)
