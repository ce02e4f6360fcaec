"""The correlation of disposition notifications (DSP-01..07) rule by rule, its bounds, and the gateway's
content server and FD receiver on the wire (esn.md 1.1)."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from harness.catalog import Catalog
from harness.endpoints import RECORDER, ReferenceServer, build_app, default_roles
from harness.endpoints.correlation import KEEP_S, ORIGINALS, Correlator, Original
from harness.endpoints.esn_gateway import FD_PATH, EsnGateway
from harness.endpoints.sip_gateway import SipServer
from harness.endpoints.store import MemoryStore, SqliteStores, create_database
from harness.families.esn.body import build_fd, build_sds, parse_fd
from harness.families.esn.mcdata import (
    Disposition,
    FdNotification,
    FdNotificationType,
    FdSignalling,
    FileUrl,
    NotificationType,
    SdsNotification,
    SdsSignalling,
    decode,
    encode,
)
from harness.families.esn.messages import McdataParams, mcdata_info
from harness.protocols.sip import SipMessage

T0 = 1_790_775_600.0


def _sds(disposition: Disposition | None, application_id: int | None = None) -> SdsSignalling:
    return SdsSignalling(int(T0), uuid.uuid4(), uuid.uuid4(), application_id=application_id, disposition=disposition)


def _answer(sds: SdsSignalling, kind: int, date: int | None = None) -> tuple[SdsNotification, bytes]:
    notification = SdsNotification.echoing(sds, NotificationType(kind), int(T0) + 1 if date is None else date)
    return notification, encode(notification)


def _rules(correlator: Correlator, notification: SdsNotification | FdNotification, octets: bytes) -> list[str]:
    judged = correlator.judge(notification, octets, now=T0 + 2)
    return [f.rule for f in judged.errors] or [str(judged.status)]


def test_each_sds_rule() -> None:
    correlator = Correlator(MemoryStore(100))
    stray, octets = _answer(_sds(Disposition.DELIVERY), 2)
    assert _rules(correlator, stray, octets) == ["DSP-01"]
    assert correlator.judge(stray, octets, now=T0).errors[0].location == "/part/2/octet/7"

    delivery = _sds(Disposition.DELIVERY)
    correlator.keep(delivery, now=T0)
    assert _rules(correlator, *_answer(delivery, 3)) == ["DSP-02"]
    assert _rules(correlator, *_answer(delivery, 2)) == ["202"]
    assert _rules(correlator, *_answer(delivery, 2)) == ["202"]  # identical octets: the first answer again
    assert _rules(correlator, *_answer(delivery, 2, int(T0) + 9)) == ["DSP-04"]

    both = _sds(Disposition.DELIVERY_AND_READ)
    correlator.keep(both, now=T0)
    assert _rules(correlator, *_answer(both, 3)) == ["DSP-03"]
    assert _rules(correlator, *_answer(both, 4)) == ["202"]
    assert _rules(correlator, *_answer(both, 2)) == ["DSP-03"]

    nothing = _sds(None)
    correlator.keep(nothing, now=T0)
    assert _rules(correlator, *_answer(nothing, 5)) == ["DSP-02"]
    assert _rules(correlator, *_answer(nothing, 1)) == ["202"]  # UNDELIVERED answers any SDS

    with_id = _sds(Disposition.DELIVERY, application_id=7)
    correlator.keep(with_id, now=T0)
    forged = SdsNotification(NotificationType.DELIVERED, int(T0) + 1, with_id.conversation_id, with_id.message_id, 8)
    judged = correlator.judge(forged, encode(forged), offsets={"application_id": 39}, now=T0 + 2)
    assert [(f.rule, f.location) for f in judged.errors] == [("DSP-05", "/part/2/octet/39")]


def test_warnings_never_refuse() -> None:
    correlator = Correlator(MemoryStore(100))
    sds = _sds(Disposition.DELIVERY)
    correlator.keep(sds, now=T0)
    judged = correlator.judge(*_answer(sds, 2, int(T0) - 60), now=T0)
    assert judged.status == 202 and [f.rule for f in judged.warnings] == ["DSP-06"]
    judged = correlator.judge(*_answer(sds, 5), now=T0)
    assert judged.status == 202 and [f.rule for f in judged.warnings] == ["DSP-07"]


def test_each_fd_rule() -> None:
    correlator = Correlator(MemoryStore(100))
    fd = FdSignalling(int(T0), uuid.uuid4(), uuid.uuid4(), mandatory_download=True, payloads=(FileUrl(b"http://x/"),))
    correlator.keep(fd, now=T0)

    def answer(kind: FdNotificationType) -> list[str]:
        notification = FdNotification.answering(fd, kind, int(T0) + 1)
        return _rules(correlator, notification, encode(notification))

    assert answer(FdNotificationType.COMPLETED) == ["DSP-02", "DSP-03"]  # no 91, and before 1
    assert answer(FdNotificationType.REJECTED) == ["DSP-02"]  # mandatory download
    assert answer(FdNotificationType.ACCEPTED) == ["202"]
    sds_kind = SdsNotification(NotificationType.DELIVERED, int(T0), fd.conversation_id, fd.message_id)
    assert _rules(correlator, sds_kind, encode(sds_kind)) == ["DSP-01"]  # an SDS notification answers no FD

    optional = FdSignalling(int(T0), uuid.uuid4(), uuid.uuid4(), completion_requested=True)
    correlator.keep(optional, now=T0)
    completed = FdNotification.answering(optional, FdNotificationType.COMPLETED, int(T0) + 1)
    assert _rules(correlator, completed, encode(completed)) == ["DSP-03"]  # 3 before 1
    rejected = FdNotification.answering(optional, FdNotificationType.REJECTED, int(T0) + 1)
    assert _rules(correlator, rejected, encode(rejected)) == ["202"]
    accepted = FdNotification.answering(optional, FdNotificationType.ACCEPTED, int(T0) + 1)
    assert _rules(correlator, accepted, encode(accepted)) == ["DSP-03"]  # nothing after 2


def test_memory_is_bounded_in_count_and_time() -> None:
    correlator = Correlator(MemoryStore(50))
    kept = [_sds(Disposition.DELIVERY) for _ in range(200)]
    for sds in kept:
        correlator.keep(sds, now=T0)
    assert len(correlator.store) == 50
    assert correlator.find(_answer(kept[0], 2)[0], now=T0) is None  # the oldest went first
    assert correlator.find(_answer(kept[-1], 2)[0], now=T0) is not None
    assert correlator.find(_answer(kept[-1], 2)[0], now=T0 + KEEP_S + 1) is None  # older than 10 minutes
    late = _sds(Disposition.DELIVERY)
    correlator.keep(late, now=T0 + KEEP_S + 1)  # keeping drops the expired ones
    assert len(correlator.store) < 50


def test_records_are_shared_between_processes(tmp_path: Path) -> None:
    create_database(tmp_path / "state.db")
    first, second = SqliteStores(tmp_path / "state.db"), SqliteStores(tmp_path / "state.db")  # two processes' views
    sds = _sds(Disposition.DELIVERY_AND_READ, application_id=3)
    Correlator(first.store("esn-gateway/originals", 10, ORIGINALS)).keep(sds, now=T0)
    other = Correlator(second.store("esn-gateway/originals", 10, ORIGINALS))
    held = other.find(_answer(sds, 4)[0], now=T0)
    assert isinstance(held, Original) and held.disposition == 3 and held.application_id == 3
    assert other.judge(*_answer(sds, 4), now=T0 + 2).status == 202
    assert other.judge(*_answer(sds, 2), now=T0 + 2).status == 409
    first.close()
    second.close()


async def test_content_server_and_fd_receiver_on_the_wire(catalog: Catalog) -> None:
    """The gateway stores an upload and serves it back exactly; as an FD receiver of a mandatory FD with 91 it
    sends 1, fetches the file, then sends 3, to the FD's reply-to, each answering the FD."""
    gateway = EsnGateway(catalog)
    app = build_app(catalog, [gateway])
    async with ReferenceServer(app) as url, aiohttp.ClientSession() as session:
        octets = b"upload \x00\xff ends with 20 0A \n"
        async with session.post(url + "/netcode/v1/esn/files", data=octets, headers={"Content-Type": "x/y"}) as up:
            assert up.status == 201
            location = up.headers["Location"]
        assert location.startswith(url + "/netcode/v1/esn/files/")
        async with session.get(location.replace("/netcode/v1/esn/files/", "/files/")) as short:
            assert (short.status, await short.read()) == (200, octets)  # where the outline has the harness serve
        async with session.get(location) as down:
            assert (down.status, await down.read(), down.headers["Content-Type"]) == (200, octets, "x/y")
        async with session.get(url + f"/files/{uuid.uuid4()}") as missing:
            assert missing.status == 404 and missing.headers["Content-Type"] == "application/problem+json"

        fd = FdSignalling(
            int(T0),
            uuid.uuid4(),
            uuid.uuid4(),
            completion_requested=True,
            mandatory_download=True,
            payloads=(FileUrl(location.encode()),),
            metadata=f"file-selector:size:{len(octets)} type:x/y".encode(),
        )
        content_type, body = build_fd(mcdata_info(McdataParams("one-to-one-fd", "sip:b@x", "sip:a@x")), encode(fd))
        reply = f"{url}/replies/{uuid.uuid4()}"
        headers = {"Content-Type": content_type, "Netcode-Reply-To": reply}
        async with session.post(url + FD_PATH, data=body, headers=headers) as offered:
            assert offered.status == 202
        for _ in range(100):
            if len(gateway.sent) >= 2:
                break
            await asyncio.sleep(0.05)
    assert [status for _, status in gateway.sent] == [202, 202]
    seen = []
    for message in app[RECORDER].messages:
        if message.path.startswith("/replies/"):
            content_type = dict(message.headers)["Content-Type"]
            notification = decode(parse_fd(content_type, message.body).signalling)
            assert isinstance(notification, FdNotification)
            assert (notification.conversation_id, notification.message_id) == (fd.conversation_id, fd.message_id)
            seen.append(int(notification.notification))
        elif message.method == "GET" and message.path == urlsplit(location).path:
            seen.append(0)
    assert seen[-3:] == [1, 0, 3]  # accepted, the download, completed: in that order
    assert all(where == reply + FD_PATH for where, _ in gateway.sent)
    assert [status for _, status in gateway.fetched] == [200]


