"""``harness validate`` on every file of the alerts corpus (cap/, edxl-de/, emsi/) gives the expected verdict.

The corpus facts of spec ``alerts.md`` through the command line: the two OASIS examples are valid CAP,
``canada_errors.cap`` breaks exactly CAP-04 and CAP-07 (under alerts 1.1, the current version, CAP-07 is a
warning listed apart; ``--profile alerts=1.0`` judges it an error), ``invalid.cap`` fails the schema and ``xee.cap`` is
refused for its DOCTYPE. Files that are not messages of a catalog format (the schemas, the Hub Santé's
EDXL-DE 2.0 envelope and its EMSI wrapper) cannot be detected (exit 2, one line each); named with
``--format``, they are invalid. Our own samples give the verdicts their manifests declare.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.catalog import Catalog
from harness.validation.validator import sample_findings
from tests.conftest import ROOT

HARNESS = [sys.executable, "-m", "harness.cli", "validate", "--json"]
# file -> (format, rules found) for detected files; None for files whose format cannot be told.
EXPECTED: dict[str, tuple[str, set[str]] | None] = {
    "43b080713727.cap": ("cap/1.2", set()),
    "cap_amber_alert_example.xml": ("cap/1.2", set()),
    "canada_errors.cap": ("cap/1.2", {"CAP-04"}),
    "invalid.cap": ("cap/1.2", {"schema"}),
    "xee.cap": ("cap/1.2", {"schema"}),
    "CAP-v1.2.xsd": None,
    "edxlde-1_0.xsd": None,
    "EDXL-DE.xml": None,
    "EDXL-DE.json": None,
    "EDXL-DE-envelope-only.schema.json": None,
    "emsi-DC-message.json": None,
}


def validate(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HARNESS, *map(str, args)], capture_output=True, text=True, cwd=ROOT, timeout=120)


def by_name(result: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    return {Path(entry["path"]).name: entry for entry in map(json.loads, result.stdout.splitlines())}


def alerts_corpus(corpus: Path) -> list[Path]:
    return sorted(p for folder in ("cap", "edxl-de", "emsi") for p in (corpus / folder).iterdir() if p.is_file())


@pytest.fixture(scope="module")
def corpus_run(corpus: Path) -> subprocess.CompletedProcess[str]:
    return validate(*alerts_corpus(corpus))


@pytest.mark.corpus
def test_every_corpus_file_has_an_expected_verdict(corpus: Path) -> None:
    assert {p.name for p in alerts_corpus(corpus)} == set(EXPECTED)


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_harness_validate_gives_the_corpus_verdict(corpus_run: subprocess.CompletedProcess[str], name: str) -> None:
    assert "Traceback" not in corpus_run.stderr
    assert corpus_run.returncode == 2  # some files cannot be detected; the others are still judged
    expected = EXPECTED[name]
    judged = by_name(corpus_run)
    if expected is None:
        assert name not in judged
        (line,) = [line for line in corpus_run.stderr.splitlines() if name in line]
        assert "cannot tell the format" in line
        return
    entry = judged[name]
    format_id, rules = expected
    assert entry["format"] == format_id
    assert entry["valid"] is (not rules)
    assert {error["rule"] for error in entry["errors"]} == rules
    assert all(error["location"].startswith("/") and error["message"] for error in entry["errors"])


@pytest.mark.corpus
def test_the_corpus_facts_in_detail(corpus_run: subprocess.CompletedProcess[str], corpus: Path) -> None:
    judged = by_name(corpus_run)
    canada = {(e["rule"], e["location"]) for e in judged["canada_errors.cap"]["errors"]}
    assert canada == {("CAP-04", "/cap:alert/cap:references")}
    empties = {"/cap:alert/cap:restriction", "/cap:alert/cap:addresses", "/cap:alert/cap:references"}
    warned = {(e["rule"], e["location"]) for e in judged["canada_errors.cap"]["warnings"]}
    assert warned == {("CAP-07", location) for location in empties}
    old = by_name(validate("--profile", "alerts=1.0", corpus / "cap/canada_errors.cap"))["canada_errors.cap"]
    assert {(e["rule"], e["location"]) for e in old["errors"]} == {("CAP-04", "/cap:alert/cap:references")} | {
        ("CAP-07", location) for location in empties
    }
    assert old["warnings"] == []
    (xee,) = judged["xee.cap"]["errors"]
    assert xee["location"] == "/" and "DOCTYPE" in xee["message"] and "root:" not in xee["message"]
    assert any("scope" in e["message"] for e in judged["invalid.cap"]["errors"])


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("format_id", "name", "location"),
    [
        ("edxl-de/1.0", "edxl-de/EDXL-DE.xml", "/*[local-name()='edxlDistribution']"),
        ("emsi/1.0", "emsi/emsi-DC-message.json", "/emsi"),
        ("cap/1.2", "edxl-de/EDXL-DE.xml", "/*[local-name()='edxlDistribution']"),
    ],
)
def test_named_formats_judge_what_cannot_be_detected(corpus: Path, format_id: str, name: str, location: str) -> None:
    result = validate("--format", format_id, corpus / name)
    assert result.returncode == 1, result.stderr
    (entry,) = by_name(result).values()
    assert entry["format"] == format_id and entry["valid"] is False
    assert location in {error["location"] for error in entry["errors"]}


@pytest.mark.parametrize("format_id", ["cap/1.2", "edxl-de/1.0", "emsi/1.0"])
def test_our_samples_give_their_declared_verdicts(catalog: Catalog, format_id: str) -> None:
    fmt = catalog.format(format_id)
    detected = validate(*[s.path for s in fmt.valid_samples])
    assert detected.returncode == 0, detected.stdout + detected.stderr
    assert {entry["format"] for entry in map(json.loads, detected.stdout.splitlines())} == {format_id}
    named = validate("--format", format_id, *[s.path for s in fmt.samples])
    assert named.returncode == 1
    judged = {entry["path"]: entry for entry in map(json.loads, named.stdout.splitlines())}
    for sample in fmt.samples:
        entry = judged[sample.path]
        errors, warnings = sample_findings(fmt, sample)
        assert entry["valid"] is (not errors), sample.path
        assert {e["rule"] for e in entry["errors"]} == set(errors), sample.path
        assert {e["rule"] for e in entry["warnings"]} == set(warnings), sample.path


# An EDXL-DE 2.0 envelope of our own, written from the OASIS EDXL-DE 2.0 text (root ``edxlDistribution`` in the
# 2.0 namespace): the corpus has one too, but a fresh clone without the corpus must still test this behaviour.
EDXL_DE_2_0 = b"""<?xml version="1.0" encoding="UTF-8"?>
<edxlDistribution xmlns="urn:oasis:names:tc:emergency:EDXL:DE:2.0">
  <distributionID>netcode-de2-0001</distributionID>
  <senderID>alerts@kent.police.uk</senderID>
  <dateTimeSent>2026-04-17T07:45:00+01:00</dateTimeSent>
  <dateTimeExpires>2026-04-18T07:45:00+01:00</dateTimeExpires>
  <distributionStatus><StatusKindDefault>
    <ValueListURI>urn:oasis:names:tc:emergency:EDXL:DE:2.0:Defaults:StatusKind</ValueListURI>
    <Value>Exercise</Value>
  </StatusKindDefault></distributionStatus>
  <distributionKind><DistributionKindDefault>
    <ValueListURI>urn:oasis:names:tc:emergency:EDXL:DE:2.0:Defaults:DistributionKind</ValueListURI>
    <Value>Report</Value>
  </DistributionKindDefault></distributionKind>
  <content><contentObject><contentXML><embeddedXMLContent>
    <note xmlns="urn:example:note">exercise</note>
  </embeddedXMLContent></contentXML></contentObject></content>
</edxlDistribution>
"""


@pytest.mark.parametrize("format_id", ["edxl-de/1.0", "cap/1.2"])
def test_an_edxl_de_2_0_envelope_is_not_judged_valid_by_a_1_0_format(tmp_path: Path, format_id: str) -> None:
    path = tmp_path / "de-2.0.xml"
    path.write_bytes(EDXL_DE_2_0)
    result = validate("--format", format_id, path)
    assert result.returncode == 1, result.stderr
    (entry,) = by_name(result).values()
    assert entry["format"] == format_id and entry["valid"] is False
    assert "/*[local-name()='edxlDistribution']" in {error["location"] for error in entry["errors"]}
    detected = validate(path)
    assert detected.returncode != 0 and "Traceback" not in detected.stderr
