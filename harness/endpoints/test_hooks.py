"""The reference supplier's test hook ``POST /netcode/v1/_test/trigger``: make it *send* a message.

The reference supplier plays the system under test in ``harness demo``; this
hook lets a suite ask it to send a person or vehicle query to a reference
endpoint. It only sends to loopback addresses: a test hook is no way to make
the harness call out to other hosts.
"""

from __future__ import annotations

import asyncio
import collections
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
from aiohttp import web

from harness.endpoints.common import BODY, LOG, BodyTooLarge, problem, read_body
from harness.model import Finding
from harness.profile import PERSON_PATH, TRIGGER_HOOK, VEHICLE_PATH
from harness.validation.jsonsafe import UnsafeJson, parse_json

__all__ = ["LOOPBACK_BASE_URL", "TestHooks"]

ACTIONS = ("send-person-query", "send-vehicle-query")

Action = Callable[[str, dict[str, Any], web.Request], Awaitable[web.StreamResponse]]
"""A trigger action another role performs: ``(to, params, the hook request) -> the hook's answer``."""


LOOPBACK_BASE_URL = re.compile(
    r"^https?://(localhost|127(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}|\[::1\])"
    r"(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?"
    r"(/([A-Za-z0-9._~!$&'()*+,;=:@/-]|%[0-9A-Fa-f]{2})*)?$"
)
"""Where a trigger may send: an http(s) base URL on a loopback address, optional port and path.

The very pattern of ``LoopbackBaseUrl`` in ``fixtures/openapi/netcode-v1.yaml`` (a test keeps them equal), so
that the document states exactly what the reference refuses: what a tool generates from the pattern is accepted,
and what breaks it is refused. Used with ``fullmatch`` (``$`` alone would let a trailing newline through).
"""


def _loopback_http_url(url: str) -> bool:
    return LOOPBACK_BASE_URL.fullmatch(url) is not None


class TestHooks:
    """Triggers outgoing queries; what it sends is decided by :meth:`person_query` / :meth:`vehicle_query`."""

    __test__ = False  # not a pytest test class, whatever its name says
    force = "reference-force"
    officer = "REF0001"

    def __init__(self, actions: Mapping[str, Action] | None = None) -> None:
        self.actions: dict[str, Action] = dict(actions or {})
        """Actions of other roles (the ESN gateway's ``send-sds``, ``send-fd``, ``fd-respond``)."""
        self._tasks: set[asyncio.Task[None]] = set()
        self.sent: collections.deque[tuple[str, int | str]] = collections.deque(maxlen=1000)  # bounded: soaks

    def routes(self) -> list[web.RouteDef]:
        return [web.post(TRIGGER_HOOK, self.trigger)]

    def reset(self) -> None:
        self.sent.clear()

    async def trigger(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await read_body(request, limit=64 * 1024)
        except BodyTooLarge:
            return problem(413, "too-large")
        request[BODY] = body
        try:
            command = parse_json(body)
        except UnsafeJson as exc:
            return problem(400, "invalid-message", str(exc), [Finding("", "schema", str(exc))])
        known = (*ACTIONS, *self.actions)
        if not isinstance(command, dict) or command.get("action") not in known:
            finding = Finding("/action", "schema", f"action must be one of {', '.join(known)}")
            return problem(400, "invalid-message", "unknown action", [finding])
        to = command.get("to")
        if not isinstance(to, str) or not _loopback_http_url(to):
            finding = Finding("/to", "schema", "to must be an http(s) URL on a loopback address")
            return problem(400, "invalid-message", "bad destination", [finding])
        given = command.get("params", {})
        if not isinstance(given, dict):  # absent is no params; null, an array or a string is a malformed command
            finding = Finding("/params", "schema", "params must be an object")
            return problem(400, "invalid-message", "params is not an object", [finding])
        params: dict[str, Any] = given
        if command["action"] in self.actions:
            return await self.actions[command["action"]](to, params, request)
        if command["action"] == "send-person-query":
            path, message = PERSON_PATH, self.person_query(params)
        else:
            path, message = VEHICLE_PATH, self.vehicle_query(params)
        task = asyncio.create_task(self._send(to.rstrip("/") + path, message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.Response(status=202)

    def requested_by(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"force": self.force, "officerId": self.officer, "purpose": params.get("purpose", "investigation")}

    def person_query(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "queryId": str(uuid.uuid4()),
            "profile": "netcode.person-query/1.0",
            "requestedBy": self.requested_by(params),
            "criteria": params.get("criteria", {}),
        }

    def vehicle_query(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "queryId": str(uuid.uuid4()),
            "profile": "netcode.vehicle-query/1.0",
            "requestedBy": self.requested_by(params),
            "vrm": params.get("vrm", ""),
        }

    async def _send(self, url: str, message: dict[str, Any]) -> None:
        try:
            timeout = aiohttp.ClientTimeout(total=10)
            async with aiohttp.ClientSession(timeout=timeout) as session, session.post(url, json=message) as answer:
                await answer.read()
                self.sent.append((url, answer.status))
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            LOG.warning("triggered query to %s failed: %s", url, exc)
            self.sent.append((url, str(exc)))
