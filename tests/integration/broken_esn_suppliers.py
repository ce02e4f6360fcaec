"""Deliberately broken variants of the reference ESN gateway for esn-core: each breaks one rule of esn.md."""

from __future__ import annotations

import asyncio
import uuid

from aiohttp import web

from harness.catalog import Catalog
from harness.codecs.multipart import BodyPart, MultipartError, MultipartFault, build_multipart, parse_multipart
from harness.endpoints import Role, build_app, default_roles
from harness.endpoints.esn_gateway import EsnGateway, Member
from harness.endpoints.test_hooks import TestHooks
from harness.families.esn.body import MCDATA_INFO, MCDATA_PAYLOAD, MCDATA_SIGNALLING, Sds
from harness.families.esn.mcdata import CodecError, NotificationType, SdsSignalling
from harness.families.esn.messages import LocationInfo, McdataParams, McpttParams, location_report, notification_sds
from harness.model import Finding
from harness.validation.validator import Validation

BINARY_PARTS = (MCDATA_SIGNALLING, MCDATA_PAYLOAD)


class WrongNotificationIds(EsnGateway):
    def notification(self, info: McdataParams, sds: SdsSignalling, kind: NotificationType) -> tuple[str, bytes]:
        other = SdsSignalling(sds.date_time, sds.conversation_id, uuid.uuid4())
        return notification_sds(info, other, kind)


class UnrequestedNotification(EsnGateway):
    def notifications_for(self, info: McdataParams, sds: SdsSignalling) -> list[NotificationType]:
        return super().notifications_for(info, sds) or [NotificationType.DELIVERED]


class AlwaysDelivered(EsnGateway):
    """Answers every disposition request, read included, with 'delivered'."""

    def notifications_for(self, info: McdataParams, sds: SdsSignalling) -> list[NotificationType]:
        return [NotificationType.DELIVERED] if super().notifications_for(info, sds) else []


class NotificationWithPayload(EsnGateway):
    def notification(self, info: McdataParams, sds: SdsSignalling, kind: NotificationType) -> tuple[str, bytes]:
        content_type, body = super().notification(info, sds, kind)
        parts = parse_multipart(content_type, body)
        extra = BodyPart(MCDATA_PAYLOAD, b"\x03\x01\x78\x00\x03\x01ok", "binary")
        return build_multipart([*(BodyPart(p.media_type, p.content, "binary") for p in parts), extra])


class SlowNotification(EsnGateway):
    """Notifications leave after 1.5 s: within the 5 s of the MUST, not the 1 s of the SHOULD."""

    async def send_notification(
        self, reply_to: str, info: McdataParams, sds: SdsSignalling, kind: NotificationType
    ) -> None:
        await asyncio.sleep(1.5)
        await super().send_notification(reply_to, info, sds, kind)


def _trimmed(content_type: str, body: bytes) -> tuple[str, bytes]:
    """The body with trailing white space cut from its binary parts, as a careless receiver reads it."""
    try:
        parts = parse_multipart(content_type, body)
    except MultipartError:
        return content_type, body
    rebuilt = [
        BodyPart(p.media_type, p.content.rstrip(b" \t\r\n") if p.media_type in BINARY_PARTS else p.content, "binary")
        for p in parts
    ]
    return build_multipart(rebuilt)


class TrimmedBinary(EsnGateway):
    def validate_sds(self, content_type: str, body: bytes) -> Validation:
        return super().validate_sds(*_trimmed(content_type, body))

    def parse(self, content_type: str, body: bytes) -> Sds:
        return super().parse(*_trimmed(content_type, body))


class MissingPartAccepted(EsnGateway):
    """Takes the parts it finds by media type and never asks whether one is missing."""

    def validate_sds(self, content_type: str, body: bytes) -> Validation:
        found = super().validate_sds(content_type, body)
        return Validation(found.format_id, tuple(f for f in found.findings if f.rule != MultipartFault.MISSING_PART))

    def parse(self, content_type: str, body: bytes) -> Sds:
        try:
            return super().parse(content_type, body)
        except MultipartError as exc:
            if exc.rule != MultipartFault.MISSING_PART:
                raise
        parts = parse_multipart(content_type, body)
        found = {part.media_type: part.content for part in parts}
        return Sds(
            found.get(MCDATA_INFO, b""), found.get(MCDATA_SIGNALLING, b""), found.get(MCDATA_PAYLOAD), None, parts
        )


