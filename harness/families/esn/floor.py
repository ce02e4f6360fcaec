"""MCPTT floor control packets (3GPP TS 24.380 clause 8), the format ``mcptt-floor/1.0`` of ``specs/esn.md`` 1.1.

Public API::

    decode(data) -> Packet            the packet, or FloorError (FLR-01/02/03) naming the octet
    encode(packet) -> bytes           the octets; decode(encode(p)) == p for every encodable packet
    judge(data) -> Judgement          every FLR-01..10 finding (errors and warnings apart), the fields located
    Packet, Field, Subtype, FieldId, ReceivedField, Judgement, FloorError

One packet is an RTCP APP packet (RFC 3550 6.7, [380] 8.1.2), all integers big-endian::

    octet 0    V (2 bits, = 2), P (1 bit, = 0), subtype (5 bits; bit 4 is "x", acknowledgement required)
    octet 1    PT = 204
    octets 2-3 length: the packet's size in 32-bit words, minus one
    octets 4-7 SSRC of the sender
    octets 8-11 name "MCPT"
    12...      fields: ID (1 octet), length (1 octet below ID 192, else 2), value, zero padding to 4 octets

Examples (spec 1.1, server SSRC 00A1B2C3, participant A 0000A001)::

    80 CC 00 03 00 00 A0 01 4D 43 50 54 00 02 07 00                    Floor Request, priority 7
    81 CC 00 04 00 A1 B2 C3 4D 43 50 54 01 02 00 1E 00 02 07 00        Floor Granted, 30 s, priority 7
    85 CC 00 03 00 A1 B2 C3 4D 43 50 54 08 02 00 08                    Floor Idle, sequence number 8

A :class:`Packet` keeps the subtype (x included), the SSRC and the fields as ``(ID, value octets)`` in the
order they came, so that encoding gives back every octet a canonical packet had (zero padding). Of a packet
whose subtype the profile does not know the fields are not decoded ([380] 8.1.4): its body is kept whole.

:func:`judge` applies the rules FLR-01..10 (severities from [380] 8.1.4: what a receiver must ignore is a
warning; what stops it reading, or leaves out a field the profile needs, is an error). Locations are
``/octet/N``, N the first octet of the item at fault. Choices the spec leaves open:
``docs/decisions-esn-1.1.md`` (section esnfloor).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.model import Finding

__all__ = [
    "ACK_BIT",
    "DENY_CAUSES",
    "FIELD_NAMES",
    "FLOOR_INDICATORS",
    "FLOOR_PATH",
    "FLOOR_SESSIONS_HOOK",
    "HEADER_SIZE",
    "KNOWN_SUBTYPES",
    "LEGACY_FIELD_IDS",
    "LOCATION_TYPES",
    "MEDIA_TYPE",
    "NAME",
    "PT_APP",
    "REQUIRED_FIELDS",
    "REVOKE_CAUSES",
    "RULES",
    "Field",
    "FieldId",
    "FloorError",
    "Judgement",
    "Packet",
    "ReceivedField",
    "Source",
    "Subtype",
    "coordinates",
    "decode",
    "encode",
    "explain",
    "field_rows",
    "judge",
    "message_type_value",
    "priority_value",
    "queue_info_value",
    "reject_cause_value",
    "ssrc_value",
    "subtype_name",
    "u16_value",
]

MEDIA_TYPE = "application/vnd.netcode.mcptt-floor"
"""The profile's HTTP binding: the body is one packet, raw octets."""
FLOOR_PATH = "/netcode/v1/esn/floor/{session}"
"""Where a floor packet is sent: the server's, and below a participant's base URL, the participant's."""
FLOOR_SESSIONS_HOOK = "/netcode/v1/_test/floor-sessions/{session}"
"""The test hook that sets up a floor session (test mode only)."""
NAME = b"MCPT"
HEADER_SIZE = 12
PT_APP = 204
ACK_BIT = 0x10
"""Bit 4 of the subtype: "x", the sender asks for a Floor Ack ([380] table 8.2.2.1-1)."""
MAX_PACKET = 4 * 0x10000
"""The most octets a 16-bit ``length`` can describe."""


class Subtype(enum.IntEnum):
    """The message subtypes of [380] table 8.2.2.1-1 (x = 0); x is bit 4 (:data:`ACK_BIT`)."""

    FLOOR_REQUEST = 0
    FLOOR_GRANTED = 1
    FLOOR_TAKEN = 2
    FLOOR_DENY = 3
    FLOOR_RELEASE = 4
    FLOOR_IDLE = 5
    FLOOR_REVOKE = 6
    FLOOR_QUEUE_POSITION_REQUEST = 8
    FLOOR_QUEUE_POSITION_INFO = 9
    FLOOR_ACK = 10
    FLOOR_RELEASE_MULTI_TALKER = 15


