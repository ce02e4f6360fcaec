"""esn-core@1.1 certifies the reference ESN gateway and fails every broken variant of it on the rule it breaks.

The variants (``broken_esn11_suppliers.py``: one per DSP rule, one per FDX rule a run observes) run side by
side, once per module. Each must fail the scenario that checks its rule, and that scenario's failure must be
the variant's own (the rule named, or the refusal it should have made); the reference passes everything but
the SIP scenarios (no SIP target here).
"""

from __future__ import annotations

import asyncio

import pytest

from harness.catalog import load_catalog
from harness.endpoints import build_app
from harness.events import RunFinished
from tests.conftest import certify, failing, verdicts
from tests.integration.broken_esn11_suppliers import RECEIVER_VARIANTS, VARIANTS, build_broken_gateway

SUITE = "esn-core@1.1"
SIP = {"ESN-17", "ESN-18", "ESN-19"}
NEW = {f"ESN-{n}" for n in (20, 21, 22, 23, 24, 25, 26, 30, 31, 32, 33, 34, 35)}

# variant -> (the scenarios that must fail, and nothing else; still certified: only SHOULD scenarios fail)
EXPECTED: dict[str, tuple[set[str], bool]] = {
    "dsp-01-accepts-uncorrelated": ({"ESN-22", "ESN-34"}, False),
    "dsp-02-accepts-unrequested-type": ({"ESN-24"}, False),
    "dsp-03-accepts-out-of-order": ({"ESN-25"}, True),
    "dsp-04-accepts-changed-repeat": ({"ESN-26"}, True),
    "dsp-05-ignores-application-ids": ({"ESN-23"}, False),
    "dsp-05-not-echoing-extended-id": ({"ESN-21"}, False),
    "dsp-06-refuses-old-date": ({"ESN-23"}, False),
    "dsp-07-refuses-interworking-type": ({"ESN-24"}, False),
    "fdx-01-file-not-served": ({"ESN-34", "ESN-35"}, False),  # no file served, uploaded or announced
    "fdx-02-size-not-announced": ({"ESN-34"}, False),
    "fdx-03-wrong-content-type": ({"ESN-35"}, True),
}

# variant -> what its failure names: the rule (a refusal expected and not made shows the status instead)
NAMED: dict[str, str] = {
    "dsp-01-accepts-uncorrelated": "404",
    "dsp-02-accepts-unrequested-type": "409",
    "dsp-03-accepts-out-of-order": "409",
    "dsp-04-accepts-changed-repeat": "409",
    "dsp-05-ignores-application-ids": "409",
    "dsp-05-not-echoing-extended-id": "application ids",
    "dsp-06-refuses-old-date": "202",
    "dsp-07-refuses-interworking-type": "202",
    "fdx-01-file-not-served": "FDX-01",
    "fdx-02-size-not-announced": "FDX-0",
    "fdx-03-wrong-content-type": "FDX-03",
}


@pytest.fixture(scope="module")
def runs() -> dict[str, RunFinished]:
    catalog = load_catalog()

    async def all_runs() -> dict[str, RunFinished]:
        names = ["reference", *sorted(VARIANTS), *sorted(RECEIVER_VARIANTS)]
        apps = [build_app(catalog) if n == "reference" else build_broken_gateway(catalog, n) for n in names]
        finished = await asyncio.gather(*(certify(catalog, app, SUITE) for app in apps))
        return dict(zip(names, finished, strict=True))

    return asyncio.run(all_runs())


def test_every_variant_is_listed() -> None:
    assert set(EXPECTED) == set(VARIANTS) == set(NAMED)
    rules = {rule for _, rule in VARIANTS.values()}
    assert rules == {f"DSP-0{n}" for n in range(1, 8)} | {"FDX-01", "FDX-02", "FDX-03"}


def test_reference_is_certified_on_every_new_scenario(runs: dict[str, RunFinished]) -> None:
    run = runs["reference"]
    outcome = verdicts(run)
    assert {s for s, v in outcome.items() if v != "passed"} == SIP, failing(run)
    assert set(outcome) >= NEW
    assert run.certified


@pytest.mark.parametrize("variant", sorted(EXPECTED))
def test_each_variant_fails_on_its_rule(runs: dict[str, RunFinished], variant: str) -> None:
    must_fail, still_certified = EXPECTED[variant]
    run = runs[variant]
    failed = {s for s, v in verdicts(run).items() if v == "failed"}
    assert failed == must_fail, f"{variant}: {failing(run)}"
    assert run.certified is still_certified, failing(run)
    shown = " ".join(str(failure) for result in run.results if result.id in must_fail for failure in result.failures)
    assert NAMED[variant] in shown, f"{variant}: {shown}"


RECEIVING: dict[str, set[str]] = {
    "delivered-then-read": set(),
    "read-then-delivered": {"ESN-05", "ESN-20"},  # ESN-05 (from 1.0) wants 4 or 2 first, as ESN-20
    "completed-before-download": {"ESN-30", "ESN-33"},
    "completed-without-request": {"ESN-31"},
}
"""Recipient variants -> the scenarios they fail (the order checks can fail, and the other allowed order passes)."""


@pytest.mark.parametrize("variant", sorted(RECEIVING))
def test_the_order_checks_fail_only_a_wrong_order(runs: dict[str, RunFinished], variant: str) -> None:
    run = runs[variant]
    failed = {s for s, v in verdicts(run).items() if v == "failed"}
    assert failed == RECEIVING[variant], f"{variant}: {failing(run)}"
