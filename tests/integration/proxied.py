"""A suite run through ``harness proxy``'s machinery: the supplier app on loopback, the proxy in front of it, the
run's target the proxy (done-when of issue 23, item 1)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web

from harness.catalog import Catalog
from harness.endpoints import ReferenceServer
from harness.events import RunFinished
from harness.protocols.http1 import parse_target
from harness.proxy.checks import ExchangeChecker
from harness.proxy.server import ProxyServer
from harness.proxy.session import ProxySession
from harness.reporting.redaction import Redactor
from harness.session import RunSession


@dataclass
class Proxied:
    url: str
    session: ProxySession
    server: ProxyServer
    lines: list[str] = field(default_factory=list)

    def rules(self, severity: str = "error") -> set[str]:
        """The rules of the findings made so far (call after :meth:`ProxySession.finish`)."""
        return {
            rule
            for rule, examples in self.session.findings.rule_examples.items()
            if any(example["severity"] == severity for example in examples)
        }


@contextlib.asynccontextmanager
async def proxied(catalog: Catalog, app: web.Application) -> AsyncIterator[Proxied]:
    """``app`` on loopback port 0 with a proxy in front of it; the session is finished on the way out."""
    async with ReferenceServer(app) as upstream_url:
        lines: list[str] = []
        session = ProxySession(ExchangeChecker(catalog), Redactor(), print_line=lines.append)
        server = ProxyServer(parse_target(upstream_url), session.submit)
        host, port = await server.start("127.0.0.1", 0)
        try:
            yield Proxied(f"http://{host}:{port}", session, server, lines)
        finally:
            await server.close()
            session.finish()


async def run_through(catalog: Catalog, url: str, suite: str) -> RunFinished:
    """Run ``suite`` against ``url`` (the proxy), with a reference counterpart for the suites where the SUT sends."""
    session = RunSession(catalog, suite).with_target(url).with_counterpart("127.0.0.1", 0)
    session.with_options(concurrency=4, timeout_s=5.0)
    async with session:
        return await session.run()
