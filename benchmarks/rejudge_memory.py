"""Peak memory and time of re-judging a large evidence bundle (issue 21: 50 MB under 200 MB RSS).

``make`` runs the intel-core scenarios once against the in-process reference supplier with the
evidence reporter, then writes a bundle of COPIES copies of that genuine record (every scenario id
suffixed ``~N``, its exchanges copied with it) until the ZIP reaches about --megabytes; ``judge``
re-judges it through the runner's replay seam in a fresh process and prints its peak RSS beside the
RSS of the same process before re-judging (imports, catalog, suite and results.json: the baseline). IC-23 (one
1 MB oversize body that deflates 100:1) is left out, so the size is made of ordinary exchanges.
With ``--shape attempts`` the suite stays one copy and every exchange is recorded as sent again and
again (attempts 1..N, the last judged): the bytes grow, the scenarios do not. ``--per-suite``: a
genuine bundle of each latest suite. Prints one JSON document.
Run: ``python benchmarks/rejudge_memory.py --megabytes 50 [--shape attempts]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from harness.catalog import Catalog, load_catalog
from harness.model import Suite

SUITE = "intel-core"


LEFT_OUT = {"IC-23"}


def bench_suite(catalog: Catalog, copies: int) -> Suite:
    """``copies`` copies of every scenario of the suite (ids ``IC-05~3``), in one suite."""
    suite = catalog.suite(SUITE)
    kept = [s for s in suite.scenarios if s["id"] not in LEFT_OUT]
    scenarios = tuple({**s, "id": f"{s['id']}~{i}"} for i in range(copies) for s in kept)
    return Suite(suite.name, suite.version, suite.title, "", scenarios, suite.directory, dataset=suite.dataset)


async def genuine(folder: Path) -> Path:
    from harness.endpoints import ReferenceServer, build_app
    from harness.evidence.bundle import EvidenceReporter
    from harness.session import RunSession

    catalog = load_catalog()
    suite = bench_suite(catalog, 1)
    dataset = catalog.datasets.get(suite.dataset) if suite.dataset else None
    reporter = EvidenceReporter(folder, suite, catalog.root, dataset)
    async with ReferenceServer(build_app(catalog)) as url:
        session = RunSession(catalog, suite).with_target(url).with_listener(reporter)
        async with session:
            await session.run()
    assert reporter.bundle is not None
    return reporter.bundle


def make_attempts(source: Path, out: Path, megabytes: float) -> int:
    """A bundle of ``source``'s suite (one copy) whose every exchange was sent again and again: each record
    first as attempts 1..N-1, then as it was (attempt N, the one judged), until the ZIP is about
    ``megabytes``. The number of attempts."""
    with zipfile.ZipFile(source) as archive:
        results = archive.read("results.json")
        records = [json.loads(line) for line in archive.read("exchanges.jsonl").splitlines() if line.strip()]
    attempt = 1
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        with archive.open("exchanges.jsonl", "w", force_zip64=True) as member:
            while out.stat().st_size < megabytes * (1 << 20):
                for record in records:
                    if record["direction"] == "harness->sut":
                        member.write(json.dumps({**record, "attempt": attempt}, ensure_ascii=False).encode() + b"\n")
                attempt += 1
            for record in records:  # the last attempt of each (and what reached the counterpart, once)
                member.write(json.dumps({**record, "attempt": attempt}, ensure_ascii=False).encode() + b"\n")
        archive.writestr("results.json", results)
    return attempt


def make(source: Path, out: Path, megabytes: float) -> int:
    """A bundle of copies of ``source``'s record, ZIP about ``megabytes``; the number of copies."""
    with zipfile.ZipFile(source) as archive:
        results = json.loads(archive.read("results.json"))
        records = [json.loads(line) for line in archive.read("exchanges.jsonl").splitlines() if line.strip()]
    copies, scenarios = 0, []
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        with archive.open("exchanges.jsonl", "w", force_zip64=True) as member:
            while out.stat().st_size < megabytes * (1 << 20) or copies == 0:
                for record in records:
                    copied = {**record, "scenario": record["scenario"].replace("~0", f"~{copies}")}
                    member.write(json.dumps(copied, ensure_ascii=False).encode() + b"\n")
                scenarios += [{**s, "id": s["id"].replace("~0", f"~{copies}")} for s in results["scenarios"]]
                copies += 1
        archive.writestr("results.json", json.dumps({**results, "scenarios": scenarios}))
    return copies


