"""``harness run``, ``harness report`` and ``harness demo``: certification runs, built through the run session."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import re
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import harness
from harness import suitecheck
from harness.catalog import Catalog, load_catalog
from harness.cli import evidence as evidence_commands
from harness.cli.options import add_credential_options, add_trust_arguments, credentials_from
from harness.events import RunFinished, Summary
from harness.evidence.bundle import Sut
from harness.model import UsageError
from harness.reporting import JUnitReporter, ResultsJsonReporter, read_journal, summary_line, write_atomically
from harness.runner.life_cycle import refuse_retired
from harness.transport import TransportOptions

__all__ = ["DEFAULT_REPORTS", "RunSettings", "check_sip_target", "check_target", "register", "run_suite"]

DEFAULT_REPORTS = Path("reports/latest")


def register(subparsers: Any) -> None:
    run = subparsers.add_parser("run", help="run a suite against a system under test")
    run.add_argument("--suite", required=True, help="NAME (its current version) or NAME@VERSION")
    run.add_argument(
        "--not-certifying",
        action="store_true",
        help="mark the run as not certifying (the only way to run a retired suite version)",
    )
    run.add_argument(
        "--role",
        action="append",
        default=[],
        metavar="ROLE",
        help="run only the scenarios of this role of the suite (repeatable); the results, evidence and certificate "
        "cover these roles only (harness suites lists each suite's roles)",
    )
    run.add_argument("--target", required=True, help="base URL of the system under test")
    run.add_argument(
        "--sip-target",
        metavar="sip:HOST:PORT[;transport=udp|tcp]",
        help="SIP URI of the system under test, for the scenarios carried over SIP MESSAGE (skipped without it)",
    )
    run.add_argument("--reports", type=Path, default=DEFAULT_REPORTS, help="report folder (default reports/latest)")
    run.add_argument("--junit", type=Path, help="also write JUnit XML here")
    run.add_argument("--concurrency", type=int, default=4, help="scenarios run at once (default 4)")
    run.add_argument("--timeout", type=float, default=10.0, help="seconds allowed for one exchange (default 10)")
    add_credential_options(run)
    run.add_argument(
        "--unattended",
        action="store_true",
        help="never wait for an operator: steps that need one end 'manual' (always so in CI)",
    )
    run.add_argument(
        "--listen",
        default="127.0.0.1:0",
        help="HOST:PORT of the reference endpoint the SUT sends to, for suites that need one (default 127.0.0.1:0)",
    )

    run.add_argument(
        "--register",
        metavar="URL",
        help="submit the run's evidence bundle to this register at the end of the run (exit 0 only when issued)",
    )
    run.add_argument(
        "--register-token-env",
        default="HARNESS_REGISTER_TOKEN",
        metavar="VAR",
        help="variable holding the organisation's bearer token for --register (default HARNESS_REGISTER_TOKEN)",
    )

    report = subparsers.add_parser("report", help="rebuild the reports of a run from its journal, or an HTML report")
    report.add_argument("--journal", type=Path, help="the run's journal.jsonl")
    report.add_argument("--reports", type=Path, default=DEFAULT_REPORTS)
    report.add_argument("--junit", type=Path)
    report.add_argument("--html", type=Path, metavar="FILE", help="write the HTML run report here")
    report.add_argument("bundle", nargs="?", type=Path, metavar="BUNDLE", help="an evidence bundle (with --html)")
    add_trust_arguments(report)  # with BUNDLE: the keys it is verified against (nothing is trusted implicitly)

    demo = subparsers.add_parser(
        "demo",
        help="certify the embedded reference supplier with every current suite, signed with a local demo key, "
        "and register the runs in the store",
    )
    demo.add_argument("--reports", type=Path, default=DEFAULT_REPORTS)
    demo.add_argument("--concurrency", type=int, default=4)
    demo.add_argument("--store", metavar="URL", help="run store to register the runs in (default: the embedded one)")
    evidence_commands.add_run_arguments(run)
    run.set_defaults(func=_cmd_run)
    report.set_defaults(func=_cmd_report)
    demo.set_defaults(func=_cmd_demo)


def check_target(target: str) -> str:
    """A target as ``harness run --target`` takes it, without a trailing slash (UsageError, one line, otherwise);
    the pytest plugin's ``--netcode-target`` is held to the same."""
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"bad target URL {target!r}: expected http://HOST[:PORT][/BASE] or https://...")
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise UsageError(f"bad target URL {target!r}: bad port") from None
    return target.rstrip("/")