def test_fd_notifications_answer_the_fd(catalog: Catalog) -> None:
    gateway = next(role for role in default_roles(catalog) if isinstance(role, EsnGateway))
    fd = FdSignalling(int(T0), uuid.uuid4(), uuid.uuid4(), application_id=4, payloads=(FileUrl(b"http://h/f"),))
    from harness.endpoints.esn_gateway import PendingFd

    content_type, body = gateway.fd_notification(
        PendingFd(McdataParams("one-to-one-fd", "sip:b@x", "sip:a@x"), fd, None), FdNotificationType.DEFERRED
    )
    message = decode(parse_fd(content_type, body).signalling)
    assert isinstance(message, FdNotification)
    assert (message.notification, message.conversation_id, message.message_id, message.application_id) == (
        FdNotificationType.DEFERRED,
        fd.conversation_id,
        fd.message_id,
        4,
    )


def _sip_message(content_type: str, body: bytes) -> SipMessage:
    headers = [
        ("Via", "SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-1"),
        ("From", "<sip:harness@127.0.0.1>;tag=1"),
        ("To", "<sip:gateway@127.0.0.1>"),
        ("Call-ID", str(uuid.uuid4())),
        ("CSeq", "1 MESSAGE"),
        ("Content-Type", content_type),
    ]
    return SipMessage.request("MESSAGE", "sip:gateway@127.0.0.1", headers, body)


