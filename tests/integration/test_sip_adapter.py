"""The SIP adapter against its own reference server on loopback: SDS and notifications as SIP MESSAGE."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from adapters.sip import SipTransport
from harness.catalog import Catalog
from harness.codecs.multipart import BodyPart, build_multipart
from harness.endpoints.sip_gateway import SipServer, free_port
from harness.families.esn.body import build_sds, parse_sds
from harness.families.esn.mcdata import (
    DataPayload,
    Disposition,
    NotificationType,
    SdsNotification,
    SdsSignalling,
    Text,
    decode,
    encode,
)
from harness.model import BadAnswer, TargetUnreachable
from harness.protocols.sip import SipMessage, SipSyntaxError, parse_message, split_stream
from harness.transport import Request, TransportOptions, load_transport
from tests.conftest import ROOT

INFO = (ROOT / "fixtures/formats/mcdata-info/1.0/samples/valid/one-to-one-sds.xml").read_bytes()


def an_sds(disposition: Disposition | None = None, encoding: str = "binary") -> tuple[SdsSignalling, str, bytes]:
    signalling = SdsSignalling(1790775600, uuid.uuid4(), uuid.uuid4(), disposition=disposition)
    payload = encode(DataPayload((Text("hi over SIP"),)))
    content_type, body = build_sds(INFO, encode(signalling), payload, transfer_encoding=encoding)
    return signalling, content_type, body


def transport() -> SipTransport:
    return SipTransport(TransportOptions(timeout_s=5.0))


@pytest.mark.parametrize("kind", ["udp", "tcp"])
async def test_an_sds_is_accepted_and_its_notification_comes_back(catalog: Catalog, kind: str) -> None:
    async with SipServer(catalog) as gateway, SipServer(catalog) as sender:
        signalling, content_type, body = an_sds(Disposition.DELIVERY)
        # The test's transport and ``sender`` together play the originating client: under esn.md 1.1 the
        # originator keeps what it sent, and judges the notification that comes back against that record
        # (an uncorrelated one is 403 "216 unable to correlate", tested in test_esn11_correlation.py).
        sender.correlator.keep(signalling)
        headers = (("Content-Type", content_type), ("Contact", f"<{sender.uri('pc.1234', kind)}>"))
        answer = await transport().send(Request("MESSAGE", gateway.uri("pc.5678", kind), headers, body))
        assert (answer.status, answer.reason) == (202, "Accepted")
        received = (await gateway.wait_for(1, 5))[0]
        assert received.transport == kind and received.status == 202
        assert received.message.header("Accept-Contact") == "*;+g.3gpp.mcdata.sds;require;explicit"
        assert received.message.body == body  # octet for octet, binary parts included
        notified = (await sender.wait_for(1, 5))[0]
        sds = parse_sds(notified.message.header("Content-Type") or "", notified.message.body)
        notification = decode(sds.signalling)
        assert isinstance(notification, SdsNotification) and sds.payload is None
        assert notification.notification == NotificationType.DELIVERED
        assert (notification.conversation_id, notification.message_id) == (
            signalling.conversation_id,
            signalling.message_id,
        )
        for _ in range(200):  # the gateway notes the answer to its notification just after the sender gave it
            if gateway.notified:
                break
            await asyncio.sleep(0.01)
        assert notified.status == 202 and next(iter(gateway.notified))[1] == 202


async def test_base64_parts_are_accepted_and_no_unrequested_notification(catalog: Catalog) -> None:
    async with SipServer(catalog) as gateway, SipServer(catalog) as sender:
        _, content_type, body = an_sds(None, "base64")
        headers = (("Content-Type", content_type), ("Contact", f"<{sender.uri()}>"))
        answer = await transport().send(Request("MESSAGE", gateway.uri(), headers, body))
        assert answer.status == 202
        assert await sender.wait_for(1, 0.5) == []


async def test_an_sds_missing_a_part_is_refused_with_the_rule(catalog: Catalog) -> None:
    async with SipServer(catalog) as gateway:
        signalling, _, _ = an_sds()
        content_type, body = build_multipart(
            [
                BodyPart("application/vnd.3gpp.mcdata-info+xml", INFO),
                BodyPart("application/vnd.3gpp.mcdata-signalling", encode(signalling), "binary"),
            ]
        )
        answer = await transport().send(Request("MESSAGE", gateway.uri(), (("Content-Type", content_type),), body))
        assert answer.status == 400 and "MCS-02" in (answer.header("Warning") or "")
        truncated = body.replace(encode(signalling), encode(signalling)[:30])
        answer = await transport().send(Request("MESSAGE", gateway.uri(), (("Content-Type", content_type),), truncated))
        assert answer.status == 400 and "MCS-02" in (answer.header("Warning") or "")


async def test_a_truncated_signalling_part_is_refused_naming_the_octet(catalog: Catalog) -> None:
    async with SipServer(catalog) as gateway:
        signalling, _, _ = an_sds()
        payload = encode(DataPayload((Text("x"),)))
        content_type, body = build_sds(INFO, encode(signalling)[:30], payload)
        answer = await transport().send(
            Request("MESSAGE", gateway.uri(transport="tcp"), (("Content-Type", content_type),), body)
        )
        assert answer.status == 400
        assert "MCD-01 /part/2/octet/22" in (answer.header("Warning") or "")


async def test_options_and_other_methods(catalog: Catalog) -> None:
    async with SipServer(catalog) as gateway:
        sip = load_transport("sip", TransportOptions(timeout_s=5.0))
        await sip.probe(gateway.uri())
        answer = await sip.send(Request("INFO", gateway.uri()))
        assert answer.status == 405 and answer.header("Allow") == "MESSAGE, OPTIONS"
        answer = await sip.send(Request("MESSAGE", gateway.uri(), (("Content-Type", "text/plain"),), b"hi"))
        assert answer.status == 415
        await sip.close()


@pytest.mark.parametrize("kind", ["udp", "tcp"])
async def test_nothing_listening_is_target_unreachable(kind: str) -> None:
    port = free_port()
    with pytest.raises(TargetUnreachable):
        await SipTransport(TransportOptions(timeout_s=2.0)).probe(f"sip:nobody@127.0.0.1:{port};transport={kind}")


async def test_a_silent_peer_is_a_bad_answer() -> None:
    loop = asyncio.get_running_loop()
    silent, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
    try:
        port = silent.get_extra_info("sockname")[1]
        with pytest.raises(BadAnswer, match="no final SIP response"):
            await SipTransport(TransportOptions(timeout_s=1.0)).send(Request("OPTIONS", f"sip:x@127.0.0.1:{port}"))
    finally:
        silent.close()


# --------------------------------------------------------------------------- the message syntax


def test_parsing_expands_compact_forms_unfolds_and_cuts_to_content_length() -> None:
    data = (
        b"\r\nMESSAGE sip:b@127.0.0.1 SIP/2.0\r\nv: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKx\r\n"
        b"f: <sip:a@127.0.0.1>;tag=1\r\nt: <sip:b@127.0.0.1>\r\ni: c1\r\nCSeq: 1\r\n MESSAGE\r\n"
        b"c: text/plain\r\nl: 4\r\n\r\nbody and more"
    )
    message = parse_message(data)
    assert (message.method, message.uri) == ("MESSAGE", "sip:b@127.0.0.1")
    assert message.header("Via") == "SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKx"
    assert message.header("cseq") == "1 MESSAGE" and message.header("c") == "text/plain"
    assert message.body == b"body"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"HELLO\r\n\r\n",
        b"MESSAGE sip:b@x SIP/2.0\r\nbad header\r\n\r\n",
        b"MESSAGE sip:b@x SIP/2.0\r\nContent-Length: 10\r\n\r\nshort",
        b"MESSAGE sip:b@x SIP/2.0\r\nContent-Length: -1\r\n\r\n",
        b"MESSAGE sip:b@x SIP/2.0\r\nContent-Length: 99999999\r\n\r\n",
        b"SIP/2.0 2000 OK\r\n\r\n",
        b"MESSAGE sip:b@x SIP/2.0\r\n" + b"X: y\r\n" * 65 + b"\r\n",
    ],
)
def test_malformed_messages_are_refused(data: bytes) -> None:
    with pytest.raises(SipSyntaxError):
        parse_message(data)


def test_a_stream_is_split_by_content_length_and_bounded() -> None:
    first = SipMessage.response(202, [("Call-ID", "a")]).encode()
    second = SipMessage.request("MESSAGE", "sip:b@x", [("Call-ID", "b")], b"\x00 \n").encode()
    buffer = bytearray(b"\r\n" + first + second[:-2])
    assert split_stream(buffer) == first
    assert split_stream(buffer) is None
    buffer += second[-2:]
    assert parse_message(split_stream(buffer) or b"", stream=True).body == b"\x00 \n"
    with pytest.raises(SipSyntaxError):
        split_stream(bytearray(b"X" * 20_000))
    with pytest.raises(SipSyntaxError):
        split_stream(bytearray(b"MESSAGE sip:b@x SIP/2.0\r\n\r\n"))
