"""One Locust process of a load run: ``python -m harness.load.locust_process --role local|master|worker``.

Only ever run as a process of its own (``harness load`` spawns it): importing Locust monkey-patches the
standard library for gevent, which must never happen to the asyncio harness. Users replay the plan's
scenarios with fresh identifiers every time and every check on, through the sans-I/O steps the asyncio
runner uses (:mod:`harness.runner.steps`); each answer's verdict goes to Locust as its request event
(so Locust's statistics, CSV and web UI see conformance failures) and to this process's :class:`Tally`.
Workers hand their tally to the master with each statistics report; the master merges and writes one result.

Importing this module imports neither Locust nor gevent (the public-API test imports every module):
:func:`main` imports Locust first, before the rest of the harness, so it patches before ``ssl`` is imported.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from harness.load.plan import CREDENTIALS_ENV, LoadPlan, Tally, read_credentials, replayable
from harness.model import HarnessError
from harness.transport import TransportOptions

if TYPE_CHECKING:
    from collections.abc import Callable

    from locust.env import Environment

    from harness.catalog import Catalog
    from harness.runner.context import ScenarioContext

__all__ = ["main"]

HEARTBEAT_LIVENESS = 10
"""Heartbeats a master lets a worker miss before calling it missing (Locust's default is 3, one a second).
The hub of a busy worker was measured late by at most tens of milliseconds (docs/measurements.md), so 3 would
do; 10 keeps a worker whose machine is briefly overcommitted (more processes than cores) in the run."""

REPORT_EVERY_S = 1.0
"""How often a worker sends its statistics and tally to the master (Locust's default is 3 s): a count
given with --exchanges is noticed sooner, so the run overshoots it less."""
PROGRESS_EVERY_S = 2.0
FLUSH_TIMEOUT_S = 15.0
YIELD_EVERY_S = 0.002
"""The longest a user judges without yielding to the gevent hub, if no answer made it wait (one always does
in practice: the answer to a request just sent is never there yet). A yield after every exchange cost a
hub round trip each, about 3 % of a worker."""

LOG = logging.getLogger("harness.load")


class ConformanceFailure(Exception):
    """What Locust records for an answer that broke a check: ``check: rule`` (few distinct values)."""


class _State:
    """What this process replays and has counted (one per process: Locust users share it)."""

    def __init__(self) -> None:
        self.catalog: Catalog | None = None
        self.plan: LoadPlan | None = None
        self.scenarios: list[dict[str, Any]] = []
        self.dataset: dict[str, Any] | None = None
        self.quota = 0
        self.done = 0
        self.tally = Tally()
        self.next = itertools.count()
        self.hub_late_ms = 0.0
        self.work_max_ms = 0.0
        self.yielded = 0.0  # perf_counter of the last explicit yield to the hub
        self.messages = 0  # messages sent, for --duplicate-rate's choice of which go twice
        self.final = False
        self._options: TransportOptions | None = None

    def options(self, plan: LoadPlan) -> TransportOptions:
        """The transport options of this process: the plan's timeout, the credentials its parent handed down
        (in the environment, never in the plan: a plan travels to workers in clear)."""
        if self._options is None:
            self._options = read_credentials(os.environ.get(CREDENTIALS_ENV, ""), plan.timeout_s)
        return self._options

    def configure(self, plan: LoadPlan, quota: int) -> None:

        from harness.catalog import load_catalog

        self.catalog = self.catalog or load_catalog()
        suite = self.catalog.suite(plan.suite)
        self.plan = plan
        self.scenarios = replayable(suite, plan.scenarios)
        self.dataset = self.catalog.dataset(suite.dataset) if suite.dataset else None
        self.quota = quota
        self.done = 0
        _warm(self.catalog)
        self.hub_late_ms = 0.0  # what configuring cost is not what the run does


STATE = _State()


def _warm(catalog: Catalog) -> None:
    """Compile every format's validator before the run (on a valid sample), so that no first exchange holds
    the hub while a schema compiles."""
    from harness.validation.validator import validator_for

    for fmt in catalog.formats.values():
        sample = next((sample for sample in fmt.samples if sample.valid), None)
        if sample is not None:
            path = Path(sample.path) if Path(sample.path).is_absolute() else Path(fmt.directory, sample.path)
            validator_for(fmt).validate(path.read_bytes())


def _user_class() -> type[Any]:
    """The Locust user class (built on demand: defining it needs Locust imported, that is, patched)."""
    import gevent
    from locust import User, constant, events, task
    from locust.exception import StopUser

    from harness.load.carrier import Carrier
    from harness.runner import steps
    from harness.runner.context import ScenarioContext

    fire = cast("Callable[..., None]", events.request.fire)

    class ConformanceUser(User):
        """Replays one scenario after another (round robin over the plan's), judging every answer.

        Its HTTP is one kept-alive gevent socket read by the harness's HTTP/1.1 reader (:class:`Carrier`);
        each exchange is one Locust request event, so Locust's statistics, CSV and web UI count it, a
        conformance failure as a failed request named ``check: rule``."""

        wait_time = constant(0)
        carrier: Carrier | None = None
        twin: Carrier | None = None
        """A second connection, for the messages sent twice at once (``--duplicate-rate``)."""

        def on_start(self) -> None:
            plan = STATE.plan
            if plan is None:
                raise StopUser
            self.carrier = Carrier(plan.target, STATE.options(plan))

        def on_stop(self) -> None:
            for carrier in (self.carrier, self.twin):
                if carrier is not None:
                    carrier.close()
            self.carrier = self.twin = None

        @task
        def replay(self) -> None:
            state, plan = STATE, STATE.plan
            if plan is None or state.catalog is None or self.carrier is None:
                raise StopUser
            if state.quota and state.done >= state.quota:
                raise StopUser
            scenario = state.scenarios[next(state.next) % len(state.scenarios)]
            scenario_id = str(scenario["id"])
            ctx = ScenarioContext(state.catalog, plan.target, dataset=state.dataset)
            for index, step in enumerate(scenario["steps"]):
                name = str(step.get("id", f"step-{index + 1}"))
                try:
                    carried = self._exchange(self.carrier, state, plan, scenario_id, name, step, ctx)
                except Exception as exc:  # a harness bug must show in the result, not only in Locust's log
                    state.tally.error(f"{scenario_id}/{name}", f"{type(exc).__name__}: {exc}")
                    raise
                if not carried:
                    break  # later steps build on this one
                # Every exchange waits for its answer, which lets the hub run; when answers come back faster
                # than this process judges them, it yields explicitly at least every YIELD_EVERY_S.
                now = time.perf_counter()
                if now - state.yielded > YIELD_EVERY_S:
                    state.yielded = now
                    gevent.sleep(0)

        def _exchange(
            self,
            carrier: Carrier,
            state: _State,
            plan: LoadPlan,
            scenario_id: str,
            name: str,
            step: dict[str, Any],
            ctx: ScenarioContext,
        ) -> bool:
            label = f"{scenario_id}/{name}"
            state.done += 1
            began = time.perf_counter()
            try:
                request, message = steps.build_request(step, ctx, plan.target)
            except HarnessError as exc:  # a suite bug: counted as an error, never silently skipped
                state.tally.error(label, str(exc))
                fire(request_type="PREPARE", name=label, response_time=0, response_length=0, exception=exc, context={})
                return False
            prepared = time.perf_counter() - began
            if message is not None:
                ctx.sent[name] = message
            twice = message is not None and _sent_twice(state, plan)
            try:
                if twice:
                    response = self._twice(carrier, state, plan, scenario_id, name, request, message)
                else:
                    response = carrier.send(request)
            except HarnessError as exc:  # no answer, or one that cannot be read: an error, not a verdict
                elapsed_ms = (time.perf_counter() - began - prepared) * 1000
                state.tally.error(label, str(exc))
                fire(
                    request_type=request.method,
                    name=label,
                    response_time=elapsed_ms,
                    response_length=0,
                    exception=exc,
                    context={},
                )
                return False
            judging = time.perf_counter()
            try:
                failures = steps.judge(scenario_id, name, step, response, ctx, message)
            except HarnessError as exc:
                failures = None
                state.tally.error(label, str(exc))
                failure: Exception | None = exc
            else:
                failure = ConformanceFailure(state.tally.failures(scenario_id, failures)) if failures else None
                if not failures:
                    state.tally.passed()
            state.work_max_ms = max(state.work_max_ms, (prepared + time.perf_counter() - judging) * 1000)
            fire(
                request_type=request.method,
                name=label,
                response_time=response.elapsed_ms,
                response_length=len(response.body),
                exception=failure,
                context={},
            )
            return failure is None

        def _twice(
            self,
            carrier: Carrier,
            state: _State,
            plan: LoadPlan,
            scenario_id: str,
            name: str,
            request: Any,
            message: Any,
        ) -> Any:
            """Send ``request`` on both connections at once (each written before either answer is read), count
            the second as an exchange judged by RR-01 (the first's answer, never a 5xx) and record the pair for
            the retrieval after the load. The first attempt's answer is judged as usual by the caller."""
            if self.twin is None:
                self.twin = Carrier(plan.target, STATE.options(plan))
            first = gevent.spawn(carrier.send, request)
            second = gevent.spawn(self.twin.send, request)
            gevent.joinall([first, second])
            if first.exception is not None:
                raise first.exception
            response = first.value
            again = second.value if second.exception is None else None
            label = f"{scenario_id}/{name} (again)"
            found = _rr01(name, response, again, second.exception)
            if found is None:
                state.tally.passed()
            else:
                found = ConformanceFailure(state.tally.failures(scenario_id, [found]))
            fire(
                request_type=request.method,
                name=label,
                response_time=again.elapsed_ms if again is not None else 0,
                response_length=len(again.body) if again is not None else 0,
                exception=found,
                context={},
            )
            state.tally.duplicate(_duplicate_record(scenario_id, name, message, response, again))
            return response

    return ConformanceUser


def _sent_twice(state: _State, plan: LoadPlan) -> bool:
    """Whether this message goes twice: exactly ``duplicate_rate`` of the messages, spread evenly."""
    if not plan.duplicate_rate:
        return False
    state.messages += 1
    return int(state.messages * plan.duplicate_rate) > int((state.messages - 1) * plan.duplicate_rate)


def _rr01(step: str, first: Any, again: Any, error: BaseException | None) -> Any:
    """RR-01 on the second of two simultaneous attempts: answered, never 5xx, with the first's answer."""
    from harness.model import CheckFailure
    from harness.runner.checks import preview

    if again is None:
        why = str(error) if error is not None else "no answer"
        return CheckFailure(step, "RR-01: answered", "the first attempt's answer", None, f"RR-01: {why}")
    if again.status >= 500:
        return CheckFailure(step, "RR-01: no 5xx", first.status, again.status,
                            f"RR-01: the same message sent again at once was answered {again.status}")  # fmt: skip
    if (again.status, again.body) != (first.status, first.body):
        return CheckFailure(
            step,
            "RR-01: stored twice",
            f"{first.status} {preview(first.body)}",
            f"{again.status} {preview(again.body)}",
            "RR-01: the same message sent twice at once got two different answers: accepted twice",
        )
    return None


def _duplicate_record(scenario: str, step: str, message: Any, first: Any, again: Any) -> dict[str, Any]:
    """What the retrieval after the load needs of a message sent twice: where it is, what it holds."""
    import hashlib

    from harness.families.renditions import family

    content = None
    fmt = message.format
    rendition = family(fmt.family) if fmt is not None and fmt.family else None
    if rendition is not None and message.model is not None:
        text = json.dumps(rendition.content_of(message.model), sort_keys=True, ensure_ascii=False)
        content = hashlib.sha256(text.encode()).hexdigest()
    return {
        "scenario": scenario,
        "step": step,
        "format": fmt.id if fmt is not None else None,
        "content_sha256": content,
        "location": first.header("Location"),
        "answers": [first.status, again.status if again is not None else None],
        "same_answer": again is not None and (again.status, again.body) == (first.status, first.body),
    }


def _watch_hub() -> None:
    """How late a 100 ms timer fires: the longest the gevent hub was kept from heartbeats and reports."""
    import gevent

    while True:
        began = time.perf_counter()
        gevent.sleep(0.1)
        STATE.hub_late_ms = max(STATE.hub_late_ms, (time.perf_counter() - began - 0.1) * 1000)


def _report(client_id: str, data: dict[str, Any]) -> None:
    data["harness"] = STATE.tally.take()
    data["harness_hub_late_ms"] = STATE.hub_late_ms
    data["harness_work_max_ms"] = STATE.work_max_ms
    data["harness_final"] = STATE.final


def _test_start(environment: Environment, **_: Any) -> None:
    import locust.runners

    options = environment.parsed_options
    if isinstance(environment.runner, locust.runners.WorkerRunner) and options is not None:
        STATE.configure(LoadPlan.from_json(options.harness_plan), int(options.harness_quota))


def _stats_of(environment: Environment) -> tuple[dict[str, float], list[dict[str, Any]]]:
    def percentiles(entry: Any) -> dict[str, float]:
        if not entry.num_requests:
            return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
        return {
            "p50": float(entry.get_response_time_percentile(0.5)),
            "p95": float(entry.get_response_time_percentile(0.95)),
            "p99": float(entry.get_response_time_percentile(0.99)),
            "max": round(float(entry.max_response_time), 1),
        }

    stats = environment.stats
    by_step = [
        {"step": name, "method": method, "count": entry.num_requests, "locust_failures": entry.num_failures}
        | {"latency_ms": percentiles(entry)}
        for (name, method), entry in sorted(stats.entries.items())
    ]
    return percentiles(stats.total), by_step


def _drive(environment: Environment, args: argparse.Namespace, plan: LoadPlan, tally: Tally) -> dict[str, Any]:
    """Run the users (local, or through the workers), print progress, stop on the count or the duration."""
    import gevent
    import locust.runners

    runner = environment.runner
    assert runner is not None
    csv_writer = _csv_writer(environment, args.csv) if args.csv else None
    began = time.monotonic()
    runner.start(args.users, spawn_rate=args.spawn_rate)
    last_print = began
    while True:
        gevent.sleep(0.2)
        now = time.monotonic()
        if now - last_print >= PROGRESS_EVERY_S and not args.quiet:
            last_print = now
            rate = tally.exchanges / (now - began)
            print(
                f"load: {now - began:5.0f} s  {tally.exchanges} exchanges  {tally.failed} failures  "
                f"{tally.errors} errors  {rate:.0f}/s",
                file=sys.stderr,
                flush=True,
            )
        if args.duration and now - began >= args.duration:
            break
        if plan.exchanges and tally.exchanges >= plan.exchanges:
            break
        if isinstance(runner, locust.runners.LocalRunner) and runner.user_count == 0 and now - began > 1:
            break  # every user stopped (its share of the count is done)
        if isinstance(runner, locust.runners.MasterRunner) and not runner.clients.all:
            raise HarnessError("every worker was lost")
    elapsed = time.monotonic() - began
    if isinstance(runner, locust.runners.MasterRunner):
        runner.stop()
        workers = [client.id for client in runner.clients.all]
        for worker in workers:
            runner.send_message("harness_flush", None, worker)
        deadline = time.monotonic() + FLUSH_TIMEOUT_S
        while time.monotonic() < deadline and not _FINAL.issuperset(workers):
            gevent.sleep(0.05)
    else:
        runner.stop()
    if csv_writer is not None:
        csv_writer()
    latency, by_step = _stats_of(environment)
    return {
        "tally": tally.take(),
        "elapsed_s": elapsed,
        "latency_ms": latency,
        "steps": by_step,
        "hub_late_ms": round(max(_HUB_LATE.values(), default=STATE.hub_late_ms), 1),
        "work_max_ms": round(max(_WORK_MAX.values(), default=STATE.work_max_ms), 1),
    }


def _csv_writer(environment: Environment, prefix: str) -> Callable[[], None]:
    """Locust's own CSV statistics (``PREFIX_stats.csv`` ...), written every second while the run goes; the
    function returned writes them one last time, with the final figures, and closes them."""
    import gevent
    from locust import stats

    writer = stats.StatsCSVFileWriter(environment, stats.PERCENTILES_TO_REPORT, prefix, full_history=False)
    loop = gevent.spawn(writer.stats_writer)

    def finish() -> None:
        gevent.sleep(stats.CSV_STATS_INTERVAL_SEC + 0.2)  # one more pass of the writer, after the last request
        loop.kill()
        writer.close_files()

    return finish


_FINAL: set[str] = set()
_HUB_LATE: dict[str, float] = {}
_WORK_MAX: dict[str, float] = {}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness-load-process")
    parser.add_argument("--role", choices=("local", "master", "worker"), required=True)
    parser.add_argument("--plan", help="the LoadPlan as JSON (local and master)")
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--spawn-rate", type=float, default=10.0)
    parser.add_argument("--duration", type=float, default=0.0)
    parser.add_argument("--expect-workers", type=int, default=1)
    parser.add_argument("--worker-timeout", type=float, default=60.0)
    parser.add_argument("--master-host", default="127.0.0.1")
    parser.add_argument("--master-port", type=int, default=5557)
    parser.add_argument("--master-bind-host", default="127.0.0.1")
    parser.add_argument("--result", type=Path)
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--csv", help="PREFIX of Locust's CSV statistics files")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    import gevent
    import locust  # first of all: Locust monkey-patches the standard library for gevent on import
    import locust.runners
    from locust import events
    from locust.env import Environment

    logging.basicConfig(level=logging.WARNING, format=f"locust {args.role}: %(message)s", stream=sys.stderr)
    locust.runners.HEARTBEAT_LIVENESS = HEARTBEAT_LIVENESS
    locust.runners.WORKER_REPORT_INTERVAL = REPORT_EVERY_S
    user = _user_class()
    events.report_to_master.add_listener(_report)  # type: ignore[no-untyped-call]
    events.test_start.add_listener(_test_start)  # type: ignore[no-untyped-call]
    environment = Environment(user_classes=[user], events=events)
    gevent.spawn(_watch_hub)
    try:
        if args.role == "worker":
            return _work(environment, args)
        plan = LoadPlan.from_json(args.plan)
        user.network_timeout = user.connection_timeout = plan.timeout_s
        environment.host = plan.target
        tally = STATE.tally if args.role == "local" else Tally()
        if args.role == "local":
            STATE.configure(plan, plan.exchanges)
            environment.create_local_runner()
        else:
            _master(environment, args, plan, tally)
        result = _drive(environment, args, plan, tally)
        if environment.runner is not None:
            environment.runner.quit()
    except HarnessError as exc:
        print(f"harness load ({args.role}): {exc}", file=sys.stderr)
        return exc.exit_code
    result["processes"] = 1 if args.role == "local" else args.expect_workers
    if args.result:
        args.result.write_text(json.dumps(result), encoding="utf-8")
    return 0


def _master(environment: Environment, args: argparse.Namespace, plan: LoadPlan, tally: Tally) -> None:
    import gevent
    from locust import argument_parser

    runner = environment.create_master_runner(args.master_bind_host, args.master_port)

    def on_report(client_id: str, data: dict[str, Any]) -> None:
        if "harness" in data:
            tally.merge(data["harness"])
        _HUB_LATE[client_id] = float(data.get("harness_hub_late_ms", 0.0))
        _WORK_MAX[client_id] = float(data.get("harness_work_max_ms", 0.0))
        if data.get("harness_final"):
            _FINAL.add(client_id)

    environment.events.worker_report.add_listener(on_report)  # type: ignore[no-untyped-call]
    deadline = time.monotonic() + args.worker_timeout
    while len(runner.clients.ready) < args.expect_workers:
        if time.monotonic() > deadline:
            runner.quit()
            raise HarnessError(
                f"{len(runner.clients.ready)} of {args.expect_workers} workers connected "
                f"within {args.worker_timeout:g} s"
            )
        gevent.sleep(0.1)
    quota = -(-plan.exchanges // args.expect_workers) if plan.exchanges else 0
    # Locust sends the options it does not know to the workers with each spawn message: the plan travels so.
    options = argument_parser.get_empty_argument_parser()
    argument_parser.setup_parser_arguments(options)  # type: ignore[no-untyped-call]
    environment.parsed_options = options.parse(args=[])
    environment.parsed_options.harness_plan = plan.to_json()
    environment.parsed_options.harness_quota = quota


def _work(environment: Environment, args: argparse.Namespace) -> int:
    from harness.catalog import load_catalog

    STATE.catalog = load_catalog()  # before the run: loading it would hold the hub for most of a second
    runner = environment.create_worker_runner(args.master_host, args.master_port)

    def flush(environment: Environment, msg: Any, **_: Any) -> None:
        STATE.final = True
        runner._send_stats()

    runner.register_message("harness_flush", flush)
    runner.greenlet.join()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
