"""Reference ESN gateway: the HTTP binding of the mission-critical exchanges (spec `esn.md`).

- ``POST /netcode/v1/esn/sds``: an SDS (multipart/mixed: mcdata-info, signalling,
  payload) answered ``202``, or refused ``400`` with a problem locating the part
  and octet. A requested disposition is answered with an SDS NOTIFICATION sent
  to ``{Netcode-Reply-To}/netcode/v1/esn/sds``; a group SDS is relayed to every
  affiliated member of the group; an SDS NOTIFICATION is taken note of.
- ``POST /netcode/v1/esn/emergency-alerts``: an mcptt-info group emergency alert
  or cancel (alone, or multipart/mixed with a location-info Report), answered
  ``200`` with an mcptt-info carrying ``alert-ind-rcvd`` true.
- ``POST /netcode/v1/esn/location-info``: location-info documents. As a client,
  the gateway keeps the Configuration a server sent and answers a Request with a
  Report (the configured TriggerIds, its CurrentLocation) sent to the server's
  ``Netcode-Reply-To``; as a server (:meth:`EsnGateway.request_location`) it
  sends Configuration and Request and waits for the Report.
- ``PUT /netcode/v1/_test/groups`` (test hook): which members a group has,
  where each is delivered, and whether it is affiliated.

Every exchange is also served below any base path (``/{base}/netcode/v1/esn/...``),
so that a reply-to base URL may carry a path. The gateway sends only to loopback
addresses unless told other hosts. Choices: docs/decisions-esn-exchange.md.
"""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import json
import time
import uuid
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from harness.catalog import Catalog
from harness.codecs.multipart import MultipartError, parse_multipart
from harness.endpoints.common import BODY, LOG, problem, read_body
from harness.endpoints.floor_control import FloorControl, plays_floor_control
from harness.endpoints.store import JSON, Codec, Store, Stores, stores
from harness.families.esn.body import Sds, build_sds, parse_sds
from harness.families.esn.mcdata import CodecError, NotificationType, SdsNotification, SdsSignalling, decode
from harness.families.esn.messages import (
    LOCATION_INFO,
    MCPTT_INFO,
    LocationInfo,
    McdataParams,
    McpttParams,
    alert_acknowledgement,
    location_configuration,
    location_report,
    location_request,
    mcdata_info,
    notification_sds,
    notification_types,
    read_location,
    read_mcdata_info,
    read_mcptt_info,
)
from harness.families.esn.validation import sds_validator
from harness.http import media_type
from harness.model import Finding
from harness.profile import ESN_ALERTS_PATH, GROUPS_HOOK, LOCATION_PATH, SDS_PATH
from harness.validation.jsonsafe import UnsafeJson, parse_json
from harness.validation.validator import Validation, validator_for

__all__ = ["REPLY_TO", "EsnGateway", "Member"]

REPLY_TO = "Netcode-Reply-To"
ANSWER_WITHIN_S = 5.0
"""The spec's bound for notifications and reports; also each outgoing request's time-out."""
MAX_PENDING = 256
"""Outgoing messages in flight at most; past it, further ones are dropped (and logged)."""
HELD = 10_000
"""Groups, emergency states and location configurations held at most (the oldest go first)."""


def _unsupported(accepted: str) -> web.Response:
    response = problem(415, "unsupported-media-type", f"send {accepted}")
    response.headers["Accept-Post"] = accepted
    return response


@dataclass(slots=True, frozen=True)
class Member:
    """A member of a group: its MCData URI, the base URL it is delivered at, whether it is affiliated."""

    uri: str
    url: str
    affiliated: bool = True


def _members(data: bytes) -> tuple[Member, ...]:
    return tuple(Member(uri, url, affiliated) for uri, url, affiliated in json.loads(data))


MEMBERS = Codec(lambda members: json.dumps([[m.uri, m.url, m.affiliated] for m in members]).encode(), _members)
TRIGGERS = Codec(lambda triggers: json.dumps(list(triggers)).encode(), lambda data: tuple(json.loads(data)))


