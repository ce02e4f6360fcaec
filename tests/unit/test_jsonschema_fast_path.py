"""The discriminated-union fast path of ``SchemaValidator.is_valid`` gives the verdict of the whole compiled schema.

For every JSON format of the catalog, documents are generated from its samples
(and from ``tests.strategies.intel_reports``) by mutation: members removed,
added or replaced by other JSON values (non-objects in subject positions
included), required members dropped, the ``type`` of subjects changed to each
other value and to unknown ones; plus arbitrary JSON. Each verdict is compared
with the original schema compiled whole by fastjsonschema. Synthetic schemas
cover the shapes the catalog lacks (an ``if`` without ``required``, a member
that may take other values, unions in nested places, unions that cannot be
mapped and so get no fast path).
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.catalog import load_catalog
from harness.model import Format
from harness.validation.jsonschema import FORMATS, SchemaValidator
from tests.strategies import intel_reports

JSON_FORMATS: list[Format] = sorted(
    (fmt for fmt in load_catalog().formats.values() if fmt.syntax == "json"), key=lambda fmt: fmt.id
)
SETTINGS = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
UNKNOWN_TAGS: tuple[Any, ...] = ("", "Person", "vehicle", "other", None, 0, 1.5, True, [], {}, ["person"])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=8,
)


def _schema(fmt: Format) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(Path(fmt.schema_path).read_bytes())
    return schema


def _original(schema: dict[str, Any]) -> Callable[[Any], bool]:
    """The verdict of ``schema`` compiled whole, as ``SchemaValidator`` did before the fast path."""
    compiled = fastjsonschema.compile(schema, formats=FORMATS)

    def verdict(instance: Any) -> bool:
        try:
            compiled(copy.deepcopy(instance))
        except fastjsonschema.JsonSchemaValueException:
            return False
        return True

    return verdict


def _samples(fmt: Format) -> list[Any]:
    return [json.loads(Path(sample.path).read_bytes()) for sample in fmt.samples]


def _tags(schema: dict[str, Any]) -> list[Any]:
    """Every string ``const`` of the schema: the tags of its unions and other fixed values."""
    found: list[Any] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("const"), str):
                found.append(node["const"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(schema)
    return sorted(set(found))


def _containers(node: Any, into: list[Any]) -> list[Any]:
    if isinstance(node, (dict, list)):
        into.append(node)
        for value in node.values() if isinstance(node, dict) else node:
            _containers(value, into)
    return into


@st.composite
def mutated(draw: st.DrawFn, base: Any, tags: list[Any], pool: list[Any]) -> Any:
    """``base`` after up to five mutations, each at a container of the (already mutated) document."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(0, 5))):
        containers = _containers(doc, [])
        if not containers:
            break
        node = draw(st.sampled_from(containers))
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        op = draw(st.sampled_from(["remove", "replace", "add", "retag", "retag"]))
        if op == "remove" and keys:
            del node[draw(st.sampled_from(keys))]  # type: ignore[arg-type]
        elif op == "retag" and isinstance(node, dict):
            node["type"] = copy.deepcopy(draw(st.sampled_from(tags + list(UNKNOWN_TAGS))))
        elif op in ("replace", "add"):
            replacement = draw(st.sampled_from(tags + list(UNKNOWN_TAGS) + pool).map(copy.deepcopy) | json_values)
            if op == "replace" and keys:
                node[draw(st.sampled_from(keys))] = replacement  # type: ignore[index]
            elif isinstance(node, dict):
                node[draw(st.sampled_from(["type", "id", "extra", "description", "vrm", *keys]))] = replacement
            else:
                node.insert(draw(st.integers(0, len(node))), replacement)
    return doc


def documents(fmt: Format) -> st.SearchStrategy[Any]:
    """Arbitrary JSON, and the format's samples mutated."""
    bases = _samples(fmt)
    tags, pool = _tags(_schema(fmt)), [node for base in bases for node in _containers(base, [])]
    return json_values | st.sampled_from(bases).flatmap(lambda base: mutated(base, tags, pool))


@pytest.mark.parametrize("fmt", JSON_FORMATS, ids=lambda fmt: fmt.id)
def test_catalog_formats_agree_with_the_whole_schema(fmt: Format) -> None:
    schema = _schema(fmt)
    validator, original = SchemaValidator(schema), _original(schema)
    verdicts: list[bool] = []

    @settings(SETTINGS, max_examples=3000 if validator.uses_fast_path else 300)
    @given(documents(fmt))
    def agree(doc: Any) -> None:
        expected = original(doc)
        assert validator.is_valid(doc) == expected
        verdicts.append(expected)

    agree()
    # The mutations reach both verdicts, so agreement is not only on one side.
    assert True in verdicts and False in verdicts


