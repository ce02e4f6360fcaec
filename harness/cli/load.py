"""``harness load``: a suite's exchanges under load, every conformance check on, on Locust.

The command itself stays free of gevent: it checks the arguments, reaches the target, loads the suite's
data set, then runs Locust in processes of its own (:mod:`harness.load.locust_process`): one local
process, or a master and ``--processes`` workers on loopback, or, across machines, ``--master`` here and
``--worker --master-host H`` there. It writes ``load.json`` and exits 0 when the conformance failure
rate is at most ``--max-failure-rate``, 1 above it, 2 on a usage error, 3 when the target is unreachable.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.catalog import load_catalog
from harness.cli.options import add_credential_options, credentials_from
from harness.load.duplicates import stored_once
from harness.load.plan import CREDENTIALS_ENV, LoadPlan, Tally, load_result, replayable, write_credentials
from harness.model import ConfigurationError, Suite, TargetUnreachable, UsageError
from harness.profile import DATASET_HOOK, HOOK_ABSENT
from harness.reporting import Redactor, printable
from harness.transport import TransportOptions, tls_context

__all__ = ["register", "run_load"]

DEFAULT_REPORTS = Path("reports/load")
DEFAULT_MASTER_PORT = 5557
GRACE_S = 120.0
"""Beyond its own time limit, how long a load run's processes get to stop and report before they are killed."""


_REDACT = Redactor()
"""Redacts a target URL's user information where it stands, for messages that name the target."""


def register(subparsers: Any) -> None:
    """Add ``harness load`` to the command's sub-parsers."""
    load = subparsers.add_parser(
        "load", help="replay a suite's exchanges under load with every check on (Locust, local or distributed)"
    )
    load.add_argument("--suite", help="NAME or NAME@VERSION")
    load.add_argument("--target", help="base URL of the system under test")
    load.add_argument("--scenario", action="append", default=[], metavar="ID", help="only this scenario (repeatable)")
    load.add_argument("--users", type=int, default=10, help="concurrent virtual users (default 10)")
    load.add_argument("--spawn-rate", type=float, default=10.0, help="users started per second (default 10)")
    until = load.add_mutually_exclusive_group()
    until.add_argument("--duration", type=float, help="seconds of load")
    until.add_argument("--exchanges", type=int, help="stop after about this many exchanges")
    load.add_argument(
        "--time-limit", type=float, default=3600.0, help="with --exchanges: stop after this many seconds anyway"
    )
    load.add_argument("--processes", type=int, default=1, help="local Locust worker processes (default 1)")
    load.add_argument(
        "--reports", type=Path, default=DEFAULT_REPORTS, help="folder of load.json (default reports/load)"
    )
    load.add_argument(
        "--max-failure-rate", type=float, default=0.0, help="exit 1 above this conformance failure rate (default 0)"
    )
    load.add_argument("--timeout", type=float, default=10.0, help="seconds allowed for one exchange (default 10)")
    load.add_argument(
        "--duplicate-rate",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="send this fraction of the messages again at the same time on another connection (RR-01); after the "
        "load each is retrieved: load.json says per message whether it was stored once",
    )
    load.add_argument("--quiet", action="store_true", help="no progress lines")
    load.add_argument(
        "--csv",
        metavar="PREFIX",
        help="also write Locust's statistics as CSV: PREFIX_stats.csv, _stats_history.csv, _failures.csv, "
        "_exceptions.csv (local or master)",
    )
    add_credential_options(load)
    load.add_argument("--master", action="store_true", help="be the master of workers on other machines")
    load.add_argument("--expect-workers", type=int, default=1, help="with --master: workers to wait for")
    load.add_argument("--worker-timeout", type=float, default=60.0, help="seconds to wait for the workers")
    load.add_argument("--master-bind-host", default="127.0.0.1", help="with --master: address to listen on")
    load.add_argument("--worker", action="store_true", help="be a worker of the master at --master-host")
    load.add_argument("--master-host", default="127.0.0.1", help="with --worker: the master's address")
    load.add_argument("--master-port", type=int, default=DEFAULT_MASTER_PORT, help="the master's port (default 5557)")
    load.set_defaults(func=run_load)


