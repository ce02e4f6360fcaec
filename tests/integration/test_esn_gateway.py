"""The reference ESN gateway on its own: location reporting as a server, refusals, and the runner's SDS builder."""

from __future__ import annotations

import aiohttp

from harness.catalog import Catalog
from harness.endpoints import ReferenceServer, build_app
from harness.endpoints.esn_gateway import EsnGateway
from harness.families.esn.body import parse_sds
from harness.families.esn.mcdata import SdsNotification, SdsSignalling, decode
from harness.families.esn.messages import LOCATION_INFO, MCPTT_INFO, location_request, read_location
from harness.profile import ESN_ALERTS_PATH as ALERTS_PATH
from harness.profile import GROUPS_HOOK, LOCATION_PATH, SDS_PATH
from harness.runner.context import ScenarioContext


async def test_as_location_server_the_gateway_gets_a_report_with_its_trigger(catalog: Catalog) -> None:
    server, client = EsnGateway(catalog), EsnGateway(catalog)
    async with (
        ReferenceServer(build_app(catalog, [server])) as server_url,
        ReferenceServer(build_app(catalog, [client])) as client_url,
    ):
        report = await server.request_location(client_url, server_url + "/location-server")
    assert report is not None
    document = read_location(report)
    assert document.kind == "Report" and len(document.trigger_ids) == 1
    assert document.trigger_ids[0].startswith("trigger-")
    assert list(client.configurations) == [server_url + "/location-server"]


async def test_refusals_name_their_rule(catalog: Catalog) -> None:
    sample = ScenarioContext(catalog, "").build_message({"sds": {"disposition": "delivery"}})
    async with ReferenceServer(build_app(catalog)) as url, aiohttp.ClientSession() as http:
        far = {"Content-Type": sample.content_type, "Netcode-Reply-To": "http://192.0.2.1:8080"}
        async with http.post(url + SDS_PATH, data=sample.body, headers=far) as answer:
            assert answer.status == 400
            assert (await answer.json())["errors"][0]["rule"] == "ESN-03"
        async with http.post(url + SDS_PATH, data=b"hi", headers={"Content-Type": "text/plain"}) as answer:
            assert answer.status == 415 and answer.headers["Accept-Post"] == "multipart/mixed"
        no_alert = b'<mcpttinfo xmlns="urn:3gpp:ns:mcpttInfo:1.0"><mcptt-Params/></mcpttinfo>'
        async with http.post(url + ALERTS_PATH, data=no_alert, headers={"Content-Type": MCPTT_INFO}) as answer:
            assert answer.status == 400
            assert (await answer.json())["errors"][0]["rule"] == "ESN-01"
        request = location_request("r-1")
        async with http.post(url + LOCATION_PATH, data=request, headers={"Content-Type": LOCATION_INFO}) as answer:
            assert answer.status == 400
            assert (await answer.json())["errors"][0]["rule"] == "ESN-03"
        groups = {"groups": [{"uri": "sip:g@x", "members": [{"uri": "sip:m@x", "url": "http://192.0.2.1"}]}]}
        async with http.put(url + GROUPS_HOOK, json=groups) as answer:
            assert answer.status == 400


def test_the_sds_builder(catalog: Catalog) -> None:
    ctx = ScenarioContext(catalog, "")
    plain = ctx.build_message({"sds": {"date_time": 1790775600, "disposition": "delivery", "payload": {"text": "hi"}}})
    sds = parse_sds(plain.content_type, plain.body)
    signalling = decode(sds.signalling)
    assert isinstance(signalling, SdsSignalling) and len(sds.signalling) == 39
    assert sds.signalling[:6] == bytes.fromhex("01 00 6A BD 11 30") and sds.signalling[-1] == 0x81
    assert sds.payload == bytes.fromhex("03 01 78 00 03 01 68 69")
    base64 = ctx.build_message({"sds": {"transfer_encoding": "base64", "payload": {"binary_hex": "00 20"}}})
    assert b"Content-Transfer-Encoding: base64" in base64.body
    assert parse_sds(base64.content_type, base64.body).payload == bytes.fromhex("03 01 78 00 03 02 00 20")
    notification = ctx.build_message({"sds": {"notification": "read"}})
    parsed = parse_sds(notification.content_type, notification.body)
    assert parsed.payload is None and isinstance(decode(parsed.signalling), SdsNotification)
    cut = ctx.build_message({"sds": {"truncate_signalling": 30, "parts": ["info", "signalling"]}})
    assert b"application/vnd.3gpp.mcdata-payload" not in cut.body
    stored = ctx.build_message({"sample": "mcdata-sds/1.0/valid/preamble-folded-case.multipart"})
    assert stored.content_type == 'multipart/mixed; boundary="sds robust"'
    assert stored.body.startswith(b"This is the preamble")
