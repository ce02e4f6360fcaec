"""The harness's extension points, each one :class:`~harness.registry.Registry` over an entry-point group.

=====================  =======================  ==============================================
registry               entry-point group        member
=====================  =======================  ==============================================
:data:`FAMILIES`       ``harness.families``     a :class:`FormatFamily` (its rule and check modules)
:data:`CHECKS`         ``harness.checks``       a check function ``(expected, CheckContext) -> Iterator[Mismatch]``
:data:`ROLES`          ``harness.roles``        a role declaration (name, port, factory), see ``harness.endpoints``
:data:`ADAPTERS`       ``harness.adapters``     a transport factory ``(TransportOptions) -> Transport``
=====================  =======================  ==============================================

Model layer: the registries name the harness's own modules as strings and load
them on first use, so importing this module (for :func:`check_names`, say, in
the catalog) starts nothing and imports no upper layer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from harness.registry import Registry

__all__ = ["ADAPTERS", "CHECKS", "FAMILIES", "ROLES", "FormatFamily", "check_names"]


@dataclass(slots=True, frozen=True)
class FormatFamily:
    """A format family: the catalog formats it covers and the modules that register its rules and checks."""

    name: str
    formats: tuple[str, ...]
    rule_modules: tuple[str, ...] = ()
    check_modules: tuple[str, ...] = ()


BUILTIN_FAMILIES = (
    "harness.families.cap",
    "harness.families.edxl",
    "harness.families.emsi",
    "harness.families.esn",
    "harness.families.intel_report",
    "harness.families.queries",
    "harness.families.resilience",
)
"""The harness's own families; a third party's family is an entry point in ``harness.families``."""

FAMILIES: Registry[FormatFamily] = Registry("harness.families", "format family", builtins=BUILTIN_FAMILIES)


def _check_modules() -> Iterator[str]:
    yield "harness.runner.checks"
    for _, family in FAMILIES.items():
        yield from family.check_modules


CheckFunction = Callable[[Any, Any], Iterator[Any]]
CHECKS: Registry[CheckFunction] = Registry("harness.checks", "check", builtins=_check_modules)
ROLES: Registry[Any] = Registry("harness.roles", "role", builtins=("harness.endpoints.roles",))
ADAPTERS: Registry[Callable[[Any], Any]] = Registry("harness.adapters", "adapter")


def check_names() -> frozenset[str]:
    """Every check a scenario may name (built in, of every family, or from an installed package)."""
    return CHECKS.names()
