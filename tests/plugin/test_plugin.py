"""The pytest plugin, tested with pytester: collection, markers, selection, JUnit, xdist, failures, reports."""

from __future__ import annotations

import asyncio
import json
import shlex
import shutil
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web

from harness.catalog import Catalog
from harness.endpoints import build_app
from harness.endpoints.intel_hub import IntelHub
from harness.endpoints.query_responder import QueryResponder
from harness.reporting import failure_line
from tests.conftest import ROOT, certify
from tests.integration.broken_suppliers import build_broken
from tests.junit_counts import assert_junit_counts_match

INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


def outcomes(result: pytest.RunResult) -> dict[str, str]:
    """Node id -> outcome, from verbose report lines (``intel-core@1.0::IC-05 PASSED``, or with xdist
    ``[gw0] [ 4%] PASSED intel-core@1.0::IC-05``)."""
    found: dict[str, str] = {}
    for line in result.outlines:
        parts = line.split()
        nodes = [part for part in parts if "@" in part and "::" in part]
        words = [part for part in parts if part in ("PASSED", "FAILED", "SKIPPED", "XFAIL", "ERROR")]
        if len(nodes) == 1 and len(words) == 1 and not line.startswith(("FAILED ", "SKIPPED ", "ERROR ")):
            found[nodes[0]] = words[0]
    return found


@pytest.fixture
def run_plugin(pytester: pytest.Pytester) -> Callable[..., pytest.RunResult]:
    pytester.makeini(INI)

    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly", *args)

    return run


