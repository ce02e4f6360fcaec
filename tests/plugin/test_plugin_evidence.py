"""The plugin writes what ``harness run`` writes: one signed evidence bundle and report.html per suite,
through the same reporters, with xdist workers' results and exchanges joined into one bundle that verifies."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web

from harness.catalog import Catalog
from harness.evidence.keys import generate
from tests.conftest import ROOT
from tests.integration.broken_suppliers import build_broken

INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
SUT = ("sut-supplier=Example Ltd", "sut-product=Reference", "sut-version=1.0")


@pytest.fixture
def run_plugin(pytester: pytest.Pytester) -> Callable[..., pytest.RunResult]:
    pytester.makeini(INI)

    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly", *args)

    return run


def _options(*values: str) -> list[str]:
    return [part for value in values for part in ("--netcode-option", value)]


def _verify(bundle: Path, key: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "harness.cli", "verify", str(bundle), "--trusted-key", f"{key}.pub", "--rejudge"]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)


def _bundle(folder: Path) -> Path:
    bundles = list(folder.glob("*.evidence.zip"))
    assert len(bundles) == 1, bundles
    return bundles[0]


@pytest.mark.parametrize(
    ("suite", "workers"), [("intel-core", "0"), ("intel-core", "2"), ("checks-core", "2"), ("esn-core", "2")]
)
def test_one_bundle_and_report_that_verify_with_rejudging(
    run_plugin: Callable[..., pytest.RunResult],
    reference_url: str,
    pytester: pytest.Pytester,
    catalog: Catalog,
    tmp_path: Path,
    suite: str,
    workers: str,
) -> None:
    key = tmp_path / "lab"
    generate(key, None)
    options = _options(*SUT, f"sign-key={key}.key")
    result = run_plugin("--netcode-suite", suite, "--netcode-target", reference_url, "-n", workers, *options)
    assert result.ret == 0, result.stdout.str()[-3000:]
    folder = pytester.path / "reports/netcode" / suite
    bundle = _bundle(folder)
    assert f"wrote {bundle.relative_to(pytester.path)}" in result.stdout.str()
    checked = _verify(bundle, key)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert ": valid (" in checked.stdout and "; certifies)" in checked.stdout
    with zipfile.ZipFile(bundle) as archive:
        results = json.loads(archive.read("results.json"))
        records = [json.loads(line) for line in archive.read("exchanges.jsonl").splitlines()]
    assert results == json.loads((folder / "results.json").read_text(encoding="utf-8"))  # the same document
    scenario_ids = [s["id"] for s in catalog.suite(suite).scenarios]
    assert [s["id"] for s in results["scenarios"]] == scenario_ids and results["certified"] is True
    exchanged = {s["id"] for s in results["scenarios"] if s["verdict"] != "skipped"}  # SIP ones: no target here
    assert {r["scenario"] for r in records} == exchanged  # every worker's exchanges joined
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert suite in page and "Example Ltd/Reference@1.0" in page
    assert (folder / "journal.jsonl").is_file()
    assert not (folder / ".exchanges").exists()  # the per-scenario captures are gone once joined


def test_a_failing_run_bundle_verifies_and_is_not_certified(
    run_plugin: Callable[..., pytest.RunResult],
    serving: Callable[[web.Application], str],
    pytester: pytest.Pytester,
    catalog: Catalog,
    tmp_path: Path,
) -> None:
    key = tmp_path / "lab"
    generate(key, None)
    url = serving(build_broken(catalog, "wrong-status"))
    result = run_plugin("--netcode-suite", "intel-core", "--netcode-target", url, "-n", "2",
                        *_options(*SUT, f"sign-key={key}.key"))  # fmt: skip
    assert result.ret == 1
    bundle = _bundle(pytester.path / "reports/netcode/intel-core")
    checked = _verify(bundle, key)
    assert checked.returncode == 0, checked.stdout + checked.stderr  # genuine evidence of a failing run
    assert ": valid (" in checked.stdout and "; does not certify)" in checked.stdout


def test_a_selection_is_written_as_an_interrupted_run(
    run_plugin: Callable[..., pytest.RunResult], reference_url: str, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    key = tmp_path / "lab"
    generate(key, None)
    result = run_plugin("--netcode-suite", "intel-core", "--netcode-target", reference_url, "-k", "IC-05 or IC-22",
                        *_options(*SUT, f"sign-key={key}.key"))  # fmt: skip
    result.assert_outcomes(passed=2, deselected=19)
    bundle = _bundle(pytester.path / "reports/netcode/intel-core")
    with zipfile.ZipFile(bundle) as archive:
        results = json.loads(archive.read("results.json"))
    assert results["interrupted"] is True and results["certified"] is False
    assert [s["id"] for s in results["scenarios"]] == ["IC-05", "IC-22"]


def test_evidence_off_and_bad_options(run_plugin: Callable[..., pytest.RunResult], reference_url: str,
                                      pytester: pytest.Pytester) -> None:  # fmt: skip
    result = run_plugin("--netcode-suite", "intel-core", "--netcode-target", reference_url, "-k", "IC-05",
                        *_options("evidence=off"))  # fmt: skip
    assert result.ret == 0
    folder = pytester.path / "reports/netcode/intel-core"
    assert not list(folder.glob("*.evidence.zip")) and (folder / "report.html").is_file()
    bad = run_plugin("--netcode-suite", "intel-core", "--netcode-target", reference_url, *_options("sut-product=X"))
    assert bad.ret == pytest.ExitCode.USAGE_ERROR and "go together" in bad.stderr.str()
    missing = run_plugin("--netcode-suite", "intel-core", "--netcode-target", reference_url,
                         *_options("sign-key=/nonexistent/lab.key"))  # fmt: skip
    assert missing.ret == pytest.ExitCode.USAGE_ERROR and "sign-key" in missing.stderr.str()
    assert "Traceback" not in missing.stderr.str() + missing.stdout.str()


def test_a_password_in_the_target_reaches_no_report(
    run_plugin: Callable[..., pytest.RunResult], reference_url: str, pytester: pytest.Pytester
) -> None:
    secret = "longpassword1"
    target = reference_url.replace("http://", f"http://lab:{secret}@")
    result = run_plugin("--netcode-suite", "intel-core", "--netcode-target", target, "-n", "2", "-k", "IC-0")
    assert result.ret == 0, result.stdout.str()[-2000:]
    assert secret not in result.stdout.str() + result.stderr.str()
    written = [path for path in (pytester.path / "reports").rglob("*") if path.is_file()]
    assert any(path.suffix == ".zip" for path in written) and any(path.name == "report.html" for path in written)
    for path in written:
        data = path.read_bytes()
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                data = b"".join(archive.read(name) for name in archive.namelist())
        assert secret.encode() not in data, path
        assert base64.b64encode(f"lab:{secret}".encode()) not in data, path  # nor as the Basic credential
