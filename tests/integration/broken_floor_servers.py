"""Deliberately broken variants of the reference floor control server: each breaks one floor exchange of
specs/esn.md 1.1 ("Floor exchanges (server role)"), and nothing else.

A variant is a :class:`FloorSession` subclass overriding one decision, served by the reference ESN gateway in
place of its own floor control (:func:`build_broken_floor_gateway`).
"""

from __future__ import annotations

from aiohttp import web

from harness.catalog import Catalog
from harness.endpoints import build_app
from harness.endpoints.esn_gateway import EsnGateway
from harness.endpoints.floor_control import FloorControl
from harness.endpoints.intel_hub import IntelHub
from harness.families.esn.floor import FieldId, Judgement, Packet
from harness.families.esn.floor_server import FloorSession, Outgoing, Participant


class GrantWithoutTaken(FloorSession):
    """Exchange 1: the requester gets Floor Granted, the others never hear Floor Taken."""

    def grant(self, participant: Participant, priority: int) -> list[Outgoing]:
        return [item for item in super().grant(participant, priority) if item.to is participant]


class IdleWrongSequence(FloorSession):
    """Exchange 4: Floor Idle numbered as if a message had been lost in between (+2, not +1)."""

    def idle(self) -> Packet:
        self.next_sequence()
        return super().idle()


class DenyWrongCause(FloorSession):
    """Exchange 2: Floor Deny with cause 3 (only one participant) where another holds the floor (cause 1)."""

    def deny_cause(self) -> int:
        return 3


class NoFloorAck(FloorSession):
    """Exchange 5: x = 1 is never acknowledged."""

    def acknowledges(self, packet: Packet) -> bool:
        return False


class IdleBetweenQueuedGrants(FloorSession):
    """Exchange 3: on release with a queue, Floor Idle to everyone first, then the queued grant."""

    def release(self, sender: Participant) -> list[Outgoing]:
        if self.holder is sender and self.queue:
            idle = self.idle()
            return [Outgoing(participant, idle) for participant in self.participants] + super().release(sender)
        return super().release(sender)


class LegacyIdsDecoded(FloorSession):
    """Exchange 7 / FLR-05: the Release 13 field IDs read as their modern twins (102 as Floor Priority)."""

    def requested_priority(self, sender: Participant, judgement: Judgement) -> int:
        packet = judgement.packet
        legacy = packet.first(102) if packet is not None else None
        if legacy:
            return min(legacy[0], sender.priority)
        asked = judgement.value(FieldId.FLOOR_PRIORITY)
        return min(int(asked) if isinstance(asked, int) else 0, sender.priority)


VARIANTS: dict[str, type[FloorSession]] = {
    "grant-without-taken": GrantWithoutTaken,
    "idle-wrong-sequence": IdleWrongSequence,
    "deny-wrong-cause": DenyWrongCause,
    "no-floor-ack": NoFloorAck,
    "idle-between-queued-grants": IdleBetweenQueuedGrants,
    "legacy-ids-decoded": LegacyIdsDecoded,
}


def broken_floor_control(name: str, permitted: object) -> FloorControl:
    """A floor control whose sessions are the variant ``name``."""
    session_type = VARIANTS[name]
    control = type(f"Broken{session_type.__name__}", (FloorControl,), {"session_type": session_type})
    built: FloorControl = control(True, permitted)
    return built


def build_broken_floor_gateway(catalog: Catalog, name: str) -> web.Application:
    """The reference supplier's ESN side (and the intel hub the runner's health check asks), its floor control
    replaced by the variant ``name``."""
    gateway = EsnGateway(catalog)
    gateway.floor = broken_floor_control(name, gateway.permitted)
    return build_app(catalog, [IntelHub(catalog), gateway])
