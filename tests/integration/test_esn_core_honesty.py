"""esn-core certifies the reference ESN gateway and fails every deliberately broken variant of it.

The variants run side by side (each against its own reference servers on
loopback), once per module: most of a run is waiting for notifications that
must, or must not, arrive.
"""

from __future__ import annotations

import asyncio

import pytest

from harness.catalog import Catalog, load_catalog
from harness.endpoints import build_app
from harness.endpoints.esn_gateway import EsnGateway
from harness.endpoints.intel_hub import IntelHub
from harness.events import RunFinished
from tests.conftest import certify, failing, verdicts
from tests.integration.broken_esn_suppliers import VARIANTS, build_broken_gateway

# variant -> (scenarios that must fail, still certified because only SHOULD scenarios fail)
EXPECTED: dict[str, tuple[set[str], bool]] = {
    "wrong-notification-ids": ({"ESN-01", "ESN-02", "ESN-03", "ESN-04", "ESN-05", "ESN-09", "ESN-10"}, False),
    "unrequested-notification": ({"ESN-06"}, False),
    "always-delivered": ({"ESN-04"}, False),
    "notification-with-payload": ({"ESN-01", "ESN-03"}, False),
    "slow-notification": ({"ESN-16"}, True),
    "trimmed-binary": ({"ESN-10"}, False),
    "missing-part-accepted": ({"ESN-07"}, False),
    "base64-refused": ({"ESN-09"}, False),
    "truncated-signalling-accepted": ({"ESN-08"}, False),
    "offset-not-named": ({"ESN-08"}, False),
    "first-member-only": ({"ESN-11"}, False),
    "relay-trims-payload": ({"ESN-11"}, False),
    "relays-to-every-member": ({"ESN-12"}, True),
    "alert-not-acknowledged": ({"ESN-13", "ESN-14"}, False),
    "cancel-refused": ({"ESN-13"}, False),
    "location-wrong-trigger": ({"ESN-15"}, False),
    "no-location-report": ({"ESN-15"}, False),
}


@pytest.fixture(scope="module")
def runs() -> dict[str, RunFinished]:
    """esn-core against the reference supplier ("reference") and every broken variant, all at once."""
    catalog = load_catalog()

    async def all_runs() -> dict[str, RunFinished]:
        names = ["reference", *sorted(VARIANTS)]
        apps = [build_app(catalog) if n == "reference" else build_broken_gateway(catalog, n) for n in names]
        finished = await asyncio.gather(*(certify(catalog, app, "esn-core") for app in apps))
        return dict(zip(names, finished, strict=True))

    return asyncio.run(all_runs())


def test_every_variant_is_listed() -> None:
    assert set(EXPECTED) == set(VARIANTS)


def test_reference_gateway_is_certified(runs: dict[str, RunFinished]) -> None:
    run = runs["reference"]
    sip_scenarios = {"ESN-17": "skipped", "ESN-18": "skipped", "ESN-19": "skipped"}  # no SIP target: test_esn_core_sip
    assert {scenario: verdict for scenario, verdict in verdicts(run).items() if verdict != "passed"} == sip_scenarios
    assert run.certified
    assert len(run.results) == len(load_catalog().suite("esn-core").scenarios)  # every scenario of the current version


@pytest.mark.parametrize("variant", sorted(EXPECTED))
def test_broken_variant_fails(runs: dict[str, RunFinished], variant: str) -> None:
    must_fail, still_certified = EXPECTED[variant]
    run = runs[variant]
    outcome = verdicts(run)
    not_failed = {scenario for scenario in must_fail if outcome[scenario] != "failed"}
    assert not_failed == set(), f"{variant}: did not fail: {sorted(not_failed)}; {failing(run)}"
    assert run.certified is still_certified, failing(run)


def test_the_failure_names_the_ids(runs: dict[str, RunFinished]) -> None:
    failure = next(f for r in runs["wrong-notification-ids"].results if r.id == "ESN-03" for f in r.failures)
    assert failure.check == "sds_notification: body signalling octets 7-38"
    assert str(failure.expected).startswith("conversation ") and failure.expected != failure.actual


async def test_without_the_groups_hook_group_scenarios_are_manual(catalog: Catalog) -> None:
    app = build_app(catalog, [IntelHub(catalog), EsnGateway(catalog, hooks=False)])
    run = await certify(catalog, app, "esn-core", unattended=True)
    outcome = verdicts(run)
    assert outcome["ESN-11"] == outcome["ESN-12"] == "manual"
    reason = next(r for r in run.results if r.id == "ESN-11").failures[0].message
    assert "operator must" in reason and "/netcode/v1/_test/groups" in reason
    assert run.summary.failed == 0 and not run.certified
