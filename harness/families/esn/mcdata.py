"""The binary MCData messages of 3GPP TS 24.282 clause 15, as ``specs/esn.md`` profiles them.

Public API::

    decode(data: bytes | bytearray | memoryview, version: str | None = None) -> Message
    decode_located(data, version=None) -> Located        # the message and the octet of each field
    encode(message: Message) -> bytes
    Message = (SdsSignalling | DataPayload | SdsNotification | FdSignalling | FdNotification
               | FdNetworkNotification | Protected)

``version`` is the version of ``specs/esn.md`` whose tables apply (None: the latest, 1.1). **1.0** decodes
message types 1, 3 and 5 and refuses every other type as MCD-03; its optional IEs are those listed
below for 1.0. **1.1** also decodes FD SIGNALLING PAYLOAD (2), FD NOTIFICATION (6) and FD NETWORK
NOTIFICATION (9), refuses the other types as MCD-13, and adds the IEs ``0x9_`` (FD disposition request
type), ``0xA_`` (mandatory download), ``0x78`` (Payload, in FD), ``0x79`` (Metadata), ``0x7E`` (user
location) and ``0x51`` (sender MCData user ID) in the order of its table ("Optional IEs, 1.1 table"):
under 1.0 those octets stay MCD-06 (trailing octets), so every 1.0 verdict re-runs unchanged.
:func:`encode` writes whatever the message holds (an IE only 1.1 knows makes a 1.1 message).

Messages (clause 15.1; all integers big-endian, octets numbered from 0; field codings in clause 15.2):

- :class:`SdsSignalling`, SDS SIGNALLING PAYLOAD (message type 1, 38 octets at
  least): date and time (5 octets, seconds since 1970-01-01T00:00Z), Conversation
  ID and Message ID (16 octets each, :class:`uuid.UUID`), then the optional IEs
  in this order: InReplyTo message ID (TV ``0x21`` + 16), Application ID (TV
  ``0x22`` + 1, **profile**), SDS disposition request type (half-octet TV
  ``0x8N``, clause 15.2.3, N = 1 delivery, 2 read, 3 both), Extended application
  ID (TLV-E ``0x7D``: 2-octet length + value, kept as opaque octets).
- :class:`DataPayload`, DATA PAYLOAD (type 3): number of payloads (1 octet,
  at least 1), then that many Payload IEs: ``0x78``, a 2-octet length counting
  the content type octet and the data, the content type (clause 15.2), the data.
- :class:`SdsNotification`, SDS NOTIFICATION (type 5, 39 octets at least):
  disposition notification type (clause 15.2.5: 1 undelivered, 2 delivered,
  3 read, 4 delivered and read, 5 disposition prevented by system), date and
  time, Conversation ID, Message ID (those of the SDS it answers), then the
  optional Application ID (``0x22``) and Extended application ID (``0x7D``).
- :class:`FdSignalling`, FD SIGNALLING PAYLOAD (type 2, 1.1; 38 octets at least): the same mandatory
  part as the SDS signalling, then InReplyTo (``0x21``), Application ID (``0x22``), FD disposition
  request type (``0x91``: FILE DOWNLOAD COMPLETED UPDATE, ``completion_requested``), mandatory download
  (``0xA1``), Payload IEs (``0x78``, the FILEURL; exactly one is a rule of validation, MCD-14/15, not of
  the codec), Metadata (``0x79``, kept as octets), Extended application ID (``0x7D``), sender (``0x51``).
- :class:`FdNotification` (type 6) and :class:`FdNetworkNotification` (type 9), 1.1: the shape of the
  SDS NOTIFICATION (type octet, notification type, date and time, the two ids), then ``0x22``, ``0x7D``
  and (FD NOTIFICATION only) ``0x51``.
- :class:`Protected`: the first octet's bit 7 (``0x40``, protected) or bit 8
  (``0x80``, authenticated) is set. **profile:** such a message is "protected,
  not decoded": its octets are kept as they are and :func:`encode` gives them back.

Payload contents, one class per content type: :class:`Text` (1, UTF-8),
:class:`Binary` (2), :class:`Hyperlinks` (3), :class:`FileUrl` (4),
:class:`Location` (5), :class:`EnhancedStatus` (6), :class:`LocationAltitude`
(8), :class:`LocationTimestamp` (9), :class:`CodedText` (10). Where the profile
does not fix a coding (hyperlinks, file URL, location timestamp, coded text) the
data is kept as opaque octets. :class:`Location` and :class:`LocationAltitude`
keep the raw field values, so that ``encode(decode(x)) == x`` for every valid
``x``; degrees and metres are derived from them.

Examples (hex; ``C`` = the 16 octets of Conversation ID ``8d1e7c5a-3b4f-4c2d-9e6f-1a2b3c4d5e6f``,
``M`` = those of Message ID ``f47ac10b-58cc-4372-a567-0e02b2c3d479``)::

    01 00 6A BD 11 30 C M 81          SDS SIGNALLING PAYLOAD, 1790775600, delivery report requested (39 octets)
    05 02 00 6A BD 11 31 C M          SDS NOTIFICATION "delivered" answering it one second later (39 octets)
    03 01 78 00 03 01 68 69           DATA PAYLOAD, TEXT "hi"
    03 01 78 00 07 05 49 3E D5 FF E9 51
                                      DATA PAYLOAD, LOCATION latitude 0x493ED5 (51.50070 N),
                                      longitude 0xFFE951 (-5807, 0.12460 W)

The message type and notification enums and the payload content classes live in
:mod:`harness.families.esn.mcdata_content` and
the error in :mod:`harness.families.esn.errors`; import all of them from here.

:func:`decode` never reads past the buffer it is given and raises nothing but
:class:`CodecError`, whose ``offset`` is the 0-based octet where the message
goes wrong and whose ``rule`` is one of :class:`Fault` (``MCD-01`` ...).
:func:`encode` raises :class:`CodecError` (rule ``MCD-12``) for values that
cannot be encoded, with the offset the field would have had.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

from harness.families.esn.errors import CodecError, Fault
from harness.families.esn.mcdata_content import (
    Binary,
    CodedText,
    ContentType,
    Disposition,
    EnhancedStatus,
    FdNetworkNotificationType,
    FdNotificationType,
    FileUrl,
    Hyperlinks,
    Location,
    LocationAltitude,
    LocationTimestamp,
    MessageType,
    NotificationType,
    PayloadContent,
    Text,
    content_octets,
    decode_content,
    message_type_name,
)

__all__ = [
    "LATEST",
    "Binary",
    "CodecError",
    "CodedText",
    "ContentType",
    "DataPayload",
    "Disposition",
    "EnhancedStatus",
    "Fault",
    "FdNetworkNotification",
    "FdNetworkNotificationType",
    "FdNotification",
    "FdNotificationType",
    "FdSignalling",
    "FileUrl",
    "Hyperlinks",
    "Located",
    "Location",
    "LocationAltitude",
    "LocationTimestamp",
    "Message",
    "MessageType",
    "NotificationType",
    "PayloadContent",
    "Protected",
    "SdsNotification",
    "SdsSignalling",
    "Text",
    "decode",
    "decode_located",
    "encode",
    "message_type_name",
    "table_version",
]


# --------------------------------------------------------------------------- messages

LATEST = "1.1"
"""The newest version of ``specs/esn.md`` whose tables the codec knows (what ``version=None`` means)."""

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MAX_DATE_TIME = (1 << 40) - 1


@dataclass(slots=True, frozen=True)
class SdsSignalling:
    """SDS SIGNALLING PAYLOAD (TS 24.282 clause 15.1.2)."""

    date_time: int
    """Seconds since 1970-01-01T00:00Z, 0 .. 2^40-1."""
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    in_reply_to: uuid.UUID | None = None
    application_id: int | None = None
    disposition: Disposition | None = None
    extended_application_id: bytes | None = None
    """The IE's value as sent (its first octet is a content type, 1 TEXT or 2 URI; kept opaque)."""
    user_location: bytes | None = None
    """IE ``0x7E`` (1.1), kept opaque."""
    sender: str | None = None
    """IE ``0x51`` (1.1), the sender's MCData user ID (a URI, UTF-8)."""
    message_type: ClassVar[MessageType] = MessageType.SDS_SIGNALLING_PAYLOAD

    @property
    def sent_at(self) -> dt.datetime:
        return _EPOCH + dt.timedelta(seconds=self.date_time)


