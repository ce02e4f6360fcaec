"""The reporter registry: the built-in factories are entry points, enabled by the run's options."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

from harness.catalog import Catalog
from harness.reporting import ConsoleReporter, JournalReporter, JUnitReporter, Redactor, ResultsJsonReporter
from harness.reporting.registry import GROUP, ReporterContext, load_reporters


def context(catalog: Catalog, tmp_path: Path, **options: object) -> ReporterContext:
    return ReporterContext(tmp_path, Redactor(), catalog, catalog.suite("intel-core"), options)


def test_builtin_reporters_are_entry_points() -> None:
    names = {ep.name for ep in entry_points(group=GROUP)}
    assert {"console", "journal", "results-json", "junit"} <= names


def test_all_enabled_in_a_stable_order(catalog: Catalog, tmp_path: Path) -> None:
    listeners = load_reporters(context(catalog, tmp_path, junit=tmp_path / "j.xml"))
    kinds = [type(listener) for listener in listeners]
    for listener in listeners:
        if isinstance(listener, JournalReporter):
            listener.close()
    assert kinds[:4] == [ConsoleReporter, JournalReporter, ResultsJsonReporter, JUnitReporter]


def test_options_switch_reporters_off(catalog: Catalog, tmp_path: Path) -> None:
    listeners = load_reporters(context(catalog, tmp_path, console=False))
    kinds = {type(listener) for listener in listeners}
    for listener in listeners:
        if isinstance(listener, JournalReporter):
            listener.close()
    assert ConsoleReporter not in kinds and JUnitReporter not in kinds
    assert {JournalReporter, ResultsJsonReporter} <= kinds