class EsnGateway:
    """The reference implementation of the ESN exchanges; each decision is a method tests can override."""

    latitude_raw = 0x493ED5
    longitude_raw = 0xFFE951
    """The gateway's own position as a location client (TS 23.032 24-bit values: 51.50070 N, 0.12460 W)."""

    def __init__(
        self, catalog: Catalog, hooks: bool = True, reply_hosts: Iterable[str] = (), shared: Stores | None = None
    ) -> None:
        self.sds_format = catalog.format("mcdata-sds/1.0")
        self.mcptt_format = catalog.format("mcptt-info/1.0")
        self.location_format = catalog.format("mcptt-location-info/1.0")
        self.hooks = hooks
        self.reply_hosts = frozenset(host.lower() for host in reply_hosts)
        held = shared if shared is not None else stores()
        self.groups: Store[str, tuple[Member, ...]] = held.store("esn-gateway/groups", HELD, MEMBERS)
        self.alerts: Store[tuple[str, str], bool] = held.store("esn-gateway/emergencies", HELD, JSON)
        self.configurations: Store[str, tuple[str, ...]] = held.store("esn-gateway/configurations", HELD, TRIGGERS)
        self.notifications: collections.deque[SdsNotification] = collections.deque(maxlen=1000)
        self.reports: collections.deque[LocationInfo] = collections.deque(maxlen=1000)
        self.sent: collections.deque[tuple[str, int | str]] = collections.deque(maxlen=1000)
        self._awaited_reports: dict[str, asyncio.Future[bytes]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.floor = FloorControl(hooks, self.permitted) if plays_floor_control(catalog) else None

    def routes(self) -> list[web.RouteDef]:
        routes: list[web.RouteDef] = []
        for path, handler in (
            (SDS_PATH, self.receive_sds),
            (ESN_ALERTS_PATH, self.receive_alert),
            (LOCATION_PATH, self.receive_location),
        ):
            routes += [web.post(path, handler), web.post("/{base:.+}" + path, handler)]
        if self.hooks:
            routes.append(web.put(GROUPS_HOOK, self.load_groups))
        return routes + (self.floor.routes() if self.floor is not None else [])

    def reset(self) -> None:
        for store in (self.groups, self.alerts, self.configurations, self.notifications, self.reports, self.sent):
            store.clear()
        if self.floor is not None:
            self.floor.reset()

    # -- sending ----------------------------------------------------------------------------

    def permitted(self, url: str) -> bool:
        """Whether the gateway may send to ``url``: http(s), and a loopback host unless ``reply_hosts`` names it."""
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
            parts.port  # noqa: B018  (raises on a bad port)
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or not host:
            return False
        if host == "localhost" or host in self.reply_hosts:
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    def _spawn(self, work: Awaitable[None]) -> None:
        if len(self._tasks) >= MAX_PENDING:
            LOG.warning("ESN gateway: %d messages in flight, one more dropped", len(self._tasks))
            if asyncio.iscoroutine(work):
                work.close()
            return
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def post(self, url: str, content_type: str, body: bytes, reply_to: str | None = None) -> int | str:
        """POST one message; the HTTP status, or why it could not be sent (logged, never raised)."""
        headers = {"Content-Type": content_type}
        if reply_to:
            headers[REPLY_TO] = reply_to
        outcome: int | str
        try:
            timeout = aiohttp.ClientTimeout(total=ANSWER_WITHIN_S)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(url, data=body, headers=headers, allow_redirects=False) as answer,
            ):
                await answer.content.read(64 * 1024)
                outcome = answer.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            LOG.warning("ESN gateway: sending to %s failed: %s", url, exc)
            outcome = str(exc) or type(exc).__name__
        self.sent.append((url, outcome))
        return outcome

    def _reply_to(self, request: web.Request) -> tuple[str | None, web.Response | None]:
        """The ``Netcode-Reply-To`` base URL (None when absent), or the refusal of an unusable one."""
        value = request.headers.get(REPLY_TO)
        if value is None:
            return None, None
        if not self.permitted(value.strip()):
            finding = Finding(f"/header/{REPLY_TO}", "ESN-03", f"{REPLY_TO} {value[:200]!r} is not a usable base URL")
            detail = "the reference gateway sends answers to http(s) URLs on loopback (or hosts it was given)"
            return None, problem(400, "invalid-message", detail, [finding])
        return value.strip().rstrip("/"), None

    # -- SDS --------------------------------------------------------------------------------

    async def receive_sds(self, request: web.Request) -> web.StreamResponse:
        content_type = request.headers.get("Content-Type", "")
        if media_type(content_type) != "multipart/mixed":
            return _unsupported("multipart/mixed")
        body = await read_body(request)
        request[BODY] = body
        validation = self.validate_sds(content_type, body)
        if not validation.valid:
            return problem(400, "invalid-message", f"{len(validation.findings)} finding(s)", validation.findings)
        try:
            sds = self.parse(content_type, body)
            message = decode(sds.signalling)
        except (MultipartError, CodecError) as exc:  # only a variant that validates less gets here
            return self.undecodable(exc)
        info = read_mcdata_info(sds.info)
        if isinstance(message, SdsNotification):
            self.notification_received(info, message)
            return web.Response(status=202)
        if not isinstance(message, SdsSignalling):
            return problem(400, "invalid-message", "not an SDS", [Finding("/part/2/octet/0", "MCD-11", "not an SDS")])
        reply_to, refusal = self._reply_to(request)
        kinds = self.notifications_for(info, message)
        if refusal is not None and (kinds or info.is_group):
            return refusal
        if info.is_group:
            self.relay_to_group(info, sds, reply_to)
        if reply_to is not None:
            for kind in kinds:
                self._spawn(self.send_notification(reply_to, info, message, kind))
        return web.Response(status=202)

    def undecodable(self, error: MultipartError | CodecError) -> web.StreamResponse:
        """The answer to an SDS that passed validation but cannot be read (a variant that validates less)."""
        return problem(400, "invalid-message", str(error), [Finding("/", "MCS-01", str(error))])

    def validate_sds(self, content_type: str, body: bytes) -> Validation:
        return sds_validator(self.sds_format).validate(content_type, body)

    def parse(self, content_type: str, body: bytes) -> Sds:
        return parse_sds(content_type, body)

    def notifications_for(self, info: McdataParams, sds: SdsSignalling) -> list[NotificationType]:
        """The notifications the gateway sends as the recipient: none for a group SDS (its members answer)."""
        return [] if info.is_group else notification_types(sds.disposition)

    def notification(self, info: McdataParams, sds: SdsSignalling, kind: NotificationType) -> tuple[str, bytes]:
        return notification_sds(info, sds, kind)

    async def send_notification(
        self, reply_to: str, info: McdataParams, sds: SdsSignalling, kind: NotificationType
    ) -> None:
        content_type, body = self.notification(info, sds, kind)
        await self.post(reply_to + SDS_PATH, content_type, body)

    def notification_received(self, info: McdataParams, notification: SdsNotification) -> None:
        self.notifications.append(notification)

    def members(self, group: str | None) -> list[Member]:
        """The affiliated members of ``group``; a group the gateway does not hold has none."""
        return [member for member in self.groups.get(group or "") or () if member.affiliated]

    def relayed(self, info: McdataParams, member: Member, sds: Sds) -> tuple[str, bytes]:
        """The SDS a member receives: mcdata-info naming it, the group and the sender; the binary parts as they came."""
        params = McdataParams("group-sds", member.uri, info.calling_user, info.request_uri)
        return build_sds(mcdata_info(params), sds.signalling, sds.payload)

    def relay_to_group(self, info: McdataParams, sds: Sds, reply_to: str | None) -> None:
        for member in self.members(info.request_uri):
            content_type, body = self.relayed(info, member, sds)
            self._spawn(self._deliver(member.url.rstrip("/") + SDS_PATH, content_type, body, reply_to))

    async def _deliver(self, url: str, content_type: str, body: bytes, reply_to: str | None) -> None:
        await self.post(url, content_type, body, reply_to)

    async def load_groups(self, request: web.Request) -> web.StreamResponse:
        """``{"groups": [{"uri": G, "members": [{"uri": U, "url": BASE, "affiliated": true}]}]}``: each group
        listed is replaced, the others are kept."""
        body = await read_body(request, limit=256 * 1024)
        request[BODY] = body
        try:
            document = parse_json(body)
        except UnsafeJson as exc:
            return problem(400, "invalid-message", str(exc), [Finding("", "schema", str(exc))])
        groups, findings = self._groups(document)
        if findings:
            return problem(400, "invalid-message", "not a group table", findings)
        for uri, members in groups.items():
            self.groups[uri] = members
        return web.Response(status=204)

    def _groups(self, document: Any) -> tuple[dict[str, tuple[Member, ...]], list[Finding]]:
        listed = document.get("groups") if isinstance(document, dict) else None
        if not isinstance(listed, list):
            return {}, [Finding("/groups", "schema", "groups must be an array")]
        groups: dict[str, tuple[Member, ...]] = {}
        findings: list[Finding] = []
        for index, group in enumerate(listed):
            where = f"/groups/{index}"
            uri = group.get("uri") if isinstance(group, dict) else None
            members = group.get("members") if isinstance(group, dict) else None
            if not isinstance(uri, str) or not uri or not isinstance(members, list):
                findings.append(Finding(where, "schema", "a group has a uri and a members array"))
                continue
            kept: list[Member] = []
            for position, member in enumerate(members):
                ok = isinstance(member, dict) and isinstance(member.get("uri"), str)
                ok = ok and isinstance(member.get("url"), str) and self.permitted(member["url"])
                ok = ok and isinstance(member.get("affiliated", True), bool)
                if not ok:
                    message = "a member has a uri, a loopback http(s) url and an optional boolean affiliated"
                    findings.append(Finding(f"{where}/members/{position}", "schema", message))
                    continue
                kept.append(Member(member["uri"], member["url"], member.get("affiliated", True)))
            groups[uri] = tuple(kept)
        return groups, findings

    # -- group emergency alerts -------------------------------------------------------------

    async def receive_alert(self, request: web.Request) -> web.StreamResponse:
        content_type = request.headers.get("Content-Type", "")
        if media_type(content_type) not in (MCPTT_INFO, "multipart/mixed"):
            return _unsupported(f"{MCPTT_INFO}, multipart/mixed")
        body = await read_body(request)
        request[BODY] = body
        parts, findings = self.alert_parts(content_type, body)
        if findings:
            return problem(400, "invalid-message", f"{len(findings)} finding(s)", findings)
        alert = read_mcptt_info(parts[0])
        if alert.alert is None:
            where = "/part/1" if len(parts) > 1 or media_type(content_type) != MCPTT_INFO else ""
            finding = Finding(f"{where}/*[local-name()='mcpttinfo']", "ESN-01", "an emergency alert carries alert-ind")
            return problem(400, "invalid-message", "not an emergency alert or cancel", [finding])
        location = read_location(parts[1]) if len(parts) > 1 else None
        self.alert_received(alert, location)
        return self.acknowledge(alert)

    def alert_parts(self, content_type: str, body: bytes) -> tuple[list[bytes], list[Finding]]:
        """The mcptt-info (and location-info) of an alert, validated; findings locate ``/part/K`` when multipart."""
        if media_type(content_type) == MCPTT_INFO:
            found = validator_for(self.mcptt_format).validate(body)
            return [body], list(found.findings)
        try:
            parts = parse_multipart(content_type, body, max_parts=2)
        except MultipartError as exc:
            return [], [Finding(exc.location, str(exc.rule), exc.message)]
        wanted = (MCPTT_INFO, LOCATION_INFO)
        findings: list[Finding] = []
        for part, expected in zip(parts, wanted, strict=False):
            if part.media_type != expected:
                message = f"part {part.index} is {part.media_type}: an alert is mcptt-info, then location-info"
                findings.append(Finding(f"/part/{part.index}", "MCS-03", message))
                continue
            fmt = self.mcptt_format if expected == MCPTT_INFO else self.location_format
            found = validator_for(fmt).validate(part.content)
            findings += [Finding(f"/part/{part.index}{f.location}", f.rule, f.message) for f in found.findings]
        if not findings and len(parts) > 1 and read_location(parts[1].content).kind != "Report":
            findings.append(Finding("/part/2", "ESN-02", "the location-info of an alert is a Report"))
        return [part.content for part in parts], findings

    def alert_received(self, alert: McpttParams, location: LocationInfo | None) -> None:
        """Keep the group's emergency state: an alert (alert-ind true) opens it, a cancel closes it."""
        key = (alert.calling_user or "", alert.request_uri or alert.calling_group or "")
        self.alerts[key] = bool(alert.alert)  # past HELD, the oldest go

    def acknowledge(self, alert: McpttParams) -> web.StreamResponse:
        return web.Response(body=alert_acknowledgement(alert), status=200, headers={"Content-Type": MCPTT_INFO})

    # -- location reporting -----------------------------------------------------------------

    async def receive_location(self, request: web.Request) -> web.StreamResponse:
        if media_type(request.headers.get("Content-Type")) != LOCATION_INFO:
            return _unsupported(LOCATION_INFO)
        body = await read_body(request)
        request[BODY] = body
        found = validator_for(self.location_format).validate(body)
        if not found.valid:
            return problem(400, "invalid-message", f"{len(found.findings)} finding(s)", found.findings)
        document = read_location(body)
        reply_to, refusal = self._reply_to(request)
        if document.kind == "Configuration":
            self.configure(reply_to or "", document)
        elif document.kind == "Request":
            if refusal is not None:
                return refusal
            if reply_to is None:
                finding = Finding(f"/header/{REPLY_TO}", "ESN-03", f"a location Request names {REPLY_TO}")
                return problem(400, "invalid-message", "nowhere to send the Report", [finding])
            self._spawn(self.send_report(reply_to, document))
        else:
            self.report_received(document, body)
        return web.Response(status=202)

    def configure(self, server: str, configuration: LocationInfo) -> None:
        """Keep one configuration per location server (its reply-to), the latest one."""
        self.configurations.put_last(server, configuration.trigger_ids)  # past HELD, the oldest go

    def report(self, server: str, request: LocationInfo) -> bytes:
        """The Report answering ``request``: the triggers ``server`` configured, the gateway's own position."""
        triggers = self.configurations.get(server) or self.configurations.get("") or ()
        return location_report(triggers, self.latitude_raw, self.longitude_raw, request.request_id)

    async def send_report(self, server: str, request: LocationInfo) -> None:
        await self.post(server + LOCATION_PATH, LOCATION_INFO, self.report(server, request))

    def report_received(self, report: LocationInfo, body: bytes) -> None:
        self.reports.append(report)
        for trigger_id in report.trigger_ids:
            waiter = self._awaited_reports.get(trigger_id)
            if waiter is not None and not waiter.done():
                waiter.set_result(body)

    async def request_location(self, client: str, own_url: str, timeout_s: float = ANSWER_WITHIN_S) -> bytes | None:
        """Server side: send ``client`` a Configuration (a fresh TriggerId) then a Request, replies to ``own_url``;
        the Report carrying that TriggerId, or None when none came within ``timeout_s``."""
        trigger_id = f"trigger-{uuid.uuid4()}"
        waiter: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._awaited_reports[trigger_id] = waiter
        started = time.monotonic()
        try:
            base, reply_to = client.rstrip("/"), own_url.rstrip("/")
            for document in (location_configuration(trigger_id), location_request()):
                status = await self.post(base + LOCATION_PATH, LOCATION_INFO, document, reply_to)
                if status != 202:
                    return None
            remaining = max(0.0, timeout_s - (time.monotonic() - started))
            return await asyncio.wait_for(waiter, remaining)
        except TimeoutError:
            return None
        finally:
            self._awaited_reports.pop(trigger_id, None)
