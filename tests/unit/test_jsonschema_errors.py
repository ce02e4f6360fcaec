"""The hand walker's error list, cross-checked against a well-kept library (jsonschema-rs) on the invalid path.

docs/measurements.md (item 10 of issue 10) says why the walker stays; these tests keep the two honest:
same verdicts and the same located errors on every invalid sample of the catalog.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from harness.catalog import load_catalog
from harness.model import Format
from harness.validation.jsonschema import FORMATS, SchemaValidator
from harness.validation.validator import json_pointer

JSON_FORMATS = sorted((f for f in load_catalog().formats.values() if f.syntax == "json"), key=lambda f: f.id)


def _library_locations(validator: Any, document: Any) -> set[str]:
    found: set[str] = set()
    for error in validator.iter_errors(document):
        base = json_pointer(tuple(error.instance_path))
        if error.kind.name == "additionalProperties":
            found |= {base + "/" + str(name).replace("~", "~0").replace("/", "~1") for name in error.kind.unexpected}
        else:
            found.add(base)
    return found


@pytest.mark.parametrize("fmt", JSON_FORMATS, ids=lambda fmt: fmt.id)
def test_invalid_samples_are_located_as_the_library_locates_them(fmt: Format) -> None:
    schema = json.loads(Path(fmt.schema_path).read_bytes())
    ours = SchemaValidator(schema)
    library = jsonschema_rs.validator_for(schema, validate_formats=True, formats=FORMATS)
    compared = 0
    for sample in fmt.samples:
        document = json.loads(Path(sample.path).read_bytes())
        assert ours.is_valid(document) == library.is_valid(document), sample.path
        if sample.valid or ours.is_valid(document):
            continue
        compared += 1
        assert {json_pointer(path) for path, _ in ours.errors(document)} == _library_locations(library, document), (
            sample.path
        )
    assert compared or not fmt.invalid_samples or fmt.rule_set


def test_unique_items_is_reported_even_when_items_fail_too() -> None:
    validator = SchemaValidator({"type": "array", "uniqueItems": True, "items": {"enum": ["a", "b"]}})
    assert validator.errors(["z", "z"]) == [
        ((), "items must be unique"),
        ((0,), "value must be one of ['a', 'b']"),
        ((1,), "value must be one of ['a', 'b']"),
    ]
    assert validator.errors(["a", "a"]) == [((), "items must be unique")]
    assert validator.errors(["a", "b"]) == []
