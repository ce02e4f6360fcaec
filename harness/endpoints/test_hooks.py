"""The reference supplier's test hook ``POST /netcode/v1/_test/trigger``: make it *send* a message.

The reference supplier plays the system under test in ``harness demo``; this
hook lets a suite ask it to send a person or vehicle query, an intelligence
report or a CAP alert and its update to a reference endpoint (the last two
delivered by the sender rules of resilience.md, :mod:`harness.endpoints.sender`,
their outcome read with ``GET /netcode/v1/_test/deliveries/{id}``). It only
sends to loopback addresses: a test hook is no way to make the harness call
out to other hosts.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
from aiohttp import web

from harness.endpoints.common import LOG, BodyTooLarge, json_response, problem, read_json
from harness.endpoints.sender import ReferenceSender
from harness.model import Finding
from harness.profile import (
    ALERTS_PATH,
    CAP_MEDIA_TYPE,
    DELIVERIES_HOOK,
    INTEL_REPORTS_PATH,
    PERSON_PATH,
    TRIGGER_HOOK,
    VEHICLE_PATH,
)

__all__ = ["LOOPBACK_BASE_URL", "TestHooks"]

ACTIONS = ("send-person-query", "send-vehicle-query", "send-intel-report", "send-cap-update")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_CAP_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,200}\Z")
"""A CAP identifier the trigger takes: CAP-01 (no spaces, commas, ``<``, ``&``), conservatively, as the OpenAPI
document's ``CapIdentifier`` says (a test-hook parameter, never markup)."""
INTEL_MEDIA_TYPE = "application/vnd.netcode.intel-report+json"

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

    cap_sender = "reference@netcode.example"

    def __init__(self, sender: ReferenceSender | None = None, actions: Mapping[str, Action] | None = None) -> None:
        self.actions: dict[str, Action] = dict(actions or {})
        """Actions of other roles (the ESN gateway's ``send-sds``, ``send-fd``, ``fd-respond``)."""
        self._tasks: set[asyncio.Task[None]] = set()
        self.sent: collections.deque[tuple[str, int | str]] = collections.deque(maxlen=1000)  # bounded: soaks
        self.sender = sender or ReferenceSender()

    def routes(self) -> list[web.RouteDef]:
        return [web.post(TRIGGER_HOOK, self.trigger), web.get(DELIVERIES_HOOK + "/{id}", self.deliveries)]

    def reset(self) -> None:
        self.sent.clear()
        self.sender.reset()

    async def deliveries(self, request: web.Request) -> web.StreamResponse:
        """``GET /netcode/v1/_test/deliveries/{id}``: ``{"id", "state", "attempts"}``, 404 for an id never sent."""
        delivery = self.sender.delivery(request.match_info["id"])
        if delivery is None:
            return problem(404, "not-found", "no delivery of that id was asked for")
        return json_response(delivery.as_dict())

    async def trigger(self, request: web.Request) -> web.StreamResponse:
        try:
            command, refused = await read_json(request, limit=64 * 1024)
        except BodyTooLarge:
            return problem(413, "too-large")
        if refused is not None:
            return refused
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
        if command["action"] in ("send-intel-report", "send-cap-update"):
            return self.start_delivery(str(command["action"]), to.rstrip("/"), params)
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

    def start_delivery(self, action: str, to: str, params: dict[str, Any]) -> web.StreamResponse:
        """Hand the reference sender the message(s) of ``action`` (checked first: a bad id is a 400)."""
        if action == "send-intel-report":
            report_id = params.get("reportId")
            if not isinstance(report_id, str) or not _UUID.match(report_id):
                finding = Finding("/params/reportId", "schema", "reportId must be a UUID")
                return problem(400, "invalid-message", "bad reportId", [finding])
            body = json.dumps(self.intel_report(report_id), ensure_ascii=False).encode()
            self.sender.start(to + INTEL_REPORTS_PATH, [(report_id, body, INTEL_MEDIA_TYPE)])
            return web.Response(status=202)
        identifiers = [params.get("identifier"), params.get("update")]
        for name, value in zip(("identifier", "update"), identifiers, strict=True):
            if not isinstance(value, str) or not _CAP_ID.match(value):
                finding = Finding(f"/params/{name}", "schema", f"{name} must be a CAP identifier (CAP-01)")
                return problem(400, "invalid-message", f"bad {name}", [finding])
        original, update = str(identifiers[0]), str(identifiers[1])  # the same twice: the update meets a 409
        sent = _cap_now()
        first = self.cap_alert(original, "Alert", sent, None)
        second = self.cap_alert(update, "Update", sent, f"{self.cap_sender},{original},{sent}")
        self.sender.start(to + ALERTS_PATH, [(original, first, CAP_MEDIA_TYPE), (update, second, CAP_MEDIA_TYPE)])
        return web.Response(status=202)

    def intel_report(self, report_id: str) -> dict[str, Any]:
        """The report ``send-intel-report`` delivers (valid netcode.intel-report/1.0, JSON rendition)."""
        return {
            "reportId": report_id,
            "profile": "netcode.intel-report/1.0",
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "originator": {"force": self.force, "system": "netcode reference supplier", "officerId": self.officer},
            "classification": "OFFICIAL",
            "grading": {"source": "A", "intelligence": 1, "handling": "P"},
            "subjects": [{"id": "loc-1", "type": "location", "point": {"lat": 51.5074, "lon": -0.1278}}],
            "text": "Activity observed at the location (sent by the reference supplier's trigger hook).",
        }

    def cap_alert(self, identifier: str, msg_type: str, sent: str, references: str | None) -> bytes:
        """A CAP 1.2 alert of ``send-cap-update`` (identifiers checked: no markup can enter)."""
        refs = f"  <references>{references}</references>\n" if references else ""
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">\n'
            f"  <identifier>{identifier}</identifier>\n"
            f"  <sender>{self.cap_sender}</sender>\n"
            f"  <sent>{sent}</sent>\n"
            "  <status>Test</status>\n"
            f"  <msgType>{msg_type}</msgType>\n"
            "  <scope>Public</scope>\n"
            f"{refs}"
            "</alert>\n"
        ).encode()

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


def _cap_now() -> str:
    """Now as a CAP timestamp: whole seconds, an explicit offset (CAP forbids ``Z``)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
