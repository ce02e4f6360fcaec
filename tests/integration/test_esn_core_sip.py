"""esn-core's SIP MESSAGE scenarios: passed against the reference SIP server, skipped without a SIP target,
failed by every deliberately broken SIP variant (all runs side by side, once per module)."""

from __future__ import annotations

import asyncio

import pytest

from harness.catalog import load_catalog
from harness.endpoints import build_app
from harness.endpoints.sip_gateway import SipServer
from harness.events import RunFinished
from tests.conftest import certify, failing, verdicts
from tests.integration.broken_sip_servers import SIP_VARIANTS

SIP_SCENARIOS = {"ESN-17", "ESN-18", "ESN-19"}
EXPECTED: dict[str, set[str]] = {
    "answers-200": {"ESN-17", "ESN-19"},
    "missing-part-accepted": {"ESN-18"},
    "base64-refused": {"ESN-19"},
}


@pytest.fixture(scope="module")
def runs() -> dict[str, RunFinished]:
    """esn-core with the reference SIP server, with none, and with every broken SIP variant."""
    catalog = load_catalog()
    servers: dict[str, type[SipServer] | None] = {"reference": SipServer, "no-sip": None, **SIP_VARIANTS}

    async def all_runs() -> dict[str, RunFinished]:
        finished = await asyncio.gather(
            *(certify(catalog, build_app(catalog), "esn-core", sip=server) for server in servers.values())
        )
        return dict(zip(servers, finished, strict=True))

    return asyncio.run(all_runs())


def test_every_variant_is_listed() -> None:
    assert set(EXPECTED) == set(SIP_VARIANTS)


def test_with_a_sip_target_the_sip_scenarios_pass(runs: dict[str, RunFinished]) -> None:
    run = runs["reference"]
    assert failing(run) == {}
    assert {verdicts(run)[scenario] for scenario in SIP_SCENARIOS} == {"passed"}
    assert run.certified and len(run.results) == len(load_catalog().suite("esn-core").scenarios)
    carried = next(r for r in run.results if r.id == "ESN-18")
    assert carried.exchanges == 3


def test_without_a_sip_target_they_are_skipped_and_the_run_certified(runs: dict[str, RunFinished]) -> None:
    run = runs["no-sip"]
    assert {scenario for scenario, verdict in verdicts(run).items() if verdict != "passed"} == SIP_SCENARIOS
    for result in run.results:
        if result.id in SIP_SCENARIOS:
            assert result.verdict == "skipped" and result.exchanges == 0
            (reason,) = result.failures
            assert reason.message == "no SIP target given (--sip-target)"
    assert run.certified and run.summary.skipped == 3


@pytest.mark.parametrize("variant", sorted(EXPECTED))
def test_broken_sip_variant_fails(runs: dict[str, RunFinished], variant: str) -> None:
    run = runs[variant]
    outcome = {scenario: verdict for scenario, verdict in verdicts(run).items() if verdict != "passed"}
    assert outcome == dict.fromkeys(EXPECTED[variant], "failed"), failing(run)
    assert run.certified  # SHOULD scenarios only


def test_the_failure_names_the_status(runs: dict[str, RunFinished]) -> None:
    failure = next(f for r in runs["answers-200"].results if r.id == "ESN-17" for f in r.failures)
    assert (failure.step, failure.check, failure.expected, failure.actual) == ("text", "status: status", 202, 200)
