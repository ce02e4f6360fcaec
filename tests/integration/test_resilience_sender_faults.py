"""The reference endpoints' fault plan, seen from a client: each action, the attempts recorded, the control API,
``harness serve --faults``."""

from __future__ import annotations

import asyncio
import email.utils
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from harness.catalog import Catalog
from harness.endpoints import ReferenceServer, build_app
from harness.endpoints.faults import FaultInjector
from harness.families.resilience.faults import parse_plan
from tests.integration.served import serve_process

ID = "0b6c9d1e-2f3a-4b5c-8d7e-9f0a1b2c3d4e"
PATH = "/netcode/v1/intel-reports"
CONTROL = "/_harness/"


def report(report_id: str = ID) -> bytes:
    return json.dumps(
        {
            "reportId": report_id,
            "profile": "netcode.intel-report/1.0",
            "created": "2026-05-01T12:00:00+01:00",
            "originator": {"force": "kent", "system": "K"},
            "classification": "OFFICIAL",
            "grading": {"source": "A", "intelligence": 1, "handling": "P"},
            "subjects": [{"id": "loc-1", "type": "location", "point": {"lat": 51.2787, "lon": 1.0789}}],
            "text": "Observed activity at the location.",
        }
    ).encode()


HEADERS = {"Content-Type": "application/vnd.netcode.intel-report+json"}


@pytest.fixture
async def served(catalog: Catalog) -> AsyncIterator[str]:
    async with ReferenceServer(build_app(catalog)) as url:
        yield url


async def put_plan(http: aiohttp.ClientSession, url: str, rules: list[dict[str, Any]], name: str = "t") -> None:
    async with http.put(f"{url}{CONTROL}faults/{name}", json={"rules": rules}) as answer:
        assert answer.status == 200, await answer.text()


async def attempts(http: aiohttp.ClientSession, url: str, path: str = PATH) -> list[dict[str, Any]]:
    async with http.get(f"{url}{CONTROL}attempts", params={"path": path}) as answer:
        listed: list[dict[str, Any]] = await answer.json()
        return listed


async def test_status_faults_with_retry_after_then_normal_answers(served: str) -> None:
    async with aiohttp.ClientSession() as http:
        rules = [
            {"path": PATH, "count": 1, "action": {"status": 503, "retry_after": 2}},
            {"path": PATH, "count": 1, "action": {"status": 429, "retry_after": "http-date+1"}},
        ]
        await put_plan(http, served, rules)
        async with http.post(served + PATH, data=report(), headers=HEADERS) as first:
            assert first.status == 503 and first.headers["Retry-After"] == "2"
            assert first.content_type == "application/problem+json"
        async with http.post(served + PATH, data=report(), headers=HEADERS) as second:
            assert second.status == 429
            assert email.utils.parsedate_to_datetime(second.headers["Retry-After"]).tzinfo is not None
        async with http.post(served + PATH, data=report(), headers=HEADERS) as third:
            assert third.status == 202  # the plan is used up: the hub answers
        seen = await attempts(http, served)
    assert [a["status"] for a in seen] == [503, 429, 202]
    assert [a["fault"] for a in seen] == ["status 503 retry-after 2", "status 429 retry-after http-date+1", None]
    assert {a["id"] for a in seen} == {ID} and all(a["answered_at"] >= a["at"] for a in seen)


async def test_a_rule_keyed_by_message_id_spares_other_messages(served: str) -> None:
    other = "11111111-2f3a-4b5c-8d7e-9f0a1b2c3d4e"
    async with aiohttp.ClientSession() as http:
        await put_plan(http, served, [{"path": PATH, "id": ID, "action": {"status": 503}}])
        async with http.post(served + PATH, data=report(other), headers=HEADERS) as spared:
            assert spared.status == 202
        async with http.post(served + PATH, data=report(), headers=HEADERS) as hit:
            assert hit.status == 503
        async with http.get(f"{served}{PATH}/{other}") as stored:
            assert stored.status == 200  # the pre-read body reached the hub whole


async def test_reset_close_before_body_and_accept_then_forget(served: str) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        await put_plan(http, served, [{"path": PATH, "count": 1, "action": "reset"},
                                      {"path": PATH, "count": 1, "action": "close-before-body"},
                                      {"path": PATH, "count": 1, "action": "accept-then-forget"}])  # fmt: skip
        with pytest.raises(aiohttp.ClientError):
            async with http.post(served + PATH, data=report(), headers=HEADERS) as answer:
                await answer.read()
        with pytest.raises(aiohttp.ClientPayloadError):
            async with http.post(served + PATH, data=report(), headers=HEADERS) as answer:
                assert answer.status == 202
                await answer.read()
        async with http.post(served + PATH, data=report(), headers=HEADERS) as answer:
            assert answer.status == 202
        async with http.get(f"{served}{PATH}/{ID}") as stored:
            assert stored.status == 404  # accepted, and forgotten
        seen = await attempts(http, served)
        async with http.get(served + "/_harness/received") as received:
            statuses = [m["status"] for m in await received.json() if m["path"] == PATH]
    assert [a["status"] for a in seen] == [None, None, 202]
    assert [a["outcome"].split(" (")[0] for a in seen] == [
        "fault: reset",
        "fault: close-before-body",
        "fault: accept-then-forget",
    ]
    assert len({a["connection"] for a in seen}) == 3
    assert statuses == [0, 0, 202]  # what the endpoint received, with the answer it gave (0: none)


