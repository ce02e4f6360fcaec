"""``harness register serve|token issue|submit|withdraw|publish|audit``: the certifying body's register.

``serve`` runs the web service (``harness.register.service``); ``token issue`` gives an organisation its
bearer token (printed once; the store keeps its hash); ``submit`` hands bundles in (exit 0 every one
issued, 1 refused or not certifying, with the reason, 2 usage, 3 unreachable); ``withdraw`` and
``publish`` send records signed with the body's key; ``audit`` checks the log against a saved checkpoint.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from harness.cli.store import add_store_argument, printable, store_of
from harness.evidence.keys import DEFAULT_PASSWORD_ENV, load_private, password_from_env
from harness.model import UsageError
from harness.register.audit import add_audit_parser

__all__ = ["TOKEN_ENV", "register", "submit_bundles"]

TOKEN_ENV = "HARNESS_REGISTER_TOKEN"  # noqa: S105 (the name of a variable, not a token)


def _client_options(parser: argparse.ArgumentParser, token: bool = True) -> None:
    parser.add_argument("url", metavar="URL", help="the register, https://HOST[:PORT] (http:// only on loopback)")
    if token:
        parser.add_argument(
            "--token-env",
            default=TOKEN_ENV,
            metavar="VAR",
            help=f"variable holding the organisation's bearer token (default {TOKEN_ENV}); never given on the "
            "command line",
        )
    parser.add_argument("--ca-bundle", metavar="FILE", help="PEM CAs to trust for an https register")
    parser.add_argument("--client-cert", metavar="FILE", help="PEM client certificate (mutual TLS)")
    parser.add_argument("--client-key", metavar="FILE", help="PEM private key of the client certificate")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("register", help="the certifying body's register: serve, submit, audit")
    verbs = parser.add_subparsers(dest="register_command", required=True, parser_class=type(parser))

    serve = verbs.add_parser("serve", help="run the register's web service")
    add_store_argument(serve)
    serve.add_argument("--trust-list", action="append", type=Path, required=True, metavar="FILE")
    serve.add_argument("--body-key", type=Path, required=True, metavar="PREFIX.key", help="the certifying body's key")
    serve.add_argument("--password-env", default=DEFAULT_PASSWORD_ENV, metavar="VAR")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8095)
    serve.add_argument("--processes", type=int, default=1, help="server processes on the one port (default 1)")
    serve.add_argument("--workers", type=int, default=1, help="verifying processes per server process (default 1)")
    serve.add_argument("--pending", type=int, default=8, help="submissions in flight per process before 503")
    serve.add_argument("--max-bundle-mb", type=int, default=64, metavar="N")
    serve.add_argument("--upload-seconds", type=int, default=300, metavar="S", help="longest upload (default 300)")
    serve.add_argument("--tls-cert", metavar="FILE")
    serve.add_argument("--tls-key", metavar="FILE")
    serve.add_argument("--client-ca", metavar="FILE", help="CA of client certificates (mutual TLS submissions)")
    serve.set_defaults(func=_cmd_serve)

    token = verbs.add_parser("token", help="bearer tokens of submitting organisations")
    token_verbs = token.add_subparsers(dest="token_command", required=True, parser_class=type(parser))
    issue = token_verbs.add_parser("issue", help="issue a token for an organisation (printed once)")
    issue.add_argument("--org", required=True, metavar="NAME")
    add_store_argument(issue)
    issue.set_defaults(func=_cmd_token_issue)
    revoke = token_verbs.add_parser("revoke", help="revoke a token (it names no organisation from now on)")
    revoke.add_argument("--token-env", default=TOKEN_ENV, metavar="VAR", help="variable holding the token to revoke")
    add_store_argument(revoke)
    revoke.set_defaults(func=_cmd_token_revoke)

    submit = verbs.add_parser("submit", help="submit evidence bundles to a register")
    _client_options(submit)
    submit.add_argument("bundles", nargs="+", type=Path, metavar="BUNDLE")
    submit.set_defaults(func=_cmd_submit)

    withdraw = verbs.add_parser("withdraw", help="withdraw a certificate (a record signed with the body's key)")
    _client_options(withdraw, token=False)
    withdraw.add_argument("certificate", metavar="ID")
    withdraw.add_argument("--reason", required=True, metavar="TEXT")
    withdraw.add_argument("--body-key", type=Path, required=True, metavar="PREFIX.key")
    withdraw.add_argument("--password-env", default=DEFAULT_PASSWORD_ENV, metavar="VAR")
    withdraw.set_defaults(func=_cmd_withdraw)

    publish = verbs.add_parser("publish", help="publish a suite version's life-cycle change (signed)")
    _client_options(publish, token=False)
    publish.add_argument("suite", metavar="NAME@VERSION")
    publish.add_argument("status", choices=("superseded", "retired"))
    publish.add_argument("--reason", default="", metavar="TEXT", help="why (kept in the record and the log)")
    publish.add_argument("--body-key", type=Path, required=True, metavar="PREFIX.key")
    publish.add_argument("--password-env", default=DEFAULT_PASSWORD_ENV, metavar="VAR")
    publish.set_defaults(func=_cmd_publish)

    add_audit_parser(verbs)


def _cmd_serve(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives import serialization

    from harness.catalog import catalog_folders, load_catalog
    from harness.evidence import TrustList
    from harness.register.serving import Listening, serve
    from harness.register.state import RegisterConfig
    from harness.store import MAX_BUNDLE_BYTES, default_url, open_store

    for name in ("processes", "workers", "pending", "max_bundle_mb", "upload_seconds"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    if args.max_bundle_mb << 20 > MAX_BUNDLE_BYTES:
        raise UsageError(f"--max-bundle-mb is at most {MAX_BUNDLE_BYTES >> 20} (the store's limit)")
    if not 0 <= args.port < 65536:
        raise UsageError("--port must be 0..65535")
    if (args.tls_cert is None) != (args.tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    if args.client_ca is not None and args.tls_cert is None:
        raise UsageError("--client-ca needs --tls-cert and --tls-key")
    for path in (args.tls_cert, args.tls_key, args.client_ca):
        if path is not None and not Path(path).is_file():
            raise UsageError(f"{path}: no such file")
    for path in args.trust_list:
        TrustList.load(path)  # a bad list is a usage error here, not in every worker
    load_catalog()
    key = load_private(args.body_key, password_from_env(args.password_env, required=False))
    url = args.store or default_url()
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    store = open_store(url)
    try:
        ident, new = store.pin_body_key(public)
    finally:
        store.close()
    print(f"certifying body key {ident[:16]} {'pinned in the store' if new else 'is the one pinned'}", file=sys.stderr)
    config = RegisterConfig(
        store_url=url,
        trust_lists=tuple(str(path.resolve()) for path in args.trust_list),
        body_key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        catalog_folders=tuple(str(p) for p in catalog_folders()[1:]),
        max_bundle_bytes=args.max_bundle_mb << 20,
        pending=args.pending,
        workers=args.workers,
        upload_seconds=float(args.upload_seconds),
    )
    return serve(config, Listening(args.host, args.port, args.processes, (args.tls_cert, args.tls_key, args.client_ca)))


def _cmd_token_issue(args: argparse.Namespace) -> int:
    org = " ".join(args.org.split())
    if not org or not org.isprintable() or len(org) > 200:
        raise UsageError("--org must be a printable name of at most 200 characters")
    store = store_of(args)
    try:
        token = store.issue_token(org)
    finally:
        store.close()
    print(token)
    print(f"token issued for {printable(org)}: shown once, the register keeps only its hash", file=sys.stderr)
    return 0


def _cmd_token_revoke(args: argparse.Namespace) -> int:
    from harness.register.client import token_from_env

    token = token_from_env(args.token_env)
    if token is None:
        raise UsageError(f"set {args.token_env} to the token to revoke (never given on the command line)")
    store = store_of(args)
    try:
        org = store.token_org(token)
        revoked = store.revoke_token(token)
    finally:
        store.close()
    if not revoked:
        print("no live token of that value: nothing revoked")
        return 1
    print(f"token of {printable(org or '?')} revoked")
    return 0


def _client(args: argparse.Namespace, token: str | None) -> Any:
    from harness.register.client import RegisterClient

    for option in ("ca_bundle", "client_cert", "client_key"):
        path = getattr(args, option)
        if path and not Path(path).is_file():
            raise UsageError(f"--{option.replace('_', '-')} {path}: no such file")
    if args.client_key and not args.client_cert:
        raise UsageError("--client-key needs --client-cert")
    return RegisterClient(
        args.url, token, ca_bundle=args.ca_bundle, client_cert=args.client_cert, client_key=args.client_key
    )


def submit_bundles(
    url: str,
    bundles: list[Path],
    token: str | None,
    ca_bundle: str | None = None,
    client_cert: str | None = None,
    client_key: str | None = None,
) -> int:
    """Submit each bundle, one line each; 0 when every one was issued a certificate, else 1 (3: unreachable)."""
    from harness.register.client import RegisterClient, exit_code

    client = RegisterClient(url, token, ca_bundle=ca_bundle, client_cert=client_cert, client_key=client_key)
    answers = []
    for bundle in bundles:
        answer = client.submit(bundle)
        answers.append(answer)
        print(f"{printable(bundle)}: {printable(answer.line())}")
    return exit_code(answers)


def _cmd_submit(args: argparse.Namespace) -> int:
    from harness.register.client import token_from_env

    token = token_from_env(args.token_env)
    if token is None and args.client_cert is None:
        raise UsageError(f"no token: set {args.token_env} (or give --client-cert for mutual TLS)")
    missing = [p for p in args.bundles if not p.is_file()]
    if missing:
        raise UsageError(f"{missing[0]}: no such file")
    _client(args, token)  # options checked before the first request
    return submit_bundles(
        args.url,
        list(args.bundles),
        token,
        ca_bundle=args.ca_bundle,
        client_cert=args.client_cert,
        client_key=args.client_key,
    )


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _cmd_withdraw(args: argparse.Namespace) -> int:
    from harness.certification import Certificate, parse_product
    from harness.certification.withdrawal import WithdrawalError, sign_withdrawal
    from harness.evidence.verified import Signer

    key = load_private(args.body_key, password_from_env(args.password_env, required=False))
    client = _client(args, None)
    status, document = client.get(f"certificates/{args.certificate}")
    if status != 200:
        raise UsageError(f"certificate {args.certificate}: {document.get('detail') or status}")
    suite, _, version = str(document.get("suite_ref", "")).rpartition("@")
    certificate = Certificate(
        str(document["id"]),
        parse_product(str(document["product"])),
        suite,
        version,
        str(document.get("document", "")),
        str(document.get("run", "")),
        str(document["sha256"]),
        Signer("", ""),
        str(document.get("issued", "")),
    )
    try:
        record = sign_withdrawal(certificate, args.reason, _now(), key)
    except WithdrawalError as exc:
        raise UsageError(f"--reason: {exc}") from None
    status, answer = client.post_record("withdrawals", record)
    if status != 200:
        print(printable(f"withdrawal refused ({status}): {answer.get('detail', '')}"))
        return 1
    print(
        printable(
            f"certificate {certificate.id} withdrawn {answer['withdrawn']['at']}: {answer['withdrawn']['reason']}"
        )
    )
    return 0


def _cmd_publish(args: argparse.Namespace) -> int:
    from harness.register.lifecycle import LifecycleError, sign_lifecycle

    suite, at, version = args.suite.partition("@")
    if not at or not suite or not version:
        raise UsageError("give the suite version as NAME@VERSION")
    key = load_private(args.body_key, password_from_env(args.password_env, required=False))
    try:
        record = sign_lifecycle(suite, version, args.status, args.reason, _now(), key)
    except LifecycleError as exc:
        raise UsageError(str(exc)) from None
    status, answer = _client(args, None).post_record("lifecycle", record)
    if status != 200:
        print(printable(f"publish refused ({status}): {answer.get('detail', '')}"))
        return 1
    print(printable(f"suite {suite}@{version} {args.status} (log entry {answer.get('log_index')})"))
    return 0
