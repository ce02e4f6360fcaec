"""Deliberately broken variants of the reference ESN gateway playing esn.md 1.1: one per DSP rule (the
correlation of disposition notifications) and one per FDX rule (the content server) that a run can observe.

Each breaks its rule only; ``test_esn11_honesty.py`` proves esn-core@1.1 fails each on the scenario that
checks that rule. FDX-04 (a file served more than 5 minutes after its availability) needs a run that waits
over 5 minutes: no scenario of esn-core@1.1 observes it, so it has no variant (docs/decisions-esn-1.1.md).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from aiohttp import web

from harness.catalog import Catalog
from harness.endpoints import Role, build_app, default_roles
from harness.endpoints.correlation import Correlator, Judgement, Notification, Original
from harness.endpoints.esn_gateway import EsnGateway, PendingFd
from harness.endpoints.files import StoredFile
from harness.endpoints.test_hooks import TestHooks
from harness.families.esn.body import build_sds, parse_sds
from harness.families.esn.mcdata import (
    Disposition,
    FdNotificationType,
    FdSignalling,
    NotificationType,
    SdsNotification,
    SdsSignalling,
    encode,
)
from harness.families.esn.messages import McdataParams, notification_sds


class AcceptsUncorrelated(Correlator):
    """DSP-01: a notification answering nothing sent is accepted."""

    def judge(
        self,
        notification: Notification,
        octets: bytes,
        part: int = 2,
        offsets: dict[str, int] | None = None,
        now: float | None = None,
    ) -> Judgement:
        found = super().judge(notification, octets, part, offsets, now)
        return Judgement(202) if any(f.rule == "DSP-01" for f in found.errors) else found


class AcceptsUnrequestedType(Correlator):
    """DSP-02: a notification type the SDS did not ask for is accepted."""

    def request_problem(self, original: Original, kind: int) -> str | None:
        return None


class AcceptsOutOfOrder(Correlator):
    """DSP-03: READ before DELIVERED, and anything after DELIVERED AND READ, are accepted."""

    def order_problem(self, original: Original, kind: int) -> str | None:
        return None


class AcceptsChangedRepeat(Correlator):
    """DSP-04: a second notification of a type already accepted, with other octets, is accepted."""

    def repeat_problem(self, original: Original, kind: int) -> str | None:
        return None


class IgnoresApplicationIds(Correlator):
    """DSP-05 (originator side): a notification whose application ids are not the SDS's is accepted."""

    def echo_problem(self, original: Original, notification: Notification) -> str | None:
        return None


class RefusesOnWarnings(Correlator):
    """DSP-06 / DSP-07 made errors: a notification with only a warning is refused (binding rule 10 broken)."""

    def __init__(self, store: Any, rule: str) -> None:
        super().__init__(store)
        self.rule = rule

    def judge(
        self,
        notification: Notification,
        octets: bytes,
        part: int = 2,
        offsets: dict[str, int] | None = None,
        now: float | None = None,
    ) -> Judgement:
        found = super().judge(notification, octets, part, offsets, now)
        if found.accepted and any(f.rule == self.rule for f in found.warnings):
            return Judgement(409, tuple(f for f in found.warnings if f.rule == self.rule))
        return found


def _with(correlator: type[Correlator], *args: Any) -> type[EsnGateway]:
    class Variant(EsnGateway):
        def __init__(self, catalog: Catalog) -> None:
            super().__init__(catalog)
            self.correlator = correlator(self.correlator.store, *args)

    Variant.__name__ = correlator.__name__
    return Variant


class NotEchoingExtendedId(EsnGateway):
    """DSP-05 (recipient side): the notifications it sends carry the Application ID only (1.0's answer), not
    the Extended application ID."""

    def notification(self, info: McdataParams, sds: SdsSignalling, kind: NotificationType) -> tuple[str, bytes]:
        content_type, body = notification_sds(info, sds, kind)
        signalling = encode(SdsNotification.answering(sds, kind, int(time.time())))
        return build_sds(parse_sds(content_type, body).info, signalling)


class FileNotServed(EsnGateway):
    """FDX-01: the file announced in FILEURL is not served (404)."""

    def __init__(self, catalog: Catalog) -> None:
        super().__init__(catalog)
        self.files.get = lambda file_id: None  # type: ignore[method-assign]


class SizeNotAnnounced(EsnGateway):
    """FDX-02: the metadata announces one octet more than the file holds."""

    def triggered_fd(self, params: dict[str, Any], base: str) -> tuple[McdataParams, FdSignalling]:
        info, fd = super().triggered_fd(params, base)
        assert fd.metadata is not None
        size = len(self.offered_file(params)[0])
        metadata = fd.metadata.replace(f"size:{size}".encode(), f"size:{size + 1}".encode())
        return info, dataclasses.replace(fd, metadata=metadata)


