"""The command line of severities, document versions and suite life cycles (issue 12's done-when).

- ``harness validate``: an alert with ``<restriction/>`` and ``<note/>`` empty exits 0 with two warnings
  (``--strict``: exit 1); a resource with a relative ``uri`` and no ``derefUri`` exits 1 naming CAP-11;
  ``--profile alerts=1.0`` judges by 1.0.
- ``harness suites`` shows each suite version's status and the document version it certifies.
- ``harness serve --profile alerts=1.0`` plays 1.0, and ``harness run`` of the superseded
  ``alerts-core@1.0`` against it certifies and says the suite is superseded.
- A retired suite version refuses to certify (exit 2, one line) unless ``--not-certifying``, and then the
  reports say the run does not certify.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.integration.served import ALERT_HUB_1_0, serve_process

HARNESS = [sys.executable, "-m", "harness.cli"]
ALERT = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>cli-{n}</identifier>
  <sender>alerts@kent.police.uk</sender>
  <sent>2026-06-03T10:15:00+01:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
{alert}  <info>
    <category>Safety</category>
    <event>Missing person</event>
    <urgency>Expected</urgency>
    <severity>Moderate</severity>
    <certainty>Likely</certainty>
{info}  </info>
</alert>
"""


def harness(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HARNESS, *args], capture_output=True, text=True, cwd=ROOT, timeout=300, env={**os.environ, **(env or {})}
    )


@pytest.fixture
def empty_restriction_and_note(tmp_path: Path) -> Path:
    path = tmp_path / "empty.xml"
    path.write_text(ALERT.format(n=1, alert="  <restriction/>\n  <note/>\n", info=""), encoding="utf-8")
    return path


@pytest.fixture
def relative_uri(tmp_path: Path) -> Path:
    resource = "    <resource>\n      <resourceDesc>Photograph</resourceDesc>\n      <mimeType>image/jpeg</mimeType>\n"
    resource += "      <uri>photos/0805.jpg</uri>\n    </resource>\n"
    path = tmp_path / "relative.xml"
    path.write_text(ALERT.format(n=2, alert="", info=resource), encoding="utf-8")
    return path


def test_empty_restriction_and_note_exit_0_with_two_warnings(empty_restriction_and_note: Path) -> None:
    console = harness("validate", str(empty_restriction_and_note))
    assert console.returncode == 0, console.stdout + console.stderr
    lines = console.stdout.splitlines()
    assert lines[0].endswith(": valid cap/1.2 (2 warning(s))")
    assert [line.split()[:2] for line in lines[1:]] == [["warning", "CAP-07"], ["warning", "CAP-07"]]
    as_json = harness("validate", "--json", str(empty_restriction_and_note))
    (entry,) = map(json.loads, as_json.stdout.splitlines())
    assert as_json.returncode == 0 and entry["valid"] is True and entry["errors"] == []
    assert [(w["rule"], w["location"]) for w in entry["warnings"]] == [
        ("CAP-07", "/cap:alert/cap:restriction"),
        ("CAP-07", "/cap:alert/cap:note"),
    ]
    strict = harness("validate", "--strict", str(empty_restriction_and_note))
    assert strict.returncode == 1 and "INVALID cap/1.2 (0 error(s), 2 warning(s) counted as errors" in strict.stdout
    old = harness("validate", "--json", "--profile", "alerts=1.0", str(empty_restriction_and_note))
    (entry,) = map(json.loads, old.stdout.splitlines())
    assert old.returncode == 1 and [e["rule"] for e in entry["errors"]] == ["CAP-07", "CAP-07"]


def test_relative_uri_without_deref_uri_exit_1_cap_11(relative_uri: Path) -> None:
    result = harness("validate", str(relative_uri))
    assert result.returncode == 1
    assert "INVALID cap/1.2 (1 error(s))" in result.stdout
    assert "CAP-11  /cap:alert/cap:info/cap:resource/cap:uri:" in result.stdout
    assert harness("validate", "--profile", "alerts=1.0", str(relative_uri)).returncode == 0


