from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web

from adapters.http import HttpTransport
from harness.catalog import Catalog, load_catalog
from harness.endpoints import ReferenceServer
from harness.events import RunFinished
from harness.runner.engine import Runner
from harness.transport import TransportOptions

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


async def certify(catalog: Catalog, app: web.Application, suite: str = "intel-core") -> RunFinished:
    """Run ``suite`` against ``app`` served on loopback port 0; the verdicts, nothing printed."""
    async with ReferenceServer(app) as url:
        transport = HttpTransport(TransportOptions(timeout_s=5.0, concurrency=4))
        try:
            return await Runner(catalog, transport, url, [], concurrency=4).run(catalog.suite(suite))
        finally:
            await transport.close()


def verdicts(run: RunFinished) -> dict[str, str]:
    return {result.id: str(result.verdict) for result in run.results}
