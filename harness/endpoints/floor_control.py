"""The reference floor control server over the profile's HTTP binding (``specs/esn.md`` 1.1), mounted by the
ESN gateway when it plays ``esn.md`` 1.1 or later.

- ``PUT /netcode/v1/_test/floor-sessions/{session}`` (test hook, test mode only): ``{"participants": [{"user":
  URI, "ssrc": int, "url": BASE, "priority": 0-255}], "queueing": bool, "duration_s": int}``, answered ``204``;
  the session is set up afresh (a session of that name is replaced). The server chooses its own SSRC.
- ``POST /netcode/v1/esn/floor/{session}`` (``application/vnd.netcode.mcptt-floor``, one packet): ``202`` when
  the packet was read (processed, or ignored as [380] 8.1.4 says: unknown subtype, unknown SSRC), ``400``
  ``/invalid-message`` for FLR-01/02/03 (a packet missing a field the profile requires, FLR-10, is read and
  ignored: ``202``), ``404``
  ``/not-found`` for an unknown session, ``415`` for another media type.
- ``POST {base}/netcode/v1/esn/floor/{session}`` (below any base path): a packet delivered to a participant the
  reference plays (the harness's counterpart), ``202`` once read.
- What the server sends, each packet in its own ``POST {participant url}/netcode/v1/esn/floor/{session}``, in
  the order decided; the revoke timer (``duration_s``) runs per grant.

Sessions live in this process (bounded, the oldest go first); the decisions are those of
:class:`harness.families.esn.floor_server.FloorSession`. Choices: docs/decisions-esn-1.1.md.
"""

from __future__ import annotations

import asyncio
import collections
import re
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

from harness.catalog import Catalog
from harness.endpoints.common import BODY, LOG, problem, read_body, read_json
from harness.endpoints.store import MemoryStore
from harness.endpoints.test_hooks import LOOPBACK_BASE_URL
from harness.families.esn.floor import FLOOR_PATH, FLOOR_SESSIONS_HOOK, MEDIA_TYPE, encode, judge
from harness.families.esn.floor_server import MAX_PARTICIPANTS, FloorSession, Outgoing, Participant
from harness.http import media_type
from harness.model import ConfigurationError, Finding

__all__ = ["FLOOR_PATH", "FLOOR_SESSIONS_HOOK", "SESSIONS_HELD", "FloorControl", "plays_floor_control"]

SESSIONS_HELD = 1000
"""Floor sessions held at most; past it the oldest goes (its timer with it)."""
SEND_TIMEOUT_S = 2.0
"""Each packet's POST to a participant; the answers are due within 1 s, so a dead participant costs little."""
MAX_PENDING = 256
"""Batches of answers in flight at most (as the ESN gateway's own sends); past it, further ones are dropped."""
MAX_DURATION_S = 86_400
MAX_SESSION_NAME = 200
SESSION_NAME = re.compile(r"[A-Za-z0-9._~-]{1,200}")
"""A session's name: unreserved URI characters (fixtures/openapi/netcode-v1.yaml, ``FloorSession``)."""
USER = re.compile(r"[!-~]{1,255}")
"""A participant's MCPTT ID: printable US-ASCII, at most 255 octets (it travels in a 1-octet-length field)."""
_STOPPING_ERRORS = ("FLR-01", "FLR-02", "FLR-03")
"""Rules whose finding refuses a packet with 400 (specs/esn.md, HTTP binding); warnings never refuse."""


FIRST_VERSION = (1, 1)
"""``esn.md`` 1.1 brought floor control: a gateway playing 1.0 (``--profile esn=1.0``) has none of it."""


def plays_floor_control(catalog: Catalog) -> bool:
    """Whether a gateway built on ``catalog`` plays a version of ``esn.md`` that has floor control."""
    played = dict(catalog.in_force).get("esn")
    if played is None:
        try:
            played = catalog.current_version("esn")
        except ConfigurationError:
            return False
    try:
        return tuple(int(part) for part in played.split(".")) >= FIRST_VERSION
    except ValueError:
        return False


