from __future__ import annotations

import contextlib
import socket
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from harness.catalog import Catalog, load_catalog
from harness.endpoints import ReferenceServer
from harness.endpoints.sip_gateway import SipServer
from harness.events import RunFinished
from harness.session import RunSession

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


async def certify(
    catalog: Catalog,
    app: web.Application,
    suite: str = "intel-core",
    sip: type[SipServer] | None = None,
    **runner_options: Any,
) -> RunFinished:
    """Run ``suite`` against ``app`` served on loopback port 0; the verdicts, nothing printed.

    A suite in which the SUT sends gets a reference counterpart on loopback too.
    With ``sip`` (SipServer or a variant of it), that server runs on loopback as
    the SUT's SIP side and is the run's SIP target (UDP).
    """
    async with contextlib.AsyncExitStack() as stack:
        url = await stack.enter_async_context(ReferenceServer(app))
        session = (
            RunSession(catalog, suite)
            .with_target(url)
            .with_options(concurrency=4, timeout_s=5.0)
            .with_listener(*runner_options.pop("listeners", ()))
            .with_options(**runner_options)
        )
        if sip is not None:
            sip_server = await stack.enter_async_context(sip(catalog))
            session.with_target(sip_server.uri(), name="sip")
        async with session:
            return await session.run()
    raise AssertionError("unreachable")  # pragma: no cover (the exit stack does not swallow errors)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now (for a peer that must be told one)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def verdicts(run: RunFinished) -> dict[str, str]:
    return {result.id: str(result.verdict) for result in run.results}


def failing(run: RunFinished) -> dict[str, list[tuple[str, Any, Any]]]:
    """Every scenario that did not pass, with its failed checks as (check, expected, actual)."""
    return {r.id: [(f.check, f.expected, f.actual) for f in r.failures] for r in run.results if r.verdict != "passed"}
