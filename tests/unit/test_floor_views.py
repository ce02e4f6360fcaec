"""What users see of a floor packet: ``harness validate`` (recognised by content, ``--explain``, warnings apart,
exit codes), the HTML report's decoded field table beside the hex dump, and the rules in the rule set."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.catalog import catalog_problems, default_fixtures, load_catalog
from harness.cli import main
from harness.families.rules import rules_in_force
from harness.htmlreport.bodies import body_view
from harness.model import Severity
from harness.suitecheck import known_checks
from harness.validation.validator import detect_format

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "formats" / "mcptt-floor" / "1.0" / "samples"
TAKEN = SAMPLES / "valid" / "floor-taken-alpha-sequence-7.bin"


def test_a_floor_packet_is_recognised_by_its_content() -> None:
    catalog = load_catalog()
    formats = list(catalog.formats.values())
    for sample in catalog.format("mcptt-floor/1.0").samples:
        data = Path(sample.path).read_bytes()
        found = detect_format(formats, data)
        readable_header = len(data) >= 12 and data[0] >> 6 == 2 and data[1] == 204 and data[8:12] == b"MCPT"
        assert (found is not None and found.id == "mcptt-floor/1.0") == readable_header, sample.path
    assert detect_format(formats, b"MCPT" * 4) is None
    mcdata = catalog.format("mcdata-signalling/1.0").valid_samples[0]
    detected = detect_format(formats, Path(mcdata.path).read_bytes())
    assert detected is not None and detected.id != "mcptt-floor/1.0"


def test_validate_explains_the_decoded_fields(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--explain", str(TAKEN)]) == 0
    out = capsys.readouterr().out
    assert "valid mcptt-floor/1.0" in out
    assert "/octet/12  4 Granted Party's Identity: 'sip:alpha@esn.uk'" in out
    assert "/octet/36  8 Message Sequence Number: 7" in out


def test_validate_keeps_warnings_apart_and_exits_1_only_for_errors(capsys: pytest.CaptureFixture[str]) -> None:
    legacy = SAMPLES / "invalid" / "flr-05-legacy-102-priority.bin"
    assert main(["validate", "--json", str(legacy)]) == 0
    verdict = json.loads(capsys.readouterr().out)
    entry = verdict[0] if isinstance(verdict, list) else verdict
    text = json.dumps(entry)
    assert "FLR-05" in text and '"valid": true' in text
    cut = SAMPLES / "invalid" / "flr-01-field-past-end.bin"
    assert main(["validate", "--format", "mcptt-floor/1.0", str(cut)]) == 1
    out = capsys.readouterr().out
    assert "FLR-01" in out and "/octet/13" in out


def test_the_report_shows_a_floor_packet_as_a_field_table_beside_its_hex_dump() -> None:
    data = TAKEN.read_bytes()
    view = body_view("application/vnd.netcode.mcptt-floor", data)
    assert view["kind"] == "binary" and view["size"] == 40
    assert view["hex"].startswith("00000000  82 cc 00 09 00 a1 b2 c3")
    assert "/octet/0   subtype: 2 (Floor Taken)" in view["decoded"]
    assert "/octet/36  8 Message Sequence Number: 7" in view["decoded"]
    unreadable = body_view("application/vnd.netcode.mcptt-floor", b"\x80\xcc\x00")
    assert "FLR-01" in unreadable["decoded"]


def test_the_rule_set_states_every_rule_with_its_severity() -> None:
    stated = {rule.id: severity for rule, severity in rules_in_force("mcptt-floor", "1.1")}
    assert stated == {
        **dict.fromkeys(("FLR-01", "FLR-02", "FLR-03", "FLR-10"), Severity.ERROR),
        **dict.fromkeys(("FLR-04", "FLR-05", "FLR-06", "FLR-07", "FLR-08", "FLR-09"), Severity.WARNING),
    }
    assert {rule.id for rule, _ in rules_in_force("mcptt-floor", "1.0")} == set(stated)


def test_floor_steps_are_checked_when_the_catalog_loads(tmp_path: Path) -> None:
    fixtures = default_fixtures()
    for folder in ("formats", "datasets", "schemas"):
        (tmp_path / folder).symlink_to(fixtures / folder, target_is_directory=True)
    shutil.copytree(fixtures / "suites/esn-core/1.1", tmp_path / "suites/esn-core/1.1")
    scenario = tmp_path / "suites/esn-core/1.1/scenarios/esn-42-floor-idle.yaml"
    text = scenario.read_text(encoding="utf-8")
    text = text.replace("valid/floor-release-a.bin", "valid/floor-release-z.bin")
    text = text.replace(
        "after: release-a, within_s: 1}\n    expect:\n      floor_packet:\n        subtype: floor-idle",
        "after: relase-a, within_s: 1}\n    expect:\n      floor_packet:\n        subtype: floor-idle",
        1,
    )
    scenario.write_text(text, encoding="utf-8")
    found = [str(problem) for problem in catalog_problems(tmp_path, known_checks())]
    assert (
        f"{scenario}: /steps/4/floor_send/sample: no sample 'mcptt-floor/1.0/valid/floor-release-z.bin' in the catalog"
        in found
    )
    assert any(line.startswith(f"{scenario}: /steps/5/floor_await/after: ") and "'relase-a'" in line for line in found)
