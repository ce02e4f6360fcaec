"""Reference endpoints: aiohttp applications that behave as a correct system of the profile would.

The same application is the embedded reference supplier that ``harness demo``
certifies and the counterpart that receives what a system under test sends.
Its control API lives under ``/_harness/``.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any

from aiohttp import web

from harness.catalog import Catalog
from harness.endpoints.common import ReceivedMessage, Recorder, json_response, recording_middleware
from harness.endpoints.faults import FaultInjector
from harness.endpoints.roles import Role, RoleSpec, default_roles, role_ports
from harness.extensions import ROLES
from harness.model import ConfigurationError
from harness.transport import Response

__all__ = [
    "DELIVERY_BASE",
    "FAULTS",
    "ROLE_PORTS",
    "RecorderCounterpart",
    "ReferenceServer",
    "Role",
    "RoleSpec",
    "build_app",
    "default_roles",
    "roles_named",
    "server_tls",
]

RECORDER: web.AppKey[Recorder] = web.AppKey("recorder", Recorder)
FAULTS: web.AppKey[FaultInjector] = web.AppKey("faults", FaultInjector)


ROLE_PORTS = role_ports()
"""The roles ``harness serve --role`` and ``harness up`` start, each with its documented port (docs/containers.md)."""


def roles_named(catalog: Catalog, name: str) -> list[Role]:
    """What one endpoint plays: ``supplier`` is every role with test hooks on, the others one role each."""
    if name not in ROLES:
        raise ConfigurationError(f"unknown role {name!r} (known: {', '.join(ROLE_PORTS)})")
    spec: RoleSpec = ROLES.get(name)
    return spec.build(catalog)


def build_app(
    catalog: Catalog,
    roles: list[Role] | None = None,
    recorder: Recorder | None = None,
    faults: FaultInjector | None = None,
) -> web.Application:
    """The reference supplier: every role, the recorder, the fault plan (empty unless ``faults`` has one) and the
    control APIs."""
    roles = roles if roles is not None else default_roles(catalog)
    recorder = recorder or Recorder()
    faults = faults or FaultInjector()
    middlewares = [faults.middleware(recorder), recording_middleware(recorder)]
    app = web.Application(middlewares=middlewares, client_max_size=1 << 20)
    app[RECORDER] = recorder
    app[FAULTS] = faults
    app.add_routes(faults.routes())
    for role in roles:
        routes = role.routes()
        app.add_routes(routes)
        app.add_routes(_below_delivery_base(routes))

    async def health(_: web.Request) -> web.Response:
        return json_response({"status": "ok", "roles": [type(role).__name__ for role in roles]})

    async def received(_: web.Request) -> web.Response:
        return json_response([message.as_dict() for message in recorder.messages])

    async def reset(_: web.Request) -> web.Response:
        recorder.clear()
        faults.reset()
        for role in roles:
            role.reset()
        return web.Response(status=204)

    app.add_routes(
        [
            web.get("/_harness/health", health),
            web.get("/_harness/received", received),
            web.post("/_harness/reset", reset),
        ]
    )
    return app


DELIVERY_BASE = "/resilience/{delivery}"
"""Every route is also served below ``/resilience/KEY``: a sender scenario gives the SUT such a base URL, so the
attempts of its delivery (and the faults meant for them) are told apart from those of scenarios running beside it
(docs/decisions-resilience.md)."""


def _below_delivery_base(routes: list[web.RouteDef]) -> list[web.RouteDef]:
    return [
        web.RouteDef(
            route.method,
            DELIVERY_BASE + route.path,
            route.handler,
            {key: value for key, value in route.kwargs.items() if key != "name"},
        )
        for route in routes
        if isinstance(route, web.RouteDef)
    ]


def server_tls(cert: str, key: str, client_ca: str | None = None) -> ssl.SSLContext:
    """TLS for a reference endpoint; with ``client_ca`` it demands a client certificate (mutual TLS)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    if client_ca:
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


class ReferenceServer:
    """Runs an application on loopback; ``async with`` gives its base URL.

    Binds port 0 unless told otherwise and reports the port it got.
    """

    def __init__(
        self,
        app: web.Application,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
        reuse_port: bool = False,
    ) -> None:
        self.app = app
        self.reuse_port = reuse_port
        self.host = host
        self.port = port
        self.tls = tls
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.reuse_port:  # one of several processes sharing the port (harness serve --processes)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((self.host, self.port))
        site = web.SockSite(self._runner, sock, ssl_context=self.tls)
        await site.start()
        bound = sock.getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"{'https' if self.tls else 'http'}://{host}:{bound}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> str:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()


class RecorderCounterpart:
    """A served reference application, seen by the runner as the counterpart the SUT sends to."""

    def __init__(self, app: web.Application, url: str) -> None:
        self.recorder = app[RECORDER]
        self.url = url

    def mark(self) -> int:
        return self.recorder.sequence

    async def wait_for(self, method: str, path: str, since: int, timeout_s: float) -> Response | None:
        def wanted(message: ReceivedMessage) -> bool:
            return message.method == method.upper() and message.path.split("?", 1)[0] == path

        message = await self.recorder.wait_for(wanted, since, timeout_s)
        if message is None:
            return None
        return Response(message.status, "", message.headers, message.body, 0.0, self.url + message.path)
