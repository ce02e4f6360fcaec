"""``harness proxy`` under load: throughput and added latency with every check on, against the same client going
straight to the same server in the same run; and a bounded soak showing the proxy's memory stays flat.

    python benchmarks/proxy.py [--json] [--rounds 3] [--requests 3000] [--connections 4] [--soak 50000]
                               [--server raw|reference] [--forward-only] [--pin]

The server is a raw asyncio server in its own process answering a valid person query with a valid person result
(so the checker validates both messages, the status, the echoed queryId), or the reference supplier; the proxy is
the real ``harness proxy`` command in its own process (with its checking process); the client (this process) keeps
its connections alive and sends one request at a time per connection. Client and server are the same in both arms.
Latency is measured with one connection (no queueing), throughput with ``--connections`` (the same in both arms).
Both paths are warmed first; each round runs the two arms back to back, alternating which goes first, and the
ratio reported is the median of the rounds' own ratios. Each round also reads the CPU time per exchange of the
client, the server, the proxy's forwarding process and its checking process from /proc (load-independent, unlike
the rates), and the load average is recorded before and after. ``--pin`` keeps client and server on one CPU and the
proxy on another. Loopback only. The proxy's RSS (and its checking process's) is read from /proc every
``--soak / 20`` exchanges during the soak.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.proxy.loop import loop_name

ROOT = Path(__file__).resolve().parent.parent

QUERY = json.dumps(
    {
        "queryId": "5b0f7c3e-2a4d-4c1b-9e8f-0a1b2c3d4e5f",
        "profile": "netcode.person-query/1.0",
        "requestedBy": {"force": "met", "officerId": "PC4711", "purpose": "investigation"},
        "criteria": {"familyName": "SMITH", "givenName": "John"},
    }
).encode()
RESULT = json.dumps(
    {
        "queryId": "5b0f7c3e-2a4d-4c1b-9e8f-0a1b2c3d4e5f",
        "profile": "netcode.person-result/1.0",
        "status": "no-trace",
        "matches": [],
    }
).encode()
REQUEST = (
    b"POST /netcode/v1/queries/person HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
    b"Content-Length: " + str(len(QUERY)).encode() + b"\r\n\r\n" + QUERY
)
ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(RESULT)).encode()
    + b"\r\n\r\n"
    + RESULT
)


# -- the server (run as ``--serve``) ----------------------------------------------------------------------------


class _Answering(asyncio.Protocol):
    """Answers every complete request (one Content-Length body) with the canned answer."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport, self.buffer = transport, b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            match = re.search(rb"(?i)content-length: *(\d+)", self.buffer[:end])
            total = end + 4 + (int(match.group(1)) if match else 0)
            if len(self.buffer) < total:
                return
            self.buffer = self.buffer[total:]
            self.transport.write(ANSWER)


_LENGTH = re.compile(rb"(?i)\r\ncontent-length: *(\d+)")


