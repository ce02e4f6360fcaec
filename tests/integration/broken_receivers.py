"""Deliberately broken receivers for the receiver roles of ``resilience-core`` (specs/resilience.md, RR-01..06).

Each variant overrides one decision of the reference :class:`IntelHub` or :class:`AlertHub` and breaks one rule;
the suite must fail it on that rule (tests/integration/test_resilience_receiver.py). Where a fault shows only
under load, the variant does what a real receiver does when it is busy (an ``await`` on its database), so the
harness's concurrent attempts really overlap in it.
"""

from __future__ import annotations

import asyncio
import contextvars
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

from harness.catalog import Catalog
from harness.endpoints import build_app, default_roles
from harness.endpoints.alert_hub import AlertHub, Held
from harness.endpoints.common import BODY, PREREAD, BodyIncomplete, json_response, problem, read_body, utc_now
from harness.endpoints.intel_hub import IntelHub, StoredReport
from harness.families.cap.message import CapHeader
from harness.model import Finding
from harness.profile import INTEL_REPORTS_PATH

BUSY = 8
"""Requests in progress beyond which the load-sensitive variants misbehave (the burst of RR-04 is 50)."""
DB_WRITE_S = 0.05
"""How long the variants' "database" takes to write: long enough for concurrent attempts to meet in it."""


_PENDING: contextvars.ContextVar[tuple[Any, bytes, dict[str, Any]] | None] = contextvars.ContextVar(
    "pending", default=None
)
"""The write a DuplicateUnderConcurrency hub decided on, for the submit of the same request (its own task)."""


class DuplicateUnderConcurrency(IntelHub):
    """RR-01: checks whether the report is known, then writes it after an ``await`` (check-then-act): attempts
    of one report that arrive together each find it unknown, each store a copy and each get their own
    acknowledgement. Everything else is the reference's (validation, conflicts, refusals)."""

    def __init__(self, catalog: Catalog) -> None:
        super().__init__(catalog)
        self.writing = 0
        self.copies: dict[str, list[dict[str, Any]]] = {}

    def accept(self, fmt: Any, body: bytes, model: dict[str, Any]) -> web.StreamResponse:
        stored = self.reports.get(str(model["reportId"]))
        if stored is not None:
            return super().accept(fmt, body, model)
        _PENDING.set((fmt, body, model))  # unknown: written by submit, after an await
        return web.Response(status=204)

    async def submit(self, request: web.Request) -> web.StreamResponse:
        _PENDING.set(None)
        answer = await super().submit(request)
        pending = _PENDING.get()
        if pending is None:
            return answer
        fmt, body, model = pending
        report_id = str(model["reportId"])
        self.writing += 1  # the write goes to the database, queued behind the others; another attempt checks meanwhile
        try:
            await asyncio.sleep(DB_WRITE_S * self.writing)
        finally:
            self.writing -= 1
        ack = {"reportId": report_id, "status": "accepted", "receivedAt": utc_now()}
        self.copies.setdefault(report_id, []).append(ack)  # one row per copy; retrieve reads the first
        if report_id not in self.reports:
            content = self.family.content_of(model)
            self.reports[report_id] = StoredReport(fmt.id, body, fmt.media_type, content, model, ack)
        return self.acknowledge(ack)


_REPORT_ID = re.compile(rb'"reportId"\s*:\s*"([^"]+)"')


class StoresHalfBody(IntelHub):
    """RR-02: when the sender goes away mid-body, keeps what arrived under the reportId it could read."""

    async def submit(self, request: web.Request) -> web.StreamResponse:
        if "Content-Type" in request.headers and request.content_length:
            chunks: list[bytes] = []
            try:
                while chunk := await request.content.read(64 * 1024):
                    chunks.append(chunk)
            except ConnectionError:
                partial = b"".join(chunks)
                found = _REPORT_ID.search(partial)
                if found:
                    report_id = found[1].decode()
                    ack = {"reportId": report_id, "status": "accepted", "receivedAt": utc_now()}
                    model = {"reportId": report_id}
                    fmt = self.json_format
                    self.reports[report_id] = StoredReport(fmt.id, partial, fmt.media_type, {}, model, ack)
                raise BodyIncomplete from None
            request[BODY] = b"".join(chunks)
            return await self._judge(request, b"".join(chunks))
        return await super().submit(request)

    async def _judge(self, request: web.Request, body: bytes) -> web.StreamResponse:
        fmt = self.by_media_type.get(request.headers.get("Content-Type", "").split(";")[0].strip())
        if fmt is None:
            return problem(415, "unsupported-media-type", "unsupported")
        validation = self.validate(fmt, body)
        if not validation.valid or validation.model is None:
            return problem(400, "invalid-message", f"{len(validation.findings)} finding(s)", validation.findings)
        return self.accept(fmt, body, validation.model)