async def per_suite(folder: Path) -> dict[str, Path]:
    """A genuine bundle of each latest suite version against the reference supplier (SIP too)."""
    from harness.endpoints import ReferenceServer, build_app
    from harness.endpoints.sip_gateway import SipServer
    from harness.evidence.bundle import EvidenceReporter
    from harness.session import RunSession

    catalog = load_catalog()
    bundles: dict[str, Path] = {}
    for suite in catalog.latest_suites():
        dataset = catalog.datasets.get(suite.dataset) if suite.dataset else None
        reporter = EvidenceReporter(folder / suite.name, suite, catalog.root, dataset)
        async with ReferenceServer(build_app(catalog)) as url, SipServer(catalog) as sip:
            session = RunSession(catalog, suite).with_target(url).with_target(sip.uri(), name="sip")
            async with session.with_listener(reporter):
                await session.run()
        assert reporter.bundle is not None
        bundles[suite.ref] = reporter.bundle
    return bundles


def judge(bundle: Path, copies: int, ref: str | None = None) -> dict[str, Any]:
    from harness.evidence.archive import iter_exchanges
    from harness.evidence.rejudge import rejudge

    catalog = load_catalog()
    suite = catalog.suite(ref) if ref else bench_suite(catalog, copies)
    with zipfile.ZipFile(bundle) as archive:
        results = json.loads(archive.read("results.json"))
    # The baseline: imports, catalog, the suite to judge by and results.json parsed (re-judging's inputs).
    baseline_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with zipfile.ZipFile(bundle) as archive:
        differences = rejudge(catalog, suite, str(results["target"]), iter_exchanges(archive), results)
    elapsed = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "differences": len(differences),
        "first_difference": differences[:1],
        "scenarios": len(results["scenarios"]),
        "rejudge_s": round(elapsed, 1),
        "baseline_rss_mib": round(baseline_kib / 1024, 1),
        "peak_rss_mib": round(peak_kib / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=50.0)
    parser.add_argument("--judge", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--copies", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--suite", help=argparse.SUPPRESS)
    parser.add_argument("--per-suite", action="store_true", help="a genuine bundle of each latest suite instead")
    parser.add_argument(
        "--shape",
        choices=("scenarios", "attempts"),
        default="scenarios",
        help="grow the bundle by copies of every scenario, or by sending every exchange again and again",
    )
    args = parser.parse_args()
    if args.judge is not None:
        print(json.dumps(judge(args.judge, args.copies or 0, args.suite)))
        return
    if args.per_suite:
        with tempfile.TemporaryDirectory(prefix="rejudge-bench-") as temporary:
            figures = {}
            for ref, bundle in asyncio.run(per_suite(Path(temporary))).items():
                command = [sys.executable, __file__, "--judge", str(bundle), "--suite", ref]
                judged = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
                figures[ref] = {"bundle_kib": round(bundle.stat().st_size / 1024, 1), **judged}
        print(json.dumps(figures, indent=1))
        return
    with tempfile.TemporaryDirectory(prefix="rejudge-bench-") as temporary:
        folder = Path(temporary)
        source = asyncio.run(genuine(folder / "genuine"))
        bundle = folder / "big.evidence.zip"
        started = time.perf_counter()
        if args.shape == "attempts":
            copies, attempts = 1, make_attempts(source, bundle, args.megabytes)
        else:
            copies, attempts = make(source, bundle, args.megabytes), 1
        made_s = time.perf_counter() - started
        with zipfile.ZipFile(bundle) as archive:
            exchanges = archive.getinfo("exchanges.jsonl")
        command = [sys.executable, __file__, "--judge", str(bundle), "--copies", str(copies)]
        judged = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
        print(
            json.dumps(
                {
                    "bundle_mib": round(bundle.stat().st_size / (1 << 20), 1),
                    "exchanges_jsonl_mib": round(exchanges.file_size / (1 << 20), 1),
                    "shape": args.shape,
                    "copies": copies,
                    "attempts_per_exchange": attempts,
                    "make_s": round(made_s, 1),
                    **judged,
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
