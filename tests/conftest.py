from __future__ import annotations

import contextlib
import socket
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from adapters.http import HttpTransport
from adapters.sip import SipTransport
from harness.catalog import Catalog, load_catalog
from harness.endpoints import RecorderCounterpart, ReferenceServer, build_app
from harness.endpoints.sip_gateway import SipServer
from harness.events import RunFinished
from harness.runner.engine import Runner
from harness.transport import Transport, TransportOptions

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
    chosen = catalog.suite(suite)
    async with contextlib.AsyncExitStack() as stack:
        url = await stack.enter_async_context(ReferenceServer(app))
        counterpart_app = build_app(catalog)
        counterpart_url = await stack.enter_async_context(ReferenceServer(counterpart_app))
        counterpart = RecorderCounterpart(counterpart_app, counterpart_url) if chosen.counterpart else None
        extra: dict[str, tuple[Transport, str]] = {}
        if sip is not None:
            sip_server = await stack.enter_async_context(sip(catalog))
            extra["sip"] = (SipTransport(TransportOptions(timeout_s=5.0)), sip_server.uri())
        transport = HttpTransport(TransportOptions(timeout_s=5.0, concurrency=4))
        try:
            runner = Runner(
                catalog, transport, url, concurrency=4, counterpart=counterpart, extra_targets=extra, **runner_options
            )
            return await runner.run(chosen)
        finally:
            await transport.close()
            for carrier, _ in extra.values():
                await carrier.close()


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


@pytest.fixture(autouse=True, scope="session")
def _private_run_store(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Runs made by the tests are recorded in a store of their own, never in the user's data directory."""
    import os

    os.environ["HARNESS_STORE"] = f"sqlite:///{tmp_path_factory.mktemp('store') / 'runs.db'}"
