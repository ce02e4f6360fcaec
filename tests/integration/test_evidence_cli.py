"""``harness run`` with evidence options, end to end in subprocesses; the key and secrets never printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.catalog import load_catalog
from harness.events import ExchangeCompleted, RunStarted, WireMessage
from harness.evidence.bundle import EvidenceReporter
from tests.conftest import ROOT

HARNESS = [sys.executable, "-m", "harness.cli"]
PASSWORD = "pw-9f1c2e-never-printed"
SECRET = "Bearer tok-4d2a-never-written"


def harness(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HARNESS, *args], capture_output=True, text=True, cwd=ROOT, timeout=300, env={**os.environ, **(env or {})}
    )


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    process = subprocess.Popen(
        [*HARNESS, "serve", "--host", "127.0.0.1", "--port", "0"], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    yield line.split(" on ", 1)[1].split()[0]
    process.terminate()
    process.wait(timeout=10)
    process.stdout.close()


def test_signed_run_declares_sut_and_never_prints_secrets(served: str, tmp_path: Path) -> None:
    env = {"LAB_KEY_PASSWORD": PASSWORD, "HARNESS_STORE": f"sqlite:///{tmp_path / 'store.db'}"}
    made = harness("keys", "generate", "--out", str(tmp_path / "lab"), "--password-env", "LAB_KEY_PASSWORD", env=env)
    assert made.returncode == 0, made.stderr
    reports = tmp_path / "reports"
    result = harness(
        "run", "--suite", "checks-core", "--target", served, "--reports", str(reports),
        "--header", f"Authorization: {SECRET}",
        "--sign-key", str(tmp_path / "lab.key"), "--key-password-env", "LAB_KEY_PASSWORD",
        "--sut-supplier", "Example Ltd", "--sut-product", "Force RMS", "--sut-version", "4.2",
        env=env,
    )  # fmt: skip
    output = made.stdout + made.stderr + result.stdout + result.stderr
    assert result.returncode == 0, output
    assert PASSWORD not in output and SECRET not in output and "PRIVATE KEY" not in output
    bundles = list(reports.glob("*.evidence.zip"))
    assert len(bundles) == 1 and f"evidence: {bundles[0]} (signed)" in result.stdout
    with zipfile.ZipFile(bundles[0]) as archive:
        for name in archive.namelist():
            assert SECRET.encode() not in archive.read(name), name
            assert PASSWORD.encode() not in archive.read(name), name
        assert (reports / "results.json").read_bytes() == archive.read("results.json")
    verified = harness("verify", str(bundles[0]), "--trusted-key", str(tmp_path / "lab.pub"), "--rejudge", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report = json.loads(verified.stdout)["bundles"][0]
    assert report["certifies"] is True and report["sut"]["product"] == "Force RMS"
    listed = harness("runs", "list", "--sut", "Force RMS", env=env)
    # The run keeps itself as a run ("recorded"), never a certificate: only registration (runs import) issues one.
    assert bundles[0].name.removesuffix(".evidence.zip") in listed.stdout and "[recorded]" in listed.stdout
    assert "Example Ltd/Force RMS@4.2" in listed.stdout


def test_run_without_sut_is_not_certifiable(served: str, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = harness("run", "--suite", "checks-core", "--target", served, "--reports", str(reports))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "not certifiable" in result.stdout and "unsigned" in result.stdout
    partial = harness("run", "--suite", "checks-core", "--target", served, "--sut-product", "X")
    assert partial.returncode == 2 and "go together" in partial.stderr
    wrong = harness("run", "--suite", "checks-core", "--target", served, "--sign-key", str(tmp_path / "none.key"))
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr and len(wrong.stderr.splitlines()) == 1


def test_exchanges_are_on_disk_as_they_happen(tmp_path: Path) -> None:
    """Streamed: every exchange is in the spool file at once, before the run ends (a killed run keeps them)."""
    catalog = load_catalog()
    reporter = EvidenceReporter(tmp_path, catalog.suite("checks-core"), catalog.root)
    reporter(RunStarted("checks-core", "1.0", "http://127.0.0.1:1", "2026-01-01T00:00:00.000Z", 1))
    binary = bytes(range(256))
    for n in range(3):
        reporter(
            ExchangeCompleted(
                "CC-01", f"s{n}", "POST", "http://127.0.0.1:1/x", 200, 1.0, 256, 0,
                request=WireMessage("POST /x", (("Content-Type", "application/octet-stream"),), binary),
            )
        )  # fmt: skip
        lines = reporter.spool.read_bytes().splitlines()
        assert len(lines) == n + 1
    reporter.close()
    record = json.loads(lines[0])
    assert record["request"]["body_encoding"] == "base64"
    import base64

    assert base64.b64decode(record["request"]["body"]) == binary
