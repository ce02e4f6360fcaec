"""Every corpus sample POSTed to the reference alert hub is answered as the official schemas and the CAP rules predict.

The oracle is the official OASIS XSDs of ``shared/corpus`` (never our own):
a CAP alert is acknowledged exactly when the official CAP 1.2 XSD accepts it
and it breaks none of CAP-01..CAP-07; an EDXL-DE envelope exactly when the
official EDXL-DE 1.0 XSD accepts it and each embedded CAP alert would be
acknowledged. Every answer the hub writes is itself valid against the
official XSD. ``xee.cap`` is refused with an Error, and nothing it points at
is fetched: its URLs are redirected to a listener on loopback that must stay
silent.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from lxml import etree

from harness.catalog import Catalog
from harness.endpoints import ReferenceServer, build_app
from harness.endpoints.alert_hub import CAP_NS, DE_NS, AlertHub
from harness.endpoints.common import Recorder
from harness.families.rules import run_rules
from harness.validation.xmlsafe import UnsafeXml, parse_xml

CAP_TYPE = "application/common-alerting-protocol+xml"
# What the spec and corpus/SOURCES.md say of each file; the oracle below must agree.
KNOWN = {
    "43b080713727.cap": (True, set()),
    "cap_amber_alert_example.xml": (True, set()),
    "invalid.cap": (False, {"schema"}),
    "canada_errors.cap": (False, {"CAP-04", "CAP-07"}),
    "xee.cap": (False, {"schema"}),
}

CAP_FILES = sorted(KNOWN)
pytestmark = pytest.mark.corpus


@dataclass(slots=True, frozen=True)
class Official:
    cap: etree.XMLSchema
    de: etree.XMLSchema


@pytest.fixture(scope="module")
def official(corpus: Path) -> Official:
    def read(name: str) -> etree.XMLSchema:
        return etree.XMLSchema(parse_xml((corpus / name).read_bytes(), max_depth=256))

    return Official(read("cap/CAP-v1.2.xsd"), read("edxl-de/edxlde-1_0.xsd"))


def oracle(official: Official, data: bytes) -> tuple[bool, set[str]]:
    """(acknowledged?, rule ids) as the official CAP XSD and the spec's rules see the alert."""
    try:
        root = parse_xml(data)
    except UnsafeXml:
        return False, {"schema"}
    if not official.cap.validate(root):
        return False, {"schema"}
    rules = {rule_id for rule_id, _, _ in run_rules("cap", root)}
    return not rules, rules


def triple(data: bytes) -> str:
    root = parse_xml(data)
    return ",".join((root.findtext(f"{{{CAP_NS}}}{n}") or "").strip() for n in ("sender", "identifier", "sent"))


@pytest.fixture
async def hub(catalog: Catalog) -> AsyncIterator[str]:
    async with ReferenceServer(build_app(catalog, [AlertHub(catalog)])) as url:
        yield url


async def post(url: str, data: bytes, content_type: str) -> tuple[int, str, bytes]:
    async with aiohttp.ClientSession() as http, http.post(url, data=data, headers={"Content-Type": content_type}) as r:
        return r.status, r.headers.get("Content-Type", ""), await r.read()


def test_the_oracle_agrees_with_what_the_sources_say(corpus: Path, official: Official) -> None:
    on_disk = sorted(p for p in (corpus / "cap").iterdir() if p.suffix in (".cap", ".xml"))
    assert {p.name for p in on_disk} == set(KNOWN)
    for path in on_disk:
        assert oracle(official, path.read_bytes()) == KNOWN[path.name], path.name


@pytest.mark.parametrize("name", CAP_FILES)
async def test_corpus_alert_is_answered_as_the_oracle_predicts(
    hub: str, corpus: Path, official: Official, name: str
) -> None:
    path = corpus / "cap" / name
    data = path.read_bytes()
    acknowledged, rules = oracle(official, data)
    status, content_type, body = await post(hub + "/netcode/v1/alerts", data, CAP_TYPE)
    assert (status, content_type) == (202 if acknowledged else 400, CAP_TYPE)
    answer = parse_xml(body)
    assert official.cap.validate(answer), official.cap.error_log
    assert answer.findtext(f"{{{CAP_NS}}}msgType") == ("Ack" if acknowledged else "Error")
    references = answer.findtext(f"{{{CAP_NS}}}references")
    if acknowledged:
        assert references == triple(data)
        original = parse_xml(data)
        for name in ("status", "scope"):
            assert answer.findtext(f"{{{CAP_NS}}}{name}") == original.findtext(f"{{{CAP_NS}}}{name}")
        again = await post(hub + "/netcode/v1/alerts", data, "application/xml")
        assert again == (202, CAP_TYPE, body)
    else:
        note = answer.findtext(f"{{{CAP_NS}}}note") or ""
        assert all(rule in note for rule in rules), note
        if path.name != "xee.cap":
            assert references == triple(data)


