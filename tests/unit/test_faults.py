"""Fault plans (parsing, Retry-After, the message id a body carries) and the sender timeline judged by RS-01..09."""

from __future__ import annotations

import email.utils
import json
from typing import Any

import pytest

from harness.families.resilience.faults import (
    AcceptThenForget,
    Delay,
    FaultPlanError,
    FaultRule,
    Reset,
    Status,
    message_id,
    parse_plan,
    retry_after_value,
)
from harness.families.resilience.timeline import (
    TimedAttempt,
    attempt_from_record,
    ends_delivery,
    judge_delivery,
    timeline_rows,
)

ID = "0b6c9d1e-2f3a-4b5c-8d7e-9f0a1b2c3d4e"
BODY = json.dumps({"reportId": ID, "profile": "netcode.intel-report/1.0"}).encode()
T0 = 1_800_000_000_000
ALL = ["RS-01", "RS-02", "RS-03", "RS-04", "RS-05", "RS-06", "RS-07", "RS-08", "RS-09"]


def test_a_plan_parses_every_action_with_defaults() -> None:
    plan = parse_plan(
        {
            "rules": [
                {"id": "x", "count": 3, "action": {"status": 503, "retry_after": 2}},
                {"action": "reset"},
                {"method": "put", "path": "/a/*", "action": {"delay": 1.5}},
                {"count": 1, "action": "accept-then-forget"},
                {"action": {"status": 429, "retry_after": "http-date+2"}},
            ]
        },
        defaults={"method": "POST", "path": "/netcode/v1/intel-reports"},
    )
    first, second, third, fourth, fifth = plan.rules
    assert first == FaultRule(Status(503, 2), "POST", "/netcode/v1/intel-reports", 3, "x")
    assert second.action == Reset() and second.count is None
    assert third.action == Delay(1.5) and third.method == "PUT" and third.path_pattern == "/a/*"
    assert fourth.action == AcceptThenForget()
    assert fifth.action == Status(429, "http-date+2")
    assert parse_plan(plan.as_dict()) == plan  # the control API's JSON reads back as the same plan
    assert parse_plan([{"action": "reset"}]).rules[0].method == "*"  # a bare list is a plan too


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ({"rules": [{"action": {"status": 200}}]}, "rules[0]: status must be an HTTP status from 400 to 599"),
        ({"rules": [{"action": "explode"}]}, "rules[0]: action 'explode' is not one of"),
        ({"rules": [{"count": 0, "action": "reset"}]}, "rules[0]: count is a positive integer"),
        ({"rules": [{"action": {"delay": -1}}]}, "rules[0]: delay is a number of seconds"),
        ({"rules": [{"action": {"status": 503, "retry_after": "soon"}}]}, "retry_after is delta-seconds"),
        ({"rules": [{"path": "no-slash", "action": "reset"}]}, "must start with '/'"),
        ({"rules": [{"colour": "red", "action": "reset"}]}, "unknown key 'colour'"),
        ({"rules": [{"count": 1}]}, "'action' is required"),
        ({"plan": []}, "unknown key 'plan'"),
        ("reset", "a plan is a list of rules"),
    ],
)
def test_a_bad_plan_is_one_line_naming_the_rule(document: Any, says: str) -> None:
    with pytest.raises(FaultPlanError) as caught:
        parse_plan(document, "plan.yaml")
    assert says in str(caught.value) and str(caught.value).startswith("plan.yaml") and "\n" not in str(caught.value)


def test_rules_match_method_path_and_message_id() -> None:
    rule = FaultRule(Reset(), "POST", "/resilience/*/netcode/v1/alerts", 1, "orig")
    assert rule.matches("post", "/resilience/k/netcode/v1/alerts", "orig")
    assert not rule.matches("POST", "/resilience/k/netcode/v1/alerts", "update")
    assert not rule.matches("GET", "/resilience/k/netcode/v1/alerts", "orig")
    assert rule.may_match("POST", "/resilience/k/netcode/v1/alerts")


def test_retry_after_values() -> None:
    assert retry_after_value(2, 1000.0) == "2"
    date = retry_after_value("http-date+2", 1000.4)
    parsed = email.utils.parsedate_to_datetime(date)
    assert parsed.timestamp() == 1003  # the first whole second at least 2 s ahead: never less than asked
    assert retry_after_value("Wed, 21 Oct 2015 07:28:00 GMT", 0) == "Wed, 21 Oct 2015 07:28:00 GMT"