@dataclass(slots=True, frozen=True)
class DataPayload:
    """DATA PAYLOAD (TS 24.282 clause 15.1): one or more payload contents."""

    payloads: tuple[PayloadContent, ...]
    message_type: ClassVar[MessageType] = MessageType.DATA_PAYLOAD


@dataclass(slots=True, frozen=True)
class SdsNotification:
    """SDS NOTIFICATION (TS 24.282 clause 15.1.4): a disposition for the SDS with these ids."""

    notification: NotificationType
    date_time: int
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    application_id: int | None = None
    extended_application_id: bytes | None = None
    sender: str | None = None
    """IE ``0x51`` (1.1)."""
    message_type: ClassVar[MessageType] = MessageType.SDS_NOTIFICATION

    @property
    def sent_at(self) -> dt.datetime:
        return _EPOCH + dt.timedelta(seconds=self.date_time)

    @classmethod
    def answering(cls, sds: SdsSignalling, notification: NotificationType, date_time: int) -> SdsNotification:
        """The notification for ``sds`` as 1.0's reference sends it: its ids (and Application ID, if any)."""
        return cls(notification, date_time, sds.conversation_id, sds.message_id, sds.application_id)

    @classmethod
    def echoing(cls, sds: SdsSignalling, notification: NotificationType, date_time: int) -> SdsNotification:
        """The notification for ``sds`` as 1.1 wants it ([282] 6.2.3.1 steps 6-9): its ids, and its Application
        ID and Extended application ID octet for octet when it carried them (neither when it did not)."""
        return cls(
            notification,
            date_time,
            sds.conversation_id,
            sds.message_id,
            sds.application_id,
            sds.extended_application_id,
        )


