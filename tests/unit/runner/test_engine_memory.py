"""The engine against an in-memory SUT: verdicts and the evidence its events carry, no sockets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from harness.catalog import Catalog
from harness.events import Event, ExchangeCompleted, RunFinished
from harness.memory import MemoryTransport, answer
from harness.model import Suite, TransportError
from harness.runner.engine import Runner
from harness.transport import Request, Response

pytestmark = pytest.mark.filterwarnings("error")


def suite_of(*scenarios: dict[str, Any]) -> Suite:
    return Suite("unit", "1.0", "unit", "", tuple(scenarios), "")


def scenario(sid: str, path: str, status: int) -> dict[str, Any]:
    return {
        "id": sid,
        "title": f"GET {path}",
        "level": "MUST",
        "steps": [{"id": "get", "request": {"method": "GET", "path": path}, "expect": {"status": status}}],
    }


async def sut(request: Request) -> Response:
    if request.url.endswith("/boom"):
        raise TransportError("connection reset by peer")
    if request.url.endswith("/ok"):
        return answer(200, b'{"ok": true}', "application/json", "OK")
    return answer(404, b"", reason="Not Found")


def run(catalog: Catalog, suite: Suite, events: list[Event]) -> tuple[RunFinished, MemoryTransport]:
    transport = MemoryTransport(sut)
    runner = Runner(catalog, transport, "http://sut.invalid/", [events.append], concurrency=2)
    return asyncio.run(runner.run(suite)), transport


def test_verdicts_follow_the_answers(catalog: Catalog) -> None:
    events: list[Event] = []
    finished, transport = run(
        catalog,
        suite_of(scenario("U-01", "/ok", 200), scenario("U-02", "/missing", 200), scenario("U-03", "/boom", 200)),
        events,
    )
    verdicts = {r.id: str(r.verdict) for r in finished.results}
    assert verdicts == {"U-01": "passed", "U-02": "failed", "U-03": "error"}
    assert not finished.certified
    assert sorted(r.url for r in transport.requests) == [
        "http://sut.invalid/boom",
        "http://sut.invalid/missing",
        "http://sut.invalid/ok",
    ]


def test_exchange_events_carry_the_wire_messages(catalog: Catalog) -> None:
    events: list[Event] = []
    run(catalog, suite_of(scenario("U-01", "/ok", 200)), events)
    exchanges = [e for e in events if isinstance(e, ExchangeCompleted)]
    assert len(exchanges) == 1
    exchange = exchanges[0]
    assert (exchange.direction, exchange.transport, exchange.status) == ("harness->sut", "http", 200)
    assert exchange.request is not None and exchange.answer is not None
    assert exchange.request.start_line == "GET /ok HTTP/1.1"  # origin-form, as HTTP/1.1 writes it
    assert exchange.answer.start_line == "HTTP/1.1 200 OK"
    assert exchange.answer.body == b'{"ok": true}'
    assert ("Content-Type", "application/json") in exchange.answer.headers
    assert exchange.sent.endswith("Z") and exchange.answered.endswith("Z")
    assert exchange.sent <= exchange.answered


def test_a_failed_exchange_emits_no_exchange_event(catalog: Catalog) -> None:
    events: list[Event] = []
    finished, _ = run(catalog, suite_of(scenario("U-03", "/boom", 200)), events)
    assert not [e for e in events if isinstance(e, ExchangeCompleted)]
    assert finished.results[0].failures[0].message == "connection reset by peer"