def test_inert_without_options(run_plugin: Callable[..., pytest.RunResult], pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_own(): pass")
    result = run_plugin("-q")
    result.assert_outcomes(passed=1)
    assert "netcode" not in result.stdout.str()


def test_collects_every_scenario_with_node_ids_and_markers(
    run_plugin: Callable[..., pytest.RunResult], catalog: Catalog
) -> None:
    result = run_plugin("--netcode-suite", "intel-core", "--collect-only", "-q")
    ids = [line for line in result.outlines if line.startswith("intel-core@")]
    expected = [f"intel-core@1.0::{s['id']}" for s in catalog.suite("intel-core").scenarios]
    assert ids == expected
    should = run_plugin("--netcode-suite", "intel-core", "--collect-only", "-q", "-m", "netcode_should")
    assert [line for line in should.outlines if line.startswith("intel-core@")] == [
        "intel-core@1.0::IC-30",
        "intel-core@1.0::IC-31",
    ]
    edxl = run_plugin("--netcode-suite", "alerts-core", "--collect-only", "-q", "-m", "netcode_edxl_de")
    selected = {line.split("::")[1] for line in edxl.outlines if line.startswith("alerts-core@")}
    with_edxl = {s["id"] for s in catalog.suite("alerts-core").scenarios if '"edxl-de/1.0' in json.dumps(s)}
    assert selected == with_edxl and 0 < len(selected) < len(catalog.suite("alerts-core").scenarios)


def test_reference_supplier_passes_every_item(run_plugin: Callable[..., pytest.RunResult], reference_url: str) -> None:
    result = run_plugin("--netcode-suite", "intel-core", "--netcode-target", reference_url, "-q")
    result.assert_outcomes(passed=21)
    assert result.ret == 0


def test_broken_supplier_fails_the_items_harness_run_fails_with_the_same_messages(
    run_plugin: Callable[..., pytest.RunResult],
    serving: Callable[[web.Application], str],
    catalog: Catalog,
    tmp_path: Path,
    pytester: pytest.Pytester,
) -> None:
    url = serving(build_broken(catalog, "wrong-status"))
    junit = tmp_path / "junit.xml"
    result = run_plugin("--netcode-suite", "intel-core", "--netcode-target", url, "-v", f"--junitxml={junit}")
    got = outcomes(result)
    failed = {node.split("::")[1] for node, outcome in got.items() if outcome == "FAILED"}
    run = asyncio.run(certify(catalog, build_broken(catalog, "wrong-status")))
    failed_by_run = {r.id for r in run.results if r.verdict == "failed"}
    assert {"IC-01", "IC-02", "IC-05", "IC-21", "IC-30"} <= failed_by_run
    # One mapping (docs/verdicts.md): every failed scenario is a failed item, a SHOULD one too (never passed).
    assert failed == failed_by_run and "XFAIL" not in got.values()
    assert "WARNING: SHOULD scenario failed" in result.stdout.str()
    assert result.ret == 1  # MUST failures fail the session
    # The same failures, word for word, as the harness's own run prints: one line per cause.
    for scenario in run.results:
        if scenario.verdict == "failed":
            for failure in scenario.failures:
                assert failure_line(failure) in result.stdout.str()
    assert "not checked (status was 200)" in result.stdout.str()
    assert "body /type" not in result.stdout.str() and "header Content-Type" not in result.stdout.str()
    tree = ET.parse(junit)
    cases = {case.get("name"): case for case in tree.iter("testcase")}
    assert len(cases) == 21 and {case.get("classname") for case in cases.values()} == {"intel-core@1.0"}
    element = cases["IC-01"].find("failure")
    assert element is not None and "status" in (element.text or "")
    assert cases["IC-22"].find("failure") is None  # passed
    # pytest's own JUnit of the plugin counts as harness run --junit does (docs/verdicts.md), read by a stock tool.
    document = json.loads((pytester.path / "reports/netcode/intel-core/results.json").read_text())
    assert_junit_counts_match(junit, document)


def test_selection_by_keyword_and_partial_results_never_certify(
    run_plugin: Callable[..., pytest.RunResult], reference_url: str, pytester: pytest.Pytester
) -> None:
    result = run_plugin("--netcode-suite", "intel-core", "--netcode-target", reference_url, "-q", "-k", "IC-05")
    result.assert_outcomes(passed=1, deselected=20)
    document = json.loads((pytester.path / "reports/netcode/intel-core/results.json").read_text())
    assert [s["id"] for s in document["scenarios"]] == ["IC-05"]
    # A selection did not run every scenario: written as an interrupted run, which never certifies.
    assert document["certified"] is False and document["interrupted"] is True


def test_results_json_matches_harness_run(
    run_plugin: Callable[..., pytest.RunResult], reference_url: str, pytester: pytest.Pytester, catalog: Catalog
) -> None:
    run_plugin("--netcode-suite", "checks-core", "--netcode-target", reference_url, "--netcode-reports", "out")
    document = json.loads((pytester.path / "out/checks-core/results.json").read_text())
    # every MUST passed, but no system under test is declared: certifies nothing (evidence.md 1.1, check 7)
    assert document["certified"] is False and document["sut"] is None and document["summary"]["failed"] == 0
    # The suite as harness run states it, life cycle included.
    life = {"status": "current", "certifies": "queries@1.0"}
    assert document["suite"] == {"name": "checks-core", "version": "1.0", **life}
    assert [s["id"] for s in document["scenarios"]] == [s["id"] for s in catalog.suite("checks-core").scenarios]
    assert document["summary"]["passed"] == len(catalog.suite("checks-core").scenarios)


def test_manual_scenarios_are_skipped_with_the_operators_instruction(
    run_plugin: Callable[..., pytest.RunResult], serving: Callable[[web.Application], str], catalog: Catalog
) -> None:
    url = serving(build_app(catalog, [IntelHub(catalog), QueryResponder(catalog)]))  # no test hooks
    result = run_plugin("--netcode-suite", "checks-core", "--netcode-target", url, "-v", "-rs")
    got = outcomes(result)
    assert got["checks-core@1.0::CC-20"] == got["checks-core@1.0::CC-21"] == "SKIPPED"
    assert "operator must" in result.stdout.str()
    assert "manual: no " in result.stdout.str()  # told apart from a plain skip by the reason's first word
    assert result.ret == 0


@pytest.mark.parametrize("suite", ["intel-core", "checks-core", "alerts-core", "esn-core"])
def test_xdist_gives_the_serial_verdicts(
    run_plugin: Callable[..., pytest.RunResult], serving: Callable[[web.Application], str], catalog: Catalog, suite: str
) -> None:
    url = serving(build_broken(catalog, "wrong-status") if suite == "intel-core" else build_app(catalog))
    serial = outcomes(run_plugin("--netcode-suite", suite, "--netcode-target", url, "-v", "-n", "0"))
    parallel = outcomes(run_plugin("--netcode-suite", suite, "--netcode-target", url, "-v", "-n", "2"))
    assert len(serial) == len(catalog.suite(suite).scenarios)
    assert parallel == serial


def test_unknown_suite_is_one_line_usage_error(run_plugin: Callable[..., pytest.RunResult]) -> None:
    result = run_plugin("--netcode-suite", "no-such-suite", "--netcode-target", "http://127.0.0.1:9")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "no-such-suite" in result.stderr.str()
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_unreachable_target_fails_items_with_one_line(run_plugin: Callable[..., pytest.RunResult]) -> None:
    result = run_plugin("--netcode-suite", "intel-core", "--netcode-target", "http://127.0.0.1:9", "-q", "-x")
    assert result.ret == 1
    assert "intel-core@1.0: " in result.stdout.str()
    assert "Traceback" not in result.stdout.str()


def test_the_supplier_example_passes_the_reference_and_fails_a_broken_supplier(
    run_plugin: Callable[..., pytest.RunResult],
    serving: Callable[[web.Application], str],
    pytester: pytest.Pytester,
    reference_url: str,
    catalog: Catalog,
) -> None:
    shutil.copy(ROOT / "examples" / "test_supplier_scenarios.py", pytester.path)
    good = run_plugin("test_supplier_scenarios.py", "--netcode-target", reference_url, "-q")
    good.assert_outcomes(passed=3)
    broken = serving(build_broken(catalog, "lossy-xml-rendition"))
    bad = run_plugin("test_supplier_scenarios.py", "--netcode-target", broken, "-q")
    bad.assert_outcomes(passed=2, failed=1)
    assert "content" in bad.stdout.str() and "expected" in bad.stdout.str()
    without = run_plugin("test_supplier_scenarios.py", "-q", "-rs")
    without.assert_outcomes(passed=1, skipped=2)  # the client-side test needs no target
    assert "no --netcode-target given" in without.stdout.str()


def test_should_failure_alone_keeps_the_session_green(
    run_plugin: Callable[..., pytest.RunResult], serving: Callable[[web.Application], str], catalog: Catalog
) -> None:
    url = serving(build_broken(catalog, "first-error-only"))  # breaks only the SHOULD scenario IC-31
    result = run_plugin("--netcode-suite", "intel-core", "--netcode-target", url, "-v")
    got = outcomes(result)
    assert got["intel-core@1.0::IC-31"] == "FAILED"  # not passed, the same as --junit's <failure type="warning">
    assert [node for node, outcome in got.items() if outcome != "PASSED"] == ["intel-core@1.0::IC-31"]
    assert "WARNING: SHOULD scenario failed" in result.stdout.str()
    assert "1 failed SHOULD scenario(s): warnings" in result.stdout.str()
    assert result.ret == 0  # binding rule 9: a SHOULD failure alone does not fail the session


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "--netcode-suite needs --netcode-target URL"),
        (("-n", "2"), "--netcode-suite needs --netcode-target URL"),
        (("--netcode-target", "ftp://127.0.0.1/"), "--netcode-target: bad target URL 'ftp://127.0.0.1/'"),
        (("--netcode-target", "127.0.0.1:8080"), "--netcode-target: bad target URL '127.0.0.1:8080'"),
        (("--netcode-target", "http://127.0.0.1:99999"), "--netcode-target: bad target URL 'http://127.0.0.1:99999'"),
        (("--netcode-target", "http://"), "--netcode-target: bad target URL 'http://'"),
        (
            ("--netcode-target", "http://127.0.0.1:9", "--netcode-option", "sip-target=127.0.0.1"),
            "--netcode-option sip-target: bad --sip-target '127.0.0.1'",
        ),
    ],
    ids=["missing", "missing-xdist", "scheme", "no-scheme", "port", "no-host", "sip-target"],
)
def test_missing_or_bad_target_is_one_usage_error_before_collection(
    run_plugin: Callable[..., pytest.RunResult], args: tuple[str, ...], expected: str
) -> None:
    result = run_plugin("--netcode-suite", "intel-core", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.errlines if line.strip()]
    assert len(errors) == 1 and errors[0].startswith(f"ERROR: {expected}"), result.errlines
    # nothing was collected or run: no header count, no item, no internals
    out = result.stdout.str()
    assert "collected" not in out and "IC-01" not in out and "Traceback" not in out
    assert len([line for line in result.outlines if line.strip()]) <= 2, result.outlines


