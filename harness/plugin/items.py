"""Scenarios of a suite as pytest items: one collector per suite version, one item per scenario."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.catalog import Catalog
from harness.extensions import FAMILIES
from harness.model import CheckFailure, Level, Scenario, ScenarioResult, Suite, Verdict
from harness.reporting import failure_line
from harness.runner.engine import typed_scenarios

__all__ = [
    "RESULT_PROPERTY",
    "SHOULD_FAILED",
    "ScenarioFailed",
    "ScenarioItem",
    "SuiteCollector",
    "failure_text",
    "family_marker",
    "format_families",
    "is_should_warning",
    "result_from_record",
]

RESULT_PROPERTY = "netcode_result"
"""The user property that carries an item's scenario result to the controller (xdist) and to results.json."""


class ScenarioFailed(Exception):
    """A scenario did not pass (failed, MUST or SHOULD, or could not be judged); the text is the harness's own."""


SHOULD_FAILED = "WARNING: SHOULD scenario failed (binding rule 9: a warning; certification needs only MUST scenarios)"
"""The first line of a failed SHOULD item's report."""


def family_marker(family: str) -> str:
    return "netcode_" + family.replace("-", "_").replace(".", "_")


def _formats_used(value: Any, found: set[str]) -> None:
    """Format ids a scenario names: sample references, ``as:`` renditions and ``format:`` checks."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "sample" and isinstance(item, str) and item.count("/") >= 3:
                found.add("/".join(item.split("/")[:2]))
            elif key in ("as", "format") and isinstance(item, str) and item.count("/") == 1:
                found.add(item)
            else:
                _formats_used(item, found)
    elif isinstance(value, list):
        for item in value:
            _formats_used(item, found)


def format_families() -> dict[str, str]:
    """Format id -> the name of the format family (the registry's) that covers it."""
    return {format_id: name for name, family in FAMILIES.items() for format_id in family.formats}


def scenario_families(scenario: Scenario) -> list[str]:
    """The families of the formats a scenario exchanges (its markers ``netcode_<family>``)."""
    formats: set[str] = set()
    _formats_used([step.raw for step in scenario.steps], formats)
    known = format_families()
    return sorted({known[format_id] for format_id in formats if format_id in known})


def runs_alone(scenario: Scenario, suite: Suite) -> bool:
    """Timed scenarios and those sharing the counterpart must not run beside others of their suite."""
    if scenario.serial:
        return True
    return any(step.kind in ("trigger", "await") or "timing" in step.raw for step in scenario.steps)


def failure_text(result: ScenarioResult) -> str:
    """What ``harness run`` prints for a scenario that did not pass: its line, then each failed check."""
    lines = [f"{result.id} {result.level} {result.verdict}: {result.title}"]
    lines.extend("  " + failure_line(failure) for failure in result.failures)
    return "\n".join(lines)


def is_should_warning(user_properties: Iterable[tuple[str, object]]) -> bool:
    """Whether an item's report (its user properties) is that of a failed SHOULD scenario: a warning."""
    for name, value in user_properties:
        if name == RESULT_PROPERTY and isinstance(value, str):
            record = json.loads(value)
            return bool(record.get("level") == "SHOULD" and record.get("verdict") == "failed")
    return False


class SuiteCollector(pytest.Collector):
    """A suite version (``intel-core@1.0``); its children are its scenarios."""

    def __init__(self, *, suite: Suite, catalog: Catalog, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite = suite
        self.catalog = catalog

    def collect(self) -> Iterator[ScenarioItem]:
        for scenario in typed_scenarios(self.suite):
            item = ScenarioItem.from_parent(self, name=scenario.id, scenario=scenario)
            item.add_marker("netcode_must" if scenario.level == Level.MUST else "netcode_should")
            for family in scenario_families(scenario):
                item.add_marker(family_marker(family))
            if runs_alone(scenario, self.suite):
                item.add_marker(pytest.mark.xdist_group(self.suite.ref))
            yield item

    def reportinfo(self) -> tuple[str, int | None, str]:
        return self.suite.directory, None, self.suite.ref


class ScenarioItem(pytest.Item):
    """One scenario; running it replays its steps against the target through the suite's run."""

    def __init__(self, *, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.title = scenario.title

    @property
    def suite(self) -> Suite:
        assert isinstance(self.parent, SuiteCollector)
        return self.parent.suite

    def runtest(self) -> None:
        from harness.plugin.session import plugin_state

        result, exchanges = plugin_state(self.config).run(self.suite, self.scenario)
        record = _result_record(self.suite, result, exchanges)
        self.user_properties.append((RESULT_PROPERTY, json.dumps(record, default=str)))
        if result.verdict == Verdict.PASSED:
            return
        # The one mapping (docs/verdicts.md), as --junit writes it: manual and skipped are pytest skips told
        # apart by the reason's first word; a failed SHOULD fails its item (never passed), its text a WARNING.
        # Not a Python warning: under a user's ``filterwarnings = error`` it would become a traceback.
        if result.verdict in (Verdict.MANUAL, Verdict.SKIPPED):
            reason = result.failures[0].message if result.failures else "needs an operator"
            pytest.skip(f"{result.verdict}: {reason}")
        if result.level == Level.SHOULD and result.verdict == Verdict.FAILED:
            raise ScenarioFailed(SHOULD_FAILED + "\n" + failure_text(result))
        raise ScenarioFailed(failure_text(result))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioFailed):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[str, int | None, str]:
        return self.suite.directory, None, f"{self.suite.ref}::{self.name} {self.title}"


def _result_record(suite: Suite, result: ScenarioResult, exchanges: Path | None) -> dict[str, Any]:
    """What the controller needs of an item (sent across by xdist): the result and where its exchanges are."""
    where = {"exchanges": str(exchanges)} if exchanges is not None else {}
    return {"suite": suite.ref, **result.as_dict(), "latencies_ms": list(result.latencies_ms), **where}


def result_from_record(record: dict[str, Any]) -> ScenarioResult:
    return ScenarioResult(
        id=record["id"],
        title=record["title"],
        level=Level(record["level"]),
        verdict=Verdict(record["verdict"]),
        duration_ms=float(record["duration_ms"]),
        failures=tuple(CheckFailure.from_dict(f) for f in record["failures"]),
        exchanges=len(record["latencies_ms"]),
        latencies_ms=tuple(record["latencies_ms"]),
    )
