"""Deliberately broken variants of the reference sender: each breaks ONE sender rule of resilience.md."""

from __future__ import annotations

import asyncio
import json
import uuid

import aiohttp
from aiohttp import web

from harness.catalog import Catalog
from harness.endpoints import build_app
from harness.endpoints.alert_hub import AlertHub
from harness.endpoints.intel_hub import IntelHub
from harness.endpoints.sender import Attempted, ReferenceSender
from harness.endpoints.test_hooks import TestHooks


class NewIdOnRetry(ReferenceSender):
    """RS-01: every retry of a report mints a fresh reportId."""

    def message_for(self, attempt: int, body: bytes) -> bytes:
        if attempt == 1 or not body.startswith(b"{"):
            return body
        return json.dumps({**json.loads(body), "reportId": str(uuid.uuid4())}).encode()


class GivesUpAfterOne(ReferenceSender):
    """RS-02: one retryable failure and the delivery is abandoned."""

    max_attempts = 1


class IgnoresRetryAfter(ReferenceSender):
    """RS-03: Retry-After is not read; the usual backoff (300 ms) applies."""

    def retry_after_s(self, outcome: Attempted) -> float | None:
        return None


class NoBackoff(ReferenceSender):
    """RS-04: retries at once."""

    def backoff(self, attempt: int) -> float:
        return 0.0


class Retries400(ReferenceSender):
    """RS-05: only a 2xx ends a delivery; a 400 (or 409) is tried again."""

    def ends(self, status: int | None) -> bool:
        return status is not None and 200 <= status < 300


class TwoInFlight(ReferenceSender):
    """RS-06: an attempt that runs out of time is left open while the next one goes."""

    def __init__(self) -> None:
        super().__init__()
        self._open: set[asyncio.Task[Attempted]] = set()

    async def attempt(
        self, session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]
    ) -> Attempted:
        async def unbounded() -> Attempted:
            async with aiohttp.ClientSession() as own, own.post(url, data=body, headers=headers) as answer:
                await answer.read()
                return Attempted(answer.status, answer.headers.get("Retry-After"))

        task = asyncio.create_task(unbounded())
        self._open.add(task)
        task.add_done_callback(self._open.discard)
        done, _ = await asyncio.wait({task}, timeout=self.attempt_timeout_s)
        if not done:
            return Attempted(None)  # still open: the next attempt goes beside it
        try:
            return task.result()
        except (aiohttp.ClientError, OSError):
            return Attempted(None)


class ReportsFailedAsDelivered(ReferenceSender):
    """RS-07: a delivery given up is reported delivered."""

    def final_state(self, delivered: bool) -> str:
        return "delivered"


class UpdateBeforeOriginal(ReferenceSender):
    """RS-09: the update goes at once, beside its original, not after the original's 2xx."""

    async def deliver_all(self, url: str, messages: list[tuple[str, bytes, str]]) -> None:
        await asyncio.gather(*(self.deliver(url, *message) for message in messages))


class NoIdempotencyKey(ReferenceSender):
    """RS-08 (warning): attempts carry no Idempotency-Key."""

    def headers_for(self, message_id: str, content_type: str) -> dict[str, str]:
        return {"Content-Type": content_type}


class NeverSends(ReferenceSender):
    """Breaks every sender scenario at once: takes the order, sends nothing, and says it delivered."""

    async def deliver(self, url: str, message_id: str, body: bytes, content_type: str) -> bool:
        delivery = self.deliveries.get(message_id) or self._track(message_id)
        delivery.state = "delivered"
        return True


SENDERS: dict[str, type[ReferenceSender]] = {
    "new-id-on-retry": NewIdOnRetry,
    "gives-up-after-one": GivesUpAfterOne,
    "ignores-retry-after": IgnoresRetryAfter,
    "no-backoff": NoBackoff,
    "retries-400": Retries400,
    "two-in-flight": TwoInFlight,
    "reports-failed-as-delivered": ReportsFailedAsDelivered,
    "update-before-original": UpdateBeforeOriginal,
    "no-idempotency-key": NoIdempotencyKey,
    "never-sends": NeverSends,
}


def build_broken_sender(catalog: Catalog, variant: str) -> web.Application:
    """The reference supplier whose trigger hook delivers with the broken sender ``variant``."""
    return build_app(catalog, [IntelHub(catalog), AlertHub(catalog), TestHooks(SENDERS[variant]())])