_SIP_TARGET = re.compile(
    r"sip:(?:[^\s@;<>?]+@)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?(?:;transport=(?:udp|tcp))?",
    re.IGNORECASE,
)


def check_sip_target(target: str) -> str:
    """A SIP target as ``harness run --sip-target`` takes it (UsageError, one line, otherwise)."""
    match = _SIP_TARGET.fullmatch(target)
    if match is None or not 0 < int(match[1] or 5060) < 65536:
        raise UsageError(f"bad --sip-target {target!r}: expected sip:HOST:PORT[;transport=udp|tcp]")
    return target


@dataclass(slots=True, frozen=True)
class RunSettings:
    reports: Path
    junit: Path | None = None
    concurrency: int = 4
    timeout: float = 10.0
    unattended: bool = True
    listen_host: str = "127.0.0.1"
    listen_port: int = 0
    console: bool = True
    credentials: TransportOptions = dataclasses.field(default_factory=TransportOptions)
    """TLS files, key password and extra headers (secrets): only their transport options are used."""
    sip_target: str | None = None
    """Where scenarios carried over SIP MESSAGE go; without it they are skipped."""
    certifying: bool = True
    """False marks the run as not certifying (``--not-certifying``; the only way to run a retired suite version)."""
    evidence: bool = True
    sut: Sut | None = None
    sign_key: Any = None
    """The Ed25519 private key that signs the evidence bundle (never printed)."""
    run_id: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    store: str | None = None
    """Run store URL (None: the default store); every run with evidence is recorded there."""
    roles: tuple[str, ...] = ()
    """Run only the scenarios of these roles (``--role``); empty: every role."""


async def run_suite(catalog: Catalog, suite_ref: str, target: str, settings: RunSettings) -> RunFinished:
    """Run one suite against ``target``, writing its reports; raises TargetUnreachable before any scenario.

    A suite in which the SUT sends messages gets a reference endpoint of its own
    (the counterpart) on ``listen_host:listen_port`` for the length of the run.
    """
    from harness.session import CounterpartUnavailable, RunSession

    session = (
        RunSession(catalog, suite_ref)
        .with_target(target)
        .with_counterpart(settings.listen_host, settings.listen_port)
        .with_reporters(
            settings.reports,
            console=settings.console,
            junit=settings.junit,
            evidence=settings.evidence,
            sut=settings.sut,
            sign_key=settings.sign_key,
            run_id=settings.run_id,
        )
        .with_options(
            concurrency=settings.concurrency,
            timeout_s=settings.timeout,
            unattended=settings.unattended,
            credentials=settings.credentials,
            certifying=settings.certifying,
        )
    )
    if settings.roles:
        session.with_roles(settings.roles)
    if settings.sip_target is not None:
        session.with_target(settings.sip_target, name="sip")
    try:
        async with session:
            if settings.console and session.counterpart is not None:
                print(f"reference endpoint for the SUT to send to: {session.counterpart.url}", flush=True)
            finished = await session.run()
    except CounterpartUnavailable as exc:
        raise UsageError(str(exc)) from None
    if settings.evidence:
        evidence_commands.record_run(settings.reports / f"{settings.run_id}.evidence.zip", settings)
    return finished


def _unattended(args: argparse.Namespace) -> bool:
    """Unattended when asked, in CI, or when nobody can answer at a terminal."""
    in_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    return bool(args.unattended) or in_ci or not sys.stdin.isatty()


def _listen_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"bad --listen {text!r}: expected HOST:PORT (PORT 0 picks a free one)")
    return host.strip("[]"), int(port)


