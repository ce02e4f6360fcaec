"""A delivery's attempts as a timeline, judged by the sender rules RS-01..RS-09 (specs/resilience.md).

Pure: the attempts come as exchange records (``exchanges.jsonl``'s shape, evidence 1.1: the request as it
crossed the wire, the answer or none, ``sent`` and ``answered`` as RFC 3339 times with milliseconds), whether the
runner just read them from the reference endpoint or a verifier reads them from a bundle; so a live run and a
re-judging reach the same verdict from the same bytes. Every time is the reference endpoint's clock: gaps,
``Retry-After`` and attempts in flight are measured on one clock, never on the harness's.

Tolerances and readings of the rules (docs/decisions-resilience.md): ``Retry-After`` is honoured within 100 ms
(RS-03); a gap is from the end of an attempt (its answer, or the connection closing) to the start of the next;
jitter of +-25 % around a backoff that never shrinks lets a gap be 0.6 of the one before and the first 150 ms
(RS-04); two attempts are in flight together when one starts before the other ended (RS-06).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.families.resilience.faults import message_id
from harness.http import parse_retry_after

__all__ = [
    "ENDING",
    "RETRYABLE",
    "RuleFailure",
    "TimedAttempt",
    "attempt_from_record",
    "ends_delivery",
    "judge_delivery",
    "timeline_rows",
]

RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})
"""Answers after which a sender tries again (with no answer at all)."""
ENDING = "2xx, 409, and every other 4xx but 408, 425, 429"
RETRY_AFTER_TOLERANCE_MS = 100
FIRST_GAP_MS = 200
JITTER = 0.25
MIN_ATTEMPTS = 3
WINDOW_MS = 60_000
LONG_RETRY_AFTER_S = 300
SENDER_RULES = ("RS-01", "RS-02", "RS-03", "RS-04", "RS-05", "RS-06", "RS-07", "RS-08", "RS-09")


def ends_delivery(status: int | None) -> bool:
    """Whether an answer ends a delivery: any 2xx; 409; any other 4xx except 408, 425 and 429."""
    if status is None:
        return False
    return 200 <= status < 300 or (400 <= status < 500 and status not in (408, 425, 429))


@dataclass(slots=True, frozen=True)
class TimedAttempt:
    """One attempt as the reference endpoint saw it: when it came and ended (ms since the epoch), what it carried,
    the answer's status (None: no complete answer) and ``Retry-After``."""

    number: int
    sent_ms: int
    ended_ms: int | None
    status: int | None
    retry_after: str | None
    message_id: str | None
    media_type: str
    body: bytes
    idempotency_key: str | None
    fault: str | None = None
    """The fault the counterpart says it injected (a live run's display only: the rules judge what was seen)."""

    @property
    def answer(self) -> str:
        """The answer or the fault as the timeline shows it."""
        if self.status is None:
            shown = "no answer (connection closed)"
        else:
            shown = f"{self.status}" + (f" (Retry-After: {self.retry_after})" if self.retry_after else "")
        # a status fault is its answer already; the others (reset, delay, ...) say what the counterpart did
        return shown + (f" [fault: {self.fault}]" if self.fault and not self.fault.startswith("status") else "")


@dataclass(slots=True, frozen=True)
class RuleFailure:
    """A sender rule that did not hold, with what was expected and seen."""

    rule: str
    check: str
    expected: Any
    actual: Any
    message: str


def _ms(text: Any) -> int | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return round(moment.timestamp() * 1000)


def _body(message: Mapping[str, Any]) -> bytes:
    body = message.get("body", "")
    if not isinstance(body, str):
        return b""
    if message.get("body_encoding") == "base64":
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return b""
    return body.encode()


def _header(message: Mapping[str, Any], name: str) -> str | None:
    for pair in message.get("headers") or ():
        if isinstance(pair, list | tuple) and len(pair) == 2 and str(pair[0]).lower() == name.lower():
            return str(pair[1])
    return None


