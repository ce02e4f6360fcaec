"""JSON Schema validation that is fast when a message is valid and complete when it is not.

fastjsonschema compiles each schema once and stops at the first error. A valid
message costs one call of the compiled function. An invalid one is walked
again, member by member, with sub-schemas compiled on demand (and cached), so
that every error is reported, each with its own location.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import fastjsonschema

__all__ = ["FORMATS", "Path", "SchemaError", "SchemaValidator", "is_date", "is_date_time"]

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


@functools.lru_cache(maxsize=4096)
def is_date(value: str) -> bool:
    """RFC 3339 full-date with a real calendar day."""
    return _real_day(_DATE.match(value))


@functools.lru_cache(maxsize=4096)  # a pure function of a string: messages under load repeat most of their dates
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

_ROOT_FUNCTION = re.compile(r"^def (\w+)\(data, custom_formats=\{\}, name_prefix=None\):", re.MULTILINE)
_NAME_BY_LOCALS = re.compile(r'"((?:[^"{}\\]|\{[A-Za-z_][A-Za-z0-9_]*\})*)"\.format\(\*\*locals\(\)\)')


def compile_schema(definition: dict[str, Any] | bool) -> Compiled:
    """``fastjsonschema.compile(definition, formats=FORMATS)``, the same code with one change: the name of each
    array item passed down (used only in an error's text) is an f-string, not ``"...".format(**locals())``,
    which cost a ``locals()`` dictionary per item of every valid message (about a fifth of a report's
    validation). Only names made of plain text and variables are rewritten, so the text is the same."""
    code = fastjsonschema.compile_to_code(definition, formats=FORMATS)
    root = _ROOT_FUNCTION.search(code)
    if root is None:  # not the code this rewrite knows: compile as fastjsonschema does
        return cast(Compiled, fastjsonschema.compile(definition, formats=FORMATS))
    namespace: dict[str, Any] = {}
    exec(_NAME_BY_LOCALS.sub(lambda match: 'f"' + match[1] + '"', code), namespace)  # noqa: S102
    return cast(Compiled, functools.partial(namespace[root[1]], custom_formats=FORMATS))


_UNIQUE_ITEMS: Compiled = fastjsonschema.compile({"uniqueItems": True})
"""``uniqueItems`` alone, as the compiled schema judges it: checked even when items fail themselves."""


def _decode_pointer_token(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _pointer_tokens(ref: str) -> tuple[str, ...]:
    return tuple(_decode_pointer_token(token) for token in ref[1:].split("/")[1:])


# -- discriminated unions ------------------------------------------------------
#
# fastjsonschema evaluates each ``if`` of an ``allOf`` inside try/except, so a
# union of N branches told apart by a ``const`` member costs N raised exceptions
# per valid instance. The fast path validates the schema without those ``allOf``
# entries, then runs the one ``then`` branch that applies at every place the
# union is referenced. It is built only where that is provably the same verdict.

Site = tuple[str | int, ...]
"""Where a union applies in an instance: member names, and ``0`` for "each item of an array"."""

_DATA_KEYWORDS = frozenset({"const", "enum", "examples", "required", "type"})
_SCOPE_KEYWORDS = frozenset({"$id", "id", "$anchor", "$dynamicRef", "$dynamicAnchor", "$recursiveRef"})
_LOCAL_REF = re.compile(r"^#/(\$defs|definitions)/")
_WALK_BUDGET = 20_000


class _Unmappable(Exception):
    """The schema uses a union somewhere its instance locations cannot be told: no fast path."""


@dataclass(slots=True, frozen=True, eq=False)
class _Union:
    """An ``allOf`` of ``if: {properties: {member: {const: tag}}}`` / ``then: {$ref}`` entries."""

    member: str
    branches: dict[str, Compiled]
    unguarded: tuple[Compiled, ...]
    """Branches whose ``if`` does not require the member: they apply to objects without it."""
    every: tuple[Compiled, ...]
    """All branches: an ``if`` on ``properties``/``required`` holds for any non-object."""

    def branches_for(self, value: Any) -> tuple[Compiled, ...]:
        if not isinstance(value, dict):
            return self.every
        if self.member not in value:
            return self.unguarded
        tag = value[self.member]
        branch = self.branches.get(tag) if isinstance(tag, str) else None
        return () if branch is None else (branch,)


@dataclass(slots=True, frozen=True)
class _FastPath:
    stripped: Compiled
    sites: tuple[tuple[_Union, Site], ...]

    def check(self, instance: Any) -> None:
        """Raise as the whole compiled schema would (same verdict, maybe another first error)."""
        self.stripped(instance)
        for union, site in self.sites:
            for value in _values_at(instance, site):
                for branch in union.branches_for(value):
                    branch(value)


def _values_at(instance: Any, site: Site) -> list[Any]:
    """The values at ``site`` in ``instance``, in document order (a level at a time: no generator per level)."""
    values = [instance]
    for step in site:
        found: list[Any] = []
        if isinstance(step, str):
            for value in values:
                if isinstance(value, dict) and step in value:
                    found.append(value[step])
        else:
            for value in values:
                if isinstance(value, list):
                    found.extend(value)
        if not found:
            return found
        values = found
    return values


def _union_shape(node: Any) -> tuple[str, dict[str, str], tuple[str, ...]] | None:
    """``(member, {tag: branch pointer}, unguarded pointers)`` if ``node``'s ``allOf`` is a discriminated union."""
    entries = node.get("allOf") if isinstance(node, dict) and "$ref" not in node else None
    if not isinstance(entries, list) or not entries:  # fastjsonschema ignores the siblings of a $ref
        return None
    members: set[str] = set()
    branches: dict[str, str] = {}
    unguarded: list[str] = []
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) != {"if", "then"}:
            return None
        condition, then = entry["if"], entry["then"]
        if not isinstance(condition, dict) or not set(condition) <= {"properties", "required"}:
            return None
        if not isinstance(then, dict) or set(then) != {"$ref"} or not isinstance(then["$ref"], str):
            return None
        properties = condition.get("properties")
        if not isinstance(properties, dict) or len(properties) != 1:
            return None
        ((member, test),) = properties.items()
        if not isinstance(test, dict) or set(test) != {"const"} or not isinstance(test["const"], str):
            return None
        if "required" in condition and condition["required"] != [member]:
            return None
        if test["const"] in branches or not _LOCAL_REF.match(then["$ref"]):
            return None
        members.add(member)
        branches[test["const"]] = then["$ref"]
        if "required" not in condition:
            unguarded.append(then["$ref"])
    return (members.pop(), branches, tuple(unguarded)) if len(members) == 1 else None