class WrongContentType(EsnGateway):
    """FDX-03: every file is served as application/octet-stream, whatever its type."""

    def __init__(self, catalog: Catalog) -> None:
        super().__init__(catalog)
        serve = self.files.serve

        def as_octets(stored: StoredFile) -> web.StreamResponse:
            return serve(StoredFile(stored.content, "application/octet-stream", stored.expires))

        self.files.serve = as_octets  # type: ignore[method-assign]


class DeliveredThenRead(EsnGateway):
    """Not broken: answers DELIVERY AND READ with DELIVERED, then READ (the other order ESN-20 allows)."""

    def notifications_for(self, info: McdataParams, sds: SdsSignalling) -> list[NotificationType]:
        kinds = super().notifications_for(info, sds)
        return [NotificationType.DELIVERED] if kinds == [NotificationType.DELIVERED_AND_READ] else kinds

    async def send_notification(
        self, reply_to: str, info: McdataParams, sds: SdsSignalling, kind: NotificationType
    ) -> None:
        await super().send_notification(reply_to, info, sds, kind)
        if kind == NotificationType.DELIVERED and sds.disposition == Disposition.DELIVERY_AND_READ:
            await super().send_notification(reply_to, info, sds, NotificationType.READ)


class ReadThenDelivered(DeliveredThenRead):
    """ESN-20: READ first, then DELIVERED."""

    async def send_notification(
        self, reply_to: str, info: McdataParams, sds: SdsSignalling, kind: NotificationType
    ) -> None:
        if kind == NotificationType.DELIVERED and sds.disposition == Disposition.DELIVERY_AND_READ:
            await EsnGateway.send_notification(self, reply_to, info, sds, NotificationType.READ)
        await EsnGateway.send_notification(self, reply_to, info, sds, kind)


class CompletedBeforeDownload(EsnGateway):
    """ESN-30: FILE DOWNLOAD COMPLETED sent before the file is fetched."""

    async def respond_fd(self, pending: PendingFd, answer: str) -> None:
        if answer != "accept":
            await super().respond_fd(pending, answer)
            return
        await self.send_fd_notification(pending, FdNotificationType.ACCEPTED)
        await self.send_fd_notification(pending, FdNotificationType.COMPLETED)
        await self.fetch(pending.fd)


class CompletedWithoutRequest(EsnGateway):
    """ESN-31: FILE DOWNLOAD COMPLETED sent although the FD did not carry 91."""

    async def respond_fd(self, pending: PendingFd, answer: str) -> None:
        await super().respond_fd(pending, answer)
        if answer == "accept" and not pending.fd.completion_requested:
            await self.send_fd_notification(pending, FdNotificationType.COMPLETED)


RECEIVER_VARIANTS: dict[str, type[EsnGateway]] = {
    "delivered-then-read": DeliveredThenRead,
    "read-then-delivered": ReadThenDelivered,
    "completed-before-download": CompletedBeforeDownload,
    "completed-without-request": CompletedWithoutRequest,
}
"""Variants of the gateway as the recipient of an SDS or FD: the order checks of ESN-20, ESN-30 and ESN-31 can fail
(and one that is not broken passes)."""

VARIANTS: dict[str, tuple[type[EsnGateway], str]] = {
    "dsp-01-accepts-uncorrelated": (_with(AcceptsUncorrelated), "DSP-01"),
    "dsp-02-accepts-unrequested-type": (_with(AcceptsUnrequestedType), "DSP-02"),
    "dsp-03-accepts-out-of-order": (_with(AcceptsOutOfOrder), "DSP-03"),
    "dsp-04-accepts-changed-repeat": (_with(AcceptsChangedRepeat), "DSP-04"),
    "dsp-05-ignores-application-ids": (_with(IgnoresApplicationIds), "DSP-05"),
    "dsp-05-not-echoing-extended-id": (NotEchoingExtendedId, "DSP-05"),
    "dsp-06-refuses-old-date": (_with(RefusesOnWarnings, "DSP-06"), "DSP-06"),
    "dsp-07-refuses-interworking-type": (_with(RefusesOnWarnings, "DSP-07"), "DSP-07"),
    "fdx-01-file-not-served": (FileNotServed, "FDX-01"),
    "fdx-02-size-not-announced": (SizeNotAnnounced, "FDX-02"),
    "fdx-03-wrong-content-type": (WrongContentType, "FDX-03"),
}
"""Variant name -> (the gateway class, the rule it breaks)."""


def build_broken_gateway(catalog: Catalog, variant: str) -> web.Application:
    """The reference supplier with its ESN gateway replaced by ``variant`` (its trigger actions included)."""
    gateway = VARIANTS[variant][0](catalog) if variant in VARIANTS else RECEIVER_VARIANTS[variant](catalog)
    roles: list[Role] = []
    for role in default_roles(catalog):
        if isinstance(role, EsnGateway):
            roles.append(gateway)
        elif isinstance(role, TestHooks):
            roles.append(TestHooks(actions=gateway.actions()))
        else:
            roles.append(role)
    return build_app(catalog, roles)