def attempt_from_record(record: Mapping[str, Any], number: int) -> TimedAttempt:
    """The attempt an exchange record holds (``request``: what the SUT sent; ``answer``: the reference's answer or
    null; ``sent``/``answered``: when it arrived and ended)."""
    request = record.get("request") if isinstance(record.get("request"), Mapping) else {}
    answer = record.get("answer") if isinstance(record.get("answer"), Mapping) else None
    assert isinstance(request, Mapping)
    status: int | None = None
    if answer is not None:
        line = str(answer.get("start_line", ""))
        code = line.split(" ")[1] if line.startswith("HTTP/") and len(line.split(" ")) > 1 else ""
        status = int(code) if code.isdigit() else None
    body = _body(request)
    content_type = _header(request, "Content-Type") or ""
    key = _header(request, "Idempotency-Key")
    sent = _ms(record.get("sent"))
    return TimedAttempt(
        number=number,
        sent_ms=sent if sent is not None else 0,
        ended_ms=_ms(record.get("answered")),
        status=status,
        retry_after=_header(answer, "Retry-After") if answer is not None else None,
        message_id=message_id(body, content_type),
        media_type=content_type.split(";", 1)[0].strip().lower(),
        body=body,
        idempotency_key=key,
        fault=record["fault"] if isinstance(record.get("fault"), str) else None,
    )


def _retry_after_ms(attempt: TimedAttempt) -> int | None:
    """When the answer's ``Retry-After`` lets the next attempt go (ms since the epoch), or None without one."""
    if attempt.retry_after is None or attempt.status not in (429, 503) or attempt.ended_ms is None:
        return None
    asked = parse_retry_after(attempt.retry_after)
    if asked is None or isinstance(asked, int):
        return None if asked is None else attempt.ended_ms + asked * 1000
    return int(asked.timestamp() * 1000)


def _same_content(first: TimedAttempt, other: TimedAttempt) -> bool:
    if first.body == other.body:
        return True
    if first.media_type != other.media_type or "json" not in first.media_type:
        return False
    try:  # the same JSON document written with other whitespace or member order is the same content
        return bool(json.loads(first.body) == json.loads(other.body))
    except (ValueError, RecursionError):
        return False


def _key_value(value: str) -> str:
    """An ``Idempotency-Key`` as the draft writes it (a structured-field string, quoted), or bare."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def _at(attempt: TimedAttempt, origin: int) -> str:
    return f"attempt {attempt.number} at +{attempt.sent_ms - origin} ms"


def judge_delivery(
    attempts: Sequence[TimedAttempt],
    messages: Sequence[str],
    rules: Sequence[str],
    reported: Mapping[str, str | None],
    expected_state: str | None,
    faults: Sequence[Mapping[str, Any]] = (),
) -> list[RuleFailure]:
    """Every failure of ``rules`` over the attempts of one delivery step (sorted by arrival).

    ``messages`` are the ids the SUT was asked to send, the first the original (later ones refer to it, RS-09);
    ``reported`` what the SUT's deliveries hook says of each (None: not asked); ``expected_state`` the state the
    scenario expects the SUT to report for every message; ``faults`` the step's fault rules as the issued scenario
    states them (``{id, count, action}``): attempts that did not meet them were not answered by the counterpart.
    """
    wanted = set(rules)
    failures: list[RuleFailure] = []
    ordered = sorted(attempts, key=lambda a: (a.sent_ms, a.number))
    origin = ordered[0].sent_ms if ordered else 0

    def fail(rule: str, check: str, expected: Any, actual: Any, message: str, always: bool = False) -> None:
        # ``always``: what every sender scenario rests on (a message was sent at all, the state reported is
        # true), whatever rules the scenario names: a SUT that never sends, or claims a delivery it never made,
        # passes none of them.
        if always or rule in wanted:
            failures.append(RuleFailure(rule, check, expected, actual, message))

    groups: dict[str, list[TimedAttempt]] = {message: [] for message in messages}
    for attempt in ordered:
        if attempt.message_id in groups:
            groups[attempt.message_id].append(attempt)
        else:
            fail(
                "RS-01",
                "identical message",
                f"one of {', '.join(messages)}",
                attempt.message_id,
                f"{_at(attempt, origin)} carried id {attempt.message_id!r}: a retry never mints a new id",
            )
    _judge_plan(faults, groups, origin, fail)
    for message, group in groups.items():
        _judge_group(message, group, origin, fail)
        delivered = any(a.status is not None and 200 <= a.status < 300 for a in group)
        state = reported.get(message)
        if expected_state is not None and state != expected_state:
            fail(
                "RS-07",
                "reported state",
                expected_state,
                state,
                f"the SUT reports {message} as {state or 'nothing'}; "
                + ("an attempt was answered 2xx" if delivered else "no attempt was answered 2xx"),
                always=True,
            )
        elif not delivered and state == "delivered":
            fail(
                "RS-07",
                "reported state",
                "failed",
                state,
                f"{message} reported delivered, never answered 2xx",
                always=True,
            )
    if len(messages) > 1:
        _judge_order(messages, groups, origin, fail)
    return failures


def _planned(action: Any) -> tuple[str, int | None] | None:
    """What a fault action makes the counterpart answer, as (shown, status): a status, or no answer (reset);
    None for actions whose answer the record cannot tell from a normal one (delay, close-before-body, ...)."""
    if action == "reset":
        return "no answer (reset)", None
    if isinstance(action, Mapping) and isinstance(action.get("status"), int):
        return f"HTTP {action['status']}", int(action["status"])
    return None


PLANNED_DATE_TOLERANCE_MS = 500
"""How much earlier than ``answered`` + N s a planned ``http-date+N`` may be recorded: the counterpart's ``now``
and the record's ``answered`` are one clock a few ms apart (docs/attacks.md)."""


