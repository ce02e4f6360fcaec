"""An independent, correct implementation of the cross-force checks, written differently on purpose.

It shares nothing with the reference force but the standard: its own parsing,
purpose and mark checks, matching and answers (members in another order,
markers in another order, charset parameters, extra headers, problem types
under another base), and its own test hooks.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any

import aiohttp
from aiohttp import web

PURPOSES = {"investigation", "safeguarding", "intelligence", "vetting", "missing-person"}
MARKS = [
    r"[A-Z]{2}\d{2} ?[A-Z]{3}",
    r"[A-Z]\d{1,3} ?[A-Z]{3}",
    r"[A-Z]{3} ?\d{1,3}[A-Z]",
    r"\d{1,4} ?[A-Z]{1,3}",
    r"[A-Z]{1,3} ?\d{1,4}",
]
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
HEADERS = {"X-Trace": "alt", "Cache-Control": "no-store"}


def _reply(document: dict[str, Any], status: int = 200, kind: str = "application/json; charset=utf-8") -> web.Response:
    return web.Response(body=json.dumps(document, indent=2), status=status, headers={"Content-Type": kind, **HEADERS})


def _refuse(rule: str, where: str, why: str) -> web.Response:
    problem = {
        "status": 400,
        "type": "https://alt.test/errors/invalid-message",
        "title": "Rejected",
        "errors": [{"rule": rule, "location": where, "message": why}],
    }
    return _reply(problem, 400, "application/problem+json;charset=utf-8")


def _common_problems(query: Any, profile: str) -> web.Response | None:
    if not isinstance(query, dict) or query.get("profile") != profile:
        return _refuse("schema", "/profile", "wrong profile")
    if not isinstance(query.get("queryId"), str) or not UUID.fullmatch(query["queryId"]):
        return _refuse("schema", "/queryId", "bad id")
    requested = query.get("requestedBy")
    if not isinstance(requested, dict) or requested.get("purpose") not in PURPOSES:
        return _refuse("PQ-01", "/requestedBy/purpose", "no lawful purpose")
    return None


def build_alt_force() -> web.Application:
    held: dict[str, list[dict[str, Any]]] = {"persons": [], "vehicles": []}
    pending: set[asyncio.Task[None]] = set()

    async def person(request: web.Request) -> web.Response:
        query = json.loads(await request.read())
        refusal = _common_problems(query, "netcode.person-query/1.0")
        if refusal:
            return refusal
        wanted = query["criteria"]
        family = wanted.get("familyName", "").strip().lower()
        hits = []
        for record in held["persons"]:
            if record["familyName"].strip().lower() != family:
                continue
            if "givenName" in wanted and wanted["givenName"].lower() not in [g.lower() for g in record["givenNames"]]:
                continue
            if "dateOfBirth" in wanted and wanted["dateOfBirth"] != record["dateOfBirth"]:
                continue
            hits.append({**record, "warningMarkers": list(reversed(record["warningMarkers"]))})
        hits.reverse()
        return _reply(
            {
                "matches": hits,
                "status": "match" if hits else "no-trace",
                "profile": "netcode.person-result/1.0",
                "queryId": query["queryId"],
            }
        )

    async def vehicle(request: web.Request) -> web.Response:
        query = json.loads(await request.read())
        refusal = _common_problems(query, "netcode.vehicle-query/1.0")
        if refusal:
            return refusal
        mark = str(query.get("vrm", "")).upper()
        if not any(re.fullmatch(style, mark) for style in MARKS):
            return _refuse("VQ-01", "/vrm", "not a UK mark")
        key = mark.replace(" ", "")
        found = next((dict(v) for v in held["vehicles"] if v["vrm"] == key), None)
        return _reply(
            {
                "vehicle": found,
                "queryId": query["queryId"],
                "status": "match" if found else "no-trace",
                "profile": "netcode.vehicle-result/1.0",
            }
        )

    async def dataset(request: web.Request) -> web.Response:
        document = json.loads(await request.read())
        held["persons"], held["vehicles"] = document["persons"], document["vehicles"]
        return web.Response(status=204)

    async def trigger(request: web.Request) -> web.Response:
        command = json.loads(await request.read())
        params = command.get("params", {})
        asker = {"officerId": "ALT-7", "purpose": params.get("purpose", "intelligence"), "force": "alt-force"}
        if command["action"] == "send-person-query":
            path = "/netcode/v1/queries/person"
            body = {
                "criteria": params["criteria"],
                "requestedBy": asker,
                "queryId": str(uuid.uuid4()),
                "profile": "netcode.person-query/1.0",
            }
        else:
            path = "/netcode/v1/queries/vehicle"
            body = {
                "vrm": params["vrm"],
                "requestedBy": asker,
                "queryId": str(uuid.uuid4()),
                "profile": "netcode.vehicle-query/1.0",
            }

        async def send() -> None:
            async with aiohttp.ClientSession() as http:
                await http.post(
                    command["to"] + path,
                    data=json.dumps(body),
                    headers={"Content-Type": "application/json; charset=utf-8"},
                )

        task = asyncio.create_task(send())
        pending.add(task)
        task.add_done_callback(pending.discard)
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/netcode/v1/queries/person", person)
    app.router.add_post("/netcode/v1/queries/vehicle", vehicle)
    app.router.add_put("/netcode/v1/_test/dataset", dataset)
    app.router.add_post("/netcode/v1/_test/trigger", trigger)
    return app