def test_a_bad_target_without_suites_is_a_usage_error_too(
    run_plugin: Callable[..., pytest.RunResult], pytester: pytest.Pytester
) -> None:
    pytester.makepyfile("def test_own(): pass")
    result = run_plugin("--netcode-target", "localhost:8080", "-q")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in result.errlines if line.strip()] == [
        "ERROR: --netcode-target: bad target URL 'localhost:8080': expected http://HOST[:PORT][/BASE] or https://..."
    ]


def test_the_header_counts_the_scenarios_it_runs(
    run_plugin: Callable[..., pytest.RunResult], pytester: pytest.Pytester, reference_url: str
) -> None:
    pytester.makepyfile("def test_own(): pass")  # the supplier's own tests beside the suites
    result = run_plugin("--netcode-suite", "intel-core", "--netcode-target", reference_url)
    result.stdout.fnmatch_lines(["collected 22 items"])
    result.assert_outcomes(passed=22)
    selected = run_plugin("--netcode-suite", "intel-core", "--netcode-target", reference_url, "-k", "IC-05 or IC-06")
    selected.stdout.fnmatch_lines(["collected 22 items / 20 deselected / 2 selected"])
    selected.assert_outcomes(passed=2, deselected=20)


def test_collect_only_needs_no_target(run_plugin: Callable[..., pytest.RunResult], catalog: Catalog) -> None:
    result = run_plugin("--netcode-suite", "checks-core", "--collect-only")
    count = len(catalog.suite("checks-core").scenarios)
    result.stdout.fnmatch_lines(
        [f"collected {count} items", "<SuiteCollector checks-core@1.0>", "  <ScenarioItem CC-01>"]
    )
    assert result.ret == 0


