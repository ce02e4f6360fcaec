"""First cause (docs/verdicts.md): a wrong status is one failure line; the checks of that answer that read its
headers or body are named as not checked, in every output, and the verdict does not change."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from harness.catalog import Catalog
from harness.cli import main
from harness.endpoints import build_app
from harness.htmlreport import RunHeader, build_report
from harness.model import CheckFailure, Level, ScenarioResult, Verdict
from harness.plugin.fixtures import ExpectationFailed, check_response
from harness.reporting import JUnitReporter, failure_line, results_document
from harness.runner.checks import CHECKS, STATUS_INDEPENDENT, CheckContext, evaluate
from harness.runner.context import ScenarioContext
from harness.runner.steps import judge
from harness.transport import Response
from tests.conftest import certify
from tests.integration.broken_suppliers import build_broken
from tests.integration.evidence_helpers import members, run_with_evidence

PROBLEM_EXPECT = {
    "media_type": "application/problem+json",
    "problem": {"type": "invalid-message"},
    "json": {"/status": 400},
    "within_ms": 60000,
    "status": 400,  # listed last on purpose: judged first all the same
}


def _answer(status: int, body: bytes = b'{"state": "accepted"}', elapsed_ms: float = 3.0) -> Response:
    return Response(status, "", (("Content-Type", "application/json"),), body, elapsed_ms)


def _context(catalog: Catalog) -> ScenarioContext:
    return ScenarioContext(catalog, "http://127.0.0.1:9")


def test_wrong_status_is_one_line_naming_what_it_kept_from_running(catalog: Catalog) -> None:
    failures = evaluate(PROBLEM_EXPECT, CheckContext(_answer(202), _context(catalog), None), "submit")
    [cause] = failures
    assert (cause.check, cause.expected, cause.actual) == ("status: status", 400, 202)
    assert cause.not_checked == ("media_type", "problem", "json")  # file order; within_ms ran and held
    line = failure_line(cause)
    assert line.endswith("; not checked (status was 202): media_type, problem, json")
    assert "body /type" not in line and line.count("expected") == 2  # one "expected X" and the status message


def test_without_the_status_check_failing_every_check_runs(catalog: Catalog) -> None:
    # The same wrong body, with the expected status: each check that fails says so (nothing hidden).
    failures = evaluate(PROBLEM_EXPECT, CheckContext(_answer(400), _context(catalog), None), "submit")
    checks = [failure.check for failure in failures]
    assert checks[0] == "media_type: header Content-Type" and "problem: body /type" in checks
    assert all(not failure.not_checked for failure in failures)


def test_status_independent_checks_still_run_and_fail(catalog: Catalog) -> None:
    assert frozenset({"status", "within_ms"}) == STATUS_INDEPENDENT
    slow = _answer(202, elapsed_ms=5000.0)
    failures = evaluate(
        {"status": 201, "within_ms": 100, "json": {"/id": 1}}, CheckContext(slow, _context(catalog), None), "s"
    )
    assert [f.check for f in failures] == ["status: status", "within_ms: elapsed_ms"]
    assert failures[0].not_checked == ("json",)


def test_every_other_registered_check_depends_on_the_status(catalog: Catalog) -> None:
    # A check of a family or an extension reads the answer: hidden by a wrong status unless listed as independent.
    dependent = sorted(CHECKS.names() - STATUS_INDEPENDENT)
    assert {"problem", "json", "headers", "media_type", "format", "xml", "content", "cap_answer"} <= set(dependent)
    expect = {"status": 201, **{name: {} for name in ("json", "headers", "xml")}}
    [cause] = evaluate(expect, CheckContext(_answer(500, b"<not json"), _context(catalog), None), "s")
    assert cause.not_checked == ("json", "headers", "xml")


def test_judge_takes_no_capture_after_a_wrong_status(catalog: Catalog) -> None:
    ctx = _context(catalog)
    step = {"expect": {"status": 201, "json": {"/id": 7}}, "capture": {"id": "/id"}}
    failures = judge("S-1", "create", step, _answer(200, b'{"id": 7}'), ctx, None)
    assert [f.check for f in failures] == ["status: status"] and failures[0].not_checked == ("json",)
    assert "id" not in ctx.captures


def test_the_plugin_fixture_judges_the_same_way(catalog: Catalog) -> None:
    failures = check_response(_answer(202), dict(PROBLEM_EXPECT), _context(catalog), step="py")
    assert failures == evaluate(PROBLEM_EXPECT, CheckContext(_answer(202), _context(catalog), None), "py")
    assert "not checked (status was 202): media_type, problem, json" in str(ExpectationFailed(failures))


def test_not_checked_round_trips_and_older_documents_read(catalog: Catalog) -> None:
    failure = CheckFailure("s", "status: status", 201, 404, "HTTP status 404, expected 201", ("json",))
    assert CheckFailure.from_dict(failure.as_dict()) == failure
    plain = CheckFailure("s", "json: body /a", 1, 2, "differs")
    assert "not_checked" not in plain.as_dict() and CheckFailure.from_dict(plain.as_dict()) == plain
    result = ScenarioResult("X-1", "x", Level.MUST, Verdict.FAILED, 1.0, (failure,))
    assert ScenarioResult.from_dict(json.loads(json.dumps(result.as_dict()))).failures == (failure,)


def test_a_wrong_status_supplier_gives_one_line_per_cause_everywhere(catalog: Catalog) -> None:
    run = asyncio.run(certify(catalog, build_broken(catalog, "wrong-status")))
    failed = [r for r in run.results if r.verdict == Verdict.FAILED]
    # The verdicts are those of tests/integration/test_intel_core_honesty.py: unchanged.
    assert {"IC-01", "IC-02", "IC-05", "IC-21", "IC-30"} <= {r.id for r in failed} and not run.certified
    for result in failed:
        assert len(result.failures) == 1, [failure_line(f) for f in result.failures]
        assert result.failures[0].check == "status: status"
    hiding = next(r for r in failed if r.id == "IC-01").failures[0]
    assert hiding.not_checked and "header Content-Type" not in failure_line(hiding)
    document = results_document(run)
    listed = {s["id"]: s["failures"] for s in document["scenarios"]}
    assert listed["IC-01"][0]["not_checked"] == list(hiding.not_checked)
    junit = JUnitReporter.render(run)
    assert junit.count("not checked (status was 200)") == sum(1 for r in failed if r.failures[0].not_checked)
    report = build_report(document, [], RunHeader("", "", "unsigned (live run)", "live"), catalog)
    shown = {s["id"]: s["failures"] for s in report["scenarios"]}
    assert len(shown["IC-01"]) == 1 and shown["IC-01"][0]["not_checked"].startswith("not checked (status was 200)")


def test_diff_of_a_wrong_status_bundle_shows_one_line_per_cause(
    catalog: Catalog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def runs() -> tuple[Path, Path]:
        good = await run_with_evidence(catalog, build_app(catalog), tmp_path / "a", "intel-core")
        broken = await run_with_evidence(catalog, build_broken(catalog, "wrong-status"), tmp_path / "b", "intel-core")
        return good, broken

    good, broken = asyncio.run(runs())  # unsigned bundles: the verifier opens them, nothing is trusted
    capsys.readouterr()
    assert main(["diff", str(good), str(broken), "--latency-threshold", "100000%:100000ms"]) == 1
    out = capsys.readouterr().out
    block = out.split("newly failing: IC-01 ")[1].split("newly failing: ")[0]
    [line] = [text for text in block.splitlines() if text.strip().startswith("now:")]  # the failure as it is now
    assert "status" in line and "; not checked (status was 200): " in line
    assert "header Content-Type" not in out and "body /" not in out
    # The store keeps the failure as results.json has it; ``runs show`` prints the same one line per cause.
    url = f"sqlite:///{tmp_path / 's.db'}"
    assert main(["runs", "import", str(broken), "--store", url]) == 0
    capsys.readouterr()
    run_id = json.loads(members(broken)["results.json"])["run_id"]
    assert main(["runs", "show", run_id, "--store", url]) == 0
    shown = capsys.readouterr().out
    assert "submit / status: status: HTTP status 200, expected 202; not checked (status was 200): " in shown
    assert "header Content-Type" not in shown


@pytest.mark.parametrize("variant", ["secret-accepted", "conflict-not-detected", "any-media-type"])
def test_an_accepted_refusal_is_one_line_not_seven(catalog: Catalog, variant: str) -> None:
    # The supplier answers 202 where a problem document was due: before, the status and six problem lines
    # (Content-Type, /type, /title, /status "expected int, got accepted"...); now the status alone.
    run = asyncio.run(certify(catalog, build_broken(catalog, variant)))
    [failed] = [r for r in run.results if r.verdict == Verdict.FAILED]
    [cause] = failed.failures
    assert cause.check == "status: status" and "problem" in cause.not_checked
    assert not run.certified
