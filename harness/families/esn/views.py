"""How the HTML report shows a binary MCData body: its decoded fields as JSON text, beside the hex dump.

Declared in the ESN family's ``body_views`` for the signalling and payload media types; the report calls
:func:`mcdata_fields` with the part's octets and never needs to know the codec.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import uuid
from typing import Any

from harness.families.esn.mcdata import CodecError, decode

__all__ = ["mcdata_fields", "plain"]


def _moment(seconds: int) -> str:
    """``date_time`` as the integer on the wire beside its RFC 3339 reading (UTC), so neither has to be worked out."""
    try:
        moment = dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        moment = "beyond the calendar"
    return f"{seconds} ({moment})"


def plain(value: Any) -> Any:
    """A decoded MCData value as JSON-able fields (``message`` names the message or content class)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {
            f.name: _moment(item) if f.name == "date_time" and type(item) is int else plain(item)
            for f in dataclasses.fields(value)
            for item in (getattr(value, f.name),)
        }
        return {"message": type(value).__name__, **fields}
    if isinstance(value, enum.Enum):
        return f"{value.name} ({value.value})"
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def mcdata_fields(data: bytes) -> str:
    """The decoded fields of one binary MCData message, or ``not decodable: <why>``."""
    try:
        return json.dumps(plain(decode(data)), indent=2, ensure_ascii=False, default=str)
    except (ValueError, CodecError) as exc:
        return f"not decodable: {exc}"
