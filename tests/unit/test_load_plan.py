"""Load mode values (issue 15): which scenarios replay, how failures are counted and merged, bounded."""

from __future__ import annotations

import pytest

from harness.catalog import Catalog
from harness.endpoints.common import Recorder
from harness.load.plan import MAX_EXAMPLES, LoadPlan, Tally, check_and_rule, load_result, replayable
from harness.model import CheckFailure, UsageError


def failure(check: str, expected: str = "x", step: str = "s") -> CheckFailure:
    return CheckFailure(step, check, expected, "y", f"{check} broke")


def test_check_and_rule_name_the_format_rule_or_the_field() -> None:
    assert check_and_rule(failure("format: body /reportId", "valid intel-report (IR-03)")) == ("format", "IR-03")
    assert check_and_rule(failure("status: status", "202")) == ("status", "status")
    assert check_and_rule(failure("media_type: header Content-Type")) == ("media_type", "header Content-Type")
    assert check_and_rule(failure("capture id")) == ("capture id", "capture id")


def test_tally_merges_counts_and_keeps_few_examples() -> None:
    master = Tally()
    for _ in range(3):
        worker = Tally()
        worker.passed()
        for index in range(5):
            worker.failures("SC-1", [failure("status: status", step=f"step{index}")])
        worker.error("SC-2/a", "ConnectionRefused")
        master.merge(worker.take())
        assert worker.exchanges == 0 and not worker.by_check  # a take starts again from zero
    assert (master.exchanges, master.failed, master.errors) == (3 * 7, 15, 3)
    count, examples = master.by_check["status", "status"]
    assert count == 15 and len(examples) == MAX_EXAMPLES and examples[0] == "SC-1/step0: status: status broke"
    assert len(master.error_examples) == MAX_EXAMPLES
    document = load_result("intel-core@1.0", "http://t", master, 2.0, {"p50": 1.0, "p95": 2.0, "p99": 3.0, "max": 4})
    assert document["failure_rate"] == round(15 / 21, 6) and document["rps"] == 10.5
    assert document["by_check"] == [{"check": "status", "rule": "status", "count": 15, "examples": examples}]


def test_distinct_kinds_are_bounded() -> None:
    tally = Tally()
    for index in range(1000):
        tally.failures("SC", [failure(f"format: body /{index}", f"valid f (R-{index})")])
    assert len(tally.by_check) <= 201 and tally.by_check["(other)", "(other)"][0] == 800


def test_replayable_takes_plain_exchanges_and_refuses_the_rest(catalog: Catalog) -> None:
    suite = catalog.suite("esn-core")
    chosen = replayable(suite)
    assert chosen and all("trigger" not in step and "await" not in step for s in chosen for step in s["steps"])
    waiting = next(s for s in suite.scenarios if s not in chosen)
    with pytest.raises(UsageError, match="cannot be replayed"):
        replayable(suite, [str(waiting["id"])])
    with pytest.raises(UsageError, match="no scenario 'ZZ'"):
        replayable(suite, ["ZZ"])


def test_plan_travels_as_json() -> None:
    plan = LoadPlan("intel-core@1.0", "http://127.0.0.1:1", ("IC-01", "IC-02"), 500, 5.0)
    assert LoadPlan.from_json(plan.to_json()) == plan


class _Request:
    method = "POST"
    path_qs = "/x"
    headers = {"Authorization": "secret"}


def test_recorder_stays_bounded_in_messages_and_bytes() -> None:
    recorder = Recorder(capacity=100, max_bytes=10_000)
    for _ in range(1000):
        recorder.record(_Request(), b"x" * 300, 202)  # type: ignore[arg-type]
    assert recorder.size_bytes <= 10_000 and len(recorder.messages) == 10_000 // 300
    assert recorder.messages[-1].sequence == 1000 and recorder.messages[0].headers == (("Authorization", "[redacted]"),)
    small = Recorder(capacity=5, max_bytes=1 << 20)
    for _ in range(20):
        small.record(_Request(), b"abc", 202)  # type: ignore[arg-type]
    assert len(small.messages) == 5 and small.size_bytes == 15
    small.clear()
    assert small.size_bytes == 0
