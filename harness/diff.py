"""``harness diff A B``: what changed between two runs (bundles or run ids of the store).

Regressions (exit 1): a scenario newly failing or in error, newly skipped or manual, a
latency p95 above the threshold. Fixed scenarios and version changes are listed but are
no regression by themselves.
"""

from __future__ import annotations

import argparse
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.model import UsageError

__all__ = ["RunView", "compare", "load_run", "register"]

_BAD = ("failed", "error")
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


def _from_results(label: str, results: dict[str, Any], document: str | None) -> RunView:
    suite = results.get("suite") or {}
    scenarios = {}
    for scenario in results.get("scenarios") or []:
        latency = scenario.get("latency_ms") or {}
        scenarios[str(scenario.get("id"))] = {
            "verdict": str(scenario.get("verdict")),
            "level": str(scenario.get("level")),
            "failures": scenario.get("failures") or [],
            "p95": latency.get("p95"),
        }
    return RunView(label, str(suite.get("name")), str(suite.get("version")), document, scenarios)


def load_run(reference: str, store_url: str | None) -> RunView:
    """A bundle file, or a run id (prefix) of the store."""
    path = Path(reference)
    if path.is_file():
        try:
            with zipfile.ZipFile(path) as archive:
                results = json.loads(archive.read("results.json"))
                statement = json.loads(archive.read("statement.json"))
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise UsageError(f"{reference}: not a readable evidence bundle ({exc})") from None
        suite = (statement.get("predicate") or {}).get("suite") or {}
        document = suite.get("document") or suite.get("document_version")  # evidence 1.1 names it "document"
        return _from_results(reference, results, document)
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
    return [{"check": f.get("check"), "expected": f.get("expected"), "actual": f.get("actual")} for f in failures]


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


def _threshold(text: str) -> float:
    value = text.strip().removesuffix("%")
    try:
        number = float(value)
    except ValueError:
        raise UsageError(f"bad --latency-threshold {text!r}: expected a percentage such as 20%") from None
    if number < 0:
        raise UsageError("--latency-threshold must not be negative")
    return number / 100


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 100 else text[:99] + "…"


def _print(diff: Diff) -> None:
    print(f"diff {diff.before.label} -> {diff.after.label} ({diff.after.suite}@{diff.after.version})")
    for line in diff.versions:
        print(f"  changed: {line}")
    for title, entries in (
        ("newly failing", diff.newly_failing),
        ("newly skipped or manual", diff.newly_unjudged),
        ("fixed", diff.fixed),
        ("other changes", diff.other_changes),
    ):
        for entry in entries:
            verdicts = f"{entry.get('before')} -> {entry.get('after')}" if "before" in entry else entry["change"]
            print(f"  {title}: {entry['scenario']} ({verdicts})")
            for when in ("before", "after"):
                for check in entry.get(f"checks_{when}", [])[:5]:
                    print(
                        f"      {when}: {check['check']}: expected {_short(check['expected'])}, "
                        f"actual {_short(check['actual'])}"
                    )
    for entry in diff.latency:
        print(f"  latency: {entry['scenario']} p95 {entry['p95_before_ms']} ms -> {entry['p95_after_ms']} ms")
    print("REGRESSION" if diff.regressed else "no regression")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("diff", help="what changed between two runs (bundles or run ids)")
    parser.add_argument("before", metavar="A")
    parser.add_argument("after", metavar="B")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--latency-threshold", default="20%", metavar="P", help="p95 growth that regresses (20%%)")
    parser.add_argument("--store", metavar="URL", help="run store for run ids (default: embedded)")
    parser.set_defaults(func=_cmd_diff)


def _cmd_diff(args: argparse.Namespace) -> int:
    threshold = _threshold(args.latency_threshold)
    diff = compare(load_run(args.before, args.store), load_run(args.after, args.store), threshold)
    if args.json:
        print(json.dumps(diff.as_dict(), indent=2, ensure_ascii=False, default=str))
    else:
        _print(diff)
    return 1 if diff.regressed else 0
