"""Load mode with every check on against Locust's FastHttpUser with no checks: same endpoint, same run.

The reference endpoint runs as ``harness serve --processes S`` on loopback. For each process count P
(``--processes 1 2``), in interleaved rounds:

- locust: P processes of plain Locust (``FastHttpUser``, no checks) POSTing the intel-core submit
  message with a fresh reportId each time (the body prepared from the catalog sample, a string
  replacement per request, nothing judged);
- harness: ``harness load --suite intel-core --scenario IC-01 --processes P``: the same exchange built
  from the catalog with fresh identifiers, validated before sending, every check of the scenario on
  the answer (status, media type, Location, members, format).

Prints a table, or with --json one line: {"locust_rps", "harness_rps", "ratio", "by_processes": {P: ...}}
(the top-level figures are for the first process count). Bounded: --rounds x --duration seconds per side.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def start_server(processes: int) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "serve", "--host", "127.0.0.1", "--port", "0"]
        + ["--processes", str(processes)],
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


def plain(url: str, users: int, duration: float, result: Path) -> None:
    """One plain Locust process (run as ``load.py --plain``): no checks, requests counted by Locust."""
    import uuid

    import gevent
    import locust  # noqa: F401  (first: it patches for gevent)
    from locust import FastHttpUser, constant, task
    from locust.env import Environment

    from harness.catalog import load_catalog

    sample = Path(load_catalog().format("intel-report/1.0").directory, "samples/valid/full.json").read_bytes()
    original = json.loads(sample)["reportId"].encode()

    class PlainUser(FastHttpUser):
        host = url
        wait_time = constant(0)

        @task
        def submit(self) -> None:
            body = sample.replace(original, str(uuid.uuid4()).encode())
            headers = {"Content-Type": "application/vnd.netcode.intel-report+json"}
            self.client.post("/netcode/v1/intel-reports", data=body, headers=headers)  # type: ignore[arg-type]

    environment = Environment(user_classes=[PlainUser])
    runner = environment.create_local_runner()
    began = time.monotonic()
    runner.start(users, spawn_rate=1000)
    gevent.sleep(duration)
    elapsed = time.monotonic() - began
    count = environment.stats.total.num_requests
    runner.quit()
    result.write_text(json.dumps({"requests": count, "elapsed_s": elapsed}), encoding="utf-8")


def locust_rps(url: str, processes: int, users: int, duration: float) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        paths = [Path(scratch) / f"{index}.json" for index in range(processes)]
        share = max(1, users // processes)
        children = [
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--plain",
                    url,
                    "--users",
                    str(share),
                    "--duration",
                    str(duration),
                    "--result",
                    str(path),
                ],
                cwd=ROOT,
                stderr=subprocess.DEVNULL,
            )
            for path in paths
        ]
        for child in children:
            child.wait(timeout=duration + 120)
        results = [json.loads(path.read_text()) for path in paths]
    return sum(r["requests"] / r["elapsed_s"] for r in results)


def harness_rps(url: str, processes: int, users: int, duration: float) -> tuple[float, dict[str, Any]]:
    with tempfile.TemporaryDirectory() as scratch:
        done = subprocess.run(
            [sys.executable, "-m", "harness.cli", "load", "--suite", "intel-core", "--scenario", "IC-01",
             "--target", url, "--users", str(users), "--spawn-rate", "1000", "--duration", str(duration),
             "--processes", str(processes), "--reports", scratch, "--quiet"],
            cwd=ROOT, capture_output=True, text=True, timeout=duration + 300,
        )  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"harness load failed ({done.returncode}): {done.stdout}{done.stderr}")
        document: dict[str, Any] = json.loads((Path(scratch) / "load.json").read_text())
    if document["failures"] or document["errors"]:
        raise SystemExit(f"harness load saw {document['failures']} failures, {document['errors']} errors: no figure")
    return float(document["rps"]), document


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2], help="process counts to measure")
    parser.add_argument(
        "--server-processes",
        type=int,
        default=1,
        help="processes of the reference endpoint (default 1: the fastest, so the clients are what differs)",
    )
    parser.add_argument("--users", type=int, default=16, help="users in all (split over the processes)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per side and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--plain", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain:
        plain(args.plain, args.users, args.duration, args.result)
        return 0
    server, url = start_server(args.server_processes)
    by_processes: dict[str, Any] = {}
    try:
        for processes in args.processes:
            plain_rates: list[float] = []
            checked_rates: list[float] = []
            hub_late: list[float] = []
            for _ in range(max(1, args.rounds)):  # interleaved: a burst from elsewhere hits both sides alike
                plain_rates.append(locust_rps(url, processes, args.users, args.duration))
                rate, document = harness_rps(url, processes, args.users, args.duration)
                checked_rates.append(rate)
                hub_late.append(float(document.get("hub_late_ms", 0.0)))
            ratios = sorted(h / p for h, p in zip(checked_rates, plain_rates, strict=True))
            by_processes[str(processes)] = {
                "locust_rps": round(statistics.median(plain_rates), 1),
                "harness_rps": round(statistics.median(checked_rates), 1),
                "ratio": round(statistics.median(ratios), 3),
                "ratio_range": [round(ratios[0], 3), round(ratios[-1], 3)],
                "hub_late_ms_max": round(max(hub_late), 1),
            }
    finally:
        server.terminate()
        server.wait(timeout=30)
    first = by_processes[str(args.processes[0])]
    result = {
        "locust_rps": first["locust_rps"],
        "harness_rps": first["harness_rps"],
        "ratio": first["ratio"],
        "by_processes": by_processes,
        "users": args.users,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "server_processes": args.server_processes,
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>16}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
