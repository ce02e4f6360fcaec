"""What evidence costs: replay with and without the evidence reporter, bundle size and the time to
write and verify a bundle per suite, and the run store's write time per run (SQLite, PostgreSQL).

The replay overhead is the ratio of the evidence-on rate to the evidence-off rate, measured in
interleaved rounds against the same ``harness serve`` process (benchmarks/replay.py's server).
Prints one JSON document. Bounded: --rounds rounds of --requests exchanges per side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from replay import SCENARIO, start_server

from harness.catalog import Catalog, load_catalog
from harness.endpoints import ReferenceServer, build_app
from harness.evidence import TrustList, Verifier
from harness.evidence.bundle import EvidenceReporter, Sut
from harness.evidence.keys import keyid
from harness.evidence.trust import TrustEntry
from harness.model import Suite
from harness.runner.engine import Runner
from harness.store import RunRecord, open_store
from harness.transport import TransportOptions, load_transport

SUT = Sut("Bench Ltd", "Bench", "1")


async def replay(catalog: Catalog, url: str, count: int, concurrency: int, folder: Path | None) -> float:
    suite = catalog.suite("intel-core")
    template = next(s for s in suite.scenarios if s["id"] == SCENARIO)
    scenarios = tuple({**template, "id": f"{SCENARIO}#{i}"} for i in range(count))
    bench = Suite(suite.name, suite.version, suite.title, "", scenarios, suite.directory)
    listeners: list[Any] = [EvidenceReporter(folder, bench, catalog.root, sut=SUT)] if folder else []
    transport = load_transport("http", TransportOptions(concurrency=concurrency))
    try:
        runner = Runner(catalog, transport, url, listeners, concurrency=concurrency)
        started = time.perf_counter()
        finished = await runner.run(bench)
        elapsed = time.perf_counter() - started
    finally:
        await transport.close()
    if finished.summary.passed != count:
        raise SystemExit("replay: not every exchange passed; no figure")
    return count / elapsed


class _Timed(EvidenceReporter):
    finish_s = 0.0

    def finish(self, event: Any) -> Path:
        started = time.perf_counter()
        path = super().finish(event)
        self.finish_s = time.perf_counter() - started
        return path


async def per_suite(catalog: Catalog, folder: Path, key: Ed25519PrivateKey) -> dict[str, Any]:
    """Each latest suite against the reference supplier with a signed bundle; its size, write and verify times."""
    from harness.endpoints import RecorderCounterpart
    from harness.endpoints.sip_gateway import SipServer

    figures: dict[str, Any] = {}
    public = key.public_key()
    verifier = Verifier(catalog, TrustList((TrustEntry(keyid(public), public, "bench", ("*",)),)))
    async with ReferenceServer(build_app(catalog)) as url, SipServer(catalog) as sip:
        for suite in catalog.latest_suites():
            dataset = catalog.datasets.get(suite.dataset) if suite.dataset else None
            reporter = _Timed(folder / suite.name, suite, catalog.root, dataset, sut=SUT, sign_key=key)
            counterpart_app = build_app(catalog)
            http = load_transport("http", TransportOptions())
            sip_transport = load_transport("sip", TransportOptions())
            try:
                async with ReferenceServer(counterpart_app) as counterpart_url:
                    counterpart = RecorderCounterpart(counterpart_app, counterpart_url) if suite.counterpart else None
                    extra = {"sip": (sip_transport, sip.uri())}
                    runner = Runner(catalog, http, url, [reporter], counterpart=counterpart, extra_targets=extra)
                    await runner.run(suite)
            finally:
                await http.close()
                await sip_transport.close()
            assert reporter.bundle is not None
            started = time.perf_counter()
            assert verifier.verify(reporter.bundle).valid
            verify_s = time.perf_counter() - started
            started = time.perf_counter()
            assert verifier.verify(reporter.bundle, rejudge=True).valid
            rejudge_s = time.perf_counter() - started
            figures[suite.ref] = {
                "bundle_bytes": reporter.bundle.stat().st_size,
                "write_ms": round(reporter.finish_s * 1000, 1),
                "verify_ms": round(verify_s * 1000, 1),
                "verify_rejudge_ms": round(rejudge_s * 1000, 1),
            }
    return figures


def store_timing(url: str, runs: int, scenarios: int) -> float:
    store = open_store(url)
    results = {
        "suite": {"name": "intel-core", "version": "1.0"},
        "started": "2026-01-01T00:00:00.000Z",
        "finished": "2026-01-01T00:00:01.000Z",
        "certified": True,
        "summary": {"passed": scenarios, "failed": 0, "errors": 0, "skipped": 0, "manual": 0},
        "scenarios": [
            {"id": f"IC-{i:02}", "level": "MUST", "verdict": "passed", "failures": [], "latency_ms": {"p95": 1.0}}
            for i in range(scenarios)
        ],
    }
    try:
        started = time.perf_counter()
        for n in range(runs):
            store.record(RunRecord(f"bench-{n}-{time.time_ns()}", results, {}, None, None, "unsigned", "run"))
        return (time.perf_counter() - started) / runs * 1000
    finally:
        store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--postgres", metavar="URL", help="also time the store on this PostgreSQL")
    args = parser.parse_args()
    catalog = load_catalog()
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        process, url = start_server()
        try:
            asyncio.run(replay(catalog, url, 200, args.concurrency, None))
            off: list[float] = []
            on: list[float] = []
            for n in range(max(1, args.rounds)):
                off.append(asyncio.run(replay(catalog, url, args.requests, args.concurrency, None)))
                on.append(asyncio.run(replay(catalog, url, args.requests, args.concurrency, root / f"r{n}")))
        finally:
            process.terminate()
            process.wait(timeout=10)
        ratios = sorted(a / b for a, b in zip(on, off, strict=True))
        result["replay"] = {
            "off_rps": round(statistics.median(off), 1),
            "on_rps": round(statistics.median(on), 1),
            "ratio_on_to_off": round(statistics.median(ratios), 3),
            "ratio_range": [round(ratios[0], 3), round(ratios[-1], 3)],
            "requests": args.requests,
            "rounds": len(ratios),
        }
        result["suites"] = asyncio.run(per_suite(catalog, root / "suites", Ed25519PrivateKey.generate()))
        result["store_ms_per_run"] = {"sqlite": round(store_timing(f"sqlite:///{root / 's.db'}", 50, 21), 2)}
        if args.postgres:
            result["store_ms_per_run"]["postgresql"] = round(store_timing(args.postgres, 50, 21), 2)
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
