"""The binary MCData messages of 3GPP TS 24.282 clause 15, as ``specs/esn.md`` profiles them.

Public API::

    decode(data: bytes | bytearray | memoryview) -> Message
    encode(message: Message) -> bytes
    Message = SdsSignalling | DataPayload | SdsNotification | Protected

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
the error in :mod:`harness.codecs.errors`; import all of them from here.

:func:`decode` never reads past the buffer it is given and raises nothing but
:class:`CodecError`, whose ``offset`` is the 0-based octet where the message
goes wrong and whose ``rule`` is one of :class:`Fault` (``MCD-01`` ...).
:func:`encode` raises :class:`CodecError` (rule ``MCD-12``) for values that
cannot be encoded, with the offset the field would have had.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from harness.codecs.errors import CodecError, Fault
from harness.families.esn.mcdata_content import (
    Binary,
    CodedText,
    ContentType,
    Disposition,
    EnhancedStatus,
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
    "Binary",
    "CodecError",
    "CodedText",
    "ContentType",
    "DataPayload",
    "Disposition",
    "EnhancedStatus",
    "Fault",
    "FileUrl",
    "Hyperlinks",
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
    "encode",
    "message_type_name",
]


# --------------------------------------------------------------------------- messages

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MAX_DATE_TIME = (1 << 40) - 1


@dataclass(slots=True, frozen=True)
class SdsSignalling:
    """SDS SIGNALLING PAYLOAD (TS 24.282 clause 15.1)."""

    date_time: int
    """Seconds since 1970-01-01T00:00Z, 0 .. 2^40-1."""
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    in_reply_to: uuid.UUID | None = None
    application_id: int | None = None
    disposition: Disposition | None = None
    extended_application_id: bytes | None = None
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
    """SDS NOTIFICATION (TS 24.282 clause 15.1): a disposition for the SDS with these ids."""

    notification: NotificationType
    date_time: int
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    application_id: int | None = None
    extended_application_id: bytes | None = None
    message_type: ClassVar[MessageType] = MessageType.SDS_NOTIFICATION

    @property
    def sent_at(self) -> dt.datetime:
        return _EPOCH + dt.timedelta(seconds=self.date_time)

    @classmethod
    def answering(cls, sds: SdsSignalling, notification: NotificationType, date_time: int) -> SdsNotification:
        """The notification for ``sds``: its Conversation ID and Message ID (and Application ID, if any)."""
        return cls(notification, date_time, sds.conversation_id, sds.message_id, sds.application_id)


@dataclass(slots=True, frozen=True)
class Protected:
    """A protected (``0x40``) or authenticated (``0x80``) message: "protected, not decoded"."""

    message_type: int
    protected: bool
    authenticated: bool
    data: bytes
    """The whole message, first octet included; :func:`encode` returns it unchanged."""


Message = SdsSignalling | DataPayload | SdsNotification | Protected

# --------------------------------------------------------------------------- decoding

_UUID = uuid.UUID
_IEI_IN_REPLY_TO = 0x21
_IEI_APPLICATION_ID = 0x22
_IEI_DISPOSITION = 0x80
_IEI_EXTENDED_APPLICATION_ID = 0x7D
_IEI_PAYLOAD = 0x78


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
_NOTIFICATION_TYPES: dict[int, NotificationType] = {int(value): value for value in NotificationType}
_SIGNALLING_IES = ("InReplyTo message ID", "Application ID", "SDS disposition request type", "Extended application ID")


def _decode_signalling(data: bytes) -> SdsSignalling:
    date_time, conversation_id, message_id = _ids(data, 1)
    in_reply_to: uuid.UUID | None = None
    application_id: int | None = None
    disposition: Disposition | None = None
    extended: bytes | None = None
    offset, rank, end = 38, -1, len(data)
    while offset < end:
        iei = data[offset]
        if iei == _IEI_IN_REPLY_TO:
            position = 0
        elif iei == _IEI_APPLICATION_ID:
            position = 1
        elif iei & 0xF0 == _IEI_DISPOSITION:
            position = 2
        elif iei == _IEI_EXTENDED_APPLICATION_ID:
            position = 3
        else:
            raise CodecError(offset, f"0x{iei:02X} is not an IE of SDS SIGNALLING PAYLOAD", Fault.TRAILING_OCTETS)
        if position <= rank:
            raise CodecError(
                offset,
                f"{_SIGNALLING_IES[position]} repeated or out of order (the order is {', '.join(_SIGNALLING_IES)})",
                Fault.IE_ORDER,
            )
        rank = position
        if position == 0:
            _require(data, offset + 1, 16, "InReplyTo message ID")
            in_reply_to = _UUID(bytes=data[offset + 1 : offset + 17])
            offset += 17
        elif position == 1:
            _require(data, offset + 1, 1, "Application ID")
            application_id = data[offset + 1]
            offset += 2
        elif position == 2:
            disposition = _DISPOSITIONS.get(iei & 0x0F)
            if disposition is None:
                raise CodecError(
                    offset, f"unknown SDS disposition request type {iei & 0x0F} (1..3)", Fault.UNKNOWN_VALUE
                )
            offset += 1
        else:
            extended, offset = _tlv_e(data, offset, "Extended application ID")
    return SdsSignalling(date_time, conversation_id, message_id, in_reply_to, application_id, disposition, extended)


def _decode_notification(data: bytes) -> SdsNotification:
    _require(data, 1, 1, "SDS disposition notification type")
    kind = _NOTIFICATION_TYPES.get(data[1])
    if kind is None:
        raise CodecError(1, f"unknown SDS disposition notification type {data[1]} (1..5)", Fault.UNKNOWN_VALUE)
    date_time, conversation_id, message_id = _ids(data, 2)
    application_id: int | None = None
    extended: bytes | None = None
    offset, rank, end = 39, -1, len(data)
    while offset < end:
        iei = data[offset]
        if iei == _IEI_APPLICATION_ID:
            position = 0
        elif iei == _IEI_EXTENDED_APPLICATION_ID:
            position = 1
        else:
            raise CodecError(offset, f"0x{iei:02X} is not an IE of SDS NOTIFICATION", Fault.TRAILING_OCTETS)
        if position <= rank:
            name = ("Application ID", "Extended application ID")[position]
            raise CodecError(
                offset,
                f"{name} repeated or out of order (the order is Application ID, Extended application ID)",
                Fault.IE_ORDER,
            )
        rank = position
        if position == 0:
            _require(data, offset + 1, 1, "Application ID")
            application_id = data[offset + 1]
            offset += 2
        else:
            extended, offset = _tlv_e(data, offset, "Extended application ID")
    return SdsNotification(kind, date_time, conversation_id, message_id, application_id, extended)


def _decode_data_payload(data: bytes) -> DataPayload:
    _require(data, 1, 1, "number of payloads")
    count = data[1]
    if count == 0:
        raise CodecError(1, "number of payloads is 0 (a DATA PAYLOAD carries at least one)", Fault.UNKNOWN_VALUE)
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
        contents.append(decode_content(data, start, start + length))
        offset = start + length
    if len(contents) != count:
        raise CodecError(
            1, f"number of payloads is {count} but {len(contents)} Payload IE(s) are present", Fault.PAYLOAD_COUNT
        )
    return DataPayload(tuple(contents))


_DECODERS: dict[int, Callable[[bytes], Message]] = {
    MessageType.SDS_SIGNALLING_PAYLOAD: _decode_signalling,
    MessageType.DATA_PAYLOAD: _decode_data_payload,
    MessageType.SDS_NOTIFICATION: _decode_notification,
}
_KNOWN_TYPES = frozenset(int(t) for t in MessageType)


def decode(data: bytes | bytearray | memoryview) -> Message:
    """The message in ``data``, or :class:`CodecError` naming the octet where it goes wrong.

    Refused (TS 24.282 clause 15 as ``specs/esn.md`` profiles it): a truncated
    message (MCD-01), a length running past the end (MCD-02), an unknown message
    type or one the profile does not decode (MCD-03), an unknown mandatory value
    (MCD-04: notification type, content type, disposition nibble, a payload count
    of 0), a payload count that disagrees with the Payload IEs present (MCD-05),
    trailing octets (MCD-06), a TEXT that is not UTF-8 (MCD-07), optional IEs out
    of order or repeated (MCD-08), a content of the wrong size (MCD-09).
    """
    if isinstance(data, bytes):
        buffer = data
    elif isinstance(data, bytearray | memoryview):
        buffer = bytes(data)
    else:
        raise CodecError(0, f"{type(data).__name__} is not octets", Fault.TRUNCATED)
    if not buffer:
        raise CodecError(0, "empty: the message type octet is missing", Fault.TRUNCATED)
    first = buffer[0]
    kind = first & 0x3F
    if kind not in _KNOWN_TYPES:
        raise CodecError(0, f"unknown message type {kind}", Fault.UNKNOWN_MESSAGE_TYPE)
    if first & 0xC0:
        return Protected(kind, bool(first & 0x40), bool(first & 0x80), buffer)
    decoder = _DECODERS.get(kind)
    if decoder is None:
        raise CodecError(
            0,
            f"message type {kind} ({message_type_name(kind)}) is not decoded by the profile",
            Fault.UNKNOWN_MESSAGE_TYPE,
        )
    return decoder(buffer)


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
    if len(value) > 0xFFFF:
        raise _unencodable(len(out), f"{what} of {len(value)} octets does not fit a 2-octet length")
    out.append(iei)
    out += len(value).to_bytes(2)
    out += value


def _encode_signalling(message: SdsSignalling) -> bytes:
    out = bytearray((MessageType.SDS_SIGNALLING_PAYLOAD,))
    _encode_ids(out, message.date_time, message.conversation_id, message.message_id)
    if message.in_reply_to is not None:
        if not isinstance(message.in_reply_to, uuid.UUID):
            raise _unencodable(len(out), f"InReplyTo message ID {message.in_reply_to!r} is not a UUID")
        out.append(_IEI_IN_REPLY_TO)
        out += message.in_reply_to.bytes
    if message.application_id is not None:
        value = _byte(message.application_id, len(out) + 1, "Application ID")
        out += bytes((_IEI_APPLICATION_ID, value))
    if message.disposition is not None:
        if message.disposition not in (1, 2, 3):
            raise _unencodable(len(out), f"SDS disposition request type {message.disposition!r} is not 1..3")
        out.append(_IEI_DISPOSITION | int(message.disposition))
    if message.extended_application_id is not None:
        _encode_tlv_e(out, _IEI_EXTENDED_APPLICATION_ID, message.extended_application_id, "Extended application ID")
    return bytes(out)


def _encode_notification(message: SdsNotification) -> bytes:
    if message.notification not in (1, 2, 3, 4, 5):
        raise _unencodable(1, f"SDS disposition notification type {message.notification!r} is not 1..5")
    out = bytearray((MessageType.SDS_NOTIFICATION, int(message.notification)))
    _encode_ids(out, message.date_time, message.conversation_id, message.message_id)
    if message.application_id is not None:
        out += bytes((_IEI_APPLICATION_ID, _byte(message.application_id, len(out) + 1, "Application ID")))
    if message.extended_application_id is not None:
        _encode_tlv_e(out, _IEI_EXTENDED_APPLICATION_ID, message.extended_application_id, "Extended application ID")
    return bytes(out)


def _encode_data_payload(message: DataPayload) -> bytes:
    payloads = tuple(message.payloads)
    if not 1 <= len(payloads) <= 0xFF:
        raise _unencodable(1, f"a DATA PAYLOAD carries 1..255 payloads, not {len(payloads)}")
    out = bytearray((MessageType.DATA_PAYLOAD, len(payloads)))
    for content in payloads:
        octets = content_octets(content, len(out) + 4)
        if len(octets) + 1 > 0xFFFF:
            raise _unencodable(len(out) + 1, f"a payload of {len(octets)} octets does not fit a 2-octet length")
        out.append(_IEI_PAYLOAD)
        out += (len(octets) + 1).to_bytes(2)
        out.append(content.content_type)
        out += octets
    return bytes(out)


def encode(message: Message) -> bytes:
    """The octets of ``message``; ``encode(decode(data)) == data`` for every ``data`` that decodes."""
    if isinstance(message, SdsSignalling):
        return _encode_signalling(message)
    if isinstance(message, DataPayload):
        return _encode_data_payload(message)
    if isinstance(message, SdsNotification):
        return _encode_notification(message)
    if isinstance(message, Protected):
        return bytes(message.data)
    raise _unencodable(0, f"{type(message).__name__} is not an MCData message")