def _integer(value: Any) -> int | None:
    """A JSON integer (``7`` or ``7.0``, as JSON Schema counts them), or None; never a boolean."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


class FloorControl:
    """Floor control sessions in the controlling role; each decision is a method a broken variant overrides
    (here, or in the :class:`FloorSession` subclass named by :attr:`session_type`)."""

    session_type: type[FloorSession] = FloorSession

    def __init__(self, hooks: bool = True, permitted: Callable[[str], bool] | None = None) -> None:
        self.hooks = hooks
        self.permitted = permitted or (lambda url: False)
        self.sessions: MemoryStore[str, FloorSession] = MemoryStore(SESSIONS_HELD)
        self.timers: dict[str, tuple[asyncio.TimerHandle, int]] = {}
        """Session -> its revoke timer and the grant it watches."""
        self.locks: collections.OrderedDict[str, asyncio.Lock] = collections.OrderedDict()
        self.sent: collections.deque[tuple[str, int | str]] = collections.deque(maxlen=1000)
        self._tasks: set[asyncio.Task[None]] = set()

    def routes(self) -> list[web.RouteDef]:
        routes = [web.post(FLOOR_PATH, self.receive), web.post("/{base:.+}" + FLOOR_PATH, self.receive)]
        if self.hooks:
            routes.append(web.put(FLOOR_SESSIONS_HOOK, self.set_up))
        return routes

    def reset(self) -> None:
        for timer, _ in self.timers.values():
            timer.cancel()
        self.timers.clear()
        self.sessions.clear()
        self.locks.clear()
        self.sent.clear()

    # -- the test hook ------------------------------------------------------------------------

    async def set_up(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["session"]
        document, refused = await read_json(request, limit=64 * 1024)
        if refused is not None:
            return refused
        session, findings = self.session_from(document)
        if not SESSION_NAME.fullmatch(name):
            findings.append(Finding("", "schema", "a session name is 1 to 200 unreserved URI characters"))
        if session is None or findings:
            return problem(400, "invalid-message", "not a floor session", findings)
        self._cancel_timer(name)
        self.sessions.pop(name, None)
        self.sessions[name] = session
        for gone in [known for known in self.timers if known not in self.sessions]:  # evicted past SESSIONS_HELD
            self._cancel_timer(gone)
        return web.Response(status=204)

    def session_from(self, document: Any) -> tuple[FloorSession | None, list[Finding]]:
        """The session a hook body describes, or the findings (JSON Pointers into it) that refuse it."""
        if not isinstance(document, dict):
            return None, [Finding("", "schema", "a floor session is a JSON object")]
        findings: list[Finding] = []
        unknown = sorted(set(document) - {"participants", "queueing", "duration_s"})
        findings += [Finding(f"/{key}", "schema", f"unknown member {key!r}") for key in unknown]
        queueing = document.get("queueing", False)
        if not isinstance(queueing, bool):
            findings.append(Finding("/queueing", "schema", "queueing is a boolean"))
        duration = _integer(document.get("duration_s", 30))
        if duration is None or not 1 <= duration <= MAX_DURATION_S:
            findings.append(Finding("/duration_s", "schema", f"duration_s is an integer, 1 to {MAX_DURATION_S}"))
        listed = document.get("participants")
        if not isinstance(listed, list) or not 1 <= len(listed) <= MAX_PARTICIPANTS:
            findings.append(Finding("/participants", "schema", f"participants is an array of 1 to {MAX_PARTICIPANTS}"))
            return None, findings
        participants: list[Participant] = []
        for index, item in enumerate(listed):
            participant, why = self._participant(item)
            if participant is None:
                findings.append(Finding(f"/participants/{index}", "schema", why))
            elif any(known.ssrc == participant.ssrc for known in participants):
                findings.append(Finding(f"/participants/{index}/ssrc", "schema", "two participants share an SSRC"))
            else:
                participants.append(participant)
        if findings:
            return None, findings
        assert duration is not None  # checked above
        return self.session_type(tuple(participants), bool(queueing), duration), []

    def _participant(self, item: Any) -> tuple[Participant | None, str]:
        why = "a participant has a user URI, an ssrc (0..2^32-1), a loopback http(s) url and a priority (0..255)"
        if not isinstance(item, dict) or set(item) - {"user", "ssrc", "url", "priority"}:
            return None, why
        user, url = item.get("user"), item.get("url")
        ssrc, priority = _integer(item.get("ssrc")), _integer(item.get("priority", 0))
        if not isinstance(user, str) or not USER.fullmatch(user):
            return None, why
        if ssrc is None or not 0 <= ssrc <= 0xFFFFFFFF or priority is None or not 0 <= priority <= 255:
            return None, why
        if not isinstance(url, str) or not LOOPBACK_BASE_URL.fullmatch(url) or not self.permitted(url):
            return None, why
        return Participant(user, ssrc, url.rstrip("/"), priority), ""

    # -- the binding ----------------------------------------------------------------------------

    async def receive(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["session"]
        if media_type(request.headers.get("Content-Type")) != MEDIA_TYPE:
            response = problem(415, "unsupported-media-type", f"send {MEDIA_TYPE}")
            response.headers["Accept-Post"] = MEDIA_TYPE
            return response
        body = await read_body(request)
        request[BODY] = body
        if "base" in request.match_info:  # below a base URL: a participant's delivery, the reference the participant
            return self.delivered(body)
        session = self.sessions.get(name)
        if session is None:
            return problem(404, "not-found", f"no floor session {name[:MAX_SESSION_NAME]!r}")  # a bad name neither
        judgement = judge(body)
        refusing = [finding for finding in judgement.errors if finding.rule in _STOPPING_ERRORS]
        if refusing:
            return problem(400, "invalid-message", f"{len(refusing)} finding(s)", refusing, warnings=judgement.warnings)
        if judgement.errors:  # FLR-10: read, but not a packet the server can act on ([380] 8.1.4 ignores it)
            return web.Response(status=202)
        outgoing = self.decide(session, judgement)  # no await until the timer is armed: one decision at a time
        self._arm_timer(name, session)
        if outgoing:  # sent by tasks queued on the session's lock, in the order decided
            self._spawn(self._send_in_order(name, self._lock(name), outgoing))
        return web.Response(status=202)

    def delivered(self, body: bytes) -> web.StreamResponse:
        """A floor packet delivered to a participant the reference plays (the counterpart of a floor session on
        a system under test): ``202`` once read, ``400`` located when it cannot be (FLR-01/02/03)."""
        judgement = judge(body)
        refusing = [finding for finding in judgement.errors if finding.rule in _STOPPING_ERRORS]
        if refusing:
            return problem(400, "invalid-message", f"{len(refusing)} finding(s)", refusing)
        return web.Response(status=202)

    def decide(self, session: FloorSession, judgement: Any) -> list[Outgoing]:
        return session.receive(judgement)

    def _lock(self, name: str) -> asyncio.Lock:
        lock = self.locks.get(name)
        if lock is None:
            lock = self.locks[name] = asyncio.Lock()
            while len(self.locks) > SESSIONS_HELD:
                self.locks.popitem(last=False)
        return lock

    def _arm_timer(self, name: str, session: FloorSession) -> None:
        """A new grant starts the revoke timer; a released floor stops it."""
        armed = self.timers.get(name)
        if armed is not None and armed[1] == session.grants and session.holder is not None:
            return
        self._cancel_timer(name)
        if session.holder is None:
            return
        loop = asyncio.get_running_loop()
        timer = loop.call_later(session.duration_s, self._expired, name, session, session.grants)
        self.timers[name] = (timer, session.grants)

    def _cancel_timer(self, name: str) -> None:
        armed = self.timers.pop(name, None)
        if armed is not None:
            armed[0].cancel()

    def _expired(self, name: str, session: FloorSession, grant: int) -> None:
        self.timers.pop(name, None)
        if self.sessions.get(name) is not session:
            return
        outgoing = session.expire(grant)
        if outgoing:
            self._spawn(self._send_in_order(name, self._lock(name), outgoing))

    async def drain(self) -> None:
        """Wait until every answer in flight has been sent (or failed): before a server stops, say."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _spawn(self, work: Any) -> None:
        if len(self._tasks) >= MAX_PENDING:  # a flood of packets cannot pile up sends without bound
            LOG.warning("floor control: %d answers in flight, one more dropped", len(self._tasks))
            if asyncio.iscoroutine(work):
                work.close()
            return
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_in_order(self, name: str, lock: asyncio.Lock, outgoing: list[Outgoing]) -> None:
        async with lock:
            for item in outgoing:
                await self.send(name, item)

    async def send(self, name: str, item: Outgoing) -> int | str:
        """POST one packet to one participant; the HTTP status, or why it could not be sent (logged, never raised)."""
        url = f"{item.to.url}{FLOOR_PATH.format(session=name)}"
        outcome: int | str
        try:
            timeout = aiohttp.ClientTimeout(total=SEND_TIMEOUT_S)
            async with (
                aiohttp.ClientSession(timeout=timeout) as client,
                client.post(url, data=self.octets(item), headers={"Content-Type": MEDIA_TYPE}) as answer,
            ):
                await answer.content.read(64 * 1024)
                outcome = answer.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            LOG.warning("floor control: sending to %s failed: %s", url, exc)
            outcome = str(exc) or type(exc).__name__
        self.sent.append((url, outcome))
        return outcome

    def octets(self, item: Outgoing) -> bytes:
        return encode(item.packet)
