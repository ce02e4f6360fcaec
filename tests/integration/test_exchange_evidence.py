"""Exchange events carry the messages of both directions, and SIP exchanges too."""

from __future__ import annotations

import pytest

from harness.catalog import Catalog
from harness.endpoints import build_app
from harness.endpoints.sip_gateway import SipServer
from harness.events import Event, ExchangeCompleted
from tests.conftest import certify


async def test_messages_the_sut_sends_to_the_counterpart_are_events(catalog: Catalog) -> None:
    events: list[Event] = []
    run = await certify(catalog, build_app(catalog), "checks-core", listeners=[events.append])
    assert run.certified
    exchanges = [e for e in events if isinstance(e, ExchangeCompleted)]
    outbound = [e for e in exchanges if e.direction == "harness->sut"]
    inbound = [e for e in exchanges if e.direction == "sut->reference"]
    assert outbound and inbound
    for event in inbound:
        assert event.request is not None and event.request.body, "the SUT's message is on the event"
        assert event.request.start_line.startswith(f"{event.method} http://127.0.0.1:")
        assert event.answer is not None and event.answer.start_line.startswith(f"HTTP/1.1 {event.status}")
        assert event.request_bytes == len(event.request.body)
    for event in outbound:
        assert event.request is not None and event.answer is not None
        assert event.response_bytes == len(event.answer.body)
        assert event.sent <= event.answered


async def test_sip_exchanges_are_events(catalog: Catalog) -> None:
    events: list[Event] = []
    await certify(catalog, build_app(catalog), "esn-core", sip=SipServer, listeners=[events.append])
    sip = [e for e in events if isinstance(e, ExchangeCompleted) and e.transport == "sip"]
    if not sip:
        pytest.fail("esn-core with a SIP target exchanged nothing over SIP")
    event = sip[0]
    assert event.request is not None and event.request.start_line.endswith("SIP/2.0")
    assert event.answer is not None and event.answer.start_line.startswith("SIP/2.0 ")
