"""The floor control server's decisions on their own (harness/families/esn/floor_server.py): numbering that
wraps, the queue, the revoke timer's grant, what is ignored."""

from __future__ import annotations

from harness.families.esn.floor import Field, FieldId, Judgement, Packet, Subtype, encode, judge
from harness.families.esn.floor_server import FloorSession, Outgoing, Participant

A = Participant("sip:a@esn.example", 0xA001, "http://127.0.0.1:1/a", priority=5)
B = Participant("sip:b@esn.example", 0xB001, "http://127.0.0.1:1/b", priority=9)
C = Participant("sip:c@esn.example", 0xC001, "http://127.0.0.1:1/c")


def _from(participant: Participant, subtype: int, *fields: tuple[int, bytes]) -> Judgement:
    return judge(encode(Packet(subtype, participant.ssrc, tuple(Field(i, v) for i, v in fields))))


def _seen(out: list[Outgoing]) -> list[tuple[str, int, int | None]]:
    """(to, subtype, Message Sequence Number) of each packet sent, each re-judged clean from its octets."""
    shown = []
    for item in out:
        judged = judge(encode(item.packet))
        assert judged.valid and judged.warnings == (), judged
        shown.append((item.to.user, item.packet.subtype, judged.value(FieldId.MESSAGE_SEQUENCE_NUMBER)))
    return shown


def test_sequence_numbers_wrap_at_65536() -> None:
    session = FloorSession((A, B), queueing=False, duration_s=30, server_ssrc=7)
    session.sequence = 65534
    taken = _seen(session.receive(_from(A, Subtype.FLOOR_REQUEST)))
    assert taken == [(A.user, Subtype.FLOOR_GRANTED, None), (B.user, Subtype.FLOOR_TAKEN, 65535)]
    idle = _seen(session.receive(_from(A, Subtype.FLOOR_RELEASE)))
    assert idle == [(A.user, Subtype.FLOOR_IDLE, 0), (B.user, Subtype.FLOOR_IDLE, 0)]


def test_granted_priority_is_asked_capped_and_absent_is_zero() -> None:
    session = FloorSession((A, B), queueing=False, duration_s=30)
    out = session.receive(_from(A, Subtype.FLOOR_REQUEST, (FieldId.FLOOR_PRIORITY, b"\x07\x00")))
    assert judge(encode(out[0].packet)).value(FieldId.FLOOR_PRIORITY) == 5  # A may have 5 at most
    assert {item.packet.ssrc for item in out} == {session.ssrc} and session.ssrc not in (A.ssrc, B.ssrc)
    again = FloorSession((A, B), queueing=False, duration_s=30)
    out = again.receive(_from(B, Subtype.FLOOR_REQUEST))
    assert judge(encode(out[0].packet)).value(FieldId.FLOOR_PRIORITY) == 0


def test_the_queue_is_first_come_first_served_and_a_queued_release_withdraws() -> None:
    session = FloorSession((A, B, C), queueing=True, duration_s=30)
    session.receive(_from(A, Subtype.FLOOR_REQUEST))
    b_queued = session.receive(_from(B, Subtype.FLOOR_REQUEST, (FieldId.FLOOR_PRIORITY, b"\x03\x00")))
    c_queued = session.receive(_from(C, Subtype.FLOOR_REQUEST))
    assert judge(encode(b_queued[0].packet)).value(FieldId.QUEUE_INFO) == (1, 3)
    assert judge(encode(c_queued[0].packet)).value(FieldId.QUEUE_INFO) == (2, 0)
    assert session.receive(_from(B, Subtype.FLOOR_RELEASE)) == []  # B withdraws its request
    position = session.receive(_from(C, Subtype.FLOOR_QUEUE_POSITION_REQUEST))
    assert judge(encode(position[0].packet)).value(FieldId.QUEUE_INFO) == (1, 0)
    holder = session.receive(_from(A, Subtype.FLOOR_QUEUE_POSITION_REQUEST))
    assert judge(encode(holder[0].packet)).value(FieldId.QUEUE_INFO) == (254, 0), "the holder is not queued"
    handed = _seen(session.receive(_from(A, Subtype.FLOOR_RELEASE)))
    assert [(to, subtype) for to, subtype, _ in handed] == [
        (C.user, Subtype.FLOOR_GRANTED),
        (A.user, Subtype.FLOOR_TAKEN),
        (B.user, Subtype.FLOOR_TAKEN),
    ]


def test_the_revoke_timer_belongs_to_one_grant() -> None:
    session = FloorSession((A, B), queueing=False, duration_s=30)
    session.receive(_from(A, Subtype.FLOOR_REQUEST))
    first = session.grants
    session.receive(_from(A, Subtype.FLOOR_RELEASE))
    session.receive(_from(A, Subtype.FLOOR_REQUEST))
    assert session.expire(first) == [], "an earlier grant's timer revokes nothing"
    revoked = session.expire(session.grants)
    assert [(item.to, item.packet.subtype) for item in revoked] == [(A, Subtype.FLOOR_REVOKE)]
    assert judge(encode(revoked[0].packet)).value(FieldId.REJECT_CAUSE) == (2, b"")


def test_ignored_what_is_not_the_servers_to_act_on() -> None:
    session = FloorSession((A, B), queueing=False, duration_s=30)
    assert session.receive(_from(Participant("x", 0xDEAD, ""), Subtype.FLOOR_REQUEST)) == []
    assert session.receive(judge(bytes.fromhex("8C CC 00 02 00 00 A0 01 4D 43 50 54"))) == []
    assert session.receive(_from(A, Subtype.FLOOR_GRANTED, (FieldId.DURATION, b"\x00\x1e"))) == []
    assert session.receive(_from(B, Subtype.FLOOR_RELEASE)) == [], "a release from one not holding"
    assert session.holder is None and session.sequence == 0
    acked = session.receive(_from(A, Subtype.FLOOR_RELEASE | 0x10))
    assert [item.packet.subtype for item in acked] == [Subtype.FLOOR_ACK]
    assert judge(encode(acked[0].packet)).value(FieldId.MESSAGE_TYPE) == 0x14
