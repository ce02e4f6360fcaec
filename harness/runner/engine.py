"""The runner: replays a suite's scenarios against a target and emits events.

It knows nothing about who listens (reporters subscribe as listeners), nor where its exchanges
come from: it runs on the typed scenarios of the catalog and asks an :class:`Exchanges` (live on
the wire, or recorded) to carry each step's request (``harness/runner/exchanges.py``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from harness.catalog import Catalog
from harness.events import (
    Listener,
    OperatorActionRequired,
    RunFinished,
    RunNote,
    RunStarted,
    ScenarioFinished,
    Summary,
)
from harness.extensions import scenario_parts
from harness.model import (
    STEP_KINDS,
    BadAnswer,
    CheckFailure,
    ConfigurationError,
    HarnessError,
    Level,
    Scenario,
    ScenarioResult,
    Step,
    Suite,
    TransportError,
    Verdict,
    percentile,
)
from harness.profile import HOOK_ABSENT, TRIGGER_HOOK
from harness.registry import resolve
from harness.runner import steps
from harness.runner.context import Message, ScenarioContext
from harness.runner.dataset import load_dataset
from harness.runner.exchanges import Exchanges, LiveExchanges, ManualAction, Skipped, now_rfc3339
from harness.runner.life_cycle import judging_catalog, life_cycle_facts, life_cycle_notice
from harness.scenarios import step_kind
from harness.transport import Counterpart, Request, Response, Transport

__all__ = ["ManualAction", "Runner", "Skipped", "iter_typed", "now_rfc3339", "scenario_of", "typed_scenarios"]


STEP_FAULTS: tuple[tuple[type[HarnessError], str, str, Verdict], ...] = (
    (ManualAction, "manual", "an operator's action", Verdict.MANUAL),
    (Skipped, "transport", "a target for the step's transport", Verdict.SKIPPED),
    # The SUT answered with something no conforming system sends: its failure, not the harness's.
    (BadAnswer, "exchange", "a complete, well-formed answer", Verdict.FAILED),
    (TransportError, "exchange", "an HTTP answer", Verdict.ERROR),
    (HarnessError, "suite", "a runnable step", Verdict.ERROR),
)
"""How a step that could not be judged ends its scenario, most specific fault first."""


_NONE: Mapping[str, Any] = {}
"""The bindings of a step that captures nothing (shared: never written to)."""


def scenario_of(raw: Mapping[str, Any]) -> Scenario:
    """A scenario mapping typed without the catalog's checks: for suites built in code (tests, benchmarks).

    The catalog types and checks every scenario it loads (``Suite.typed``); this only gives a mapping the
    same shape, so the runner has one path.
    """
    raw_steps = raw.get("steps")
    typed_steps = []
    for index, step in enumerate(raw_steps if isinstance(raw_steps, list) else ()):
        if not isinstance(step, dict):
            raise ConfigurationError(f"scenario {raw.get('id')}: step {index + 1} is not a mapping")
        expect = step.get("expect")
        checks = tuple(str(check) for check in expect) if isinstance(expect, dict) else ()
        name = str(step.get("id", f"step-{index + 1}"))
        typed_steps.append(Step(name=name, kind=step_kind(step), checks=checks, pointer=f"/steps/{index}", raw=step))
    try:
        level = Level(raw["level"])
        return Scenario(
            id=str(raw["id"]),
            title=str(raw.get("title", "")),
            level=level,
            file=str(raw.get("_file", "")),
            steps=tuple(typed_steps),
            serial=bool(raw.get("serial", False)),
            spec=str(raw.get("spec", "")),
            raw=raw if isinstance(raw, dict) else dict(raw),
        )
    except (KeyError, ValueError) as exc:
        raise ConfigurationError(f"scenario {raw.get('id')!r}: not a scenario ({exc})") from None


def iter_typed(suite: Suite) -> Iterator[Scenario]:
    """The suite's typed scenarios in order: the catalog's (``Suite.typed``), else each mapping typed as it
    is reached (a suite built in code with a million scenarios is never typed whole)."""
    if len(suite.typed) == len(suite.scenarios):
        yield from suite.typed
        return
    typed = {scenario.id: scenario for scenario in suite.typed}
    for raw in suite.scenarios:
        yield typed.get(str(raw.get("id"))) or scenario_of(raw)


def typed_scenarios(suite: Suite) -> tuple[Scenario, ...]:
    """The suite's typed scenarios: the catalog's (``Suite.typed``) for the scenarios it holds, in order."""
    return tuple(iter_typed(suite))


class Runner:
    """Runs scenarios of a suite against ``target``.

    Live (the usual): ``transport`` carries requests to ``target``; ``extra_targets`` names further
    transports, each with its own target (``{"sip": (SipTransport(...), "sip:gw@127.0.0.1:5060;transport=udp")}``):
    a step whose request says ``transport: NAME`` is carried by that transport to that target; a scenario
    needing a transport the run was not given is ``skipped``. Recorded (re-judging): ``exchanges`` answers
    every exchange instead, and ``transport``, ``counterpart`` and ``extra_targets`` are not given.
    """

    def __init__(
        self,
        catalog: Catalog,
        transport: Transport | None,
        target: str,
        listeners: Iterable[Listener] = (),
        concurrency: int = 4,
        counterpart: Counterpart | None = None,
        unattended: bool = True,
        operator_timeout_s: float = 300.0,
        extra_targets: Mapping[str, tuple[Transport, str]] | None = None,
        certifying: bool = True,
        exchanges: Exchanges | None = None,
    ) -> None:
        self.catalog = catalog
        self.transport = transport
        self.target = target.rstrip("/")
        self.listeners = list(listeners)
        self.concurrency = max(1, concurrency)
        self.operator_timeout_s = operator_timeout_s
        self.certifying = certifying  # False: not certifying, the only way a retired suite version may be run
        self.dataset: dict[str, Any] | None = None
        if exchanges is None:
            if transport is None:
                raise ConfigurationError("a runner needs a transport or recorded exchanges")
            heard = self.emit if self.listeners else None  # without listeners, no event is even built
            exchanges = LiveExchanges(transport, self.target, counterpart, extra_targets, heard, unattended)
        elif transport is not None or counterpart is not None or extra_targets:
            raise ConfigurationError("recorded exchanges come with no transport, counterpart or extra target")
        self.exchanges: Exchanges = exchanges

    def emit(self, event: Any) -> None:
        for listener in self.listeners:
            listener(event)

    async def run(self, suite: Suite) -> RunFinished:
        self.catalog = judging_catalog(self.catalog, suite, self.certifying)
        started = now_rfc3339()
        self.emit(RunStarted(suite.name, suite.version, self.target, started, len(suite.scenarios)))
        if notice := life_cycle_notice(self.catalog, suite, self.certifying):
            self.emit(RunNote(notice))
        await self.prepare(suite)
        results: dict[str, ScenarioResult] = {}

        async def guarded(scenario: Scenario) -> None:
            result = await self.run_scenario(scenario)
            results[result.id] = result
            self.emit(ScenarioFinished(result))

        # Typed as they are reached: workers share one iterator over the suite's order.
        parallel = (s for s in iter_typed(suite) if not s.serial)

        async def worker() -> None:  # ``concurrency`` workers take the scenarios in suite order
            for scenario in parallel:
                await guarded(scenario)

        try:
            await asyncio.gather(*(worker() for _ in range(max(1, self.concurrency))))
            for scenario in (s for s in iter_typed(suite) if s.serial):
                await guarded(scenario)
        except asyncio.CancelledError:
            # Ctrl-C: what finished is reported, marked interrupted, then the cancellation goes on.
            self.emit(self._finished(suite, started, results, interrupted=True))
            raise
        finished = self._finished(suite, started, results, interrupted=False)
        self.emit(finished)
        return finished

    async def prepare(self, suite: Suite) -> None:
        """What comes before the first scenario (the data set): for callers that run scenarios one by one."""
        self.catalog = judging_catalog(self.catalog, suite, self.certifying)
        if suite.counterpart and not self.exchanges.counterpart_url:
            raise ConfigurationError(f"suite {suite.ref} needs a reference endpoint for the SUT to send to")
        if suite.dataset:
            self.dataset = self.catalog.dataset(suite.dataset)
            self.emit(RunNote(await load_dataset(self.exchanges.hook, self.target, suite.dataset, self.dataset)))

    def _finished(
        self, suite: Suite, started: str, results: dict[str, ScenarioResult], interrupted: bool
    ) -> RunFinished:
        in_order = (str(raw.get("id")) for raw in suite.scenarios)  # the suite's order, without typing again
        ordered = tuple(results[scenario_id] for scenario_id in in_order if scenario_id in results)
        summary = Summary()
        for result in ordered:
            summary.add(result.verdict)
        extra = life_cycle_facts(suite, self.certifying)
        return RunFinished(
            suite.name, suite.version, self.target, started, now_rfc3339(), summary, ordered, interrupted, extra
        )

    async def run_scenario(self, scenario: Scenario | Mapping[str, Any]) -> ScenarioResult:
        """Run one scenario (typed; a mapping is typed first, without the catalog's checks)."""
        if not isinstance(scenario, Scenario):
            scenario = scenario_of(scenario)
        ctx = ScenarioContext(
            self.catalog,
            self.target,
            dataset=self.dataset,
            counterpart=self.exchanges.counterpart_url,
            counterpart_mark=self.exchanges.mark(),
        )
        started = time.perf_counter()
        failures: list[CheckFailure] = []
        latencies: list[float] = []
        verdict = Verdict.PASSED
        for index, step in enumerate(scenario.steps):
            try:
                if index == 0:  # a scenario is skipped whole, before any exchange, when a transport is missing
                    for each in scenario.steps:
                        self.exchanges.target(each.transport)
                step_failures = await self._run_step(scenario, step, ctx, latencies)
            except HarnessError as exc:
                check, expected, verdict = next(
                    (check, expected, outcome)
                    for kind, check, expected, outcome in STEP_FAULTS
                    if isinstance(exc, kind)
                )
                failures.append(CheckFailure(step.name, check, expected, None, str(exc)))
                break
            if step_failures:
                failures.extend(step_failures)
                verdict = Verdict.FAILED
                break  # later steps build on this one
        self.exchanges.ended(scenario.id)  # an exchange whose step ended before judging (a missing hook, say)
        return ScenarioResult(
            id=scenario.id,
            title=scenario.title,
            level=scenario.level,
            verdict=verdict,
            duration_ms=(time.perf_counter() - started) * 1000,
            failures=tuple(failures),
            exchanges=len(latencies),
            latencies_ms=tuple(latencies),
        )

    def build_request(self, step: Step, ctx: ScenarioContext) -> tuple[Request, Message | None]:
        """The request of an exchange step (see :func:`harness.runner.steps.build_request`)."""
        return steps.build_request(step.raw, ctx, self.target, lambda spec: self.exchanges.target(step.transport))

    async def _run_step(
        self, scenario: Scenario, step: Step, ctx: ScenarioContext, latencies: list[float]
    ) -> list[CheckFailure]:
        if step.kind not in STEP_KINDS:
            return await self._run_family_step(scenario, step, ctx, latencies)
        if step.kind == "trigger":
            return await self._run_trigger_step(scenario, step, ctx, latencies)
        if step.kind == "repeat":
            return await self._run_repeated_step(scenario, step, ctx, latencies)
        if step.kind == "await":
            return await self._run_await_step(scenario, step, ctx)
        response, message = await self._exchange(scenario, step.name, step, ctx, latencies)
        hook = step.raw.get("hook")
        if hook and response.status in HOOK_ABSENT:
            path = str(ctx.expand((step.request or {}).get("path", "")))
            instruction = str(ctx.expand(hook)) if isinstance(hook, str) else f"do what {path} would do"
            raise ManualAction(f"no {path} test hook (HTTP {response.status}); operator must: {instruction}")
        return self._judge(scenario, step.name, step, response, ctx, message)

    async def _run_family_step(
        self, scenario: Scenario, step: Step, ctx: ScenarioContext, latencies: list[float]
    ) -> list[CheckFailure]:
        """A step of a kind a format family declares (its ``step`` ``ScenarioPart``): the family's handler runs
        it with this runner, whose ``exchanges``, ``build_request``, ``exchange`` and ``judge`` it may use."""
        part = scenario_parts("step").get(step.kind)
        if part is None or not part.handler:
            raise ConfigurationError(f"step {step.name!r}: no format family runs steps of kind {step.kind!r}")
        failures: list[CheckFailure] = await resolve(part.handler)(self, scenario, step, ctx, latencies)
        return failures

    async def exchange(
        self, scenario: Scenario, name: str, step: Step, ctx: ScenarioContext, latencies: list[float]
    ) -> tuple[Response, Message | None]:
        """Carry the request of ``step`` (recorded as ``name``) and keep the message sent; for family step kinds."""
        return await self._exchange(scenario, name, step, ctx, latencies)

    def judge(
        self, scenario: Scenario, name: str, step: Step, response: Response, ctx: ScenarioContext
    ) -> list[CheckFailure]:
        """The checks of ``step`` on ``response`` (then the exchange is recorded); for family step kinds."""
        return self._judge(scenario, name, step, response, ctx, ctx.sent.get(name))

    async def _exchange(
        self, scenario: Scenario, name: str, step: Step, ctx: ScenarioContext, latencies: list[float]
    ) -> tuple[Response, Message | None]:
        request, message = self.build_request(step, ctx)
        carried = await self.exchanges.send(scenario.id, name, request, step.transport)
        if carried.request is not request:  # recorded: the message as that run sent it, its identifiers taken over
            message = steps.as_sent(request, message, carried.request, ctx)
        if message is not None:
            ctx.sent[name] = message
        latencies.append(carried.response.elapsed_ms)
        return carried.response, message

    async def _run_repeated_step(
        self, scenario: Scenario, step: Step, ctx: ScenarioContext, latencies: list[float]
    ) -> list[CheckFailure]:
        """The same exchange ``times`` times (fresh identifiers each), then timing checks on all of them."""
        name = step.name
        spec = step.raw["repeat"]
        times, concurrency = int(spec.get("times", 1)), max(1, int(spec.get("concurrency", 1)))
        gate = asyncio.Semaphore(concurrency)
        failures: list[CheckFailure] = []
        own: list[float] = []

        async def once(index: int) -> None:
            child = ctx.child()
            async with gate:
                response, message = await self._exchange(scenario, f"{name}#{index + 1}", step, child, own)
            failures.extend(self._judge(scenario, f"{name}#{index + 1}", step, response, child, message))

        await asyncio.gather(*(once(index) for index in range(times)))
        latencies.extend(own)
        for key, limit in (step.raw.get("timing") or {}).items():
            if key.startswith("p") and key.endswith("_ms") and key[1:-3].isdigit():
                observed = percentile(own, int(key[1:-3]))
                if observed > float(limit):
                    failures.append(
                        CheckFailure(
                            name,
                            f"timing: {key}",
                            f"<= {limit}",
                            round(observed, 1),
                            f"{key[1:-3]}th percentile over {len(own)} exchanges is {observed:.1f} ms",
                        )
                    )
            else:
                raise ConfigurationError(f"unknown timing check {key!r} (use pNN_ms)")
        return failures

    async def _run_trigger_step(
        self, scenario: Scenario, step: Step, ctx: ScenarioContext, latencies: list[float]
    ) -> list[CheckFailure]:
        """Make the SUT send something to the counterpart (hook, or operator), wait for it, judge it."""
        counterpart = self.exchanges.counterpart_url
        if not counterpart:
            raise ConfigurationError("a trigger step needs a counterpart reference endpoint")
        name = step.name
        trigger = ctx.expand(step.raw["trigger"])
        wait = step.raw.get("await") or {}
        method, path = str(wait.get("method", "POST")), str(ctx.expand(wait["path"]))
        within = float(wait.get("within_s", 10))
        since = self.exchanges.mark()
        command = {"action": trigger["action"], "to": counterpart, "params": trigger.get("params", {})}
        body = json.dumps(command, ensure_ascii=False).encode()
        hook = Request("POST", self.target + TRIGGER_HOOK, (("Content-Type", "application/json"),), body)
        answer = (await self.exchanges.send(scenario.id, name, hook, None)).response
        self.exchanges.judged(scenario.id, name, {})  # the hook's answer is judged here, by its status
        latencies.append(answer.elapsed_ms)
        instruction = str(trigger.get("instruction") or f"make the SUT perform {trigger['action']}")
        instruction += f" (send it to {counterpart}{path})"
        if answer.status in HOOK_ABSENT:
            if not self.exchanges.attended(scenario.id, name):
                raise ManualAction(f"no {TRIGGER_HOOK} hook (HTTP {answer.status}); operator must: {instruction}")
            self.emit(OperatorActionRequired(scenario.id, name, instruction, self.operator_timeout_s))
            within = self.operator_timeout_s
        elif answer.status != 202:
            return [CheckFailure(name, "trigger: status", 202, answer.status, f"the {TRIGGER_HOOK} hook refused")]
        received = await self.exchanges.received(scenario.id, name, method, path, since, within)
        return self._awaited(scenario, step, ctx, received, f"{method} {path}", within)

    async def _run_await_step(self, scenario: Scenario, step: Step, ctx: ScenarioContext) -> list[CheckFailure]:
        """Wait for what the SUT sends to the counterpart because of earlier steps (received since the scenario
        began), and judge it; with ``expect_none: true``, make sure nothing arrives within ``within_s``."""
        if not self.exchanges.counterpart_url:
            raise ConfigurationError("an await step needs a counterpart reference endpoint")
        wait = step.raw["await"]
        method, path = str(wait.get("method", "POST")), str(ctx.expand(wait["path"]))
        within = float(wait.get("within_s", 10))
        received = await self.exchanges.received(scenario.id, step.name, method, path, ctx.counterpart_mark, within)
        return self._awaited(scenario, step, ctx, received, f"{method} {path}", within)

    def _awaited(
        self,
        scenario: Scenario,
        step: Step,
        ctx: ScenarioContext,
        received: Response | None,
        what: str,
        within: float,
    ) -> list[CheckFailure]:
        name = step.name
        if (step.raw.get("await") or {}).get("expect_none"):
            if received is None:
                return []
            got = f"{what} (answered {received.status})"
            return [CheckFailure(name, "await: none", f"no {what}", got, f"a message arrived within {within:g} s")]
        if received is None:
            expected = f"{what} at the reference endpoint"
            return [CheckFailure(name, "await", expected, None, f"nothing arrived within {within:g} s")]
        return self._judge(scenario, name, step, received, ctx, None)

    def _judge(
        self,
        scenario: Scenario,
        name: str,
        step: Step,
        response: Response,
        ctx: ScenarioContext,
        message: Message | None,
    ) -> list[CheckFailure]:
        """The step's checks on ``response``; the exchange is then recorded with what the step captured."""
        failures = steps.judge(scenario.id, name, step.raw, response, ctx, message)
        wanted = step.raw.get("capture")
        bindings = {var: ctx.captures[var] for var in wanted if var in ctx.captures} if wanted else _NONE
        self.exchanges.judged(scenario.id, name, bindings)
        return failures
