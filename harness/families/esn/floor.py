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
``/octet/N``, N the first octet of the item at fault. The tables (subtypes, fields, causes, rules) are
:mod:`harness.families.esn.floor_tables`, re-exported here; the decoded field table for ``--explain`` and the
report is :mod:`harness.families.esn.floor_format`. Choices the spec leaves open: ``docs/decisions-esn-1.1.md``
(section esnfloor).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.families.esn.floor_tables import (
    ACK_BIT,
    DENY_CAUSES,
    FIELD_NAMES,
    FIXED_SIZES,
    FLOOR_INDICATORS,
    FLOOR_PATH,
    FLOOR_SESSIONS_HOOK,
    HEADER_SIZE,
    KNOWN_SUBTYPES,
    LEGACY_FIELD_IDS,
    LOCATION_SIZES,
    LOCATION_TYPES,
    MAX_PACKET,
    MEDIA_TYPE,
    NAME,
    PT_APP,
    REPEATABLE_IN_GRANTED,
    REQUIRED_FIELDS,
    RESERVED_INDICATORS,
    REVOKE_CAUSES,
    RULES,
    SUBTYPE_NAMES,
    URI_FIELDS,
    WITH_ACK,
    FieldId,
    Source,
    Subtype,
    subtype_name,
)
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
    "decode",
    "encode",
    "judge",
    "message_type_value",
    "priority_value",
    "queue_info_value",
    "reject_cause_value",
    "ssrc_value",
    "subtype_name",
    "u16_value",
]


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
        return self.known and bool(self.subtype & ACK_BIT) and (self.subtype & ~ACK_BIT) in WITH_ACK

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
    size = FIXED_SIZES.get(field_id)
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
    if field_id in URI_FIELDS:
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
        if number & RESERVED_INDICATORS:
            return None, "FLR-09", f"reserved bits J-P set (0x{number & RESERVED_INDICATORS:04X})"
        return number, "", ""
    if field_id == FieldId.SSRC:
        return int.from_bytes(value[:4]), "", ""
    if field_id == FieldId.LOCATION:
        if not value:
            return None, "FLR-06", "an empty Location has no location type"
        kind = value[0]
        if kind not in LOCATION_SIZES:
            return None, "FLR-09", f"location type {kind} is above 6"
        if len(value) != 1 + LOCATION_SIZES[kind]:
            wanted = 1 + LOCATION_SIZES[kind]
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
        if subtype & ACK_BIT and subtype & ~ACK_BIT in SUBTYPE_NAMES:
            reason = f"subtype {subtype}: {SUBTYPE_NAMES[subtype & ~ACK_BIT]} has no x bit; not decoded"
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
        if field_id in seen and not (granted and field_id in REPEATABLE_IN_GRANTED):
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
