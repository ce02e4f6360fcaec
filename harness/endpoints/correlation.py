"""Correlation of MCData disposition notifications at the originator or a relaying gateway (esn.md 1.1, DSP-01..07).

A system that sent or relayed an SDS or FD message keeps, for at least 10 minutes (**profile**), its
Conversation ID, Message ID, the disposition requested, mandatory download and the application ids
(:class:`Original`). A notification is then judged against that record by :meth:`Correlator.judge`: no
record is DSP-01 (``404``), a type not asked for DSP-02, out of order DSP-03, a second one of a type with
other octets DSP-04, application ids not echoed DSP-05 (each ``409``); DSP-06 and DSP-07 are warnings.

Memory is bounded twice: records older than :data:`KEEP_S` are dropped as new ones come, and the store keeps at
most its capacity (the oldest go first). Choices: docs/decisions-esn-1.1.md (esnfd).
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from dataclasses import dataclass

from harness.endpoints.store import Codec, Store
from harness.families.esn.mcdata import (
    Disposition,
    FdNotification,
    FdNotificationType,
    FdSignalling,
    NotificationType,
    SdsNotification,
    SdsSignalling,
)
from harness.model import Finding

__all__ = ["KEEP_S", "ORIGINALS", "Correlator", "Judgement", "Notification", "Original"]

KEEP_S = 600.0
"""How long a record is kept (**profile**: "at least 10 minutes")."""
FUTURE_S = 300
"""DSP-06: a notification dated more than this many seconds ahead of now."""
ANSWERS_KEPT = 8
"""Accepted notifications remembered per record (an identical re-send gets the first answer again)."""


@dataclass(slots=True, frozen=True)
class Original:
    """What the correlation keeps of an SDS or FD message sent or relayed."""

    kind: str
    """``sds`` or ``fd``: an SDS NOTIFICATION answers an SDS, an FD NOTIFICATION an FD message."""
    conversation_id: str
    message_id: str
    date_time: int
    kept_at: float
    disposition: int | None = None
    """SDS: the disposition requested (1 delivery, 2 read, 3 both)."""
    completion: bool = False
    """FD: ``0x91`` FILE DOWNLOAD COMPLETED UPDATE requested."""
    mandatory: bool = False
    """FD: ``0xA1`` mandatory download."""
    application_id: int | None = None
    extended_application_id: str | None = None
    """The Extended application ID IE's value, hex."""
    accepted: tuple[tuple[int, str], ...] = ()
    """Notifications accepted so far, in order: (type, the signalling octets, hex)."""

    @classmethod
    def of(cls, message: SdsSignalling | FdSignalling, now: float | None = None) -> Original:
        """The record of ``message`` as sent or relayed at ``now`` (default: the current time)."""
        extended = message.extended_application_id
        disposition = message.disposition if isinstance(message, SdsSignalling) else None
        return cls(
            kind="sds" if isinstance(message, SdsSignalling) else "fd",
            conversation_id=str(message.conversation_id),
            message_id=str(message.message_id),
            date_time=message.date_time,
            kept_at=time.time() if now is None else now,
            disposition=None if disposition is None else int(disposition),
            completion=isinstance(message, FdSignalling) and message.completion_requested,
            mandatory=isinstance(message, FdSignalling) and message.mandatory_download,
            application_id=message.application_id,
            extended_application_id=None if extended is None else extended.hex(),
        )

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.conversation_id, self.message_id)

    @property
    def types(self) -> list[int]:
        return [kind for kind, _ in self.accepted]


def _decode_original(data: bytes) -> Original:
    raw = json.loads(data)
    raw["accepted"] = tuple((int(kind), str(octets)) for kind, octets in raw.get("accepted", ()))
    return Original(**raw)


ORIGINALS: Codec[Original] = Codec(lambda original: json.dumps(dataclasses.asdict(original)).encode(), _decode_original)
"""How a record is stored (a shared SQLite store when several processes serve)."""


@dataclass(slots=True, frozen=True)
class Judgement:
    """The answer to a notification: ``status`` (202, 404 or 409), errors (refused), warnings (kept apart)."""

    status: int
    errors: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.status == 202


Notification = SdsNotification | FdNotification


def _type(notification: Notification) -> int:
    return int(notification.notification)


def _not_requested(original: Original, kind: int) -> str | None:
    """DSP-02: why notification type ``kind`` was not asked for by ``original``, or None."""
    if original.kind == "sds":
        if kind == NotificationType.UNDELIVERED:
            return None  # may answer any SDS ([282] 6.2.3.1 step 4)
        if original.disposition is None:
            return "the SDS requested no disposition notification"
        if original.disposition == Disposition.DELIVERY and kind in (3, 4):
            return "the SDS requested DELIVERY only (81): a READ notification was not asked for"
        if original.disposition == Disposition.READ and kind in (2, 4):
            return "the SDS requested READ only (82): a DELIVERED notification was not asked for"
        return None
    if kind == FdNotificationType.COMPLETED and not original.completion:
        return "FILE DOWNLOAD COMPLETED without a completion request (no 91 in the FD)"
    if original.mandatory and kind in (FdNotificationType.REJECTED, FdNotificationType.DEFERRED):
        return "a mandatory-download FD (A1) cannot be rejected or deferred"
    return None