def _plain_refs(node: Any, root: bool = False) -> bool:
    """Every ``$ref`` points into the root's definitions, nothing below the root moves the base URI, no defaults."""
    if isinstance(node, list):
        return all(_plain_refs(item) for item in node)
    if not isinstance(node, dict):
        return True
    if "$ref" in node and not (isinstance(node["$ref"], str) and _LOCAL_REF.match(node["$ref"])):
        return False
    if "default" in node or (not root and any(isinstance(node.get(key), str) for key in _SCOPE_KEYWORDS)):
        return False
    return all(_plain_refs(value) for value in node.values())


class _SiteFinder:
    """Every instance location where a union of the stripped schema applies, or :class:`_Unmappable`."""

    def __init__(self, root: dict[str, Any], unions: set[tuple[str, ...]]) -> None:
        self._root = root
        self._unions = unions
        self._budget = _WALK_BUDGET
        self.sites: list[tuple[tuple[str, ...], Site]] = []

    def walk(self, node: Any, site: Site | None, active: tuple[str, ...]) -> None:
        self._budget -= 1
        if self._budget < 0:
            raise _Unmappable("schema too large to map")
        if isinstance(node, list):
            for item in node:
                self.walk(item, None, active)
            return
        if not isinstance(node, dict):
            return
        if "$ref" in node:  # fastjsonschema: a $ref overrides its siblings
            ref = node["$ref"]
            if ref in active:
                raise _Unmappable("recursive schema")
            tokens = _pointer_tokens(ref)
            if any(tokens[: len(union)] == union and tokens != union for union in self._unions):
                raise _Unmappable("reference into a union")
            if tokens in self._unions:
                if site is None:
                    raise _Unmappable("union under a keyword that is not mapped")
                self.sites.append((tokens, site))
            target: Any = self._root
            try:
                for token in tokens:
                    target = target[int(token)] if isinstance(target, list) else target[token]
            except (KeyError, IndexError, TypeError, ValueError):
                raise _Unmappable("reference not followed") from None
            self.walk(target, site, active + (ref,))
            return
        for key, value in node.items():
            if site is None:
                self.walk(value, None, active)
            elif key in _DATA_KEYWORDS or (key in ("$defs", "definitions") and not active and node is self._root):
                continue
            elif key == "properties" and isinstance(value, dict):
                for name, sub in value.items():
                    self.walk(sub, site + (name,), active)
            elif key == "items" and isinstance(value, dict):
                self.walk(value, site + (0,), active)
            elif key == "allOf" and isinstance(value, list):
                for sub in value:
                    self.walk(sub, site, active)
            else:
                self.walk(value, None, active)