@dataclass(slots=True, frozen=True)
class FdSignalling:
    """FD SIGNALLING PAYLOAD (TS 24.282 clause 15.1.3; esn 1.1): a file offered by its URL."""

    date_time: int
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    in_reply_to: uuid.UUID | None = None
    application_id: int | None = None
    completion_requested: bool = False
    """IE ``0x91``: FD disposition request type FILE DOWNLOAD COMPLETED UPDATE."""
    mandatory_download: bool = False
    """IE ``0xA1``: MANDATORY DOWNLOAD."""
    payloads: tuple[PayloadContent, ...] = ()
    """The Payload IEs (``0x78``): over HTTP exactly one, a FILEURL (MCD-14/MCD-15 of validation)."""
    metadata: bytes | None = None
    """IE ``0x79`` as sent (UTF-8 text of [282] 15.2.17; read by :func:`read_metadata`)."""
    extended_application_id: bytes | None = None
    sender: str | None = None
    message_type: ClassVar[MessageType] = MessageType.FD_SIGNALLING_PAYLOAD

    @property
    def file_url(self) -> bytes | None:
        """The octets of the first FILEURL payload, or None."""
        return next((p.data for p in self.payloads if isinstance(p, FileUrl)), None)

    @property
    def sent_at(self) -> dt.datetime:
        return _EPOCH + dt.timedelta(seconds=self.date_time)


@dataclass(slots=True, frozen=True)
class FdNotification:
    """FD NOTIFICATION (TS 24.282 clause 15.1.5; esn 1.1): a disposition for the FD message with these ids."""

    notification: FdNotificationType
    date_time: int
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    application_id: int | None = None
    extended_application_id: bytes | None = None
    sender: str | None = None
    message_type: ClassVar[MessageType] = MessageType.FD_NOTIFICATION

    @classmethod
    def answering(cls, fd: FdSignalling, notification: FdNotificationType, date_time: int) -> FdNotification:
        """The notification for ``fd``: its ids, its application ids echoed ([282] 6.2.3.2 steps 4-6)."""
        return cls(
            notification, date_time, fd.conversation_id, fd.message_id, fd.application_id, fd.extended_application_id
        )


@dataclass(slots=True, frozen=True)
class FdNetworkNotification:
    """FD NETWORK NOTIFICATION (TS 24.282 clause 15.1.10; esn 1.1): the file is no longer to be had."""

    notification: FdNetworkNotificationType
    date_time: int
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    application_id: int | None = None
    extended_application_id: bytes | None = None
    message_type: ClassVar[MessageType] = MessageType.FD_NETWORK_NOTIFICATION


@dataclass(slots=True, frozen=True)
class Protected:
    """A protected (``0x40``) or authenticated (``0x80``) message: "protected, not decoded"."""

    message_type: int
    protected: bool
    authenticated: bool
    data: bytes
    """The whole message, first octet included; :func:`encode` returns it unchanged."""


Message = (
    SdsSignalling | DataPayload | SdsNotification | FdSignalling | FdNotification | FdNetworkNotification | Protected
)


@dataclass(slots=True, frozen=True)
class Located:
    """A decoded message and where each of its fields starts: ``(field, octet)`` in the order of the octets.

    Mandatory fields are named as the message's attributes (``date_time``, ``conversation_id``, ...); an
    optional IE by its attribute too, at the octet of its IEI (a repeated Payload IE once per IE).
    """

    message: Message
    fields: tuple[tuple[str, int], ...]

    def offsets(self, name: str) -> tuple[int, ...]:
        """Every octet where field ``name`` starts (empty when absent)."""
        return tuple(offset for field, offset in self.fields if field == name)


