"""Fault injection in the reference endpoints (specs/resilience.md) and the attempts it records.

Every reference endpoint carries a :class:`FaultInjector`: a middleware that, for a request matching a rule of
the fault plan, does what the rule says (a status with or without ``Retry-After``, a reset, a delay, headers then
a close, a 202 that stores nothing) instead of, or before, the role's own handler; and a record of every attempt
it saw (when it came, what it carried, what became of it). The control API (under ``/_harness/``, with the
endpoint's other controls, never part of the profile's binding) sets plans and reads the attempts:

- ``PUT /_harness/faults`` (JSON or YAML body, a plan): replace every plan by this one;
- ``PUT /_harness/faults/{name}``: set the plan ``name`` (the runner sets one per deliver step, so
  concurrent scenarios never share one); ``DELETE`` the same path removes it;
- ``GET /_harness/faults``: the plans;
- ``GET /_harness/attempts?path=P&id=ID``: the recorded attempts, oldest first.

One process, one injector: under ``harness serve --processes N`` each process has its own plan and record
(docs/decisions-resilience.md).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import datetime as dt
import hashlib
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from aiohttp import web

from harness.endpoints.common import (
    BODY,
    MAX_BODY,
    PREREAD,
    Recorder,
    Refused,
    json_response,
    problem,
    read_body,
    utc_now,
)
from harness.families.resilience.faults import (
    AcceptThenForget,
    CloseBeforeBody,
    Delay,
    FaultPlan,
    FaultPlanError,
    FaultRule,
    Reset,
    Status,
    message_id,
    parse_plan,
    retry_after_value,
)
from harness.model import Finding
from harness.transport import credential_name

__all__ = ["CONTROL_PREFIX", "AttemptRecord", "FaultInjector"]

CONTROL_PREFIX = "/_harness/"
"""Where the reference endpoints' control API lives (fault plans, attempts, as ``/_harness/health``...): never
faulted, never recorded as an attempt, never evidence."""
_NOT_ATTEMPTS = (CONTROL_PREFIX, "/netcode/v1/_test/")
_PROBLEM_KINDS = {
    400: "invalid-message",
    404: "not-found",
    406: "not-acceptable",
    409: "conflict",
    413: "too-large",
    415: "unsupported-media-type",
    422: "invalid-message",
}
_WATCH_STEP_S = 0.01
"""How often a delayed attempt looks whether its sender has gone (the end RS-06 measures from)."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def body_fields(body: bytes) -> tuple[str, str]:
    """(text, "text") for UTF-8 bytes, else (base64, "base64"): how the attempts list carries a body."""
    try:
        return body.decode("utf-8"), "text"
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), "base64"


@dataclass(slots=True)
class AttemptRecord:
    """One request the endpoint received, the fault it met (if any) and what became of it."""

    number: int
    at_s: float
    monotonic_ms: float
    method: str
    path: str
    body: bytes
    headers: Any
    """The request's headers as received (redacted when listed: recording costs nothing per request)."""
    connection: int
    fault: str | None = None
    outcome: str = ""
    status: int | None = None
    answer_headers: Any = ()
    answer_body: bytes = b""
    answered_s: float | None = None
    answered_monotonic_ms: float | None = None
    content_type: str = ""
    _id: list[str | None] = field(default_factory=list)

    @property
    def id(self) -> str | None:
        """The message id the body carries, read when first asked (never on the request's path)."""
        if not self._id:
            self._id.append(message_id(self.body, self.content_type))
        return self._id[0]

    def as_dict(self) -> dict[str, Any]:
        headers = _redacted(self.headers)
        body, encoding = body_fields(self.body)
        answer_body, answer_encoding = body_fields(self.answer_body)
        return {
            "number": self.number,
            "at": _rfc3339(self.at_s),
            "monotonic_ms": round(self.monotonic_ms, 3),
            "method": self.method,
            "path": self.path,
            "id": self.id,
            "body_sha256": hashlib.sha256(self.body).hexdigest(),
            "body": body,
            "body_encoding": encoding,
            "headers": dict(headers),
            "header_list": [list(pair) for pair in headers],
            "connection": self.connection,
            "fault": self.fault,
            "outcome": self.outcome,
            "status": self.status,
            "answer_headers": [[str(name), str(value)] for name, value in tuple(self.answer_headers.items())]
            if hasattr(self.answer_headers, "items")
            else [list(pair) for pair in self.answer_headers],
            "answer_body": answer_body,
            "answer_body_encoding": answer_encoding,
            "answered_at": None if self.answered_s is None else _rfc3339(self.answered_s),
            "answered_monotonic_ms": None
            if self.answered_monotonic_ms is None
            else round(self.answered_monotonic_ms, 3),
        }


class _Active:
    """A plan with the requests left for each of its rules."""

    __slots__ = ("left", "plan")

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.left: list[int | None] = [rule.count for rule in plan.rules]


