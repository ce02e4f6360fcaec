"""The floor control server of one MCPTT floor session ([380] clause 6.3, as ``specs/esn.md`` 1.1 profiles it).

Pure logic, no I/O: :meth:`FloorSession.receive` takes one packet a participant sent and returns the packets
the server sends, each addressed to a participant; :meth:`FloorSession.expire` is the revoke timer firing. The
HTTP binding (``harness/endpoints/floor_control.py``) carries them and runs the timer.

The exchanges (specs/esn.md, "Floor exchanges (server role)"):

1. Floor Request while nobody holds the floor: Floor Granted to the requester (Duration = the session's
   ``duration_s``, Floor Priority = the priority granted), Floor Taken to every other participant (Granted
   Party's Identity = the requester's URI, Permission to Request the Floor 1, a Message Sequence Number).
2. Floor Request while another holds it, no queueing: Floor Deny, Reject Cause 1, to the requester only.
3. With queueing: Floor Queue Position Info (Queue Info) to the requester, and again for each Floor Queue
   Position Request; when the holder releases, the first queued participant gets Floor Granted and the others
   Floor Taken, with no Floor Idle in between.
4. Floor Release from the holder, queue empty: Floor Idle to every participant, its Message Sequence Number one
   more (modulo 65536) than the last Floor Taken's.
5. x = 1: a Floor Ack to the sender first (Source 2, controlling function; Message Type the subtype received,
   x included).
6. The holder still holding ``duration_s`` later: Floor Revoke, cause 2 (media burst too long).
7. An unknown subtype, or a packet from an SSRC the session does not list, changes nothing.

Every packet the server sends carries the session's one server SSRC. Choices: docs/decisions-esn-1.1.md.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from harness.families.esn.floor import (
    Field,
    FieldId,
    Judgement,
    Packet,
    Source,
    Subtype,
    message_type_value,
    priority_value,
    queue_info_value,
    reject_cause_value,
    u16_value,
)

__all__ = ["MAX_PARTICIPANTS", "FloorSession", "Outgoing", "Participant"]

MAX_PARTICIPANTS = 64
"""Participants per session at most (the hook refuses more): a session's answers stay bounded."""
CAUSE_ANOTHER_HAS_PERMISSION = 1
CAUSE_MEDIA_BURST_TOO_LONG = 2


@dataclass(slots=True, frozen=True)
class Participant:
    """A floor participant: its MCPTT ID (URI), the SSRC it sends with, where it receives, its highest priority."""

    user: str
    ssrc: int
    url: str
    priority: int = 0


@dataclass(slots=True, frozen=True)
class Outgoing:
    """One packet the server sends to one participant."""

    to: Participant
    packet: Packet


def _server_ssrc(taken: set[int]) -> int:
    while True:
        ssrc = secrets.randbits(32)
        if ssrc not in taken:
            return ssrc