# --------------------------------------------------------------------------- decoding

_UUID = uuid.UUID
_IEI_IN_REPLY_TO = 0x21
_IEI_APPLICATION_ID = 0x22
_IEI_DISPOSITION = 0x80
_IEI_FD_DISPOSITION = 0x90
_IEI_MANDATORY_DOWNLOAD = 0xA0
_IEI_EXTENDED_APPLICATION_ID = 0x7D
_IEI_PAYLOAD = 0x78
_IEI_METADATA = 0x79
_IEI_USER_LOCATION = 0x7E
_IEI_SENDER = 0x51


@dataclass(slots=True, frozen=True)
class _Ie:
    """An optional IE of a message's table: its IEI (a half-octet IE: the high nibble), the attribute it fills."""

    iei: int
    field: str
    name: str
    coding: str
    """``uuid`` (TV, 16 octets), ``octet`` (TV, 1), ``nibble`` (half-octet TV), ``bytes``/``utf8``/``payload``
    (TLV-E: a 2-octet length, then the value; a Payload's value is a content type and its data)."""
    values: tuple[int, ...] = ()
    repeats: bool = False
    """May stand several times in a row (the FD Payload: how many is validation's MCD-15, not the codec's)."""


_IN_REPLY_TO = _Ie(_IEI_IN_REPLY_TO, "in_reply_to", "InReplyTo message ID", "uuid")
_APPLICATION_ID = _Ie(_IEI_APPLICATION_ID, "application_id", "Application ID", "octet")
_SDS_DISPOSITION = _Ie(_IEI_DISPOSITION, "disposition", "SDS disposition request type", "nibble", (1, 2, 3))
_FD_DISPOSITION = _Ie(_IEI_FD_DISPOSITION, "completion_requested", "FD disposition request type", "nibble", (1,))
_MANDATORY = _Ie(_IEI_MANDATORY_DOWNLOAD, "mandatory_download", "Mandatory download", "nibble", (1,))
_PAYLOAD = _Ie(_IEI_PAYLOAD, "payloads", "Payload", "payload", repeats=True)
_METADATA = _Ie(_IEI_METADATA, "metadata", "Metadata", "bytes")
_EXTENDED = _Ie(_IEI_EXTENDED_APPLICATION_ID, "extended_application_id", "Extended application ID", "bytes")
_USER_LOCATION = _Ie(_IEI_USER_LOCATION, "user_location", "User location", "bytes")
_SENDER = _Ie(_IEI_SENDER, "sender", "Sender MCData user ID", "utf8")

_TABLES: dict[tuple[str, int], tuple[_Ie, ...]] = {
    ("1.0", MessageType.SDS_SIGNALLING_PAYLOAD): (_IN_REPLY_TO, _APPLICATION_ID, _SDS_DISPOSITION, _EXTENDED),
    ("1.0", MessageType.SDS_NOTIFICATION): (_APPLICATION_ID, _EXTENDED),
    ("1.1", MessageType.SDS_SIGNALLING_PAYLOAD): (
        _IN_REPLY_TO,
        _APPLICATION_ID,
        _SDS_DISPOSITION,
        _EXTENDED,
        _USER_LOCATION,
        _SENDER,
    ),
    ("1.1", MessageType.FD_SIGNALLING_PAYLOAD): (
        _IN_REPLY_TO,
        _APPLICATION_ID,
        _FD_DISPOSITION,
        _MANDATORY,
        _PAYLOAD,
        _METADATA,
        _EXTENDED,
        _SENDER,
    ),
    ("1.1", MessageType.SDS_NOTIFICATION): (_APPLICATION_ID, _EXTENDED, _SENDER),
    ("1.1", MessageType.FD_NOTIFICATION): (_APPLICATION_ID, _EXTENDED, _SENDER),
    ("1.1", MessageType.FD_NETWORK_NOTIFICATION): (_APPLICATION_ID, _EXTENDED),
}
"""The optional IEs of each message, in their order, per version of the tables (specs/esn.md)."""


def _lookups(table: tuple[_Ie, ...]) -> tuple[dict[int, int], dict[int, int]]:
    full = {ie.iei: rank for rank, ie in enumerate(table) if ie.coding != "nibble"}
    half = {ie.iei: rank for rank, ie in enumerate(table) if ie.coding == "nibble"}
    return full, half


