"""The family seams (issue 26, item 0): a family declares everything particular to it through the one registry.

A third party's family, written to a temporary folder with the ``.dist-info`` of its entry point (what
``pip install`` leaves), adds a binary syntax (validation, ``--explain``, detection), a ``message:`` block
with its schema fragment, a step kind, a report body view and a personal field, and a fresh interpreter
uses each through the harness's own code paths: nothing of the harness is edited. In-process tests hold
the ESN family to the same seams.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.catalog import load_catalog
from harness.extensions import FAMILIES, FormatFamily, ScenarioPart, body_view_of, scenario_parts, syntax_names
from harness.registry import RegistryError, resolve
from harness.scenarios import scenario_schema

ROOT = Path(__file__).resolve().parents[2]
SCENARIO_SCHEMA = ROOT / "fixtures" / "schemas" / "scenario.schema.json"

FAMILY = """
from __future__ import annotations

from harness.extensions import FormatFamily, PersonalField, ScenarioPart

FAMILY = FormatFamily(
    name="toy",
    formats=("toy-bin/1.0",),
    syntaxes=(("toy-bin", "toy_family.codec:SYNTAX"),),
    scenario_parts=(
        ScenarioPart("message", "toy", "toy_family.parts:MESSAGE", "toy_family.build:message"),
        ScenarioPart("step", "toy_step", "toy_family.parts:STEP", "toy_family.build:step", checks_itself=True),
    ),
    body_views=(("application/x-toy", "toy_family.build:view"),),
    personal_fields=(PersonalField("toy-bin/1.0", "/octet/1", "text"),),
)
"""

CODEC = """
from __future__ import annotations

from harness.model import Finding, Format
from harness.validation.validator import Syntax, Validation


def validator(fmt: Format):
    def validate(data: bytes) -> Validation:
        if data[:1] != b"\\x7e":
            return Validation(fmt.id, (Finding("/octet/0", "TOY-01", "a toy starts with 0x7E"),))
        return Validation(fmt.id, ())
    return validate


def explain(fmt: Format, data: bytes) -> list[str]:
    return [f"octet {n}: 0x{b:02X}" for n, b in enumerate(data)]


def detect(formats: list[Format], data: bytes) -> Format | None:
    return next((f for f in formats if f.syntax == "toy-bin"), None) if data[:1] == b"\\x7e" else None


SYNTAX = Syntax(validator=validator, explain=explain, detect=detect)
"""

PARTS = """
MESSAGE = {"type": "object", "additionalProperties": False, "required": ["octets"],
           "properties": {"octets": {"type": "string"}}}
STEP = {"type": "object", "additionalProperties": False, "required": ["times"],
        "properties": {"times": {"type": "integer", "minimum": 1}}}
"""

BUILD = """
from __future__ import annotations

from harness.model import CheckFailure
from harness.runner.context import Message

RAN: list[int] = []


def message(ctx, spec):
    return Message(None, bytes.fromhex(spec["octets"]), "application/x-toy", None, None)


async def step(runner, scenario, step, ctx, latencies):
    times = int(step.raw["toy_step"]["times"])
    RAN.append(times)
    if times > 5:
        return [CheckFailure(step.name, "toy_step", "<= 5", times, "too many")]
    return []


def view(data: bytes) -> str:
    return f"toy of {len(data)} octets"
"""

PROBE = """
import asyncio
import json
import sys
from pathlib import Path

from harness.catalog import load_catalog
from harness.extensions import FAMILIES, personal_fields
from harness.htmlreport.bodies import body_view
from harness.memory import MemoryTransport, answer
from harness.model import Suite
from harness.runner.engine import Runner
from harness.scenarios import SampleIndex, parse_scenario
from harness.validation.validator import detect_format, explain, validator_for
import toy_family.build

catalog = load_catalog(Path(sys.argv[1]))
fmt = catalog.format("toy-bin/1.0")
validator = validator_for(fmt)
schema = Path(sys.argv[2])
index = SampleIndex(frozenset(catalog.formats), frozenset())
problems = []


def scenario(steps):
    return parse_scenario(Path("toy.yaml"), {"id": "TOY-01", "title": "t", "level": "MUST", "steps": steps},
                          schema, index, None, problems.append)


good = scenario([
    {"id": "send", "request": {"method": "POST", "path": "/toy", "message": {"toy": {"octets": "7e01"}}},
     "expect": {"status": 202}},
    {"id": "twice", "toy_step": {"times": 2}},
])
bad = scenario([{"id": "send", "request": {"method": "POST", "path": "/toy", "message": {"toy": {"bytes": 1}}},
                 "expect": {"status": 202}}])
seen_bodies = []


async def sut(request):
    seen_bodies.append(request.body.hex())
    return answer(202, b"", reason="Accepted")


async def run(scenarios):
    runner = Runner(catalog, MemoryTransport(sut), "http://sut.invalid/", [])
    return await runner.run(Suite("toy", "1.0", "toy", "", tuple(s.raw for s in scenarios), ""))

