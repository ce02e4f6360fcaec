"""The ``deliver`` step kind (specs/resilience.md, the sender): make the SUT deliver, then judge its attempts.

A deliver step

1. sets its fault plan on the counterpart (``PUT /_harness/faults/KEY``): the rules of the step, each
   path taken below the step's own base ``/resilience/KEY`` (KEY fresh per step), so scenarios run side by side
   without sharing a rule or an attempt;
2. triggers the SUT (the trigger hook's action, ``to`` the counterpart's ``/resilience/KEY``), or asks the
   operator, or is ``manual`` unattended;
3. waits, bounded by ``within_s``, for the outcome the SUT reports through ``GET /netcode/v1/_test/deliveries/{id}``
   (each message ``delivered`` or ``failed``), then reads the attempts the counterpart recorded, which become the
   step's ``sut->reference`` exchanges in the evidence;
4. judges them as a timeline by the rules the ``delivery`` check names (:mod:`~harness.families.resilience.timeline`)
   and removes its plan.

Re-judging a bundle runs the same step on the recorded exchanges: no plan is set, the trigger and the reported
state are the recorded answers, the attempts the recorded ones; the timeline is judged by the same function.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from harness.events import OperatorActionRequired
from harness.families.resilience.faults import FaultPlanError, parse_plan
from harness.families.resilience.timeline import (
    attempt_from_record,
    ends_delivery,
    judge_delivery,
    timeline_rows,
)
from harness.model import CheckFailure, ConfigurationError, Scenario, Step
from harness.profile import DELIVERIES_HOOK, HOOK_ABSENT, TRIGGER_HOOK
from harness.runner.context import ScenarioContext
from harness.runner.exchanges import ManualAction
from harness.runner.steps import as_sent
from harness.transport import Request, Response
from harness.validation.jsonsafe import UnsafeJson, parse_json

__all__ = ["DELIVERY_BASE", "POLL_S", "QUIET_S", "run_deliver_step"]

DELIVERY_BASE = "/resilience/"
"""Where the counterpart serves every route again below a key (``harness.endpoints.DELIVERY_BASE``)."""
POLL_S = 0.25
"""How often the deliveries hook (or, without it, the counterpart's attempts) is asked while a delivery runs."""
QUIET_S = 2.0
"""How long no new attempt may arrive, after every message was reported ended, before the attempts are judged."""
FINAL = frozenset({"delivered", "failed"})


def _plan(spec: Mapping[str, Any], base: str, path: str) -> dict[str, Any]:
    """The step's fault rules with their paths below the step's base, checked (a bad plan is a suite bug)."""
    rules = []
    for rule in spec.get("faults") or ():
        placed = dict(rule)
        placed["path"] = base + str(placed.get("path", path))
        placed.setdefault("method", "POST")
        rules.append(placed)
    try:
        return parse_plan({"rules": rules}, "deliver: faults").as_dict()
    except FaultPlanError as exc:
        raise ConfigurationError(str(exc)) from None


async def _state(runner: Any, scenario: Scenario, name: str, message: str, hooked: bool) -> str | None:
    """One message's state as the SUT's deliveries hook reports it; None when it has no such hook.

    A ``404`` is "an id it never had to send": from a SUT whose trigger hook took the order (``hooked``), that is
    a delivery it does not report (``unknown``); from one without hooks, the hook is absent."""
    step = f"{name}/state:{message}"
    request = Request("GET", runner.target + DELIVERIES_HOOK + "/" + message, (("Accept", "application/json"),), b"")
    answer: Response = (await runner.exchanges.send(scenario.id, step, request, None)).response
    runner.exchanges.judged(scenario.id, step, {})
    if answer.status == 404:
        return "unknown" if hooked else None
    if answer.status in HOOK_ABSENT:
        return None
    try:
        document = parse_json(answer.body) if answer.status == 200 else None
    except UnsafeJson:
        document = None
    state = document.get("state") if isinstance(document, dict) else None
    return state if isinstance(state, str) else f"unreadable (HTTP {answer.status})"


async def run_deliver_step(
    runner: Any, scenario: Scenario, step: Step, ctx: ScenarioContext, latencies: list[float]
) -> list[CheckFailure]:
    """Run one ``deliver`` step (see the module): the failures of the rules its ``delivery`` check names."""
    exchanges = runner.exchanges
    counterpart = exchanges.counterpart_url
    if not counterpart:
        raise ConfigurationError("a deliver step needs a counterpart reference endpoint")
    name = step.name
    spec = ctx.expand(step.raw["deliver"])
    expected = (step.raw.get("expect") or {}).get("delivery") or {}
    rules = [str(rule) for rule in expected.get("rules") or ()]
    expected_state = expected.get("state")
    messages = [str(message) for message in spec["messages"]]
    within = float(spec.get("within_s", 30))
    key = str(uuid.uuid4())
    base = DELIVERY_BASE + key
    path = str(spec["path"])
    await exchanges.control("PUT", "faults/" + key, _plan(spec, base, path))
    try:
        # "to" last: a recorded run's identifiers sit at the same offsets of the body (see as_sent below)
        command = {"action": spec["action"], "params": spec.get("params", {}), "to": counterpart.rstrip("/") + base}
        body = json.dumps(command, ensure_ascii=False).encode()
        hook = Request("POST", runner.target + TRIGGER_HOOK, (("Content-Type", "application/json"),), body)
        carried = await exchanges.send(scenario.id, name, hook, None)
        exchanges.judged(scenario.id, name, {})
        answer = carried.response
        latencies.append(answer.elapsed_ms)
        recorded = carried.request is not hook
        if recorded:  # the recorded run's identifiers and base: its messages and attempts are the ones judged
            as_sent(hook, None, carried.request, ctx)
            spec = ctx.expand(step.raw["deliver"])
            messages = [str(message) for message in spec["messages"]]
            base = _recorded_base(carried.request.body) or base
        hooked = answer.status not in HOOK_ABSENT
        if not hooked:
            instruction = str(spec.get("instruction") or f"make the SUT perform {spec['action']}")
            instruction += f" (send it to {counterpart.rstrip('/')}{base}{path})"
            if not exchanges.attended(scenario.id, name):
                raise ManualAction(f"no {TRIGGER_HOOK} hook (HTTP {answer.status}); operator must: {instruction}")
            runner.emit(OperatorActionRequired(scenario.id, name, instruction, runner.operator_timeout_s))
            within = max(within, runner.operator_timeout_s)
        elif answer.status != 202:
            return [CheckFailure(name, "trigger: status", 202, answer.status, f"the {TRIGGER_HOOK} hook refused")]
        reported = await _outcome(runner, scenario, name, messages, base + path, within, hooked, recorded)
        if not recorded:
            await _settle(runner, base + path)
        records = await exchanges.attempts(scenario.id, name, base + path)
    finally:
        await exchanges.control("DELETE", "faults/" + key)  # nothing to remove in a record
    attempts = [attempt_from_record(record, number) for number, record in enumerate(records, 1)]
    ctx.timeline.extend(timeline_rows(attempts))
    missing = [m for m in messages if reported.get(m) is None]
    if missing and expected_state is not None:
        if "RS-07" in rules:  # what the SUT reports is the rule itself: only the SUT (or its operator) can say
            raise ManualAction(
                f"the state of {', '.join(missing)} needs {DELIVERIES_HOOK}/ID; operator must check that the system "
                f"under test reports it {expected_state}"
            )
        expected_state = None  # no hook to ask (an operator sent): the timeline is judged, the state is not
    failures = judge_delivery(attempts, messages, rules, reported, expected_state, spec.get("faults") or ())
    return [
        CheckFailure(name, f"{failure.rule}: {failure.check}", failure.expected, failure.actual, failure.message)
        for failure in failures
    ]


def _recorded_base(body: bytes) -> str | None:
    """The base the recorded trigger gave the SUT (``to``'s path), so the recorded attempts are looked up there."""
    try:
        command = json.loads(body)
    except (ValueError, RecursionError):
        return None
    to = command.get("to") if isinstance(command, dict) else None
    if not isinstance(to, str) or DELIVERY_BASE not in to:
        return None
    return DELIVERY_BASE + to.split(DELIVERY_BASE, 1)[1]


async def _outcome(
    runner: Any,
    scenario: Scenario,
    name: str,
    messages: list[str],
    path: str,
    within: float,
    hooked: bool,
    recorded: bool,
) -> dict[str, str | None]:
    """Each message's state as the SUT reports it once every one is final, or when ``within`` runs out.

    Without a deliveries hook (the operator made the SUT send), the wait ends when every message got an answer
    that ends its delivery (the counterpart's attempts tell), or at ``within``; the states are then None."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    states: dict[str, str | None] = dict.fromkeys(messages)
    while True:
        for message in messages:
            if states[message] not in FINAL:
                states[message] = await _state(runner, scenario, name, message, hooked)
        if recorded or all(state in FINAL for state in states.values()) or loop.time() >= deadline:
            return states
        if all(state is None for state in states.values()) and await _ended(runner, messages, path):
            return states
        await asyncio.sleep(POLL_S)


async def _settle(runner: Any, path: str) -> None:
    """Watch the counterpart until no attempt arrived for ``QUIET_S``: a sender may report a delivery ended (or
    the operator say so) and still send again; those attempts are the step's too (RS-05, RS-06, docs/attacks.md)."""
    loop = asyncio.get_running_loop()
    seen = -1
    quiet_since = loop.time()
    while True:
        listed = await runner.exchanges.control("GET", "attempts?" + urlencode({"path": path}))
        count = len(listed) if isinstance(listed, list) else 0
        if count != seen:
            seen, quiet_since = count, loop.time()
        elif loop.time() - quiet_since >= QUIET_S:
            return
        await asyncio.sleep(POLL_S)


async def _ended(runner: Any, messages: list[str], path: str) -> bool:
    """Whether every message got an answer that ends its delivery, as the counterpart recorded (no hook)."""
    listed = await runner.exchanges.control("GET", "attempts?" + urlencode({"path": path}))
    ended = {a.get("id") for a in listed or () if isinstance(a, dict) and ends_delivery(a.get("status"))}
    return all(message in ended for message in messages)
