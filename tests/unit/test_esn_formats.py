"""The ESN formats of the catalog: samples validate as declared, locations follow the notation, the CLI works.

Binary findings are located ``/octet/N``; multipart findings ``/`` (the body),
``/part/K`` (a part), ``/part/K/octet/N`` (an octet of a binary part) or
``/part/K`` + an XPath (an element of an XML part).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.catalog import Catalog, load_catalog
from harness.codecs.multipart import MultipartFault, read_entity
from harness.families.esn.body import build_sds, parse_body, parse_sds
from harness.families.esn.mcdata import Fault, decode, encode
from harness.families.esn.validation import sds_validator
from harness.model import Format, Sample
from harness.validation.validator import detect_format, sample_findings, validator_for
from tests.conftest import ROOT

ESN_FORMATS = {
    "mcdata-info/1.0": "xml",
    "mcptt-info/1.0": "xml",
    "mcptt-location-info/1.0": "xml",
    "mcdata-signalling/1.0": "binary",
    "mcdata-payload/1.0": "binary",
    "mcdata-sds/1.0": "multipart",
    "mcdata-fd/1.0": "multipart",
}
HARNESS = [sys.executable, "-m", "harness.cli"]
SDS_SAMPLES = ROOT / "fixtures/formats/mcdata-sds/1.0/samples"
SIGNALLING_SAMPLES = ROOT / "fixtures/formats/mcdata-signalling/1.0/samples"
BINARY_LOCATION = re.compile(r"/octet/(\d+)\Z")
PART_LOCATION = re.compile(r"/part/(\d+)(?:/octet/(\d+)|(/.+))?\Z")


def _samples() -> list[tuple[Format, Sample]]:
    """Every sample of every ESN format, judged by each version of esn.md (once for a format of no document)."""
    catalog = load_catalog()
    pairs: list[tuple[Format, Sample]] = []
    for fid in ESN_FORMATS:
        versions = sorted(catalog.documents["esn"]) if catalog.format(fid).document else [None]
        for version in versions:
            fmt = catalog.at({"esn": version}).format(fid) if version else catalog.format(fid)
            pairs += [(fmt, sample) for sample in fmt.samples]
    return pairs


SAMPLES = _samples()
IDS = [f"{fmt.id}@{fmt.rules_version or '-'}:{Path(sample.path).name}" for fmt, sample in SAMPLES]


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HARNESS, *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_the_catalog_holds_every_esn_format_with_valid_and_invalid_samples(catalog: Catalog) -> None:
    for format_id, syntax in ESN_FORMATS.items():
        fmt = catalog.format(format_id)
        assert fmt.syntax == syntax
        assert len(fmt.valid_samples) >= 3, format_id
        assert len(fmt.invalid_samples) >= 4, format_id


@pytest.mark.parametrize(("fmt", "sample"), SAMPLES, ids=IDS)
def test_every_esn_sample_validates_as_declared(fmt: Format, sample: Sample) -> None:
    result = validator_for(fmt).validate(Path(sample.path).read_bytes())
    if sample.valid:
        assert result.findings == (), [f.as_dict() for f in result.findings]
    else:
        errors, warnings = sample_findings(fmt, sample)
        assert result.rules == set(errors), [f.as_dict() for f in result.findings]
        assert result.warning_rules == set(warnings), [f.as_dict() for f in result.warnings]


def test_every_binary_rule_and_every_multipart_rule_but_the_limits_has_an_invalid_sample(catalog: Catalog) -> None:
    declared = {
        rule
        for format_id in ("mcdata-signalling/1.0", "mcdata-payload/1.0", "mcdata-sds/1.0", "mcdata-fd/1.0")
        for sample in catalog.format(format_id).invalid_samples
        for rule in sample.rules
    }
    decoding_rules = {str(f) for f in Fault} - {str(Fault.NOT_ENCODABLE)}
    structure_rules = {str(f) for f in MultipartFault} - {str(MultipartFault.TOO_LARGE)}
    assert decoding_rules | structure_rules | {"schema", "MCS-06"} <= declared


@pytest.mark.parametrize(
    ("fmt", "sample"),
    [p for p in SAMPLES if not p[1].valid],
    ids=[i for i, p in zip(IDS, SAMPLES, strict=True) if not p[1].valid],
)
def test_locations_follow_the_notation_and_name_octets_that_exist(fmt: Format, sample: Sample) -> None:
    data = Path(sample.path).read_bytes()
    verdict = validator_for(fmt).validate(data)
    findings = verdict.findings + verdict.warnings
    assert findings or not any(sample_findings(fmt, sample))
    for finding in findings:
        assert finding.message.strip() and finding.location.startswith("/")
        if fmt.syntax == "binary":
            match = BINARY_LOCATION.match(finding.location)
            assert match and int(match[1]) <= len(data), finding
        elif fmt.syntax == "multipart" and finding.location != "/":
            match = PART_LOCATION.match(finding.location)
            assert match, finding
            kind = "fd" if fmt.id.startswith("mcdata-fd/") else "sds"
            readable = finding.rule.startswith(("MCD", "schema"))
            parts = parse_body(kind, *read_entity(data)).parts if readable else None
            if match[2] is not None and parts is not None:
                assert int(match[2]) <= len(parts[int(match[1]) - 1].content), finding


def test_valid_binary_samples_re_encode_byte_for_byte(catalog: Catalog) -> None:
    for format_id in ("mcdata-signalling/1.0", "mcdata-payload/1.0"):
        for sample in catalog.format(format_id).valid_samples:
            data = Path(sample.path).read_bytes()
            assert encode(decode(data)) == data, sample.path


def test_valid_sds_samples_keep_their_binary_parts_exact(catalog: Catalog) -> None:
    for sample in catalog.format("mcdata-sds/1.0").valid_samples:
        sds = parse_sds(*read_entity(Path(sample.path).read_bytes()))
        assert encode(decode(sds.signalling)) == sds.signalling
        if sds.payload is not None:
            assert encode(decode(sds.payload)) == sds.payload
    trailing = parse_sds(*read_entity((SDS_SAMPLES / "valid/binary-trailing-space-newline.multipart").read_bytes()))
    assert trailing.payload is not None and trailing.payload.endswith(b" \n  ")


def test_an_sds_received_with_its_content_type_is_validated_through_the_public_api(catalog: Catalog) -> None:
    fmt = catalog.format("mcdata-sds/1.0")
    info = (ROOT / "fixtures/formats/mcdata-info/1.0/samples/valid/one-to-one-sds.xml").read_bytes()
    signalling = (SIGNALLING_SAMPLES / "valid/sds-delivery-requested.bin").read_bytes()
    payload = bytes.fromhex("03 01 78 00 03 01 68 69")
    content_type, body = build_sds(info, signalling, payload, transfer_encoding="base64")
    assert sds_validator(fmt).validate(content_type, body).valid
    content_type, body = build_sds(info, signalling[:30], payload)
    result = sds_validator(fmt).validate(content_type, body)
    assert [(f.location, f.rule) for f in result.findings] == [("/part/2/octet/22", "MCD-01")]


# --------------------------------------------------------------------------- detection


def test_stored_sds_entities_and_bare_binary_messages_are_detected(catalog: Catalog) -> None:
    formats = list(catalog.formats.values())
    for sample in catalog.format("mcdata-sds/1.0").samples:
        if "no-boundary" in sample.path:
            continue
        detected = detect_format(formats, Path(sample.path).read_bytes())
        assert detected is not None and detected.id == "mcdata-sds/1.0", sample.path
    for format_id in ("mcdata-signalling/1.0", "mcdata-payload/1.0"):
        for sample in catalog.format(format_id).samples:
            detected = detect_format(formats, Path(sample.path).read_bytes())
            if sample.valid:  # a binary message is recognised by its first octet (docs/decisions-users.md)
                assert detected is not None and detected.id == format_id, sample.path
            else:  # protected, truncated or unknown: not guessed; a message of the other part: that part's format
                assert detected is None or detected.syntax == "binary", sample.path
    not_guessed = {"mcd-10-protected.bin", "mcd-10-authenticated.bin", "mcd-01-truncated.bin"}
    not_guessed.add("mcd-03-unknown-type.bin")
    for format_id in ("mcdata-signalling/1.0", "mcdata-payload/1.0"):
        for sample in catalog.format(format_id).samples:
            if Path(sample.path).name in not_guessed:
                assert detect_format(formats, Path(sample.path).read_bytes()) is None, sample.path
    assert detect_format(formats, b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\nhi\r\n--x--") is None


@pytest.mark.parametrize("format_id", ["mcdata-info/1.0", "mcptt-info/1.0", "mcptt-location-info/1.0"])
def test_xml_samples_are_detected_by_their_root(catalog: Catalog, format_id: str) -> None:
    formats = list(catalog.formats.values())
    for sample in catalog.format(format_id).valid_samples:
        detected = detect_format(formats, Path(sample.path).read_bytes())
        assert detected is not None and detected.id == format_id, sample.path


# --------------------------------------------------------------------------- the CLI


def test_harness_validate_an_sds_sample_exits_0_when_valid_and_1_when_not() -> None:
    valid = SDS_SAMPLES / "valid/one-to-one-text.multipart"
    invalid = SDS_SAMPLES / "invalid/mcd-01-truncated-signalling.multipart"
    ok = harness("validate", "--format", "mcdata-sds/1.0", str(valid))
    assert ok.returncode == 0, ok.stderr
    assert "valid mcdata-sds/1.0" in ok.stdout
    bad = harness("validate", "--format", "mcdata-sds/1.0", "--json", str(invalid))
    assert bad.returncode == 1, bad.stderr
    (line,) = bad.stdout.splitlines()
    report = json.loads(line)
    assert report["format"] == "mcdata-sds/1.0" and report["valid"] is False
    assert report["errors"] == [
        {"location": "/part/2/octet/22", "rule": "MCD-01", "message": "Message ID needs 16 octet(s), 8 remain"}
    ]
    detected = harness("validate", str(valid), str(SDS_SAMPLES / "valid/base64-parts.multipart"))
    assert detected.returncode == 0, detected.stderr


def test_harness_validate_binary_by_content_or_named() -> None:
    sample = SIGNALLING_SAMPLES / "valid/sds-delivery-requested.bin"
    detected = harness("validate", str(sample))
    assert detected.returncode == 0 and "valid mcdata-signalling/1.0" in detected.stdout, detected.stderr
    named = harness("validate", "--format", "mcdata-signalling/1.0", str(sample))
    assert named.returncode == 0, named.stderr
    cut = harness("validate", str(SIGNALLING_SAMPLES / "invalid/mcd-01-truncated.bin"))  # too short to guess
    assert cut.returncode == 2 and "--format" in cut.stderr
    truncated = harness(
        "validate", "--format", "mcdata-signalling/1.0", str(SIGNALLING_SAMPLES / "invalid/mcd-01-truncated.bin")
    )
    assert truncated.returncode == 1
    assert "MCD-01  /octet/6: Conversation ID needs 16 octet(s), 14 remain" in truncated.stdout