def _positive(value: int, name: str) -> int:
    if value < 1:
        raise UsageError(f"--{name} must be at least 1")
    return value


def _cmd_run(args: argparse.Namespace) -> int:
    catalog = load_catalog(check_names=suitecheck.known_checks())
    target = check_target(args.target)
    sip_target = check_sip_target(args.sip_target) if args.sip_target is not None else None
    # Unknown suites, and retired ones run to certify, fail before any connection.
    refuse_retired(catalog.suite(args.suite), not args.not_certifying)
    roles = tuple(args.role)
    if roles:
        catalog.suite(args.suite).limited_to(roles)  # a role the suite does not certify: exit 2, before any connection
    _positive(args.concurrency, "concurrency")
    host, port = _listen_address(args.listen)
    sut, sign_key = evidence_commands.run_options(args)
    token = _register_token(args)
    settings = RunSettings(
        args.reports,
        args.junit,
        args.concurrency,
        args.timeout,
        _unattended(args),
        host,
        port,
        credentials=credentials_from(args),
        sip_target=sip_target,
        certifying=not args.not_certifying,
        evidence=not args.no_evidence,
        store=args.store,
        sut=sut,
        sign_key=sign_key,
        roles=roles,
    )
    try:
        finished = asyncio.run(run_suite(catalog, args.suite, target, settings))
    except KeyboardInterrupt:
        print(f"harness: interrupted; partial report: {args.reports / 'results.json'}", file=sys.stderr)
        return 130
    print(
        f"report: {args.reports / 'results.json'}, HTML: {args.reports / 'report.html'}"
        + (f", JUnit: {args.junit}" if args.junit else "")
    )
    if settings.evidence:
        state = "signed" if sign_key is not None else "unsigned"
        marked = "" if sut is not None else "; no --sut-* given: not certifiable"
        print(f"evidence: {args.reports / (settings.run_id + '.evidence.zip')} ({state}{marked})")
    if args.register:
        from harness.cli.register import submit_bundles

        bundle = args.reports / f"{settings.run_id}.evidence.zip"
        if not bundle.is_file():
            raise UsageError("--register: the run left no evidence bundle to submit")
        submitted = submit_bundles(args.register, [bundle], token)
        return submitted if finished.certified else 1
    return 0 if finished.certified else 1


def _register_token(args: argparse.Namespace) -> str | None:
    """``--register``'s token, checked before the run starts (a run is not wasted on a missing token)."""
    if not args.register:
        return None
    if args.no_evidence:
        raise UsageError("--register needs the run's evidence bundle: drop --no-evidence")
    from harness.register.client import RegisterClient, token_from_env

    token = token_from_env(args.register_token_env)
    if token is None:  # --client-cert is the target's, never the register's: the register takes the token
        raise UsageError(f"--register: no token; set {args.register_token_env}")
    RegisterClient(args.register, token)  # the URL, and a token never sent in cleartext over a network
    return token


DEMO_SUT = Sut("netcode-harness demo", "embedded reference supplier", harness.__version__)
"""What ``harness demo`` declares it certifies: the harness's own reference supplier."""
DEMO_HOLDER = "local demo, not accredited"


def _demo_signer(reports: Path) -> tuple[Any, Path]:
    """The local demo key (``REPORTS/demo-signer.key``, made on first use) and a trust list naming only it.

    The key is not encrypted and the list covers only the demo's own supplier: it lets the demo show
    registration and certificates on this machine, and vouches for nothing anywhere else.
    """
    from harness.evidence import TrustEntry, TrustList
    from harness.evidence.keys import generate, keyid, load_private

    prefix = reports / "demo-signer"
    if not Path(f"{prefix}.key").exists():
        generate(prefix, None)
    key = load_private(Path(f"{prefix}.key"), None)
    public = key.public_key()
    trust_list = reports / "demo-trust-list.json"
    TrustList((TrustEntry(keyid(public), public, DEMO_HOLDER, (DEMO_SUT.supplier,)),)).save(trust_list)
    return key, trust_list


