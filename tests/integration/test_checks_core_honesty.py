"""checks-core certifies the reference force and fails every deliberately broken variant of it."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from harness.catalog import Catalog
from harness.endpoints import build_app
from harness.endpoints.intel_hub import IntelHub
from harness.endpoints.query_responder import QueryResponder
from harness.events import Event, OperatorActionRequired
from tests.conftest import certify, failing, verdicts
from tests.integration.broken_query_suppliers import build_broken_force

# variant -> (scenarios that must fail, still certified because only SHOULD scenarios fail)
EXPECTED: dict[str, tuple[set[str], bool]] = {
    "case-sensitive-names": ({"CC-04"}, False),
    "date-of-birth-ignored": ({"CC-02", "CC-03"}, False),
    "given-name-ignored": ({"CC-02", "CC-03"}, False),
    "name-prefix-matched": ({"CC-01"}, False),
    "vrm-compared-with-spaces": ({"CC-07", "CC-08", "CC-09", "CC-10", "CC-11"}, False),
    "vrm-case-sensitive": ({"CC-07", "CC-08", "CC-09", "CC-10", "CC-11"}, False),
    "markers-dropped": ({"CC-07"}, False),
    "no-purpose-required": ({"CC-06"}, False),
    "no-vrm-rule": ({"CC-13"}, False),
    "query-id-not-echoed": ({"CC-01", "CC-14", "CC-15"}, False),
    "outgoing-without-purpose": ({"CC-20", "CC-21"}, False),
    "outgoing-wrong-criteria": ({"CC-20"}, False),
    "slow-answers": ({"CC-16"}, True),
}


async def test_reference_force_is_certified(catalog: Catalog) -> None:
    run = await certify(catalog, build_app(catalog), "checks-core")
    assert failing(run) == {}
    assert run.certified
    timed = next(r for r in run.results if r.id == "CC-15")
    assert timed.exchanges >= 100  # at least 50 person and 50 vehicle checks
    assert timed.as_dict()["latency_ms"]["count"] == timed.exchanges


@pytest.mark.parametrize("variant", sorted(EXPECTED))
async def test_broken_variant_fails(catalog: Catalog, variant: str) -> None:
    must_fail, still_certified = EXPECTED[variant]
    run = await certify(catalog, build_broken_force(catalog, variant), "checks-core")
    outcome = verdicts(run)
    not_failed = {scenario for scenario in must_fail if outcome[scenario] != "failed"}
    assert not_failed == set(), f"{variant}: did not fail: {sorted(not_failed)}"
    assert run.certified is still_certified


async def test_without_trigger_hook_unattended_marks_manual(catalog: Catalog) -> None:
    app = build_app(catalog, [IntelHub(catalog), QueryResponder(catalog)])  # no test hooks
    run = await certify(catalog, app, "checks-core", unattended=True)
    outcome = verdicts(run)
    assert outcome["CC-20"] == outcome["CC-21"] == "manual"
    assert run.summary.manual == 2 and run.summary.failed == 0
    assert not run.certified  # manual is not passed
    reason = next(r for r in run.results if r.id == "CC-20").failures[0].message
    assert "operator must" in reason and "/netcode/v1/queries/person" in reason


async def test_without_trigger_hook_interactive_waits_for_the_operator(catalog: Catalog) -> None:
    """The operator (played by this test) makes the 'SUT' send its queries after being asked."""
    tasks: list[asyncio.Task[None]] = []
    asked: list[OperatorActionRequired] = []

    async def operator(event: OperatorActionRequired) -> None:
        url = event.instruction.rsplit("send it to ", 1)[1].rstrip(")")
        message = {
            "queryId": "0b6c9d1e-2f3a-4b5c-8d7e-9f0a1b2c3d4e",
            "requestedBy": {"force": "kent", "officerId": "K1", "purpose": "intelligence"},
        }
        if url.endswith("/person"):
            message |= {
                "profile": "netcode.person-query/1.0",
                "criteria": {"familyName": "SMITH", "dateOfBirth": "1980-01-01"},
            }
        else:
            message |= {"profile": "netcode.vehicle-query/1.0", "vrm": "AB12 CDE"}
        async with aiohttp.ClientSession() as http, http.post(url, json=message) as answer:
            assert answer.status == 200

    def listener(event: Event) -> None:
        if isinstance(event, OperatorActionRequired):
            asked.append(event)
            tasks.append(asyncio.ensure_future(operator(event)))

    app = build_app(catalog, [IntelHub(catalog), QueryResponder(catalog)])
    runner_listeners = [listener]
    run = await certify(catalog, app, "checks-core", unattended=False, listeners=runner_listeners)
    await asyncio.gather(*tasks)
    assert {e.scenario for e in asked} == {"CC-20", "CC-21"}
    assert verdicts(run)["CC-20"] == verdicts(run)["CC-21"] == "passed"
    assert run.certified
