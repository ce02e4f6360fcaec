"""What changed between two runs (bundles, through the one verifier, or run ids of the store): ``harness diff``.

Regressions (exit 1): a scenario newly failing or in error, newly skipped or manual, a
latency p95 above the threshold. Fixed scenarios and version changes are listed but are
no regression by themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.evidence import TrustList
from harness.evidence.verified import VerifiedBundle
from harness.model import HarnessError, UsageError

__all__ = ["BundleNotVerified", "Diff", "RunView", "compare", "load_run"]

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


@dataclass(slots=True)
class Diff:
    before: RunView
    after: RunView
    newly_failing: list[dict[str, Any]] = field(default_factory=list)
    fixed: list[dict[str, Any]] = field(default_factory=list)
    newly_unjudged: list[dict[str, Any]] = field(default_factory=list)
    other_changes: list[dict[str, Any]] = field(default_factory=list)
    latency: list[dict[str, Any]] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)

    @property
    def regressed(self) -> bool:
        return bool(self.newly_failing or self.newly_unjudged or self.latency)

    def as_dict(self) -> dict[str, Any]:
        return {
            "before": self.before.label,
            "after": self.after.label,
            "regressed": self.regressed,
            "newly_failing": self.newly_failing,
            "fixed": self.fixed,
            "newly_skipped_or_manual": self.newly_unjudged,
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


def compare(before: RunView, after: RunView, latency_threshold: float = 0.20) -> Diff:
    diff = Diff(before, after)
    if before.suite != after.suite:
        diff.versions.append(f"suite {before.suite} -> {after.suite}")
    if before.version != after.version:
        diff.versions.append(f"suite version {before.version} -> {after.version}")
    if before.document_version != after.document_version:
        diff.versions.append(f"document version {before.document_version} -> {after.document_version}")
    for scenario_id in sorted(set(before.scenarios) | set(after.scenarios)):
        old, new = before.scenarios.get(scenario_id), after.scenarios.get(scenario_id)
        if old is None or new is None:
            diff.other_changes.append(
                {"scenario": scenario_id, "change": "added" if old is None else "removed from the suite"}
            )
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
        elif old["verdict"] != new["verdict"] or (
            new["verdict"] in _BAD and entry["checks_before"] != entry["checks_after"]
        ):
            diff.other_changes.append(entry)
        p_old, p_new = old.get("p95"), new.get("p95")
        if p_old and p_new and p_new > p_old * (1 + latency_threshold):
            diff.latency.append({"scenario": scenario_id, "p95_before_ms": p_old, "p95_after_ms": p_new})
    return diff
