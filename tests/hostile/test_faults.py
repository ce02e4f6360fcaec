"""Faults during a run: the target dies, the operator presses Ctrl-C, the harness is killed."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from adapters.http import HttpTransport
from harness.catalog import Catalog
from harness.endpoints import ReferenceServer, build_app
from harness.events import Event, ScenarioFinished
from harness.runner.engine import Runner
from harness.transport import TransportOptions
from tests.conftest import ROOT, free_port

HARNESS = [sys.executable, "-m", "harness.cli"]
# A correct reference supplier that takes 300 ms per request: slow enough to interrupt mid-run.
SLOW_SUPPLIER = """
import asyncio, sys
from aiohttp import web
from harness.catalog import load_catalog
from harness.endpoints import build_app
@web.middleware
async def slow(request, handler):
    await asyncio.sleep(0.3)
    return await handler(request)
app = build_app(load_catalog())
app.middlewares.insert(0, slow)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=lambda *a: print("up", flush=True))
"""


async def test_target_dying_midway_ends_remaining_scenarios_in_error(catalog: Catalog) -> None:
    server = ReferenceServer(build_app(catalog))
    url = await server.start()
    finished: list[str] = []
    stopping: list[asyncio.Task[None]] = []

    def listener(event: Event) -> None:
        if isinstance(event, ScenarioFinished):
            finished.append(event.result.id)
            if len(finished) == 5:
                stopping.append(asyncio.ensure_future(server.stop()))

    transport = HttpTransport(TransportOptions(timeout_s=3, concurrency=1))
    try:
        run = await Runner(catalog, transport, url, [listener], concurrency=1).run(catalog.suite("intel-core"))
    finally:
        await transport.close()
        await asyncio.gather(*stopping)
        await server.stop()
    verdicts = [r.verdict for r in run.results]
    assert len(run.results) == len(catalog.suite("intel-core").scenarios)  # the run completed
    assert verdicts[:5] == ["passed"] * 5
    assert "error" in verdicts[5:] and not run.certified
    causes = {f.message for r in run.results if r.verdict == "error" for f in r.failures}
    assert all("cannot connect" in cause for cause in causes), causes


def _start_slow_supplier(port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_SUPPLIER, str(port)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "up"
    return process


def _wait_for_lines(journal: Path, count: int, limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if journal.exists() and journal.read_text().count('"scenario-finished"') >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"journal never reached {count} scenarios")


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _run_then_signal(tmp_path: Path, sig: signal.Signals) -> tuple[subprocess.Popen[str], Path]:
    port = free_port()
    supplier = _start_slow_supplier(port)
    reports = tmp_path / "reports"
    try:
        run = subprocess.Popen(
            [
                *HARNESS,
                "run",
                "--suite",
                "intel-core",
                "--target",
                f"http://127.0.0.1:{port}",
                "--reports",
                str(reports),
                "--concurrency",
                "1",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            # A launcher running these tests in the background (nohup, `cmd &`) hands its children SIGINT
            # ignored, and Python then never turns SIGINT into KeyboardInterrupt: give the run the default.
            preexec_fn=_default_sigint,
        )
        _wait_for_lines(reports / "journal.jsonl", 3)
        run.send_signal(sig)
        run.communicate(timeout=30)
    finally:
        supplier.terminate()
        supplier.wait(timeout=10)
        assert supplier.stdout is not None
        supplier.stdout.close()
    return run, reports


def test_ctrl_c_stops_cleanly_with_a_partial_report(tmp_path: Path) -> None:
    run, reports = _run_then_signal(tmp_path, signal.SIGINT)
    assert run.returncode == 130
    document = json.loads((reports / "results.json").read_text())
    assert document["interrupted"] is True and document["certified"] is False
    assert 3 <= len(document["scenarios"]) < 21
    assert all(s["verdict"] == "passed" for s in document["scenarios"])


def test_sigkill_loses_no_finished_scenario(tmp_path: Path) -> None:
    run, reports = _run_then_signal(tmp_path, signal.SIGKILL)
    assert run.returncode == -signal.SIGKILL
    assert not (reports / "results.json").exists()  # killed before it could write any report
    journaled = (reports / "journal.jsonl").read_text().count('"scenario-finished"')
    rebuilt = subprocess.run(
        [
            *HARNESS,
            "report",
            "--journal",
            str(reports / "journal.jsonl"),
            "--reports",
            str(tmp_path / "rebuilt"),
            "--junit",
            str(tmp_path / "junit.xml"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert rebuilt.returncode == 1  # an interrupted run certifies nothing
    assert "interrupted run" in rebuilt.stdout
    document = json.loads((tmp_path / "rebuilt" / "results.json").read_text())
    assert len(document["scenarios"]) == journaled >= 3
    assert document["interrupted"] is True
    assert (tmp_path / "junit.xml").read_text().count("<testcase") == journaled


def test_report_refuses_what_is_no_journal(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.jsonl"
    bogus.write_text('{"event": "something-else"}\nnot json\n{}\n')
    result = subprocess.run([*HARNESS, "report", "--journal", str(bogus)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2 and "not a harness journal" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