_WITH_ACK = frozenset(
    {
        Subtype.FLOOR_GRANTED,
        Subtype.FLOOR_TAKEN,
        Subtype.FLOOR_DENY,
        Subtype.FLOOR_RELEASE,
        Subtype.FLOOR_IDLE,
        Subtype.FLOOR_QUEUE_POSITION_INFO,
    }
)
"""The subtypes that have an x bit; x on any other makes the subtype unknown (FLR-04)."""
KNOWN_SUBTYPES: frozenset[int] = frozenset(int(s) for s in Subtype) | frozenset(int(s) | ACK_BIT for s in _WITH_ACK)
"""Every 5-bit subtype value 1.1 decodes (x included)."""


class FieldId(enum.IntEnum):
    """The field IDs of [380] table 8.2.3.1-2 (confirmed for 0-20 by [WS-rtcp])."""

    FLOOR_PRIORITY = 0
    DURATION = 1
    REJECT_CAUSE = 2
    QUEUE_INFO = 3
    GRANTED_PARTY_IDENTITY = 4
    PERMISSION_TO_REQUEST = 5
    USER_ID = 6
    QUEUE_SIZE = 7
    MESSAGE_SEQUENCE_NUMBER = 8
    QUEUED_USER_ID = 9
    SOURCE = 10
    TRACK_INFO = 11
    MESSAGE_TYPE = 12
    FLOOR_INDICATOR = 13
    SSRC = 14
    LIST_OF_GRANTED_USERS = 15
    LIST_OF_SSRCS = 16
    FUNCTIONAL_ALIAS = 17
    LIST_OF_FUNCTIONAL_ALIASES = 18
    LOCATION = 19
    LIST_OF_LOCATIONS = 20


FIELD_NAMES: dict[int, str] = {
    FieldId.FLOOR_PRIORITY: "Floor Priority",
    FieldId.DURATION: "Duration",
    FieldId.REJECT_CAUSE: "Reject Cause",
    FieldId.QUEUE_INFO: "Queue Info",
    FieldId.GRANTED_PARTY_IDENTITY: "Granted Party's Identity",
    FieldId.PERMISSION_TO_REQUEST: "Permission to Request the Floor",
    FieldId.USER_ID: "User ID",
    FieldId.QUEUE_SIZE: "Queue Size",
    FieldId.MESSAGE_SEQUENCE_NUMBER: "Message Sequence Number",
    FieldId.QUEUED_USER_ID: "Queued User ID",
    FieldId.SOURCE: "Source",
    FieldId.TRACK_INFO: "Track Info",
    FieldId.MESSAGE_TYPE: "Message Type",
    FieldId.FLOOR_INDICATOR: "Floor Indicator",
    FieldId.SSRC: "SSRC",
    FieldId.LIST_OF_GRANTED_USERS: "List of Granted Users",
    FieldId.LIST_OF_SSRCS: "List of SSRCs",
    FieldId.FUNCTIONAL_ALIAS: "Functional Alias",
    FieldId.LIST_OF_FUNCTIONAL_ALIASES: "List of Functional Aliases",
    FieldId.LOCATION: "Location",
    FieldId.LIST_OF_LOCATIONS: "List of Locations",
}

_SUBTYPE_NAMES: dict[int, str] = {
    Subtype.FLOOR_REQUEST: "Floor Request",
    Subtype.FLOOR_GRANTED: "Floor Granted",
    Subtype.FLOOR_TAKEN: "Floor Taken",
    Subtype.FLOOR_DENY: "Floor Deny",
    Subtype.FLOOR_RELEASE: "Floor Release",
    Subtype.FLOOR_IDLE: "Floor Idle",
    Subtype.FLOOR_REVOKE: "Floor Revoke",
    Subtype.FLOOR_QUEUE_POSITION_REQUEST: "Floor Queue Position Request",
    Subtype.FLOOR_QUEUE_POSITION_INFO: "Floor Queue Position Info",
    Subtype.FLOOR_ACK: "Floor Ack",
    Subtype.FLOOR_RELEASE_MULTI_TALKER: "Floor Release Multi Talker",
}

LEGACY_FIELD_IDS: dict[int, int] = {
    **{102 + n: n for n in range(5)},
    **{108 + n: 5 + n for n in range(9)},
}
"""Early Release 13 IDs (102-106, 108-116 for 0-4, 5-13; [WS-rtcp] ``*_OLD``, [MCOP], [NEM]). **profile:** they
are unknown fields (FLR-05), never decoded as their modern twins; the map only names the twin in the finding."""

