"""Payload contents of the MCData DATA PAYLOAD (3GPP TS 24.282 clause 15.2), one class per content type.

Import them from :mod:`harness.families.esn.mcdata`, which re-exports them. Where the
profile fixes no coding (hyperlinks, file URL, location timestamp, coded text)
the data is kept as opaque octets; :class:`Location` and
:class:`LocationAltitude` keep the raw field values so that decoding then
encoding is byte exact, and derive degrees and metres from them.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import ClassVar

from harness.families.esn.errors import CodecError, Fault

__all__ = [
    "Binary",
    "CodedText",
    "ContentType",
    "Disposition",
    "EnhancedStatus",
    "FdNetworkNotificationType",
    "FdNotificationType",
    "FileUrl",
    "Hyperlinks",
    "Location",
    "LocationAltitude",
    "LocationTimestamp",
    "MessageType",
    "NotificationType",
    "PayloadContent",
    "Text",
    "content_octets",
    "decode_content",
    "message_type_name",
]


class MessageType(enum.IntEnum):
    """Message types of TS 24.282 table 15.2.2-1 (the low 6 bits of the first octet)."""

    SDS_SIGNALLING_PAYLOAD = 1
    FD_SIGNALLING_PAYLOAD = 2
    DATA_PAYLOAD = 3
    SDS_NOTIFICATION = 5
    FD_NOTIFICATION = 6
    SDS_OFF_NETWORK_MESSAGE = 7
    SDS_OFF_NETWORK_NOTIFICATION = 8
    FD_NETWORK_NOTIFICATION = 9
    COMMUNICATION_RELEASE = 10
    DEFERRED_LIST_ACCESS_REQUEST = 11
    DEFERRED_LIST_ACCESS_RESPONSE = 12
    FD_HTTP_TERMINATION = 13
    GROUP_EMERGENCY_ALERT = 17
    GROUP_EMERGENCY_ALERT_ACK = 18
    GROUP_EMERGENCY_ALERT_CANCEL = 19
    GROUP_EMERGENCY_ALERT_CANCEL_ACK = 20


def message_type_name(value: int) -> str:
    """``"SDS SIGNALLING PAYLOAD"`` for 1; ``"unknown"`` for a value the table does not hold."""
    try:
        return MessageType(value).name.replace("_", " ")
    except ValueError:
        return "unknown"


class Disposition(enum.IntEnum):
    """SDS disposition request type (clause 15.2.3), the low nibble of IE ``0x8N``."""

    DELIVERY = 1
    READ = 2
    DELIVERY_AND_READ = 3

    @property
    def wants_delivery(self) -> bool:
        return self in (Disposition.DELIVERY, Disposition.DELIVERY_AND_READ)

    @property
    def wants_read(self) -> bool:
        return self in (Disposition.READ, Disposition.DELIVERY_AND_READ)


class NotificationType(enum.IntEnum):
    """SDS disposition notification type (clause 15.2.5)."""

    UNDELIVERED = 1
    DELIVERED = 2
    READ = 3
    DELIVERED_AND_READ = 4
    DISPOSITION_PREVENTED = 5


class FdNotificationType(enum.IntEnum):
    """FD disposition notification type (TS 24.282 table 15.2.6-1; esn 1.1)."""

    ACCEPTED = 1
    """FILE DOWNLOAD REQUEST ACCEPTED"""
    REJECTED = 2
    """FILE DOWNLOAD REQUEST REJECTED"""
    COMPLETED = 3
    """FILE DOWNLOAD COMPLETED"""
    DEFERRED = 4
    """FILE DOWNLOAD DEFERRED"""


class FdNetworkNotificationType(enum.IntEnum):
    """FD network notification type (TS 24.282 table 15.2.18-1; esn 1.1)."""

    FILE_EXPIRED = 1
    """FILE EXPIRED UNAVAILABLE TO DOWNLOAD"""
    FILE_DELETED = 2
    """FILE DELETED UNAVAILABLE TO DOWNLOAD"""


class ContentType(enum.IntEnum):
    """Payload content type (TS 24.282 clause 15.2). 7 (interworking, TS 29.582) is not part of the profile."""

    TEXT = 1
    BINARY = 2
    HYPERLINKS = 3
    FILEURL = 4
    LOCATION = 5
    ENHANCED_STATUS = 6
    LOCATION_ALTITUDE = 8
    LOCATION_TIMESTAMP = 9
    CODED_TEXT = 10


@dataclass(slots=True, frozen=True)
class Text:
    """TEXT: UTF-8 text (a BOM or any other character is content, kept as is)."""

    text: str
    content_type: ClassVar[ContentType] = ContentType.TEXT


@dataclass(slots=True, frozen=True)
class Binary:
    """BINARY: opaque octets."""

    data: bytes
    content_type: ClassVar[ContentType] = ContentType.BINARY


@dataclass(slots=True, frozen=True)
class Hyperlinks:
    """HYPERLINKS: octets as sent (normally UTF-8 text; not checked, the profile fixes no coding)."""

    data: bytes
    content_type: ClassVar[ContentType] = ContentType.HYPERLINKS


@dataclass(slots=True, frozen=True)
class FileUrl:
    """FILEURL: the URL's octets as sent (normally UTF-8; not checked)."""

    data: bytes
    content_type: ClassVar[ContentType] = ContentType.FILEURL


