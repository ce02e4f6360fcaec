"""``harness diff A B``: what changed between two runs (bundles or run ids of the store).

Regressions (exit 1): a scenario newly failing or in error, newly skipped or manual, a latency p95
above the threshold. A bundle is read only through the one verifier (``--trust-list``/``--trusted-key``
for signed ones); one that does not verify is a one-line error (exit 2).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from harness.cli.options import add_trust_arguments, trust_from_args
from harness.diff import Diff, compare, load_run
from harness.model import UsageError, not_checked_note
from harness.reporting import printable, printable_json

__all__ = ["register"]


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
    print(printable(f"diff {diff.before.label} -> {diff.after.label} ({diff.after.suite}@{diff.after.version})"))
    for line in diff.versions:
        print(printable(f"  changed: {line}"))
    for title, entries in (
        ("newly failing", diff.newly_failing),
        ("newly skipped or manual", diff.newly_unjudged),
        ("fixed", diff.fixed),
        ("other changes", diff.other_changes),
    ):
        for entry in entries:
            verdicts = f"{entry.get('before')} -> {entry.get('after')}" if "before" in entry else entry["change"]
            print(printable(f"  {title}: {entry['scenario']} ({verdicts})"))
            for when in ("before", "after"):
                for check in entry.get(f"checks_{when}", [])[:5]:
                    hidden = check.get("not_checked")
                    note = f"; {not_checked_note(str(check['check']), check['actual'], hidden)}" if hidden else ""
                    print(
                        printable(
                            f"      {when}: {check['check']}: expected {_short(check['expected'])}, "
                            f"actual {_short(check['actual'])}{note}"
                        )
                    )
    for entry in diff.latency:
        print(
            printable(f"  latency: {entry['scenario']} p95 {entry['p95_before_ms']} ms -> {entry['p95_after_ms']} ms")
        )
    print("REGRESSION" if diff.regressed else "no regression")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("diff", help="what changed between two runs (bundles or run ids)")
    parser.add_argument("before", metavar="A")
    parser.add_argument("after", metavar="B")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--latency-threshold", default="20%", metavar="P", help="p95 growth that regresses (20%%)")
    parser.add_argument("--store", metavar="URL", help="run store for run ids (default: embedded)")
    add_trust_arguments(parser)
    parser.set_defaults(func=_cmd_diff)


def _cmd_diff(args: argparse.Namespace) -> int:
    threshold = _threshold(args.latency_threshold)
    trust = trust_from_args(args)
    diff = compare(load_run(args.before, args.store, trust), load_run(args.after, args.store, trust), threshold)
    if args.json:
        print(printable_json(diff.as_dict(), indent=2, ensure_ascii=False, default=str))
    else:
        _print(diff)
    return 1 if diff.regressed else 0