async def test_delay_answers_late_or_records_the_sender_leaving(served: str) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        await put_plan(http, served, [{"path": PATH, "count": 2, "action": {"delay": 1}}])
        with pytest.raises(TimeoutError):
            async with http.post(served + PATH, data=report(), headers=HEADERS, timeout=aiohttp.ClientTimeout(0.3)):
                pass
        async with http.post(served + PATH, data=report(), headers=HEADERS) as late:
            assert late.status == 202
        await asyncio.sleep(0.1)
        first, second = await attempts(http, served)
    assert first["status"] is None and "closed the connection first" in first["outcome"]
    assert first["answered_monotonic_ms"] - first["monotonic_ms"] < 1000  # it ended when the sender left
    assert second["status"] == 202 and second["answered_monotonic_ms"] - second["monotonic_ms"] >= 1000


async def test_control_api_refuses_a_bad_plan_and_lists_removes_replaces(served: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.put(f"{served}{CONTROL}faults/x", data=b"rules: [{action: {status: 200}}]") as bad:
            assert bad.status == 400 and "status must be an HTTP status" in (await bad.json())["detail"]
        async with http.put(f"{served}{CONTROL}faults/x", data=b"rules: [{action: reset}]") as good:  # YAML too
            assert good.status == 200
        async with http.put(f"{served}{CONTROL}faults", json=[{"action": {"status": 503}, "count": 2}]) as replaced:
            assert set(await replaced.json()) == {""}  # PUT of the whole plan replaces every named one
        async with http.delete(f"{served}{CONTROL}faults/x") as gone:
            assert gone.status == 404
        async with http.get(f"{served}{CONTROL}faults") as listed:
            assert (await listed.json())[""]["left"] == [2]
        async with http.get(served + "/_harness/received") as received:
            assert not [m for m in await received.json() if CONTROL in m["path"]]  # control calls are no evidence


async def test_an_injector_given_a_plan_applies_it_from_the_start(catalog: Catalog) -> None:
    injector = FaultInjector(parse_plan([{"path": "/netcode/v1/alerts", "action": {"status": 502}}]))
    async with ReferenceServer(build_app(catalog, faults=injector)) as url, aiohttp.ClientSession() as http:
        async with http.post(url + "/netcode/v1/alerts", data=b"<alert/>") as answer:
            assert answer.status == 502
        async with http.post(url + PATH, data=report(), headers=HEADERS) as answer:
            assert answer.status == 202


def test_serve_faults_answers_on_the_plan_and_refuses_a_bad_one(tmp_path: Path) -> None:
    import subprocess
    import sys
    import urllib.error
    import urllib.request

    plan = tmp_path / "plan.yaml"
    plan.write_text(f"rules:\n  - {{path: {PATH}, action: {{status: 503, retry_after: 7}}}}\n")
    command = [sys.executable, "-m", "harness", "serve", "--role", "intel-hub", "--port", "0", "--faults", str(plan)]
    with serve_process(command, clean_exit=True, expect="fault plan") as url:
        request = urllib.request.Request(url + PATH, data=report(), headers=HEADERS, method="POST")
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=10)
        caught.value.close()
        assert caught.value.code == 503 and caught.value.headers["Retry-After"] == "7"
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - {action: explode}\n")
    done = subprocess.run(
        [sys.executable, "-m", "harness", "serve", "--port", "0", "--faults", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "rules[0]: action 'explode'" in done.stderr


async def test_the_attempts_record_is_bounded_in_bodies_and_count(catalog: Catalog) -> None:
    injector = FaultInjector(capacity=50, max_bytes=3 * len(report()))
    async with ReferenceServer(build_app(catalog, faults=injector)) as url, aiohttp.ClientSession() as http:
        for _ in range(5):
            async with http.post(url + PATH, data=report(), headers=HEADERS) as answer:
                assert answer.status == 202
        assert len(injector.attempts) == 3 and sum(len(a.body) for a in injector.attempts) <= 3 * len(report())
        for _ in range(60):
            async with http.get(f"{url}{PATH}/{ID}") as answer:
                assert answer.status == 200
        assert len(injector.attempts) == 50
        async with http.post(url + PATH, data=report(), headers=HEADERS) as answer:
            assert answer.status == 202
        listed = await attempts(http, url)
    assert [a["id"] for a in listed] == [ID]  # the older ones are gone; the id is read from the body when asked
