"""The one error type of the MCData codec, and the rule ids it reports (``docs/decisions-esn.md``)."""

from __future__ import annotations

import enum

__all__ = ["CodecError", "Fault"]


class Fault(enum.StrEnum):
    """Why a message is refused: the rule ids of the binary formats (``docs/decisions-esn.md``)."""

    TRUNCATED = "MCD-01"
    LENGTH_PAST_END = "MCD-02"
    UNKNOWN_MESSAGE_TYPE = "MCD-03"
    UNKNOWN_VALUE = "MCD-04"
    PAYLOAD_COUNT = "MCD-05"
    TRAILING_OCTETS = "MCD-06"
    NOT_UTF8 = "MCD-07"
    IE_ORDER = "MCD-08"
    CONTENT_SIZE = "MCD-09"
    PROTECTED = "MCD-10"
    """Used by validation: a protected or authenticated message, which the harness does not decode."""
    WRONG_PART = "MCD-11"
    """Used by validation: a message type that the body part (format) does not carry."""
    NOT_ENCODABLE = "MCD-12"
    """Raised by :func:`encode` only: a value out of range for its field."""
    NOT_DECODED_1_1 = "MCD-13"
    """esn 1.1 (replaces MCD-03): an unknown message type, or one 1.1 does not decode."""
    FD_NO_PAYLOAD = "MCD-14"
    """Used by validation (esn 1.1): an FD SIGNALLING PAYLOAD without a Payload IE."""
    FD_PAYLOAD = "MCD-15"
    """Used by validation (esn 1.1): more than one Payload IE in an FD message, or one that is not FILEURL."""
    FD_URL = "MCD-16"
    """Used by validation (esn 1.1): a FILEURL that is not an absolute http(s) URI of printable US-ASCII."""
    METADATA = "MCD-17"
    """Used by validation (esn 1.1, a warning): Metadata not UTF-8 or not readable as the profile reads 15.2.17."""


class CodecError(ValueError):
    """The octets are not a well-formed message (or a value cannot be encoded).

    ``offset`` is the 0-based octet where it goes wrong (never beyond the end of
    the data), ``message`` says what is wrong, ``rule`` is the :class:`Fault`.
    """

    def __init__(self, offset: int, message: str, rule: Fault = Fault.UNKNOWN_VALUE) -> None:
        super().__init__(f"octet {offset}: {message}")
        self.offset = offset
        self.message = message
        self.rule = rule
