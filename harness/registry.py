"""One way to extend the harness: named things in a registry, found in-package or through entry points.

Every extension point (checks, format families, roles, adapters, reporters)
is a :class:`Registry` over one entry-point group. The harness registers its
own members with the :meth:`Registry.register` decorator in the modules named
as ``builtins``; a third party adds members from its own package by declaring
entry points in that group (the entry point's name is the member's name, its
object the member). Nothing is loaded until first asked for, so importing a
registry is cheap and has no side effects.

Model layer: imports nothing of the harness but ``model``.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable, Iterator
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from harness.model import ConfigurationError

__all__ = ["Registry", "RegistryError", "resolve"]

T = TypeVar("T")


class RegistryError(ConfigurationError):
    """A member cannot be found, cannot be loaded, or is registered twice under one name."""


class Registry(Generic[T]):
    """The members of one extension point, keyed by name.

    ``group`` is the entry-point group; ``builtins`` are the harness's own
    modules that register members when imported (with :meth:`register`), or a
    function giving them (called on first use, so it may consult another registry).
    """

    __slots__ = ("_builtins", "_changes", "_loaded", "_loading", "_members", "group", "kind")

    def __init__(self, group: str, kind: str, builtins: Iterable[str] | Callable[[], Iterable[str]] = ()) -> None:
        self.group = group
        self.kind = kind
        self._builtins = builtins if callable(builtins) else tuple(builtins)
        self._members: dict[str, T] = {}
        self._changes = 0
        self._loaded = False
        self._loading = False

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: register the decorated object as member ``name``."""

        def decorate(member: T) -> T:
            self.add(name, member)
            return member

        return decorate

    def add(self, name: str, member: T) -> None:
        """Register ``member`` as ``name``; registering the same object again is harmless, and so is a module
        imported afresh (pytester and importlib.reload re-run its registrations: the newer object wins)."""
        known = self._members.get(name)
        if known is not None and known is not member and not _redefined(known, member):
            raise RegistryError(f"{self.kind} {name!r} is registered twice ({_origin(known)} and {_origin(member)})")
        if known is not member:
            self._changes += 1
        self._members[name] = member

    @property
    def changes(self) -> int:
        """How many times a member was added or replaced: unchanged, so is what was derived from the members."""
        self._load()
        return self._changes

    def get(self, name: str) -> T:
        """The member ``name``; :class:`RegistryError` naming the known ones when there is none."""
        self._load()
        try:
            return self._members[name]
        except KeyError:
            known = ", ".join(sorted(self._members)) or "none"
            raise RegistryError(f"unknown {self.kind} {name!r} (known: {known})") from None

    def names(self) -> frozenset[str]:
        """The names of every member, built in or from an installed package."""
        self._load()
        return frozenset(self._members)

    def items(self) -> Iterator[tuple[str, T]]:
        """Every ``(name, member)``, sorted by name."""
        self._load()
        return iter(sorted(self._members.items()))

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._members

    def _load(self) -> None:
        if self._loaded or self._loading:
            return
        self._loading = True
        try:
            modules = self._builtins() if callable(self._builtins) else self._builtins
            for module in modules:
                importlib.import_module(module)
            for point in entry_points(group=self.group):
                try:
                    member = point.load()
                except Exception as exc:  # a third-party package's import error, whatever it is
                    raise RegistryError(
                        f"{self.kind} {point.name!r} ({point.value}) cannot be loaded: {type(exc).__name__}: {exc}"
                    ) from None
                self.add(point.name, member)
            self._loaded = True
        finally:
            self._loading = False


def _redefined(known: object, member: object) -> bool:
    """The same function or class defined again by a module imported afresh (not another object)."""
    names = ("__module__", "__qualname__")
    if not all(hasattr(known, n) and hasattr(member, n) for n in names):
        return False
    return all(getattr(known, n) == getattr(member, n) for n in names)


def _origin(member: object) -> str:
    module = getattr(member, "__module__", None) or type(member).__module__
    name = getattr(member, "__qualname__", None) or type(member).__qualname__
    return f"{module}.{name}"


@functools.lru_cache(maxsize=256)
def resolve(reference: str) -> Any:
    """The object a ``"package.module:attribute"`` reference names, imported on first use.

    Declarations (a :class:`~harness.extensions.FormatFamily`) name their code this way, so that declaring
    a family imports nothing of it; :class:`RegistryError` with one line when the reference does not resolve.
    """
    module_name, colon, attribute = reference.partition(":")
    if not colon or not module_name or not attribute:
        raise RegistryError(f"{reference!r} is not a 'package.module:attribute' reference")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise RegistryError(f"{reference!r} cannot be imported: {exc}") from None
    value: Any = module
    for name in attribute.split("."):
        try:
            value = getattr(value, name)
        except AttributeError:
            raise RegistryError(f"{reference!r}: {module_name} has no {attribute!r}") from None
    return value
