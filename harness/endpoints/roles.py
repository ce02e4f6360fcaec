"""The roles of the profile a reference endpoint plays, each declared once: name, documented port, what it serves.

A role is a :class:`RoleSpec` in the registry :data:`harness.extensions.ROLES`
(entry-point group ``harness.roles``). ``harness serve --role``, ``harness up``,
the containers, the compose files and the ``Dockerfile`` all follow this
table (``tests/unit/test_roles.py`` proves it). A third party adds a role by
declaring a ``RoleSpec`` as an entry point in ``harness.roles``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from harness.catalog import Catalog
from harness.endpoints.alert_hub import AlertHub
from harness.endpoints.esn_gateway import EsnGateway
from harness.endpoints.intel_hub import IntelHub
from harness.endpoints.query_responder import QueryResponder
from harness.endpoints.test_hooks import TestHooks
from harness.extensions import ROLES

__all__ = ["Role", "RoleSpec", "default_roles", "role_ports"]


class Role(Protocol):
    """One role of the profile, served by a reference endpoint."""

    def routes(self) -> list[web.RouteDef]: ...

    def reset(self) -> None: ...


@dataclass(slots=True, frozen=True)
class RoleSpec:
    """A role as ``harness serve --role NAME`` and ``harness up`` start it: on ``port`` unless told otherwise."""

    name: str
    port: int
    build: Callable[[Catalog], list[Role]]
    summary: str


def default_roles(catalog: Catalog) -> list[Role]:
    """Every role of the profile, as the reference supplier plays them (test hooks on)."""
    gateway = EsnGateway(catalog)
    return [
        IntelHub(catalog),
        QueryResponder(catalog),
        AlertHub(catalog),
        gateway,
        TestHooks(actions=gateway.actions()),
    ]


def _declare(name: str, port: int, build: Callable[[Catalog], list[Role]], summary: str) -> None:
    ROLES.add(name, RoleSpec(name, port, build, summary))


_declare("supplier", 8080, default_roles, "every role, with the test hooks on (the embedded reference supplier)")
_declare("intel-hub", 8081, lambda catalog: [IntelHub(catalog)], "the reference force intelligence hub")
_declare("query-responder", 8082, lambda catalog: [QueryResponder(catalog)], "the person and vehicle query responder")
_declare("alert-hub", 8083, lambda catalog: [AlertHub(catalog)], "the alert hub (CAP, EDXL-DE, EMSI)")
_declare("esn-gateway", 8084, lambda catalog: [EsnGateway(catalog)], "the ESN gateway (SDS, alerts, location)")


def role_ports() -> dict[str, int]:
    """Every registered role's documented port, in port order."""
    specs: list[RoleSpec] = [spec for _, spec in ROLES.items()]
    return {spec.name: spec.port for spec in sorted(specs, key=lambda spec: (spec.port, spec.name))}
