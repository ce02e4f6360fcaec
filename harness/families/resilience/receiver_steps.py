"""The receiver scenarios of ``resilience-core`` (``specs/resilience.md``, RR-01..07): the harness as the
difficult client.

A step of this kind carries a ``request`` (the message, built as any step's) and a ``resilience`` mapping that
says what to do with it and which rule it checks (docs/decisions-resilience.md):

- ``concurrent``: the same request on ``connections`` connections at once (RR-01), then retrieve it;
- ``sequence``: the same request ``times`` times, one after the other (RR-01), then retrieve it;
- ``stall``: half the body, a pause, the connection closed; retrieve (``404``), then deliver it whole (RR-02);
- ``burst``: ``messages`` distinct messages at once (RR-03, RR-04; with ``p95_ms``, RR-07);
- ``slow``: one client sends a body at ``rate`` bytes a second while another delivers normally (RR-05);
- ``update-first``: the request (an update) before ``original``, then the original (RR-06).

Live, every attempt goes on a connection of its own (:mod:`harness.families.resilience.wire`) and is recorded
as an exchange of the step (``STEP#N``, ``STEP:retrieve#N`` ...) with its connection in the bindings; recorded
(re-judging), each is answered from the bundle by the same names and judged by the same code. An attempt that
by design has no answer (a stalled or slow body) is recorded and not re-judged: what it must not have caused
(a stored half body, a delayed neighbour) is judged from the exchanges that follow it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.events import ExchangeCompleted, WireMessage
from harness.families.resilience import checks
from harness.families.resilience.wire import Connection, Exchange, Outcome, open_connection, release_together
from harness.model import CheckFailure, ConfigurationError, Scenario, Step, TransportError, percentile
from harness.runner import steps
from harness.runner.checks import CheckContext, evaluate
from harness.runner.context import Message, ScenarioContext
from harness.transport import Request, Response, TransportOptions

if TYPE_CHECKING:
    from harness.runner.engine import Runner

__all__ = ["ACTIONS", "run_step"]

ACTIONS = frozenset({"concurrent", "sequence", "stall", "burst", "slow", "update-first"})


@dataclass(slots=True)
class _Step:
    """One resilience step while it runs: where its exchanges go, how they are recorded or read back."""

    runner: Runner
    scenario: Scenario
    step: Step
    spec: Mapping[str, Any]
    latencies: list[float]

    @property
    def live(self) -> bool:
        return self.runner.transport is not None

    @property
    def options(self) -> TransportOptions | None:
        options = getattr(self.runner.transport, "options", None)
        return options if isinstance(options, TransportOptions) else None

    @property
    def timeout_s(self) -> float:
        options = self.options
        return options.timeout_s if options is not None else 10.0

    @property
    def rule(self) -> str:
        return str(self.spec.get("rule", ""))

    def build(self, ctx: ScenarioContext, spec: Mapping[str, Any] | None = None) -> tuple[Request, Message | None]:
        return steps.build_request({"request": spec} if spec is not None else self.step.raw, ctx, self.runner.target)

    def retrieval(self, ctx: ScenarioContext) -> Request:
        path = self.spec.get("retrieve")
        if not isinstance(path, str):
            raise ConfigurationError(f"step {self.step.name}: the action needs 'retrieve: PATH'")
        accept = str(self.spec.get("accept", "application/json"))
        url = self.runner.target + "/" + str(ctx.expand(path)).lstrip("/")
        return Request("GET", url, (("Accept", accept),))

    def record(self, name: str, request: Request, outcome: Outcome) -> None:
        """Tell the listeners (the evidence) about one attempt: its wire bytes, and its connection."""
        if outcome.response is not None:
            self.latencies.append(outcome.response.elapsed_ms)
        if not self.runner.listeners:
            return
        attempt = outcome.attempt
        answer = (
            WireMessage(attempt.answer_line, attempt.answer_headers, attempt.answer_body)
            if attempt.answer_line
            else None
        )
        self.runner.emit(
            ExchangeCompleted(
                self.scenario.id,
                name,
                request.method,
                request.url,
                attempt.status,
                attempt.elapsed_ms,
                len(attempt.body),
                len(attempt.answer_body),
                request=WireMessage(attempt.start_line, attempt.headers, attempt.body),
                answer=answer,
                sent=attempt.sent,
                answered=attempt.answered,
                bindings={"connection": outcome.connection, **({"error": attempt.error} if attempt.error else {})},
            )
        )

    async def together(self, names: list[str], requests: list[Request]) -> list[tuple[Request, Response | None]]:
        """Each request on its own connection, released together (live), or as recorded.

        Either way the attempts must have overlapped: each sent before the first answer came (live that holds by
        construction; recorded, it is read off the record's times, so a bundle cannot claim attempts were
        concurrent when they were not). Otherwise the step cannot be judged: an error of the run."""
        if not self.live:
            answered = [await self.recorded(name, request) for name, request in zip(names, requests, strict=True)]
            checks.overlapped(self.step.name, [_span(response) for _, response in answered])
            return answered
        outcomes = await release_together(requests, self.options, self.timeout_s)
        for name, request, outcome in zip(names, requests, outcomes, strict=True):
            self.record(name, request, outcome)
        checks.overlapped(self.step.name, [(o.released, o.answered) for o in outcomes if o.response is not None])
        return [(request, outcome.response) for request, outcome in zip(requests, outcomes, strict=True)]

    async def one(self, name: str, request: Request) -> tuple[Request, Response | None]:
        return (await self.together([name], [request]))[0]

    async def recorded(self, name: str, request: Request) -> tuple[Request, Response | None]:
        """The attempt recorded as ``name`` (a missing record is an error of the run); None for one recorded
        without an answer."""
        try:
            carried = await self.runner.exchanges.send(self.scenario.id, name, request, None)
        except TransportError:  # recorded with no complete answer
            return request, None
        self.latencies.append(carried.response.elapsed_ms)
        return carried.request, carried.response

    async def partial(self, name: str, request: Request) -> None:
        """Recorded: the attempt that by design had no answer (a stalled or slow body) must be in the record
        (the replay seam raises for a step it has no record of): what follows it is judged as its consequence."""
        await self.recorded(name, request)

    def took_over(self, built: Request, message: Message | None, sent: Request, ctx: ScenarioContext) -> Message | None:
        """Recorded: the identifiers of the recorded request taken over (later requests name what was sent)."""
        return message if sent is built else steps.as_sent(built, message, sent, ctx)

    def judge(
        self, name: str, expect: Mapping[str, Any], response: Response, ctx: ScenarioContext, message: Message | None
    ) -> list[CheckFailure]:
        failures = evaluate(expect, CheckContext(response, ctx, message), name)
        return [checks.named(self.rule, failure) for failure in failures]


def _span(response: Response | None) -> tuple[float, float] | None:
    """When a recorded attempt was sent and answered (epoch seconds), from its answer's time and elapsed time."""
    if response is None or not response.answered_at:
        return None
    try:
        answered = dt.datetime.fromisoformat(response.answered_at.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
    return answered - response.elapsed_ms / 1000, answered


async def run_step(
    runner: Runner, scenario: Scenario, step: Step, ctx: ScenarioContext, latencies: list[float]
) -> list[CheckFailure]:
    """Run one resilience step; its failures each name the rule they break."""
    spec = step.raw.get("resilience")
    if not isinstance(spec, dict) or spec.get("action") not in ACTIONS:
        raise ConfigurationError(f"step {step.name}: 'resilience: {{action: ...}}' is one of {sorted(ACTIONS)}")
    run = _Step(runner, scenario, step, spec, latencies)
    action = str(spec["action"])
    if action in ("concurrent", "sequence"):
        return await _same_again(run, ctx, action)
    if action == "stall":
        return await _stall(run, ctx)
    if action == "burst":
        return await _burst(run, ctx)
    if action == "slow":
        return await _slow(run, ctx)
    return await _update_first(run, ctx)


async def _same_again(run: _Step, ctx: ScenarioContext, action: str) -> list[CheckFailure]:
    """RR-01: the same message again, concurrently or in sequence: one stored, every answer the first's."""
    name = run.step.name
    count = int(run.spec.get("connections" if action == "concurrent" else "times", 2))
    built, message = run.build(ctx)
    names = [f"{name}#{index + 1}" for index in range(count)]
    if action == "concurrent":
        answered = await run.together(names, [built] * count)
    else:
        answered = [await run.one(each, built) for each in names]
    sent = answered[0][0]
    message = run.took_over(built, message, sent, ctx)
    if message is not None:
        ctx.sent[name] = message
    failures = checks.same_answers(run.rule, name, [response for _, response in answered])
    if failures:
        return failures
    first = answered[0][1]
    assert first is not None
    failures = run.judge(names[0], run.step.raw.get("expect") or {}, first, ctx, message)
    if failures or "retrieve" not in run.spec:
        return failures
    _, stored = await run.one(f"{name}:retrieve", run.retrieval(ctx))
    return checks.retrieved(run.rule, f"{name}:retrieve", stored, ctx, name)


async def _stall(run: _Step, ctx: ScenarioContext) -> list[CheckFailure]:
    """RR-02: half the body, then the connection closed: nothing stored (404), and a later whole delivery new."""
    name = run.step.name
    built, message = run.build(ctx)
    hold_s = float(run.spec.get("hold_s", 0.5))
    if run.live:
        connection = await open_connection(built.url, run.options, run.timeout_s)
        exchange = Exchange(connection, built, run.options)
        exchange.release(built.body[: len(built.body) // 2])
        try:
            await connection.writer.drain()
            await asyncio.sleep(hold_s)
        except OSError:
            pass  # the receiver closed it first: nothing to wait for
        connection.close()
        attempt = exchange.attempt(
            error=f"body stalled at {len(exchange.written)} of {len(built.body)} bytes, "
            f"connection closed after {hold_s:g} s"
        )
        run.record(
            f"{name}:stalled", built, Outcome(None, attempt, connection.name, exchange.released, time.monotonic())
        )
        await asyncio.sleep(float(run.spec.get("settle_s", 0.2)))  # the receiver notices the close
    else:
        await run.partial(f"{name}:stalled", built)
    asked = run.retrieval(ctx)
    sent, after = await run.one(f"{name}:retrieve-after-stall", asked)
    run.took_over(asked, None, sent, ctx)  # recorded: the id the recorded run stalled
    failures = checks.unknown(run.rule, f"{name}:retrieve-after-stall", after)
    if failures:
        return failures
    sent, whole = await run.one(f"{name}:whole", built)
    message = run.took_over(built, message, sent, ctx)
    if message is not None:
        ctx.sent[name] = message
    if whole is None:
        return [checks.unanswered(run.rule, f"{name}:whole", "the complete delivery after the stalled one")]
    failures = run.judge(
        f"{name}:whole", run.step.raw.get("expect") or {"status": [200, 201, 202]}, whole, ctx, message
    )
    if failures:
        return failures
    _, stored = await run.one(f"{name}:retrieve", run.retrieval(ctx))
    return checks.retrieved(run.rule, f"{name}:retrieve", stored, ctx, name)


async def _burst(run: _Step, ctx: ScenarioContext) -> list[CheckFailure]:
    """RR-03 and RR-04 (RR-07 with ``p95_ms``): distinct messages at once; every 2xx id retrievable with its
    content, every refusal a 429/503 with Retry-After."""
    name = run.step.name
    count = int(run.spec.get("messages", 50))
    children = [ctx.child() for _ in range(count)]
    built = [run.build(child) for child in children]
    names = [f"{name}#{index + 1}" for index in range(count)]
    answered = await run.together(names, [request for request, _ in built])
    failures: list[CheckFailure] = []
    accepted: list[tuple[str, ScenarioContext]] = []
    elapsed: list[float] = []
    for each, child, (request, message), (sent, response) in zip(names, children, built, answered, strict=True):
        taken = run.took_over(request, message, sent, child)
        if taken is not None:
            child.sent[each] = taken
        if response is not None:
            elapsed.append(response.elapsed_ms)
        failure = checks.refusal(run.spec.get("shed_rule", "RR-03"), each, response)
        if failure is not None:
            failures.append(failure)
        elif response is not None and 200 <= response.status < 300:
            accepted.append((each, child))
    limit = run.spec.get("p95_ms")
    if limit is not None:
        observed = percentile(elapsed, 95) if elapsed else float("inf")
        if observed > float(limit):
            failures.append(checks.slow_burst(run.rule, name, float(limit), observed, len(elapsed)))
        return failures
    if failures:
        return failures
    retrievals = [run.retrieval(child) for _, child in accepted]
    got = await run.together([f"{each}:retrieve" for each, _ in accepted], retrievals)
    for (each, child), (_, stored) in zip(accepted, got, strict=True):
        failures.extend(checks.retrieved(run.rule, f"{each}:retrieve", stored, child, each))
    return failures


class _SlowBody:
    """One client sending its body at ``rate`` bytes a second on a connection of its own (RR-05): the head and
    the first bytes at once, then ``rate`` bytes every second, until :meth:`stop` closes the connection."""

    def __init__(self, connection: Connection, request: Request, options: TransportOptions | None, rate: int) -> None:
        self.connection, self.rate = connection, rate
        self.exchange = Exchange(connection, request, options)
        self.body = request.body
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.exchange.release(b"")
        self.task = asyncio.ensure_future(self._dribble())

    async def _dribble(self) -> None:
        for offset in range(0, len(self.body), self.rate):
            piece = self.body[offset : offset + self.rate]
            self.exchange.written += piece
            self.connection.writer.write(piece)
            await self.connection.writer.drain()
            await asyncio.sleep(1.0)

    async def stop(self) -> Outcome:
        """Stop sending and close the connection; the attempt as it stands (no answer: the body never ended)."""
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        self.connection.close()
        sent = len(self.exchange.written)
        attempt = self.exchange.attempt(
            error=f"slow body at {self.rate} B/s: {sent} of {len(self.body)} bytes sent, then closed"
        )
        return Outcome(None, attempt, self.connection.name, self.exchange.released, time.monotonic())


async def _slow(run: _Step, ctx: ScenarioContext) -> list[CheckFailure]:
    """RR-05: while one client sends a body at ``rate`` bytes a second, another's delivery is answered within
    ``within_ms``."""
    name = run.step.name
    slow_ctx, quick_ctx = ctx.child(), ctx.child()
    slow_request, _ = run.build(slow_ctx)
    quick, message = run.build(quick_ctx)
    rate = max(1, int(run.spec.get("rate", 10)))
    within_ms = float(run.spec.get("within_ms", 2000))
    slow: _SlowBody | None = None
    if run.live:
        connection = await open_connection(slow_request.url, run.options, run.timeout_s)
        slow = _SlowBody(connection, slow_request, run.options, rate)
        slow.start()
        await asyncio.sleep(float(run.spec.get("lead_s", 0.5)))  # the slow body is under way before the other
    else:
        await run.partial(f"{name}:slow", slow_request)
    try:
        sent, response = await run.one(f"{name}:beside-slow", quick)
    finally:
        if slow is not None:
            run.record(f"{name}:slow", slow_request, await slow.stop())
    taken = run.took_over(quick, message, sent, quick_ctx)
    if response is None:
        return [checks.unanswered(run.rule, f"{name}:beside-slow", "an answer beside the slow client")]
    if response.elapsed_ms > within_ms:
        return [checks.held_up(run.rule, f"{name}:beside-slow", within_ms, response.elapsed_ms)]
    return run.judge(f"{name}:beside-slow", run.step.raw.get("expect") or {}, response, quick_ctx, taken)


async def _update_first(run: _Step, ctx: ScenarioContext) -> list[CheckFailure]:
    """RR-06: the update (this step's request) before its original; refused 409 ``/conflict`` then accepted once
    the original arrived, or held (accepted); the original accepted either way."""
    name = run.step.name
    original_spec = run.spec.get("original")
    if not isinstance(original_spec, dict):
        raise ConfigurationError(f"step {name}: 'update-first' needs 'original: REQUEST'")
    update, update_message = run.build(ctx)
    sent, first = await run.one(f"{name}:update", update)
    update_message = run.took_over(update, update_message, sent, ctx)
    if update_message is not None:
        ctx.sent[f"{name}:update"] = update_message
    failures = checks.early_update(run.rule, f"{name}:update", first, ctx)
    if failures:
        return failures
    assert first is not None
    original, original_message = run.build(ctx, original_spec)
    sent, answer = await run.one(f"{name}:original", original)
    original_message = run.took_over(original, original_message, sent, ctx)
    if original_message is not None:
        ctx.sent[f"{name}:original"] = original_message
    if answer is None:
        return [checks.unanswered(run.rule, f"{name}:original", "an answer to the original")]
    failures = run.judge(
        f"{name}:original",
        run.spec.get("expect_original") or {"status": [200, 201, 202]},
        answer,
        ctx,
        original_message,
    )
    if failures:
        return [checks.named(run.rule, f) for f in failures]
    update, _ = run.build(ctx)
    _, again = await run.one(f"{name}:update-again", update)
    if again is None:
        return [
            checks.unanswered(run.rule, f"{name}:update-again", "an answer to the update once the original arrived")
        ]
    return run.judge(
        f"{name}:update-again", run.step.raw.get("expect") or {"status": [200, 201, 202]}, again, ctx, update_message
    )