def test_message_id_of_json_cap_and_edxl_and_hostile_bodies() -> None:
    assert message_id(BODY) == ID
    cap = b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier> a-1 </identifier></alert>'
    assert message_id(cap) == "a-1"
    edxl = b'<EDXLDistribution xmlns="urn:oasis:names:tc:emergency:EDXL:DE:1.0"><distributionID>d</distributionID>'
    assert message_id(edxl + b"</EDXLDistribution>") == "d"
    xxe = b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><alert><identifier>&x;</identifier></alert>'
    assert message_id(xxe) is None
    assert message_id(b"[" * 100_000) is None
    assert message_id(b"\xff\xfe") is None and message_id(b"") is None


# -- the timeline ----------------------------------------------------------------------------------------


def attempt(
    number: int,
    sent: int,
    ended: int | None,
    status: int | None,
    retry_after: str | None = None,
    body: bytes = BODY,
    key: str | None = f'"{ID}"',
) -> TimedAttempt:
    return TimedAttempt(number, T0 + sent, None if ended is None else T0 + ended, status, retry_after,
                        message_id(body), "application/vnd.netcode.intel-report+json", body, key)  # fmt: skip


def rules(attempts: list[TimedAttempt], state: str | None = "delivered", expected: str | None = None) -> set[str]:
    failures = judge_delivery(attempts, [ID], ALL, {ID: state}, expected)
    return {failure.rule for failure in failures}


def test_a_conforming_delivery_breaks_no_rule() -> None:
    good = [attempt(1, 0, 1, 503), attempt(2, 301, 302, 503), attempt(3, 900, 901, 503), attempt(4, 2100, 2102, 202)]
    assert rules(good, expected="delivered") == set()


def test_rs01_a_new_id_or_other_content_on_retry() -> None:
    other = BODY.replace(ID.encode(), b"11111111-2f3a-4b5c-8d7e-9f0a1b2c3d4e")
    assert "RS-01" in rules([attempt(1, 0, 1, 503), attempt(2, 300, 301, 202, body=other)])
    reordered = json.dumps(dict(reversed(json.loads(BODY).items())), indent=2).encode()
    assert "RS-01" not in rules([attempt(1, 0, 1, 503), attempt(2, 300, 301, 202, body=reordered)])
    changed = json.dumps({**json.loads(BODY), "text": "other"}).encode()
    assert "RS-01" in rules([attempt(1, 0, 1, 503), attempt(2, 300, 301, 202, body=changed)])


def test_rs02_three_attempts_within_60_s_before_giving_up() -> None:
    assert "RS-02" in rules([attempt(1, 0, 1, 503), attempt(2, 300, 301, 503)], state="failed")
    late = [attempt(1, 0, 1, 503), attempt(2, 300, 301, 503), attempt(3, 61_000, 61_001, 503)]
    assert "RS-02" in rules(late, state="failed")
    assert "RS-02" not in rules([attempt(1, 0, 1, 400)], state="failed")  # a 400 ends it first
    assert "RS-02" not in rules([attempt(1, 0, 1, 503, "301")], state="failed")  # over 300 s may end it


def test_rs03_retry_after_delta_and_date_within_100_ms() -> None:
    assert "RS-03" not in rules([attempt(1, 0, 10, 503, "2"), attempt(2, 1910, 1911, 202)])
    assert "RS-03" in rules([attempt(1, 0, 10, 503, "2"), attempt(2, 1909, 1910, 202)])
    date = email.utils.formatdate((T0 + 3000) / 1000, usegmt=True)
    assert "RS-03" not in rules([attempt(1, 0, 10, 429, date), attempt(2, 2900, 2901, 202)])
    assert "RS-03" in rules([attempt(1, 0, 10, 429, date), attempt(2, 2899, 2900, 202)])
    assert "RS-03" not in rules([attempt(1, 0, 10, 500, "2"), attempt(2, 300, 301, 202)])  # only 429 and 503


def test_rs04_first_gap_and_gaps_that_do_not_shrink() -> None:
    assert "RS-04" in rules([attempt(1, 0, 10, 503), attempt(2, 159, 160, 202)])  # 149 ms < 200 less 25 %
    assert "RS-04" not in rules([attempt(1, 0, 10, 503), attempt(2, 160, 161, 202)])
    shrinking = [attempt(1, 0, 0, 503), attempt(2, 1000, 1000, 503), attempt(3, 1599, 1600, 202)]
    assert "RS-04" in rules(shrinking)  # 599 ms after a 1000 ms gap: below 0.75/1.25 of it
    jittered = [attempt(1, 0, 0, 503), attempt(2, 1000, 1000, 503), attempt(3, 1600, 1600, 202)]
    assert "RS-04" not in rules(jittered)


