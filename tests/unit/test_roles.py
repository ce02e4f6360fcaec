"""Each role is declared once (harness/endpoints/roles.py).

The port table, `harness up`, the compose files and the Dockerfile agree with it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.catalog import Catalog, load_catalog
from harness.endpoints import ROLE_PORTS, build_app, roles_named
from harness.endpoints.roles import Role, RoleSpec, role_ports
from harness.extensions import ROLES
from harness.model import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]


def _compose(name: str) -> dict[str, Any]:
    document = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    services = document["services"]
    assert isinstance(services, dict)
    return services


def _default(value: str) -> int:
    """The default of a ``${VAR:-8080}`` substitution."""
    found = re.fullmatch(r"\$\{[A-Z_]+:-(\d+)\}", value)
    assert found, value
    return int(found.group(1))


def test_the_port_table_is_the_registry() -> None:
    assert ROLE_PORTS == role_ports() == {name: spec.port for name, spec in ROLES.items()}
    assert len(set(ROLE_PORTS.values())) == len(ROLE_PORTS), "two roles share a port"


def test_compose_serves_every_role_on_its_port() -> None:
    services = _compose("docker-compose.yml")
    assert set(services) == set(ROLE_PORTS)
    for name, service in services.items():
        assert service["environment"]["HARNESS_ROLE"] == name
        assert _default(service["environment"]["HARNESS_PORT"]) == ROLE_PORTS[name]


def test_compose_override_publishes_each_port_on_loopback() -> None:
    services = _compose("docker-compose.override.yml")
    assert set(services) == set(ROLE_PORTS)
    for name, service in services.items():
        (mapping,) = service["ports"]
        host, published, inner = re.fullmatch(r"(127\.0\.0\.1):(\$\{[^}]+\}):(\$\{[^}]+\})", mapping).groups()  # type: ignore[union-attr]
        assert host == "127.0.0.1"
        assert _default(published) == _default(inner) == ROLE_PORTS[name]


def test_compose_ci_names_every_role() -> None:
    assert set(_compose("docker-compose.ci.yml")) == set(ROLE_PORTS)


def test_dockerfile_exposes_every_port() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    (line,) = re.findall(r"^EXPOSE (.+)$", text, re.M)
    assert sorted(int(port) for port in line.split()) == sorted(ROLE_PORTS.values())


def test_harness_up_starts_the_registered_roles() -> None:
    """`harness up` without --role starts every role of the table, each on its port (harness/cli/serve.py reads it)."""
    source = (ROOT / "harness" / "cli" / "serve.py").read_text(encoding="utf-8")
    assert "args.roles or ROLE_PORTS" in source
    assert "ROLE_PORTS[role]" in source


def test_unknown_role_is_one_line() -> None:
    catalog = load_catalog()
    with pytest.raises(ConfigurationError, match=r"unknown role 'nope' \(known: supplier, intel-hub, "):
        roles_named(catalog, "nope")


class _Echo:
    """A toy role: one route that answers what it was sent."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def routes(self) -> list[Any]:
        from aiohttp import web

        async def echo(request: web.Request) -> web.Response:
            return web.Response(body=await request.read())

        return [web.post("/echo", echo)]

    def reset(self) -> None:
        return None


def test_a_new_role_is_one_registration() -> None:
    """The recipe in docs/architecture.md: a role is one module declaring a RoleSpec (here, in this test)."""

    def build(catalog: Catalog) -> list[Role]:
        return [_Echo(catalog)]

    spec = RoleSpec("echo-test", 8099, build, "a toy role")
    ROLES.add(spec.name, spec)
    try:
        assert role_ports()["echo-test"] == 8099
        catalog = load_catalog()
        (role,) = roles_named(catalog, "echo-test")
        app = build_app(catalog, [role])
        assert "/echo" in [resource.canonical for resource in app.router.resources()]
    finally:
        ROLES._members.pop("echo-test")


@pytest.mark.parametrize("name", list(ROLE_PORTS))
def test_every_role_of_the_table_builds_an_application(name: str) -> None:
    """What `harness serve --role NAME` and `harness up` build: the role's routes plus the control API."""
    app = build_app(load_catalog(), roles_named(load_catalog(), name))
    paths = {resource.canonical for resource in app.router.resources()}
    assert "/_harness/health" in paths
    assert len(paths) > 3, f"role {name} serves nothing of its own"