def test_generated_intel_reports_agree() -> None:
    fmt = load_catalog().format("intel-report/1.0")
    schema = _schema(fmt)
    validator, original = SchemaValidator(schema), _original(schema)
    tags = _tags(schema)

    @settings(SETTINGS, max_examples=300)
    @given(intel_reports(max_subjects=4, max_links=2).flatmap(lambda report: mutated(report, tags, [report])))
    def agree(doc: Any) -> None:
        assert validator.is_valid(doc) == original(doc)

    agree()


def test_intel_report_takes_the_fast_path_and_keeps_its_errors() -> None:
    fmt = load_catalog().format("intel-report/1.0")
    validator = SchemaValidator(_schema(fmt))
    assert validator.uses_fast_path
    for sample, doc in zip(fmt.samples, _samples(fmt), strict=True):
        assert validator.is_valid(doc) == _original(_schema(fmt))(doc)
        assert (validator.errors(doc) == []) == validator.is_valid(doc), sample.path


def test_intel_report_subject_cases() -> None:
    schema = _schema(load_catalog().format("intel-report/1.0"))
    validator, original = SchemaValidator(schema), _original(schema)
    base = json.loads(Path(load_catalog().format("intel-report/1.0").directory, "samples/valid/full.json").read_bytes())
    assert validator.is_valid(base)
    subjects = base["subjects"]
    cases: list[Any] = []
    for index in range(len(subjects)):
        for tag in [*_tags(schema), *UNKNOWN_TAGS]:
            doc = copy.deepcopy(base)
            doc["subjects"][index]["type"] = tag
            cases.append(doc)
        for value in (None, 1, "person", [], [subjects[index]], {}):
            doc = copy.deepcopy(base)
            doc["subjects"][index] = value
            cases.append(doc)
        for member in list(subjects[index]):
            doc = copy.deepcopy(base)
            del doc["subjects"][index][member]
            cases.append(doc)
        doc = copy.deepcopy(base)
        doc["subjects"][index]["unexpected"] = 1
        cases.append(doc)
    for subjects_value in (None, {}, [], {"0": subjects[0]}, "subjects"):
        doc = copy.deepcopy(base)
        doc["subjects"] = subjects_value
        cases.append(doc)
    for doc in cases:
        assert validator.is_valid(doc) == original(doc), doc


# -- synthetic schemas: shapes the catalog lacks -----------------------------------------------------------

BRANCHES = {
    "a": {
        "type": "object",
        "required": ["kind", "x"],
        "properties": {"kind": {"const": "a"}, "x": {"type": "integer"}},
    },
    "b": {"required": ["y"], "properties": {"y": {"type": "string"}}, "additionalProperties": False},
}


def _union(guarded: bool, closed: bool) -> dict[str, Any]:
    condition: Callable[[str], dict[str, Any]] = lambda tag: {  # noqa: E731
        "properties": {"kind": {"const": tag}},
        **({"required": ["kind"]} if guarded else {}),
    }
    return {
        **({"properties": {"kind": {"enum": ["a", "b"]}}} if closed else {}),
        "allOf": [{"if": condition(tag), "then": {"$ref": f"#/$defs/{tag}"}} for tag in BRANCHES],
    }


def _synthetic(guarded: bool, closed: bool) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "one": {"$ref": "#/$defs/node"},
            "many": {"type": "array", "items": {"$ref": "#/$defs/node"}},
            "nested": {"properties": {"deeper": {"items": {"items": {"$ref": "#/$defs/wrapper"}}}}},
            "both": {"allOf": [{"$ref": "#/$defs/node"}, {"$ref": "#/$defs/wrapper"}]},
        },
        "$defs": {**BRANCHES, "node": _union(guarded, closed), "wrapper": {"$ref": "#/$defs/node"}},
    }