_LOOKUPS = {key: _lookups(table) for key, table in _TABLES.items()}
_DECODED = {"1.0": frozenset((1, 3, 5)), "1.1": frozenset((1, 2, 3, 5, 6, 9))}
_NOT_DECODED = {"1.0": Fault.UNKNOWN_MESSAGE_TYPE, "1.1": Fault.NOT_DECODED_1_1}


def table_version(version: str | None) -> str:
    """``1.0`` for 1.0 (and anything before it), else ``1.1``: the codec's tables of ``version``."""
    if version is None:
        return LATEST
    try:
        parts = tuple(int(part) for part in version.split("."))
    except ValueError:
        return LATEST
    return "1.0" if parts < (1, 1) else "1.1"


def _require(data: bytes, offset: int, size: int, what: str) -> None:
    remaining = len(data) - offset
    if remaining < size:
        raise CodecError(offset, f"{what} needs {size} octet(s), {max(remaining, 0)} remain", Fault.TRUNCATED)


def _tlv_e(data: bytes, offset: int, what: str) -> tuple[bytes, int]:
    """The value of the TLV-E IE at ``offset`` and the offset after it."""
    _require(data, offset + 1, 2, f"length of {what}")
    length = (data[offset + 1] << 8) | data[offset + 2]
    start = offset + 3
    if start + length > len(data):
        raise CodecError(
            offset + 1,
            f"{what} length {length} runs past the end ({len(data) - start} octet(s) remain)",
            Fault.LENGTH_PAST_END,
        )
    return data[start : start + length], start + length


def _ids(data: bytes, offset: int) -> tuple[int, uuid.UUID, uuid.UUID]:
    """Date and time, Conversation ID and Message ID starting at ``offset``."""
    if len(data) < offset + 37:
        _require(data, offset, 5, "date and time")
        _require(data, offset + 5, 16, "Conversation ID")
        _require(data, offset + 21, 16, "Message ID")
    date_time = int.from_bytes(data[offset : offset + 5])
    return date_time, _UUID(bytes=data[offset + 5 : offset + 21]), _UUID(bytes=data[offset + 21 : offset + 37])


# Enum lookups by index: calling the enum class costs more than the rest of a field's decoding.
_DISPOSITIONS: dict[int, Disposition] = {int(value): value for value in Disposition}
_NOTIFICATION_TYPES: dict[int, dict[int, Any]] = {
    MessageType.SDS_NOTIFICATION: {int(value): value for value in NotificationType},
    MessageType.FD_NOTIFICATION: {int(value): value for value in FdNotificationType},
    MessageType.FD_NETWORK_NOTIFICATION: {int(value): value for value in FdNetworkNotificationType},
}
_NOTIFICATION_NAMES: dict[int, str] = {
    MessageType.SDS_NOTIFICATION: "SDS disposition notification type",
    MessageType.FD_NOTIFICATION: "FD disposition notification type",
    MessageType.FD_NETWORK_NOTIFICATION: "FD network notification type",
}


def _optional_ies(
    data: bytes, offset: int, key: tuple[str, int], fields: dict[str, Any], located: list[tuple[str, int]]
) -> None:
    """Read the optional IEs from ``offset`` to the end into ``fields``, in the order of the table of ``key``."""
    end = len(data)
    if offset >= end:
        return
    table = _TABLES[key]
    full, half = _LOOKUPS[key]
    rank = -1
    payloads: list[PayloadContent] = []
    while offset < end:
        iei = data[offset]
        position = full.get(iei)
        if position is None:
            position = half.get(iei & 0xF0)
            if position is None:
                name = message_type_name(key[1])
                raise CodecError(offset, f"0x{iei:02X} is not an IE of {name}", Fault.TRAILING_OCTETS)
        ie = table[position]
        if position < rank or (position == rank and not ie.repeats):
            order = ", ".join(item.name for item in table)
            raise CodecError(offset, f"{ie.name} repeated or out of order (the order is {order})", Fault.IE_ORDER)
        rank = position
        located.append((ie.field, offset))
        coding = ie.coding
        if coding == "uuid":
            _require(data, offset + 1, 16, ie.name)
            fields[ie.field] = _UUID(bytes=data[offset + 1 : offset + 17])
            offset += 17
        elif coding == "octet":
            _require(data, offset + 1, 1, ie.name)
            fields[ie.field] = data[offset + 1]
            offset += 2
        elif coding == "nibble":
            value = iei & 0x0F
            if value not in ie.values:
                allowed = ", ".join(str(v) for v in ie.values)
                raise CodecError(offset, f"unknown {ie.name} {value} ({allowed})", Fault.UNKNOWN_VALUE)
            fields[ie.field] = _DISPOSITIONS[value] if ie is _SDS_DISPOSITION else True
            offset += 1
        elif coding == "payload":
            value_bytes, after = _tlv_e(data, offset, ie.name)
            if not value_bytes:
                raise CodecError(offset + 1, "Payload length 0 leaves no room for the content type", Fault.CONTENT_SIZE)
            payloads.append(decode_content(data, offset + 3, after))
            offset = after
        else:
            value_bytes, after = _tlv_e(data, offset, ie.name)
            if coding == "utf8":
                try:
                    fields[ie.field] = value_bytes.decode("utf-8")
                except UnicodeDecodeError as exc:
                    at = offset + 3 + exc.start
                    raise CodecError(at, f"{ie.name} is not UTF-8 ({exc.reason})", Fault.NOT_UTF8) from None
            else:
                fields[ie.field] = value_bytes
            offset = after
    if payloads:  # one tuple at the end: a message may hold thousands of Payload IEs (MCD-15 judges how many)
        fields[_PAYLOAD.field] = tuple(payloads)


