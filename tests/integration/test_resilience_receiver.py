"""resilience-core certifies the reference receivers (roles receiver and alert-receiver) and fails every broken
receiver on the rule it breaks (specs/resilience.md, RR-01..07)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.catalog import Catalog
from harness.endpoints import build_app
from tests.conftest import certify, failing
from tests.integration.broken_receivers import build_broken_receiver

RECEIVER_ROLES = ("receiver", "alert-receiver")

# variant -> (scenario that must fail, the rule its failure names)
EXPECTED: dict[str, tuple[str, str]] = {
    "duplicate-under-concurrency": ("RR-01-concurrent", "RR-01"),
    "stores-half-body": ("RR-02-stalled", "RR-02"),
    "500-under-burst": ("RR-04-burst", "RR-03"),
    "sheds-without-retry-after": ("RR-04-burst", "RR-03"),
    "loses-acknowledged": ("RR-04-burst", "RR-04"),
    "slow-client-blocks-others": ("RR-05-slow-client", "RR-05"),
    "update-applied-out-of-order": ("RR-06-update-first", "RR-06"),
}
# variant -> the SHOULD scenario it fails (a warning: the certificate stands)
WARNED: dict[str, tuple[str, str]] = {"slow-under-burst": ("RR-07-burst-latency", "RR-07")}


async def test_reference_receivers_are_certified(catalog: Catalog) -> None:
    run = await certify(catalog, build_app(catalog), suite="resilience-core", roles=RECEIVER_ROLES)
    assert failing(run) == {}
    assert {result.id for result in run.results} == {
        "RR-01-sequence",
        "RR-01-concurrent",
        "RR-02-stalled",
        "RR-04-burst",
        "RR-05-slow-client",
        "RR-06-update-first",
        "RR-07-burst-latency",
    }
    assert run.certified


@pytest.mark.parametrize("variant", sorted(EXPECTED))
async def test_broken_receiver_fails_on_its_rule(catalog: Catalog, variant: str) -> None:
    scenario, rule = EXPECTED[variant]
    run = await certify(catalog, build_broken_receiver(catalog, variant), suite="resilience-core", roles=RECEIVER_ROLES)
    failed = failing(run)
    assert scenario in failed, f"{variant}: {scenario} did not fail ({failed})"
    assert not run.certified
    checks = [check for check, _, _ in failed[scenario]]
    assert checks and all(check.startswith(rule) for check in checks), f"{variant}: {checks}"
    assert all(sid.startswith("RR-") for sid in failed)


@pytest.mark.parametrize("variant", sorted(WARNED))
async def test_receiver_failing_a_should_rule_is_warned_and_certified(catalog: Catalog, variant: str) -> None:
    scenario, rule = WARNED[variant]
    run = await certify(catalog, build_broken_receiver(catalog, variant), suite="resilience-core", roles=RECEIVER_ROLES)
    failed = failing(run)
    assert set(failed) == {scenario}, failed
    assert all(check.startswith(rule) for check, _, _ in failed[scenario])
    assert run.certified


def test_reference_in_two_processes_stores_concurrent_attempts_once(tmp_path: Path) -> None:
    """``harness serve --processes 2``: attempts of one report land in both processes at once (one port, the
    kernel spreads connections); the shared store decides in one transaction, so RR-01..07 hold there too."""
    import json
    import subprocess
    import sys

    from tests.conftest import ROOT
    from tests.integration.served import serve_process

    command = [sys.executable, "-m", "harness.cli"]
    with serve_process([*command, "serve", "--host", "127.0.0.1", "--port", "0", "--processes", "2"]) as url:
        run = subprocess.run(
            [*command, "run", "--suite", "resilience-core", "--role", "receiver", "--role", "alert-receiver",
             "--target", url, "--reports", str(tmp_path), "--unattended", "--no-evidence"],
            capture_output=True, text=True, cwd=ROOT, timeout=300, check=False,
        )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert {s["id"]: s["verdict"] for s in results["scenarios"]}["RR-01-concurrent"] == "passed"
