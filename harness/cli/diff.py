"""``harness diff A B``: what changed between two runs (bundles or run ids of the store), a gate a lab can use.

Exit 1 (a regression): a MUST scenario newly failing, in error, skipped or manual; or, only with
``--latency-threshold RELATIVE%:FLOORms``, a p95 that grew by more than both. The same changes on a SHOULD
scenario are printed as warnings and counted apart (exit 0). Unchanged failures take one line. A bundle is
read only through the one verifier (``--trust-list``/``--trusted-key`` for signed ones); one that does not
verify is a one-line error (exit 2).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from harness.cli.options import add_trust_arguments, trust_from_args
from harness.diff import Diff, compare, load_run, parse_latency_threshold
from harness.model import not_checked_note
from harness.reporting import printable, printable_json

__all__ = ["register"]

_SHOWN_CHECKS = 3
"""Checks printed per changed scenario (all of them are in --json): the first is the first cause."""


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 100 else text[:99] + "…"


def _mark(entry: dict[str, Any]) -> str:
    return "MUST" if entry.get("level") == "MUST" else "SHOULD"


def _print(diff: Diff) -> None:
    for line in _lines(diff):
        print(printable(line))


def _lines(diff: Diff) -> list[str]:
    out: list[str] = []
    say = out.append  # collected, then printed cleaned
    say(f"diff {diff.before.label} -> {diff.after.label} ({diff.after.suite}@{diff.after.version})")
    for line in diff.versions:
        say(f"  changed: {line}")
    for title, entries in (
        ("newly failing", diff.newly_failing),
        ("newly skipped or manual", diff.newly_unjudged),
        ("fixed", diff.fixed),
        ("other changes", diff.other_changes),
    ):
        for entry in entries:
            if "before" not in entry:
                say(f"  {title}: {entry['scenario']} ({entry['change']})")
                continue
            say(f"  {_mark(entry)} {title}: {entry['scenario']} ({entry['before']} -> {entry['after']})")
            checks = entry["checks_after"] if entry["after"] in ("failed", "error") else entry["checks_before"]
            when = "now" if checks is entry["checks_after"] else "was"
            for check in checks[:_SHOWN_CHECKS]:
                expected, got = _short(check["expected"]), _short(check["actual"])
                hidden = check.get("not_checked")
                note = f"; {not_checked_note(str(check['check']), check['actual'], hidden)}" if hidden else ""
                say(f"      {when}: {check['check']}: expected {expected}, got {got}{note}")
            if len(checks) > _SHOWN_CHECKS:
                say(f"      ... {len(checks) - _SHOWN_CHECKS} more check(s) (--json lists them)")
    if diff.unchanged_failures:
        names = ", ".join(f"{e['scenario']} ({_mark(e)})" for e in diff.unchanged_failures)
        say(f"  unchanged failures ({len(diff.unchanged_failures)}): {names}")
    for entry in diff.latency:
        say(
            f"  {_mark(entry)} latency: {entry['scenario']} p95 {entry['p95_before_ms']} ms -> "
            f"{entry['p95_after_ms']} ms (threshold {diff.latency_threshold})"
        )
    say(diff.summary())
    return out


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("diff", help="what changed between two runs (bundles or run ids): a gate")
    parser.add_argument("before", metavar="A")
    parser.add_argument("after", metavar="B")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--latency-threshold",
        metavar="REL%:FLOORms",
        help="compare p95 latencies: a regression when one grows by more than REL%% AND more than FLOOR ms "
        "(e.g. 50%%:5ms); without it latency is not compared",
    )
    parser.add_argument("--store", metavar="URL", help="run store for run ids (default: embedded)")
    add_trust_arguments(parser)
    parser.set_defaults(func=_cmd_diff)


def _cmd_diff(args: argparse.Namespace) -> int:
    threshold = parse_latency_threshold(args.latency_threshold) if args.latency_threshold is not None else None
    trust = trust_from_args(args)
    diff = compare(load_run(args.before, args.store, trust), load_run(args.after, args.store, trust), threshold)
    if args.json:
        print(printable_json(diff.as_dict(), indent=2, ensure_ascii=False, default=str))
    else:
        _print(diff)
    return 1 if diff.regressed else 0