_FIXED_SIZES: dict[int, int] = {
    FieldId.FLOOR_PRIORITY: 2,
    FieldId.DURATION: 2,
    FieldId.QUEUE_INFO: 2,
    FieldId.PERMISSION_TO_REQUEST: 2,
    FieldId.QUEUE_SIZE: 2,
    FieldId.MESSAGE_SEQUENCE_NUMBER: 2,
    FieldId.SOURCE: 2,
    FieldId.MESSAGE_TYPE: 2,
    FieldId.FLOOR_INDICATOR: 2,
    FieldId.SSRC: 6,
}
_URI_FIELDS = frozenset(
    {FieldId.GRANTED_PARTY_IDENTITY, FieldId.USER_ID, FieldId.QUEUED_USER_ID, FieldId.FUNCTIONAL_ALIAS}
)
_LOCATION_SIZES: dict[int, int] = {0: 0, 1: 7, 2: 5, 3: 3, 4: 2, 5: 1, 6: 6}
"""Location type -> octets of its value ([380] 8.2.3.21): not provided, ECGI, tracking area, PLMN ID, MBMS service
area, MBSFN area ID, coordinates (latitude then longitude, 24 bits each)."""
LOCATION_TYPES: dict[int, str] = {
    0: "not provided",
    1: "ECGI",
    2: "tracking area",
    3: "PLMN ID",
    4: "MBMS service area",
    5: "MBSFN area ID",
    6: "coordinates",
}

DENY_CAUSES: dict[int, str] = {
    1: "another MCPTT client has permission",
    2: "internal floor control server error",
    3: "only one participant",
    4: "retry-after timer has not expired",
    5: "receive only",
    6: "no resources available",
    7: "queue full",
    255: "other reason",
}
"""Floor Deny reject causes ([380] 8.2.6.2)."""
REVOKE_CAUSES: dict[int, str] = {
    1: "only one MCPTT client",
    2: "media burst too long",
    3: "no permission to send a media burst",
    4: "media burst pre-empted",
    6: "no resources available",
    255: "other reason",
}
"""Floor Revoke reject causes ([380] 8.2.10.2): the same number means another thing than in a Floor Deny."""


class Source(enum.IntEnum):
    """The Source field ([380] 8.2.3.12): who sends a Floor Ack."""

    FLOOR_PARTICIPANT = 0
    PARTICIPATING_FUNCTION = 1
    CONTROLLING_FUNCTION = 2
    NON_CONTROLLING_FUNCTION = 3


FLOOR_INDICATORS: dict[int, str] = {
    0x8000: "A normal call",
    0x4000: "B broadcast group call",
    0x2000: "C system call",
    0x1000: "D emergency call",
    0x0800: "E imminent peril call",
    0x0400: "F queueing supported",
    0x0200: "G dual floor",
    0x0100: "H temporary group call",
    0x0080: "I multi-talker",
}
"""Floor Indicator bits ([380] table 8.2.3.15-2); J-P (``0x007F``) are reserved."""
_RESERVED_INDICATORS = 0x007F

REQUIRED_FIELDS: dict[int, tuple[int, ...]] = {
    Subtype.FLOOR_GRANTED: (FieldId.DURATION,),
    Subtype.FLOOR_TAKEN: (FieldId.MESSAGE_SEQUENCE_NUMBER,),
    Subtype.FLOOR_DENY: (FieldId.REJECT_CAUSE,),
    Subtype.FLOOR_IDLE: (FieldId.MESSAGE_SEQUENCE_NUMBER,),
    Subtype.FLOOR_REVOKE: (FieldId.REJECT_CAUSE,),
    Subtype.FLOOR_QUEUE_POSITION_INFO: (FieldId.QUEUE_INFO,),
    Subtype.FLOOR_ACK: (FieldId.SOURCE, FieldId.MESSAGE_TYPE),
    Subtype.FLOOR_RELEASE_MULTI_TALKER: (FieldId.USER_ID,),
}
"""**profile** (specs/esn.md, "Which fields each message carries"), by subtype without x. Floor Taken's Granted
Party's Identity is left out here: a packet alone cannot show whether the granted user asked for privacy, so the
exchange checks it where the session says nobody did (docs/decisions-esn-1.1.md)."""
_REPEATABLE_IN_GRANTED = frozenset({FieldId.SSRC, FieldId.QUEUED_USER_ID, FieldId.QUEUE_INFO})

