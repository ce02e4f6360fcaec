"""A genuine ``alerts-core@1.0`` run against ``harness serve --profile alerts=1.0`` verifies with ``--rejudge``,
through the commands a lab uses: ``keys generate``, ``keys trust-list add``, ``run``, ``verify``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.integration.served import ALERT_HUB_1_0, serve_process

HARNESS = [sys.executable, "-m", "harness.cli"]


def harness(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HARNESS, *args], capture_output=True, text=True, cwd=ROOT, timeout=600, env={**os.environ, **(env or {})}
    )


@pytest.fixture(scope="module")
def playing_1_0() -> Iterator[str]:
    with serve_process(ALERT_HUB_1_0, expect="playing alerts@1.0") as url:
        yield url


def test_a_genuine_alerts_core_1_0_run_verifies_with_rejudge(playing_1_0: str, tmp_path: Path) -> None:
    env = {"HARNESS_KEY_PASSWORD": "", "HARNESS_STORE": f"sqlite:///{tmp_path / 'runs.db'}"}
    assert harness("keys", "generate", "--out", str(tmp_path / "lab"), env=env).returncode == 0
    trust = tmp_path / "trust.json"
    added = harness(
        "keys", "trust-list", "add", str(tmp_path / "lab.pub"), "--holder", "Test Lab",
        "--may-sign-for", "Example Ltd", "--not-before", "2020-01-01T00:00:00Z", "--out", str(trust),
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    reports = tmp_path / "reports"
    ran = harness(
        "run", "--suite", "alerts-core@1.0", "--target", playing_1_0, "--reports", str(reports),
        "--sign-key", str(tmp_path / "lab.key"),
        "--sut-supplier", "Example Ltd", "--sut-product", "Alert Hub", "--sut-version", "1.0",
        env=env,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr
    (bundle,) = reports.glob("*.evidence.zip")
    verified = harness("verify", str(bundle), "--trust-list", str(trust), "--rejudge", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report = json.loads(verified.stdout)["bundles"][0]
    assert report["outcome"] == "valid" and report["rejudged"] is True and report["certifies"] is True
    assert report["suite"] == {
        "name": "alerts-core",
        "version": "1.0",
        "document": "alerts@1.0",
        "status": "superseded",
    }
    assert report["run_id"] == bundle.name.removesuffix(".evidence.zip")
    # the same bundle judged as if it were the current suite: relabelling is what check 6 exists for
    one_line = harness("verify", str(bundle), "--trust-list", str(trust))
    assert (
        one_line.returncode == 0
        and one_line.stdout.count("\n") == 1
        and ": valid (signed by Test Lab" in one_line.stdout
    )
