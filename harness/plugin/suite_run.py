"""One suite's run inside a pytest process, on the same run session as ``harness run``."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from harness.catalog import Catalog
from harness.model import ConfigurationError, Scenario, ScenarioResult, Suite
from harness.plugin.capture import ExchangeCapture
from harness.reporting import Redactor
from harness.session import RunSession
from harness.transport import TransportOptions

__all__ = ["SuiteRun"]


@dataclasses.dataclass(slots=True)
class SuiteRun:
    """Runs the scenarios of ``suite`` one at a time, as pytest asks for them.

    Opened lazily by the first item of the suite in this process (so an xdist worker
    that is given none of its items never connects); the data set is loaded once. The exchanges
    of each scenario are kept in ``captures`` (a folder) for the process that writes the reports.
    """

    catalog: Catalog
    suite: Suite
    target: str
    options: TransportOptions
    sip_target: str | None = None
    listen: tuple[str, int] = ("127.0.0.1", 0)
    captures: Path | None = None
    _session: RunSession | None = None
    _capture: ExchangeCapture | None = None

    async def open(self) -> None:
        session = (
            RunSession(self.catalog, self.suite)
            .with_target(self.target)
            .with_counterpart(*self.listen)
            .with_options(concurrency=self.options.concurrency, timeout_s=self.options.timeout_s, unattended=True)
        )
        if self.sip_target is not None:
            session.with_target(self.sip_target, name="sip")
        if self.captures is not None:
            self._capture = ExchangeCapture(self.captures, Redactor(self.options.secrets))
            session.with_listener(self._capture)
        await session.__aenter__()
        self._session = session
        if session.runner is None:
            raise ConfigurationError("the run session did not build a runner")
        await session.runner.prepare(self.suite)

    async def run(self, scenario: Scenario | dict[str, Any]) -> tuple[ScenarioResult, Path | None]:
        """The scenario's result, and the file holding its exchanges (None when not captured)."""
        if self._session is None:
            await self.open()
        assert self._session is not None and self._session.runner is not None
        scenario_id = scenario.id if isinstance(scenario, Scenario) else str(scenario["id"])
        kept = self._capture.start(scenario_id) if self._capture is not None else None
        return await self._session.runner.run_scenario(scenario), kept

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
