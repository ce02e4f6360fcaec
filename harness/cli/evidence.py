"""``harness keys generate``, ``harness keys trust-list add``, ``harness verify`` and the evidence options of
``harness run``. Every bundle is judged by the one verifier (:class:`harness.evidence.Verifier`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.catalog import load_catalog
from harness.cli.options import add_trust_arguments, trust_from_args
from harness.evidence import OutcomeKind, TrustList, Verifier
from harness.evidence.bundle import Sut
from harness.evidence.keys import DEFAULT_PASSWORD_ENV, generate, keyid, load_private, password_from_env
from harness.evidence.trust import TrustEntry, entry_for
from harness.model import UsageError
from harness.reporting import printable, printable_json

__all__ = ["add_run_arguments", "add_signing_arguments", "own_trust", "record_run", "register", "run_options"]


def register(subparsers: Any) -> None:
    keys = subparsers.add_parser("keys", help="signing keys and trust lists for evidence bundles")
    actions = keys.add_subparsers(dest="keys_command", required=True, parser_class=type(keys))
    gen = actions.add_parser("generate", help="write an Ed25519 key pair PREFIX.key / PREFIX.pub; print its keyid")
    gen.add_argument("--out", required=True, type=Path, metavar="PREFIX")
    gen.add_argument(
        "--password-env",
        default=DEFAULT_PASSWORD_ENV,
        metavar="VAR",
        help=f"encrypt the private key with the password in this variable (default {DEFAULT_PASSWORD_ENV})",
    )
    gen.set_defaults(func=_cmd_keys_generate)

    lists = actions.add_parser("trust-list", help="the trust list: which keys may sign for which suppliers")
    list_actions = lists.add_subparsers(dest="trust_list_command", required=True, parser_class=type(keys))
    add = list_actions.add_parser("add", help="add a public key to a trust list (created when it does not exist)")
    add.add_argument("public_key", type=Path, metavar="PREFIX.pub")
    add.add_argument("--holder", required=True, metavar="NAME", help="the accredited lab or supplier holding the key")
    add.add_argument(
        "--may-sign-for",
        required=True,
        nargs="+",
        metavar="SUPPLIER",
        help="the suppliers whose runs the key may sign ('*': any, for an accredited lab)",
    )
    add.add_argument("--not-before", metavar="RFC3339", help="the key signs nothing finished before this time")
    add.add_argument("--not-after", metavar="RFC3339", help="the key signs nothing finished after this time")
    add.add_argument("--out", required=True, type=Path, metavar="FILE", help="the trust list to create or extend")
    add.set_defaults(func=_cmd_trust_list_add)

    verify = subparsers.add_parser("verify", help="verify evidence bundles offline (exit 0 valid, 1 invalid)")
    verify.add_argument("bundles", nargs="+", type=Path, metavar="BUNDLE")
    add_trust_arguments(verify)
    verify.add_argument("--rejudge", action="store_true", help="judge every recorded answer again")
    verify.add_argument("--json", action="store_true", help="one JSON document on stdout")
    verify.set_defaults(func=_cmd_verify)


def add_run_arguments(run: argparse.ArgumentParser) -> None:
    """The evidence options of ``harness run``: what :func:`add_signing_arguments` adds, the bundle and the store."""
    add_signing_arguments(run)
    run.add_argument("--no-evidence", action="store_true", help="write no evidence bundle (and record no run)")
    run.add_argument("--store", metavar="URL", help="run store to record the run in (default: embedded SQLite)")


def add_signing_arguments(run: argparse.ArgumentParser) -> None:
    """``--sut``/``--sut-*`` and ``--sign-key``: what a bundle declares and who signs it (``harness run``,
    ``harness replay``); read back by :func:`run_options`."""
    run.add_argument(
        "--sut",
        metavar="SUPPLIER/PRODUCT@VERSION",
        help="the system under test in the one spelling every command prints (spaces allowed: quote it); "
        "or the three --sut-* options",
    )
    run.add_argument("--sut-supplier", help="supplier of the system under test (needed to certify)")
    run.add_argument("--sut-product", help="product name of the system under test (needed to certify)")
    run.add_argument("--sut-version", help="version of the system under test (needed to certify)")
    run.add_argument("--sign-key", type=Path, metavar="PREFIX.key", help="sign the evidence bundle with this key")


def own_trust(key: Ed25519PrivateKey | None) -> TrustList:
    """The run's own signing key as a one-key list covering ``*`` (a run checks its own bundle with it)."""
    if key is None:
        return TrustList.empty()
    public = key.public_key()
    return TrustList((TrustEntry(keyid(public), public, "this run's signing key", ("*",)),))


def record_run(bundle: Path, settings: Any) -> None:
    """Record a finished run in the store from its own bundle (verified with its own key when signed)."""
    from harness.cli.store import record_run as keep_run

    keep_run(bundle, own_trust(settings.sign_key), settings.store)