async def test_xee_is_refused_and_nothing_is_fetched(hub: str, catalog: Catalog, corpus: Path) -> None:
    listener = Recorder()
    async with ReferenceServer(build_app(catalog, [], listener)) as trap:
        # The payload's URLs now point at a listener of ours: any fetch would be recorded there.
        data = (corpus / "cap/xee.cap").read_bytes().replace(b"http://localhost:8080", trap.encode())
        assert trap.encode() in data
        status, _, body = await post(hub + "/netcode/v1/alerts", data, CAP_TYPE)
    assert status == 400
    answer = parse_xml(body)
    assert answer.findtext(f"{{{CAP_NS}}}msgType") == "Error"
    assert answer.find(f"{{{CAP_NS}}}references") is None
    assert "DOCTYPE" in (answer.findtext(f"{{{CAP_NS}}}note") or "")
    assert b"root:" not in body
    assert listener.messages == []


def envelope(*alerts: bytes) -> bytes:
    """A minimal EDXL-DE 1.0 envelope carrying each alert in a content object of its own."""
    root = etree.Element(f"{{{DE_NS}}}EDXLDistribution", nsmap={None: DE_NS})  # type: ignore[dict-item]
    for name, value in (
        ("distributionID", "corpus-envelope"),
        ("senderID", "corpus@example.org"),
        ("dateTimeSent", "2026-03-14T09:30:00+00:00"),
        ("distributionStatus", "Actual"),
        ("distributionType", "Report"),
        ("combinedConfidentiality", "OFFICIAL"),
    ):
        etree.SubElement(root, f"{{{DE_NS}}}{name}").text = value
    for alert in alerts:
        content = etree.SubElement(root, f"{{{DE_NS}}}contentObject")
        holder = etree.SubElement(etree.SubElement(content, f"{{{DE_NS}}}xmlContent"), f"{{{DE_NS}}}embeddedXMLContent")
        holder.append(parse_xml(alert))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


EMBEDDABLE = [name for name in CAP_FILES if name != "xee.cap"]  # a DOCTYPE cannot stand inside an envelope


@pytest.mark.parametrize("name", EMBEDDABLE)
async def test_corpus_alert_in_an_envelope_is_answered_as_the_oracles_predict(
    hub: str, corpus: Path, official: Official, name: str
) -> None:
    path = corpus / "cap" / name
    valid_alert = (corpus / "cap/43b080713727.cap").read_bytes()
    data = envelope(valid_alert, path.read_bytes())
    acknowledged = official.de.validate(parse_xml(data)) and oracle(official, path.read_bytes())[0]
    status, content_type, body = await post(hub + "/netcode/v1/distributions", data, "application/xml")
    if acknowledged:
        assert (status, content_type) == (202, "application/xml")
        answer = parse_xml(body)
        assert official.de.validate(answer), official.de.error_log
        assert answer.findtext(f"{{{DE_NS}}}distributionType") == "Ack"
        assert answer.findtext(f"{{{DE_NS}}}distributionReference") == (
            "corpus-envelope,corpus@example.org,2026-03-14T09:30:00+00:00"
        )
    else:
        assert (status, content_type) == (400, "application/problem+json")
        errors = json.loads(body)["errors"]
        assert errors and all("contentObject[2]" in error["location"] for error in errors), errors


async def test_corpus_edxl_de_2_0_envelope_is_not_a_1_0_distribution(
    hub: str, corpus: Path, official: Official
) -> None:
    data = (corpus / "edxl-de/EDXL-DE.xml").read_bytes()
    assert not official.de.validate(parse_xml(data))
    status, content_type, body = await post(hub + "/netcode/v1/distributions", data, "application/xml")
    assert (status, content_type) == (400, "application/problem+json")
    assert json.loads(body)["errors"][0]["rule"] == "schema"


async def test_corpus_emsi_message_follows_the_incident_life_cycle(hub: str, corpus: Path) -> None:
    wrapped = json.loads((corpus / "emsi/emsi-DC-message.json").read_bytes())
    update = wrapped["emsi"]  # the Hub Santé carrier's wrapper is not part of the message
    url = hub + "/netcode/v1/incidents"
    assert (await post(url, json.dumps(wrapped).encode(), "application/json"))[0] == 400
    assert (await post(url, json.dumps(update).encode(), "application/json"))[0] == 404  # no such incident yet
    alert = {**update, "CONTEXT": {**update["CONTEXT"], "ID": "corpus-alert", "MSGTYPE": "ALERT"}}
    status, _, body = await post(url, json.dumps(alert).encode(), "application/json")
    assert status == 202 and json.loads(body)["CONTEXT"]["LINK"] == [{"ID": "corpus-alert", "LINK_ROLE": "ADDSTO"}]
    status, _, body = await post(url, json.dumps(update).encode(), "application/json")
    ack = json.loads(body)
    assert status == 202 and ack["CONTEXT"]["MSGTYPE"] == "ACK"
    assert ack["CONTEXT"]["LINK"][0]["ID"] == update["CONTEXT"]["ID"] and ack["EVENT"]["ID"] == update["EVENT"]["ID"]
    async with aiohttp.ClientSession() as http, http.get(f"{url}/{update['EVENT']['ID']}") as answer:
        held = await answer.json()
    assert held == {
        "id": update["EVENT"]["ID"],
        "state": "open",
        "messageId": update["CONTEXT"]["ID"],
        "message": update,
    }
