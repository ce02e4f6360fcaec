"""``harness keys generate``, ``harness verify`` and the evidence options of ``harness run``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harness.evidence.bundle import Sut
from harness.evidence.keys import DEFAULT_PASSWORD_ENV, generate, keyid, load_private, load_public, password_from_env
from harness.evidence.verify import Invalid, verify_bundle
from harness.model import ConfigurationError, UsageError

__all__ = ["add_run_arguments", "record_run", "register", "run_options", "trusted_keys"]


def register(subparsers: Any) -> None:
    keys = subparsers.add_parser("keys", help="signing keys for evidence bundles")
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

    verify = subparsers.add_parser("verify", help="verify evidence bundles offline")
    verify.add_argument("bundles", nargs="+", type=Path, metavar="BUNDLE")
    verify.add_argument(
        "--trusted-key", action="append", type=Path, default=[], metavar="PREFIX.pub", help="a key you trust"
    )
    verify.add_argument("--rejudge", action="store_true", help="judge every recorded answer again")
    verify.add_argument("--json", action="store_true", help="one JSON document on stdout")
    verify.set_defaults(func=_cmd_verify)


def add_run_arguments(run: argparse.ArgumentParser) -> None:
    run.add_argument("--sut-supplier", help="supplier of the system under test (needed to certify)")
    run.add_argument("--sut-product", help="product name of the system under test (needed to certify)")
    run.add_argument("--sut-version", help="version of the system under test (needed to certify)")
    run.add_argument("--sign-key", type=Path, metavar="PREFIX.key", help="sign the evidence bundle with this key")
    run.add_argument("--no-evidence", action="store_true", help="write no evidence bundle (and record no run)")
    run.add_argument("--store", metavar="URL", help="run store to record the run in (default: embedded SQLite)")


def record_run(bundle: Path, settings: Any) -> None:
    """Record a finished run in the store from its own bundle (verified with its own key when signed)."""
    from harness.store.commands import record_bundle

    key: Ed25519PrivateKey | None = settings.sign_key
    trusted = {keyid(key.public_key()): key.public_key()} if key is not None else {}
    try:
        record_bundle(bundle, trusted, settings.store, "run")
    except Invalid as exc:  # our own bundle: a harness bug, reported, never hidden
        raise ConfigurationError(f"the run's own evidence bundle does not verify: {exc}") from None


def run_options(args: argparse.Namespace) -> tuple[Sut | None, Ed25519PrivateKey | None]:
    """The declared SUT (None unless all three are given) and the loaded signing key."""
    declared = (args.sut_supplier, args.sut_product, args.sut_version)
    if any(declared) and not all(declared):
        raise UsageError("--sut-supplier, --sut-product and --sut-version go together")
    sut = Sut(*declared) if all(declared) else None
    key = None
    if args.sign_key is not None:
        # --key-password-env (shared with --client-key) names the variable; HARNESS_KEY_PASSWORD by default
        variable = args.key_password_env or DEFAULT_PASSWORD_ENV
        key = load_private(args.sign_key, password_from_env(variable, required=bool(args.key_password_env)))
    return sut, key


def trusted_keys(paths: list[Path]) -> dict[str, Ed25519PublicKey]:
    keys: dict[str, Ed25519PublicKey] = {}
    for path in paths:
        key = load_public(path)
        keys[keyid(key)] = key
    return keys


def _cmd_keys_generate(args: argparse.Namespace) -> int:
    password = password_from_env(args.password_env, required=False)
    ident = generate(args.out, password)
    state = "encrypted" if password else f"NOT encrypted ({args.password_env} is not set)"
    print(f"keyid {ident}")
    print(f"wrote {args.out}.key ({state}) and {args.out}.pub", file=sys.stderr)
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from harness.evidence.rejudge import rejudge_bundle

    trusted = trusted_keys(args.trusted_key)
    reports: list[dict[str, Any]] = []
    invalid = 0
    for path in args.bundles:
        try:
            report = verify_bundle(path, trusted, rejudge_bundle if args.rejudge else None)
        except Invalid as exc:
            invalid += 1
            reports.append({"bundle": str(path), "valid": False, "reason": str(exc)})
            if not args.json:
                print(f"{path}: INVALID: {exc}")
            continue
        reports.append(report.as_dict())
        if not args.json:
            how = f"signed by {report.keyid}" if report.signed else "unsigned: integrity only, never certifies"
            verdict = "certified" if report.certifiable else "not certifiable" if report.certified else "not certified"
            print(f"{path}: valid ({how}; {verdict})")
    if args.json:
        print(json.dumps({"valid": invalid == 0, "bundles": reports}, indent=2))
    return 1 if invalid else 0