def _asked_as_planned(attempt: TimedAttempt, asked: Any) -> bool:
    """Whether the ``Retry-After`` recorded with a planned status is the one the plan makes the counterpart send."""
    value = (attempt.retry_after or "").strip()
    if isinstance(asked, int):
        return value == str(asked)
    if not isinstance(asked, str):
        return True
    if not asked.startswith("http-date+"):
        return value == asked
    allowed = _retry_after_ms(attempt)
    if allowed is None or attempt.ended_ms is None:
        return False
    return allowed >= attempt.ended_ms + int(asked.split("+", 1)[1]) * 1000 - PLANNED_DATE_TOLERANCE_MS


def _judge_plan(
    faults: Sequence[Mapping[str, Any]], groups: Mapping[str, list[TimedAttempt]], origin: int, fail: Any
) -> None:
    """The first attempts of each message met the faults the issued scenario plans for it, in order.

    The counterpart answers by that plan, so a record in which they did not (the faulted attempt dropped, its
    answer rewritten) was not made by an honest run: whoever signed it edited it (docs/attacks.md). A live run
    always meets its own plan; this check speaks when a bundle is re-judged. Rules without an ``id`` or with an
    action the record cannot show are not checked."""
    used: dict[str, int] = {}
    for rule in faults:
        ident = rule.get("id")
        planned = _planned(rule.get("action"))
        if not isinstance(ident, str) or ident not in groups or planned is None:
            continue
        group = groups[ident]
        start = used.get(ident, 0)
        count = rule.get("count")
        end = len(group) if not isinstance(count, int) else min(len(group), start + count)
        used[ident] = end
        shown, status = planned
        asked = rule["action"].get("retry_after") if isinstance(rule.get("action"), Mapping) else None
        for attempt in group[start:end]:
            got = "no answer" if attempt.status is None else f"HTTP {attempt.status}"
            if attempt.status == status and asked is not None and not _asked_as_planned(attempt, asked):
                shown, got = f"{shown} with Retry-After {asked}", f"Retry-After {attempt.retry_after}"
            elif attempt.status == status:
                continue
            fail(
                "plan",
                "fault plan",
                shown,
                got,
                f"{_at(attempt, origin)} of {ident} is recorded with {got}, but the counterpart answers it "
                f"{shown} by the scenario's fault plan: the record was edited",
                always=True,
            )
            return