def test_rs05_nothing_after_an_ending_answer() -> None:
    for status in (400, 409, 413, 415, 422, 202):
        assert "RS-05" in rules([attempt(1, 0, 1, status), attempt(2, 300, 301, status)], state="failed")
    for status in (408, 425, 429, 500, 502, 503, 504):
        assert not ends_delivery(status)


def test_rs06_one_attempt_in_flight() -> None:
    overlap = [attempt(1, 0, 5000, 202), attempt(2, 2300, 2301, 202)]
    assert "RS-06" in rules(overlap)
    assert "RS-06" in rules([attempt(1, 0, None, None), attempt(2, 2300, 2301, 202)])  # never ended
    assert "RS-06" not in rules([attempt(1, 0, 2000, None), attempt(2, 2300, 2301, 202)])


def test_rs07_the_reported_state() -> None:
    failing = [attempt(1, 0, 1, 503), attempt(2, 300, 301, 503), attempt(3, 900, 901, 503)]
    assert "RS-07" in rules(failing, state="delivered")
    assert "RS-07" in rules(failing, state="pending", expected="failed")
    assert "RS-07" not in rules(failing, state="failed", expected="failed")


def test_rs08_idempotency_key_quoted_or_bare() -> None:
    assert "RS-08" not in rules([attempt(1, 0, 1, 202, key=ID)])
    assert "RS-08" in rules([attempt(1, 0, 1, 202, key=None)])
    assert "RS-08" in rules([attempt(1, 0, 1, 202, key='"another"')])


def test_rs09_an_update_only_after_its_original_was_answered_2xx() -> None:
    cap = '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>{}</identifier></alert>'
    original, update = (cap.format(name).encode() for name in ("orig", "upd"))

    def of(number: int, sent: int, ended: int, status: int, body: bytes) -> TimedAttempt:
        return attempt(number, sent, ended, status, body=body, key=f'"{message_id(body)}"')

    def judged(attempts: list[TimedAttempt]) -> set[str]:
        failures = judge_delivery(attempts, ["orig", "upd"], ALL, {"orig": "delivered", "upd": "delivered"}, None)
        return {failure.rule for failure in failures}

    assert judged([of(1, 0, 1, 503, original), of(2, 300, 310, 202, original), of(3, 311, 312, 202, update)]) == set()
    assert "RS-09" in judged([of(1, 0, 1, 503, original), of(2, 1, 2, 202, update), of(3, 300, 310, 202, original)])


def test_an_attempt_reads_back_from_its_exchange_record() -> None:
    record = {
        "request": {
            "start_line": "POST http://127.0.0.1:1/resilience/k/netcode/v1/intel-reports HTTP/1.1",
            "headers": [["Content-Type", "application/vnd.netcode.intel-report+json"], ["Idempotency-Key", f'"{ID}"']],
            "body": BODY.decode(),
            "body_encoding": "text",
        },
        "answer": {"start_line": "HTTP/1.1 503 Service Unavailable", "headers": [["Retry-After", "2"]], "body": ""},
        "sent": "2027-01-15T08:00:00.000Z",
        "answered": "2027-01-15T08:00:00.004Z",
    }
    read = attempt_from_record(record, 1)
    assert (read.status, read.retry_after, read.message_id, read.ended_ms - read.sent_ms) == (503, "2", ID, 4)
    unanswered = attempt_from_record({**record, "answer": None}, 2)
    assert unanswered.status is None and unanswered.answer == "no answer (connection closed)"
    rows = timeline_rows([read, attempt_from_record({**record, "sent": "2027-01-15T08:00:02.104Z"}, 2)])
    assert [(row["offset_ms"], row["gap_ms"], row["answer"]) for row in rows] == [
        (0, None, "503 (Retry-After: 2)"),
        (2104, 2100, "503 (Retry-After: 2)"),
    ]


def test_never_sending_or_claiming_a_delivery_fails_whatever_rules_a_scenario_names() -> None:
    """A dishonest SUT that sends nothing, or reports a delivery it never made, passes no sender scenario."""
    nothing = judge_delivery([], [ID], ["RS-05"], {ID: "failed"}, "failed")
    assert [(f.rule, f.check) for f in nothing] == [("RS-02", "attempts")]
    claimed = judge_delivery([attempt(1, 0, 10, 503, "2")], [ID], ["RS-03"], {ID: "delivered"}, "delivered")
    assert [(f.rule, f.check) for f in claimed] == [("RS-07", "reported state")]