def _decode_signalling(data: bytes, version: str, located: list[tuple[str, int]]) -> Message:
    kind = data[0] & 0x3F
    date_time, conversation_id, message_id = _ids(data, 1)
    located += [("message_type", 0), ("date_time", 1), ("conversation_id", 6), ("message_id", 22)]
    fields: dict[str, Any] = {}
    _optional_ies(data, 38, (version, kind), fields, located)
    if kind == MessageType.FD_SIGNALLING_PAYLOAD:
        return FdSignalling(date_time, conversation_id, message_id, **fields)
    return SdsSignalling(date_time, conversation_id, message_id, **fields)


def _decode_notification(data: bytes, version: str, located: list[tuple[str, int]]) -> Message:
    kind = data[0] & 0x3F
    name = _NOTIFICATION_NAMES[kind]
    _require(data, 1, 1, name)
    values = _NOTIFICATION_TYPES[kind]
    notification = values.get(data[1])
    if notification is None:
        allowed = f"1..{max(values)}"
        raise CodecError(1, f"unknown {name} {data[1]} ({allowed})", Fault.UNKNOWN_VALUE)
    date_time, conversation_id, message_id = _ids(data, 2)
    located += [("message_type", 0), ("notification", 1), ("date_time", 2), ("conversation_id", 7), ("message_id", 23)]
    fields: dict[str, Any] = {}
    _optional_ies(data, 39, (version, kind), fields, located)
    if kind == MessageType.SDS_NOTIFICATION:
        return SdsNotification(notification, date_time, conversation_id, message_id, **fields)
    if kind == MessageType.FD_NOTIFICATION:
        return FdNotification(notification, date_time, conversation_id, message_id, **fields)
    return FdNetworkNotification(notification, date_time, conversation_id, message_id, **fields)


def _decode_data_payload(data: bytes, version: str, located: list[tuple[str, int]]) -> DataPayload:
    _require(data, 1, 1, "number of payloads")
    count = data[1]
    if count == 0:
        raise CodecError(1, "number of payloads is 0 (a DATA PAYLOAD carries at least one)", Fault.UNKNOWN_VALUE)
    located += [("message_type", 0), ("count", 1)]
    contents: list[PayloadContent] = []
    offset, end = 2, len(data)
    while offset < end:
        if data[offset] != _IEI_PAYLOAD:
            raise CodecError(offset, f"0x{data[offset]:02X} is not a Payload IE (0x78)", Fault.TRAILING_OCTETS)
        if len(contents) == count:
            raise CodecError(
                1, f"number of payloads is {count} but another Payload IE starts at octet {offset}", Fault.PAYLOAD_COUNT
            )
        _require(data, offset + 1, 2, "Payload length")
        length = (data[offset + 1] << 8) | data[offset + 2]
        start = offset + 3
        if start + length > end:
            raise CodecError(
                offset + 1,
                f"Payload length {length} runs past the end ({end - start} octet(s) remain)",
                Fault.LENGTH_PAST_END,
            )
        if length == 0:
            raise CodecError(offset + 1, "Payload length 0 leaves no room for the content type", Fault.CONTENT_SIZE)
        located.append(("payloads", offset))
        contents.append(decode_content(data, start, start + length))
        offset = start + length
    if len(contents) != count:
        raise CodecError(
            1, f"number of payloads is {count} but {len(contents)} Payload IE(s) are present", Fault.PAYLOAD_COUNT
        )
    return DataPayload(tuple(contents))


