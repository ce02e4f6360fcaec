"""Scenario files, typed and checked when the catalog loads them, before any request is sent.

Two passes over each file: the JSON Schema of ``fixtures/schemas/scenario.schema.json`` (every error,
located), then what a schema cannot say: check names the harness knows, a step that checks nothing,
samples, formats and data sets that exist, ``same_as`` / capture references to steps that came before.
Each problem is one :class:`Problem` naming the file and the key (a JSON Pointer into the file).

This module imports only the model (the catalog's layer): the check names come in as a parameter.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema_rs

from harness.extensions import FAMILIES, scenario_parts
from harness.model import STEP_KINDS, CatalogError, Level, Scenario, Step
from harness.registry import RegistryError, resolve

__all__ = ["Problem", "SampleIndex", "parse_scenario", "scenario_schema", "schema_problems", "step_kind"]

_STEP_REFERENCES = {
    "content": "same_as",
    "cap_answer": "original",
}
"""Checks whose value names the step that sent a message (this step or an earlier one), and the member naming it;
a family's checks declare theirs in their ``ScenarioPart`` (``reference``)."""
_EXPRESSION = re.compile(r"\$\{([a-z]+)(?::([^}]*))?\}")


@dataclass(slots=True, frozen=True)
class Problem:
    """Why a file of the catalog is refused: the file, the key (JSON Pointer into it), one line."""

    file: str
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key or '/'}: {self.message}"


@dataclass(slots=True, frozen=True)
class SampleIndex:
    """What scenario files may name: format ids and their samples (``FORMAT/VERSION/valid|invalid/FILE``)."""

    formats: frozenset[str]
    samples: frozenset[str]


