"""JUnit XML read by a stock tool (junitparser), held to results.json by the table of docs/verdicts.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from junitparser import Error, Failure, JUnitXml, Skipped

__all__ = ["assert_junit_counts_match", "junit_counts"]


def junit_counts(path: Path) -> dict[str, int]:
    """tests, failures, errors, skipped and passed as junitparser counts them, testcase by testcase."""
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "passed": 0}
    for suite in JUnitXml.fromfile(str(path)):
        for case in suite:
            counts["tests"] += 1
            kinds = {type(result) for result in case.result}
            if Error in kinds:
                counts["errors"] += 1
            elif Failure in kinds:
                counts["failures"] += 1
            elif Skipped in kinds:
                counts["skipped"] += 1
            else:
                assert case.is_passed, case.name
                counts["passed"] += 1
    return counts


def assert_junit_counts_match(path: Path, results: dict[str, Any]) -> dict[str, int]:
    """The JUnit counts are results.json's summary mapped by docs/verdicts.md; never a failed SHOULD passed."""
    summary = results["summary"]
    counts = junit_counts(path)
    assert counts == {
        "tests": len(results["scenarios"]),
        "failures": summary["failed"],
        "errors": summary["errors"],
        "skipped": summary["skipped"] + summary["manual"],
        "passed": summary["passed"],
    }, (counts, summary)
    return counts
