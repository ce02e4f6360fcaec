"""What changed between two runs (bundles, through the one verifier, or run ids of the store): ``harness diff``.

Regressions (exit 1): a MUST scenario newly failing or in error, or newly skipped or manual; a latency p95
above ``--latency-threshold`` (relative AND absolute, only when given). The same changes on a SHOULD scenario
are warnings, counted apart. Fixed scenarios, unchanged failures and version changes are listed but are no
regression by themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.evidence import TrustList
from harness.evidence.verified import VerifiedBundle
from harness.model import HarnessError, UsageError

__all__ = [
    "BundleNotVerified",
    "Diff",
    "LatencyThreshold",
    "RunView",
    "compare",
    "load_run",
    "parse_latency_threshold",
]

_BAD = ("failed", "error")


class BundleNotVerified(HarnessError):
    """A bundle given to diff that the verifier does not pass: one line, exit 2 (diff's 1 means a regression)."""

    exit_code = 2


_UNJUDGED = ("skipped", "manual")


@dataclass(slots=True, frozen=True)
class RunView:
    label: str
    suite: str
    version: str
    document_version: str | None
    scenarios: dict[str, dict[str, Any]]
    """id -> {verdict, level, failures: [{step, check, expected, actual, message}], p95}"""


@dataclass(slots=True, frozen=True)
class LatencyThreshold:
    """A p95 regresses only when it grows by more than ``relative`` (0.5 = 50%) AND by more than ``floor_ms``.

    Both are needed for a gate that does not flap: a relative bound alone flags 9 ms -> 11 ms on a
    loaded machine; an absolute bound alone misses a slow scenario doubling.
    """

    relative: float
    floor_ms: float

    def regressed(self, before: float, after: float) -> bool:
        return after > before * (1 + self.relative) and after - before > self.floor_ms

    def __str__(self) -> str:
        return f"{self.relative * 100:g}%:{self.floor_ms:g}ms"


_THRESHOLD = re.compile(r"\s*(?P<rel>\d+(?:\.\d+)?)\s*%\s*:\s*(?P<abs>\d+(?:\.\d+)?)\s*ms\s*")


def parse_latency_threshold(text: str) -> LatencyThreshold:
    """``P%:Nms`` (e.g. ``50%:5ms``): relative growth AND absolute growth of the p95, both exceeded to regress."""
    match = _THRESHOLD.fullmatch(text)
    if match is None:
        raise UsageError(
            f"bad --latency-threshold {text!r}: expected RELATIVE%:FLOORms, e.g. 50%:5ms "
            "(a p95 regresses only when it grows by more than both)"
        )
    return LatencyThreshold(float(match["rel"]) / 100, float(match["abs"]))


@dataclass(slots=True)
class Diff:
    """What changed. ``must_*``/``should_*`` split by the scenario's level in the *after* run's issued suite.

    Only MUST changes (and latency, when a threshold is given) fail the gate: a newly failing SHOULD
    scenario is a warning, as it is in the run's own verdict (it never takes a certificate away).
    """

    before: RunView
    after: RunView
    latency_threshold: LatencyThreshold | None = None
    newly_failing: list[dict[str, Any]] = field(default_factory=list)
    fixed: list[dict[str, Any]] = field(default_factory=list)
    newly_unjudged: list[dict[str, Any]] = field(default_factory=list)
    unchanged_failures: list[dict[str, Any]] = field(default_factory=list)
    """Failing (or in error) before and after with the same verdict: listed on one line, checks in --json."""
    other_changes: list[dict[str, Any]] = field(default_factory=list)
    latency: list[dict[str, Any]] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[dict[str, Any]]:
        """Newly failing or newly unjudged MUST scenarios: what a lab's gate refuses."""
        return [e for e in self.newly_failing + self.newly_unjudged if e["level"] == "MUST"]

    @property
    def warnings(self) -> list[dict[str, Any]]:
        """The same changes on SHOULD scenarios: shown, counted apart, never failing the gate."""
        return [e for e in self.newly_failing + self.newly_unjudged if e["level"] != "MUST"]

    @property
    def regressed(self) -> bool:
        return bool(self.regressions or self.latency)

    def counts(self) -> dict[str, int]:
        return {
            "must_regressions": len(self.regressions),
            "should_regressions": len(self.warnings),
            "latency_regressions": len(self.latency),
            "fixed": len(self.fixed),
            "unchanged_failures": len(self.unchanged_failures),
            "other_changes": len(self.other_changes),
        }

    def summary(self) -> str:
        """One line a log or a CI step shows: the counts, then the gate's answer."""
        c = self.counts()
        latency = (
            f"{c['latency_regressions']} latency regression(s) (threshold {self.latency_threshold})"
            if self.latency_threshold is not None
            else "latency not compared (no --latency-threshold)"
        )
        return (
            f"summary: {c['must_regressions']} MUST regression(s), {c['should_regressions']} SHOULD regression(s), "
            f"{latency}, {c['fixed']} fixed, {c['unchanged_failures']} unchanged failure(s), "
            f"{c['other_changes']} other change(s): {'REGRESSION' if self.regressed else 'no regression'}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "before": self.before.label,
            "after": self.after.label,
            "regressed": self.regressed,
            "counts": self.counts(),
            "latency_threshold": str(self.latency_threshold) if self.latency_threshold is not None else None,
            "newly_failing": self.newly_failing,
            "fixed": self.fixed,
            "newly_skipped_or_manual": self.newly_unjudged,
            "unchanged_failures": self.unchanged_failures,
            "other_changes": self.other_changes,
            "latency_regressions": self.latency,
            "version_changes": self.versions,
        }


def _from_bundle(label: str, bundle: VerifiedBundle) -> RunView:
    latency: dict[str, Any] = {}
    listed = bundle.results.get("scenarios")
    for entry in listed if isinstance(listed, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("latency_ms"), dict):
            latency[str(entry.get("id"))] = entry["latency_ms"].get("p95")
    scenarios = {
        s.id: {
            "verdict": s.verdict,
            "level": s.level,
            "failures": [dict(f) for f in s.failures],
            "p95": latency.get(s.id) if isinstance(latency.get(s.id), int | float) else None,
        }
        for s in bundle.scenarios
    }
    return RunView(label, bundle.suite, bundle.suite_version, bundle.document or None, scenarios)


def load_run(reference: str, store_url: str | None, trust: TrustList | None = None) -> RunView:
    """A bundle file (through the one verifier; refused unless it verifies), or a run id (prefix) of the store.

    Signed bundles verify only with ``trust`` (nothing is trusted implicitly).
    """
    path = Path(reference)
    if path.is_file():
        from harness.catalog import load_catalog
        from harness.evidence import Verifier

        outcome = Verifier(load_catalog(), trust or TrustList.empty()).verify(path, rejudge=False)
        if not outcome.valid or outcome.bundle is None:
            raise BundleNotVerified(f"{reference}: {outcome.line()} (diff compares only bundles that verify)")
        return _from_bundle(reference, outcome.bundle)
    if reference.endswith(".zip"):
        raise UsageError(f"{reference}: no such file")
    from harness.store import open_store

    store = open_store(store_url)
    try:
        run = store.get(reference)
    finally:
        store.close()
    scenarios = {
        s["scenario"]: {
            "verdict": s["verdict"],
            "level": s["level"],
            "failures": s["failures"],
            "p95": s["latency_p95_ms"],
        }
        for s in run["scenarios"]
    }
    return RunView(run["run_id"], run["suite"], run["suite_version"], run["document_version"], scenarios)


def _checks(failures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The failed checks as diff compares and prints them: one per cause, with the checks a wrong status kept
    from running (``not_checked``, docs/verdicts.md) when there are any."""
    return [
        {
            "check": f.get("check"),
            "expected": f.get("expected"),
            "actual": f.get("actual"),
            **(
                {"not_checked": f["not_checked"]} if isinstance(f.get("not_checked"), list) and f["not_checked"] else {}
            ),
        }
        for f in failures
    ]


def compare(before: RunView, after: RunView, latency_threshold: LatencyThreshold | None = None) -> Diff:
    """Scenario by scenario; latency only with a threshold (two runs of one correct supplier never differ here)."""
    if before.suite != after.suite:  # nothing to gate on: every scenario would be "added" or "removed"
        suites = f"{before.label} is a run of {before.suite}, {after.label} of {after.suite}"
        raise UsageError(f"{suites}: diff compares runs of one suite")
    diff = Diff(before, after, latency_threshold)
    if before.version != after.version:
        diff.versions.append(f"suite version {before.version} -> {after.version}")
    if before.document_version != after.document_version:
        diff.versions.append(f"document version {before.document_version} -> {after.document_version}")
    for scenario_id in sorted(set(before.scenarios) | set(after.scenarios)):
        old, new = before.scenarios.get(scenario_id), after.scenarios.get(scenario_id)
        if new is None:
            diff.other_changes.append({"scenario": scenario_id, "change": "removed from the suite"})
            continue
        if old is None:  # added by a newer suite version: not passing it is as new as a fresh failure
            entry = {"scenario": scenario_id, "level": new["level"], "before": "absent", "after": new["verdict"]}
            entry |= {"checks_before": [], "checks_after": _checks(new["failures"])}
            if new["verdict"] in _BAD:
                diff.newly_failing.append(entry)
            elif new["verdict"] in _UNJUDGED:
                diff.newly_unjudged.append(entry)
            else:
                diff.other_changes.append({"scenario": scenario_id, "change": "added"})
            continue
        entry = {
            "scenario": scenario_id,
            "level": new["level"],
            "before": old["verdict"],
            "after": new["verdict"],
            "checks_before": _checks(old["failures"]),
            "checks_after": _checks(new["failures"]),
        }
        if new["verdict"] in _BAD and old["verdict"] not in _BAD:
            diff.newly_failing.append(entry)
        elif old["verdict"] in _BAD and new["verdict"] == "passed":
            diff.fixed.append(entry)
        elif new["verdict"] in _UNJUDGED and old["verdict"] not in _UNJUDGED:
            diff.newly_unjudged.append(entry)
        elif new["verdict"] in _BAD and old["verdict"] == new["verdict"]:
            diff.unchanged_failures.append(entry)
        elif old["verdict"] != new["verdict"]:
            diff.other_changes.append(entry)
        p_old, p_new = old.get("p95"), new.get("p95")
        if latency_threshold is not None and p_old and p_new and latency_threshold.regressed(p_old, p_new):
            diff.latency.append(
                {"scenario": scenario_id, "level": new["level"], "p95_before_ms": p_old, "p95_after_ms": p_new}
            )
    return diff