def _escape(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def _pointer(*tokens: str | int) -> str:
    return "".join("/" + _escape(token) for token in tokens)


def scenario_schema(schema_path: Path) -> dict[str, Any]:
    """The scenario schema of ``schema_path`` with every format family's keys added (``ScenarioPart``).

    ``message`` parts become keys of the closed ``message`` block (and one more of its ``oneOf``), ``step``
    parts keys of a step (a step may hold one instead of ``request``/``await``), ``expect`` parts the schema
    of their check's value. Each fragment is a JSON Schema that may refer to the file's ``$defs``.
    """
    try:
        schema: dict[str, Any] = json.loads(schema_path.read_bytes())
    except (OSError, ValueError) as exc:
        raise CatalogError(f"{schema_path}: cannot use the schema: {exc}".splitlines()[0]) from None
    defs = schema.get("$defs", {})
    try:  # each fragment copied: the composed schema is the caller's, the family's module data stays as it is
        for key, part in sorted(scenario_parts("message").items()):
            defs["message"]["properties"][key] = copy.deepcopy(resolve(part.schema))
            defs["message"]["oneOf"].append({"required": [key]})
        for key, part in sorted(scenario_parts("step").items()):
            defs["step"]["properties"][key] = copy.deepcopy(resolve(part.schema))
            for condition in defs["step"].get("allOf", ()):
                if "anyOf" in condition:
                    condition["anyOf"].append({"required": [key]})
        for key, part in sorted(scenario_parts("expect").items()):
            defs["expect"]["properties"][key] = copy.deepcopy(resolve(part.schema))
    except (KeyError, TypeError) as exc:
        raise CatalogError(f"{schema_path}: no place for a family's scenario keys ({exc})") from None
    except RegistryError as exc:
        raise CatalogError(f"{schema_path}: a family's scenario schema: {exc}") from None
    return schema


@functools.lru_cache(maxsize=8)
def _compiled(schema_path: Path, families: int | None) -> Any:
    try:
        if families is None:
            return jsonschema_rs.validator_for(json.loads(schema_path.read_bytes()))
        return jsonschema_rs.validator_for(scenario_schema(schema_path))
    except (OSError, ValueError) as exc:
        raise CatalogError(f"{schema_path}: cannot use the schema: {exc}".splitlines()[0]) from None


def _validator(schema_path: Path, scenario: bool) -> Any:
    # a scenario schema is recompiled when a family is added (tests, entry points)
    return _compiled(schema_path, FAMILIES.changes if scenario else None)


def schema_problems(schema_path: Path, document: Any, file: str, *, scenario: bool = False) -> list[Problem]:
    """Every error of ``document`` against the schema, located; an unexpected key is named in the key.

    ``scenario``: the schema is the scenario schema, to which the format families' keys are added.
    """
    problems: list[Problem] = []
    for error in _validator(schema_path, scenario).iter_errors(document):
        base = _pointer(*error.instance_path)
        details = error.kind.as_dict()
        if error.kind.name == "additionalProperties" and details.get("unexpected"):
            for key in details["unexpected"]:
                problems.append(Problem(file, base + _pointer(key), f"unknown key {key!r}"))
        elif error.kind.name == "required":
            problems.append(Problem(file, base + _pointer(details["property"]), "required key is missing"))
        else:
            problems.append(Problem(file, base, error.message))
    return problems


def step_kind(raw: Mapping[str, Any]) -> str:
    """What a step mapping is: ``trigger``, ``repeat``, ``await`` (with no request), ``exchange``, or a format
    family's step kind (the key of its ``step`` ``ScenarioPart`` that the step holds)."""
    if len(raw) > 1 or "request" not in raw:
        family_kinds = scenario_parts("step")
        if family_kinds:
            own = next((key for key in raw if key in family_kinds), None)
            if own is not None:
                return own
    if "trigger" in raw:
        return "trigger"
    if "repeat" in raw:
        return "repeat"
    if "await" in raw and "request" not in raw:
        return "await"
    return "exchange"


def _checks_something(kind: str, raw: Mapping[str, Any]) -> bool:
    if raw.get("expect"):
        return True
    if kind not in STEP_KINDS:
        part = scenario_parts("step").get(kind)
        return part is not None and part.checks_itself
    if kind == "repeat":
        return bool(raw.get("timing"))
    if kind == "await":
        wait = raw.get("await")
        return isinstance(wait, dict) and bool(wait.get("expect_none"))
    return False


def _expressions(value: Any) -> Iterator[tuple[str, str]]:
    """Every ``${kind:name}`` in ``value`` (strings, recursively)."""
    if isinstance(value, str):
        for match in _EXPRESSION.finditer(value):
            yield match[1], match[2] or ""
    elif isinstance(value, list):
        for item in value:
            yield from _expressions(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _expressions(item)


def _family_reference(check: str) -> str | None:
    part = scenario_parts("expect").get(check)
    return part.reference if part is not None and part.reference else None


class _StepChecker:
    """The cross-step checks of one scenario, fed its steps in order."""

    def __init__(self, file: str, index: SampleIndex, check_names: Set[str] | None) -> None:
        self.file = file
        self.index = index
        self.check_names = check_names
        self.problems: list[Problem] = []
        self.steps: set[str] = set()
        self.senders: set[str] = set()
        self.kept: set[str] = set()

    def problem(self, key: str, message: str) -> None:
        self.problems.append(Problem(self.file, key, message))

    def sample(self, key: str, reference: Any) -> None:
        if isinstance(reference, str) and reference not in self.index.samples:
            fmt = "/".join(reference.split("/")[:2])
            if fmt not in self.index.formats:
                self.problem(key, f"unknown format {fmt!r} in sample {reference!r}")
            else:
                self.problem(key, f"no sample {reference!r} in the catalog")

    def format(self, key: str, format_id: Any) -> None:
        if isinstance(format_id, str) and format_id not in self.index.formats:
            self.problem(key, f"unknown format {format_id!r}")

    def earlier(self, key: str, name: Any, pool: set[str], what: str) -> None:
        if isinstance(name, str) and name not in pool:
            self.problem(key, f"{what} {name!r}: no earlier step of this scenario")

    def message(self, key: str, spec: Any, step: str) -> None:
        if not isinstance(spec, dict):
            return
        if "sample" in spec:
            self.sample(key + "/sample", spec["sample"])
        if "same_as" in spec:
            self.earlier(key + "/same_as", spec["same_as"], self.senders, "the message sent by step")
        if "as" in spec:
            self.format(key + "/as", spec["as"])
        for name, part in scenario_parts("message").items():
            block = spec.get(name)
            for member in part.samples if isinstance(block, dict) else ():
                value = block.get(member)  # type: ignore[union-attr]
                if isinstance(value, str):
                    self.sample(key + _pointer(name, member), value)
                else:
                    self.message(key + _pointer(name, member), value, step)
        for position, part in enumerate(spec.get("multipart") or ()):
            self.message(f"{key}/multipart/{position}", part, step)

    def expect(self, key: str, expect: Mapping[str, Any], name: str) -> None:
        for check, value in expect.items():
            where = key + _pointer(check)
            if self.check_names is not None and check not in self.check_names:
                known = ", ".join(sorted(self.check_names))
                self.problem(where, f"unknown check {check!r} (known: {known})")
                continue
            if not isinstance(value, dict):
                if check == "format":
                    self.format(where, value)
                continue
            member = _STEP_REFERENCES.get(check) or _family_reference(check)
            if member is not None and member in value:
                self.earlier(where + _pointer(member), value[member], self.senders, "the message sent by step")
            if check == "body" and "same_as" in value:
                self.earlier(where + "/same_as", value["same_as"], self.kept, "a body kept as")

    def step(self, position: int, raw: dict[str, Any]) -> Step:
        key = _pointer("steps", position)
        name = str(raw.get("id", f"step-{position + 1}"))
        kind = step_kind(raw)
        if name in self.steps:
            self.problem(key + "/id", f"duplicate step id {name!r}")
        for expression, variable in _expressions({k: v for k, v in raw.items() if k != "capture"}):
            if expression == "capture" and variable not in self.kept:
                self.problem(key, f"${{capture:{variable}}}: nothing captured as {variable!r} by an earlier step")
        request = raw.get("request")
        if isinstance(request, dict) and "message" in request:
            self.message(key + "/request/message", request["message"], name)
            self.senders.add(name)
        expect = raw.get("expect")
        if isinstance(expect, dict):
            self.expect(key + "/expect", expect, name)
        if not _checks_something(kind, raw):
            wanted = "'expect' or 'timing'" if kind == "repeat" else "'expect'"
            if kind == "await":
                wanted = "'expect' or 'await: {expect_none: true}'"
            self.problem(key, f"the {kind} step {name!r} checks nothing: it needs {wanted}")
        self.steps.add(name)
        if isinstance(raw.get("capture"), dict):
            self.kept.update(str(variable) for variable in raw["capture"])
        if isinstance(expect, dict) and isinstance(expect.get("body"), dict) and "keep_as" in expect["body"]:
            self.kept.add(str(expect["body"]["keep_as"]))
        checks = tuple(str(check) for check in expect) if isinstance(expect, dict) else ()
        return Step(name=name, kind=kind, checks=checks, pointer=key, raw=raw)


def parse_scenario(
    path: Path,
    document: Any,
    schema_path: Path,
    index: SampleIndex,
    check_names: Set[str] | None,
    problem: Callable[[Problem], None],
) -> Scenario | None:
    """The typed scenario of ``document`` (read from ``path``), or None when it has problems (each reported)."""
    file = str(path)
    found = schema_problems(schema_path, document, file, scenario=True)
    if not isinstance(document, dict):
        for each in found or [Problem(file, "", "a scenario file is a mapping")]:
            problem(each)
        return None
    checker = _StepChecker(file, index, check_names)
    raw_steps = document.get("steps")
    steps = [
        checker.step(position, raw)
        for position, raw in enumerate(raw_steps if isinstance(raw_steps, list) else ())
        if isinstance(raw, dict)
    ]
    found += checker.problems
    for each in found:
        problem(each)
    if found:
        return None
    raw = {**document, "_file": file}
    return Scenario(
        id=str(document["id"]),
        title=str(document["title"]),
        level=Level(document["level"]),
        file=file,
        steps=tuple(steps),
        serial=bool(document.get("serial", False)),
        spec=str(document.get("spec", "")),
        raw=raw,
    )