_BIT23 = 1 << 23
_BIT24 = 1 << 24


@dataclass(slots=True, frozen=True)
class Location:
    """LOCATION: 3 octets of latitude then 3 of longitude, kept as the raw 24-bit field values.

    ``latitude_raw``: bit 23 the sign (1 = south), bits 22..0 the magnitude,
    degrees = magnitude x 90 / 2^23. ``longitude_raw``: a 24-bit two's complement
    number, degrees = value x 360 / 2^24 (TS 23.032 clause 6.1 codings).
    """

    latitude_raw: int
    longitude_raw: int
    content_type: ClassVar[ContentType] = ContentType.LOCATION

    @property
    def latitude(self) -> float:
        """Degrees north (negative: south); ``-0.0`` for a raw "south, magnitude 0"."""
        degrees = (self.latitude_raw & (_BIT23 - 1)) * 90 / _BIT23
        return -degrees if self.latitude_raw & _BIT23 else degrees

    @property
    def longitude(self) -> float:
        """Degrees east (negative: west), in [-180, 180)."""
        value = self.longitude_raw - _BIT24 if self.longitude_raw & _BIT23 else self.longitude_raw
        return value * 360 / _BIT24

    @classmethod
    def from_degrees(cls, latitude: float, longitude: float) -> Location:
        """The coding of TS 23.032: magnitudes rounded down; 90 degrees is clamped, 180 east is 180 west.

        ``Location.from_degrees(loc.latitude, loc.longitude) == loc`` for every decoded ``loc``.
        """
        if not (-90.0 <= latitude <= 90.0) or not math.isfinite(longitude) or not -180.0 <= longitude <= 180.0:
            raise CodecError(0, f"location ({latitude}, {longitude}) is out of range", Fault.NOT_ENCODABLE)
        magnitude = min(math.floor(abs(latitude) * _BIT23 / 90), _BIT23 - 1)
        south = math.copysign(1.0, latitude) < 0
        value = math.floor(longitude * _BIT24 / 360)
        value = (value + _BIT23) % _BIT24 - _BIT23
        return cls(magnitude | (_BIT23 if south else 0), value & (_BIT24 - 1))


@dataclass(slots=True, frozen=True)
class EnhancedStatus:
    """ENHANCED STATUS: a 2-octet unsigned value."""

    value: int
    content_type: ClassVar[ContentType] = ContentType.ENHANCED_STATUS


@dataclass(slots=True, frozen=True)
class LocationAltitude:
    """LOCATION ALTITUDE: 2 octets coded as TS 23.032 clause 6.3, kept raw.

    Bit 15 is the direction (1 = depth), bits 14..0 the altitude in metres.
    """

    raw: int
    content_type: ClassVar[ContentType] = ContentType.LOCATION_ALTITUDE

    @property
    def depth(self) -> bool:
        return bool(self.raw & 0x8000)

    @property
    def metres(self) -> int:
        """Signed: negative for a depth."""
        magnitude = self.raw & 0x7FFF
        return -magnitude if self.depth else magnitude

    @classmethod
    def from_metres(cls, metres: int) -> LocationAltitude:
        """Height (>= 0) or depth (< 0) in whole metres; magnitudes above 32767 are clamped (TS 23.032)."""
        return cls(min(abs(metres), 0x7FFF) | (0x8000 if metres < 0 else 0))


