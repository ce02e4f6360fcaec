"""The reference sender's decisions (endpoints/sender.py), one by one: what its variants override."""

from __future__ import annotations

import email.utils
import time

from harness.endpoints.sender import Attempted, ReferenceSender


def test_retry_after_is_waited_for_and_over_300_s_ends_the_delivery() -> None:
    sender = ReferenceSender()
    assert sender.wait_before(2, Attempted(503, "2")) == 2.02  # a hair over: the clocks tick apart
    assert sender.wait_before(2, Attempted(429, "301")) is None
    ahead = email.utils.formatdate(time.time() + 3, usegmt=True)
    waited = sender.wait_before(2, Attempted(429, ahead))
    assert waited is not None and 1.9 <= waited <= 3.1
    assert sender.retry_after_s(Attempted(500, "2")) is None  # only 429 and 503 ask for a wait
    assert sender.retry_after_s(Attempted(503, "soon")) is None


def test_backoff_grows_from_300_ms_within_20_percent() -> None:
    sender = ReferenceSender()
    for attempt, nominal in ((2, 0.3), (3, 0.6), (4, 1.2), (5, 2.4)):
        for _ in range(50):
            assert nominal * 0.8 <= sender.backoff(attempt) <= nominal * 1.2
    assert sender.max_attempts >= 3 and sender.give_up_after_s < 60  # RS-02: 3 attempts within 60 s


def test_what_ends_a_delivery_and_what_every_attempt_carries() -> None:
    sender = ReferenceSender()
    assert [s for s in (200, 202, 400, 408, 409, 413, 422, 425, 429, 500, 503, None) if sender.ends(s)] == [
        200,
        202,
        400,
        409,
        413,
        422,
    ]
    headers = sender.headers_for("id-1", "application/json")
    assert headers["Idempotency-Key"] == '"id-1"'  # the draft's structured-field string
    assert sender.message_for(3, b"same") == b"same"
    assert sender.final_state(delivered=False) == "failed"
