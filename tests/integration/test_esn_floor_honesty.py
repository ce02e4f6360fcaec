"""esn-core@1.1's floor scenarios (ESN-40..46) pass against the reference floor control server and fail every
deliberately broken variant of it (tests/integration/broken_floor_servers.py) on the exchange it breaks.

Only the floor scenarios run here (the rest of esn-core@1.1 has its own honesty tests); the variants run side
by side, each against its own reference servers on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from aiohttp import web

from harness.catalog import Catalog, load_catalog
from harness.endpoints import ReferenceServer, build_app
from harness.endpoints.esn_gateway import EsnGateway
from harness.endpoints.intel_hub import IntelHub
from harness.events import RunFinished
from harness.session import RunSession
from tests.conftest import failing, verdicts
from tests.integration.broken_floor_servers import VARIANTS, build_broken_floor_gateway

SUITE = "esn-core@1.1"
FLOOR_SCENARIOS = ("ESN-40", "ESN-41", "ESN-42", "ESN-43", "ESN-44", "ESN-45", "ESN-46")
MUST = {"ESN-40", "ESN-41", "ESN-42", "ESN-44", "ESN-45"}

# variant -> the scenarios that must fail (every other floor scenario passes)
EXPECTED: dict[str, set[str]] = {
    "grant-without-taken": {"ESN-40", "ESN-41", "ESN-42", "ESN-43", "ESN-46"},
    "idle-wrong-sequence": {"ESN-42", "ESN-46"},
    "deny-wrong-cause": {"ESN-41"},
    "no-floor-ack": {"ESN-46"},
    "idle-between-queued-grants": {"ESN-43"},
    "legacy-ids-decoded": {"ESN-45"},
}


async def _floor_run(catalog: Catalog, app: web.Application) -> RunFinished:
    async with contextlib.AsyncExitStack() as stack:
        url = await stack.enter_async_context(ReferenceServer(app))
        session = (
            RunSession(catalog, SUITE).with_target(url).with_options(concurrency=4, timeout_s=5.0)
        ).with_scenarios(FLOOR_SCENARIOS)
        async with session:
            return await session.run()
    raise AssertionError("unreachable")  # pragma: no cover


@pytest.fixture(scope="module")
def runs() -> dict[str, RunFinished]:
    """The floor scenarios against the reference supplier and every broken variant, all at once."""
    catalog = load_catalog()

    async def all_runs() -> dict[str, RunFinished]:
        names = ["reference", *sorted(VARIANTS)]
        apps = [build_app(catalog) if n == "reference" else build_broken_floor_gateway(catalog, n) for n in names]
        gate = asyncio.Semaphore(3)  # the floor answers are due within 1 s: a few runs at a time on a shared machine

        async def gated(app: web.Application) -> RunFinished:
            async with gate:
                return await _floor_run(catalog, app)

        finished = await asyncio.gather(*(gated(app) for app in apps))
        return dict(zip(names, finished, strict=True))

    return asyncio.run(all_runs())


def test_every_variant_is_listed() -> None:
    assert set(EXPECTED) == set(VARIANTS)


def test_the_reference_passes_every_floor_scenario(runs: dict[str, RunFinished]) -> None:
    run = runs["reference"]
    assert verdicts(run) == dict.fromkeys(FLOOR_SCENARIOS, "passed"), failing(run)
    assert {r.id for r in run.results if str(r.level) == "MUST"} == MUST


@pytest.mark.parametrize("variant", sorted(EXPECTED))
def test_broken_variant_fails_on_its_exchange(runs: dict[str, RunFinished], variant: str) -> None:
    outcome = verdicts(runs[variant])
    failed = {scenario for scenario, verdict in outcome.items() if verdict == "failed"}
    assert failed == EXPECTED[variant], f"{variant}: {failing(runs[variant])}"
    assert set(outcome.values()) <= {"passed", "failed"}


def test_the_failures_name_what_is_wrong(runs: dict[str, RunFinished]) -> None:
    def first(variant: str, scenario: str) -> tuple[str, str]:
        failure = next(f for r in runs[variant].results if r.id == scenario for f in r.failures)
        return failure.step, failure.check

    assert first("grant-without-taken", "ESN-40") == ("taken-at-b", "floor_await")
    assert first("idle-wrong-sequence", "ESN-42") == ("idle-at-a", "floor_packet: field message_sequence_number")
    assert first("deny-wrong-cause", "ESN-41") == ("deny-at-b", "floor_packet: field reject_cause")
    assert first("no-floor-ack", "ESN-46") == ("ack-at-a", "floor_packet: packet subtype")
    assert first("idle-between-queued-grants", "ESN-43") == ("granted-at-b", "floor_packet: packet subtype")
    assert first("legacy-ids-decoded", "ESN-45") == ("granted-102", "floor_packet: field floor_priority")


async def test_without_the_floor_hook_the_floor_scenarios_are_manual(catalog: Catalog) -> None:
    app = build_app(catalog, [IntelHub(catalog), EsnGateway(catalog, hooks=False)])
    async with ReferenceServer(app) as url:
        session = RunSession(catalog, SUITE).with_target(url).with_scenarios(FLOOR_SCENARIOS)
        async with session:
            run = await session.run()
    assert set(verdicts(run).values()) == {"manual"}
    reason = next(r for r in run.results if r.id == "ESN-40").failures[0].message
    assert "operator must" in reason and "/netcode/v1/_test/floor-sessions/" in reason


async def test_a_gateway_playing_esn_1_0_has_no_floor_control(catalog: Catalog) -> None:
    assert EsnGateway(catalog).floor is not None
    assert EsnGateway(catalog.at({"esn": "1.0"})).floor is None