RULES: dict[str, tuple[str, str]] = {
    "FLR-01": ("error", "truncated: a header, field header or field value cut short"),
    "FLR-02": ("error", "the length field disagrees with the body"),
    "FLR-03": ("error", "V, P, PT or name is not that of an MCPT APP packet"),
    "FLR-04": ("warning", "subtype not in the table; the rest is not decoded"),
    "FLR-05": ("warning", "unknown field ID (legacy 102-116 included); skipped"),
    "FLR-06": ("warning", "a known field of the wrong length; ignored"),
    "FLR-07": ("warning", "a field repeated; the first is used"),
    "FLR-08": ("warning", "a non-zero padding octet"),
    "FLR-09": ("warning", "an undefined value; the field is ignored"),
    "FLR-10": ("error", "a field the profile requires for that message is absent"),
}
"""Rule id -> (severity, meaning), as specs/esn.md "Rules of mcptt-floor/1.0" states them."""


def subtype_name(subtype: int) -> str:
    """``Floor Granted``, ``Floor Granted (x: acknowledgement required)``, or ``unknown subtype N``."""
    if subtype not in KNOWN_SUBTYPES:
        return f"unknown subtype {subtype}"
    name = _SUBTYPE_NAMES[subtype & ~ACK_BIT]
    return f"{name} (x: acknowledgement required)" if subtype & ACK_BIT else name


class FloorError(ValueError):
    """The octets are not a readable floor packet (FLR-01/02/03), or a value cannot be encoded (rule ``encode``).

    ``offset`` is the 0-based octet at fault (never past the end of the data), ``rule`` the rule id.
    """

    def __init__(self, offset: int, message: str, rule: str) -> None:
        super().__init__(f"octet {offset}: {message}")
        self.offset = offset
        self.message = message
        self.rule = rule

    @property
    def finding(self) -> Finding:
        return Finding(f"/octet/{self.offset}", self.rule, self.message)


@dataclass(slots=True, frozen=True)
class Field:
    """One field as it travels: its ID and its value octets (the length and padding are derived)."""

    id: int
    value: bytes


@dataclass(slots=True, frozen=True)
class Packet:
    """One floor control packet: the 5-bit subtype (x included), the sender's SSRC and its fields in order.

    ``body`` holds the octets after the header of a packet whose subtype 1.1 does not know (not decoded,
    [380] 8.1.4); it is empty, and ``fields`` is used, for every known subtype.
    """

    subtype: int
    ssrc: int
    fields: tuple[Field, ...] = ()
    body: bytes = b""

    @property
    def known(self) -> bool:
        return self.subtype in KNOWN_SUBTYPES

    @property
    def ack_requested(self) -> bool:
        """x = 1 on a subtype that has an x bit: the receiver is asked for a Floor Ack."""
        return self.known and bool(self.subtype & ACK_BIT) and (self.subtype & ~ACK_BIT) in _WITH_ACK

    @property
    def kind(self) -> Subtype | None:
        """The message (x stripped), or None for an unknown subtype."""
        return Subtype(self.subtype & ~ACK_BIT) if self.known else None

    def first(self, field_id: int) -> bytes | None:
        """The value octets of the first field ``field_id`` (raw, unjudged), or None."""
        return next((f.value for f in self.fields if f.id == field_id), None)


# --------------------------------------------------------------------------- encoding


def _u16(value: int) -> bytes:
    return int(value).to_bytes(2)


def priority_value(priority: int) -> bytes:
    """Floor Priority's value: the priority in the first octet, a spare octet 0 ([380] 8.2.3.2)."""
    return bytes((priority, 0))


def u16_value(value: int) -> bytes:
    """The 2-octet value of Duration, Permission, Queue Size, Message Sequence Number, Source, Floor Indicator."""
    return _u16(value)


def message_type_value(subtype: int) -> bytes:
    """Message Type's value: ``000`` + the 5-bit subtype acknowledged, then a spare octet 0 ([380] 8.2.3.14)."""
    return bytes((subtype & 0x1F, 0))


def ssrc_value(ssrc: int) -> bytes:
    """SSRC's value: the 32-bit SSRC, then 2 spare octets 0 ([380] 8.2.3.16)."""
    return int(ssrc).to_bytes(4) + b"\x00\x00"


def reject_cause_value(cause: int, phrase: bytes = b"") -> bytes:
    """Reject Cause's value: the 16-bit cause, then the optional reject phrase ([380] 8.2.3.4)."""
    return _u16(cause) + phrase


def queue_info_value(position: int, priority: int) -> bytes:
    """Queue Info's value: the queue position, then the queue priority level ([380] 8.2.3.5)."""
    return bytes((position, priority))


def _field_octets(item: Field, at: int) -> bytes:
    if not isinstance(item.id, int) or not 0 <= item.id <= 0xFF:
        raise FloorError(at, f"field ID {item.id!r} is not an octet value", "encode")
    value = bytes(item.value)
    if item.id < 192:
        if len(value) > 0xFF:
            raise FloorError(at, f"field {item.id}: {len(value)} octets do not fit a 1-octet length", "encode")
        head = bytes((item.id, len(value)))
    else:
        if len(value) > 0xFFFF:
            raise FloorError(at, f"field {item.id}: {len(value)} octets do not fit a 2-octet length", "encode")
        head = bytes((item.id,)) + _u16(len(value))
    octets = head + value
    return octets + bytes(-len(octets) % 4)