@pytest.mark.parametrize("profile", ["alerts=9.9", "alerts", "weather=1.0"])
def test_a_bad_profile_is_one_line_exit_2(relative_uri: Path, profile: str) -> None:
    result = harness("validate", "--profile", profile, str(relative_uri))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_suites_show_status_and_document_version() -> None:
    listed = {(e["name"], e["version"]): e for e in map(json.loads, harness("suites", "--json").stdout.splitlines())}
    assert listed["alerts-core", "1.0"]["status"] == "superseded"
    assert listed["alerts-core", "1.0"]["certifies"] == "alerts@1.0"
    assert listed["alerts-core", "1.1"]["status"] == "current"
    assert listed["alerts-core", "1.1"]["certifies"] == "alerts@1.1"
    text = harness("suites").stdout
    assert any(line.split()[:3] == ["alerts-core@1.0", "superseded", "alerts@1.0"] for line in text.splitlines())
    assert any(line.split()[:3] == ["alerts-core@1.1", "current", "alerts@1.1"] for line in text.splitlines())


@pytest.fixture
def playing_1_0() -> Iterator[str]:
    """``harness serve --profile alerts=1.0`` on loopback port 0, in its own process."""
    with serve_process(ALERT_HUB_1_0, expect="playing alerts@1.0") as url:
        yield url


def test_a_superseded_suite_runs_and_says_so(playing_1_0: str, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = harness("run", "--suite", "alerts-core@1.0", "--target", playing_1_0, "--reports", str(reports))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    assert "note: suite alerts-core@1.0 is superseded" in result.stdout
    document = json.loads((reports / "results.json").read_text(encoding="utf-8"))
    assert document["suite"] == {
        "name": "alerts-core",
        "version": "1.0",
        "status": "superseded",
        "certifies": "alerts@1.0",
    }
    # every MUST passed, in a certifying run; with no --sut-* declared it certifies nothing (evidence.md 1.1, check 7)
    assert document["certifying"] is True and document["certified"] is False and document["sut"] is None
    # The current suite against the hub playing 1.0: not certified (the changed scenarios fail).
    current = harness("run", "--suite", "alerts-core", "--target", playing_1_0, "--reports", str(tmp_path / "r2"))
    assert current.returncode == 1 and "alerts-core@1.1" in current.stdout


def test_a_retired_suite_refuses_to_certify_unless_not_certifying(playing_1_0: str, tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures"
    shutil.copytree(ROOT / "fixtures", fixtures)
    register = fixtures / "suites/lifecycle.yaml"
    register.write_text(
        register.read_text(encoding="utf-8").replace(
            "status: superseded\n    certifies: alerts@1.0", "status: retired\n    certifies: alerts@1.0"
        ),
        encoding="utf-8",
    )
    documents = fixtures / "documents.yaml"
    text = documents.read_text(encoding="utf-8")
    alerts = text.index("\nalerts:")  # alerts 1.0 only (esn 1.0 is superseded too)
    retired = text[alerts:].replace('"1.0": superseded', '"1.0": retired', 1)
    documents.write_text(text[:alerts] + retired, "utf-8")
    env = {"HARNESS_CATALOG": str(fixtures)}
    reports = tmp_path / "reports"
    refused = harness("run", "--suite", "alerts-core@1.0", "--target", playing_1_0, "--reports", str(reports), env=env)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "alerts-core@1.0 is retired" in refused.stderr and "--not-certifying" in refused.stderr
    assert not reports.exists()
    ran = harness(
        "run",
        "--suite",
        "alerts-core@1.0",
        "--target",
        playing_1_0,
        "--reports",
        str(reports),
        "--not-certifying",
        env=env,
    )
    assert ran.returncode == 1, ran.stdout[-2000:] + ran.stderr
    assert "NOT CERTIFYING" in ran.stdout and "marked as not certifying" in ran.stdout
    document = json.loads((reports / "results.json").read_text(encoding="utf-8"))
    assert document["certifying"] is False and document["certified"] is False
    assert document["summary"]["failed"] == 0  # every scenario passed, and still nothing is certified
    assert document["suite"]["status"] == "retired"
