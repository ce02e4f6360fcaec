"""The reference sender: how the reference supplier delivers a message when the receiver fails (resilience.md).

The trigger hook's actions ``send-intel-report`` and ``send-cap-update`` hand it a message; it delivers it by
the sender rules RS-01..RS-09 and keeps each delivery's state for ``GET /netcode/v1/_test/deliveries/{id}``:

- every attempt carries the same bytes, and ``Idempotency-Key`` with the message id (RS-01, RS-08);
- up to :attr:`ReferenceSender.max_attempts` attempts (at least 3) within 60 s (RS-02), each with its own
  time-out and never two at once (RS-06: an attempt that timed out is closed before the next);
- ``Retry-After`` (delta-seconds or HTTP-date) is waited for, one over 300 s ends the delivery (RS-03);
  otherwise an exponential backoff from 300 ms with +-20 % jitter (RS-04);
- an answer that ends the delivery (2xx, 409, any other 4xx but 408/425/429) is never retried (RS-05);
- a delivery given up is ``failed``, never ``delivered`` (RS-07); an update waits for its original's 2xx (RS-09).

Each decision is a method, so tests build broken variants by overriding one of them. The delays are those of
the spec's own timings (seconds), small enough for the suite to run in well under a minute.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import random
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from harness.endpoints.common import LOG
from harness.http import parse_retry_after

__all__ = ["Attempted", "Delivery", "ReferenceSender"]

RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(slots=True)
class Delivery:
    """A message the sender was asked to deliver, as the deliveries hook reports it."""

    id: str
    state: str = "pending"
    attempts: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "state": self.state, "attempts": self.attempts}


@dataclass(slots=True, frozen=True)
class Attempted:
    """What one attempt came to: the status (None: no answer at all) and the answer's ``Retry-After``."""

    status: int | None
    retry_after: str | None = None


class ReferenceSender:
    """Delivers messages by the sender rules; one instance per reference supplier."""

    max_attempts = 5
    attempt_timeout_s = 2.0
    backoff_first_s = 0.3
    backoff_factor = 2.0
    jitter = 0.2
    longest_retry_after_s = 300.0
    give_up_after_s = 55.0

    def __init__(self, capacity: int = 1000) -> None:
        self.deliveries: collections.OrderedDict[str, Delivery] = collections.OrderedDict()
        self.capacity = capacity
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- bookkeeping -------------------------------------------------------------------

    def reset(self) -> None:
        self.deliveries.clear()

    def delivery(self, message_id: str) -> Delivery | None:
        return self.deliveries.get(message_id)

    def _track(self, message_id: str) -> Delivery:
        delivery = self.deliveries[message_id] = Delivery(message_id)
        while len(self.deliveries) > self.capacity:  # bounded: soaks
            self.deliveries.popitem(last=False)
        return delivery

    def start(self, url: str, messages: list[tuple[str, bytes, str]]) -> None:
        """Deliver ``messages`` (id, body, content type) to ``url`` in the background, in order: each one after
        the one before was delivered (an update after its original, RS-09)."""
        for message_id, _, _ in messages:
            self._track(message_id)
        task = asyncio.create_task(self.deliver_all(url, messages))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def deliver_all(self, url: str, messages: list[tuple[str, bytes, str]]) -> None:
        for index, (message_id, body, content_type) in enumerate(messages):
            delivered = await self.deliver(url, message_id, body, content_type)
            if not delivered and self.updates_need_original():
                for later_id, _, _ in messages[index + 1 :]:  # an update never goes before its original
                    self.deliveries[later_id].state = "failed"
                return

    def updates_need_original(self) -> bool:
        return True

    # -- one delivery --------------------------------------------------------------------

    async def deliver(self, url: str, message_id: str, body: bytes, content_type: str) -> bool:
        """Attempts until an answer ends the delivery or the sender gives up; True when answered 2xx."""
        delivery = self.deliveries.get(message_id) or self._track(message_id)
        started = time.monotonic()
        connector = aiohttp.TCPConnector(force_close=True)  # a fresh connection per attempt: a reset one is gone
        async with aiohttp.ClientSession(connector=connector) as session:
            number = 0
            while True:
                number += 1
                sent = self.message_for(number, body)
                outcome = await self.attempt(session, url, sent, self.headers_for(message_id, content_type))
                delivery.attempts += 1
                if outcome.status is not None and 200 <= outcome.status < 300:
                    delivery.state = "delivered"
                    return True
                if self.ends(outcome.status):
                    delivery.state = self.final_state(delivered=False)
                    return False
                wait = self.wait_before(number + 1, outcome)
                if (
                    wait is None
                    or number >= self.max_attempts
                    or time.monotonic() - started + wait > self.give_up_after_s
                ):
                    delivery.state = self.final_state(delivered=False)
                    return False
                await asyncio.sleep(wait)

    def final_state(self, delivered: bool) -> str:
        """What the deliveries hook says of a delivery that ended (RS-07: given up is ``failed``)."""
        return "delivered" if delivered else "failed"

    def message_for(self, attempt: int, body: bytes) -> bytes:
        """The bytes of attempt ``attempt``: always the same message (RS-01)."""
        return body

    def headers_for(self, message_id: str, content_type: str) -> dict[str, str]:
        """``Idempotency-Key`` as the IETF draft writes it: a structured-field string, the message id (RS-08)."""
        return {"Content-Type": content_type, "Idempotency-Key": f'"{message_id}"'}

    def ends(self, status: int | None) -> bool:
        """Whether an answer ends the delivery (resilience.md, terms): no retry after it (RS-05)."""
        if status is None:
            return False
        return 200 <= status < 300 or (400 <= status < 500 and status not in (408, 425, 429))

    def wait_before(self, attempt: int, outcome: Attempted) -> float | None:
        """Seconds to wait before attempt ``attempt`` (2, 3, ...); None gives up (a Retry-After over 300 s)."""
        asked = self.retry_after_s(outcome)
        if asked is not None:
            return None if asked > self.longest_retry_after_s else asked + 0.02  # a hair over: clocks tick apart
        return self.backoff(attempt)

    def retry_after_s(self, outcome: Attempted) -> float | None:
        """The wait a ``Retry-After`` asks for (delta-seconds or HTTP-date), or None without a usable one."""
        if outcome.retry_after is None or outcome.status not in (429, 503):
            return None
        asked = parse_retry_after(outcome.retry_after)
        if asked is None or isinstance(asked, int):
            return None if asked is None else float(asked)
        return max(0.0, (asked - dt.datetime.now(dt.UTC)).total_seconds())

    def backoff(self, attempt: int) -> float:
        """Exponential backoff, jittered: 0.3 s, 0.6 s, 1.2 s, ... each +-20 % (RS-04: never shrinking)."""
        nominal = self.backoff_first_s * self.backoff_factor ** (attempt - 2)
        return nominal * random.uniform(1 - self.jitter, 1 + self.jitter)

    async def attempt(
        self, session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]
    ) -> Attempted:
        """One attempt, with its own time-out: closed (and so no longer in flight) when it runs out (RS-06)."""
        try:
            timeout = aiohttp.ClientTimeout(total=self.attempt_timeout_s)
            async with session.post(url, data=body, headers=headers, timeout=timeout) as answer:
                await answer.read()
                return Attempted(answer.status, answer.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            LOG.info("attempt to %s failed: %s", url, type(exc).__name__)
            return Attempted(None)
