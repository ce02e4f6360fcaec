"""``harness runs list|show|import``: the run store from the command line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from harness.evidence.verified import VerifiedBundle
from harness.store import RunRecord, open_store

__all__ = ["record_bundle", "register"]


def register(subparsers: Any) -> None:
    runs = subparsers.add_parser("runs", help="the run store: list, show and import runs")
    actions = runs.add_subparsers(dest="runs_command", required=True, parser_class=type(runs))
    listing = actions.add_parser("list", help="runs in the store, newest first")
    listing.add_argument("--sut", help="supplier, product, or 'SUPPLIER PRODUCT'")
    listing.add_argument("--suite", help="NAME or NAME@VERSION")
    listing.add_argument("--json", action="store_true")
    show = actions.add_parser("show", help="one run with its scenario verdicts")
    show.add_argument("run", metavar="RUN", help="run id (or a unique prefix)")
    show.add_argument("--json", action="store_true")
    imported = actions.add_parser("import", help="verify bundles and record them in the store")
    imported.add_argument("bundles", nargs="+", type=Path, metavar="BUNDLE")
    from harness.evidence.trust import add_trust_arguments

    add_trust_arguments(imported)
    for parser in (listing, show, imported):
        parser.add_argument("--store", metavar="URL", help="sqlite:///PATH or postgresql://... (default: embedded)")
    listing.set_defaults(func=_cmd_list)
    show.set_defaults(func=_cmd_show)
    imported.set_defaults(func=_cmd_import)


def record_bundle(bundle: VerifiedBundle, store_url: str | None, source: str) -> str:
    """Record a bundle the one verifier found valid; returns the run id (from the signed predicate)."""
    record = RunRecord.from_bundle(bundle, source)
    store = open_store(store_url)
    try:
        store.record(record)
    finally:
        store.close()
    return record.run_id


def _sut(row: dict[str, Any]) -> str:
    if not row.get("sut_product"):
        return "(SUT not declared)"
    return f"{row['sut_supplier']} {row['sut_product']} {row['sut_version']}"


def _cmd_list(args: argparse.Namespace) -> int:
    store = open_store(args.store)
    try:
        rows = store.list(args.sut, args.suite)
    finally:
        store.close()
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    for row in rows:
        summary = json.loads(row["summary"])
        state = "CERTIFIED" if row["certified"] else "not certified"
        print(
            f"{row['run_id']}  {row['started']}  {row['suite']}@{row['suite_version']}  {_sut(row)}  {state}  "
            f"{summary.get('passed', 0)} passed, {summary.get('failed', 0)} failed  [{row['verification']}]"
        )
    if not rows:
        print("no runs in the store" + (" matching" if args.sut or args.suite else ""))
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    store = open_store(args.store)
    try:
        run = store.get(args.run)
    finally:
        store.close()
    if args.json:
        print(json.dumps(run, indent=2, default=str))
        return 0
    print(f"run {run['run_id']} ({run['source']}, {run['verification']}, signer {run['signer'] or 'none'})")
    print(f"  suite {run['suite']}@{run['suite_version']}, SUT {_sut(run)}, started {run['started']}")
    print(f"  bundle sha256 {run['bundle_sha256']}; {'CERTIFIED' if run['certified'] else 'not certified'}")
    for scenario in run["scenarios"]:
        p95 = f"  p95 {scenario['latency_p95_ms']} ms" if scenario["latency_p95_ms"] is not None else ""
        print(f"  {scenario['verdict']:8} {scenario['level']:6} {scenario['scenario']}{p95}")
        for failure in scenario["failures"][:3]:
            print(f"           {failure.get('step')} / {failure.get('check')}: {failure.get('message')}")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from harness.catalog import load_catalog
    from harness.evidence import Verifier
    from harness.evidence.trust import trust_from_args

    verifier = Verifier(load_catalog(), trust_from_args(args))
    failed = 0
    for bundle in args.bundles:
        outcome = verifier.verify(bundle, rejudge=True)
        if not outcome.valid or outcome.bundle is None:
            failed += 1
            print(f"{bundle}: not imported: {outcome.line()}")
            continue
        run_id = record_bundle(outcome.bundle, args.store, "import")
        print(f"{bundle}: imported as run {run_id}")
    return 1 if failed else 0
