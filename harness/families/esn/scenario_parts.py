"""The ESN family's part of the scenario language: JSON Schema fragments the catalog adds to
``fixtures/schemas/scenario.schema.json`` (declared in the family's ``scenario_parts``).

Pure data, imported when the catalog loads scenarios: no import of the family's code. A fragment may refer to
the scenario schema's own ``$defs`` (``sampleRef``, ``message``, ``stringOrList``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["SDS", "SDS_NOTIFICATION", "SDS_RELAYED"]

SDS: dict[str, Any] = {
    "description": "A fresh SDS (mcdata-sds/1.0) built by harness.families.esn.steps.sds_message.",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "info": {"oneOf": [{"$ref": "#/$defs/sampleRef"}, {"$ref": "#/$defs/message"}]},
        "disposition": {"enum": ["none", "delivery", "read", "delivery-and-read"]},
        "notification": {"type": "string"},
        "date_time": {"type": ["integer", "string"]},
        "application_id": {"type": "integer", "minimum": 0, "maximum": 255},
        "extended_application_id_hex": {"type": "string"},
        "user_location_hex": {"type": "string"},
        "sender": {"type": "string"},
        "conversation_id": {"type": "string"},
        "message_id": {"type": "string"},
        "payload": {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "maxProperties": 1,
            "properties": {"text": {"type": "string"}, "binary_hex": {"type": "string"}, "hex": {"type": "string"}},
        },
        "truncate_signalling": {"type": "integer", "minimum": 0},
        "transfer_encoding": {"enum": ["binary", "base64"]},
        "parts": {"type": "array", "items": {"enum": ["info", "signalling", "payload"]}},
    },
}
"""The ``sds:`` block of a step's ``message``."""

SDS_NOTIFICATION: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["answers"],
    "properties": {"answers": {"type": "string"}, "type": {"$ref": "#/$defs/stringOrList"}},
}
"""The value of the ``sds_notification`` check."""

SDS_RELAYED: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["original"],
    "properties": {"original": {"type": "string"}, "group": {"type": "boolean"}},
}
"""The value of the ``sds_relayed`` check."""