def _rfc3339(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _redacted(headers: Any) -> tuple[tuple[str, str], ...]:
    return tuple((name, "[redacted]" if credential_name(name) else value) for name, value in headers.items())


class FaultInjector:
    """The fault plans of one endpoint and the attempts it recorded (bounded: the newest ``capacity``)."""

    def __init__(self, plan: FaultPlan | None = None, capacity: int = 10_000, max_bytes: int = 16 << 20) -> None:
        self._plans: dict[str, _Active] = {}
        if plan is not None and plan.rules:
            self._plans[""] = _Active(plan)
        self.attempts: collections.deque[AttemptRecord] = collections.deque()
        self.capacity = capacity
        self.max_bytes = max_bytes
        self._bytes = 0
        self._connections: collections.OrderedDict[str, int] = collections.OrderedDict()
        self._connection_count = 0
        self._numbers = 0
        self._origin = time.monotonic()

    # -- plans ----------------------------------------------------------------

    def set_plan(self, name: str, plan: FaultPlan) -> None:
        self._plans.pop(name, None)
        self._plans[name] = _Active(plan)

    def replace(self, plan: FaultPlan) -> None:
        self._plans = {"": _Active(plan)} if plan.rules else {}

    def remove(self, name: str) -> bool:
        return self._plans.pop(name, None) is not None

    def plans(self) -> dict[str, Any]:
        return {name: {**active.plan.as_dict(), "left": list(active.left)} for name, active in self._plans.items()}

    def reset(self) -> None:
        """Forget every plan and attempt (the control API's ``/_harness/reset``)."""
        self._plans.clear()
        self.attempts.clear()
        self._bytes = 0

    def watching(self, method: str, path: str) -> bool:
        """Whether a rule with requests left may apply to ``method path`` (its body must then be read first)."""
        return any(
            left != 0 and rule.may_match(method, path)
            for active in self._plans.values()
            for rule, left in zip(active.plan.rules, active.left, strict=True)
        )

    def choose(self, method: str, path: str, message: str | None) -> FaultRule | None:
        """The rule that applies to this request, its count taken; None: answer normally."""
        for active in self._plans.values():
            for index, rule in enumerate(active.plan.rules):
                left = active.left[index]
                if left != 0 and rule.matches(method, path, message):
                    if left is not None:
                        active.left[index] = left - 1
                    return rule
        return None

    # -- attempts ---------------------------------------------------------------

    def _connection(self, request: web.Request) -> int:
        """A number per connection, told apart by the client's address and port (its ephemeral port is not
        reused while the connection, or its TIME_WAIT, lasts)."""
        peer = request.transport.get_extra_info("peername") if request.transport is not None else None
        key = repr(peer)
        number = self._connections.get(key)
        if number is None:
            self._connection_count += 1
            number = self._connections[key] = self._connection_count
            if len(self._connections) > 4096:  # bounded: only recent connections need telling apart
                self._connections.popitem(last=False)
        return number

    def _now_ms(self) -> float:
        return (time.monotonic() - self._origin) * 1000

    def begin(self, request: web.Request, body: bytes) -> AttemptRecord:
        self._numbers += 1
        if len(self.attempts) >= self.capacity:
            self._bytes -= len(self.attempts.popleft().body)
        record = AttemptRecord(
            number=self._numbers,
            at_s=time.time(),
            monotonic_ms=self._now_ms(),
            method=request.method,
            path=request.path,
            body=b"",
            content_type=request.headers.get("Content-Type", ""),
            headers=request.headers,
            connection=self._connection(request),
        )
        self.attempts.append(record)
        self.keep(record, body)
        return record

    def keep(self, record: AttemptRecord, body: bytes) -> None:
        """Hold ``body`` as the attempt's; the oldest attempts go past ``max_bytes`` of bodies (soaks, loads)."""
        self._bytes += len(body) - len(record.body)
        record.body = body
        while self._bytes > self.max_bytes and len(self.attempts) > 1:
            self._bytes -= len(self.attempts.popleft().body)

    def end(self, record: AttemptRecord, outcome: str, response: web.StreamResponse | None = None) -> None:
        record.outcome = outcome
        record.answered_s = time.time()
        record.answered_monotonic_ms = self._now_ms()
        if response is not None:
            record.status = response.status
            record.answer_headers = response.headers  # as finally sent: aiohttp adds Date, Content-Length, ...
            body = getattr(response, "body", None)
            record.answer_body = body if isinstance(body, bytes) else b""

    def listed(self, path: str | None = None, ident: str | None = None) -> list[dict[str, Any]]:
        return [
            record.as_dict()
            for record in self.attempts
            if (path is None or record.path == path) and (ident is None or record.id == ident)
        ]

    # -- the middleware -----------------------------------------------------------

    def middleware(self, recorder: Recorder | None = None) -> Any:
        """The aiohttp middleware that applies the plan and records attempts. It is the outermost one: a faulted
        answer never reaches the role's handler, and is put in ``recorder`` (what the endpoint received) here."""

        @web.middleware
        async def faults(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.path.startswith(_NOT_ATTEMPTS):
                return await handler(request)
            if not self.watching(request.method, request.path):
                record = self.begin(request, b"")
                response = await handler(request)
                self.keep(record, request.get(BODY, b""))
                self.end(record, f"answered {response.status}", response)
                return response
            return await self._faulted(request, handler, recorder)

        return faults

    async def _faulted(self, request: web.Request, handler: Handler, recorder: Recorder | None) -> web.StreamResponse:
        try:
            body = await read_body(request, MAX_BODY)
        except Refused as exc:  # too large, too slow: answered as the role would
            return exc.response
        request[PREREAD] = body
        record = self.begin(request, body)
        rule = self.choose(request.method, request.path, record.id)
        if rule is None:
            response = await handler(request)
            self.end(record, f"answered {response.status}", response)
            return response
        action = rule.action
        record.fault = action.describe()
        if isinstance(action, Delay):
            if not await _held(request, action.seconds):
                self.end(record, f"fault: delay {action.seconds:g} s; the sender closed the connection first")
                return _dropped(request, recorder, body)
            response = await handler(request)
            self.end(record, f"fault: delay {action.seconds:g} s, then answered {response.status}", response)
            return response
        if isinstance(action, Status | AcceptThenForget):
            if isinstance(action, Status):
                response = self._status(action)
                self.end(record, f"fault: {record.fault}", response)
            else:
                found = {"id": record.id} if record.id else {}
                response = json_response({**found, "status": "accepted", "receivedAt": utc_now()}, 202)
                self.end(record, "fault: accept-then-forget (answered 202, nothing stored)", response)
            if recorder is not None:
                recorder.record(request, body, response.status)
            return response
        if isinstance(action, Reset):
            self.end(record, "fault: reset (no answer)")
            _abort(request)
            return _dropped(request, recorder, body)
        assert isinstance(action, CloseBeforeBody)
        answer = web.StreamResponse(status=202, headers={"Content-Type": "application/json"})
        answer.content_length = 64
        await answer.prepare(request)
        self.end(record, "fault: close-before-body (202 headers, then closed)")
        record.answer_headers = answer.headers
        _abort(request, linger=False)
        if recorder is not None:
            recorder.record(request, body, 0)
        return answer

    def _status(self, action: Status) -> web.Response:
        kind = _PROBLEM_KINDS.get(action.code, "unavailable")
        findings = [Finding("", "schema", "refused by the fault plan")] if kind == "invalid-message" else []
        response = problem(action.code, kind, "refused by the reference endpoint's fault plan", findings)
        if action.retry_after is not None:
            response.headers["Retry-After"] = retry_after_value(action.retry_after, time.time())
        return response

    # -- the control API ----------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        return [
            web.put(CONTROL_PREFIX + "faults", self._put_all),
            web.get(CONTROL_PREFIX + "faults", self._get),
            web.put(CONTROL_PREFIX + "faults/{name}", self._put_named),
            web.delete(CONTROL_PREFIX + "faults/{name}", self._delete_named),
            web.get(CONTROL_PREFIX + "attempts", self._attempts),
        ]

    async def _plan_of(self, request: web.Request) -> FaultPlan | web.Response:
        body = await read_body(request, 256 * 1024)
        try:
            document = yaml.safe_load(body.decode("utf-8")) if body.strip() else {"rules": []}
            return parse_plan(document, "fault plan")
        except (UnicodeDecodeError, yaml.YAMLError) as exc:
            return problem(400, "invalid-message", f"not a JSON or YAML plan: {type(exc).__name__}")
        except FaultPlanError as exc:
            return problem(400, "invalid-message", str(exc))

    async def _put_all(self, request: web.Request) -> web.StreamResponse:
        plan = await self._plan_of(request)
        if isinstance(plan, web.Response):
            return plan
        self.replace(plan)
        return json_response(self.plans())

    async def _put_named(self, request: web.Request) -> web.StreamResponse:
        plan = await self._plan_of(request)
        if isinstance(plan, web.Response):
            return plan
        self.set_plan(request.match_info["name"], plan)
        return json_response(self.plans())

    async def _delete_named(self, request: web.Request) -> web.StreamResponse:
        if not self.remove(request.match_info["name"]):
            return problem(404, "not-found", f"no fault plan {request.match_info['name']!r}")
        return web.Response(status=204)

    async def _get(self, _: web.Request) -> web.StreamResponse:
        return json_response(self.plans())

    async def _attempts(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.listed(request.query.get("path"), request.query.get("id")))


def _dropped(request: web.Request, recorder: Recorder | None, body: bytes) -> web.Response:
    """What the middleware returns for a connection it closed on purpose: never written (the transport is gone);
    the endpoint's record says it got no answer (status 0)."""
    if recorder is not None:
        recorder.record(request, body, 0)
    return web.Response(status=204)


def _abort(request: web.Request, linger: bool = True) -> None:
    transport = request.transport
    if transport is None:
        return
    if linger:  # SO_LINGER 0: the close is a TCP reset, as a crashed peer's would be
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()


async def _held(request: web.Request, seconds: float) -> bool:
    """Wait ``seconds``; False as soon as the sender closed the connection (it gave up on this attempt)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        transport = request.transport
        if transport is None or transport.is_closing():
            return False
        await asyncio.sleep(min(_WATCH_STEP_S, left))
    return True