SYNTHETIC = [_synthetic(guarded, closed) for guarded in (False, True) for closed in (False, True)]
nodes = st.fixed_dictionaries(
    {},
    optional={
        "kind": st.sampled_from(["a", "b", "c", 1, None]),
        "x": st.sampled_from([1, "1"]),
        "y": st.sampled_from(["s", 2]),
        "z": st.just(0),
    },
) | st.sampled_from([None, 3, "a", [], [{"kind": "a"}]])
synthetic_documents = st.fixed_dictionaries(
    {},
    optional={
        "one": nodes,
        "many": st.lists(nodes, max_size=3) | nodes,
        "nested": st.fixed_dictionaries({}, optional={"deeper": st.lists(st.lists(nodes, max_size=2), max_size=2)}),
        "both": nodes,
    },
)


@pytest.mark.parametrize("schema", SYNTHETIC, ids=["open", "enum", "required", "required+enum"])
def test_synthetic_unions_agree(schema: dict[str, Any]) -> None:
    validator, original = SchemaValidator(schema), _original(schema)
    assert validator.uses_fast_path

    @settings(SETTINGS, max_examples=1000)
    @given(synthetic_documents | json_values)
    def agree(doc: Any) -> None:
        assert validator.is_valid(doc) == original(doc)

    agree()


@pytest.mark.parametrize(
    "place",
    [
        {"anyOf": [{"$ref": "#/$defs/node"}, {"type": "null"}]},
        {"oneOf": [{"$ref": "#/$defs/wrapper"}]},
        {"additionalProperties": {"$ref": "#/$defs/node"}},
        {"patternProperties": {"^n": {"$ref": "#/$defs/node"}}},
        {"items": [{"$ref": "#/$defs/node"}]},
        {"not": {"not": {"$ref": "#/$defs/node"}}},
        {"$ref": "#/$defs/node/allOf/0/then"},
        {"$ref": "#/$defs/loop"},
    ],
)
def test_unmappable_unions_keep_the_whole_schema(place: dict[str, Any]) -> None:
    schema = _synthetic(guarded=False, closed=True)
    schema["properties"]["odd"] = place
    schema["$defs"]["loop"] = {"properties": {"next": {"$ref": "#/$defs/loop"}, "here": {"$ref": "#/$defs/node"}}}
    validator = SchemaValidator(schema)
    assert not validator.uses_fast_path
    assert validator.is_valid({"one": {"kind": "a", "x": 1}})
    assert not validator.is_valid({"one": {"kind": "a", "x": "1"}})


def test_schemas_without_a_union_shape_keep_the_whole_schema() -> None:
    for union in (
        {"allOf": [{"if": {"properties": {"kind": {"const": "a"}}}, "then": {"$ref": "#/$defs/a"}, "else": {}}]},
        {"allOf": [{"if": {"properties": {"kind": {"const": "a"}, "x": {"const": 1}}}, "then": {"$ref": "#/$defs/a"}}]},
        {"allOf": [{"if": {"properties": {"kind": {"const": 1}}}, "then": {"$ref": "#/$defs/a"}}]},
        {"allOf": [{"if": {"properties": {"kind": {"const": "a"}}}, "then": {"required": ["x"]}}]},
        {
            "allOf": [
                {"if": {"properties": {"kind": {"const": "a"}}}, "then": {"$ref": "#/$defs/a"}},
                {"type": "object"},
            ]
        },
    ):
        schema = {"properties": {"one": {"$ref": "#/$defs/node"}}, "$defs": {**BRANCHES, "node": union}}
        assert not SchemaValidator(schema).uses_fast_path
    # Beside a $ref, fastjsonschema ignores the allOf: no union there.
    beside = {"$ref": "#/$defs/b", **_union(guarded=True, closed=False)}
    schema = {"properties": {"one": {"$ref": "#/$defs/node"}}, "$defs": {**BRANCHES, "node": beside}}
    validator, original = SchemaValidator(schema), _original(schema)
    assert not validator.uses_fast_path
    assert validator.is_valid({"one": {"kind": "a", "y": "s"}}) == original({"one": {"kind": "a", "y": "s"}})


def test_timing_of_full_intel_report() -> None:
    """Printed, not asserted: time per validation of full.json by the whole schema and by the fast path."""
    fmt = load_catalog().format("intel-report/1.0")
    schema = _schema(fmt)
    doc = json.loads(Path(fmt.directory, "samples/valid/full.json").read_bytes())
    whole, validator = fastjsonschema.compile(schema, formats=FORMATS), SchemaValidator(schema)
    rounds = 2000
    for name, check in (("whole", whole), ("is_valid", validator.is_valid)):
        start = time.perf_counter()
        for _ in range(rounds):
            check(doc)
        print(f"intel-report/1.0 full.json {name}: {(time.perf_counter() - start) / rounds * 1e6:.1f} µs")