class FloorSession:
    """The state of one floor session in the controlling role: who holds the floor, who waits, the numbering.

    Each decision is a method, so that a broken variant of the reference (tests) overrides exactly one.
    """

    def __init__(
        self, participants: tuple[Participant, ...], queueing: bool, duration_s: int, server_ssrc: int | None = None
    ) -> None:
        self.participants = participants
        self.queueing = queueing
        self.duration_s = duration_s
        self.by_ssrc = {participant.ssrc: participant for participant in participants}
        self.ssrc = server_ssrc if server_ssrc is not None else _server_ssrc(set(self.by_ssrc))
        self.holder: Participant | None = None
        self.granted_priority = 0
        self.queue: list[tuple[Participant, int]] = []
        self.sequence = 0
        """The last Message Sequence Number sent (the first Floor Taken carries 1)."""
        self.grants = 0
        """How many times the floor was granted: a new grant restarts the revoke timer, even to the same holder."""

    # -- building packets ---------------------------------------------------------------------

    def packet(self, subtype: int, *fields: Field) -> Packet:
        return Packet(subtype, self.ssrc, tuple(fields))

    def next_sequence(self) -> int:
        """One more than the last Message Sequence Number sent in this session, modulo 65536 ([380] 8.2.3.10)."""
        self.sequence = (self.sequence + 1) % 0x10000
        return self.sequence

    def granted(self, participant: Participant, priority: int) -> Packet:
        return self.packet(
            Subtype.FLOOR_GRANTED,
            Field(FieldId.DURATION, u16_value(self.duration_s)),
            Field(FieldId.FLOOR_PRIORITY, priority_value(priority)),
        )

    def taken(self, holder: Participant) -> Packet:
        return self.packet(
            Subtype.FLOOR_TAKEN,
            Field(FieldId.GRANTED_PARTY_IDENTITY, holder.user.encode()),
            Field(FieldId.PERMISSION_TO_REQUEST, u16_value(1)),
            Field(FieldId.MESSAGE_SEQUENCE_NUMBER, u16_value(self.next_sequence())),
        )

    def idle(self) -> Packet:
        return self.packet(Subtype.FLOOR_IDLE, Field(FieldId.MESSAGE_SEQUENCE_NUMBER, u16_value(self.next_sequence())))

    def deny(self, requester: Participant) -> Packet:
        return self.packet(Subtype.FLOOR_DENY, Field(FieldId.REJECT_CAUSE, reject_cause_value(self.deny_cause())))

    def deny_cause(self) -> int:
        return CAUSE_ANOTHER_HAS_PERMISSION

    def revoke(self) -> Packet:
        return self.packet(
            Subtype.FLOOR_REVOKE, Field(FieldId.REJECT_CAUSE, reject_cause_value(CAUSE_MEDIA_BURST_TOO_LONG))
        )

    def queue_position(self, participant: Participant) -> Packet:
        position = next((n for n, (p, _) in enumerate(self.queue, 1) if p is participant), None)
        priority = next((level for p, level in self.queue if p is participant), 0)
        info = queue_info_value(254 if position is None else min(position, 253), priority)
        return self.packet(
            Subtype.FLOOR_QUEUE_POSITION_INFO,
            Field(FieldId.USER_ID, participant.user.encode()),
            Field(FieldId.QUEUE_INFO, info),
        )

    def ack(self, received: Packet) -> Packet:
        return self.packet(
            Subtype.FLOOR_ACK,
            Field(FieldId.SOURCE, u16_value(Source.CONTROLLING_FUNCTION)),
            Field(FieldId.MESSAGE_TYPE, message_type_value(received.subtype)),
        )

    # -- decisions ----------------------------------------------------------------------------

    def receive(self, judgement: Judgement) -> list[Outgoing]:
        """The packets answering one received packet (already judged: readable, FLR-01/02/03 clean)."""
        packet = judgement.packet
        if packet is None:
            return []
        sender = self.by_ssrc.get(packet.ssrc)
        if sender is None or packet.kind is None:  # an unknown SSRC or subtype changes nothing ([380] 8.1.4)
            return []
        out: list[Outgoing] = []
        if self.acknowledges(packet):
            out.append(Outgoing(sender, self.ack(packet)))
        kind = packet.kind
        if kind == Subtype.FLOOR_REQUEST:
            out += self.request(sender, judgement)
        elif kind == Subtype.FLOOR_RELEASE:
            out += self.release(sender)
        elif kind == Subtype.FLOOR_QUEUE_POSITION_REQUEST:
            out += self.queue_position_request(sender)
        return out  # other subtypes are the server's own messages, or a Floor Ack: nothing to answer

    def acknowledges(self, packet: Packet) -> bool:
        return packet.ack_requested

    def requested_priority(self, sender: Participant, judgement: Judgement) -> int:
        """The Floor Priority asked for (0 when absent or ignored), capped at the participant's own."""
        asked = judgement.value(FieldId.FLOOR_PRIORITY)
        return min(int(asked) if isinstance(asked, int) else 0, sender.priority)

    def request(self, sender: Participant, judgement: Judgement) -> list[Outgoing]:
        priority = self.requested_priority(sender, judgement)
        if self.holder is None:
            return self.grant(sender, priority)
        if self.holder is sender:  # asked again while holding: granted again, nobody else told anew
            return [Outgoing(sender, self.granted(sender, self.granted_priority))]
        if not self.queueing:
            return [Outgoing(sender, self.deny(sender))]
        if all(queued is not sender for queued, _ in self.queue):
            self.queue.append((sender, priority))
        return [Outgoing(sender, self.queue_position(sender))]

    def grant(self, participant: Participant, priority: int) -> list[Outgoing]:
        """Floor Granted to ``participant``, Floor Taken to every other participant."""
        self.holder, self.granted_priority = participant, priority
        self.grants += 1
        out = [Outgoing(participant, self.granted(participant, priority))]
        taken = self.taken(participant)
        out += [Outgoing(other, taken) for other in self.participants if other is not participant]
        return out

    def release(self, sender: Participant) -> list[Outgoing]:
        if self.holder is not sender:
            self.queue = [(p, level) for p, level in self.queue if p is not sender]  # a queued request withdrawn
            return []
        self.holder = None
        if self.queue:
            following, priority = self.queue.pop(0)
            return self.grant(following, priority)
        idle = self.idle()
        return [Outgoing(participant, idle) for participant in self.participants]

    def queue_position_request(self, sender: Participant) -> list[Outgoing]:
        return [Outgoing(sender, self.queue_position(sender))]

    def expire(self, grant: int) -> list[Outgoing]:
        """The revoke timer of grant number ``grant`` fired: Floor Revoke (cause 2) when that grant still holds."""
        if self.holder is None or self.grants != grant:
            return []
        holder = self.holder
        return [Outgoing(holder, self.revoke())]
