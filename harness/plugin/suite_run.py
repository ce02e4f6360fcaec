"""One suite's run inside a pytest process: transport, counterpart and data set, opened once."""

from __future__ import annotations

import dataclasses
from typing import Any

from harness.catalog import Catalog
from harness.endpoints import RecorderCounterpart, ReferenceServer, build_app
from harness.events import Listener
from harness.model import ScenarioResult, Suite
from harness.runner.engine import Runner
from harness.transport import Transport, TransportOptions, load_transport

__all__ = ["SuiteRun"]


@dataclasses.dataclass(slots=True)
class SuiteRun:
    """Runs the scenarios of ``suite`` one at a time, as pytest asks for them.

    Opened lazily by the first item of the suite in this process (so an xdist worker
    that is given none of its items never connects); the data set is loaded once.
    """

    catalog: Catalog
    suite: Suite
    target: str
    options: TransportOptions
    listeners: tuple[Listener, ...] = ()
    sip_target: str | None = None
    listen: tuple[str, int] = ("127.0.0.1", 0)
    _transports: list[Transport] = dataclasses.field(default_factory=list)
    _server: ReferenceServer | None = None
    _runner: Runner | None = None

    async def open(self) -> None:
        transport = load_transport("http", self.options)
        self._transports.append(transport)
        await transport.probe(self.target)
        extra: dict[str, tuple[Transport, str]] = {}
        if self.sip_target is not None:
            sip = load_transport("sip", TransportOptions(timeout_s=self.options.timeout_s))
            self._transports.append(sip)
            await sip.probe(self.sip_target)
            extra["sip"] = (sip, self.sip_target)
        counterpart: RecorderCounterpart | None = None
        if self.suite.counterpart:
            app = build_app(self.catalog)
            self._server = ReferenceServer(app, *self.listen)
            counterpart = RecorderCounterpart(app, await self._server.start())
        runner = Runner(
            self.catalog,
            transport,
            self.target,
            self.listeners,
            self.options.concurrency,
            counterpart,
            unattended=True,
            extra_targets=extra,
        )
        await runner.prepare(self.suite)
        self._runner = runner

    async def run(self, scenario: dict[str, Any]) -> ScenarioResult:
        if self._runner is None:
            await self.open()
        assert self._runner is not None
        return await self._runner.run_scenario(scenario)

    async def close(self) -> None:
        for transport in self._transports:
            await transport.close()
        if self._server is not None:
            await self._server.stop()
