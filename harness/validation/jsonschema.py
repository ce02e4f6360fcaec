"""JSON Schema validation that is fast when a message is valid and complete when it is not.

fastjsonschema compiles each schema once and stops at the first error. A valid
message costs one call of the compiled function. An invalid one is walked
again, member by member, with sub-schemas compiled on demand (and cached), so
that every error is reported, each with its own location.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import fastjsonschema

__all__ = ["Path", "SchemaError", "SchemaValidator", "is_date", "is_date_time"]

Path = tuple[str | int, ...]
SchemaError = tuple[Path, str]

# ASCII digits only, and \Z: "$" would let a trailing newline through.
_DATE_TIME = re.compile(
    r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?([Zz]|[+-]([0-9]{2}):([0-9]{2}))\Z"
)
_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})\Z")


def _real_day(match: re.Match[str] | None) -> bool:
    """The year, month and day of ``match`` (groups 1-3) name a day of the calendar."""
    if not match:
        return False
    try:
        dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return False
    return True


def is_date(value: str) -> bool:
    """RFC 3339 full-date with a real calendar day."""
    return _real_day(_DATE.match(value))


def is_date_time(value: str) -> bool:
    """RFC 3339 date-time with an explicit offset (``Z`` or ``±hh:mm``) and real values."""
    match = _DATE_TIME.match(value)
    if not _real_day(match):
        return False
    assert match is not None
    hour, minute, second = int(match[4]), int(match[5]), int(match[6])
    if hour > 23 or minute > 59 or second > 60:
        return False
    if match[9] is not None and (int(match[9]) > 23 or int(match[10]) > 59):
        return False
    return True


FORMATS: dict[str, Callable[[str], bool]] = {"date-time": is_date_time, "date": is_date}
Compiled = Callable[[Any], Any]


def _decode_pointer_token(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


class SchemaValidator:
    """One JSON Schema, compiled once; ``errors(instance)`` lists every violation."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self._root = schema
        self._defs: dict[str, Any] = {key: schema[key] for key in ("$defs", "definitions") if key in schema}
        self._compiled: dict[str, Compiled] = {}
        self._whole = self._compile("")

    def is_valid(self, instance: Any) -> bool:
        try:
            self._whole(instance)
        except fastjsonschema.JsonSchemaValueException:
            return False
        return True

    def errors(self, instance: Any) -> list[SchemaError]:
        if self.is_valid(instance):
            return []
        found: list[SchemaError] = []
        self._collect("", instance, (), found)
        # A discriminated branch repeats keywords of its parent (``required``): report each error once.
        return list(dict.fromkeys(found))

    # -- internals ---------------------------------------------------------

    def _node(self, pointer: str) -> dict[str, Any]:
        node: Any = self._root
        for token in filter(None, pointer.split("/")):
            node = node[int(token)] if isinstance(node, list) else node[_decode_pointer_token(token)]
        if not isinstance(node, dict):
            raise TypeError(f"schema node {pointer!r} is not an object")
        return node

    def _compile(self, pointer: str) -> Compiled:
        compiled = self._compiled.get(pointer)
        if compiled is None:
            node = self._node(pointer)
            standalone = node if pointer == "" else {**self._defs, **node}
            compiled = fastjsonschema.compile(standalone, formats=FORMATS)
            self._compiled[pointer] = compiled
        return compiled

    def _resolve(self, pointer: str) -> str:
        node = self._node(pointer)
        while "$ref" in node and len(node) == 1:
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#"):
                break
            pointer = ref[1:]
            node = self._node(pointer)
        return pointer

    def _collect(self, pointer: str, instance: Any, path: Path, found: list[SchemaError]) -> None:
        pointer = self._resolve(pointer)
        try:
            self._compile(pointer)(instance)
            return
        except fastjsonschema.JsonSchemaValueException as exc:
            first = exc
        before = len(found)
        node = self._node(pointer)
        if isinstance(instance, dict) and ("properties" in node or "propertyNames" in node):
            self._collect_object(pointer, node, instance, path, found)
        elif isinstance(instance, list) and "items" in node:
            self._collect_array(pointer, node, instance, path, found)
        if len(found) == before:
            found.append(self._leaf(first, instance, path))

    def _collect_object(
        self, pointer: str, node: dict[str, Any], instance: dict[str, Any], path: Path, found: list[SchemaError]
    ) -> None:
        properties: dict[str, Any] = node.get("properties", {})
        for name in node.get("required", ()):
            if name not in instance:
                found.append((path, f"required member {name!r} is missing"))
        if node.get("additionalProperties") is False and "properties" in node:
            for name in instance:
                if name not in properties:
                    found.append((path + (name,), f"member {name!r} is not allowed here"))
        if isinstance(node.get("propertyNames"), dict):
            name_check = self._compile(f"{pointer}/propertyNames")
            for name in instance:
                try:
                    name_check(name)
                except fastjsonschema.JsonSchemaValueException as exc:
                    found.append((path + (name,), f"member name {name!r}: {self._leaf(exc, name, ())[1]}"))
        for name, value in instance.items():
            if name in properties:
                self._collect(f"{pointer}/properties/{name}", value, path + (name,), found)
        branch = self._discriminated_branch(pointer, node, instance)
        if branch is not None:
            self._collect(branch, instance, path, found)

    def _discriminated_branch(self, pointer: str, node: dict[str, Any], instance: dict[str, Any]) -> str | None:
        """The sub-schema that applies when branches are told apart by a ``const`` member.

        Two shapes are understood: ``oneOf`` branches that each fix the member, and
        ``allOf`` of ``if`` (the member's const) / ``then`` (the branch).
        """
        for index, _ in enumerate(node.get("oneOf", ())):
            branch = self._resolve(f"{pointer}/oneOf/{index}")
            if self._consts_match(self._node(branch), instance):
                return branch
        for index, item in enumerate(node.get("allOf", ())):
            if isinstance(item, dict) and "if" in item and "then" in item and self._consts_match(item["if"], instance):
                return self._resolve(f"{pointer}/allOf/{index}/then")
        return None

    @staticmethod
    def _consts_match(node: dict[str, Any], instance: dict[str, Any]) -> bool:
        consts = {
            member: schema["const"]
            for member, schema in node.get("properties", {}).items()
            if isinstance(schema, dict) and "const" in schema
        }
        return bool(consts) and all(instance.get(member) == value for member, value in consts.items())

    def _collect_array(
        self, pointer: str, node: dict[str, Any], instance: list[Any], path: Path, found: list[SchemaError]
    ) -> None:
        if "minItems" in node and len(instance) < node["minItems"]:
            found.append((path, f"at least {node['minItems']} items are required, found {len(instance)}"))
        if "maxItems" in node and len(instance) > node["maxItems"]:
            found.append((path, f"at most {node['maxItems']} items are allowed, found {len(instance)}"))
        for index, item in enumerate(instance):
            self._collect(f"{pointer}/items", item, path + (index,), found)

    @staticmethod
    def _leaf(exc: fastjsonschema.JsonSchemaValueException, instance: Any, path: Path) -> SchemaError:
        relative: list[str | int] = []
        value = instance
        for token in (exc.path or ["data"])[1:]:
            if isinstance(value, list) and token.isdigit():
                relative.append(int(token))
                value = value[int(token)] if int(token) < len(value) else None
            else:
                relative.append(token)
                value = value.get(token) if isinstance(value, dict) else None
        message = exc.message
        if exc.name and message.startswith(exc.name):
            message = "value" + message[len(exc.name) :]
        return (path + tuple(relative), message)