def run_options(args: argparse.Namespace) -> tuple[Sut | None, Ed25519PrivateKey | None]:
    """The declared SUT (None unless all three are given) and the loaded signing key."""
    declared = tuple(
        part.strip() if isinstance(part, str) else part
        for part in (args.sut_supplier, args.sut_product, args.sut_version)
    )  # stripped as SUPPLIER/PRODUCT@VERSION is read, so what a run declares is what every command can name
    spelled = getattr(args, "sut", None)  # one spelling: SUPPLIER/PRODUCT@VERSION
    if spelled is not None:
        from harness.certification.records import parse_product

        if any(declared):
            raise UsageError("--sut SUPPLIER/PRODUCT@VERSION or the three --sut-* options, not both")
        ref = parse_product(spelled)
        declared = (ref.supplier, ref.product, ref.version)
    if any(declared) and not all(part and part.strip() for part in declared):
        raise UsageError("--sut-supplier, --sut-product and --sut-version go together (none of them empty)")
    if all(declared) and ("/" in str(declared[0]) or "@" in str(declared[2])):
        # SUPPLIER/PRODUCT@VERSION splits at the first '/' and the last '@': such a product could never be named.
        raise UsageError(
            "--sut-supplier may not hold '/' nor --sut-version '@' (SUPPLIER/PRODUCT@VERSION must name it)"
        )
    sut = Sut(*declared) if all(declared) else None
    key = None
    if args.sign_key is not None:
        # --key-password-env (shared with --client-key) names the variable; HARNESS_KEY_PASSWORD by default
        variable = args.key_password_env or DEFAULT_PASSWORD_ENV
        key = load_private(args.sign_key, password_from_env(variable, required=bool(args.key_password_env)))
    return sut, key


def _cmd_keys_generate(args: argparse.Namespace) -> int:
    password = password_from_env(args.password_env, required=False)
    ident = generate(args.out, password)
    state = "encrypted" if password else f"NOT encrypted ({args.password_env} is not set)"
    print(f"keyid {ident}")
    print(f"wrote {args.out}.key ({state}) and {args.out}.pub", file=sys.stderr)
    return 0


def _cmd_trust_list_add(args: argparse.Namespace) -> int:
    existing = TrustList.load(args.out) if args.out.exists() else TrustList.empty()
    entry = entry_for(args.public_key, args.holder, args.may_sign_for, args.not_before, args.not_after)
    if existing.for_keyid(entry.keyid):
        # Changing what a listed key may do is the body's deliberate edit of the published file, not an add.
        raise UsageError(f"{args.out}: key {entry.keyid[:16]}... is already on the list (edit the file to change it)")
    existing.with_entry(entry).save(args.out)
    whom = ", ".join(entry.may_sign_for)
    print(f"added {entry.keyid} ({entry.holder}; may sign for {whom}; {entry.window()}) to {args.out}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    verifier = Verifier(load_catalog(), trust_from_args(args))
    reports: list[dict[str, Any]] = []
    worst = 0
    for path in args.bundles:
        outcome = verifier.verify(path, rejudge=args.rejudge)
        worst = max(worst, {OutcomeKind.VALID: 0, OutcomeKind.INVALID: 1, OutcomeKind.UNREADABLE: 2}[outcome.kind])
        bundle = outcome.bundle
        report: dict[str, Any] = {"bundle": str(path), "outcome": str(outcome.kind), "valid": outcome.valid}
        if bundle is None:
            report["reason"] = outcome.reason
            if not args.json:
                print(printable(f"{path}: {outcome.line()}"))  # the path and the reason may quote a bundle
        else:
            report.update(
                {
                    "run_id": bundle.run_id,
                    "signer": None if bundle.signer is None else {"keyid": bundle.signer.keyid,
                                                                  "holder": bundle.signer.holder},
                    "suite": {"name": bundle.suite, "version": bundle.suite_version, "document": bundle.document,
                              "status": bundle.suite_status},
                    "sut": None if bundle.sut is None else bundle.sut.as_dict(),
                    "certifying": bundle.certifying,
                    "certified": bundle.certified,
                    "certifies": bundle.certifies,
                    "roles": list(bundle.roles) or None,
                    "rejudged": bundle.rejudged,
                    "sha256": bundle.sha256,
                }
            )  # fmt: skip
            if not args.json:
                who = (
                    f"signed by {bundle.signer.holder} ({bundle.signer.keyid[:16]})"
                    if bundle.signer is not None
                    else "unsigned: integrity only, never certifies"
                )
                verdict = "certifies" if bundle.certifies else "does not certify"
                sut = bundle.sut.ref if bundle.sut is not None else "no system declared"
                print(printable(f"{path}: valid ({who}; {bundle.suite}@{bundle.suite_version}; {sut}; {verdict})"))
        reports.append(report)
    if args.json:
        print(printable_json({"valid": worst == 0, "bundles": reports}, indent=2))
    return worst
