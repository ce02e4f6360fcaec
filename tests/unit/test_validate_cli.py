"""``harness validate``: a format named without its version, binary MCData recognised by content, ``--explain``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.catalog import load_catalog
from harness.cli import main
from harness.cli.catalog import format_named

FORMATS = Path(__file__).resolve().parents[2] / "fixtures" / "formats"
SIGNALLING = FORMATS / "mcdata-signalling" / "1.0" / "samples"
PAYLOAD = FORMATS / "mcdata-payload" / "1.0" / "samples"


def test_a_format_without_version_is_its_newest_version(capsys: pytest.CaptureFixture[str]) -> None:
    sample = SIGNALLING / "valid" / "sds-minimal.bin"
    assert main(["validate", "--format", "mcdata-signalling", str(sample)]) == 0
    assert capsys.readouterr().out.strip().endswith("valid mcdata-signalling/1.0")


def test_the_newest_version_is_compared_as_numbers() -> None:
    catalog = load_catalog()
    cap = catalog.format("cap/1.2")
    fake = {"cap/1.2": cap, "cap/1.10": cap.__class__(**{**_fields(cap), "id": "cap/1.10"})}
    view = catalog.__class__(**{**_fields(catalog), "formats": fake})
    assert format_named(view, "cap").id == "cap/1.10"
    assert format_named(view, "cap/1.2") is cap


def _fields(value: object) -> dict[str, object]:
    return {name: getattr(value, name) for name in value.__dataclass_fields__}  # type: ignore[attr-defined]


def test_an_unknown_format_name_is_a_usage_error_naming_the_known(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--format", "mcdata-signal", str(SIGNALLING / "valid" / "sds-minimal.bin")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "unknown format 'mcdata-signal'" in error and "mcdata-signalling/1.0" in error


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (SIGNALLING / "valid" / "sds-every-ie.bin", "valid mcdata-signalling/1.0"),
        (SIGNALLING / "valid" / "notification-read-every-ie.bin", "valid mcdata-signalling/1.0"),
        (PAYLOAD / "valid" / "several-contents.bin", "valid mcdata-payload/1.0"),
        (SIGNALLING / "invalid" / "mcd-06-trailing-octets.bin", "INVALID mcdata-signalling/1.0"),
        (PAYLOAD / "invalid" / "mcd-07-not-utf8.bin", "INVALID mcdata-payload/1.0"),
    ],
    ids=lambda value: value.name if isinstance(value, Path) else "",
)
def test_binary_mcdata_is_recognised_by_content(path: Path, expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["validate", str(path)])
    assert f": {expected}" in capsys.readouterr().out.splitlines()[0]
    assert code == (0 if expected.startswith("valid") else 1)


def test_binary_content_too_short_or_unknown_gets_a_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    short = tmp_path / "short.bin"
    short.write_bytes(bytes([0x01, 0x00, 0x6A]))  # an SDS SIGNALLING PAYLOAD cut after 3 of its 38 octets
    unknown = tmp_path / "unknown.bin"
    unknown.write_bytes(bytes([0x3E]) + bytes(40))
    text = tmp_path / "note.txt"
    text.write_text("Alpha bravo\n")
    assert main(["validate", str(short), str(unknown), str(text)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3
    assert "first octet 0x01" in lines[0] and "--format mcdata-signalling" in lines[0]
    assert "first octet 0x3E" in lines[1]
    assert "first octet" not in lines[2] and "cannot tell the format" in lines[2]
    # Named, the short one is judged: truncated, with the octet.
    assert main(["validate", "--format", "mcdata-signalling", str(short)]) == 1
    assert "MCD-01" in capsys.readouterr().out


def test_explain_prints_the_decoded_fields_of_a_binary_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--explain", str(SIGNALLING / "valid" / "sds-every-ie.bin")]) == 0
    out = capsys.readouterr().out
    assert "message type: 1 (SDS SIGNALLING PAYLOAD)" in out
    assert "date time: 1790775600 (2026-09-30T13:40:00Z)" in out  # the spec's example date, decoded
    assert "conversation id: 8d1e7c5a-3b4f-4c2d-9e6f-1a2b3c4d5e6f" in out
    assert "disposition: 3 (delivery and read)" in out


def test_explain_decodes_payloads_and_the_binary_parts_of_an_sds(capsys: pytest.CaptureFixture[str]) -> None:
    sds = FORMATS / "mcdata-sds" / "1.0" / "samples" / "valid" / "group-location.multipart"
    assert main(["validate", "--explain", "--json", str(PAYLOAD / "valid" / "several-contents.bin"), str(sds)]) == 0
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert "payload 2: LOCATION (5)" in first["decoded"]
    assert any(line.strip().startswith("degrees: -33.85") for line in first["decoded"])
    assert any(line.strip() == "metres: -12 (depth)" for line in first["decoded"])
    assert second["format"] == "mcdata-sds/1.0"
    assert any(line.startswith("part 2: application/vnd.3gpp.mcdata-signalling") for line in second["decoded"])
    assert any(line.strip().startswith("message type: 3 (DATA PAYLOAD)") for line in second["decoded"])


def test_explain_of_an_undecodable_message_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--explain", str(SIGNALLING / "invalid" / "mcd-08-ie-order.bin")]) == 1
    out = capsys.readouterr().out
    assert "  decoded:\n    not decodable: " in out and "MCD-08" in out


def test_explain_of_a_text_format_adds_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--explain", str(FORMATS / "cap" / "1.2" / "samples" / "valid" / "minimal.xml")]) == 0
    assert "decoded" not in capsys.readouterr().out


def test_explain_of_a_protected_message_says_it_is_not_decoded(capsys: pytest.CaptureFixture[str]) -> None:
    protected = SIGNALLING / "invalid" / "mcd-10-protected.bin"
    assert main(["validate", "--format", "mcdata-signalling", "--explain", str(protected)]) == 1
    out = capsys.readouterr().out
    assert "MCD-10" in out and "decoded:\n    message type: 1 (SDS SIGNALLING PAYLOAD), protected, not decoded" in out
