"""The plugin's state for one pytest process: the catalog, the loop thread and each suite's run."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from harness.catalog import Catalog, load_catalog
from harness.events import RunFinished, Summary
from harness.model import HarnessError, ScenarioResult, Suite
from harness.plugin.items import RESULT_PROPERTY, result_from_record
from harness.plugin.runtime import LoopThread
from harness.plugin.suite_run import SuiteRun
from harness.reporting import results_document, write_atomically
from harness.transport import TransportOptions

__all__ = ["NetcodeSettings", "PluginState", "plugin_state"]

STATE: pytest.StashKey[PluginState] = pytest.StashKey()

OPTION_NAMES = ("timeout", "concurrency", "sip-target", "listen")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclasses.dataclass(slots=True, frozen=True)
class NetcodeSettings:
    """What the command line asked of the plugin."""

    suites: tuple[str, ...]
    target: str | None
    reports: Path
    timeout_s: float = 10.0
    concurrency: int = 4
    sip_target: str | None = None
    listen: tuple[str, int] = ("127.0.0.1", 0)
    containers: bool = False

    @classmethod
    def from_config(cls, config: pytest.Config) -> NetcodeSettings:
        values: dict[str, str] = {}
        for text in config.getoption("netcode_option") or ():
            key, sep, value = str(text).partition("=")
            if not sep or key not in OPTION_NAMES:
                raise pytest.UsageError(
                    f"bad --netcode-option {text!r}: expected KEY=VALUE with KEY one of {', '.join(OPTION_NAMES)}"
                )
            values[key] = value
        try:
            timeout = float(values.get("timeout", 10.0))
            concurrency = int(values.get("concurrency", 4))
        except ValueError as exc:
            raise pytest.UsageError(f"bad --netcode-option value: {exc}") from None
        if timeout <= 0 or concurrency < 1:
            raise pytest.UsageError("--netcode-option timeout must be > 0 and concurrency at least 1")
        listen = ("127.0.0.1", 0)
        if "listen" in values:
            host, _, port = values["listen"].rpartition(":")
            if not host or not port.isdigit() or int(port) > 65535:
                raise pytest.UsageError(f"bad --netcode-option listen={values['listen']}: expected HOST:PORT")
            listen = (host.strip("[]"), int(port))
        return cls(
            suites=tuple(config.getoption("netcode_suite") or ()),
            target=config.getoption("netcode_target"),
            reports=Path(config.getoption("netcode_reports")),
            timeout_s=timeout,
            concurrency=concurrency,
            sip_target=values.get("sip-target"),
            listen=listen,
            containers=bool(config.getoption("netcode_containers")),
        )


class PluginState:
    """Runs the scenarios pytest asks for; on the controller, gathers every result into ``results.json``."""

    def __init__(self, config: pytest.Config, settings: NetcodeSettings) -> None:
        self.config = config
        self.settings = settings
        self._catalog: Catalog | None = None
        self._loop: LoopThread | None = None
        self._runs: dict[str, SuiteRun] = {}
        self._failed_open: dict[str, str] = {}
        self.results: dict[str, dict[str, ScenarioResult]] = {}
        self.started = _now()

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            try:
                self._catalog = load_catalog()
            except HarnessError as exc:
                raise pytest.UsageError(f"netcode: {exc}") from None
        return self._catalog

    @property
    def loop(self) -> LoopThread:
        if self._loop is None:
            self._loop = LoopThread()
        return self._loop

    def suites(self) -> list[Suite]:
        chosen: list[Suite] = []
        for ref in self.settings.suites:
            try:
                suite = self.catalog.suite(ref)
            except HarnessError as exc:
                raise pytest.UsageError(f"--netcode-suite {ref}: {exc}") from None
            if suite not in chosen:
                chosen.append(suite)
        return chosen

    def run(self, suite: Suite, scenario: dict[str, Any]) -> ScenarioResult:
        """Run one scenario; the suite's run (transport, counterpart, data set) opens with its first item."""
        if self.settings.target is None:
            raise pytest.UsageError("--netcode-suite needs --netcode-target URL")
        if suite.ref in self._failed_open:
            pytest.fail(self._failed_open[suite.ref], pytrace=False)
        run = self._runs.get(suite.ref)
        if run is None:
            options = TransportOptions(timeout_s=self.settings.timeout_s, concurrency=self.settings.concurrency)
            run = SuiteRun(
                self.catalog,
                suite,
                self.settings.target.rstrip("/"),
                options,
                sip_target=self.settings.sip_target,
                listen=self.settings.listen,
            )
            try:
                self.loop.call(run.open())
            except HarnessError as exc:
                self._failed_open[suite.ref] = f"{suite.ref}: {exc}"
                self.loop.call(run.close())
                pytest.fail(self._failed_open[suite.ref], pytrace=False)
            self._runs[suite.ref] = run
        return self.loop.call(run.run(scenario))

    def record(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name == RESULT_PROPERTY:
                record = json.loads(str(value))
                self.results.setdefault(record["suite"], {})[record["id"]] = result_from_record(record)

    def write_results(self) -> list[Path]:
        written: list[Path] = []
        if self.settings.target is None:
            return written
        for suite in self.suites():
            got = self.results.get(suite.ref)
            if not got:
                continue
            ordered = tuple(got[str(s["id"])] for s in suite.scenarios if str(s["id"]) in got)
            summary = Summary()
            for result in ordered:
                summary.add(result.verdict)
            finished = RunFinished(
                suite.name, suite.version, self.settings.target, self.started, _now(), summary, ordered
            )
            document = results_document(finished)
            if len(ordered) < len(suite.scenarios):  # a selection (-k, -m, --lf) never certifies
                document["certified"] = False
                document["partial"] = {"ran": len(ordered), "of": len(suite.scenarios)}
            path = self.settings.reports / suite.name / "results.json"
            write_atomically(path, json.dumps(document, indent=2, ensure_ascii=False, default=str).encode() + b"\n")
            written.append(path)
        return written

    def close(self) -> None:
        if self._loop is None:
            return
        for run in self._runs.values():
            self._loop.call(run.close())
        self._loop.close()
        self._loop = None


def plugin_state(config: pytest.Config) -> PluginState:
    state = config.stash.get(STATE, None)
    if state is None:
        state = PluginState(config, NetcodeSettings.from_config(config))
        config.stash[STATE] = state
    return state