class Base64Refused(EsnGateway):
    def validate_sds(self, content_type: str, body: bytes) -> Validation:
        found = super().validate_sds(content_type, body)
        if b"base64" not in body.lower():
            return found
        refusal = Finding("/part/2", str(MultipartFault.TRANSFER_ENCODING), "base64 is not accepted")
        return Validation(found.format_id, (*found.findings, refusal))


class TruncatedSignallingAccepted(EsnGateway):
    """Does not decode the signalling part before answering 202."""

    def validate_sds(self, content_type: str, body: bytes) -> Validation:
        found = super().validate_sds(content_type, body)
        return Validation(found.format_id, tuple(f for f in found.findings if not f.location.startswith("/part/2")))

    def undecodable(self, error: MultipartError | CodecError) -> web.StreamResponse:
        return web.Response(status=202)


class OffsetNotNamed(EsnGateway):
    def validate_sds(self, content_type: str, body: bytes) -> Validation:
        found = super().validate_sds(content_type, body)
        vague = tuple(Finding(f.location.split("/octet/")[0], f.rule, f.message) for f in found.findings)
        return Validation(found.format_id, vague)


class FirstMemberOnly(EsnGateway):
    def members(self, group: str | None) -> list[Member]:
        return super().members(group)[:1]


class RelayTrimsPayload(EsnGateway):
    def relayed(self, info: McdataParams, member: Member, sds: Sds) -> tuple[str, bytes]:
        assert sds.payload is not None
        trimmed = Sds(sds.info, sds.signalling, sds.payload.rstrip(b" \n"), sds.resource_lists, sds.parts)
        return super().relayed(info, member, trimmed)


class RelaysToEveryMember(EsnGateway):
    def members(self, group: str | None) -> list[Member]:
        return list(self.groups.get(group or "", ()))


class AlertNotAcknowledged(EsnGateway):
    def acknowledge(self, alert: McpttParams) -> web.StreamResponse:
        return web.Response(status=202)


class CancelRefused(EsnGateway):
    def acknowledge(self, alert: McpttParams) -> web.StreamResponse:
        if alert.alert is False:
            return web.Response(status=400)
        return super().acknowledge(alert)


class LocationWrongTrigger(EsnGateway):
    """Reports with the TriggerId of the catalog's sample, not the one configured."""

    def report(self, server: str, request: LocationInfo) -> bytes:
        return location_report(("periodic-30s",), self.latitude_raw, self.longitude_raw, request.request_id)


class NoLocationReport(EsnGateway):
    async def send_report(self, server: str, request: LocationInfo) -> None:
        return None


VARIANTS: dict[str, type[EsnGateway]] = {
    "wrong-notification-ids": WrongNotificationIds,
    "unrequested-notification": UnrequestedNotification,
    "always-delivered": AlwaysDelivered,
    "notification-with-payload": NotificationWithPayload,
    "slow-notification": SlowNotification,
    "trimmed-binary": TrimmedBinary,
    "missing-part-accepted": MissingPartAccepted,
    "base64-refused": Base64Refused,
    "truncated-signalling-accepted": TruncatedSignallingAccepted,
    "offset-not-named": OffsetNotNamed,
    "first-member-only": FirstMemberOnly,
    "relay-trims-payload": RelayTrimsPayload,
    "relays-to-every-member": RelaysToEveryMember,
    "alert-not-acknowledged": AlertNotAcknowledged,
    "cancel-refused": CancelRefused,
    "location-wrong-trigger": LocationWrongTrigger,
    "no-location-report": NoLocationReport,
}


def build_broken_gateway(catalog: Catalog, variant: str) -> web.Application:
    """The reference supplier with its ESN gateway replaced by the broken ``variant``."""
    gateway = VARIANTS[variant](catalog)
    roles: list[Role] = []
    for role in default_roles(catalog):
        if isinstance(role, EsnGateway):
            roles.append(gateway)
        elif isinstance(role, TestHooks):  # the trigger actions (send-sds, send-fd, fd-respond) are the variant's
            roles.append(TestHooks(actions=gateway.actions()))
        else:
            roles.append(role)
    return build_app(catalog, roles)
