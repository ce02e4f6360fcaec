"""Building the SDS a scenario's ``sds:`` message block sends (docs/decisions-esn-exchange.md): the ESN family's
message builder, declared in its ``scenario_parts``."""

from __future__ import annotations

import time
import uuid
from typing import Any

from harness.codecs.multipart import BodyPart, MultipartError, build_multipart
from harness.families.esn.body import MCDATA_INFO, MCDATA_PAYLOAD, MCDATA_SIGNALLING
from harness.families.esn.mcdata import (
    Binary,
    CodecError,
    DataPayload,
    Disposition,
    NotificationType,
    SdsNotification,
    SdsSignalling,
    Text,
    encode,
)
from harness.model import ConfigurationError
from harness.profile import SDS_FORMAT
from harness.runner.context import Message, ScenarioContext

__all__ = ["DEFAULT_SDS_INFO", "NOTIFICATION_TYPES", "sds_body", "sds_message"]

DEFAULT_SDS_INFO = "mcdata-info/1.0/valid/one-to-one-sds.xml"
_DISPOSITIONS = {
    "none": None,
    "delivery": Disposition.DELIVERY,
    "read": Disposition.READ,
    "delivery-and-read": Disposition.DELIVERY_AND_READ,
}
NOTIFICATION_TYPES = {kind.name.lower().replace("_", "-"): kind for kind in NotificationType}
"""``delivered``, ``read``, ``delivered-and-read``, ... as scenarios name SDS NOTIFICATION types."""


def _signalling(spec: dict[str, Any]) -> SdsSignalling | SdsNotification:
    date_time = int(spec.get("date_time", time.time()))
    conversation_id = uuid.UUID(str(spec.get("conversation_id", uuid.uuid4())))
    message_id = uuid.UUID(str(spec.get("message_id", uuid.uuid4())))
    if "notification" in spec:
        return SdsNotification(NOTIFICATION_TYPES[str(spec["notification"])], date_time, conversation_id, message_id)
    extended, location = spec.get("extended_application_id_hex"), spec.get("user_location_hex")
    return SdsSignalling(
        date_time,
        conversation_id,
        message_id,
        application_id=None if spec.get("application_id") is None else int(spec["application_id"]),
        disposition=_DISPOSITIONS[str(spec.get("disposition", "none"))],
        extended_application_id=None if extended is None else bytes.fromhex(str(extended)),
        user_location=None if location is None else bytes.fromhex(str(location)),
        sender=None if spec.get("sender") is None else str(spec["sender"]),
    )


def _payload(spec: dict[str, Any]) -> bytes:
    if "hex" in spec:
        return bytes.fromhex(str(spec["hex"]))
    if "binary_hex" in spec:
        return encode(DataPayload((Binary(bytes.fromhex(str(spec["binary_hex"]))),)))
    return encode(DataPayload((Text(str(spec["text"])),)))


def sds_body(spec: dict[str, Any], info: bytes) -> tuple[str, bytes]:
    """``(Content-Type, body)`` of the SDS a scenario's (expanded) ``sds:`` block asks for, ``info`` its mcdata-info.

    ``disposition`` (``none``, ``delivery``, ``read``, ``delivery-and-read``) or
    ``notification`` (``delivered``, ...: an SDS NOTIFICATION instead),
    ``application_id``, ``extended_application_id_hex``, ``user_location_hex``, ``sender`` (the optional IEs
    ``22``, ``7D``, ``7E``, ``51``; esn 1.1), ``date_time`` (default now), ``conversation_id`` and
    ``message_id`` (default fresh UUIDs), ``payload`` (``{text: ...}``, ``{binary_hex: ...}`` or
    ``{hex: ...}``, the whole DATA PAYLOAD), ``truncate_signalling`` (keep that
    many octets), ``transfer_encoding`` (``binary`` or ``base64``) and ``parts``
    (which of ``info``, ``signalling``, ``payload`` to write, in that order).
    """
    try:
        signalling = encode(_signalling(spec))
        payload = _payload(spec.get("payload", {"text": "hi"}))
    except (CodecError, ValueError, TypeError, KeyError) as exc:
        raise ConfigurationError(f"bad 'sds' block: {exc}") from None
    if "truncate_signalling" in spec:
        signalling = signalling[: int(spec["truncate_signalling"])]
    encoding = str(spec.get("transfer_encoding", "binary"))
    available = {
        "info": BodyPart(MCDATA_INFO, info),
        "signalling": BodyPart(MCDATA_SIGNALLING, signalling, encoding),
        "payload": BodyPart(MCDATA_PAYLOAD, payload, encoding),
    }
    default = ["info", "signalling"] if "notification" in spec else ["info", "signalling", "payload"]
    try:
        content_type, body = build_multipart([available[str(name)] for name in spec.get("parts", default)])
    except (KeyError, MultipartError) as exc:
        raise ConfigurationError(f"bad 'sds' block: parts are info, signalling, payload ({exc})") from None
    return content_type, body


def sds_message(ctx: ScenarioContext, spec: dict[str, Any]) -> Message:
    """A fresh SDS (``mcdata-sds/1.0``) built from a scenario's (expanded) ``sds:`` block (decisions-esn-exchange).

    ``info`` (a sample reference or a ``message:`` block; default the one-to-one mcdata-info sample), then
    the members :func:`sds_body` reads. The family's ``message`` scenario part: the runner calls it.
    """
    info_spec = spec.get("info", DEFAULT_SDS_INFO)
    info = ctx.build_message({"sample": info_spec} if isinstance(info_spec, str) else info_spec).body
    content_type, body = sds_body(spec, info)
    return Message(ctx.catalog.format(SDS_FORMAT), body, content_type, None, None)
