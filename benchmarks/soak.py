"""Soak: --exchanges exchanges (default 1,000,000) of ``harness load`` against ``harness serve --processes N``.

Reports the resident memory (RSS) of every process of both sides, sampled once the load is running
(start) and just before it ends (end), with every check on throughout; the growth must stay small
(the reference's recorder and stores are bounded; the load side keeps counts and bounded examples).

Prints a table, or with --json one line: {"exchanges", "failures", "errors", "rps", "processes": [{"role",
"rss_start_mb", "rss_end_mb", "growth_mb"}, ...], "rss_start_mb", "rss_end_mb" (the largest of each side)}.
Bounded: --time-limit seconds at most (then the load stops and what was done is reported).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
WARM_UP_S = 10.0


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _rss(processes: list[psutil.Process]) -> dict[int, float]:
    sizes: dict[int, float] = {}
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            rss = process.memory_info().rss / (1 << 20)
            if rss > 0:  # a process on its way out reads 0
                sizes[process.pid] = rss
    return sizes


def _role(process: psutil.Process, side: str) -> str:
    try:
        line = process.cmdline()
    except psutil.NoSuchProcess:
        return side
    if "harness.load.locust_process" in line:
        return f"{side} locust {line[line.index('--role') + 1]}"
    return f"{side} {'serving' if '--reuse-port' in line else 'command'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exchanges", type=int, default=1_000_000)
    parser.add_argument("--processes", type=int, default=2, help="load processes (Locust workers)")
    parser.add_argument("--server-processes", type=int, default=2)
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--suite", default="intel-core")
    parser.add_argument("--time-limit", type=float, default=7200.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "serve", "--host", "127.0.0.1", "--port", "0"]
        + ["--processes", str(args.server_processes)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
    )  # fmt: skip
    assert server.stdout is not None
    line = server.stdout.readline()
    if "http://" not in line:
        server.kill()
        raise SystemExit(f"reference endpoint did not start: {line!r}")
    url = line.split(" on ", 1)[1].split()[0]
    start: dict[int, float] = {}
    last: dict[int, float] = {}
    roles: dict[int, str] = {}
    try:
        with tempfile.TemporaryDirectory() as scratch:
            load = subprocess.Popen(
                [sys.executable, "-m", "harness.cli", "load", "--suite", args.suite, "--target", url,
                 "--users", str(args.users), "--spawn-rate", "100", "--exchanges", str(args.exchanges),
                 "--processes", str(args.processes), "--time-limit", str(args.time_limit), "--reports", scratch,
                 "--quiet"],
                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            began = time.monotonic()
            next_log = began + 60
            while load.poll() is None:
                time.sleep(1.0)
                tree = [(p, "load") for p in _tree(load.pid)] + [(p, "server") for p in _tree(server.pid)]
                sizes = _rss([p for p, _ in tree])
                for process, side in tree:
                    roles.setdefault(process.pid, _role(process, side))
                if time.monotonic() - began >= WARM_UP_S:
                    for pid, size in sizes.items():
                        start.setdefault(pid, size)
                    last.update(sizes)
                if time.monotonic() >= next_log:
                    next_log += 60
                    print(
                        f"soak: {time.monotonic() - began:.0f} s, rss {json.dumps(last)}", file=sys.stderr, flush=True
                    )
            out, err = load.communicate()
            if load.returncode not in (0, 1):
                raise SystemExit(f"harness load failed ({load.returncode}): {out}{err}")
            document: dict[str, Any] = json.loads((Path(scratch) / "load.json").read_text())
    finally:
        server.terminate()
        server.wait(timeout=30)
    processes = [
        {
            "role": roles.get(pid, "?"),
            "rss_start_mb": round(start[pid], 1),
            "rss_end_mb": round(last[pid], 1),
            "growth_mb": round(last[pid] - start[pid], 1),
        }
        for pid in sorted(start)
        if pid in last
    ]
    result = {
        "exchanges": document["exchanges"],
        "failures": document["failures"],
        "errors": document["errors"],
        "rps": document["rps"],
        "elapsed_s": document["elapsed_s"],
        "rss_start_mb": {side: max((p["rss_start_mb"] for p in processes if p["role"].startswith(side)), default=0)
                         for side in ("load", "server")},
        "rss_end_mb": {side: max((p["rss_end_mb"] for p in processes if p["role"].startswith(side)), default=0)
                       for side in ("load", "server")},
        "max_growth_mb": max((p["growth_mb"] for p in processes), default=0.0),
        "processes": processes,
        "suite": args.suite,
        "load_processes": args.processes,
        "server_processes": args.server_processes,
    }  # fmt: skip
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>16}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
