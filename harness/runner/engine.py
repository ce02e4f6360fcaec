"""The runner: replays a suite's scenarios against a target and emits events.

It knows nothing about who listens: reporters subscribe as listeners.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from harness.catalog import Catalog
from harness.events import (
    ExchangeCompleted,
    Listener,
    OperatorActionRequired,
    RunFinished,
    RunNote,
    RunStarted,
    ScenarioFinished,
    Summary,
    WireMessage,
)
from harness.model import (
    BadAnswer,
    CheckFailure,
    ConfigurationError,
    HarnessError,
    Level,
    ScenarioResult,
    Suite,
    TransportError,
    Verdict,
    percentile,
)
from harness.profile import HOOK_ABSENT, TRIGGER_HOOK
from harness.runner import steps
from harness.runner.context import Message, ScenarioContext
from harness.runner.dataset import load_dataset
from harness.runner.life_cycle import judging_catalog, life_cycle_facts, life_cycle_notice
from harness.transport import Attempt, Counterpart, Request, Response, Transport

__all__ = ["Runner", "Skipped", "now_rfc3339"]


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ManualAction(HarnessError):
    """The step needs an operator, and the run is unattended: the scenario is ``manual``."""


class Skipped(HarnessError):
    """The scenario needs what the run was not given (a SIP target): the scenario is ``skipped``."""


STEP_FAULTS: tuple[tuple[type[HarnessError], str, str, Verdict], ...] = (
    (ManualAction, "manual", "an operator's action", Verdict.MANUAL),
    (Skipped, "transport", "a target for the step's transport", Verdict.SKIPPED),
    # The SUT answered with something no conforming system sends: its failure, not the harness's.
    (BadAnswer, "exchange", "a complete, well-formed answer", Verdict.FAILED),
    (TransportError, "exchange", "an HTTP answer", Verdict.ERROR),
    (HarnessError, "suite", "a runnable step", Verdict.ERROR),
)
"""How a step that could not be judged ends its scenario, most specific fault first."""


class Runner:
    """Runs scenarios of a suite against ``target`` through ``transport``.

    ``extra_targets`` names further transports, each with its own target: a step
    whose request says ``transport: NAME`` is carried by that transport to that
    target (``{"sip": (SipTransport(...), "sip:gw@127.0.0.1:5060;transport=udp")}``);
    a scenario needing a transport the run was not given is ``skipped``.
    """

    def __init__(
        self,
        catalog: Catalog,
        transport: Transport,
        target: str,
        listeners: Iterable[Listener] = (),
        concurrency: int = 4,
        counterpart: Counterpart | None = None,
        unattended: bool = True,
        operator_timeout_s: float = 300.0,
        extra_targets: Mapping[str, tuple[Transport, str]] | None = None,
        certifying: bool = True,
    ) -> None:
        self.catalog = catalog
        self.transport = transport
        self.target = target.rstrip("/")
        self.listeners = list(listeners)
        self.concurrency = max(1, concurrency)
        self.counterpart = counterpart
        self.unattended = unattended
        self.operator_timeout_s = operator_timeout_s
        self.extra_targets = dict(extra_targets or {})
        self.certifying = certifying  # False: not certifying, the only way a retired suite version may be run
        self.dataset: dict[str, Any] | None = None
        self._unreported: dict[tuple[str, str], tuple[Request, Response, str, str]] = {}

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

        async def guarded(scenario: dict[str, Any]) -> None:
            result = await self.run_scenario(scenario)
            results[result.id] = result
            self.emit(ScenarioFinished(result))

        parallel = iter([s for s in suite.scenarios if not s.get("serial")])
        serial = [s for s in suite.scenarios if s.get("serial")]

        async def worker() -> None:  # ``concurrency`` workers take the scenarios in suite order
            for scenario in parallel:
                await guarded(scenario)

        try:
            await asyncio.gather(*(worker() for _ in range(max(1, self.concurrency))))
            for scenario in serial:
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
        if suite.counterpart and self.counterpart is None:
            raise ConfigurationError(f"suite {suite.ref} needs a reference endpoint for the SUT to send to")
        if suite.dataset:
            self.dataset = self.catalog.dataset(suite.dataset)
            self.emit(RunNote(await load_dataset(self.transport, self.target, suite.dataset, self.dataset)))

    def _finished(
        self, suite: Suite, started: str, results: dict[str, ScenarioResult], interrupted: bool
    ) -> RunFinished:
        ordered = tuple(results[str(s["id"])] for s in suite.scenarios if str(s["id"]) in results)
        summary = Summary()
        for result in ordered:
            summary.add(result.verdict)
        extra = life_cycle_facts(suite, self.certifying)
        return RunFinished(
            suite.name, suite.version, self.target, started, now_rfc3339(), summary, ordered, interrupted, extra
        )

    async def run_scenario(self, scenario: dict[str, Any]) -> ScenarioResult:
        ctx = ScenarioContext(
            self.catalog,
            self.target,
            dataset=self.dataset,
            counterpart=self.counterpart.url if self.counterpart else "",
            counterpart_mark=self.counterpart.mark() if self.counterpart else 0,
        )
        started = time.perf_counter()
        failures: list[CheckFailure] = []
        latencies: list[float] = []
        verdict = Verdict.PASSED
        for index, step in enumerate(scenario["steps"]):
            name = str(step.get("id", f"step-{index + 1}"))
            try:
                if index == 0:  # a scenario is skipped whole, before any exchange, when a transport is missing
                    for each in scenario["steps"]:
                        self.carrier(each.get("request"))
                step_failures = await self._run_step(scenario, name, step, ctx, latencies)
            except HarnessError as exc:
                check, expected, verdict = next(
                    (check, expected, outcome)
                    for kind, check, expected, outcome in STEP_FAULTS
                    if isinstance(exc, kind)
                )
                failures.append(CheckFailure(name, check, expected, None, str(exc)))
                break
            if step_failures:
                failures.extend(step_failures)
                verdict = Verdict.FAILED
                break  # later steps build on this one
        if self._unreported:  # an exchange whose step ended before judging (a missing hook, say)
            self._report(str(scenario["id"]))
        return ScenarioResult(
            id=str(scenario["id"]),
            title=str(scenario["title"]),
            level=Level(scenario["level"]),
            verdict=verdict,
            duration_ms=(time.perf_counter() - started) * 1000,
            failures=tuple(failures),
            exchanges=len(latencies),
            latencies_ms=tuple(latencies),
        )

    def carrier(self, spec: Any) -> tuple[Transport, str]:
        """The transport and target for a step's ``request`` (its ``transport:``, else the run's own);
        Skipped when the run was not given that transport."""
        name = spec.get("transport") if isinstance(spec, dict) else None
        if name is None:
            return self.transport, self.target
        if str(name) not in self.extra_targets:
            raise Skipped(f"no {str(name).upper()} target given (--{name}-target)")
        return self.extra_targets[str(name)]

    def build_request(self, step: dict[str, Any], ctx: ScenarioContext) -> tuple[Request, Message | None]:
        """The request of an exchange step (see :func:`harness.runner.steps.build_request`)."""
        return steps.build_request(step, ctx, self.target, lambda spec: self.carrier(spec)[1])

    async def _run_step(
        self, scenario: dict[str, Any], name: str, step: dict[str, Any], ctx: ScenarioContext, latencies: list[float]
    ) -> list[CheckFailure]:
        if "trigger" in step:
            return await self._run_trigger_step(scenario, name, step, ctx, latencies)
        if "repeat" in step:
            return await self._run_repeated_step(scenario, name, step, ctx, latencies)
        if "await" in step and "request" not in step:
            return await self._run_await_step(scenario, name, step, ctx)
        response, message = await self._exchange(scenario, name, step, ctx, latencies)
        if step.get("hook") and response.status in HOOK_ABSENT:
            path = str(ctx.expand((step.get("request") or {}).get("path", "")))
            hook = step["hook"]
            instruction = str(ctx.expand(hook)) if isinstance(hook, str) else f"do what {path} would do"
            raise ManualAction(f"no {path} test hook (HTTP {response.status}); operator must: {instruction}")
        return self._judge(scenario, name, step, response, ctx, message)

    async def _exchange(
        self, scenario: dict[str, Any], name: str, step: dict[str, Any], ctx: ScenarioContext, latencies: list[float]
    ) -> tuple[Response, Message | None]:
        request, message = self.build_request(step, ctx)
        if message is not None:
            ctx.sent[name] = message
        spec = step.get("request")
        transport, _ = self.carrier(spec)
        sent = now_rfc3339() if self.listeners else ""  # only listeners see when it was sent
        kind = str(spec.get("transport") or "http") if isinstance(spec, dict) else "http"
        try:
            response = await transport.send(request)
        except TransportError as exc:  # what was sent before it failed is recorded all the same
            self._sent(scenario, name, request, None, kind, sent, exc.attempts)
            raise
        latencies.append(response.elapsed_ms)
        if self.listeners:  # reported once judged, with what the step captured (see _judge)
            self._unreported[(str(scenario["id"]), name)] = (request, response, kind, sent)
        return response, message

    def _report(self, scenario_id: str, name: str | None = None, bindings: Mapping[str, Any] | None = None) -> None:
        """Tell listeners about the exchange(s) of step ``name`` (every one left of the scenario: None)."""
        for key in [k for k in self._unreported if k[0] == scenario_id and name in (None, k[1])]:
            request, response, kind, sent = self._unreported.pop(key)
            self._sent({"id": scenario_id}, key[1], request, response, kind, sent, response.attempts, bindings)

    def _sent(
        self,
        scn: dict[str, Any],
        name: str,
        req: Request,
        resp: Response | None,
        kind: str,
        sent: str,
        attempts: tuple[Attempt, ...] = (),
        bindings: Mapping[str, Any] | None = None,
    ) -> None:
        """Tell listeners about a harness->sut exchange (a step's request, or the trigger hook's POST): one event
        per sending the transport recorded, else one made of the request and the answer."""
        if not self.listeners:
            return
        captured = dict(bindings or {})
        for each in attempts:
            answer = WireMessage(each.answer_line, each.answer_headers, each.answer_body) if each.answer_line else None
            if answer is not None and resp is not None and resp.body is not each.answer_body:
                answer = WireMessage(answer.start_line, answer.headers, answer.body, resp.body)  # it was decoded
            self.emit(
                ExchangeCompleted(
                    str(scn["id"]),
                    name,
                    req.method,
                    req.url,
                    each.status,
                    each.elapsed_ms,
                    len(each.body),
                    len(each.answer_body),
                    transport=kind,
                    request=WireMessage(each.start_line, each.headers, each.body),
                    answer=answer,
                    sent=each.sent,
                    answered=each.answered,
                    attempt=each.number,
                    bindings=captured,
                )
            )
        if attempts or resp is None:
            return
        version = "SIP/2.0" if kind == "sip" else "HTTP/1.1"
        target = req.url if kind == "sip" else (urlsplit(req.url)._replace(scheme="", netloc="").geturl() or "/")
        self.emit(
            ExchangeCompleted(
                str(scn["id"]),
                name,
                req.method,
                req.url,
                resp.status,
                resp.elapsed_ms,
                len(req.body),
                len(resp.body),
                transport=kind,
                request=WireMessage(f"{req.method} {target} {version}", req.headers, req.body),
                answer=WireMessage(f"{version} {resp.status} {resp.reason}", resp.headers, resp.body),
                sent=sent,
                answered=now_rfc3339(),
                bindings=captured,
            )
        )

    async def _run_repeated_step(
        self, scenario: dict[str, Any], name: str, step: dict[str, Any], ctx: ScenarioContext, latencies: list[float]
    ) -> list[CheckFailure]:
        """The same exchange ``times`` times (fresh identifiers each), then timing checks on all of them."""
        spec = step["repeat"]
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
        for key, limit in (step.get("timing") or {}).items():
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
        self, scenario: dict[str, Any], name: str, step: dict[str, Any], ctx: ScenarioContext, latencies: list[float]
    ) -> list[CheckFailure]:
        """Make the SUT send something to the counterpart (hook, or operator), wait for it, judge it."""
        if self.counterpart is None:
            raise ConfigurationError("a trigger step needs a counterpart reference endpoint")
        trigger = ctx.expand(step["trigger"])
        wait = step.get("await") or {}
        method, path = str(wait.get("method", "POST")), str(ctx.expand(wait["path"]))
        within = float(wait.get("within_s", 10))
        since = self.counterpart.mark()
        command = {"action": trigger["action"], "to": self.counterpart.url, "params": trigger.get("params", {})}
        body = json.dumps(command, ensure_ascii=False).encode()
        hook = Request("POST", self.target + TRIGGER_HOOK, (("Content-Type", "application/json"),), body)
        sent = now_rfc3339()
        try:
            answer = await self.transport.send(hook)
        except TransportError as exc:
            self._sent(scenario, name, hook, None, "http", sent, exc.attempts)
            raise
        latencies.append(answer.elapsed_ms)
        self._sent(scenario, name, hook, answer, "http", sent, answer.attempts)
        instruction = str(trigger.get("instruction") or f"make the SUT perform {trigger['action']}")
        instruction += f" (send it to {self.counterpart.url}{path})"
        if answer.status in HOOK_ABSENT:
            if self.unattended:
                raise ManualAction(f"no {TRIGGER_HOOK} hook (HTTP {answer.status}); operator must: {instruction}")
            self.emit(OperatorActionRequired(str(scenario["id"]), name, instruction, self.operator_timeout_s))
            within = self.operator_timeout_s
        elif answer.status != 202:
            return [CheckFailure(name, "trigger: status", 202, answer.status, f"the {TRIGGER_HOOK} hook refused")]
        received = await self.counterpart.wait_for(method, path, since, within)
        self._received(scenario, name, method, received)
        return self._awaited(scenario, name, step, ctx, received, f"{method} {path}", within)

    async def _run_await_step(
        self, scenario: dict[str, Any], name: str, step: dict[str, Any], ctx: ScenarioContext
    ) -> list[CheckFailure]:
        """Wait for what the SUT sends to the counterpart because of earlier steps (received since the scenario
        began), and judge it; with ``expect_none: true``, make sure nothing arrives within ``within_s``."""
        if self.counterpart is None:
            raise ConfigurationError("an await step needs a counterpart reference endpoint")
        wait = step["await"]
        method, path = str(wait.get("method", "POST")), str(ctx.expand(wait["path"]))
        within = float(wait.get("within_s", 10))
        received = await self.counterpart.wait_for(method, path, ctx.counterpart_mark, within)
        self._received(scenario, name, method, received)
        return self._awaited(scenario, name, step, ctx, received, f"{method} {path}", within)

    def _received(self, scenario: dict[str, Any], name: str, method: str, received: Response | None) -> None:
        """Tell listeners what the SUT sent to the counterpart (``received`` is that request, with the
        counterpart's answer as its status)."""
        if received is None or not self.listeners:
            return
        at = now_rfc3339()
        self.emit(
            ExchangeCompleted(
                str(scenario["id"]),
                name,
                method,
                received.url,
                received.status,
                received.elapsed_ms,
                len(received.body),
                0,
                direction="sut->reference",
                request=WireMessage(f"{method} {received.url} HTTP/1.1", received.headers, received.body),
                answer=WireMessage(f"HTTP/1.1 {received.status} {received.reason}", (), b""),
                sent=at,
                answered=now_rfc3339(),
            )
        )

    def _awaited(
        self,
        scenario: dict[str, Any],
        name: str,
        step: dict[str, Any],
        ctx: ScenarioContext,
        received: Response | None,
        what: str,
        within: float,
    ) -> list[CheckFailure]:
        if (step.get("await") or {}).get("expect_none"):
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
        scenario: dict[str, Any],
        name: str,
        step: dict[str, Any],
        response: Response,
        ctx: ScenarioContext,
        message: Message | None,
    ) -> list[CheckFailure]:
        failures = steps.judge(str(scenario["id"]), name, step, response, ctx, message)
        if self._unreported:
            wanted = step.get("capture") or {}
            captured = {var: ctx.captures[var] for var in wanted if var in ctx.captures}
            self._report(str(scenario["id"]), name, captured)
        return failures