def encode(packet: Packet) -> bytes:
    """The octets of ``packet``: V = 2, P = 0, PT = 204, ``length`` and padding computed ([380] 8.1.2, 8.1.3).

    :class:`FloorError` (rule ``encode``) for a value that does not fit its field.
    """
    if not isinstance(packet.subtype, int) or not 0 <= packet.subtype <= 0x1F:
        raise FloorError(0, f"subtype {packet.subtype!r} does not fit 5 bits", "encode")
    if not isinstance(packet.ssrc, int) or not 0 <= packet.ssrc <= 0xFFFFFFFF:
        raise FloorError(4, f"SSRC {packet.ssrc!r} does not fit 32 bits", "encode")
    out = bytearray((0x80 | packet.subtype, PT_APP, 0, 0))
    out += packet.ssrc.to_bytes(4)
    out += NAME
    if packet.known and packet.body:
        raise FloorError(HEADER_SIZE, "a known subtype carries fields, not an undecoded body", "encode")
    if not packet.known and packet.fields:
        raise FloorError(HEADER_SIZE, "an unknown subtype carries an undecoded body, not fields", "encode")
    if len(packet.body) % 4:
        raise FloorError(HEADER_SIZE, f"an undecoded body of {len(packet.body)} octets is not whole words", "encode")
    out += packet.body
    for item in packet.fields:
        out += _field_octets(item, len(out))
    if len(out) > MAX_PACKET:
        raise FloorError(2, f"{len(out)} octets do not fit a 16-bit length in words", "encode")
    out[2:4] = _u16(len(out) // 4 - 1)
    return bytes(out)


# --------------------------------------------------------------------------- decoding


@dataclass(slots=True, frozen=True)
class ReceivedField:
    """A field as read: where it starts, its ID and value, and what it means (None when ignored or unknown)."""

    offset: int
    id: int
    value: bytes
    meaning: Any = None
    ignored: str = ""
    """Why the field is not used (unknown, wrong length, undefined value, repeated), or empty when it is."""

    @property
    def name(self) -> str:
        if self.id in FIELD_NAMES:
            return FIELD_NAMES[self.id]
        twin = LEGACY_FIELD_IDS.get(self.id)
        if twin is not None:
            return f"legacy field {self.id} (Release 13 ID of {FIELD_NAMES[twin]})"
        return f"unknown field {self.id}"


@dataclass(slots=True, frozen=True)
class Judgement:
    """The verdict on one packet: errors and warnings apart, the packet when it could be read, its fields."""

    packet: Packet | None
    errors: tuple[Finding, ...]
    warnings: tuple[Finding, ...]
    fields: tuple[ReceivedField, ...] = ()
    _used: dict[int, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def rules(self) -> set[str]:
        return {f.rule for f in self.errors}

    @property
    def warning_rules(self) -> set[str]:
        return {f.rule for f in self.warnings}

    def value(self, field_id: int) -> Any:
        """What the field in use with ``field_id`` means (an int, a str, a tuple...), or None when there is none."""
        return self._used.get(field_id)


_HEADER_ITEMS = ((1, 0, "first octet"), (2, 1, "packet type"), (4, 2, "length"), (8, 4, "SSRC"), (12, 8, "name"))


def _header(data: bytes) -> None:
    """FLR-01 for a header cut short, located at the first octet of the item cut."""
    for end, start, what in _HEADER_ITEMS:
        if len(data) < end:
            raise FloorError(start, f"{len(data)} octets: the {what} is cut short (a packet has 12 at least)", "FLR-01")


def _header_findings(data: bytes) -> list[Finding]:
    found: list[Finding] = []
    first = data[0]
    if first >> 6 != 2:
        found.append(Finding("/octet/0", "FLR-03", f"version V is {first >> 6}, not 2"))
    if first & 0x20:
        found.append(Finding("/octet/0", "FLR-03", "padding bit P is 1; a floor packet is never padded ([380] 8.1.2)"))
    if data[1] != PT_APP:
        found.append(Finding("/octet/1", "FLR-03", f"packet type {data[1]} is not 204 (APP)"))
    if data[8:12] != NAME:
        found.append(Finding("/octet/8", "FLR-03", f"name {data[8:12].hex(' ')} is not MCPT (4D 43 50 54)"))
    length = int.from_bytes(data[2:4])
    if len(data) % 4:
        found.append(Finding("/octet/2", "FLR-02", f"{len(data)} octets are not whole 32-bit words"))
    elif length != len(data) // 4 - 1:
        what = "octets after the packet" if (length + 1) * 4 < len(data) else "the packet runs past the end"
        message = f"length {length} (words - 1) but {len(data)} octets ({len(data) // 4 - 1}): {what}"
        found.append(Finding("/octet/2", "FLR-02", message))
    return found


def _read_fields(data: bytes) -> tuple[list[tuple[int, int, bytes]], list[Finding], list[Finding]]:
    """``(offset, id, value)`` of every field, then the errors (FLR-01) and padding warnings (FLR-08)."""
    items: list[tuple[int, int, bytes]] = []
    warnings: list[Finding] = []
    offset, end = HEADER_SIZE, len(data)
    while offset < end:
        field_id = data[offset]
        wide = field_id >= 192
        head = 3 if wide else 2
        if offset + head > end:
            cut = Finding(f"/octet/{offset}", "FLR-01", f"the header of field {field_id} is cut short")
            return items, [cut], warnings
        length = int.from_bytes(data[offset + 1 : offset + head])
        start = offset + head
        if start + length > end:
            message = f"field {field_id}: length {length} runs past the end ({end - start} octet(s) remain)"
            return items, [Finding(f"/octet/{offset + 1}", "FLR-01", message)], warnings
        items.append((offset, field_id, data[start : start + length]))
        stop = start + length
        padded = offset + -(-(head + length) // 4) * 4
        for position in range(stop, min(padded, end)):
            if data[position]:
                warnings.append(Finding(f"/octet/{position}", "FLR-08", f"padding octet 0x{data[position]:02X}"))
                break
        offset = padded
    return items, [], warnings


def decode(data: bytes | bytearray | memoryview) -> Packet:
    """The packet in ``data``; :class:`FloorError` (FLR-01, FLR-02 or FLR-03, the first found) when it cannot be read.

    Warnings (unknown fields, wrong lengths, ...) do not stop decoding: :func:`judge` reports them.
    """
    buffer = _octets(data)
    _header(buffer)
    faults = _header_findings(buffer)
    if faults:
        first = faults[0]
        raise FloorError(int(first.location.rsplit("/", 1)[1]), first.message, first.rule)
    subtype = buffer[0] & 0x1F
    ssrc = int.from_bytes(buffer[4:8])
    if subtype not in KNOWN_SUBTYPES:
        return Packet(subtype, ssrc, (), buffer[HEADER_SIZE:])
    items, errors, _ = _read_fields(buffer)
    if errors:
        first = errors[0]
        raise FloorError(int(first.location.rsplit("/", 1)[1]), first.message, first.rule)
    return Packet(subtype, ssrc, tuple(Field(field_id, value) for _, field_id, value in items))


def _octets(data: Any) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    raise FloorError(0, f"{type(data).__name__} is not octets", "FLR-01")


def _meaning(subtype: int, field_id: int, value: bytes) -> tuple[Any, str, str]:
    """``(meaning, rule, why)`` of a known field's value; rule empty when the field is used."""
    size = _FIXED_SIZES.get(field_id)
    if size is not None and len(value) != size:
        return None, "FLR-06", f"{len(value)} octet(s), {FIELD_NAMES[field_id]} has {size}"
    number = int.from_bytes(value[:2]) if len(value) >= 2 else 0
    if field_id == FieldId.FLOOR_PRIORITY:
        return value[0], "", ""
    if field_id in (FieldId.DURATION, FieldId.QUEUE_SIZE, FieldId.MESSAGE_SEQUENCE_NUMBER):
        return number, "", ""
    if field_id == FieldId.REJECT_CAUSE:
        if len(value) < 2:
            return None, "FLR-06", f"{len(value)} octet(s), Reject Cause has 2 at least"
        causes = (
            DENY_CAUSES
            if subtype & ~ACK_BIT == Subtype.FLOOR_DENY
            else REVOKE_CAUSES
            if subtype == Subtype.FLOOR_REVOKE
            else None
        )
        if causes is not None and number not in causes:
            which = "Floor Deny" if causes is DENY_CAUSES else "Floor Revoke"
            return None, "FLR-09", f"reject cause {number} is not one of {which}'s ({', '.join(map(str, causes))})"
        return (number, value[2:]), "", ""
    if field_id == FieldId.QUEUE_INFO:
        return (value[0], value[1]), "", ""
    if field_id in _URI_FIELDS:
        try:
            return value.decode("utf-8"), "", ""
        except UnicodeDecodeError as exc:
            return None, "FLR-09", f"{FIELD_NAMES[field_id]} is not UTF-8 (octet {exc.start} of the value)"
    if field_id == FieldId.PERMISSION_TO_REQUEST:
        if number not in (0, 1):
            return None, "FLR-09", f"permission {number} is neither 0 (not permitted) nor 1 (permitted)"
        return number, "", ""
    if field_id == FieldId.SOURCE:
        if number > 3:
            return None, "FLR-09", f"source {number} is above 3"
        return Source(number), "", ""
    if field_id == FieldId.MESSAGE_TYPE:
        if value[0] not in KNOWN_SUBTYPES:
            return None, "FLR-09", f"message type {value[0]} is not a subtype of the table (x included)"
        return value[0], "", ""
    if field_id == FieldId.FLOOR_INDICATOR:
        if number & _RESERVED_INDICATORS:
            return None, "FLR-09", f"reserved bits J-P set (0x{number & _RESERVED_INDICATORS:04X})"
        return number, "", ""
    if field_id == FieldId.SSRC:
        return int.from_bytes(value[:4]), "", ""
    if field_id == FieldId.LOCATION:
        if not value:
            return None, "FLR-06", "an empty Location has no location type"
        kind = value[0]
        if kind not in _LOCATION_SIZES:
            return None, "FLR-09", f"location type {kind} is above 6"
        if len(value) != 1 + _LOCATION_SIZES[kind]:
            wanted = 1 + _LOCATION_SIZES[kind]
            return None, "FLR-06", f"{len(value)} octet(s), a Location of type {kind} has {wanted}"
        return (kind, value[1:]), "", ""
    return value, "", ""  # Track Info and the multi-talker lists: kept opaque in 1.1


def judge(data: bytes | bytearray | memoryview) -> Judgement:
    """Every finding of the rules FLR-01..10 on ``data``, errors and warnings apart; never raises."""
    try:
        buffer = _octets(data)
        _header(buffer)
    except FloorError as exc:
        return Judgement(None, (exc.finding,), ())
    errors = _header_findings(buffer)
    if errors:
        return Judgement(None, tuple(errors), ())
    subtype = buffer[0] & 0x1F
    ssrc = int.from_bytes(buffer[4:8])
    if subtype not in KNOWN_SUBTYPES:
        reason = f"subtype {subtype} is not in the table; the rest is not decoded ([380] 8.1.4)"
        if subtype & ACK_BIT and subtype & ~ACK_BIT in _SUBTYPE_NAMES:
            reason = f"subtype {subtype}: {_SUBTYPE_NAMES[subtype & ~ACK_BIT]} has no x bit; not decoded"
        return Judgement(Packet(subtype, ssrc, (), buffer[HEADER_SIZE:]), (), (Finding("/octet/0", "FLR-04", reason),))
    items, cut, warnings = _read_fields(buffer)
    if cut:
        return Judgement(None, tuple(cut), tuple(warnings))
    packet = Packet(subtype, ssrc, tuple(Field(field_id, value) for _, field_id, value in items))
    received, used, more = _judge_fields(subtype, items)
    warnings += more
    errors += _required(subtype, items, used)
    return Judgement(packet, tuple(errors), tuple(sorted(warnings, key=_position)), tuple(received), used)


def _position(finding: Finding) -> int:
    return int(finding.location.rsplit("/", 1)[1])


def _judge_fields(
    subtype: int, items: Iterable[tuple[int, int, bytes]]
) -> tuple[list[ReceivedField], dict[int, Any], list[Finding]]:
    received: list[ReceivedField] = []
    used: dict[int, Any] = {}
    seen: set[int] = set()
    warnings: list[Finding] = []
    granted = subtype & ~ACK_BIT == Subtype.FLOOR_GRANTED
    for offset, field_id, value in items:
        where = f"/octet/{offset}"
        if field_id not in FIELD_NAMES:
            twin = LEGACY_FIELD_IDS.get(field_id)
            why = f"unknown field ID {field_id}; skipped"
            if twin is not None:
                why = f"legacy field ID {field_id} (Release 13 {FIELD_NAMES[twin]}) is not in [380]: unknown, skipped"
            warnings.append(Finding(where, "FLR-05", why))
            received.append(ReceivedField(offset, field_id, value, None, why))
            continue
        name = FIELD_NAMES[field_id]
        if field_id in seen and not (granted and field_id in _REPEATABLE_IN_GRANTED):
            why = f"{name} repeated; the first is used"
            warnings.append(Finding(where, "FLR-07", why))
            received.append(ReceivedField(offset, field_id, value, None, why))
            continue
        first = field_id not in seen
        seen.add(field_id)
        meaning, rule, why = _meaning(subtype, field_id, value)
        if rule:
            warnings.append(Finding(where, rule, f"{name}: {why}; ignored"))
            received.append(ReceivedField(offset, field_id, value, None, why))
            continue
        received.append(ReceivedField(offset, field_id, value, meaning))
        if first:
            used[field_id] = meaning
    return received, used, warnings


def _required(subtype: int, items: list[tuple[int, int, bytes]], used: dict[int, Any]) -> list[Finding]:
    errors: list[Finding] = []
    for field_id in REQUIRED_FIELDS.get(subtype & ~ACK_BIT, ()):
        if field_id in used:
            continue
        present = any(item_id == field_id for _, item_id, _ in items)
        name = FIELD_NAMES[field_id]
        how = "present only in a form that is ignored" if present else "absent"
        message = f"{subtype_name(subtype)} needs {name} (profile); it is {how}"
        errors.append(Finding("/octet/0", "FLR-10", message))
    return errors


# --------------------------------------------------------------------------- explaining


def coordinates(value: bytes) -> tuple[float, float]:
    """Degrees of a Location's 6 coordinate octets (TS 23.032 6.1): latitude, bit 23 the sign (1 south) and 23
    bits of magnitude x 90/2^23; longitude, 24-bit two's complement x 360/2^24."""
    raw_latitude, raw_longitude = int.from_bytes(value[:3]), int.from_bytes(value[3:6])
    latitude = (raw_latitude & 0x7FFFFF) * 90 / (1 << 23) * (-1 if raw_latitude & 0x800000 else 1)
    longitude = (raw_longitude - (1 << 24) if raw_longitude & 0x800000 else raw_longitude) * 360 / (1 << 24)
    return latitude, longitude


def _shown(item: ReceivedField) -> str:
    meaning = item.meaning
    if item.ignored:
        return f"{len(item.value)} octet(s): {item.value[:32].hex(' ')} - {item.ignored}"
    if item.id == FieldId.DURATION:
        return f"{meaning} s"
    if item.id == FieldId.REJECT_CAUSE:
        cause, phrase = meaning
        return f"{cause}" + (f", phrase {phrase.decode('utf-8', 'replace')!r}" if phrase else "")
    if item.id == FieldId.QUEUE_INFO:
        position, priority = meaning
        where = {254: "not queued", 255: "queued, position not disclosed"}.get(position, f"position {position}")
        return f"{where}, priority {priority}"
    if item.id == FieldId.SOURCE:
        return f"{int(meaning)} ({meaning.name.replace('_', ' ').lower()})"
    if item.id == FieldId.MESSAGE_TYPE:
        return f"0x{meaning:02X} ({subtype_name(meaning)})"
    if item.id == FieldId.FLOOR_INDICATOR:
        bits = [name for mask, name in FLOOR_INDICATORS.items() if meaning & mask]
        return f"0x{meaning:04X} ({', '.join(bits) or 'none'})"
    if item.id == FieldId.SSRC:
        return f"0x{meaning:08X}"
    if item.id == FieldId.LOCATION:
        kind, octets = meaning
        shown = f"type {kind} ({LOCATION_TYPES[kind]})" + (f": {octets.hex(' ')}" if octets else "")
        if kind == 6:
            latitude, longitude = coordinates(octets)
            shown += f" ({latitude:.5f}, {longitude:.5f} degrees)"
        return shown
    if item.id == FieldId.PERMISSION_TO_REQUEST:
        return f"{meaning} ({'permitted' if meaning else 'not permitted'})"
    if isinstance(meaning, str):
        return repr(meaning)
    if isinstance(meaning, bytes):
        return f"{len(meaning)} octet(s): {meaning[:32].hex(' ')}" + (" ..." if len(meaning) > 32 else "")
    return str(meaning)


def field_rows(data: bytes) -> list[tuple[str, str, str]]:
    """``(location, field, value)`` rows of a packet for a decoded field table (the HTML report, ``--explain``)."""
    judgement = judge(data)
    packet = judgement.packet
    if packet is None:
        finding = judgement.errors[0]
        return [(finding.location, "not readable", f"{finding.rule}: {finding.message}")]
    rows = [
        ("/octet/0", "subtype", f"{packet.subtype} ({subtype_name(packet.subtype)})"),
        ("/octet/2", "length", f"{int.from_bytes(data[2:4])} (words - 1)"),
        ("/octet/4", "SSRC", f"0x{packet.ssrc:08X}"),
        ("/octet/8", "name", "MCPT"),
    ]
    if packet.body:
        rows.append((f"/octet/{HEADER_SIZE}", "not decoded", f"{len(packet.body)} octet(s)"))
    rows += [(f"/octet/{item.offset}", f"{item.id} {item.name}", _shown(item)) for item in judgement.fields]
    return rows


def explain(data: bytes) -> list[str]:
    """The decoded field table of a packet, one line per row, for ``harness validate --explain``."""
    return [f"{location:<10} {name}: {value}" for location, name, value in field_rows(data)]