finished = asyncio.run(run([good]))
too_many = scenario([{"id": "many", "toy_step": {"times": 9}}])
failed = asyncio.run(run([too_many]))
print(json.dumps({
    "families": sorted(FAMILIES.names()),
    "valid": [f.rule for f in validator.validate(b"\\x7e\\x01").findings],
    "invalid": [(f.location, f.rule) for f in validator.validate(b"\\x00").findings],
    "detected": getattr(detect_format(list(catalog.formats.values()), b"\\x7e\\x02"), "id", None),
    "explained": explain(fmt, b"\\x7e\\x01"),
    "kinds": [s.kind for s in good.steps],
    "problems": [p.key for p in problems],
    "verdict": str(finished.results[0].verdict),
    "bodies": seen_bodies,
    "ran": toy_family.build.RAN,
    "failed": str(failed.results[0].verdict),
    "view": body_view("application/x-toy", b"\\x7e\\x01\\x02"),
    "personal": [p.location for p in personal_fields("toy-bin/1.0")],
}))
"""


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def test_a_third_party_family_adds_a_syntax_a_message_block_a_step_kind_and_a_view(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _write(site / "toy_family" / "__init__.py", FAMILY)
    _write(site / "toy_family" / "codec.py", CODEC)
    _write(site / "toy_family" / "parts.py", PARTS)
    _write(site / "toy_family" / "build.py", BUILD)
    _write(site / "toy_family-1.0.dist-info" / "METADATA", "Metadata-Version: 2.1\nName: toy-family\nVersion: 1.0\n")
    _write(site / "toy_family-1.0.dist-info" / "entry_points.txt", "[harness.families]\ntoy = toy_family:FAMILY\n")
    fixtures = tmp_path / "fixtures"
    fmt = fixtures / "formats" / "toy-bin" / "1.0"
    _write(
        fmt / "format.yaml",
        "id: toy-bin/1.0\ntitle: toy\nsyntax: toy-bin\nmedia_types:\n  - application/x-toy\nschema: layout.txt\n",
    )
    _write(fmt / "layout.txt", "one octet 0x7E, then anything\n")
    (fmt / "samples" / "valid").mkdir(parents=True)
    (fmt / "samples" / "valid" / "toy.bin").write_bytes(b"\x7e\x01")
    _write(tmp_path / "probe.py", PROBE)

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, str(tmp_path / "probe.py"), str(fixtures), str(SCENARIO_SCHEMA)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert "toy" in seen["families"] and "esn" in seen["families"]
    assert seen["valid"] == []
    assert seen["invalid"] == [["/octet/0", "TOY-01"]]
    assert seen["detected"] == "toy-bin/1.0"
    assert seen["explained"] == ["octet 0: 0x7E", "octet 1: 0x01"]
    assert seen["kinds"] == ["exchange", "toy_step"]
    assert seen["problems"] == ["/steps/0/request/message/toy/bytes", "/steps/0/request/message/toy/octets"]
    assert seen["verdict"] == "passed"
    assert seen["bodies"] == ["7e01"]
    assert seen["ran"] == [2, 9]
    assert seen["failed"] == "failed"
    assert seen["view"]["decoded"] == "toy of 3 octets" and seen["view"]["kind"] == "binary"
    assert seen["personal"] == ["/octet/1"]


def test_the_scenario_schema_gets_the_esn_keys_from_the_family_not_the_file() -> None:
    on_disk = json.loads(SCENARIO_SCHEMA.read_bytes())
    assert "sds" not in on_disk["$defs"]["message"]["properties"]
    assert "sds_notification" not in on_disk["$defs"]["expect"]["properties"]
    composed = scenario_schema(SCENARIO_SCHEMA)
    assert "sds" in composed["$defs"]["message"]["properties"]
    assert {"required": ["sds"]} in composed["$defs"]["message"]["oneOf"]
    assert composed["$defs"]["expect"]["properties"]["sds_relayed"]["required"] == ["original"]
    assert scenario_parts("expect")["sds_notification"].reference == "answers"
    assert on_disk == json.loads(SCENARIO_SCHEMA.read_bytes())  # composing never edits the file's schema


def test_the_esn_family_declares_its_syntaxes_and_views() -> None:
    assert {"binary", "multipart"} <= syntax_names()
    view = body_view_of("application/vnd.3gpp.mcdata-signalling")
    assert view is not None and '"message": "SdsSignalling"' in view(bytes.fromhex("01006abd1130") + bytes(32))
    assert body_view_of("application/vnd.3gpp.mcdata-info+xml") is None
    catalog = load_catalog()
    assert catalog.format("mcdata-sds/1.0").syntax == "multipart"


def test_two_families_cannot_claim_one_syntax(monkeypatch: pytest.MonkeyPatch) -> None:
    rival = FormatFamily(name="rival", formats=(), syntaxes=(("binary", "rival.codec:SYNTAX"),))
    FAMILIES.names()  # the built-in families first
    monkeypatch.setitem(FAMILIES._members, "rival", rival)
    monkeypatch.setattr(FAMILIES, "_changes", FAMILIES._changes + 1000)
    with pytest.raises(RegistryError, match="syntaxes 'binary' is declared by both esn and rival"):
        syntax_names()


def test_two_families_cannot_claim_one_scenario_key(monkeypatch: pytest.MonkeyPatch) -> None:
    rival = FormatFamily(
        name="rival", formats=(), scenario_parts=(ScenarioPart("message", "sds", "rival.parts:SDS", "rival:build"),)
    )
    FAMILIES.names()
    monkeypatch.setitem(FAMILIES._members, "rival", rival)
    monkeypatch.setattr(FAMILIES, "_changes", FAMILIES._changes + 2000)
    with pytest.raises(RegistryError, match="'sds' is declared twice"):
        scenario_parts("message")


@pytest.mark.parametrize(
    ("reference", "why"),
    [("no_colon", "is not a"), ("harness.nowhere:x", "cannot be imported"), ("harness.model:Nope", "has no")],
)
def test_a_reference_that_does_not_resolve_is_one_line(reference: str, why: str) -> None:
    with pytest.raises(RegistryError, match=why):
        resolve(reference)
