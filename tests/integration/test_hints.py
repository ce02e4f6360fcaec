"""Hints when the cause is plain: a wrong base URL (every answer 404), ``https://`` against a plain-HTTP port."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.events import ExchangeCompleted, RunFinished, RunStarted, Summary
from harness.reporting.hints import RunHints
from tests.conftest import ROOT

HARNESS = [sys.executable, "-m", "harness.cli"]


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HARNESS, *args], capture_output=True, text=True, cwd=ROOT, timeout=180, check=False)


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    """``harness serve`` on loopback port 0, in its own process (plain HTTP)."""
    process = subprocess.Popen(
        [*HARNESS, "serve", "--host", "127.0.0.1", "--port", "0"], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "listening on http://127.0.0.1:" in line
    yield line.split(" on ", 1)[1].split()[0]
    process.terminate()
    process.wait(timeout=10)
    process.stdout.close()


def test_a_wrong_base_path_gets_one_hint_at_the_end(served: str, tmp_path: Path) -> None:
    result = harness(
        "run", "--suite", "intel-core", "--target", served + "/netcode/v1", "--reports", str(tmp_path), "--no-evidence"
    )
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    hints = [line for line in lines if line.startswith("hint:")]
    assert len(hints) == 1, hints
    assert "were 404 Not Found: check the base URL" in hints[0]
    assert "drop /netcode/v1 from --target" in hints[0]
    assert lines.index(hints[0]) > max(i for i, line in enumerate(lines) if "NOT CERTIFIED" in line)


def test_a_right_base_url_gets_no_hint(served: str, tmp_path: Path) -> None:
    result = harness("run", "--suite", "intel-core", "--target", served, "--reports", str(tmp_path), "--no-evidence")
    assert result.returncode == 0, result.stdout[-2000:]
    assert "hint:" not in result.stdout


def test_https_against_a_plain_http_port_suggests_http(served: str, tmp_path: Path) -> None:
    target = served.replace("http://", "https://")
    result = harness("run", "--suite", "intel-core", "--target", target, "--reports", str(tmp_path), "--no-evidence")
    assert result.returncode == 3
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "TLS failure" in result.stderr and "if it serves plain HTTP, use http://" in result.stderr


def _exchange(status: int | None, direction: str = "harness->sut") -> ExchangeCompleted:
    return ExchangeCompleted("s", "send", "POST", "http://h/x", status, 1.0, 10, 10, direction=direction)


def _finished(target: str) -> RunFinished:
    return RunFinished("intel-core", "1.0", target, "t0", "t1", Summary(failed=3), ())


@pytest.mark.parametrize(
    ("statuses", "hinted"),
    [
        ([404, 404, 404], True),
        ([404, 404], False),  # too few answers to tell a base URL from one scenario
        ([404, 404, 202], False),  # some answers found their path
        ([404, 404, 404, None], True),  # a dropped connection is no answer either way
        ([], False),
    ],
)
def test_run_hints_only_when_every_answer_is_404(statuses: list[int | None], hinted: bool) -> None:
    hints = RunHints()
    hints.observe(RunStarted("intel-core", "1.0", "http://h:1/api", "t0", 3))
    for status in statuses:
        hints.observe(_exchange(status))
    hints.observe(_exchange(202, direction="sut->reference"))  # what the SUT sends us says nothing of its URL
    lines = hints.lines(_finished("http://h:1/api"))
    assert bool(lines) is hinted
    if hinted:
        assert lines == [
            "hint: all 3 answers of http://h:1/api were 404 Not Found: check the base URL "
            "(--target must be the URL under which /netcode/v1/... is served)"
        ]