_DECODERS = {
    MessageType.SDS_SIGNALLING_PAYLOAD: _decode_signalling,
    MessageType.FD_SIGNALLING_PAYLOAD: _decode_signalling,
    MessageType.DATA_PAYLOAD: _decode_data_payload,
    MessageType.SDS_NOTIFICATION: _decode_notification,
    MessageType.FD_NOTIFICATION: _decode_notification,
    MessageType.FD_NETWORK_NOTIFICATION: _decode_notification,
}
_KNOWN_TYPES = frozenset(int(t) for t in MessageType)


def _decode(data: bytes | bytearray | memoryview, version: str | None, located: list[tuple[str, int]]) -> Message:
    if isinstance(data, bytes):
        buffer = data
    elif isinstance(data, bytearray | memoryview):
        buffer = bytes(data)
    else:
        raise CodecError(0, f"{type(data).__name__} is not octets", Fault.TRUNCATED)
    if not buffer:
        raise CodecError(0, "empty: the message type octet is missing", Fault.TRUNCATED)
    tables = LATEST if version is None else table_version(version)
    first = buffer[0]
    kind = first & 0x3F
    if kind not in _KNOWN_TYPES:
        raise CodecError(0, f"unknown message type {kind}", _NOT_DECODED[tables])
    if first & 0xC0:
        located.append(("message_type", 0))
        return Protected(kind, bool(first & 0x40), bool(first & 0x80), buffer)
    if kind not in _DECODED[tables]:
        raise CodecError(
            0,
            f"message type {kind} ({message_type_name(kind)}) is not decoded by the profile (esn {tables})",
            _NOT_DECODED[tables],
        )
    message: Message = _DECODERS[kind](buffer, tables, located)  # type: ignore[index]
    return message


def decode_located(data: bytes | bytearray | memoryview, version: str | None = None) -> Located:
    """:func:`decode`, with the octet where each field of the message starts."""
    located: list[tuple[str, int]] = []
    message = _decode(data, version, located)
    return Located(message, tuple(located))


def decode(data: bytes | bytearray | memoryview, version: str | None = None) -> Message:
    """The message in ``data``, or :class:`CodecError` naming the octet where it goes wrong.

    ``version``: the version of specs/esn.md whose tables apply (None: the latest). Refused: a truncated
    message (MCD-01), a length running past the end (MCD-02), an unknown message type or one the version
    does not decode (MCD-03 in 1.0, MCD-13 from 1.1), an unknown mandatory value (MCD-04: notification
    type, content type, a half-octet IE's value, a payload count of 0), a payload count that disagrees
    with the Payload IEs present (MCD-05), trailing octets (MCD-06), a TEXT or a sender ID that is not
    UTF-8 (MCD-07), optional IEs out of order or repeated (MCD-08), a content of the wrong size (MCD-09).
    """
    return _decode(data, version, [])


# --------------------------------------------------------------------------- encoding


def _unencodable(offset: int, message: str) -> CodecError:
    return CodecError(offset, message, Fault.NOT_ENCODABLE)


def _byte(value: int | None, offset: int, what: str) -> int:
    if not isinstance(value, int) or not 0 <= value <= 0xFF:
        raise _unencodable(offset, f"{what} {value!r} is not an octet value (0..255)")
    return value


def _encode_ids(out: bytearray, date_time: int, conversation_id: uuid.UUID, message_id: uuid.UUID) -> None:
    if not isinstance(date_time, int) or not 0 <= date_time <= _MAX_DATE_TIME:
        raise _unencodable(len(out), f"date and time {date_time!r} does not fit 5 octets")
    out += date_time.to_bytes(5)
    for what, value in (("Conversation ID", conversation_id), ("Message ID", message_id)):
        if not isinstance(value, uuid.UUID):
            raise _unencodable(len(out), f"{what} {value!r} is not a UUID")
        out += value.bytes


def _encode_tlv_e(out: bytearray, iei: int, value: bytes, what: str) -> None:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise _unencodable(len(out), f"{what} {value!r} is not octets")
    if len(value) > 0xFFFF:
        raise _unencodable(len(out), f"{what} of {len(value)} octets does not fit a 2-octet length")
    out.append(iei)
    out += len(value).to_bytes(2)
    out += value


def _encode_text(out: bytearray, iei: int, value: str, what: str) -> None:
    try:
        octets = value.encode("utf-8")
    except (UnicodeEncodeError, AttributeError):
        raise _unencodable(len(out), f"{what} {value!r} is not encodable as UTF-8") from None
    _encode_tlv_e(out, iei, octets, what)


