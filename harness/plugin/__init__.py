"""The certification suites as a pytest plugin (entry point ``pytest11``: ``netcode``).

Inert unless ``--netcode-suite`` is given: then every scenario of each suite is a
pytest item (``intel-core@1.0::IC-05``), run against ``--netcode-target`` on the
same engine as ``harness run``. See docs/pytest-plugin.md.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from harness.plugin.fixtures import (
    _netcode_transport,
    netcode_catalog,
    netcode_check,
    netcode_expect,
    netcode_reference,
    netcode_target,
)
from harness.plugin.items import SuiteCollector, family_marker, format_families, is_should_warning
from harness.plugin.session import PluginState, plugin_state

__all__ = [
    "_netcode_transport",
    "netcode_catalog",
    "netcode_check",
    "netcode_expect",
    "netcode_reference",
    "netcode_target",
    "pytest_addoption",
    "pytest_configure",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("netcode", "network code certification suites")
    group.addoption(
        "--netcode-suite",
        action="append",
        metavar="SUITE[@VERSION]",
        help="collect every scenario of this suite as a test (repeatable; no version: the current one)",
    )
    group.addoption("--netcode-target", metavar="URL", help="base URL of the system under test")
    group.addoption(
        "--netcode-option",
        action="append",
        metavar="KEY=VALUE",
        help="run option: timeout=SECONDS, concurrency=N, sip-target=URI, listen=HOST:PORT, sut-supplier=NAME, "
        "sut-product=NAME, sut-version=V (the SUT as declared: needed to certify), sign-key=PREFIX.key (signs the "
        "evidence bundle; its password in HARNESS_KEY_PASSWORD), evidence=on|off",
    )
    group.addoption(
        "--netcode-reports",
        default="reports/netcode",
        metavar="DIR",
        help="where each suite's reports are written (DIR/SUITE/: results.json, journal.jsonl, report.html and "
        "the evidence bundle, as harness run writes them)",
    )
    group.addoption(
        "--netcode-containers",
        action="store_true",
        help="netcode_reference(role) starts the role in a container instead of in-process",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "netcode_must: a MUST scenario of a network code suite")
    config.addinivalue_line("markers", "netcode_should: a SHOULD scenario (its failure: a failed item and a warning)")
    suites = config.getoption("netcode_suite")
    if not suites and config.getoption("netcode_target") is None:
        return
    state = plugin_state(config)  # every option checked here: a bad one is one usage error, before collection
    if not suites:
        return
    if state.settings.target is None and not config.getoption("collectonly"):
        raise pytest.UsageError("--netcode-suite needs --netcode-target URL (the base URL of the system under test)")
    state.suites()  # an unknown suite, or a catalog that does not load: a usage error before collection too
    for family in sorted(set(format_families().values())):
        config.addinivalue_line("markers", f"{family_marker(family)}: scenarios exchanging {family} messages")
    if getattr(config.option, "dist", "no") == "load":
        config.option.dist = "loadgroup"  # keep timed and counterpart scenarios of a suite on one worker
    if not hasattr(config, "workerinput"):
        state.signing_key()  # a key that does not load is a usage error before any scenario runs
    config.pluginmanager.register(NetcodeRun(state), "netcode-run")


class NetcodeRun:
    """Hooks active only when suites were asked for."""

    def __init__(self, state: PluginState) -> None:
        self.state = state
        self.should_failed = 0
        self.other_failed = 0

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(
        self, collector: pytest.Collector
    ) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
        """Each suite is a child of the session, collected as pytest collects a test file: its items are
        counted in "collected N items", selected by ``-k``/``-m``/``--lf`` and listed by ``--collect-only``."""
        report: pytest.CollectReport = yield
        if isinstance(collector, pytest.Session) and report.passed:
            report.result.extend(
                SuiteCollector.from_parent(
                    collector, name=suite.ref, nodeid=suite.ref, suite=suite, catalog=self.state.catalog
                )
                for suite in self.state.suites()
            )
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or (report.when == "setup" and report.skipped):
            self.state.record(report)
        if report.failed:
            if report.when == "call" and is_should_warning(report.user_properties):
                self.should_failed += 1
            else:
                self.other_failed += 1

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # Binding rule 9: failed SHOULD scenarios are warnings. Their items fail (never counted as passed, the
        # same as --junit: docs/verdicts.md), but they alone do not fail the session.
        if session.exitstatus == pytest.ExitCode.TESTS_FAILED and self.should_failed and not self.other_failed:
            session.exitstatus = pytest.ExitCode.OK
        try:
            if not hasattr(session.config, "workerinput"):  # the controller (or a plain run) writes the reports
                self.state.write_results()
        finally:
            self.state.close()

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if hasattr(terminalreporter.config, "workerinput"):
            return
        for suite in self.state.suites():
            path = self.state.settings.reports / suite.name / "results.json"
            if path.exists():
                terminalreporter.write_line(f"netcode: {suite.ref} report: {path}")
            for written in self.state.written.get(suite.ref, []):
                if written.exists():
                    terminalreporter.write_line(f"netcode: {suite.ref} wrote {written}")
        if self.should_failed:
            terminalreporter.write_line(
                f"netcode: {self.should_failed} failed SHOULD scenario(s): warnings (binding rule 9), "
                "failed items that alone do not fail the session",
                yellow=True,
            )
        for failure in self.state.reporter_failures:
            terminalreporter.write_line(f"netcode: {failure}", red=True)