def _fast_path(root: dict[str, Any]) -> _FastPath | None:
    """The fast path of ``root``, or None where it has no union or its unions cannot be mapped."""
    shapes: dict[tuple[str, ...], tuple[str, dict[str, str], tuple[str, ...]]] = {
        (container, name): shape
        for container in ("$defs", "definitions")
        if isinstance(root.get(container), dict)
        for name, node in root[container].items()
        if (shape := _union_shape(node)) is not None
    }
    if not shapes or not _plain_refs(root, root=True):
        return None
    stripped = copy.deepcopy(root)
    for container, name in shapes:
        del stripped[container][name]["allOf"]
    finder = _SiteFinder(stripped, set(shapes))
    try:
        finder.walk(stripped, (), ())
    except _Unmappable:
        return None
    standalone: dict[str, Any] = {key: root[key] for key in ("$schema", "$defs", "definitions") if key in root}
    branch_cache: dict[str, Compiled] = {}

    def branch(ref: str) -> Compiled:
        if ref not in branch_cache:
            branch_cache[ref] = compile_schema({**standalone, "$ref": ref})
        return branch_cache[ref]

    unions = {
        pointer: _Union(
            member=member,
            branches={tag: branch(ref) for tag, ref in refs.items()},
            unguarded=tuple(branch(ref) for ref in unguarded),
            every=tuple(branch(ref) for ref in refs.values()),
        )
        for pointer, (member, refs, unguarded) in shapes.items()
    }
    sites = tuple(dict.fromkeys((unions[pointer], site) for pointer, site in finder.sites))
    return _FastPath(stripped=compile_schema(stripped), sites=sites)


class SchemaValidator:
    """One JSON Schema, compiled once; ``errors(instance)`` lists every violation."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self._root = schema
        self._defs: dict[str, Any] = {key: schema[key] for key in ("$defs", "definitions") if key in schema}
        self._compiled: dict[str, Compiled] = {}
        self._whole = self._compile("")
        self._fast = _fast_path(schema)
        self._check = self._whole if self._fast is None else self._fast.check

    @property
    def uses_fast_path(self) -> bool:
        """Whether :meth:`is_valid` dispatches discriminated unions itself (same verdict, fewer exceptions)."""
        return self._fast is not None

    def is_valid(self, instance: Any) -> bool:
        try:
            self._check(instance)
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
            compiled = compile_schema(standalone)
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
        if node.get("uniqueItems") is True:
            try:
                _UNIQUE_ITEMS(instance)
            except fastjsonschema.JsonSchemaValueException:
                found.append((path, "items must be unique"))
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
