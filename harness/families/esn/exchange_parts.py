"""The scenario keys of esn-core@1.1's disposition and file distribution exchanges (esn.md 1.1): JSON Schema
fragments the catalog adds to the scenario schema. Pure data: no import of the family's code.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CONTENT_SERVER", "FD", "FD_NOTIFICATION", "FD_RECEIVER", "ORIGINATOR", "SDS_DISPOSITIONS", "SDS_ECHO"]

_EXPECT = {"$ref": "#/$defs/expect"}

FD: dict[str, Any] = {
    "description": "A fresh FD body (mcdata-fd/1.0) built by harness.families.esn.exchange_steps.fd_message.",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "notification": {"enum": ["accepted", "rejected", "completed", "deferred"]},
        "mandatory": {"type": "boolean"},
        "completion": {"type": "boolean"},
        "date_time": {"type": ["integer", "string"]},
        "conversation_id": {"type": "string"},
        "message_id": {"type": "string"},
        "file_url": {"type": "string"},
        "metadata": {"type": "string"},
        "payload": {"enum": ["fileurl", "none", "text", "two"]},
        "parts": {"type": "array", "items": {"enum": ["info", "signalling", "payload"]}},
    },
}
"""The ``fd:`` block of a step's ``message``."""

_ANSWER = {
    "type": "object",
    "additionalProperties": False,
    "required": ["notification", "expect"],
    "properties": {
        "notification": {"type": "string"},
        "again": {"type": "integer", "minimum": 1},
        "date_offset_s": {"type": "integer"},
        "fresh_ids": {"type": "boolean"},
        "tamper_application_id": {"type": "boolean"},
        "expect": _EXPECT,
    },
}

ORIGINATOR: dict[str, Any] = {
    "description": "Trigger the SUT to send an SDS or FD to a mailbox of the counterpart, judge it, answer it.",
    "type": "object",
    "additionalProperties": False,
    "required": ["action"],
    "properties": {
        "action": {"enum": ["send-sds", "send-fd"]},
        "params": {"type": "object"},
        "within_s": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600},
        "download": {"type": "boolean"},
        "answers": {"type": "array", "items": _ANSWER},
    },
}
"""The ``esn_originator`` step kind."""

FD_RECEIVER: dict[str, Any] = {
    "description": "Send the SUT an FD for a file the counterpart serves; what must arrive, in order.",
    "type": "object",
    "additionalProperties": False,
    "required": ["sequence"],
    "properties": {
        "fd": {"type": "object"},
        "file": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"text": {"type": "string"}, "type": {"type": "string"}, "name": {"type": "string"}},
        },
        "respond": {"enum": ["accept", "reject", "defer"]},
        "sequence": {"type": "array", "items": {"enum": ["accepted", "rejected", "deferred", "completed", "get"]}},
        "none": {"type": "array", "items": {"enum": ["accepted", "rejected", "deferred", "completed", "get"]}},
        "within_s": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600},
        "quiet_s": {"type": "number", "exclusiveMinimum": 0, "maximum": 60},
    },
}
"""The ``fd_receiver`` step kind."""

SDS_DISPOSITIONS: dict[str, Any] = {
    "description": "The notifications answering the SDS step 'answers' sent, in an order its request allows.",
    "type": "object",
    "additionalProperties": False,
    "required": ["answers", "path"],
    "properties": {
        "answers": {"type": "string"},
        "path": {"type": "string"},
        "within_s": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600},
        "quiet_s": {"type": "number", "exclusiveMinimum": 0, "maximum": 60},
    },
}
"""The ``sds_dispositions`` step kind."""

CONTENT_SERVER: dict[str, Any] = {
    "description": "Upload octets to the SUT's content server and fetch them back.",
    "type": "object",
    "additionalProperties": False,
    "required": ["hex"],
    "properties": {"hex": {"type": "string"}, "type": {"type": "string"}},
}
"""The ``content_server`` step kind."""

SDS_ECHO: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["answers"],
    "properties": {"answers": {"type": "string"}},
}
"""The value of the ``sds_echo`` check."""

FD_NOTIFICATION: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["answers"],
    "properties": {"answers": {"type": "string"}, "type": {"$ref": "#/$defs/stringOrList"}},
}
"""The value of the ``fd_notification`` check."""
