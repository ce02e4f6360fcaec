"""The tables of MCPTT floor control (3GPP TS 24.380 clause 8) as ``specs/esn.md`` 1.1 gives them: subtypes and
their x bits, field IDs and sizes, reject causes, Floor Indicator bits, Source values, legacy IDs, the fields the
profile requires per message, and the rules FLR-01..10 with their severities. No behaviour: the codec
(:mod:`harness.families.esn.floor`) reads them.
"""

from __future__ import annotations

import enum

__all__ = [
    "ACK_BIT",
    "DENY_CAUSES",
    "FIELD_NAMES",
    "FIXED_SIZES",
    "FLOOR_INDICATORS",
    "FLOOR_PATH",
    "FLOOR_SESSIONS_HOOK",
    "HEADER_SIZE",
    "KNOWN_SUBTYPES",
    "LEGACY_FIELD_IDS",
    "LOCATION_SIZES",
    "LOCATION_TYPES",
    "MAX_PACKET",
    "MEDIA_TYPE",
    "NAME",
    "PT_APP",
    "REPEATABLE_IN_GRANTED",
    "REQUIRED_FIELDS",
    "RESERVED_INDICATORS",
    "REVOKE_CAUSES",
    "RULES",
    "SUBTYPE_NAMES",
    "URI_FIELDS",
    "WITH_ACK",
    "FieldId",
    "Source",
    "Subtype",
    "subtype_name",
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


WITH_ACK = frozenset(
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
KNOWN_SUBTYPES: frozenset[int] = frozenset(int(s) for s in Subtype) | frozenset(int(s) | ACK_BIT for s in WITH_ACK)
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

SUBTYPE_NAMES: dict[int, str] = {
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

FIXED_SIZES: dict[int, int] = {
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
URI_FIELDS = frozenset(
    {FieldId.GRANTED_PARTY_IDENTITY, FieldId.USER_ID, FieldId.QUEUED_USER_ID, FieldId.FUNCTIONAL_ALIAS}
)
LOCATION_SIZES: dict[int, int] = {0: 0, 1: 7, 2: 5, 3: 3, 4: 2, 5: 1, 6: 6}
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
RESERVED_INDICATORS = 0x007F

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
REPEATABLE_IN_GRANTED = frozenset({FieldId.SSRC, FieldId.QUEUED_USER_ID, FieldId.QUEUE_INFO})

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
    name = SUBTYPE_NAMES[subtype & ~ACK_BIT]
    return f"{name} (x: acknowledgement required)" if subtype & ACK_BIT else name
