"""The reference floor control server over the HTTP binding (specs/esn.md 1.1), exchange by exchange.

Participants are a recording reference application on loopback; each test sets up its own session through
the test hook and judges every packet the server sends with the codec's own rules. The broken variants of
tests/integration/broken_floor_servers.py each fail the exchange they break, here directly (the suite's
scenarios judge them again in test_esn_floor_honesty.py).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from harness.catalog import Catalog
from harness.endpoints import RecorderCounterpart, ReferenceServer, build_app
from harness.endpoints.esn_gateway import EsnGateway
from harness.endpoints.floor_control import FLOOR_PATH, FLOOR_SESSIONS_HOOK, FloorControl
from harness.families.esn.floor import MEDIA_TYPE, FieldId, Judgement, Packet, Source, Subtype, encode, judge
from tests.integration.broken_floor_servers import VARIANTS, broken_floor_control

A_SSRC, B_SSRC, C_SSRC = 0xA001, 0xB001, 0xC001
REQUEST_A = bytes.fromhex("80 CC 00 03 00 00 A0 01 4D 43 50 54 00 02 07 00")
REQUEST_B = bytes.fromhex("80 CC 00 03 00 00 B0 01 4D 43 50 54 00 02 07 00")
RELEASE_A = bytes.fromhex("84 CC 00 02 00 00 A0 01 4D 43 50 54")
RELEASE_A_ACK = bytes.fromhex("94 CC 00 02 00 00 A0 01 4D 43 50 54")
QUEUE_POSITION_REQUEST_B = bytes.fromhex("88 CC 00 02 00 00 B0 01 4D 43 50 54")
QUIET_S = 0.6


@dataclass
class Floor:
    """One session on a served floor control, its participants served by a recording application."""

    http: aiohttp.ClientSession
    server: str
    participants: RecorderCounterpart
    session: str
    users: dict[int, str]

    async def set_up(self, queueing: bool = False, duration_s: int = 30, priority: int = 15) -> None:
        body = {
            "participants": [
                {"user": user, "ssrc": ssrc, "url": f"{self.participants.url}/p/{ssrc}", "priority": priority}
                for ssrc, user in self.users.items()
            ],
            "queueing": queueing,
            "duration_s": duration_s,
        }
        async with self.http.put(self.server + FLOOR_SESSIONS_HOOK.format(session=self.session), json=body) as answer:
            assert answer.status == 204, await answer.text()

    async def send(self, packet: bytes, content_type: str = MEDIA_TYPE) -> tuple[int, Any]:
        url = self.server + FLOOR_PATH.format(session=self.session)
        async with self.http.post(url, data=packet, headers={"Content-Type": content_type}) as answer:
            document = await answer.json(content_type=None) if answer.status != 202 else None
            return answer.status, document

    def mark(self) -> int:
        return self.participants.mark()

    async def next_at(self, ssrc: int, since: int, within_s: float = 2.0) -> Judgement | None:
        """The first packet participant ``ssrc`` received after ``since`` (judged), or None."""
        path = f"/p/{ssrc}" + FLOOR_PATH.format(session=self.session)
        got = await self.participants.wait_for("POST", path, since, within_s)
        if got is None:
            return None
        assert got.header("Content-Type") == MEDIA_TYPE
        judgement = judge(got.body)
        assert judgement.valid and judgement.warnings == (), judgement
        return judgement

    async def all_at(self, ssrc: int, since: int, within_s: float = QUIET_S) -> list[Judgement]:
        """Every packet ``ssrc`` received after ``since`` within ``within_s``."""
        found: list[Judgement] = []
        mark = since
        path = f"/p/{ssrc}" + FLOOR_PATH.format(session=self.session)
        while True:
            got = await self.participants.recorder.wait_for(
                lambda m: m.path == path and m.method == "POST", mark, within_s
            )
            if got is None:
                return found
            found.append(judge(got.body))
            mark = got.sequence


@pytest.fixture
async def served(catalog: Catalog) -> AsyncIterator[tuple[aiohttp.ClientSession, str, RecorderCounterpart]]:
    gateway = EsnGateway(catalog)  # esn.md 1.1 is current: the gateway mounts its floor control
    assert gateway.floor is not None
    participants_app = build_app(catalog, [FloorControl()])  # plays the participants: reads what it is sent
    async with (
        ReferenceServer(build_app(catalog, [gateway])) as server,
        ReferenceServer(participants_app) as participants_url,
        aiohttp.ClientSession() as http,
    ):
        yield http, server, RecorderCounterpart(participants_app, participants_url)
        await gateway.floor.drain()  # nothing left half-sent when the servers stop


def _floor(served: tuple[aiohttp.ClientSession, str, RecorderCounterpart], *ssrcs: int) -> Floor:
    http, server, participants = served
    users = {ssrc: f"sip:user-{ssrc:x}@esn.example.police.uk" for ssrc in ssrcs or (A_SSRC, B_SSRC, C_SSRC)}
    return Floor(http, server, participants, f"floor-{uuid.uuid4()}", users)


def _subtype(judgement: Judgement | None) -> int | None:
    return None if judgement is None or judgement.packet is None else judgement.packet.subtype


async def _granted_to_a(floor: Floor) -> tuple[Judgement, Judgement]:
    since = floor.mark()
    assert (await floor.send(REQUEST_A))[0] == 202
    granted = await floor.next_at(A_SSRC, since)
    taken = [await floor.next_at(ssrc, since) for ssrc in floor.users if ssrc != A_SSRC]  # all sent: a clean mark
    assert granted is not None and taken[0] is not None and None not in taken
    return granted, taken[0]


async def test_a_request_on_an_idle_floor_is_granted_and_the_others_told(served: Any) -> None:
    floor = _floor(served)
    await floor.set_up(duration_s=45)
    granted, taken_b = await _granted_to_a(floor)
    taken_c = await floor.next_at(C_SSRC, 0)
    assert _subtype(granted) == Subtype.FLOOR_GRANTED
    assert granted.value(FieldId.DURATION) == 45 and granted.value(FieldId.FLOOR_PRIORITY) == 7
    for taken in (taken_b, taken_c):
        assert taken is not None and _subtype(taken) == Subtype.FLOOR_TAKEN
        assert taken.value(FieldId.GRANTED_PARTY_IDENTITY) == floor.users[A_SSRC]
        assert isinstance(taken.value(FieldId.MESSAGE_SEQUENCE_NUMBER), int)
    assert taken_c is not None
    ssrcs = {j.packet.ssrc for j in (granted, taken_b, taken_c) if j.packet is not None}
    assert len(ssrcs) == 1 and ssrcs.isdisjoint({A_SSRC, B_SSRC, C_SSRC}), "one server SSRC of its own"
    assert await floor.all_at(A_SSRC, floor.mark()) == [], "the holder hears nothing more"


async def test_a_request_on_a_taken_floor_without_queueing_is_denied_cause_1(served: Any) -> None:
    floor = _floor(served)
    await floor.set_up()
    await _granted_to_a(floor)
    since = floor.mark()
    assert (await floor.send(REQUEST_B))[0] == 202
    deny = await floor.next_at(B_SSRC, since)
    assert _subtype(deny) == Subtype.FLOOR_DENY and deny is not None
    assert deny.value(FieldId.REJECT_CAUSE) == (1, b"")
    assert await floor.all_at(A_SSRC, since) == [], "nothing to the holder"


async def test_release_makes_the_floor_idle_numbered_after_the_taken(served: Any) -> None:
    floor = _floor(served)
    await floor.set_up()
    _, taken = await _granted_to_a(floor)
    since = floor.mark()
    assert (await floor.send(RELEASE_A))[0] == 202
    for ssrc in (A_SSRC, B_SSRC, C_SSRC):
        idle = await floor.next_at(ssrc, since)
        assert _subtype(idle) == Subtype.FLOOR_IDLE and idle is not None
        assert idle.value(FieldId.MESSAGE_SEQUENCE_NUMBER) == (taken.value(FieldId.MESSAGE_SEQUENCE_NUMBER) + 1) % 65536


async def test_with_queueing_the_first_queued_is_granted_on_release_without_idle(served: Any) -> None:
    floor = _floor(served)
    await floor.set_up(queueing=True)
    _, taken = await _granted_to_a(floor)
    since = floor.mark()
    assert (await floor.send(REQUEST_B))[0] == 202
    first = await floor.next_at(B_SSRC, since)
    since = floor.mark()
    assert (await floor.send(QUEUE_POSITION_REQUEST_B))[0] == 202
    second = await floor.next_at(B_SSRC, since)
    for info in (first, second):
        assert _subtype(info) == Subtype.FLOOR_QUEUE_POSITION_INFO and info is not None
        assert info.value(FieldId.QUEUE_INFO) == (1, 7)
    since = floor.mark()
    assert (await floor.send(RELEASE_A))[0] == 202
    at_b, at_a = await floor.all_at(B_SSRC, since), await floor.all_at(A_SSRC, since)
    assert [_subtype(j) for j in at_b] == [Subtype.FLOOR_GRANTED]
    assert [_subtype(j) for j in at_a] == [Subtype.FLOOR_TAKEN]
    assert at_a[0].value(FieldId.GRANTED_PARTY_IDENTITY) == floor.users[B_SSRC]
    assert at_a[0].value(FieldId.MESSAGE_SEQUENCE_NUMBER) == taken.value(FieldId.MESSAGE_SEQUENCE_NUMBER) + 1


async def test_x_is_acknowledged_before_the_floor_goes_idle(served: Any) -> None:
    floor = _floor(served)
    await floor.set_up()
    await _granted_to_a(floor)
    since = floor.mark()
    assert (await floor.send(RELEASE_A_ACK))[0] == 202
    at_a = await floor.all_at(A_SSRC, since)
    assert [_subtype(j) for j in at_a] == [Subtype.FLOOR_ACK, Subtype.FLOOR_IDLE]
    assert at_a[0].value(FieldId.SOURCE) == Source.CONTROLLING_FUNCTION and at_a[0].value(FieldId.MESSAGE_TYPE) == 0x14


async def test_the_holder_is_revoked_when_its_duration_is_up(served: Any) -> None:
    floor = _floor(served)
    await floor.set_up(duration_s=1)
    since = floor.mark()
    await _granted_to_a(floor)
    packets = await floor.all_at(A_SSRC, since, within_s=2.5)
    assert [_subtype(j) for j in packets] == [Subtype.FLOOR_GRANTED, Subtype.FLOOR_REVOKE]
    assert packets[1].value(FieldId.REJECT_CAUSE) == (2, b"")


async def test_a_release_in_time_stops_the_revoke_timer(served: Any) -> None:
    floor = _floor(served)
    await floor.set_up(duration_s=1)
    await _granted_to_a(floor)
    since = floor.mark()
    assert (await floor.send(RELEASE_A))[0] == 202
    packets = await floor.all_at(A_SSRC, since, within_s=1.6)
    assert [_subtype(j) for j in packets] == [Subtype.FLOOR_IDLE]


async def test_unknowns_change_nothing(served: Any) -> None:
    floor = _floor(served)
    await floor.set_up()
    since = floor.mark()
    subtype_12 = bytes.fromhex("8C CC 00 02 00 00 A0 01 4D 43 50 54")
    stranger = encode(Packet(Subtype.FLOOR_REQUEST, 0xDEAD))
    for packet in (subtype_12, stranger):
        assert (await floor.send(packet))[0] == 202
    assert await floor.all_at(A_SSRC, since) == [] and await floor.all_at(B_SSRC, since) == []
    extra_99 = bytes.fromhex("80 CC 00 04 00 00 A0 01 4D 43 50 54 00 02 07 00 63 02 00 01")
    legacy_102 = bytes.fromhex("80 CC 00 03 00 00 A0 01 4D 43 50 54 66 02 07 00")
    for packet, priority in ((extra_99, 7), (legacy_102, 0)):
        floor = _floor(served)
        await floor.set_up()
        since = floor.mark()
        assert (await floor.send(packet))[0] == 202
        granted = await floor.next_at(A_SSRC, since)
        assert _subtype(granted) == Subtype.FLOOR_GRANTED and granted is not None
        assert granted.value(FieldId.FLOOR_PRIORITY) == priority
        for other in (B_SSRC, C_SSRC):  # everything sent before the test ends
            assert _subtype(await floor.next_at(other, since)) == Subtype.FLOOR_TAKEN


@pytest.mark.parametrize(
    ("packet", "rule", "location"),
    [
        ("80 CC 00 03 00 00 A0 01 4D 43 50 54 00 06 07 00", "FLR-01", "/octet/13"),
        ("80 CC 00 04 00 00 A0 01 4D 43 50 54 00 02 07 00", "FLR-02", "/octet/2"),
        ("80 CC 00 03 00 00 A0 01 4D 43 50 58 00 02 07 00", "FLR-03", "/octet/8"),
        ("80 CD 00 03 00 00 A0 01 4D 43 50 54 00 02 07 00", "FLR-03", "/octet/1"),
        ("40 CC 00 03 00 00 A0 01 4D 43 50 54 00 02 07 00", "FLR-03", "/octet/0"),
    ],
)
async def test_unreadable_packets_are_refused_located(served: Any, packet: str, rule: str, location: str) -> None:
    floor = _floor(served)
    await floor.set_up()
    status, problem = await floor.send(bytes.fromhex(packet))
    assert status == 400 and problem["type"].endswith("/invalid-message")
    assert [(e["rule"], e["location"]) for e in problem["errors"]] == [(rule, location)]


async def test_refusals_of_the_binding_and_the_hook(served: Any) -> None:
    floor = _floor(served)
    status, problem = await floor.send(REQUEST_A)
    assert status == 404 and problem["type"].endswith("/not-found")
    await floor.set_up()
    status, problem = await floor.send(REQUEST_A, "application/octet-stream")
    assert status == 415 and problem["type"].endswith("/unsupported-media-type")
    hook = floor.server + FLOOR_SESSIONS_HOOK.format(session="s")
    bad: list[tuple[Any, str]] = [
        ({"participants": [{"user": "sip:a@x", "ssrc": 1, "url": "http://192.0.2.1"}]}, "/participants/0"),
        ({"participants": [{"user": "sip:a@x", "ssrc": -1, "url": floor.participants.url}]}, "/participants/0"),
        ({"participants": [], "duration_s": 30}, "/participants"),
        (
            {"participants": [{"user": "sip:a@x", "ssrc": 1, "url": floor.participants.url}], "duration_s": 0},
            "/duration_s",
        ),
        ({"participants": [{"user": "sip:a@x", "ssrc": 1, "url": floor.participants.url}], "extra": 1}, "/extra"),
    ]
    for body, pointer in bad:
        async with floor.http.put(hook, json=body) as answer:
            assert answer.status == 400
            assert pointer in [e["location"] for e in (await answer.json(content_type=None))["errors"]]


# --------------------------------------------------------------------------- the broken variants, directly


@pytest.fixture
async def broken(catalog: Catalog, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    gateway = EsnGateway(catalog)
    floor = gateway.floor = broken_floor_control(request.param, gateway.permitted)
    participants_app = build_app(catalog, [FloorControl()])  # plays the participants: reads what it is sent
    async with (
        ReferenceServer(build_app(catalog, [gateway])) as server,
        ReferenceServer(participants_app) as participants_url,
        aiohttp.ClientSession() as http,
    ):
        yield http, server, RecorderCounterpart(participants_app, participants_url)
        await floor.drain()


async def _what_goes_wrong(floor: Floor, variant: str) -> str:
    """What the exchange the variant breaks shows: the reference's answer for it, or what the variant did."""
    await floor.set_up(queueing=variant == "idle-between-queued-grants")
    if variant == "legacy-ids-decoded":
        since = floor.mark()
        await floor.send(bytes.fromhex("80 CC 00 03 00 00 A0 01 4D 43 50 54 66 02 07 00"))
        granted = await floor.next_at(A_SSRC, since)
        return f"priority {granted.value(FieldId.FLOOR_PRIORITY) if granted else None}"
    since = floor.mark()
    await floor.send(REQUEST_A)
    if variant == "grant-without-taken":
        return f"at B {[_subtype(j) for j in await floor.all_at(B_SSRC, since)]}"
    taken = await floor.next_at(B_SSRC, since)
    assert taken is not None
    since = floor.mark()
    if variant == "deny-wrong-cause":
        await floor.send(REQUEST_B)
        deny = await floor.next_at(B_SSRC, since)
        return f"cause {deny.value(FieldId.REJECT_CAUSE) if deny else None}"
    if variant == "idle-wrong-sequence":
        await floor.send(RELEASE_A)
        idle = await floor.next_at(B_SSRC, since)
        sequence = idle.value(FieldId.MESSAGE_SEQUENCE_NUMBER) if idle else None
        return f"step {None if sequence is None else sequence - taken.value(FieldId.MESSAGE_SEQUENCE_NUMBER)}"
    if variant == "no-floor-ack":
        await floor.send(RELEASE_A_ACK)
        return f"at A {[_subtype(j) for j in await floor.all_at(A_SSRC, since)]}"
    await floor.send(REQUEST_B)
    await floor.next_at(B_SSRC, since)
    since = floor.mark()
    await floor.send(RELEASE_A)
    return f"at B {[_subtype(j) for j in await floor.all_at(B_SSRC, since)]}"


REFERENCE_SHOWS = {
    "grant-without-taken": f"at B {[int(Subtype.FLOOR_TAKEN)]}",
    "idle-wrong-sequence": "step 1",
    "deny-wrong-cause": "cause (1, b'')",
    "no-floor-ack": f"at A {[int(Subtype.FLOOR_ACK), int(Subtype.FLOOR_IDLE)]}",
    "idle-between-queued-grants": f"at B {[int(Subtype.FLOOR_GRANTED)]}",
    "legacy-ids-decoded": "priority 0",
}


def test_every_variant_is_listed() -> None:
    assert set(REFERENCE_SHOWS) == set(VARIANTS)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
async def test_the_reference_does_what_each_variant_breaks(served: Any, variant: str) -> None:
    assert await _what_goes_wrong(_floor(served), variant) == REFERENCE_SHOWS[variant]


@pytest.mark.parametrize("broken", sorted(VARIANTS), indirect=True)
async def test_each_variant_breaks_its_exchange(broken: Any, request: pytest.FixtureRequest) -> None:
    variant = request.node.callspec.params["broken"]
    shown = await _what_goes_wrong(_floor(broken), variant)
    assert shown != REFERENCE_SHOWS[variant], variant
