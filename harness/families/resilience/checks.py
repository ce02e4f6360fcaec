"""The judgements of the receiver scenarios of ``resilience-core``: each failure names the rule it breaks.

A failure's ``check`` starts with the rule id (``RR-01: same answer``), so that ``results.json``, the console
and the report name the rule without knowing this family (docs/decisions-resilience.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from harness.model import CheckFailure, HarnessError
from harness.runner.checks import CheckContext, evaluate, preview
from harness.runner.context import ScenarioContext
from harness.transport import Response

__all__ = [
    "RETRYABLE_REFUSALS",
    "early_update",
    "held_up",
    "named",
    "overlapped",
    "refusal",
    "retrieved",
    "same_answers",
    "slow_burst",
    "unanswered",
    "unknown",
]

RETRYABLE_REFUSALS = (429, 503)
"""How a receiver sheds load (RR-03): with ``Retry-After``."""


def named(rule: str, failure: CheckFailure) -> CheckFailure:
    """``failure`` with its check prefixed by ``rule`` (once)."""
    if not rule or failure.check.startswith(rule):
        return failure
    return dataclasses.replace(failure, check=f"{rule}: {failure.check}")


OVERLAP_TOLERANCE_S = 0.002
"""Recorded times are in milliseconds: a sending time derived from one may be off by that much."""


def overlapped(step: str, spans: Sequence[tuple[float, float] | None]) -> None:
    """Attempts released together really overlapped: each was sent before the first answer came. Otherwise the
    step could not be judged (an error of the run, never a verdict on the system under test)."""
    known = [span for span in spans if span is not None]
    if len(known) < 2:
        return
    last_sent = max(sent for sent, _ in known)
    first_answer = min(answered for _, answered in known)
    if last_sent > first_answer + OVERLAP_TOLERANCE_S:
        raise HarnessError(
            f"step {step}: the attempts did not overlap (one was sent {1000 * (last_sent - first_answer):.0f} ms "
            "after another was answered): not concurrent"
        )


def unanswered(rule: str, step: str, wanted: str) -> CheckFailure:
    return CheckFailure(step, f"{rule}: answered", wanted, None, f"{rule}: no complete answer (connection closed)")


def _answer(response: Response | None) -> tuple[int, bytes] | None:
    return None if response is None else (response.status, response.body)


def same_answers(rule: str, step: str, responses: Sequence[Response | None]) -> list[CheckFailure]:
    """RR-01: every attempt answered, none with a ``5xx``, every answer the first's (status and body)."""
    failures: list[CheckFailure] = []
    for index, response in enumerate(responses):
        name = f"{step}#{index + 1}"
        if response is None:
            failures.append(unanswered(rule, name, "the answer the first attempt got"))
        elif response.status >= 500:
            failures.append(
                CheckFailure(
                    name,
                    f"{rule}: no 5xx",
                    "the answer the first attempt got",
                    response.status,
                    f"{rule}: the same message again was answered {response.status}",
                )
            )
    if failures:
        return failures
    first = _answer(responses[0])
    assert first is not None
    differing = [index for index, response in enumerate(responses) if _answer(response) != first]
    for index in differing:
        response = responses[index]
        assert response is not None
        failures.append(
            CheckFailure(
                f"{step}#{index + 1}",
                f"{rule}: same answer",
                f"{first[0]} {preview(first[1])}",
                f"{response.status} {preview(response.body)}",
                f"{rule}: {len(differing)} of {len(responses)} attempts of one message got another answer than the "
                f"first: the message was accepted more than once",
            )
        )
    return failures


def retrieved(
    rule: str, step: str, response: Response | None, ctx: ScenarioContext, sent_by: str
) -> list[CheckFailure]:
    """The message sent by step ``sent_by`` is retrievable, with its content (RR-01, RR-02, RR-04)."""
    if response is None:
        return [unanswered(rule, step, "the stored message")]
    expect = {"status": 200, "content": {"same_as": sent_by}}
    failures = evaluate(expect, CheckContext(response, ctx, None), step)
    return [_lost(named(rule, failure), rule) for failure in failures]


def _lost(failure: CheckFailure, rule: str) -> CheckFailure:
    if failure.check.endswith("status") and failure.actual == 404:
        return dataclasses.replace(failure, message=f"{rule}: a message answered 2xx is not retrievable (404)")
    return failure


def unknown(rule: str, step: str, response: Response | None) -> list[CheckFailure]:
    """RR-02: the id of a message whose body never arrived whole is unknown (``404``)."""
    if response is None:
        return [unanswered(rule, step, "404")]
    if response.status != 404:
        return [
            CheckFailure(
                step,
                f"{rule}: nothing stored",
                404,
                response.status,
                f"{rule}: a body that stopped at half was stored (retrieve answered {response.status})",
            )
        ]
    return []


def refusal(rule: str, step: str, response: Response | None) -> CheckFailure | None:
    """RR-03: an answer to a well-formed message in a burst: ``2xx``, or ``429``/``503`` with ``Retry-After``;
    never a ``500``, never no answer."""
    if response is None:
        return unanswered(rule, step, "2xx, or 429/503 with Retry-After")
    status = response.status
    if 200 <= status < 300:
        return None
    if status in RETRYABLE_REFUSALS:
        if response.header("Retry-After"):
            return None
        return CheckFailure(
            step,
            f"{rule}: Retry-After",
            f"{status} with Retry-After",
            f"{status} without",
            f"{rule}: load shed with {status} but without Retry-After",
        )
    return CheckFailure(
        step,
        f"{rule}: shed",
        "2xx, or 429/503 with Retry-After",
        status,
        f"{rule}: a well-formed message in a burst was answered {status}",
    )


def slow_burst(rule: str, step: str, limit_ms: float, observed: float, count: int) -> CheckFailure:
    """RR-07: the 95th percentile of the burst's answer times."""
    return CheckFailure(
        step,
        f"{rule}: p95_ms",
        f"<= {limit_ms:g}",
        round(observed, 1),
        f"{rule}: 95th percentile over {count} answers of the burst is {observed:.1f} ms",
    )


def held_up(rule: str, step: str, within_ms: float, elapsed_ms: float) -> CheckFailure:
    """RR-05: the delivery beside a slow client was answered late."""
    return CheckFailure(
        step,
        f"{rule}: within_ms",
        f"<= {within_ms:g}",
        round(elapsed_ms, 1),
        f"{rule}: beside a slow client, a delivery was answered after {elapsed_ms:.0f} ms",
    )


def early_update(rule: str, step: str, response: Response | None, ctx: ScenarioContext) -> list[CheckFailure]:
    """RR-06: an update before its original is held (``2xx``) or refused ``409`` with problem ``/conflict``."""
    if response is None:
        return [unanswered(rule, step, "2xx (held) or 409 /conflict")]
    status = response.status
    if 200 <= status < 300:
        return []
    if status == 409:
        failures = evaluate({"problem": {"type": "conflict"}}, CheckContext(response, ctx, None), step)
        return [named(rule, failure) for failure in failures]
    return [
        CheckFailure(
            step,
            f"{rule}: held or 409",
            "2xx (held) or 409 /conflict",
            status,
            f"{rule}: an update before its original was answered {status}",
        )
    ]
