"""esn.md 1.0 and 1.1 side by side: the reference gateway plays either (``--profile esn=1.0``), each esn-core
version certifies its own, and crossed, the 1.1 gateway fails exactly the 1.0 scenarios whose rules changed.

The only 1.0 scenario whose rule changed is ESN-01: its third step sends an SDS NOTIFICATION with fresh ids and
expects ``202``; under 1.1 that is DSP-01 (``404``), and esn-core@1.1 moves the step to ESN-23
(docs/decisions-esn-1.1.md, esnfd). Every other 1.0 scenario is passed by the 1.1 gateway as it is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.catalog import Catalog
from harness.endpoints import build_app
from harness.endpoints.esn_gateway import EsnGateway
from tests.conftest import certify, failing

SUITES = Path(__file__).resolve().parents[2] / "fixtures" / "suites" / "esn-core"
SIP = {"ESN-17", "ESN-18", "ESN-19"}  # skipped: no SIP target in these runs
NEW_GATEWAY_FAILS_OLD_SUITE = {"ESN-01"}
"""The 1.0 scenarios the 1.1 gateway fails: the notification with fresh ids (DSP-01 under 1.1)."""


def _scenario_files(version: str) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for path in sorted((SUITES / version / "scenarios").glob("*.yaml")):
        data = path.read_bytes()
        found[data.split(b"\n", 1)[0].removeprefix(b"id: ").decode().strip()] = data
    return found


def test_the_changed_1_0_scenarios_are_those_the_1_1_gateway_fails() -> None:
    old, new = _scenario_files("1.0"), _scenario_files("1.1")
    assert set(old) <= set(new)
    changed = {sid for sid in old if old[sid] != new[sid]}
    assert changed == NEW_GATEWAY_FAILS_OLD_SUITE


@pytest.mark.parametrize(
    ("plays", "suite", "fails"),
    [
        ("1.0", "esn-core@1.0", set()),
        ("1.1", "esn-core@1.1", set()),
        ("1.1", "esn-core@1.0", NEW_GATEWAY_FAILS_OLD_SUITE),
    ],
)
async def test_each_gateway_version_against_each_suite_version(
    catalog: Catalog, plays: str, suite: str, fails: set[str]
) -> None:
    playing = catalog.at({"esn": plays})
    assert EsnGateway(playing).plays_1_1 is (plays == "1.1")
    run = await certify(catalog, build_app(playing), suite)
    failed = {scenario for scenario, why in failing(run).items() if scenario not in SIP}
    assert failed == fails, failing(run)
    assert run.certified is (not fails)
    if fails:
        (only,) = [r for r in run.results if r.id == "ESN-01"]
        assert [(f.step, f.expected, f.actual) for f in only.failures] == [("notification-example", 202, 404)]


async def test_the_1_0_gateway_fails_what_1_1_added(catalog: Catalog) -> None:
    """Played as 1.0, the gateway correlates nothing, serves no files and has no 1.1 trigger actions."""
    run = await certify(catalog, build_app(catalog.at({"esn": "1.0"})), "esn-core@1.1")
    failed = {scenario for scenario in failing(run) if scenario not in SIP}
    assert {"ESN-22", "ESN-23", "ESN-30", "ESN-34", "ESN-35"} <= failed
    assert not run.certified
