"""The CLI contract: exit codes, one-line errors, report files, JUnit, against real servers on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from tests.conftest import ROOT, free_port
from tests.junit_counts import assert_junit_counts_match

HARNESS = [sys.executable, "-m", "harness.cli"]
JSON_SAMPLES = ROOT / "fixtures/formats/intel-report/1.0/samples"
XML_SAMPLES = ROOT / "fixtures/formats/intel-report-xml/1.0/samples"


def harness(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HARNESS, *args], capture_output=True, text=True, cwd=cwd or ROOT, timeout=timeout)


def assert_one_clean_line(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    """``harness serve`` on loopback port 0, in its own process."""
    process = subprocess.Popen(
        [*HARNESS, "serve", "--host", "127.0.0.1", "--port", "0"], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "listening on http://127.0.0.1:" in line
    yield line.split(" on ", 1)[1].split()[0]
    process.terminate()
    process.wait(timeout=10)
    process.stdout.close()


# -- listings ------------------------------------------------------------------------


def test_formats_and_suites_listings() -> None:
    listed = [json.loads(line) for line in harness("formats", "--json").stdout.splitlines()]
    assert {entry["id"] for entry in listed} >= {"intel-report/1.0", "intel-report-xml/1.0"}
    suites = [json.loads(line) for line in harness("suites", "--json").stdout.splitlines()]
    by_name = {entry["name"]: entry for entry in suites}
    assert {"intel-core", "checks-core"} <= set(by_name)
    assert by_name["intel-core"]["version"] == "1.0" and by_name["intel-core"]["scenarios"] == 21
    assert "intel-core@1.0" in harness("suites").stdout


# -- validate ------------------------------------------------------------------------


def test_validate_valid_files_in_both_renditions_exit_0() -> None:
    result = harness("validate", str(JSON_SAMPLES / "valid/full.json"), str(XML_SAMPLES / "valid/prefixed.xml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid intel-report/1.0" in result.stdout and "valid intel-report-xml/1.0" in result.stdout


def test_validate_json_output_lists_every_error() -> None:
    files = [JSON_SAMPLES / "valid/minimal.json", JSON_SAMPLES / "invalid/several-rules.json"]
    result = harness("validate", "--json", *map(str, files))
    assert result.returncode == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["valid"] for line in lines] == [True, False]
    assert set(lines[0]) == {"path", "format", "valid", "errors", "warnings"}
    assert lines[0]["warnings"] == lines[1]["warnings"] == []
    assert {e["rule"] for e in lines[1]["errors"]} == {"IR-01", "IR-03", "IR-06"}
    assert all(set(e) == {"location", "rule", "message"} for e in lines[1]["errors"])


def test_validate_xml_errors_carry_xpaths() -> None:
    result = harness("validate", "--json", str(XML_SAMPLES / "invalid/several-rules.xml"))
    errors = json.loads(result.stdout)["errors"]
    assert result.returncode == 1
    assert all(e["location"].startswith("/ir:intelReport") for e in errors)


def test_validate_forced_format_mismatch_is_invalid() -> None:
    result = harness("validate", "--format", "intel-report-xml/1.0", str(JSON_SAMPLES / "valid/full.json"))
    assert result.returncode == 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["validate", "does-not-exist.json"], "no such file"),
        (["validate", "--format", "no-such/9", "pyproject.toml"], "unknown format"),
        (["validate", "pyproject.toml"], "cannot tell the format"),
        (["validate", "fixtures"], "is a directory"),
        (["run", "--suite", "nope", "--target", "http://127.0.0.1:9"], "unknown suite"),
        (["run", "--suite", "intel-core", "--target", "ftp://127.0.0.1"], "bad target URL"),
        (["run", "--suite", "intel-core", "--target", "http://127.0.0.1:99999"], "bad port"),
        (["run", "--suite", "intel-core@7.0", "--target", "http://127.0.0.1:9"], "no version"),
        (["run", "--suite", "intel-core"], "required"),
        (["bogus-command"], "invalid choice"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(args: list[str], needle: str) -> None:
    result = harness(*args)
    assert result.returncode == 2, result.stderr
    assert needle in result.stderr
    assert_one_clean_line(result)


def test_unreadable_file_exit_2(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    secret = tmp_path / "secret.json"
    secret.write_text("{}")
    secret.chmod(0)
    result = harness("validate", str(secret))
    assert result.returncode == 2 and "permission denied" in result.stderr


def test_any_bad_file_makes_exit_2_but_others_are_still_judged(tmp_path: Path) -> None:
    result = harness("validate", "--json", str(JSON_SAMPLES / "valid/full.json"), str(tmp_path / "missing.json"))
    assert result.returncode == 2
    assert json.loads(result.stdout)["valid"] is True


# -- run -------------------------------------------------------------------------------


def test_refused_connection_exit_3(tmp_path: Path) -> None:
    result = harness(
        "run", "--suite", "intel-core", "--target", f"http://127.0.0.1:{free_port()}", "--reports", str(tmp_path)
    )
    assert result.returncode == 3
    assert "cannot connect" in result.stderr
    assert_one_clean_line(result)


def test_run_against_served_reference_writes_reports(served: str, tmp_path: Path) -> None:
    reports, junit = tmp_path / "reports", tmp_path / "junit.xml"
    result = harness(
        "run",
        "--suite",
        "intel-core@1.0",
        "--target",
        served,
        "--reports",
        str(reports),
        "--junit",
        str(junit),
        "--concurrency",
        "3",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "CERTIFIED" in result.stdout and "[21/21]" in result.stdout
    document = json.loads((reports / "results.json").read_text())
    assert set(document) >= {"harness", "suite", "target", "started", "finished", "summary", "scenarios"}
    assert document["suite"] == {
        "name": "intel-core",
        "version": "1.0",
        "status": "current",
        "certifies": "intel-report@1.0",
    }
    assert document["summary"] == {"passed": 21, "failed": 0, "errors": 0, "skipped": 0, "manual": 0}
    scenario = document["scenarios"][0]
    assert set(scenario) - {"latency_ms"} == {"id", "title", "level", "verdict", "duration_ms", "failures"}
    assert scenario["latency_ms"]["count"] >= 1
    tree = etree.parse(str(junit))
    assert tree.getroot().tag == "testsuites"
    assert len(tree.findall(".//testcase")) == 21 and not tree.findall(".//failure")


def test_run_against_broken_supplier_exit_1_with_failures(tmp_path: Path) -> None:
    # A server that answers every request with 200 and an empty JSON object.
    script = (
        "import asyncio,sys\nfrom aiohttp import web\n"
        "async def h(r):\n    await r.read()\n    return web.json_response({})\n"
        "app=web.Application()\napp.router.add_route('*','/{p:.*}',h)\n"
        "web.run_app(app,host='127.0.0.1',port=int(sys.argv[1]),print=lambda *a:print('up',flush=True))\n"
    )
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", script, str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and "up" in process.stdout.readline()
        junit = tmp_path / "junit.xml"
        result = harness(
            "run",
            "--suite",
            "intel-core",
            "--target",
            f"http://127.0.0.1:{port}",
            "--reports",
            str(tmp_path),
            "--junit",
            str(junit),
        )
    finally:
        process.terminate()
        process.wait(timeout=10)
        assert process.stdout is not None
        process.stdout.close()
    assert result.returncode == 1
    assert "NOT CERTIFIED" in result.stdout
    document = json.loads((tmp_path / "results.json").read_text())
    assert document["summary"]["passed"] == 0
    failure = document["scenarios"][0]["failures"][0]
    assert set(failure) == {"step", "check", "expected", "actual", "message", "not_checked"}
    assert failure["check"].startswith("status") and failure["expected"] == 202 and failure["actual"] == 200
    # The first cause alone (docs/verdicts.md): the checks of that answer that read it were not run.
    assert len(document["scenarios"][0]["failures"]) == 1 and failure["not_checked"]
    assert etree.parse(str(junit)).findall(".//failure")
    assert_junit_counts_match(junit, document)


def test_demo_certifies_and_writes_aggregate(tmp_path: Path) -> None:
    result = harness("demo", "--reports", str(tmp_path / "latest"))
    assert result.returncode == 0, result.stdout + result.stderr
    aggregate = json.loads((tmp_path / "latest/results.json").read_text())
    assert aggregate["summary"]["failed"] == 0 and aggregate["summary"]["passed"] >= 21
    names = [suite["name"] for suite in aggregate["suites"]]
    assert {"intel-core", "checks-core"} <= set(names)
    total = 0
    for entry in aggregate["suites"]:
        per_suite = json.loads((tmp_path / "latest" / entry["name"] / "results.json").read_text())
        assert per_suite["summary"] == entry["summary"]
        assert f"latest/{entry['name']}/report.html" in result.stdout  # the demo says where each report is
        assert entry["html"].endswith(f"latest/{entry['name']}/report.html") and Path(entry["html"]).is_file()
        total += per_suite["summary"]["passed"]
    assert aggregate["summary"]["passed"] == total
