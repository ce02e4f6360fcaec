"""``harness runs list|show|import|registrations`` and ``harness certificates list|withdraw|body-key``.

The run store from the command line. Registering (``runs import``) goes through the one verifier
with re-judging; the store keeps every attempt with the verifier's line, the signer and its own time.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.catalog import load_catalog
from harness.certification import Certificate, certificate_status, parse_product, suite_versions
from harness.certification.withdrawal import WithdrawalError, sign_withdrawal
from harness.cli.options import add_trust_arguments, trust_from_args
from harness.evidence import TrustList, Verifier
from harness.evidence.keys import DEFAULT_PASSWORD_ENV, load_private, password_from_env
from harness.model import UsageError, not_checked_note
from harness.register.lifecycle import merged_life
from harness.reporting import printable as printable_text
from harness.reporting import printable_json

if TYPE_CHECKING:  # the store (SQLAlchemy, Alembic) is imported by the commands that open one, not by every command
    from harness.store import Registration, Store

__all__ = [
    "add_store_argument",
    "bundle_paths",
    "printable",
    "read_verified_bytes",
    "record_run",
    "register",
    "register_bundles",
    "store_of",
]


def add_store_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="URL",
        help="sqlite:///PATH or postgresql://... (default: $HARNESS_STORE, else the same embedded store as 'run')",
    )


def printable(text: object) -> str:
    """``str(text)`` as the console prints it, through the one escaping (:func:`harness.reporting.printable`):
    names, dates, ids and reasons come from bundles, never trusted to be clean."""
    return printable_text(str(text))


def register(subparsers: Any) -> None:
    runs = subparsers.add_parser("runs", help="the run store: list, show and import (register) runs")
    actions = runs.add_subparsers(dest="runs_command", required=True, parser_class=type(runs))
    listing = actions.add_parser("list", help="runs in the store, newest first")
    listing.add_argument("--sut", help="SUPPLIER/PRODUCT@VERSION, or a supplier or product name")
    listing.add_argument("--suite", help="NAME or NAME@VERSION")
    listing.add_argument("--json", action="store_true")
    show = actions.add_parser("show", help="one run with its scenario verdicts")
    show.add_argument("run", metavar="RUN", help="run id (or a unique prefix)")
    show.add_argument("--json", action="store_true")
    imported = actions.add_parser(
        "import", help="register bundles through the verifier (re-judged); certificates are issued here"
    )
    imported.add_argument("bundles", nargs="+", type=Path, metavar="BUNDLE|DIR")
    add_trust_arguments(imported)
    attempts = actions.add_parser("registrations", help="every registration attempt, newest first")
    attempts.add_argument("--json", action="store_true")
    for parser in (listing, show, imported, attempts):
        add_store_argument(parser)
    listing.set_defaults(func=_cmd_list)
    show.set_defaults(func=_cmd_show)
    imported.set_defaults(func=_cmd_import)
    attempts.set_defaults(func=_cmd_registrations)

    certs = subparsers.add_parser("certificates", help="certificates issued at registration, and their withdrawal")
    verbs = certs.add_subparsers(dest="certificates_command", required=True, parser_class=type(certs))
    cert_list = verbs.add_parser("list", help="every certificate with its status and regressions")
    cert_list.add_argument("--json", action="store_true")
    withdraw = verbs.add_parser("withdraw", help="withdraw a certificate by a record signed with the body's key")
    withdraw.add_argument("certificate", metavar="ID", help="certificate id (or a unique prefix)")
    withdraw.add_argument("--reason", required=True, metavar="TEXT")
    withdraw.add_argument("--body-key", required=True, type=Path, metavar="PREFIX.key")
    withdraw.add_argument(
        "--password-env",
        default=DEFAULT_PASSWORD_ENV,
        metavar="VAR",
        help=f"variable holding the key's password (default {DEFAULT_PASSWORD_ENV})",
    )
    body = verbs.add_parser("body-key", help="pin the certifying body's public key in the store (once)")
    body.add_argument("public_key", type=Path, metavar="PREFIX.pub")
    for parser in (cert_list, withdraw, body):
        add_store_argument(parser)
    cert_list.set_defaults(func=_cmd_certificates)
    withdraw.set_defaults(func=_cmd_withdraw)
    body.set_defaults(func=_cmd_body_key)


def store_of(args: argparse.Namespace) -> Store:
    from harness.store import open_store

    return open_store(getattr(args, "store", None))


def bundle_paths(arguments: Iterable[Path]) -> Iterator[Path]:
    """Each BUNDLE as given, and every ``*.zip`` under each DIR (sorted): a folder is an import source."""
    for argument in arguments:
        if argument.is_dir():
            yield from sorted(p for p in argument.rglob("*.zip") if p.is_file())
        else:
            yield argument


def read_verified_bytes(path: Path) -> bytes | None:
    """The file's bytes, bounded (None when unreadable or over the store's limit: the store refuses it)."""
    from harness.store import MAX_BUNDLE_BYTES

    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BUNDLE_BYTES + 1)
    except OSError:
        return None
    return data if len(data) <= MAX_BUNDLE_BYTES else None


def register_bundles(store: Store, verifier: Verifier, paths: Sequence[Path]) -> list[tuple[Path, Registration]]:
    """Verify (re-judging) and register each bundle; one registration per path, refused or not, in order."""
    done = []
    for path in paths:
        outcome = verifier.verify(path, rejudge=True)
        data = read_verified_bytes(path) if outcome.valid else None
        done.append((path, store.register(outcome, str(path), data)))
    return done


def record_run(bundle: Path, trust: TrustList, store_url: str | None) -> str | None:
    """Keep a run the harness just made in the store (a run, never a certificate); the run id, or None.

    The run's own bundle goes through the verifier like any other (``trust`` holds the run's own key,
    if it signed). One that does not verify (a suite version that is not issued, added with
    ``--catalog``) is no evidence: the store keeps only what the verifier accepts, and the run says so.
    """
    outcome = Verifier(load_catalog(), trust).verify(bundle, rejudge=False)
    if not outcome.valid or outcome.bundle is None:
        print(
            f"harness: the run is not recorded in the store: its evidence bundle is {printable(outcome.line())}",
            file=sys.stderr,
        )
        return None
    verified = outcome.bundle
    from harness.store import RunRecord, open_store

    store = open_store(store_url)
    try:
        store.record(RunRecord(verified, "recorded" if verified.signer else "unsigned", "run"))
    finally:
        store.close()
    return verified.run_id


def _sut(row: dict[str, Any]) -> str:
    if not row.get("sut_product"):
        return "(SUT not declared)"
    return printable(f"{row['sut_supplier']}/{row['sut_product']}@{row['sut_version']}")


def _cmd_list(args: argparse.Namespace) -> int:
    if args.sut and "/" in args.sut:
        parse_product(args.sut)  # the one spelling, checked (a usage error names it)
    store = store_of(args)
    try:
        rows = store.list(args.sut, args.suite)
    finally:
        store.close()
    if args.json:
        print(printable_json(rows, indent=2, default=str))
        return 0
    for row in rows:
        summary = json.loads(row["summary"])
        state = "certifies" if row["certified"] else "does not certify"
        print(
            printable(
                f"{row['run_id']}  {row['started']}  {row['suite']}@{row['suite_version']}  "
                f"{_sut(row)}  {state}  {summary.get('passed', 0)} passed, {summary.get('failed', 0)} failed  "
                f"[{row['verification']}]"
            )
        )
    if not rows:
        print("no runs in the store" + (" matching" if args.sut or args.suite else ""))
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    store = store_of(args)
    try:
        run = store.get(args.run)
    finally:
        store.close()
    if args.json:
        print(printable_json(run, indent=2, default=str))
        return 0
    print(printable(f"run {run['run_id']} ({run['source']}, {run['verification']}, signer {run['signer'] or 'none'})"))
    print(printable(f"  suite {run['suite']}@{run['suite_version']}, SUT {_sut(run)}, started {run['started']}"))
    print(f"  bundle sha256 {run['bundle_sha256']}; {'certifies' if run['certified'] else 'does not certify'}")
    for scenario in run["scenarios"]:
        p95 = f"  p95 {scenario['latency_p95_ms']} ms" if scenario["latency_p95_ms"] is not None else ""
        print(printable(f"  {scenario['verdict']:8} {scenario['level']:6} {scenario['scenario']}{p95}"))
        for failure in scenario["failures"][:3]:
            where = f"{failure.get('step')} / {failure.get('check')}: {failure.get('message')}"
            hidden = failure.get("not_checked")
            if isinstance(hidden, list) and hidden:  # the first cause names what it kept from running
                where += f"; {not_checked_note(str(failure.get('check')), failure.get('actual'), hidden)}"
            print(f"           {printable(where)}")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    paths = list(bundle_paths(args.bundles))
    missing = [p for p in args.bundles if not p.exists()]
    if missing:
        raise UsageError(f"{missing[0]}: no such file or folder")
    if not paths:
        raise UsageError("no bundle to import (the folders hold no *.zip)")
    verifier = Verifier(load_catalog(), trust_from_args(args), registering=True)
    store = store_of(args)
    try:
        done = register_bundles(store, verifier, paths)
    finally:
        store.close()
    refused = 0
    for path, registration in done:
        if not registration.accepted:
            refused += 1
        print(f"{printable(path)}: {printable(registration.line)}")
    print(f"{len(done) - refused} registered, {refused} refused", file=sys.stderr)
    return 1 if refused else 0


def _cmd_registrations(args: argparse.Namespace) -> int:
    store = store_of(args)
    try:
        rows = store.registrations()
    finally:
        store.close()
    if args.json:
        print(printable_json(rows, indent=2, default=str))
        return 0
    for row in rows:
        state = "accepted" if row["accepted"] else "REFUSED"
        signer = f" signer {row['signer_keyid'][:16]} ({row['signer_holder']})" if row["signer_keyid"] else ""
        print(printable(f"{row['at']}  {state:8} {row['source']}: {row['result']}{signer}"))
    if not rows:
        print("no registration attempts in the store")
    return 0


def _certificate_dict(certificate: Certificate, status: str) -> dict[str, Any]:
    withdrawal = certificate.withdrawal
    return {
        "id": certificate.id,
        "product": certificate.product.ref,
        "suite": certificate.suite,
        "version": certificate.suite_version,
        "document": certificate.document,
        "roles": list(certificate.roles) or None,
        "status": status,
        "issued": certificate.issued,
        "run": certificate.run_id,
        "bundle_sha256": certificate.bundle_sha256,
        "signer": {"keyid": certificate.signer.keyid, "holder": certificate.signer.holder},
        "withdrawn": None if withdrawal is None else {"reason": withdrawal.reason, "at": withdrawal.at},
        "regressions": [
            {"run": r.run_id, "registered": r.registered, "failed": list(r.failed), "signer": r.signer.keyid}
            for r in certificate.regressions
        ],
    }


def _cmd_certificates(args: argparse.Namespace) -> int:
    life = {(s.name, s.version): s.status for s in suite_versions(load_catalog())}
    store = store_of(args)
    try:
        held = store.evidence().certificates
        life = merged_life(life, store.suite_life())  # the body's published life-cycle changes
    finally:
        store.close()
    listed = [_certificate_dict(c, str(certificate_status(c, life.get((c.suite, c.suite_version))))) for c in held]
    if args.json:
        print(printable_json({"certificates": listed}, indent=2, ensure_ascii=False))
        return 0
    for entry in listed:
        print(
            printable(
                f"{entry['id']}  {entry['status']:<10} {entry['product']}  "
                f"{entry['suite']}@{entry['version']}"
                + (f" (roles: {', '.join(entry['roles'])})" if entry["roles"] else "")
                + f"  issued {entry['issued']}  run {entry['run']}"
            )
        )
        if entry["withdrawn"]:
            print(printable(f"    withdrawn {entry['withdrawn']['at']}: {entry['withdrawn']['reason']}"))
        for regression in entry["regressions"]:
            failed = ", ".join(regression["failed"]) or "not certified"
            print(
                printable(
                    f"    regression: run {regression['run']} registered {regression['registered']} failed {failed}"
                )
            )
    if not listed:
        print("no certificates in the store")
    return 0


def _cmd_withdraw(args: argparse.Namespace) -> int:
    password = password_from_env(args.password_env, required=False)
    key = load_private(args.body_key, password)
    store = store_of(args)
    try:
        certificate = store.certificate(args.certificate)
        try:
            record = sign_withdrawal(certificate, args.reason, store.clock(), key)
        except WithdrawalError as exc:
            raise UsageError(f"--reason: {exc}") from None
        withdrawal = store.withdraw(certificate.id, record)
    finally:
        store.close()
    print(f"certificate {certificate.id} withdrawn {withdrawal.at}: {printable(withdrawal.reason)}")
    return 0


def _cmd_body_key(args: argparse.Namespace) -> int:
    try:
        pem = args.public_key.read_bytes()[: 64 << 10]
    except OSError as exc:
        raise UsageError(f"{args.public_key}: cannot read ({exc.strerror})") from None
    store = store_of(args)
    try:
        ident, new = store.pin_body_key(pem)
    finally:
        store.close()
    print(f"certifying body key {ident} " + ("pinned in the store" if new else "is the one pinned already"))
    return 0