def test_over_sip_an_uncorrelated_notification_is_403_with_the_warning_of_the_spec(catalog: Catalog) -> None:
    """esn.md 1.1: ``403 Forbidden``, ``Warning: 399 <host> "216 unable to correlate the disposition notification"``;
    played as 1.0, the same notification is accepted as before."""
    sds = _sds(Disposition.DELIVERY)
    notification = SdsNotification.echoing(sds, NotificationType.DELIVERED, int(T0))
    info = mcdata_info(McdataParams("one-to-one-sds", "sip:a@x", "sip:b@x"))
    message = _sip_message(*build_sds(info, encode(notification)))
    status, headers = SipServer(catalog).answer(message)
    assert status == 403
    assert headers == [("Warning", '399 127.0.0.1 "216 unable to correlate the disposition notification"')]
    assert SipServer(catalog.at({"esn": "1.0"})).answer(message) == (202, [])


async def test_a_group_fd_is_relayed_unchanged_and_its_notifications_correlated(catalog: Catalog) -> None:
    """A group FD goes to each affiliated member as it came (signalling octets unchanged, mcdata-info naming the
    member and the group); the gateway then knows the FD: a member's notification is correlated, a stray one is
    404 DSP-01."""
    gateway = EsnGateway(catalog)
    app = build_app(catalog, [gateway])
    group = "sip:team@esn.example.police.uk"
    async with ReferenceServer(app) as url, aiohttp.ClientSession() as session:
        members = {"groups": [{"uri": group, "members": [{"uri": "sip:m@x", "url": f"{url}/members/m"}]}]}
        async with session.put(url + "/netcode/v1/_test/groups", json=members) as loaded:
            assert loaded.status == 204
        fd = FdSignalling(int(T0), uuid.uuid4(), uuid.uuid4(), payloads=(FileUrl(b"http://127.0.0.1:9/f"),))
        signalling = encode(fd)
        content_type, body = build_fd(mcdata_info(McdataParams("group-fd", group, "sip:a@x")), signalling)
        async with session.post(url + FD_PATH, data=body, headers={"Content-Type": content_type}) as offered:
            assert offered.status == 202
        for _ in range(100):
            if gateway.sent:
                break
            await asyncio.sleep(0.05)
        (relayed,) = [m for m in app[RECORDER].messages if m.path == "/members/m" + FD_PATH]
        assert parse_fd(dict(relayed.headers)["Content-Type"], relayed.body).signalling == signalling
        for notification, status in (
            (FdNotification.answering(fd, FdNotificationType.ACCEPTED, int(time.time())), 202),
            (FdNotification(FdNotificationType.ACCEPTED, int(time.time()), uuid.uuid4(), uuid.uuid4()), 404),
        ):
            info = mcdata_info(McdataParams("one-to-one-fd", "sip:a@x", "sip:m@x"))
            content_type, body = build_fd(info, encode(notification))
            async with session.post(url + FD_PATH, data=body, headers={"Content-Type": content_type}) as answer:
                assert answer.status == status