def _out_of_order(original: Original, kind: int) -> str | None:
    """DSP-03: why ``kind`` cannot come now, after the notifications already accepted, or None."""
    seen = original.types
    if original.kind == "sds":
        if NotificationType.DELIVERED_AND_READ in seen:
            return "nothing follows DELIVERED AND READ (4)"
        both = original.disposition == Disposition.DELIVERY_AND_READ
        if both and kind == NotificationType.READ and NotificationType.DELIVERED not in seen:
            return "READ (3) before DELIVERED (2) when DELIVERY AND READ was requested"
        return None
    if FdNotificationType.REJECTED in seen:
        return "nothing follows FILE DOWNLOAD REQUEST REJECTED (2)"
    if kind == FdNotificationType.COMPLETED and FdNotificationType.ACCEPTED not in seen:
        return "FILE DOWNLOAD COMPLETED (3) before FILE DOWNLOAD REQUEST ACCEPTED (1)"
    return None


class Correlator:
    """Records what was sent or relayed; judges the notifications that answer it (DSP-01..07).

    ``part`` in :meth:`judge` is the index of the body part holding the signalling (locations
    ``/part/N/octet/K``); ``offsets`` maps a decoded field to the octet where it starts.
    """

    def __init__(self, store: Store[tuple[str, str, str], Original], keep_s: float = KEEP_S) -> None:
        self.store = store
        self.keep_s = keep_s

    def clear(self) -> None:
        self.store.clear()

    def keep(self, message: SdsSignalling | FdSignalling, now: float | None = None) -> Original:
        """Record ``message`` as sent or relayed (a second record of the same ids starts afresh)."""
        original = Original.of(message, now)
        self._expire(original.kept_at)
        self.store.put_last(original.key, original)
        return original

    def _expire(self, now: float) -> None:
        # The store is ordered oldest first: drop from the front while records are older than keep_s.
        for key in list(self.store)[:64]:
            held = self.store.get(key)
            if held is None or now - held.kept_at <= self.keep_s:
                break
            del self.store[key]

    def find(self, notification: Notification, now: float | None = None) -> Original | None:
        kind = "sds" if isinstance(notification, SdsNotification) else "fd"
        held = self.store.get((kind, str(notification.conversation_id), str(notification.message_id)))
        moment = time.time() if now is None else now
        if held is None or moment - held.kept_at > self.keep_s:
            return None
        return held

    def judge(
        self,
        notification: Notification,
        octets: bytes,
        part: int = 2,
        offsets: dict[str, int] | None = None,
        now: float | None = None,
    ) -> Judgement:
        """Judge ``notification`` (its signalling ``octets``) against the record of what it answers; an accepted
        one is remembered (its type, for the order; its octets, for an identical re-send)."""
        moment = time.time() if now is None else now
        where = f"/part/{part}/octet"
        original = self.find(notification, moment)
        if original is None:
            answers = "SDS" if isinstance(notification, SdsNotification) else "FD message"
            message = f"no {answers} with conversation {notification.conversation_id} and message "
            message += f"{notification.message_id} was sent or relayed here"
            return Judgement(404, (Finding(f"{where}/7", "DSP-01", message),))
        if (_type(notification), octets.hex()) in original.accepted:
            return Judgement(202)  # binding rule 5: the identical notification gets the first answer again
        errors = self.findings(original, notification, octets, where, offsets or {})
        warnings = self.warnings(original, notification, where, moment)
        if errors:
            return Judgement(409, tuple(errors), tuple(warnings))
        accepted = (*original.accepted, (_type(notification), octets.hex()))[-ANSWERS_KEPT:]
        self.store[original.key] = dataclasses.replace(original, accepted=accepted)
        return Judgement(202, (), tuple(warnings))

    def findings(
        self, original: Original, notification: Notification, octets: bytes, where: str, offsets: dict[str, int]
    ) -> list[Finding]:
        """The errors DSP-02..05 of ``notification`` against ``original`` (each rule a method variants override)."""
        found: list[Finding] = []
        kind = _type(notification)
        for rule, problem in (
            ("DSP-05", self.echo_problem(original, notification)),
            ("DSP-02", self.request_problem(original, kind)),
            ("DSP-03", self.order_problem(original, kind)),
            ("DSP-04", self.repeat_problem(original, kind)),
        ):
            if problem is None:
                continue
            location = where
            if rule == "DSP-05":
                octet = offsets.get("application_id", offsets.get("extended_application_id", 39))
                location = f"{where}/{octet}"
            found.append(Finding(location, rule, problem))
        return found

    def echo_problem(self, original: Original, notification: Notification) -> str | None:
        """DSP-05: Application ID / Extended application ID not echoed exactly, or added."""
        if notification.application_id != original.application_id:
            return f"Application ID {notification.application_id} answers an original with {original.application_id}"
        extended = notification.extended_application_id
        if (None if extended is None else extended.hex()) != original.extended_application_id:
            return "the Extended application ID is not the original's, octet for octet"
        return None

    def request_problem(self, original: Original, kind: int) -> str | None:
        return _not_requested(original, kind)

    def order_problem(self, original: Original, kind: int) -> str | None:
        return _out_of_order(original, kind)

    def repeat_problem(self, original: Original, kind: int) -> str | None:
        """DSP-04: a second notification of a type already accepted, with other octets."""
        if kind in original.types:
            return f"a second notification of type {kind} for this message, with different octets"
        return None

    def warnings(self, original: Original, notification: Notification, where: str, now: float) -> list[Finding]:
        found: list[Finding] = []
        if notification.date_time < original.date_time or notification.date_time > now + FUTURE_S:
            found.append(Finding(f"{where}/2", "DSP-06", "date and time before the original's, or over 5 min ahead"))
        if isinstance(notification, SdsNotification) and notification.notification == 5:
            found.append(Finding(f"{where}/1", "DSP-07", "DISPOSITION PREVENTED BY SYSTEM is meant for interworking"))
        return found


def fresh_ids() -> tuple[uuid.UUID, uuid.UUID]:
    """A new Conversation ID and Message ID."""
    return uuid.uuid4(), uuid.uuid4()