def readme_pytest_block() -> str:
    """The shell block of the README's pytest section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### The same suites from pytest") :]
    start = section.index("```sh\n") + len("```sh\n")
    return section[start : section.index("```", start)]


def test_the_readme_pytest_commands_run_as_shown(
    run_plugin: Callable[..., pytest.RunResult], pytester: pytest.Pytester, reference_url: str, catalog: Catalog
) -> None:
    block = readme_pytest_block()
    # the extra the README installs exists, and brings pytest-xdist
    assert "pip install 'netcode-harness[xdist]'" in block
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    assert [req for req in extras["xdist"] if req.startswith("pytest-xdist")]
    commands = [shlex.split(line, comments=True) for line in block.splitlines() if line.startswith("pytest ")]
    flags = {arg for command in commands for arg in command}
    assert {"-n", "--netcode-reports", "--junitxml", "--collect-only"} <= flags  # plain, xdist, reports, listing
    count = len(catalog.suite("intel-core").scenarios)
    for command in commands:
        args = [reference_url if arg == "http://127.0.0.1:8080" else arg for arg in command[1:]]
        result = run_plugin(*args)
        assert result.ret == 0, (command, result.outlines[-5:])
        if "--collect-only" in args:
            result.stdout.fnmatch_lines([f"{count} tests collected*"])
        elif "-n" in args:
            result.stdout.fnmatch_lines([f"* {count} passed*"])
        else:
            result.stdout.fnmatch_lines([f"collected {count} items", f"* {count} passed*"])
    reports = pytester.path / "reports" / "netcode" / "intel-core"
    assert (reports / "results.json").is_file() and (reports / "report.html").is_file()
    assert len(list(ET.parse(pytester.path / "reports" / "junit.xml").iter("testcase"))) == count


def test_last_failed_reruns_only_the_failed_scenarios(
    pytester: pytest.Pytester, serving: Callable[[web.Application], str], catalog: Catalog
) -> None:
    """``--lf`` sees the suite's items as it sees a test file's (the cache provider is on here)."""
    pytester.makeini(INI)
    url = serving(build_broken(catalog, "wrong-status"))
    args = ("-p", "no:randomly", "--netcode-suite", "intel-core", "--netcode-target", url)
    first = pytester.runpytest(*args)
    failed = first.parseoutcomes()["failed"]
    assert first.ret == 1 and 0 < failed < len(catalog.suite("intel-core").scenarios)
    again = pytester.runpytest(*args, "--lf")
    again.assert_outcomes(failed=failed, deselected=len(catalog.suite("intel-core").scenarios) - failed)
