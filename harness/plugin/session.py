"""The plugin's state for one pytest process: the catalog, the loop thread and each suite's run."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.catalog import Catalog, load_catalog
from harness.events import RunFinished, RunStarted, ScenarioFinished, Summary
from harness.evidence.bundle import Sut
from harness.evidence.keys import DEFAULT_PASSWORD_ENV, load_private, password_from_env
from harness.model import HarnessError, Scenario, ScenarioResult, Suite
from harness.plugin.capture import read_events
from harness.plugin.items import RESULT_PROPERTY, result_from_record
from harness.plugin.runtime import LoopThread
from harness.plugin.suite_run import SuiteRun
from harness.runner.engine import typed_scenarios
from harness.runner.life_cycle import life_cycle_facts
from harness.session import RunSession
from harness.transport import TransportOptions

__all__ = ["NetcodeSettings", "PluginState", "plugin_state"]

STATE: pytest.StashKey[PluginState] = pytest.StashKey()

OPTION_NAMES = (
    "timeout",
    "concurrency",
    "sip-target",
    "listen",
    "sut-supplier",
    "sut-product",
    "sut-version",
    "sign-key",
    "evidence",
)
CAPTURES = ".exchanges"
"""Under each suite's report folder: the exchanges of each scenario, until the reports are written."""


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
    sut: Sut | None = None
    """The system under test as declared (``sut-supplier``, ``sut-product``, ``sut-version``): needed to certify."""
    sign_key: Path | None = None
    """PREFIX.key signing each suite's evidence bundle (its password in HARNESS_KEY_PASSWORD, if any)."""
    evidence: bool = True

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
        declared = (values.get("sut-supplier"), values.get("sut-product"), values.get("sut-version"))
        if any(declared) and not all(declared):
            raise pytest.UsageError("--netcode-option sut-supplier, sut-product and sut-version go together")
        evidence = values.get("evidence", "on")
        if evidence not in ("on", "off"):
            raise pytest.UsageError(f"bad --netcode-option evidence={evidence}: expected on or off")
        target, sip_target = _checked_targets(config.getoption("netcode_target"), values.get("sip-target"))
        return cls(
            suites=tuple(config.getoption("netcode_suite") or ()),
            target=target,
            reports=Path(config.getoption("netcode_reports")),
            timeout_s=timeout,
            concurrency=concurrency,
            sip_target=sip_target,
            listen=listen,
            containers=bool(config.getoption("netcode_containers")),
            sut=Sut(str(declared[0]), str(declared[1]), str(declared[2])) if all(declared) else None,
            sign_key=Path(values["sign-key"]) if values.get("sign-key") else None,
            evidence=evidence == "on",
        )


def _checked_targets(target: str | None, sip_target: str | None) -> tuple[str | None, str | None]:
    """``--netcode-target`` and ``sip-target`` held to what ``harness run`` accepts: a bad one is a usage error
    (one line) before collection, never a failure of every item."""
    if target is None and sip_target is None:
        return None, None
    from harness.cli.run import check_sip_target, check_target  # the run's own checks (loaded only when needed)
    from harness.model import UsageError

    try:
        target = check_target(target) if target is not None else None
    except UsageError as exc:
        raise pytest.UsageError(f"--netcode-target: {exc}") from None
    try:
        sip_target = check_sip_target(sip_target) if sip_target is not None else None
    except UsageError as exc:
        raise pytest.UsageError(f"--netcode-option sip-target: {exc}") from None
    return target, sip_target


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
        self.exchanges: dict[str, dict[str, Path]] = {}
        self.started = _now()
        self._key: Ed25519PrivateKey | None = None
        self.written: dict[str, list[Path]] = {}
        self.reporter_failures: list[str] = []

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

    def signing_key(self) -> Ed25519PrivateKey | None:
        """The key that signs the bundles (loaded once; a key that does not load is a usage error)."""
        if self.settings.sign_key is None:
            return None
        if self._key is None:
            try:
                self._key = load_private(self.settings.sign_key, password_from_env(DEFAULT_PASSWORD_ENV, False))
            except HarnessError as exc:
                raise pytest.UsageError(f"--netcode-option sign-key: {exc}") from None
        return self._key

    def captures(self, suite: Suite) -> Path:
        return (self.settings.reports / suite.name / CAPTURES).resolve()

    def run(self, suite: Suite, scenario: Scenario) -> tuple[ScenarioResult, Path | None]:
        """Run one scenario; the suite's run (transport, counterpart, data set) opens with its first item.
        Its result, and the file holding its exchanges."""
        if self.settings.target is None:  # refused at configure time; never a UsageError from inside an item
            pytest.fail("--netcode-suite needs --netcode-target URL", pytrace=False)
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
                captures=self.captures(suite),
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
                if record.get("exchanges"):
                    self.exchanges.setdefault(record["suite"], {})[record["id"]] = Path(record["exchanges"])

    def write_results(self) -> list[Path]:
        """Each suite's reports, written by the same reporters as ``harness run`` through the run session.

        The results of every process (xdist workers included) are joined here, with each scenario's
        exchanges read back from the file its process kept: one ``results.json``, ``journal.jsonl``,
        ``report.html`` and evidence bundle per suite. A selection (``-k``, ``-m``, ``--lf``) is a run that
        did not run every scenario: it is written as interrupted, and never certifies.
        """
        written: list[Path] = []
        if self.settings.target is None:
            return written
        for suite in self.suites():
            got = self.results.get(suite.ref)
            if not got:
                continue
            try:
                written.append(self._write_suite(suite, got))
            except HarnessError as exc:  # one line in the terminal summary, never an INTERNALERROR
                self.reporter_failures.append(f"{suite.ref}: the reports could not be written: {exc}")
        return written

    def _write_suite(self, suite: Suite, got: dict[str, ScenarioResult]) -> Path:
        folder = self.settings.reports / suite.name
        run_id = str(uuid.uuid4())
        session = (
            RunSession(self.catalog, suite)
            .with_target(str(self.settings.target))
            .with_reporters(
                folder,
                console=False,
                evidence=self.settings.evidence,
                sut=self.settings.sut,
                sign_key=self.signing_key(),
                run_id=run_id,
            )
        )
        scenarios = typed_scenarios(suite)
        ordered = tuple(got[s.id] for s in scenarios if s.id in got)
        summary = Summary()
        for result in ordered:
            summary.add(result.verdict)
        reporters = session.open_reporters()
        target = session.target.rstrip("/")  # settled: without user information (it went as a credential)

        def emit(event: Any) -> None:
            for reporter in reporters:
                reporter(event)

        try:
            emit(RunStarted(suite.name, suite.version, target, self.started, len(scenarios)))
            kept = self.exchanges.get(suite.ref, {})
            for result in ordered:
                for event in read_events(kept[result.id]) if result.id in kept else ():
                    emit(event)
                emit(ScenarioFinished(result))
            partial = len(ordered) < len(scenarios)
            extra = life_cycle_facts(suite, certifying=True)
            finished = RunFinished(
                suite.name, suite.version, target, self.started, _now(), summary, ordered,
                interrupted=partial, extra=extra,
            )  # fmt: skip
            emit(finished)
        finally:
            session.close_reporters()
            self.reporter_failures.extend(r.failure for r in reporters if r.failure is not None)
        shutil.rmtree(self.captures(suite), ignore_errors=True)
        self.written[suite.ref] = sorted(folder.glob(f"{run_id}.evidence.zip")) + [folder / "report.html"]
        return folder / "results.json"

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
