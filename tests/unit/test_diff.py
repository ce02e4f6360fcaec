"""``harness diff`` as a gate: latency only past a relative AND an absolute bound, MUST and SHOULD apart."""

from __future__ import annotations

from typing import Any

import pytest

from harness.diff import LatencyThreshold, RunView, compare, parse_latency_threshold
from harness.model import UsageError


def _run(label: str, **scenarios: tuple[str, str, float | None]) -> RunView:
    table: dict[str, dict[str, Any]] = {
        name: {
            "verdict": verdict,
            "level": level,
            "failures": [{"check": "status", "expected": 202, "actual": 404}] if verdict == "failed" else [],
            "p95": p95,
        }
        for name, (verdict, level, p95) in scenarios.items()
    }
    return RunView(label, "checks-core", "1.0", "queries@1.0", table)


def test_threshold_syntax() -> None:
    assert parse_latency_threshold("50%:5ms") == LatencyThreshold(0.5, 5.0)
    assert parse_latency_threshold(" 12.5 % : 0.5 ms ") == LatencyThreshold(0.125, 0.5)
    assert str(parse_latency_threshold("50%:5ms")) == "50%:5ms"
    for bad in ("50%", "5ms", "50:5", "-1%:5ms", "50%:-5ms", "5ms:50%", ""):
        with pytest.raises(UsageError, match="RELATIVE%:FLOORms"):
            parse_latency_threshold(bad)


def test_latency_needs_both_bounds_and_a_threshold() -> None:
    before = _run("a", fast=("passed", "MUST", 9.03), slow=("passed", "MUST", 200.0))
    after = _run("b", fast=("passed", "MUST", 11.24), slow=("passed", "MUST", 320.0))
    assert not compare(before, after).regressed  # no threshold: latency is not compared
    gated = compare(before, after, parse_latency_threshold("20%:5ms"))
    assert [e["scenario"] for e in gated.latency] == ["slow"]  # fast grew 24% but only 2.2 ms
    assert gated.regressed and gated.counts()["latency_regressions"] == 1
    assert not compare(before, after, parse_latency_threshold("100%:5ms")).regressed  # slow grew 60%


def test_should_changes_are_warnings_and_unchanged_failures_collapse() -> None:
    before = _run("a", m=("passed", "MUST", None), s=("passed", "SHOULD", None), old=("failed", "MUST", None))
    after = _run("b", m=("passed", "MUST", None), s=("failed", "SHOULD", None), old=("failed", "MUST", None))
    diff = compare(before, after)
    assert not diff.regressed and [e["scenario"] for e in diff.warnings] == ["s"]
    assert [e["scenario"] for e in diff.unchanged_failures] == ["old"] and diff.other_changes == []
    assert "0 MUST regression(s), 1 SHOULD regression(s)" in diff.summary()
    assert diff.summary().endswith(": no regression")
    worse = compare(
        before, _run("c", m=("manual", "MUST", None), s=("passed", "SHOULD", None), old=("error", "MUST", None))
    )
    assert worse.regressed and [e["scenario"] for e in worse.regressions] == ["m"]
    assert [e["scenario"] for e in worse.other_changes] == ["old"]  # failed -> error: a change, still failing
    assert worse.summary().endswith(": REGRESSION")


def test_a_newer_suite_version_cannot_hide_a_failure_and_other_suites_are_refused() -> None:
    before = _run("a", m=("passed", "MUST", None))
    after = RunView(
        "b",
        "checks-core",
        "1.1",
        "queries@1.1",
        {
            **_run("x", m=("passed", "MUST", None)).scenarios,
            **_run("x", new=("failed", "MUST", None), fine=("passed", "MUST", None)).scenarios,
        },
    )
    diff = compare(before, after)
    assert diff.regressed and [(e["scenario"], e["before"]) for e in diff.regressions] == [("new", "absent")]
    assert diff.other_changes == [{"scenario": "fine", "change": "added"}]
    assert diff.versions == ["suite version 1.0 -> 1.1", "document version queries@1.0 -> queries@1.1"]
    other = RunView("c", "alerts-core", "1.1", "alerts@1.1", before.scenarios)
    with pytest.raises(UsageError, match="diff compares runs of one suite"):
        compare(before, other)
