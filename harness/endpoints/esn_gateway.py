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

Playing esn.md 1.1 (the default; ``--profile esn=1.0`` plays 1.0 exactly as before):

- every SDS or FD message the gateway sends or relays is recorded, and a notification posted to it is
  judged against that record (DSP-01..07, :mod:`harness.endpoints.correlation`): ``404`` uncorrelated,
  ``409`` refused, ``202`` accepted;
- ``POST /netcode/v1/esn/fd``: an FD message (mcdata-info + FD signalling), answered ``202``; as the FD
  receiver the gateway then sends FD NOTIFICATION 1, fetches the file, and sends 3 when ``91`` asked for it
  (``A1``), or waits for the test hook's ``fd-respond`` (no ``A1``);
- the content server (:mod:`harness.endpoints.files`): ``POST /netcode/v1/esn/files``,
  ``GET /netcode/v1/esn/files/{id}`` (and ``/files/{id}``);
- trigger actions for ``POST /netcode/v1/_test/trigger``: ``send-sds``, ``send-fd``, ``fd-respond``
  (:meth:`EsnGateway.actions`).

What arrives below a base path (``/{base}/netcode/v1/esn/...``, a reply-to or a member's address) is a
mailbox: validated, recorded, answered ``202``, and neither answered with notifications nor correlated (the
party the mailbox belongs to answers: the harness, when the gateway is its counterpart).

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
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from harness.catalog import Catalog
from harness.codecs.multipart import MultipartError, parse_multipart
from harness.endpoints.common import BODY, LOG, problem, read_body, read_json
from harness.endpoints.correlation import ORIGINALS, Correlator, Judgement
from harness.endpoints.files import FILES_PATH, FileServer
from harness.endpoints.floor_control import FloorControl, plays_floor_control
from harness.endpoints.store import JSON, Codec, Store, Stores, stores
from harness.families.esn.body import MCDATA_SIGNALLING, Sds, build_fd, build_sds, parse_fd, parse_sds
from harness.families.esn.fd import read_metadata
from harness.families.esn.mcdata import (
    CodecError,
    DataPayload,
    Disposition,
    FdNetworkNotification,
    FdNotification,
    FdNotificationType,
    FdSignalling,
    FileUrl,
    NotificationType,
    SdsNotification,
    SdsSignalling,
    Text,
    decode,
    decode_located,
    encode,
    table_version,
)
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
from harness.validation.validator import Validation, validator_for

__all__ = ["FD_PATH", "REPLY_TO", "EsnGateway", "Member", "PendingFd"]

FD_PATH = "/netcode/v1/esn/fd"
"""Where FD messages and FD notifications are posted (esn.md 1.1, "HTTP binding (profile)")."""

REPLY_TO = "Netcode-Reply-To"
ANSWER_WITHIN_S = 5.0
"""The spec's bound for notifications and reports; also each outgoing request's time-out."""
MAX_PENDING = 256
"""Outgoing messages in flight at most; past it, further ones are dropped (and logged)."""
HELD = 10_000
"""Groups, emergency states, location configurations and correlation records held at most (oldest go first)."""
PENDING_FDS = 1000
"""FD messages awaiting the user's decision (``fd-respond``) held at most."""
MAX_FILE = 16 << 20
"""The largest file the gateway fetches as an FD receiver."""
DISPOSITIONS = {
    "none": None,
    "delivery": Disposition.DELIVERY,
    "read": Disposition.READ,
    "delivery-and-read": Disposition.DELIVERY_AND_READ,
}
"""``send-sds``'s ``disposition`` parameter."""


RECIPIENT = "sip:harness@esn.example.police.uk"
"""Whom the SDS and FD messages the test hooks make the gateway send are addressed to."""
CALLING_USER = "sip:reference-gateway@esn.example.police.uk"
"""The gateway's own MCData ID as a sender."""


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


@dataclass(slots=True, frozen=True)
class PendingFd:
    """An FD message received without ``A1``: what the user's decision (``fd-respond``) answers."""

    info: McdataParams
    fd: FdSignalling
    reply_to: str | None


def _uuid(value: Any) -> uuid.UUID:
    return uuid.uuid4() if value is None else uuid.UUID(str(value))


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
        self.fd_format = catalog.format("mcdata-fd/1.0")
        self.version = table_version(self.sds_format.rules_version)
        self.hooks = hooks
        self.reply_hosts = frozenset(host.lower() for host in reply_hosts)
        held = shared if shared is not None else stores()
        self.correlator = Correlator(held.store("esn-gateway/originals", HELD, ORIGINALS))
        self.files = FileServer()
        self.pending: collections.OrderedDict[tuple[str, str], PendingFd] = collections.OrderedDict()
        self.judged: collections.deque[Judgement] = collections.deque(maxlen=1000)
        self.fetched: collections.deque[tuple[str, int | str]] = collections.deque(maxlen=1000)
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
        if self.plays_1_1:
            routes += [web.post(FD_PATH, self.receive_fd), web.post("/{base:.+}" + FD_PATH, self.receive_fd)]
            routes += self.files.routes()
        if self.hooks:
            routes.append(web.put(GROUPS_HOOK, self.load_groups))
        return routes + (self.floor.routes() if self.floor is not None else [])

    @property
    def plays_1_1(self) -> bool:
        """Whether the gateway plays esn.md 1.1 (correlation, FD, content server) rather than 1.0."""
        return self.version != "1.0"

    def reset(self) -> None:
        for store in (self.groups, self.alerts, self.configurations, self.notifications, self.reports, self.sent):
            store.clear()
        if self.floor is not None:
            self.floor.reset()
        for held in (self.pending, self.judged, self.fetched):
            held.clear()
        self.correlator.clear()
        self.files.reset()

    @staticmethod
    def mailbox(request: web.Request) -> bool:
        """Whether ``request`` arrived below a base path: a mailbox, not the gateway's own address."""
        return "base" in request.match_info

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

    async def _valid_body(
        self, request: web.Request, validate: Callable[[str, bytes], Validation]
    ) -> tuple[str, bytes] | web.StreamResponse:
        """The multipart body of an SDS or FD post (kept for the recorder) when ``validate`` accepts it; else the
        answer that refuses it: 415 for another media type, 400 with every finding."""
        content_type = request.headers.get("Content-Type", "")
        if media_type(content_type) != "multipart/mixed":
            return _unsupported("multipart/mixed")
        body = await read_body(request)
        request[BODY] = body
        validation = validate(content_type, body)
        if not validation.valid:
            return problem(400, "invalid-message", f"{len(validation.findings)} finding(s)", validation.findings)
        return content_type, body

    async def receive_sds(self, request: web.Request) -> web.StreamResponse:
        accepted = await self._valid_body(request, self.validate_sds)
        if isinstance(accepted, web.StreamResponse):
            return accepted
        content_type, body = accepted
        try:
            sds = self.parse(content_type, body)
            message = decode(sds.signalling)
        except (MultipartError, CodecError) as exc:  # only a variant that validates less gets here
            return self.undecodable(exc)
        info = read_mcdata_info(sds.info)
        if isinstance(message, SdsNotification):
            self.notification_received(info, message)
            if not self.plays_1_1 or self.mailbox(request):
                return web.Response(status=202)
            return self.answer(self.correlate(sds, message))
        if not isinstance(message, SdsSignalling):
            return problem(400, "invalid-message", "not an SDS", [Finding("/part/2/octet/0", "MCD-11", "not an SDS")])
        if self.plays_1_1 and self.mailbox(request):
            return web.Response(status=202)  # the mailbox's owner answers
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
        content_type, body = notification_sds(info, sds, kind)
        if not self.plays_1_1:
            return content_type, body
        signalling = encode(SdsNotification.echoing(sds, kind, int(time.time())))  # 1.1: both application ids
        return build_sds(parse_sds(content_type, body).info, signalling)

    # -- correlation (1.1) --------------------------------------------------------------------

    def correlate(self, body: Sds, notification: SdsNotification | FdNotification) -> Judgement:
        """Judge a notification posted to the gateway against what it sent or relayed (DSP-01..07)."""
        part = body.part(MCDATA_SIGNALLING)
        index = part.index if part is not None else 2
        try:
            located = decode_located(body.signalling, self.version)
            offsets = {name: offset for name, offset in reversed(located.fields)}
        except CodecError:
            offsets = {}
        judgement = self.correlator.judge(notification, body.signalling, index, offsets)
        self.judged.append(judgement)
        return judgement

    def answer(self, judgement: Judgement) -> web.StreamResponse:
        """The HTTP answer to a judged notification: ``202``, ``404`` ``/not-found``, ``409`` ``/conflict``."""
        if judgement.status == 202:
            return web.Response(status=202)
        kind = "not-found" if judgement.status == 404 else "conflict"
        detail = "; ".join(f"{f.rule}: {f.message}" for f in judgement.errors)
        return problem(judgement.status, kind, detail, judgement.errors, warnings=judgement.warnings)

    def keep(self, message: SdsSignalling | FdSignalling) -> None:
        """Record an SDS or FD message the gateway sends or relays, for the notifications that answer it."""
        if self.plays_1_1:
            self.correlator.keep(message)

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
        members = self.members(info.request_uri)
        if members:
            try:
                relayed = decode(sds.signalling, self.version)
            except CodecError:
                relayed = None
            if isinstance(relayed, (SdsSignalling, FdSignalling)):
                self.keep(relayed)
        for member in members:
            content_type, body = self.relayed(info, member, sds)
            self._spawn(self._deliver(member.url.rstrip("/") + SDS_PATH, content_type, body, reply_to))

    async def _deliver(self, url: str, content_type: str, body: bytes, reply_to: str | None) -> None:
        await self.post(url, content_type, body, reply_to)

    async def load_groups(self, request: web.Request) -> web.StreamResponse:
        """``{"groups": [{"uri": G, "members": [{"uri": U, "url": BASE, "affiliated": true}]}]}``: each group
        listed is replaced, the others are kept."""
        document, refused = await read_json(request, limit=256 * 1024)
        if refused is not None:
            return refused
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

    # -- file distribution (1.1) --------------------------------------------------------------

    async def receive_fd(self, request: web.Request) -> web.StreamResponse:
        accepted = await self._valid_body(request, self.validate_fd)
        if isinstance(accepted, web.StreamResponse):
            return accepted
        content_type, body = accepted
        try:
            fd = parse_fd(content_type, body)
            message = decode(fd.signalling, self.version)
        except (MultipartError, CodecError) as exc:  # only a variant that validates less gets here
            return self.undecodable(exc)
        info = read_mcdata_info(fd.info)
        if isinstance(message, FdNotification):
            if self.mailbox(request):
                return web.Response(status=202)
            return self.answer(self.correlate(fd, message))
        if isinstance(message, FdNetworkNotification) or self.mailbox(request):
            return web.Response(status=202)  # no exchange certified for the former; the mailbox's owner answers
        if not isinstance(message, FdSignalling):
            finding = Finding("/part/2/octet/0", "MCD-11", "not an FD message")
            return problem(400, "invalid-message", "not an FD message", [finding])
        reply_to, refusal = self._reply_to(request)
        if refusal is not None:
            return refusal
        if info.request_type == "group-fd":
            self.relay_fd_to_group(info, fd, message, reply_to)
        else:
            self.fd_received(info, message, reply_to)
        return web.Response(status=202)

    def validate_fd(self, content_type: str, body: bytes) -> Validation:
        return sds_validator(self.fd_format).validate(content_type, body)

    def relay_fd_to_group(self, info: McdataParams, fd: Sds, message: FdSignalling, reply_to: str | None) -> None:
        """A group FD goes to every affiliated member as it came (signalling octets unchanged; not certified)."""
        members = self.members(info.request_uri)
        if members:
            self.keep(message)
        for member in members:
            params = McdataParams("group-fd", member.uri, info.calling_user, info.request_uri)
            content_type, body = build_fd(mcdata_info(params), fd.signalling)
            self._spawn(self._deliver(member.url.rstrip("/") + FD_PATH, content_type, body, reply_to))

    def fd_received(self, info: McdataParams, fd: FdSignalling, reply_to: str | None) -> None:
        """As the FD receiver: a mandatory download is accepted at once; otherwise the user decides later."""
        if fd.mandatory_download:
            self._spawn(self.respond_fd(PendingFd(info, fd, reply_to), "accept"))
            return
        self.pending[(str(fd.conversation_id), str(fd.message_id))] = PendingFd(info, fd, reply_to)
        while len(self.pending) > PENDING_FDS:
            self.pending.popitem(last=False)

    async def respond_fd(self, pending: PendingFd, answer: str) -> None:
        """The user's decision on an FD: accept (1, the download, 3 when ``91``), reject (2) or defer (4)."""
        if answer == "reject":
            await self.send_fd_notification(pending, FdNotificationType.REJECTED)
        elif answer == "defer":
            await self.send_fd_notification(pending, FdNotificationType.DEFERRED)
        else:
            await self.send_fd_notification(pending, FdNotificationType.ACCEPTED)
            fetched = await self.fetch(pending.fd)
            if fetched and pending.fd.completion_requested:
                await self.send_fd_notification(pending, FdNotificationType.COMPLETED)

    def fd_notification(self, pending: PendingFd, kind: FdNotificationType) -> tuple[str, bytes]:
        """``(Content-Type, body)`` of the FD NOTIFICATION answering ``pending``: back to its sender, its ids and
        application ids echoed, dated now."""
        original = pending.info
        params = McdataParams(
            request_type="one-to-one-fd",
            request_uri=original.calling_user or original.request_uri,
            calling_user=original.request_uri,
        )
        signalling = encode(FdNotification.answering(pending.fd, kind, int(time.time())))
        return build_fd(mcdata_info(params), signalling)

    async def send_fd_notification(self, pending: PendingFd, kind: FdNotificationType) -> None:
        if pending.reply_to is None:
            return
        content_type, body = self.fd_notification(pending, kind)
        await self.post(pending.reply_to + FD_PATH, content_type, body)

    async def fetch(self, fd: FdSignalling) -> bool:
        """GET the file an FD offers; whether it came whole (``200``, the metadata's ``size`` when it has one).
        Only from hosts the gateway may send to (loopback, or ``reply_hosts``)."""
        url = (fd.file_url or b"").decode("ascii", "replace")
        if not self.permitted(url):
            self.fetched.append((url, "not fetched: not a permitted host"))
            return False
        size = read_metadata(fd.metadata)[0].size if fd.metadata is not None else None
        try:
            timeout = aiohttp.ClientTimeout(total=ANSWER_WITHIN_S)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(url, allow_redirects=False) as got,
            ):
                content = await got.content.read(MAX_FILE + 1)
                status = got.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            LOG.warning("ESN gateway: fetching %s failed: %s", url, exc)
            self.fetched.append((url, str(exc) or type(exc).__name__))
            return False
        self.fetched.append((url, status))
        return status == 200 and len(content) <= MAX_FILE and (size is None or size == len(content))

    # -- trigger actions (test hooks) ---------------------------------------------------------

    def actions(self) -> dict[str, Callable[[str, dict[str, Any], web.Request], Awaitable[web.StreamResponse]]]:
        """The ``POST /netcode/v1/_test/trigger`` actions the gateway performs (1.1 only)."""
        if not self.plays_1_1:
            return {}
        return {"send-sds": self.trigger_sds, "send-fd": self.trigger_fd, "fd-respond": self.trigger_fd_respond}

    @staticmethod
    def own_base(request: web.Request) -> str:
        """The gateway's base URL as the hook request reached it: where answers to what it sends go."""
        return f"{request.scheme}://{request.host}"

    def triggered_sds(self, params: dict[str, Any]) -> tuple[McdataParams, SdsSignalling, bytes]:
        """The SDS ``send-sds`` sends: the disposition asked for, the ids given (else fresh), a text payload."""
        signalling = SdsSignalling(
            int(time.time()),
            _uuid(params.get("conversation_id")),
            _uuid(params.get("message_id")),
            application_id=int(params["application_id"]) if params.get("application_id") is not None else None,
            disposition=DISPOSITIONS[str(params.get("disposition", "delivery-and-read"))],
        )
        info = McdataParams("one-to-one-sds", str(params.get("recipient", RECIPIENT)), CALLING_USER)
        return info, signalling, encode(DataPayload((Text(str(params.get("text", "reference SDS"))),)))

    async def trigger_sds(self, to: str, params: dict[str, Any], request: web.Request) -> web.StreamResponse:
        try:
            info, signalling, payload = self.triggered_sds(params)
            encoded = encode(signalling)
        except (KeyError, ValueError, TypeError, CodecError) as exc:
            finding = Finding("/params", "schema", f"send-sds: {exc}")
            return problem(400, "invalid-message", "bad send-sds parameters", [finding])
        self.keep(signalling)
        content_type, body = build_sds(mcdata_info(info), encoded, payload)
        self._spawn(self._deliver(to.rstrip("/") + SDS_PATH, content_type, body, self.own_base(request)))
        return web.Response(status=202)

    def offered_file(self, params: dict[str, Any]) -> tuple[bytes, str, str]:
        """The file ``send-fd`` offers: ``(octets, media type, name)`` (a trailing ``20 0A`` is data)."""
        return b"reference file for esn-core@1.1 \n", "text/plain", "reference.txt"

    def triggered_fd(self, params: dict[str, Any], base: str) -> tuple[McdataParams, FdSignalling]:
        """The FD ``send-fd`` sends: the file put on the gateway's content server, its URL and metadata."""
        content, content_type, name = self.offered_file(params)
        file_id = self.files.add(content, content_type)
        url = f"{base}{FILES_PATH}/{file_id}".encode()
        metadata = f'file-selector:name:"{name}" size:{len(content)} type:{content_type}'.encode()
        fd = FdSignalling(
            int(time.time()),
            _uuid(params.get("conversation_id")),
            _uuid(params.get("message_id")),
            completion_requested=bool(params.get("completion", True)),
            mandatory_download=bool(params.get("mandatory", True)),
            payloads=(FileUrl(url),),
            metadata=metadata,
        )
        return McdataParams("one-to-one-fd", str(params.get("recipient", RECIPIENT)), CALLING_USER), fd

    async def trigger_fd(self, to: str, params: dict[str, Any], request: web.Request) -> web.StreamResponse:
        base = self.own_base(request)
        try:
            info, fd = self.triggered_fd(params, base)
            encoded = encode(fd)
        except (ValueError, TypeError, CodecError) as exc:
            finding = Finding("/params", "schema", f"send-fd: {exc}")
            return problem(400, "invalid-message", "bad send-fd parameters", [finding])
        self.keep(fd)
        content_type, body = build_fd(mcdata_info(info), encoded)
        self._spawn(self._deliver(to.rstrip("/") + FD_PATH, content_type, body, base))
        return web.Response(status=202)

    async def trigger_fd_respond(self, to: str, params: dict[str, Any], request: web.Request) -> web.StreamResponse:
        answer = params.get("answer")
        key = (str(params.get("conversation_id")), str(params.get("message_id")))
        if answer not in ("accept", "reject", "defer"):
            finding = Finding("/params/answer", "schema", "answer is accept, reject or defer")
            return problem(400, "invalid-message", "bad fd-respond parameters", [finding])
        pending = self.pending.get(key)
        if pending is None:
            return problem(404, "not-found", "no FD awaiting a decision has these ids")
        if answer != "defer":
            del self.pending[key]
        self._spawn(self.respond_fd(pending, str(answer)))
        return web.Response(status=202)

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
