"""The recipes of docs/architecture.md, done once each from a third party's side, to count the files they touch.

A new format family is one fixtures folder plus one family package (and its
entry point); nothing of the harness is edited. The third party's package is
written to a temporary folder with a ``.dist-info`` holding its entry points,
exactly what ``pip install`` leaves, and a fresh interpreter runs against it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FAMILY_PACKAGE = '''
"""A toy format family: one rule beyond the schema and one check."""

from __future__ import annotations

from harness.extensions import FormatFamily

FAMILY = FormatFamily(
    name="toy",
    formats=("toy/1.0",),
    rule_modules=("toy_family.rules",),
    check_modules=("toy_family.checks",),
)
'''

RULES = """
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from harness.families.rules import RuleViolation, rule


@rule("toy", "TOY-01", "a greeting is polite")
def polite(document: Any) -> Iterator[RuleViolation]:
    if document.get("greeting") == "oi":
        yield ("greeting",), "a greeting is polite"
"""

CHECKS = """
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from harness.runner.checks import CheckContext, Mismatch, check, json_object


@check("toy_greeting")
def toy_greeting(expected: Any, ctx: CheckContext) -> Iterator[Mismatch]:
    document, errors = json_object(ctx, "a toy")
    if document is None:
        yield from errors
    elif document.get("greeting") != expected:
        yield Mismatch("body /greeting", expected, document.get("greeting"), "another greeting")
"""

PROBE = """
import json
from pathlib import Path
import sys

from harness.catalog import load_catalog
from harness.extensions import FAMILIES, check_names
from harness.validation.validator import validator_for

catalog = load_catalog(Path(sys.argv[1]))
validator = validator_for(catalog.format("toy/1.0"))
print(json.dumps({
    "families": sorted(FAMILIES.names()),
    "checks": sorted(check_names()),
    "polite": [f.rule for f in validator.validate(b'{"greeting": "hello"}').findings],
    "rude": [f.rule for f in validator.validate(b'{"greeting": "oi"}').findings],
}))
"""


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def test_a_new_format_family_is_one_fixtures_folder_plus_one_package(tmp_path: Path) -> None:
    site = tmp_path / "site"
    # the third party's package (one family package) and what pip leaves for its entry point
    _write(site / "toy_family" / "__init__.py", FAMILY_PACKAGE)
    _write(site / "toy_family" / "rules.py", RULES)
    _write(site / "toy_family" / "checks.py", CHECKS)
    _write(site / "toy_family-1.0.dist-info" / "METADATA", "Metadata-Version: 2.1\nName: toy-family\nVersion: 1.0\n")
    _write(site / "toy_family-1.0.dist-info" / "entry_points.txt", "[harness.families]\ntoy = toy_family:FAMILY\n")
    # one fixtures folder: the format's manifest, schema and a sample
    fixtures = tmp_path / "fixtures"
    fmt = fixtures / "formats" / "toy" / "1.0"
    _write(
        fmt / "format.yaml",
        "id: toy/1.0\ntitle: toy\nsyntax: json\nmedia_types:\n  - application/json\nschema: schema.json\nrules: toy\n",
    )
    schema = {"type": "object", "required": ["greeting"], "properties": {"greeting": {"type": "string"}}}
    _write(fmt / "schema.json", json.dumps(schema))
    _write(fmt / "samples" / "valid" / "hello.json", '{"greeting": "hello"}')
    _write(tmp_path / "probe.py", PROBE)

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, str(tmp_path / "probe.py"), str(fixtures)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert "toy" in seen["families"] and "cap" in seen["families"]
    assert "toy_greeting" in seen["checks"] and "status" in seen["checks"] and "cap_answer" in seen["checks"]
    assert seen["polite"] == []
    assert seen["rude"] == ["TOY-01"]