def serve() -> None:
    async def run() -> None:
        server = await asyncio.get_running_loop().create_server(_Answering, "127.0.0.1", 0)
        print(f"listening on http://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(run())


# -- the client ------------------------------------------------------------------------------------------------


async def _connection(host: str, port: int, count: int, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    for _ in range(count):
        began = time.perf_counter()
        writer.write(REQUEST)
        head = await reader.readuntil(b"\r\n\r\n")
        length = _LENGTH.search(head)
        await reader.readexactly(int(length.group(1)) if length else 0)
        latencies.append(time.perf_counter() - began)
    writer.close()


async def _measure(url: str, requests: int, connections: int) -> tuple[float, list[float]]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    latencies: list[float] = []
    began = time.perf_counter()
    per = max(1, requests // connections)
    await asyncio.gather(*(_connection(host, int(port), per, latencies) for _ in range(connections)))
    return len(latencies) / (time.perf_counter() - began), latencies


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _start(command: list[str], stdout: int | object = subprocess.PIPE) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert process.stdout is not None
    line = process.stdout.readline()
    if " on http://" not in line:
        process.kill()
        raise SystemExit(f"did not start: {command}: {line!r} {process.stderr.read() if process.stderr else ''}")
    return process, line.split(" on ", 1)[1].split()[0]


def _cpu_s(pid: int, *, children: bool = False) -> float:
    """CPU seconds (user + system) used so far by ``pid`` itself, or (``children``) by every process under it
    (the proxy's checking process)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    seen = [pid]
    while seen:
        one = seen.pop()
        try:
            if one != pid or not children:
                fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick
            if children or one != pid:
                for task in Path(f"/proc/{one}/task").iterdir():
                    seen += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue  # a process that ended between two reads
    return total


def _cpu(server: int, proxy: int) -> tuple[float, ...]:
    """CPU seconds so far of the client (this process), the server, the proxy's forwarding process and its
    checking process."""
    return time.process_time(), _cpu_s(server), _cpu_s(proxy), _cpu_s(proxy, children=True)


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process under it."""
    found, seen = [], [pid]
    while seen:
        one = seen.pop()
        found.append(one)
        try:
            for task in Path(f"/proc/{one}/task").iterdir():
                seen += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return found


def _pin(pid: int, cpus: set[int]) -> None:
    """Keep ``pid`` and its processes (the proxy's checking process) on ``cpus``."""
    for one in _descendants(pid):
        os.sched_setaffinity(one, cpus)


def _stopped(process: subprocess.Popen[str]) -> dict[str, int]:
    """SIGTERM the proxy; its closing line's counts (exchanges, findings, not checked)."""
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    closing = r"stopped: (\d+) exchange\(s\), (\d+) finding\(s\), \d+ warning\(s\)(?:, (\d+) not checked)?"
    found = re.search(closing, err)
    if found is None:
        raise SystemExit(f"the proxy did not report: {err[-500:]}")
    return {
        "checked": int(found.group(1)),
        "findings": int(found.group(2)),
        "not_checked": int(found.group(3) or 0),
        "exit": process.returncode,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=3000, help="requests per round and path")
    parser.add_argument("--connections", type=int, default=4, help="client connections for throughput")
    parser.add_argument("--soak", type=int, default=50_000, help="exchanges through the proxy for the soak (0: none)")
    parser.add_argument(
        "--server",
        choices=("raw", "reference"),
        default="raw",
        help="raw: a canned-answer asyncio server (the proxy's worst case); reference: harness serve",
    )
    parser.add_argument("--forward-only", action="store_true", help="the proxy forwards and cuts, checks nothing")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="the client and the server on CPU 0 in both arms, the proxy (and its checking process) on CPU 1: "
        "the proxy with a core of its own, as on its own host",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return 0
    cpus = sorted(os.sched_getaffinity(0))
    if args.pin and len(cpus) < 2:
        parser.error("--pin needs two CPUs")
    if args.server == "raw":
        server, direct = _start([sys.executable, __file__, "--serve"])
    else:
        reference = ["serve", "--role", "query-responder", "--host", "127.0.0.1", "--port", "0"]
        server, direct = _start([sys.executable, "-m", "harness.cli", *reference])
    reports = Path(tempfile.mkdtemp(prefix="proxy-bench-"))
    proxy_cmd = [sys.executable, "-m", "harness.cli", "proxy", "--listen", "127.0.0.1:0", "--upstream", direct]
    proxy_cmd += ["--forward-only"] if args.forward_only else []
    proxy, proxied = _start([*proxy_cmd, "--reports", str(reports)])
    if args.pin:
        _pin(os.getpid(), {cpus[0]})
        _pin(server.pid, {cpus[0]})
        _pin(proxy.pid, {cpus[1]})
    load_before = os.getloadavg()
    try:
        for url in (direct, proxied):  # warm both paths (imports, validator compilation, connection set-up)
            asyncio.run(_measure(url, 200, 1))
            asyncio.run(_measure(url, args.requests // 4, args.connections))
        rounds: list[dict[str, float]] = []
        for number in range(args.rounds):
            row: dict[str, float] = {}
            arms = [("direct", direct), ("proxy", proxied)]
            for name, url in arms if number % 2 == 0 else arms[::-1]:  # alternate which arm goes first
                _, latencies = asyncio.run(_measure(url, args.requests // 2, 1))
                cpu = _cpu(server.pid, proxy.pid)
                rate, answered = asyncio.run(_measure(url, args.requests, args.connections))
                after = _cpu(server.pid, proxy.pid)
                row[f"{name}_p50_ms"] = _percentile(latencies, 0.50) * 1000
                row[f"{name}_p99_ms"] = _percentile(latencies, 0.99) * 1000
                row[f"{name}_per_s"] = rate
                # CPU per exchange of each process in the throughput run: load-independent, unlike the rates
                for part, index in (("client", 0), ("server", 1), ("proxy", 2), ("checker", 3)):
                    if index < 2 or name == "proxy":
                        row[f"{name}_{part}_cpu_us"] = (after[index] - cpu[index]) / len(answered) * 1e6
            row["ratio"] = row["proxy_per_s"] / row["direct_per_s"]  # two arms back to back: the same load, mostly
            rounds.append(row)
        verdict = _stopped(proxy)
        proxy, proxied = _start(proxy_cmd)
        if args.pin:
            _pin(proxy.pid, {cpus[1]})
        soak: list[dict[str, int]] = []
        done = 0
        step = max(1, args.soak // 20)
        while done < args.soak:
            asyncio.run(_measure(proxied, min(step, args.soak - done), args.connections))
            done += min(step, args.soak - done)
            checking = sum(_rss_kb(one) for one in _descendants(proxy.pid)[1:])
            soak.append({"exchanges": done, "rss_kb": _rss_kb(proxy.pid), "checker_rss_kb": checking})
        soak_verdict = _stopped(proxy) if args.soak else {}
    finally:
        for process in (server, proxy):
            if process.poll() is None:
                process.kill()
                process.wait()

    def median(key: str) -> float:
        return statistics.median(row[key] for row in rounds)

    summary = {
        "server": args.server,
        "forward_only": args.forward_only,
        "requests_per_round": args.requests,
        "connections": args.connections,
        "rounds": rounds,
        "throughput_ratio": median("ratio"),
        "ratio_of_medians": median("proxy_per_s") / median("direct_per_s"),
        "direct_per_s": median("direct_per_s"),
        "proxy_per_s": median("proxy_per_s"),
        "added_p50_ms": median("proxy_p50_ms") - median("direct_p50_ms"),
        "added_p99_ms": median("proxy_p99_ms") - median("direct_p99_ms"),
        "checks": verdict,
        "soak": {"samples": soak, **soak_verdict},
        # What one core each would sustain for the forwarding and for the checking process (CPU time, not wall
        # clock: on a shared machine the scheduler gives a three-process arm more of the cores than a two-process
        # one, so the rates' ratio can mislead either way), against the rate measured direct.
        "proxy_capacity_per_s": 1e6 / max(median("proxy_proxy_cpu_us"), median("proxy_checker_cpu_us")),
        "cpu_us_per_exchange": {
            key.removesuffix("_cpu_us"): median(key) for key in rounds[0] if key.endswith("_cpu_us")
        },
        "cpus": os.cpu_count(),
        "load_before": [round(value, 2) for value in load_before],
        "load_after": [round(value, 2) for value in os.getloadavg()],
        "event_loop": loop_name(),
        "pinned": args.pin,
    }
    summary["capacity_ratio"] = summary["proxy_capacity_per_s"] / summary["direct_per_s"]
    if soak:
        rss = [sample["rss_kb"] for sample in soak]
        summary["soak"]["rss_first_kb"], summary["soak"]["rss_max_kb"] = rss[0], max(rss)
        half = rss[len(rss) // 2 :]
        summary["soak"]["rss_growth_second_half_kb"] = max(half) - half[0]
        checker = [sample["checker_rss_kb"] for sample in soak]
        summary["soak"]["checker_rss_first_kb"], summary["soak"]["checker_rss_max_kb"] = checker[0], max(checker)
        half = checker[len(checker) // 2 :]
        summary["soak"]["checker_rss_growth_second_half_kb"] = max(half) - half[0]
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"throughput {summary['proxy_per_s']:.0f}/s through the proxy vs {summary['direct_per_s']:.0f}/s direct "
            f"(ratio {summary['throughput_ratio']:.2f}; capacity {summary['proxy_capacity_per_s']:.0f}/s, "
            f"{summary['capacity_ratio']:.2f} of direct); added latency p50 {summary['added_p50_ms']:.3f} ms, "
            f"p99 {summary['added_p99_ms']:.3f} ms; checked {verdict['checked']}, not checked "
            f"{verdict['not_checked']}, findings {verdict['findings']}; CPU us/exchange "
            + ", ".join(f"{key} {value:.0f}" for key, value in summary["cpu_us_per_exchange"].items())
            + f"; load {summary['load_before'][0]:.1f} -> {summary['load_after'][0]:.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
