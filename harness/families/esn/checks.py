"""The checks only ESN needs: ``sds_notification`` and ``sds_relayed``.

See specs/esn.md and docs/decisions-esn-exchange.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from harness.codecs.multipart import MultipartError
from harness.families.esn.body import Sds, parse_sds
from harness.families.esn.mcdata import CodecError, NotificationType, SdsNotification, SdsSignalling, decode
from harness.families.esn.steps import NOTIFICATION_TYPES
from harness.families.esn.validation import sds_validator
from harness.model import ConfigurationError
from harness.profile import MCDATA_INFO_NS, SDS_FORMAT
from harness.runner.checks import CheckContext, Mismatch, as_list, check
from harness.validation.xmlsafe import UnsafeXml, parse_xml

__all__ = ["sds_notification", "sds_relayed"]


def _received_sds(ctx: CheckContext) -> tuple[Sds | None, list[Mismatch]]:
    """The SDS in the body (its Content-Type names the boundary), or why it is not a valid one."""
    fmt = ctx.scenario.catalog.format(SDS_FORMAT)
    content_type = ctx.response.header("Content-Type") or ""
    validation = sds_validator(fmt).validate(content_type, ctx.response.body)
    if not validation.valid:
        return None, [
            Mismatch(f"body {f.location}", f"valid {SDS_FORMAT} ({f.rule})", f.message, f"not a valid SDS: {f.message}")
            for f in validation.findings[:20]
        ]
    return parse_sds(content_type, ctx.response.body), []


def _sent_sds(ctx: CheckContext, step: str) -> Sds:
    original = ctx.scenario.sent.get(step)
    try:
        if original is None:
            raise MultipartError("nothing sent")
        sds = parse_sds(original.content_type, original.body)
        if not isinstance(decode(sds.signalling), SdsSignalling):
            raise MultipartError("no SDS SIGNALLING PAYLOAD")
    except (MultipartError, CodecError) as exc:
        raise ConfigurationError(f"step {step!r} sent no readable SDS ({exc})") from None
    return sds


def _ids(octets: bytes) -> str:
    return f"conversation {uuid.UUID(bytes=octets[:16])}, message {uuid.UUID(bytes=octets[16:32])}"


def _notification_types(names: Any) -> list[NotificationType]:
    try:
        return [NOTIFICATION_TYPES[str(name)] for name in as_list(names)]
    except KeyError as exc:
        raise ConfigurationError(f"unknown notification type {exc} (known: {', '.join(NOTIFICATION_TYPES)})") from None


@check("sds_notification")
def sds_notification(expected: dict[str, Any], ctx: CheckContext) -> Iterator[Mismatch]:
    """An SDS NOTIFICATION (mcdata-info + signalling, no payload part) answering the SDS sent by step ``answers``:
    its Conversation ID and Message ID are that SDS's octet for octet, its type one of ``type``."""
    sent = _sent_sds(ctx, str(expected["answers"]))
    allowed = _notification_types(expected.get("type", "delivered"))
    received, problems = _received_sds(ctx)
    if received is None:
        yield from problems
        return
    message = decode(received.signalling)
    if not isinstance(message, SdsNotification):
        kind = received.signalling[0] & 0x3F
        yield Mismatch("body signalling message type", "5 (SDS NOTIFICATION)", kind, "not an SDS NOTIFICATION")
        return
    if received.payload is not None:
        yield Mismatch("body payload part", "absent", len(received.payload), "an SDS NOTIFICATION has no payload part")
    want, got = sent.signalling[6:38], received.signalling[7:39]
    if want != got:
        yield Mismatch("body signalling octets 7-38", _ids(want), _ids(got), "the ids are not those of the SDS sent")
    if message.notification not in allowed:
        names = [kind.name.lower().replace("_", "-") for kind in allowed]
        actual = message.notification.name.lower().replace("_", "-")
        yield Mismatch("body notification type", names[0] if len(names) == 1 else names, actual, "notification type")


def _uri(info: bytes, element: str) -> str | None:
    try:
        root = parse_xml(info)
    except UnsafeXml:
        return None
    found = root.find(f"{{{MCDATA_INFO_NS}}}mcdata-Params/{{{MCDATA_INFO_NS}}}{element}/{{{MCDATA_INFO_NS}}}mcdataURI")
    return None if found is None else (found.text or "").strip()


@check("sds_relayed")
def sds_relayed(expected: dict[str, Any], ctx: CheckContext) -> Iterator[Mismatch]:
    """The SDS sent by step ``original``, as a member received it: the same SDS SIGNALLING PAYLOAD ids and the
    payload part octet for octet; ``group: true`` also wants the mcdata-info to name the group the SDS was
    sent to as ``mcdata-calling-group-id``."""
    sent = _sent_sds(ctx, str(expected["original"]))
    received, problems = _received_sds(ctx)
    if received is None:
        yield from problems
        return
    if not isinstance(decode(received.signalling), SdsSignalling):
        kind = received.signalling[0] & 0x3F
        yield Mismatch("body signalling message type", "1 (SDS SIGNALLING PAYLOAD)", kind, "not an SDS")
        return
    want, got = sent.signalling[6:38], received.signalling[6:38]
    if want != got:
        yield Mismatch("body signalling octets 6-37", _ids(want), _ids(got), "the ids are not those of the SDS sent")
    if received.payload != sent.payload:
        shown = None if received.payload is None else received.payload.hex(" ")
        assert sent.payload is not None
        yield Mismatch("body payload part", sent.payload.hex(" "), shown, "the payload was not relayed octet for octet")
    if expected.get("group"):
        group = _uri(sent.info, "mcdata-request-uri")
        calling_group = _uri(received.info, "mcdata-calling-group-id")
        if calling_group != group:
            yield Mismatch("body mcdata-calling-group-id", group, calling_group, "the relayed SDS names another group")
