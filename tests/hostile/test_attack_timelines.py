"""A dishonest lab edits a resilience timeline, re-signs, and hopes re-judging agrees (docs/attacks.md).

The lab holds a valid key, so any bytes it signs verify; what re-judging can still refuse is a record that no honest
run of the ISSUED suite could have produced. The counterpart answers by the fault plan the issued scenario states,
so a record whose attempts did not meet that plan was edited. Timings are the record's own; no wall clock is read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.catalog import Catalog
from harness.endpoints import build_app
from harness.endpoints.alert_hub import AlertHub
from harness.endpoints.intel_hub import IntelHub
from harness.endpoints.sender import Attempted, ReferenceSender
from harness.endpoints.test_hooks import TestHooks
from harness.evidence.rejudge import rejudge
from tests.integration.broken_senders import build_broken_sender
from tests.integration.test_resilience_sender import SUITE, _bundle, _only, _plus_ms, _records


def _passed(results: dict[str, Any]) -> dict[str, Any]:
    forged: dict[str, Any] = json.loads(json.dumps(results))
    for scenario in forged["scenarios"]:
        scenario["verdict"], scenario["failures"] = "passed", []
    return forged


def _attempts(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["direction"] == "sut->reference"]


def _answered(record: dict[str, Any], line: str) -> dict[str, Any]:
    return {**record, "answer": {**record["answer"], "start_line": line, "body": ""}}


def _reported(records: list[dict[str, Any]], state: str) -> list[dict[str, Any]]:
    """Every deliveries-hook answer rewritten to ``state`` (the lie the SUT's hook would have had to tell)."""
    out = []
    for record in records:
        if "/state:" in str(record["step"]):
            body = json.loads(record["answer"]["body"])
            body["state"] = state
            record = {**record, "answer": {**record["answer"], "body": json.dumps(body)}}
        out.append(record)
    return out


async def _recorded(catalog: Catalog, variant: str | None, ids: list[str], folder: Path) -> tuple[Any, Any, Any]:
    app = build_app(catalog) if variant is None else build_broken_sender(catalog, variant)
    bundle = await _bundle(catalog, app, ids, folder)
    records, results = _records(bundle)
    return records, results, _only(catalog.suite(SUITE), ids)


async def test_dropping_the_faulted_attempt_of_a_sender_without_backoff_is_caught(
    catalog: Catalog, tmp_path: Path
) -> None:
    """no-backoff retries 20 ms after the 503; drop the 503 (attempt 1) and renumber: one clean 201 is left."""
    records, results, suite = await _recorded(catalog, "no-backoff", ["RS-S01"], tmp_path)
    attempts = _attempts(records)
    assert [a["answer"]["start_line"].split(" ")[1] for a in attempts][:1] == ["503"]
    forged = [r for r in records if r is not attempts[0]]
    forged = [{**r, "attempt": 1} if r["direction"] == "sut->reference" else r for r in forged]
    differences = rejudge(catalog, suite, results["target"], iter(forged), _passed(results))
    assert differences and "RS-S01" in differences[0] and "fault plan" in differences[0]


async def test_a_sender_that_gave_up_cannot_turn_its_503_into_a_201(catalog: Catalog, tmp_path: Path) -> None:
    """gives-up-after-one: its one attempt met the plan's 503; rewrite it to 201 and the hook to 'delivered'."""
    records, results, suite = await _recorded(catalog, "gives-up-after-one", ["RS-S01"], tmp_path)
    only = _attempts(records)[0]
    forged = [_answered(r, "HTTP/1.1 201 Created") if r is only else r for r in _reported(records, "delivered")]
    differences = rejudge(catalog, suite, results["target"], iter(forged), _passed(results))
    assert differences and "RS-S01" in differences[0] and "fault plan" in differences[0]


async def test_a_permanent_503_cannot_end_in_a_recorded_success(catalog: Catalog, tmp_path: Path) -> None:
    """RS-S09's plan answers 503 to every attempt: a last attempt recorded 201 (to claim 'delivered') is an edit."""
    records, results, suite = await _recorded(catalog, "reports-failed-as-delivered", ["RS-S09"], tmp_path)
    last = _attempts(records)[-1]
    forged = [_answered(r, "HTTP/1.1 201 Created") if r is last else r for r in records]
    differences = rejudge(catalog, suite, results["target"], iter(forged), _passed(results))
    assert differences and "RS-S09" in differences[0]


async def test_the_honest_record_still_rejudges_to_its_verdicts(catalog: Catalog, tmp_path: Path) -> None:
    """The plan check refuses edits only: every sender scenario of the reference re-judges unchanged."""
    ids = ["RS-S01", "RS-S02", "RS-S03", "RS-S04", "RS-S06", "RS-S07", "RS-S08", "RS-S10", "RS-S11"]
    records, results, suite = await _recorded(catalog, None, ids, tmp_path)
    assert {s["verdict"] for s in results["scenarios"]} == {"passed"}
    assert rejudge(catalog, suite, results["target"], iter(records), results) == []


@pytest.mark.parametrize("shift_ms", [20, 400])
async def test_a_retry_moved_in_time_is_judged_again_by_the_same_rules(
    catalog: Catalog, tmp_path: Path, shift_ms: int
) -> None:
    """Moving the retry of a no-backoff sender later (a consistent edit) is what re-judging cannot prove false:
    the signer's accreditation vouches for it (specs/evidence.md). Moving it earlier still fails RS-04. Kept so a
    change that stops judging the recorded times shows here."""
    records, results, suite = await _recorded(catalog, "no-backoff", ["RS-S01"], tmp_path)
    first, second = _attempts(records)[:2]
    moved = {**second, "sent": _plus_ms(first["answered"], shift_ms), "answered": _plus_ms(first["answered"], shift_ms)}
    edited = [moved if r is second else r for r in records]
    differences = rejudge(catalog, suite, results["target"], iter(edited), _passed(results))
    if shift_ms < 150:
        assert differences and "RS-04" in differences[0]
    else:
        assert differences == []  # documented limit: a consistent timeline forged by a trusted signer


class _QuietRetries400(ReferenceSender):
    """RS-05 broken, cunningly: after the 400 it reports the delivery failed at once (so a harness that stops
    watching at the reported state sees one attempt), then tries again a little later."""

    def ends(self, status: int | None) -> bool:
        return status is not None and 200 <= status < 300

    def wait_before(self, attempt: int, outcome: Attempted) -> float | None:
        if outcome.status is not None and 400 <= outcome.status < 500:
            for delivery in self.deliveries.values():
                delivery.state = "failed"
            return 0.8
        return super().wait_before(attempt, outcome)

    def final_state(self, delivered: bool) -> str:
        return "failed"


async def test_a_sender_reporting_failed_before_its_retry_is_still_watched(catalog: Catalog) -> None:
    """The deliveries hook says 'failed' right after the 400; the retry comes 0.8 s later. It must be seen."""
    from tests.integration.test_resilience_sender import rules_failed, run_sender

    app = build_app(catalog, [IntelHub(catalog), AlertHub(catalog), TestHooks(_QuietRetries400())])
    run = await run_sender(catalog, app, ["RS-S07"])
    assert "RS-05" in rules_failed(run).get("RS-S07", set())


@pytest.mark.parametrize("sequential", [False, True])
async def test_a_concurrency_claim_is_read_off_the_record_times(
    catalog: Catalog, tmp_path: Path, sequential: bool
) -> None:
    """RR-01 on 8 connections: a lab that sent the eight one after another (where a racy receiver stores once) and
    signs the record as concurrent: re-judging reads the overlap off the record's own times and refuses it."""
    records, results, suite = await _recorded(catalog, None, ["RR-01-concurrent"], tmp_path)
    assert {s["verdict"] for s in results["scenarios"]} == {"passed"}
    edited = []
    for record in records:
        step = str(record["step"])
        if sequential and step.startswith("eight-at-once#"):
            n = int(step.rsplit("#", 1)[1])
            record = {
                **record,
                "sent": _plus_ms(record["sent"], 50 * n),
                "answered": _plus_ms(record["sent"], 50 * n + 5),
            }
        edited.append(record)
    differences = rejudge(catalog, suite, results["target"], iter(edited), results)
    if sequential:
        assert differences and "RR-01-concurrent" in differences[0] and "not concurrent" in differences[0]
    else:
        assert differences == []


def _retry_after(record: dict[str, Any], value: str) -> dict[str, Any]:
    headers = [[name, value] if name.lower() == "retry-after" else [name, v] for name, v in record["answer"]["headers"]]
    return {**record, "answer": {**record["answer"], "headers": headers}}


@pytest.mark.parametrize(("scenario", "value"), [("RS-S02", "0"), ("RS-S03", "Thu, 01 Jan 1970 00:00:00 GMT")])
async def test_a_retry_after_shortened_in_the_record_is_caught(
    catalog: Catalog, tmp_path: Path, scenario: str, value: str
) -> None:
    """ignores-retry-after came back too early; the lab rewrites the 503/429's Retry-After so the early retry looks
    honoured. The plan states what the counterpart sent (2 s; an HTTP-date 2 s ahead)."""
    records, results, suite = await _recorded(catalog, "ignores-retry-after", [scenario], tmp_path)
    first = _attempts(records)[0]
    forged = [_retry_after(r, value) if r is first else r for r in records]
    differences = rejudge(catalog, suite, results["target"], iter(forged), _passed(results))
    assert differences and scenario in differences[0] and "fault plan" in differences[0], differences
