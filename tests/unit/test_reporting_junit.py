"""One mapping of verdicts to JUnit (docs/verdicts.md), read back by a stock tool (junitparser) and held to
results.json: a failed SHOULD is never counted as passed, manual is told apart from skipped."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from junitparser import Failure, JUnitXml, Skipped
from lxml import etree

from harness.catalog import Catalog
from harness.endpoints import build_app
from harness.endpoints.intel_hub import IntelHub
from harness.endpoints.query_responder import QueryResponder
from harness.events import RunFinished, RunStarted, ScenarioFinished, Summary
from harness.htmlreport import RunHeader, build_report
from harness.model import CheckFailure, Level, ScenarioResult, Verdict
from harness.reporting import JUNIT_OUTCOMES, ConsoleReporter, JUnitReporter, console_mark, results_document
from tests.conftest import certify
from tests.integration.broken_suppliers import build_broken
from tests.junit_counts import assert_junit_counts_match

_WHY = {
    Verdict.FAILED: "HTTP status 200, expected 202",
    Verdict.ERROR: "connection reset",
    Verdict.SKIPPED: "no sip target",
    Verdict.MANUAL: "no /_test/trigger hook; operator must: send it",
}


def _every_outcome() -> RunFinished:
    results = []
    summary = Summary()
    for verdict in Verdict:
        for level in Level:
            why = _WHY.get(verdict)
            failures = (CheckFailure("s", "status: status", 202, 200, why),) if why else ()
            results.append(ScenarioResult(f"{verdict}-{level}", "t", level, verdict, 1.0, failures))
            summary.add(verdict)
    return RunFinished("intel-core", "1.0", "http://127.0.0.1:9", "a", "b", summary, tuple(results))


def _write(tmp_path: Path, run: RunFinished) -> Path:
    path = tmp_path / "junit.xml"
    JUnitReporter(path)(run)
    return path


def test_every_verdict_and_level_maps_by_the_table(tmp_path: Path) -> None:
    run = _every_outcome()
    path = _write(tmp_path, run)
    assert_junit_counts_match(path, results_document(run))
    cases = {case.name.split()[0]: case for suite in JUnitXml.fromfile(str(path)) for case in suite}
    assert len(cases) == 10
    for (verdict, level), (element, kind) in JUNIT_OUTCOMES.items():
        [outcome] = cases[f"{verdict}-{level}"].result
        assert type(outcome).__name__.lower() == element and outcome.type == kind
    should = cases["failed-SHOULD"]
    assert not should.is_passed and isinstance(should.result[0], Failure)
    assert should.result[0].message.startswith("warning (SHOULD scenario failed")
    manual, skipped = cases["manual-MUST"].result[0], cases["skipped-MUST"].result[0]
    assert isinstance(manual, Skipped) and isinstance(skipped, Skipped)
    assert (manual.type, skipped.type) == ("manual", "skipped") and manual.message.startswith("manual: ")
    assert cases["passed-MUST"].is_passed


def test_suite_and_testcase_properties_count_must_and_should_apart(tmp_path: Path) -> None:
    tree = etree.parse(str(_write(tmp_path, _every_outcome())))
    suite = {p.get("name"): p.get("value") for p in tree.findall("testsuite/properties/property")}
    assert suite["netcode.must_failed"] == suite["netcode.should_failed"] == "1"
    assert suite["netcode.manual"] == suite["netcode.skipped"] == "2"
    case = tree.find("testsuite/testcase[@name='failed-SHOULD [SHOULD] t']")
    assert case is not None
    found = {p.get("name"): p.get("value") for p in case.findall("properties/property")}
    assert found == {"netcode.level": "SHOULD", "netcode.verdict": "failed"}


def test_console_and_html_show_a_failed_should_as_a_warning(catalog: Catalog) -> None:
    run = _every_outcome()
    marks = {r.id: console_mark(r) for r in run.results}
    assert marks["failed-SHOULD"] == "WARN" and marks["failed-MUST"] == "FAIL" and marks["manual-MUST"] == "MAN "
    report = build_report(results_document(run), [], RunHeader("", "", "unsigned (live run)", "live"), catalog)
    badges = {s["id"]: s["badge"] for s in report["scenarios"]}
    assert badges["failed-SHOULD"] == "warning" and badges["failed-MUST"] == "failed"
    assert badges["manual-SHOULD"] == "manual" and badges["skipped-SHOULD"] == "skipped"
    assert report["summary"]["must_failed"] == report["summary"]["should_failed"] == 1
    assert report["summary"]["failed"] == 2


def test_a_real_run_with_should_failures_and_manual_scenarios(tmp_path: Path, catalog: Catalog) -> None:
    # intel-core against a wrong-status supplier: MUST and SHOULD failures.
    broken = asyncio.run(certify(catalog, build_broken(catalog, "wrong-status")))
    counts = assert_junit_counts_match(_write(tmp_path, broken), results_document(broken))
    assert counts["failures"] == broken.summary.failed and any(
        r.level == "SHOULD" and r.verdict == "failed" for r in broken.results
    )
    # checks-core without test hooks: manual scenarios, told apart from skipped ones.
    no_hooks = build_app(catalog, [IntelHub(catalog), QueryResponder(catalog)])
    manual = asyncio.run(certify(catalog, no_hooks, suite="checks-core"))
    assert manual.summary.manual >= 2
    (tmp_path / "m").mkdir()
    path = _write(tmp_path / "m", manual)
    assert_junit_counts_match(path, results_document(manual))
    types = [r.type for suite in JUnitXml.fromfile(str(path)) for case in suite for r in case.result]
    assert types.count("manual") == manual.summary.manual


def test_console_marks_a_failed_should_warn_and_counts_it_apart() -> None:
    stream = io.StringIO()
    console = ConsoleReporter(stream)
    run = _every_outcome()
    console(RunStarted(run.suite, run.version, run.target, run.started, len(run.results)))
    for result in run.results:
        console(ScenarioFinished(result))
    console(run)
    lines = stream.getvalue().splitlines()
    assert any(" WARN failed-SHOULD SHOULD" in line for line in lines)
    assert any(" FAIL failed-MUST MUST" in line for line in lines)
    assert lines[-1].startswith(
        "intel-core@1.0: 2 passed, 2 failed, 2 errors, 2 skipped, 2 manual (1 SHOULD: warnings)"
    )