def _process(role: str, *options: str) -> list[str]:
    return [sys.executable, "-m", "harness.load.locust_process", "--role", role, *options]


def _check_target(target: str) -> tuple[str, int]:
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"bad target URL {target!r}: expected http://HOST[:PORT][/BASE] or https://...")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UsageError(f"bad target URL {target!r}: bad port") from None
    return parts.hostname, port


def _reach(target: str, credentials: TransportOptions) -> None:
    """Connect to the target (for https, with the TLS handshake the users will make) or raise TargetUnreachable."""
    host, port = _check_target(target)
    context = tls_context(credentials) if target.startswith("https:") else None
    try:
        with socket.create_connection((host, port), timeout=credentials.timeout_s) as sock:
            if context is not None:
                with context.wrap_socket(sock, server_hostname=host):
                    pass
    except ssl.SSLError as exc:  # a certificate that does not verify says why (expired, hostname mismatch)
        reason = getattr(exc, "verify_message", None) or exc.reason or exc
        raise TargetUnreachable(f"target {_REDACT(target)}: TLS: {reason}") from None
    except OSError as exc:
        raise TargetUnreachable(f"target {_REDACT(target)} unreachable: {exc.strerror or exc}") from None


def _load_dataset(suite: Suite, target: str, credentials: TransportOptions) -> None:
    """The suite's data set through the SUT's test hook, as ``harness run`` loads it (binding rule 8)."""
    if not suite.dataset:
        return
    body = json.dumps(load_catalog().dataset(suite.dataset), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json"}
    for name, value in credentials.headers:
        headers.setdefault(name, value)
    request = urllib.request.Request(  # noqa: S310 (the target was checked to be http(s))
        target + DATASET_HOOK, data=body, method="PUT", headers=headers
    )
    context = tls_context(credentials) if target.startswith("https:") else None
    try:
        with urllib.request.urlopen(  # noqa: S310 (http(s) checked)
            request, timeout=credentials.timeout_s, context=context
        ) as answer:
            status = answer.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError as exc:
        reason = getattr(exc, "reason", None) or exc
        raise TargetUnreachable(f"target {_REDACT(target)} unreachable: {reason}") from None
    if status in HOOK_ABSENT:
        print(f"load: no {DATASET_HOOK} hook: the SUT must already hold data set {suite.dataset}", file=sys.stderr)
    elif status not in (200, 204):
        raise ConfigurationError(f"the SUT refused data set {suite.dataset} through {DATASET_HOOK}: HTTP {status}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _validate(args: argparse.Namespace) -> None:
    if args.worker:
        if args.master:
            raise UsageError("--worker and --master exclude each other")
        return
    if not args.suite or not args.target:
        raise UsageError("--suite and --target are required (except with --worker)")
    if args.duration is None and args.exchanges is None:
        raise UsageError("give --duration SECONDS or --exchanges N")
    for name in ("users", "processes", "expect_workers"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    for name in ("spawn_rate", "timeout", "time_limit", "worker_timeout"):
        if not getattr(args, name) > 0:
            raise UsageError(f"--{name.replace('_', '-')} must be positive")
    if args.duration is not None and not args.duration > 0:
        raise UsageError("--duration must be positive")
    if args.exchanges is not None and args.exchanges < 1:
        raise UsageError("--exchanges must be at least 1")
    if not 0.0 <= args.max_failure_rate <= 1.0:
        raise UsageError("--max-failure-rate is a fraction between 0 and 1")
    if not 0.0 <= args.duplicate_rate <= 1.0:
        raise UsageError("--duplicate-rate is a fraction between 0 and 1")
    if args.master and args.processes != 1:
        raise UsageError("--master drives workers started elsewhere: give --expect-workers, not --processes")


def _run(commands: list[list[str]], limit_s: float, credentials: TransportOptions) -> list[int]:
    """Run the processes together; the first of ``commands`` leads: when it ends, the others get a little
    while to follow, then are stopped. Everything is killed past ``limit_s``. The credentials go to them
    in their environment only."""
    environment = {**os.environ, CREDENTIALS_ENV: write_credentials(credentials)}
    children = [subprocess.Popen(command, env=environment) for command in commands]  # noqa: S603 (our module)
    deadline = time.monotonic() + limit_s
    try:
        while children[0].poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        follow = time.monotonic() + 10.0
        while any(child.poll() is None for child in children) and time.monotonic() < min(follow, deadline):
            time.sleep(0.1)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    return [child.returncode for child in children]


def run_load(args: argparse.Namespace) -> int:
    _validate(args)
    credentials = dataclasses.replace(credentials_from(args), timeout_s=args.timeout)
    if args.worker:
        options = ["--master-host", args.master_host, "--master-port", str(args.master_port)]
        return _run([_process("worker", *options)], args.time_limit + GRACE_S, credentials)[0]
    _check_target(args.target)
    target = args.target.rstrip("/")
    catalog = load_catalog()
    suite = catalog.suite(args.suite)
    chosen = replayable(suite, args.scenario)
    _reach(target, credentials)
    _load_dataset(suite, target, credentials)
    plan = LoadPlan(
        suite.ref, target, tuple(str(s["id"]) for s in chosen), args.exchanges or 0, args.timeout, args.duplicate_rate
    )
    limit = args.duration if args.duration is not None else args.time_limit
    args.reports.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="harness-load-") as scratch:
        result_path = Path(scratch) / "result.json"
        common = [
            "--plan", plan.to_json(), "--users", str(args.users), "--spawn-rate", str(args.spawn_rate),
            "--duration", str(limit), "--result", str(result_path), "--worker-timeout", str(args.worker_timeout),
        ]  # fmt: skip
        if args.quiet:
            common.append("--quiet")
        if args.csv:
            Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
            common += ["--csv", str(Path(args.csv).resolve())]
        if args.master:
            master = ["--master-bind-host", args.master_bind_host, "--master-port", str(args.master_port)]
            master += ["--expect-workers", str(args.expect_workers)]
            commands = [_process("master", *common, *master)]
        elif args.processes > 1:
            port = str(_free_port())
            master = ["--master-port", port, "--expect-workers", str(args.processes)]
            worker = ["--master-host", "127.0.0.1", "--master-port", port]
            commands = [_process("master", *common, *master)] + [_process("worker", *worker)] * args.processes
        else:
            commands = [_process("local", *common)]
        codes = _run(commands, limit + args.worker_timeout + GRACE_S, credentials)
        if codes[0] != 0 or not result_path.is_file():
            if codes[0] in (2, 3):
                return codes[0]
            raise ConfigurationError(f"the Locust process ended without a result (exit code {codes[0]})")
        raw = json.loads(result_path.read_text(encoding="utf-8"))
    tally = Tally()
    tally.merge(raw["tally"])
    duplicates = stored_once(catalog, target, tally, credentials, args.duplicate_rate) if args.duplicate_rate else None
    extra = {
        "processes": raw["processes"],
        "users": args.users,
        "hub_late_ms": raw["hub_late_ms"],  # the longest a Locust process's gevent hub was late (heartbeats)
        "work_max_ms": raw["work_max_ms"],  # the longest one exchange's preparing and judging took
        **({"duplicates": duplicates} if duplicates is not None else {}),
    }
    result = load_result(suite.ref, target, tally, raw["elapsed_s"], raw["latency_ms"], raw["steps"], extra)
    # The SUT's answers (examples of failures) may echo a credential: the result passes the run's redactor.
    redact = Redactor.for_run(credentials, [args.target])
    result = json.loads(redact(json.dumps(result, ensure_ascii=False)))
    path = args.reports / "load.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    ok = result["failure_rate"] <= args.max_failure_rate
    print(
        f"load: {result['exchanges']} exchanges in {result['elapsed_s']:.1f} s ({result['rps']}/s), "
        f"{result['failures']} conformance failures ({result['failure_rate']:.2%}), {result['errors']} errors, "
        f"p95 {result['latency_ms']['p95']} ms -> {'PASS' if ok else 'FAIL'}; {path}"
    )
    for entry in result["by_check"][:10]:
        print(printable(f"  {entry['count']:>8}  {entry['check']} / {entry['rule']}: {entry['examples'][0]}"))
    return 0 if ok else 1