def _judge_group(message: str, group: list[TimedAttempt], origin: int, fail: Any) -> None:
    if not group:
        fail(
            "RS-02", "attempts", ">= 1", 0, f"no attempt of {message} arrived: the delivery was never made", always=True
        )
        return
    first = group[0]
    for other in group[1:]:
        if not _same_content(first, other):
            fail(
                "RS-01",
                "identical message",
                "the bytes of attempt 1",
                "other content",
                f"{_at(other, origin)}: "
                f"not the message of attempt {first.number} (same id, same content, same rendition)",
            )
        elif other.media_type != first.media_type:
            fail(
                "RS-01",
                "identical message",
                first.media_type,
                other.media_type,
                f"{_at(other, origin)}: another rendition",
            )
    ended = next((a for a in group if ends_delivery(a.status)), None)
    long_wait = any(
        (until := _retry_after_ms(a)) is not None
        and a.ended_ms is not None
        and until - a.ended_ms > LONG_RETRY_AFTER_S * 1000
        for a in group
    )
    if ended is None and not long_wait:
        within = [a for a in group if a.sent_ms - first.sent_ms <= WINDOW_MS]
        if len(within) < MIN_ATTEMPTS:
            fail(
                "RS-02",
                "attempts before giving up",
                f">= {MIN_ATTEMPTS} within 60 s",
                len(within),
                f"{message}: {len(within)} attempt(s), none answered with an end ({ENDING}), then no more",
            )
    previous_gap: int | None = None
    for before, after in itertools.pairwise(group):
        end = before.ended_ms
        if end is None or after.sent_ms < end:
            fail(
                "RS-06",
                "one attempt in flight",
                f"attempt {after.number} after attempt {before.number} ended",
                f"+{after.sent_ms - origin} ms, attempt {before.number} "
                + ("never ended" if end is None else f"ended +{end - origin} ms"),
                f"{_at(after, origin)} was sent while attempt {before.number} was still in flight",
            )
            previous_gap = None
            continue
        gap = after.sent_ms - end
        if ends_delivery(before.status):
            fail(
                "RS-05",
                "no retry after an ending answer",
                "no further attempt",
                f"attempt {after.number}",
                f"{_at(after, origin)} followed a {before.status}, which ends the delivery",
            )
        allowed = _retry_after_ms(before)
        if allowed is not None:
            if after.sent_ms < allowed - RETRY_AFTER_TOLERANCE_MS:
                fail(
                    "RS-03",
                    "Retry-After honoured",
                    f">= +{allowed - origin} ms (Retry-After: {before.retry_after})",
                    f"+{after.sent_ms - origin} ms",
                    f"{_at(after, origin)} came {allowed - after.sent_ms} ms before the time the "
                    f"{before.status} asked for",
                )
            previous_gap = None  # a wait asked for is not the sender's own backoff
            continue
        # The first gap of a backoff (no gap before it to compare with) is at least 200 ms; each later one at least
        # the one before: both less the +-25 % of jitter (0.75 of 200 ms; 0.75/1.25 of the gap before).
        least = (
            int(FIRST_GAP_MS * (1 - JITTER))
            if previous_gap is None
            else int(previous_gap * (1 - JITTER) / (1 + JITTER))
        )
        if gap < least:
            why = (
                " (at least 200 ms, jitter +-25 %)"
                if previous_gap is None
                else (f" (the gap before was {previous_gap} ms: gaps do not shrink, jitter +-25 %)")
            )
            fail(
                "RS-04",
                "backoff",
                f"gap >= {least} ms",
                f"{gap} ms",
                f"{_at(after, origin)} came {gap} ms after attempt {before.number} ended{why}",
            )
        previous_gap = gap
    for attempt in group:
        key = attempt.idempotency_key
        if key is None or _key_value(key) != message:
            fail(
                "RS-08",
                "Idempotency-Key",
                message,
                key,
                f"{_at(attempt, origin)} "
                + ("has no Idempotency-Key" if key is None else "has another Idempotency-Key"),
            )


def _judge_order(messages: Sequence[str], groups: Mapping[str, list[TimedAttempt]], origin: int, fail: Any) -> None:
    original = messages[0]
    delivered = [a.ended_ms for a in groups[original] if a.status is not None and 200 <= a.status < 300 and a.ended_ms]
    first_2xx = min(delivered) if delivered else None
    for update in messages[1:]:
        for attempt in groups[update]:
            if first_2xx is None or attempt.sent_ms < first_2xx:
                fail(
                    "RS-09",
                    "update after its original was delivered",
                    "after the original's 2xx" + (f" (+{first_2xx - origin} ms)" if first_2xx is not None else ""),
                    f"+{attempt.sent_ms - origin} ms",
                    f"{_at(attempt, origin)} ({update}) was sent before {original} was answered 2xx",
                )


def timeline_rows(attempts: Sequence[TimedAttempt]) -> list[dict[str, Any]]:
    """The timeline a verdict shows: per attempt its time, offset, message, answer or fault, gap to the one before."""
    ordered = sorted(attempts, key=lambda a: (a.sent_ms, a.number))
    rows: list[dict[str, Any]] = []
    origin = ordered[0].sent_ms if ordered else 0
    previous: TimedAttempt | None = None
    for index, attempt in enumerate(ordered, 1):
        when = dt.datetime.fromtimestamp(attempt.sent_ms / 1000, dt.UTC)
        gap = None
        if previous is not None:
            gap = attempt.sent_ms - (previous.ended_ms if previous.ended_ms is not None else previous.sent_ms)
        rows.append(
            {
                "attempt": index,
                "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "offset_ms": attempt.sent_ms - origin,
                "id": attempt.message_id,
                "answer": attempt.answer,
                "duration_ms": None if attempt.ended_ms is None else attempt.ended_ms - attempt.sent_ms,
                "gap_ms": gap,
            }
        )
        previous = attempt
    return rows
