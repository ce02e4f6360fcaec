"""Hostile answers from a system under test: each is a clear failed check, bounded in time and memory,
and the run goes on to the next scenario."""

from __future__ import annotations

import json
import os
import time
import tracemalloc
from pathlib import Path
from typing import Any

from adapters.http import HttpTransport
from harness.catalog import Catalog
from harness.events import Event, ScenarioFinished
from harness.model import Suite
from harness.runner.engine import Runner
from harness.transport import TransportOptions
from tests.hostile.peer import CASES, XML_CASES, HostilePeer

STEP_TIMEOUT_S = 2.0


def scenario(case: str) -> dict[str, Any]:
    if case in XML_CASES:
        request: dict[str, Any] = {"method": "GET", "path": f"/{case}", "headers": {"Accept": "application/xml"}}
        expect: dict[str, Any] = {"status": 200, "format": "intel-report-xml/1.0"}
    else:
        request = {
            "method": "POST",
            "path": f"/{case}",
            "message": {"sample": "intel-report/1.0/valid/minimal.json", "set": {"/reportId": "${uuid:r}"}},
        }
        expect = {"status": 202, "media_type": "application/json", "json": {"/status": "accepted"}}
    return {"id": case, "title": case, "level": "MUST", "steps": [{"id": "s", "request": request, "expect": expect}]}


async def test_every_hostile_answer_is_a_clear_failed_check(catalog: Catalog) -> None:
    suite = Suite("hostile", "1", "hostile answers", "", tuple(scenario(c) for c in CASES), "")
    measured: dict[str, dict[str, float]] = {}
    marks: dict[str, float] = {}

    def listener(event: Event) -> None:
        if isinstance(event, ScenarioFinished):
            marks[event.result.id] = event.result.duration_ms

    tracemalloc.start()
    try:
        async with HostilePeer() as url:
            transport = HttpTransport(TransportOptions(timeout_s=STEP_TIMEOUT_S, concurrency=1))
            runner = Runner(catalog, transport, url, [listener], concurrency=1)
            try:
                for case in CASES:  # one at a time, so each case's peak memory is its own
                    tracemalloc.reset_peak()
                    started = time.perf_counter()
                    result = await runner.run_scenario(scenario(case))
                    measured[case] = {
                        "seconds": round(time.perf_counter() - started, 3),
                        "peak_mib": round(tracemalloc.get_traced_memory()[1] / (1 << 20), 2),
                    }
                    assert result.verdict == "failed", (case, result)
                    failure = result.failures[0]
                    assert failure.message and "\n" not in failure.message, (case, failure)
                    measured[case]["message"] = failure.message  # type: ignore[assignment]
                run = await runner.run(suite)  # the same cases in one run: it completes, every one failed
            finally:
                await transport.close()
    finally:
        tracemalloc.stop()
    assert [r.verdict for r in run.results] == ["failed"] * len(CASES)
    assert set(marks) == set(CASES)
    for case, figures in measured.items():
        # Memory is bounded by the 16 MiB body limit, never by what the peer sends (100-200 MiB).
        assert figures["peak_mib"] < 48, (case, figures)
    if os.environ.get("HARNESS_HOSTILE_REPORT"):
        Path(os.environ["HARNESS_HOSTILE_REPORT"]).write_text(json.dumps(measured, indent=1, ensure_ascii=False))


def test_every_case_is_exercised() -> None:
    assert len(CASES) >= 18
    assert set(CASES) >= XML_CASES