def _cmd_demo(args: argparse.Namespace) -> int:
    from harness.cli.store import printable, register_bundles
    from harness.endpoints import ReferenceServer, build_app
    from harness.endpoints.sip_gateway import SipServer
    from harness.evidence import TrustList, Verifier
    from harness.store import open_store

    catalog = load_catalog(check_names=suitecheck.known_checks())
    _positive(args.concurrency, "concurrency")
    key, trust_list = _demo_signer(args.reports)
    bundles: list[Path] = []

    async def demo() -> list[RunFinished]:
        async with ReferenceServer(build_app(catalog)) as url, SipServer(catalog) as sip:
            sip_target = sip.uri()
            print(f"reference supplier running in-process at {url} and {sip_target}")
            runs = []
            for suite in catalog.current_suites():
                settings = RunSettings(
                    args.reports / suite.name,
                    None,
                    args.concurrency,
                    unattended=True,
                    sip_target=sip_target,
                    sut=DEMO_SUT,
                    sign_key=key,
                    store=args.store,
                )
                runs.append(await run_suite(catalog, suite.ref, url, settings))
                bundles.append(settings.reports / f"{settings.run_id}.evidence.zip")
            return runs

    runs = asyncio.run(demo())
    store = open_store(args.store)
    try:
        registered = register_bundles(store, Verifier(catalog, TrustList.load(trust_list), registering=True), bundles)
    finally:
        store.close()
    total = Summary()
    suites: list[dict[str, Any]] = []
    for run in runs:
        total.merge(run.summary)
        suites.append(
            {
                "name": run.suite,
                "version": run.version,
                "certified": run.certified,
                "summary": run.summary.as_dict(),
                "report": str(args.reports / run.suite / "results.json"),
                "html": str(args.reports / run.suite / "report.html"),
            }
        )
    certified = all(run.certified for run in runs)
    refused = [registration for _, registration in registered if not registration.accepted]
    document = {
        "harness": {"version": harness.__version__},
        "target": "embedded reference supplier",
        "certified": certified,
        "summary": total.as_dict(),
        "suites": suites,
        "registered": [{"bundle": str(path), "line": r.line, "accepted": r.accepted} for path, r in registered],
    }
    write_atomically(args.reports / "results.json", json.dumps(document, indent=2).encode() + b"\n")
    print()
    print(f"demo: {len(runs)} suite(s): {summary_line(total)} -> {'CERTIFIED' if certified else 'NOT CERTIFIED'}")
    print("reports (open report.html in a browser; results.json beside it):")
    for entry in suites:
        print(f"  {entry['name']}@{entry['version']}: {entry['html']}")
    print(f"  all suites: {args.reports / 'results.json'}")
    print(f"registered in the store, signed by the local demo key ({DEMO_HOLDER}):")
    for path, registration in registered:
        print(f"  {printable(path.name)}: {printable(registration.line)}")
    store_option = f" --store {args.store}" if args.store else ""
    print(f"next: harness matrix --html {args.reports / 'matrix.html'} --trust-list {trust_list}{store_option}")
    print(
        f"      harness catalogue build --out {args.reports.parent / 'catalogue'} "
        f"--trust-list {trust_list}{store_option}"
    )
    return 0 if certified and not refused else 1


def _cmd_report(args: argparse.Namespace) -> int:
    if args.bundle is not None or args.html is not None:
        from harness.cli.reports import html_report

        return html_report(args)
    if args.journal is None:
        raise UsageError("give --journal FILE, or --html FILE with BUNDLE or --journal FILE")
    try:
        finished = read_journal(args.journal)
    except FileNotFoundError:
        raise UsageError(f"{args.journal}: no such file") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{args.journal}: not a harness journal ({exc})") from None
    ResultsJsonReporter(args.reports)(finished)
    if args.junit:
        JUnitReporter(args.junit)(finished)
    state = "interrupted run" if finished.interrupted else "complete run"
    print(f"{finished.suite}@{finished.version} ({state}): {summary_line(finished.summary)}")
    print(f"report: {args.reports / 'results.json'}" + (f", JUnit: {args.junit}" if args.junit else ""))
    return 0 if finished.certified else 1
