"""Fixtures for the plugin's tests: a system under test served from a thread, so pytester can run in-process."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from aiohttp import web

from harness.catalog import Catalog
from harness.endpoints import ReferenceServer, build_app
from harness.plugin.runtime import LoopThread


@pytest.fixture(scope="module")
def serving() -> Iterator[Callable[[web.Application], str]]:
    """``serving(app)`` serves ``app`` on 127.0.0.1 port 0 from a thread of its own; gives its URL."""
    loop = LoopThread()
    servers: list[ReferenceServer] = []

    def serve(app: web.Application) -> str:
        server = ReferenceServer(app)
        servers.append(server)
        return loop.call(server.start())

    yield serve
    for server in reversed(servers):
        loop.call(server.stop())
    loop.close()


@pytest.fixture(scope="module")
def reference_url(serving: Callable[[web.Application], str], catalog: Catalog) -> str:
    return serving(build_app(catalog))
