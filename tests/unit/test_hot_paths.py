"""The per-exchange shortcuts give the answers of the plain code they stand in for.

Load mode and replay judge every exchange, so three hot spots take a shortcut:
the compiled schemas name array items with f-strings instead of ``locals()``,
a plain Location (an absolute path or URL) is compared without ``urljoin``, and
the rules in force are looked up once per rule set and version (the families'
rule modules once per change of the family registry). Each is held here to the
code it replaces.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urljoin, urlsplit

import fastjsonschema
import pytest

from harness.catalog import load_catalog
from harness.extensions import FAMILIES
from harness.families import rules as rules_module
from harness.model import Severity
from harness.runner.checks import _names_path
from harness.validation.jsonschema import FORMATS, compile_schema

JSON_FORMATS = sorted((f for f in load_catalog().formats.values() if f.syntax == "json"), key=lambda f: f.id)


def _mutations(document: Any) -> Iterator[Any]:
    """The document with each leaf of each array item replaced by a value of another type, one at a time."""

    def leaves(node: Any, path: tuple[Any, ...], in_array: bool) -> Iterator[tuple[Any, ...]]:
        if isinstance(node, dict):
            for key, value in node.items():
                yield from leaves(value, (*path, key), in_array)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield from leaves(value, (*path, index), True)
        elif in_array:
            yield path

    for path in itertools.islice(leaves(document, (), False), 60):
        changed = copy.deepcopy(document)
        node = changed
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = {"not": "a leaf"} if isinstance(node[path[-1]], str) else "not a number"
        yield changed


@pytest.mark.parametrize("fmt", JSON_FORMATS, ids=lambda f: f.id)
def test_rewritten_schema_raises_what_fastjsonschema_raises(fmt: Any) -> None:
    schema = json.loads(Path(fmt.schema_path).read_bytes())
    ours, theirs = compile_schema(schema), fastjsonschema.compile(schema, formats=FORMATS)
    compared = 0
    for sample in fmt.samples:
        path = Path(sample.path) if Path(sample.path).is_absolute() else Path(fmt.directory, sample.path)
        try:
            document = json.loads(path.read_bytes())
        except ValueError:
            continue
        for instance in [document, *_mutations(document)]:
            outcomes = []
            for function in (ours, theirs):
                try:
                    function(instance)
                    outcomes.append(None)
                except fastjsonschema.JsonSchemaValueException as exc:
                    outcomes.append((exc.message, exc.name, exc.rule))
            assert outcomes[0] == outcomes[1], (sample.path, instance)
            compared += 1
    assert compared


def test_an_item_error_names_the_item_by_index() -> None:
    validate = compile_schema({"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}}})
    with pytest.raises(fastjsonschema.JsonSchemaValueException) as raised:
        validate([{"a": "x"}, {"a": 1}])
    assert raised.value.name == "data[1].a"


def _plain(reference: str, base: str, target: str, path: str) -> bool:
    resolved = urlsplit(urljoin(base, reference))
    return resolved.path == path and (not resolved.netloc or resolved.netloc == urlsplit(target).netloc)


def test_location_shortcut_agrees_with_urljoin() -> None:
    references = ["/a/b", "/a/b?x=1", "/a/./b", "/a/../a/b", "//evil/a/b", "http://127.0.0.1:8/a/b", "http://o/a/b"]
    references += ["a/b", "", "/a/b#f", "/a/b/", "/a//b", "/a/b/.", "/a/b/..", "/a/.b", "/a/..b", "/%2e%2e/a/b"]
    references += ["https://127.0.0.1:8/a/b", "http://127.0.0.1:8/a/./b", "http://127.0.0.1:8/a/b?q=1#f", "http:///a/b"]
    references += [
        "HTTP://127.0.0.1:8/a/b",
        "http://127.0.0.1:8",
        "http://127.0.0.1:8/x/../a/b",
        "http://u@127.0.0.1:8/a/b",
    ]
    bases = ["http://127.0.0.1:8/x/y", "http://127.0.0.1:8", "", "http://127.0.0.1:9/z", "https://127.0.0.1:8/x"]
    targets = ["http://127.0.0.1:8", "http://127.0.0.1:8/base"]
    paths = ["/a/b", "/a/b/", "/x/a/b", "/a/.b", "/a//b"]
    for case in itertools.product(references, bases, targets, paths):
        assert _names_path(*case) == _plain(*case), case


def test_a_rule_added_later_is_in_force(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(rules_module.RULE_SETS, "hot-path-test", [])
    assert rules_module.rules_in_force("hot-path-test", "1.0") == []

    @rules_module.rule("hot-path-test", "HP-01", "always")
    def always(document: Any) -> Iterator[Any]:
        yield (), "found"

    in_force = rules_module.rules_in_force("hot-path-test", "1.0")
    assert [(item.id, severity) for item, severity in in_force] == [("HP-01", Severity.ERROR)]


def test_a_family_registered_later_has_its_rules_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule modules are imported once per change of the family registry, not walked per message."""
    assert rules_module.rules_in_force("intel-report", "1.0")  # the registry as it is, walked once
    monkeypatch.setattr(FAMILIES, "_members", dict(FAMILIES._members))
    FAMILIES.add("hot-path-family", SimpleNamespace(rule_modules=("tests.unit._hot_path_rules",)))
    in_force = rules_module.rules_in_force("hot-path-family", "1.0")
    assert [item.id for item, _ in in_force] == ["HF-01"]