@dataclass(slots=True, frozen=True)
class LocationTimestamp:
    """LOCATION TIMESTAMP: octets as sent (the profile fixes no coding)."""

    data: bytes
    content_type: ClassVar[ContentType] = ContentType.LOCATION_TIMESTAMP


@dataclass(slots=True, frozen=True)
class CodedText:
    """CODED TEXT: octets as sent (the coding is not the profile's to check)."""

    data: bytes
    content_type: ClassVar[ContentType] = ContentType.CODED_TEXT


PayloadContent = (
    Text | Binary | Hyperlinks | FileUrl | Location | EnhancedStatus | LocationAltitude | LocationTimestamp | CodedText
)
_OPAQUE: dict[int, type[Binary | Hyperlinks | FileUrl | LocationTimestamp | CodedText]] = {
    ContentType.BINARY: Binary,
    ContentType.HYPERLINKS: Hyperlinks,
    ContentType.FILEURL: FileUrl,
    ContentType.LOCATION_TIMESTAMP: LocationTimestamp,
    ContentType.CODED_TEXT: CodedText,
}


_EXACT_SIZES: dict[int, int] = {
    ContentType.LOCATION: 6,
    ContentType.ENHANCED_STATUS: 2,
    ContentType.LOCATION_ALTITUDE: 2,
}


def decode_content(data: bytes, start: int, end: int) -> PayloadContent:
    """The payload content whose content type octet is at ``start`` and which ends before ``end``."""
    kind = data[start]
    value = data[start + 1 : end]
    if kind == ContentType.TEXT:
        try:
            return Text(value.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise CodecError(start + 1 + exc.start, f"TEXT is not UTF-8 ({exc.reason})", Fault.NOT_UTF8) from None
    opaque = _OPAQUE.get(kind)
    if opaque is not None:
        return opaque(value)
    size = _EXACT_SIZES.get(kind)
    if size is None:
        raise CodecError(start, f"unknown payload content type {kind}", Fault.UNKNOWN_VALUE)
    if len(value) != size:
        name = ContentType(kind).name.replace("_", " ")
        raise CodecError(start + 1, f"{name} is {size} octets, not {len(value)}", Fault.CONTENT_SIZE)
    if kind == ContentType.LOCATION:
        return Location(int.from_bytes(value[:3]), int.from_bytes(value[3:]))
    if kind == ContentType.ENHANCED_STATUS:
        return EnhancedStatus(int.from_bytes(value))
    return LocationAltitude(int.from_bytes(value))


def content_octets(content: PayloadContent, offset: int) -> bytes:
    """The data of ``content`` (after its content type octet); ``offset`` is where that data would start."""
    if isinstance(content, Text):
        try:
            return content.text.encode("utf-8")
        except (UnicodeEncodeError, AttributeError):
            raise CodecError(offset, "TEXT is not encodable as UTF-8", Fault.NOT_ENCODABLE) from None
    if isinstance(content, Location):
        for what, raw in (("latitude", content.latitude_raw), ("longitude", content.longitude_raw)):
            if not isinstance(raw, int) or not 0 <= raw < _BIT24:
                raise CodecError(offset, f"LOCATION {what} {raw!r} is not a 24-bit field value", Fault.NOT_ENCODABLE)
        return content.latitude_raw.to_bytes(3) + content.longitude_raw.to_bytes(3)
    if isinstance(content, EnhancedStatus | LocationAltitude):
        raw = content.value if isinstance(content, EnhancedStatus) else content.raw
        if not isinstance(raw, int) or not 0 <= raw <= 0xFFFF:
            raise CodecError(offset, f"{type(content).__name__} {raw!r} does not fit 2 octets", Fault.NOT_ENCODABLE)
        return raw.to_bytes(2)
    if isinstance(content, Binary | Hyperlinks | FileUrl | LocationTimestamp | CodedText):
        if not isinstance(content.data, bytes | bytearray | memoryview):
            raise CodecError(
                offset, f"{type(content).__name__} data {content.data!r} is not octets", Fault.NOT_ENCODABLE
            )
        return bytes(content.data)
    raise CodecError(offset, f"{type(content).__name__} is not a payload content", Fault.NOT_ENCODABLE)