class _Busy(IntelHub):
    """A hub that counts the submissions in progress; each takes :data:`DB_WRITE_S` (its database write)."""

    def __init__(self, catalog: Catalog) -> None:
        super().__init__(catalog)
        self.in_progress = 0

    @contextmanager
    def counted(self) -> Iterator[int]:
        self.in_progress += 1
        try:
            yield self.in_progress
        finally:
            self.in_progress -= 1

    async def submit(self, request: web.Request) -> web.StreamResponse:
        with self.counted() as busy:
            await asyncio.sleep(DB_WRITE_S)
            if busy > BUSY:
                return await self.overloaded(request)
            return await super().submit(request)

    async def overloaded(self, request: web.Request) -> web.StreamResponse:
        return await super().submit(request)


class ServerErrorUnderBurst(_Busy):
    """RR-03: past its capacity, answers ``500``."""

    async def overloaded(self, request: web.Request) -> web.StreamResponse:
        request[BODY] = await read_body(request)
        return problem(500, "internal-error", "too busy")


class ShedsWithoutRetryAfter(_Busy):
    """RR-03: past its capacity, answers ``503`` but says nothing of when to come back."""

    async def overloaded(self, request: web.Request) -> web.StreamResponse:
        request[BODY] = await read_body(request)
        return problem(503, "unavailable", "too busy")


class LosesAcknowledged(_Busy):
    """RR-04: past its capacity, acknowledges the report (its queue is full) and drops it."""

    async def overloaded(self, request: web.Request) -> web.StreamResponse:
        body = await read_body(request)
        request[BODY] = body
        fmt = self.json_format
        validation = self.validate(fmt, body)
        report_id = str((validation.model or {}).get("reportId"))
        ack = {"reportId": report_id, "status": "accepted", "receivedAt": utc_now()}
        return json_response(ack, 202, Location=f"{INTEL_REPORTS_PATH}/{report_id}")


class SlowClientBlocksOthers(IntelHub):
    """RR-05: reads one body at a time (a single reader thread): a slow sender holds every other up."""

    def __init__(self, catalog: Catalog) -> None:
        super().__init__(catalog)
        self.reading = asyncio.Lock()

    async def submit(self, request: web.Request) -> web.StreamResponse:
        async with self.reading:
            return await super().submit(request)


class SlowUnderBurst(IntelHub):
    """RR-07 (a warning): writes one report at a time, each write taking :data:`DB_WRITE_S`: a burst of 50 is
    answered, all of it, but the last ones wait more than a second. Bodies are read outside the write lock, so a
    slow client holds nobody up (RR-05 holds)."""

    def __init__(self, catalog: Catalog) -> None:
        super().__init__(catalog)
        self.writing = asyncio.Lock()

    async def submit(self, request: web.Request) -> web.StreamResponse:
        request[PREREAD] = await read_body(request)  # the reference's submit takes the body read here
        async with self.writing:
            await asyncio.sleep(DB_WRITE_S)
            return await super().submit(request)


class UpdateAppliedOutOfOrder(AlertHub):
    """RR-06: applies an Update to the alert it references at once, even before that alert arrived: the
    original, when it comes, finds its identifier taken by the update's content and is refused as a conflict."""

    def accept_alert(self, original: CapHeader, content: bytes, warnings: Any = ()) -> web.StreamResponse:
        if original.msg_type == "Update" and original.references:
            parts = original.references.split()[0].split(",")
            if len(parts) >= 2:
                key = (parts[0], parts[1])
                if self.alerts.get(key) is None:
                    self._keep(self.alerts, key, Held(content, self.ack_alert(original, warnings)))
        held = self.alerts.get((original.sender or "", original.identifier or ""))
        if held is not None and not self.same_content(held.content, content):
            clash = Finding("/cap:alert/cap:identifier", "conflict", "identifier already used with different content")
            return self.cap_answer(409, self.error_alert(original, [clash]))
        return super().accept_alert(original, content, warnings)


INTEL_VARIANTS: dict[str, type[IntelHub]] = {
    "duplicate-under-concurrency": DuplicateUnderConcurrency,
    "stores-half-body": StoresHalfBody,
    "500-under-burst": ServerErrorUnderBurst,
    "sheds-without-retry-after": ShedsWithoutRetryAfter,
    "loses-acknowledged": LosesAcknowledged,
    "slow-client-blocks-others": SlowClientBlocksOthers,
    "slow-under-burst": SlowUnderBurst,
}
ALERT_VARIANTS: dict[str, type[AlertHub]] = {"update-applied-out-of-order": UpdateAppliedOutOfOrder}
VARIANTS = (*INTEL_VARIANTS, *ALERT_VARIANTS)


def build_broken_receiver(catalog: Catalog, variant: str) -> web.Application:
    """The reference supplier with one of its hubs replaced by the broken ``variant``."""
    roles: list[Any] = []
    for role in default_roles(catalog):
        if isinstance(role, IntelHub) and variant in INTEL_VARIANTS:
            role = INTEL_VARIANTS[variant](catalog)
        elif isinstance(role, AlertHub) and variant in ALERT_VARIANTS:
            role = ALERT_VARIANTS[variant](catalog)
        roles.append(role)
    return build_app(catalog, roles)