def _encode_in_reply_to(out: bytearray, value: uuid.UUID | None) -> None:
    if value is not None:
        if not isinstance(value, uuid.UUID):
            raise _unencodable(len(out), f"InReplyTo message ID {value!r} is not a UUID")
        out.append(_IEI_IN_REPLY_TO)
        out += value.bytes


def _encode_application_id(out: bytearray, value: int | None) -> None:
    if value is not None:
        out += bytes((_IEI_APPLICATION_ID, _byte(value, len(out) + 1, "Application ID")))


def _encode_payload(out: bytearray, content: PayloadContent) -> None:
    octets = content_octets(content, len(out) + 4)
    if len(octets) + 1 > 0xFFFF:
        raise _unencodable(len(out) + 1, f"a payload of {len(octets)} octets does not fit a 2-octet length")
    out.append(_IEI_PAYLOAD)
    out += (len(octets) + 1).to_bytes(2)
    out.append(content.content_type)
    out += octets


def _encode_tail(out: bytearray, extended: bytes | None, location: bytes | None, sender: str | None) -> None:
    if extended is not None:
        _encode_tlv_e(out, _IEI_EXTENDED_APPLICATION_ID, extended, "Extended application ID")
    if location is not None:
        _encode_tlv_e(out, _IEI_USER_LOCATION, location, "User location")
    if sender is not None:
        _encode_text(out, _IEI_SENDER, sender, "Sender MCData user ID")


def _encode_signalling(message: SdsSignalling) -> bytes:
    out = bytearray((MessageType.SDS_SIGNALLING_PAYLOAD,))
    _encode_ids(out, message.date_time, message.conversation_id, message.message_id)
    _encode_in_reply_to(out, message.in_reply_to)
    _encode_application_id(out, message.application_id)
    if message.disposition is not None:
        if message.disposition not in (1, 2, 3):
            raise _unencodable(len(out), f"SDS disposition request type {message.disposition!r} is not 1..3")
        out.append(_IEI_DISPOSITION | int(message.disposition))
    _encode_tail(out, message.extended_application_id, message.user_location, message.sender)
    return bytes(out)


def _encode_fd_signalling(message: FdSignalling) -> bytes:
    out = bytearray((MessageType.FD_SIGNALLING_PAYLOAD,))
    _encode_ids(out, message.date_time, message.conversation_id, message.message_id)
    _encode_in_reply_to(out, message.in_reply_to)
    _encode_application_id(out, message.application_id)
    if message.completion_requested:
        out.append(_IEI_FD_DISPOSITION | 1)
    if message.mandatory_download:
        out.append(_IEI_MANDATORY_DOWNLOAD | 1)
    for content in tuple(message.payloads):
        _encode_payload(out, content)
    if message.metadata is not None:
        _encode_tlv_e(out, _IEI_METADATA, message.metadata, "Metadata")
    _encode_tail(out, message.extended_application_id, None, message.sender)
    return bytes(out)


def _encode_notification(message: SdsNotification | FdNotification | FdNetworkNotification) -> bytes:
    kind = message.message_type
    allowed = _NOTIFICATION_TYPES[kind]
    if not isinstance(message.notification, int) or message.notification not in allowed:
        raise _unencodable(1, f"{_NOTIFICATION_NAMES[kind]} {message.notification!r} is not 1..{max(allowed)}")
    out = bytearray((kind, int(message.notification)))
    _encode_ids(out, message.date_time, message.conversation_id, message.message_id)
    _encode_application_id(out, message.application_id)
    sender = None if isinstance(message, FdNetworkNotification) else message.sender
    _encode_tail(out, message.extended_application_id, None, sender)
    return bytes(out)


def _encode_data_payload(message: DataPayload) -> bytes:
    payloads = tuple(message.payloads)
    if not 1 <= len(payloads) <= 0xFF:
        raise _unencodable(1, f"a DATA PAYLOAD carries 1..255 payloads, not {len(payloads)}")
    out = bytearray((MessageType.DATA_PAYLOAD, len(payloads)))
    for content in payloads:
        _encode_payload(out, content)
    return bytes(out)


def encode(message: Message) -> bytes:
    """The octets of ``message``; ``encode(decode(data)) == data`` for every ``data`` that decodes."""
    if isinstance(message, SdsSignalling):
        return _encode_signalling(message)
    if isinstance(message, DataPayload):
        return _encode_data_payload(message)
    if isinstance(message, SdsNotification | FdNotification | FdNetworkNotification):
        return _encode_notification(message)
    if isinstance(message, FdSignalling):
        return _encode_fd_signalling(message)
    if isinstance(message, Protected):
        return bytes(message.data)
    raise _unencodable(0, f"{type(message).__name__} is not an MCData message")
