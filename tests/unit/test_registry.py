"""The one registry: in-package registration, entry points, clear errors."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from harness import registry as registry_module
from harness.registry import Registry, RegistryError


def _points(*points: EntryPoint) -> object:
    def fake(*, group: str) -> tuple[EntryPoint, ...]:
        return tuple(p for p in points if p.group == group)

    return fake


def test_decorator_registers_and_names_lists() -> None:
    things: Registry[object] = Registry("harness.test-things", "thing")

    @things.register("alpha")
    def alpha() -> None:
        return None

    assert things.get("alpha") is alpha
    assert things.names() == frozenset({"alpha"})
    assert "alpha" in things and "beta" not in things
    assert [name for name, _ in things.items()] == ["alpha"]


def test_unknown_member_names_the_known_ones() -> None:
    things: Registry[int] = Registry("harness.test-things", "thing")
    things.add("one", 1)
    with pytest.raises(RegistryError, match=r"unknown thing 'two' \(known: one\)"):
        things.get("two")


def test_two_objects_under_one_name_is_an_error() -> None:
    things: Registry[object] = Registry("harness.test-things", "thing")
    first, second = object(), object()
    things.add("x", first)
    things.add("x", first)  # the same object again is harmless
    with pytest.raises(RegistryError, match="registered twice"):
        things.add("x", second)


def test_entry_points_of_the_group_are_members(monkeypatch: pytest.MonkeyPatch) -> None:
    point = EntryPoint(name="dumps", value="json:dumps", group="harness.test-things")
    other = EntryPoint(name="loads", value="json:loads", group="harness.other")
    monkeypatch.setattr(registry_module, "entry_points", _points(point, other))
    things: Registry[object] = Registry("harness.test-things", "thing")
    import json

    assert things.get("dumps") is json.dumps
    assert things.names() == frozenset({"dumps"})


def test_an_entry_point_that_does_not_load_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    point = EntryPoint(name="broken", value="no_such_module_xyz:thing", group="harness.test-things")
    monkeypatch.setattr(registry_module, "entry_points", _points(point))
    things: Registry[object] = Registry("harness.test-things", "thing")
    with pytest.raises(RegistryError, match=r"thing 'broken' \(no_such_module_xyz:thing\) cannot be loaded"):
        things.names()


def test_builtin_modules_are_imported_on_first_use() -> None:
    things: Registry[object] = Registry("harness.test-things", "thing", builtins=("tests.unit._registry_builtin",))
    import sys

    sys.modules.pop("tests.unit._registry_builtin", None)
    from tests.unit import _registry_builtin_target as target

    target.REGISTRY = things
    assert things.names() == frozenset({"built-in"})


def test_a_module_imported_afresh_registers_its_members_again() -> None:
    things: Registry[object] = Registry("harness.test-things", "thing")

    def make() -> object:
        def member() -> None: ...

        return member

    first, again = make(), make()  # same module and qualified name, as after a re-import
    things.add("x", first)
    things.add("x", again)
    assert things.get("x") is again
