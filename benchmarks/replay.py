"""Replay throughput of the submit exchange against the raw aiohttp baseline, measured in the same run.

The reference endpoint runs in its own process (``harness serve`` on loopback),
so both clients below meet the same server and differ only in what the
client does per exchange:

- raw: an aiohttp client POSTing prepared bodies (fresh reportIds), reading the answer;
- harness: the runner replaying intel-core's submit scenario: message built from
  the catalog sample with a fresh reportId, validated against its format before
  sending, and the answer checked (status, media type, Location, members, timestamp).

Prints a table, or with --json one line: {"raw_rps", "harness_rps", "ratio", "ratio_range", "client_cpu_us", ...}.
With --evidence, each round also replays with the evidence reporter (every exchange recorded as it crossed the
wire, redacted, spooled; the bundle written), and ``evidence_overhead`` is 1 - its rate / the harness's
(``evidence_cpu_overhead``: 1 - the harness's client CPU per exchange / its own, per round).
Bounded: --rounds rounds of --requests exchanges per side (default 5 x 2000), each raw round at most
--max-seconds. Figures are medians over the rounds (the ratio is the median of the per-round ratios).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from harness.catalog import load_catalog
from harness.events import RunFinished
from harness.evidence.bundle import EvidenceReporter
from harness.model import Suite
from harness.session import RunSession

SCENARIO = "IC-01"
CPU = {
    "raw": 0.0,
    "harness": 0.0,
    "evidence": 0.0,
}  # client CPU seconds in the measured rounds (the server is another process)


def start_server() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "serve", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "http://" not in line:
        process.kill()
        raise SystemExit(f"reference endpoint did not start: {line!r}")
    return process, line.split(" on ", 1)[1].split()[0]


async def raw(url: str, bodies: list[bytes], concurrency: int, deadline: float) -> tuple[int, float]:
    connector = aiohttp.TCPConnector(limit=concurrency)
    headers = {"Content-Type": "application/vnd.netcode.intel-report+json"}
    queue = iter(bodies)
    done = 0

    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal done
            for body in queue:
                if time.perf_counter() > deadline:
                    return
                async with session.post(url + "/netcode/v1/intel-reports", data=body, headers=headers) as answer:
                    await answer.read()
                    if answer.status != 202:
                        raise SystemExit(f"raw baseline got {answer.status}")
                done += 1

        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        CPU["raw"] += time.process_time() - cpu
        return done, time.perf_counter() - started


async def replay(url: str, count: int, concurrency: int, evidence: Path | None = None) -> tuple[int, float, int]:
    """The runner's replay; with ``evidence`` (a folder), the evidence reporter records every exchange (redacted,
    spooled to disk) and writes the bundle, inside the measured time."""
    catalog = load_catalog()
    suite = catalog.suite("intel-core")
    template = suite.scenario(SCENARIO)
    # Typed copies, as the catalog types a suite when it loads it (the run itself never types a scenario).
    typed = tuple(
        dataclasses.replace(template, id=f"{SCENARIO}#{i}", raw={**template.raw, "id": f"{SCENARIO}#{i}"})
        for i in range(count)
    )
    scenarios = tuple(scenario.raw for scenario in typed)
    bench_suite = Suite(suite.name, suite.version, suite.title, "", scenarios, suite.directory, typed=typed)
    session = RunSession(catalog, bench_suite).with_target(url).with_options(concurrency=concurrency)
    if evidence is not None:
        session.with_reporters(evidence, only=["evidence"])
    side = "evidence" if evidence is not None else "harness"
    async with session:
        for guarded in session.reporters:  # the bundle's writing at run end, timed apart from the exchanges
            reporter = guarded.listener  # each reporter of a session is guarded (a failing one stops nothing)
            if isinstance(reporter, EvidenceReporter):
                reporter.finish = _timed(reporter.finish)  # type: ignore[method-assign,assignment]
        started, cpu = time.perf_counter(), time.process_time()
        finished = await session.run()
        elapsed = time.perf_counter() - started
        CPU[side] += time.process_time() - cpu
    return count, elapsed, finished.summary.passed


def _timed(finish: Callable[[RunFinished], Path]) -> Callable[[RunFinished], Path]:
    def timed(event: RunFinished) -> Path:
        cpu = time.process_time()
        try:
            return finish(event)
        finally:
            CPU["finish"] += time.process_time() - cpu

    return timed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="exchanges per side and round")
    parser.add_argument("--rounds", type=int, default=5, help="raw and harness rounds, interleaved")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-seconds", type=float, default=60.0, help="time bound of one raw round")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--evidence",
        action="store_true",
        help="also a round of the runner with the evidence reporter; evidence_overhead = 1 - its rate / harness's",
    )
    args = parser.parse_args()
    sample = Path(load_catalog().format("intel-report/1.0").directory, "samples/valid/full.json").read_bytes()
    original = json.loads(sample)["reportId"].encode()
    raw_rates: list[float] = []
    counts = {"raw": 0, "harness": 0, "evidence": 0}
    harness_rates: list[float] = []
    evidence_rates: list[float] = []
    cpu_overheads: list[float] = []  # per round: 1 - the runner's client CPU per exchange / with evidence
    process, url = start_server()
    try:
        warm = [sample.replace(original, str(uuid.uuid4()).encode()) for _ in range(200)]
        asyncio.run(raw(url, warm, args.concurrency, time.perf_counter() + 10))
        asyncio.run(replay(url, 200, args.concurrency))
        CPU.update(raw=0.0, harness=0.0, evidence=0.0, finish=0.0)
        # Interleaved rounds: a burst of load from elsewhere on the machine hits both sides alike.
        for _ in range(max(1, args.rounds)):
            bodies = [sample.replace(original, str(uuid.uuid4()).encode()) for _ in range(args.requests)]
            raw_done, raw_s = asyncio.run(raw(url, bodies, args.concurrency, time.perf_counter() + args.max_seconds))
            h_cpu = CPU["harness"]
            h_done, h_s, passed = asyncio.run(replay(url, min(args.requests, raw_done), args.concurrency))
            h_cpu = (CPU["harness"] - h_cpu) / max(1, h_done)
            if passed != h_done:
                raise SystemExit(f"harness replay: only {passed} of {h_done} exchanges passed; no figure")
            counts["raw"] += raw_done
            counts["harness"] += h_done
            raw_rates.append(raw_done / raw_s)
            harness_rates.append(h_done / h_s)
            if args.evidence:
                e_cpu = CPU["evidence"]
                with tempfile.TemporaryDirectory(prefix="replay-evidence-") as folder:
                    e_done, e_s, e_passed = asyncio.run(replay(url, h_done, args.concurrency, Path(folder)))
                e_cpu = (CPU["evidence"] - e_cpu) / max(1, e_done)
                cpu_overheads.append(1 - h_cpu / e_cpu if e_cpu else 0.0)
                if e_passed != e_done:
                    raise SystemExit(f"harness replay with evidence: only {e_passed} of {e_done} passed; no figure")
                counts["evidence"] += e_done
                evidence_rates.append(e_done / e_s)
    finally:
        process.terminate()
        process.wait(timeout=10)
    ratios = sorted(h / r for h, r in zip(harness_rates, raw_rates, strict=True))
    result: dict[str, Any] = {
        "raw_rps": round(statistics.median(raw_rates), 1),
        "harness_rps": round(statistics.median(harness_rates), 1),
        "ratio": round(statistics.median(ratios), 3),
        "ratio_range": [round(ratios[0], 3), round(ratios[-1], 3)],
        "requests": args.requests,
        "rounds": len(ratios),
        "concurrency": args.concurrency,
        # What each client spends per exchange: the side above the server's own cost is bound by itself.
        "client_cpu_us": {side: round(CPU[side] / counts[side] * 1e6, 1) for side in counts if counts[side]},
    }
    if evidence_rates:
        # per round, against the harness round just before it: 1 - (with evidence) / (without)
        overheads = sorted(1 - e / h for e, h in zip(evidence_rates, harness_rates, strict=True))
        result["evidence_rps"] = round(statistics.median(evidence_rates), 1)
        result["evidence_overhead"] = round(statistics.median(overheads), 3)
        result["evidence_overhead_range"] = [round(overheads[0], 3), round(overheads[-1], 3)]
        # The same from the client's CPU per exchange (what bounds its rate when it is the slower side): steadier
        # than the rates on a shared machine, where another process's burst hits one round and not the next.
        cpu_overheads.sort()
        result["evidence_cpu_overhead"] = round(statistics.median(cpu_overheads), 3)
        result["evidence_cpu_overhead_range"] = [round(cpu_overheads[0], 3), round(cpu_overheads[-1], 3)]
        # Of the evidence side's client CPU: writing the bundle at run end (results, JUnit, suite files, ZIP),
        # which grows with the scenarios (here one per exchange), and recording the exchanges as they go.
        per = 1e6 / max(1, counts["evidence"])
        result["evidence_cpu_us"] = {
            "finish": round(CPU["finish"] * per, 1),
            "recording": round((CPU["evidence"] - CPU["finish"]) * per - CPU["harness"] * 1e6 / counts["harness"], 1),
        }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>12}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
