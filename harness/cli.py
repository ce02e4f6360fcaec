"""The ``harness`` command. Thin: it builds runs from arguments and attaches reporters.

Exit codes: 0 success / certified, 1 invalid message or a MUST scenario not
passed, 2 usage or configuration error, 3 target unreachable, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import re
import ssl
import stat
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import harness
from harness import diff as diff_command
from harness import suitecheck
from harness.catalog import Catalog, load_catalog
from harness.events import Listener, RunFinished, Summary
from harness.evidence import commands as evidence_commands
from harness.evidence.bundle import EvidenceReporter, Sut
from harness.model import HarnessError, UsageError
from harness.reporting import (
    ConsoleReporter,
    JournalReporter,
    JUnitReporter,
    Redactor,
    ResultsJsonReporter,
    read_journal,
    summary_line,
    write_atomically,
)
from harness.runner.engine import Runner
from harness.store import commands as store_commands
from harness.transport import Transport, TransportOptions, load_transport
from harness.validation.validator import detect_format, validator_for

__all__ = ["main"]

DEFAULT_REPORTS = Path("reports/latest")
MAX_FILE_BYTES = 16 << 20


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"harness: {message} (see harness {self.prog.split()[-1]} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="harness", description="Certification harness for the police and emergency-services network code."
    )
    parser.add_argument("--version", action="version", version=f"harness {harness.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    formats = commands.add_parser("formats", help="list the message formats of the catalog")
    formats.add_argument("--json", action="store_true", help="one JSON object per line")

    suites = commands.add_parser("suites", help="list the certification suites")
    suites.add_argument("--json", action="store_true", help="one JSON object per line")
    suitecheck.add_arguments(suites)

    validate = commands.add_parser("validate", help="validate message files")
    validate.add_argument("--format", dest="format_id", help="format id (detected from the content when omitted)")
    validate.add_argument("--json", action="store_true", help="one JSON object per file per line")
    validate.add_argument("paths", nargs="+", metavar="PATH")

    serve = commands.add_parser("serve", help="run a reference endpoint in the foreground (the image's entry point)")
    serve.add_argument(
        "--role",
        default=os.environ.get("HARNESS_ROLE", "supplier"),
        help="supplier (every role), intel-hub, query-responder, alert-hub or esn-gateway "
        "(default $HARNESS_ROLE, else supplier)",
    )
    serve.add_argument("--host", default=os.environ.get("HARNESS_HOST", "127.0.0.1"), help="default $HARNESS_HOST")
    serve.add_argument("--port", type=int, default=os.environ.get("HARNESS_PORT", "8080"), help="default $HARNESS_PORT")
    serve.add_argument("--tls-cert", help="serve https with this PEM certificate (chain)")
    serve.add_argument("--tls-key", help="the PEM private key of --tls-cert")
    serve.add_argument("--client-ca", help="demand client certificates issued by these CAs (mutual TLS)")

    up = commands.add_parser("up", help="run every reference role on its documented port, in-process or in containers")
    up.add_argument("--containers", action="store_true", help="in containers of the harness image (needs Docker)")
    up.add_argument("--role", action="append", dest="roles", metavar="ROLE", help="only this role (repeatable)")
    up.add_argument("--host", default="127.0.0.1", help="address to bind (containers use host networking)")
    up.add_argument("--free-ports", action="store_true", help="ports that are free now instead of the documented ones")
    up.add_argument("--image", help="with --containers: the image to run (default netcode-harness:latest)")
    up.add_argument("--build", action="store_true", help="with --containers: build the image from this checkout first")
    up.add_argument("--base-image", help="with --build: the BASE_IMAGE build argument (default python:3.11-slim)")
    up.add_argument("--timeout", type=float, default=60.0, help="with --containers: seconds to become ready")

    run = commands.add_parser("run", help="run a suite against a system under test")
    run.add_argument("--suite", required=True, help="NAME or NAME@VERSION")
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
    run.add_argument(
        "--header",
        action="append",
        metavar="'NAME: VALUE'",
        help="extra header on every request (credentials: never written to any output)",
    )
    run.add_argument("--ca-bundle", help="PEM file of CAs to trust for an https target")
    run.add_argument("--client-cert", help="PEM client certificate (chain) for mutual TLS")
    run.add_argument("--client-key", help="PEM private key of the client certificate")
    run.add_argument("--key-password-env", metavar="VAR", help="environment variable holding the key's password")
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

    report = commands.add_parser("report", help="rebuild the reports of a run from its journal")
    report.add_argument("--journal", type=Path, required=True, help="the run's journal.jsonl")
    report.add_argument("--reports", type=Path, default=DEFAULT_REPORTS)
    report.add_argument("--junit", type=Path)

    evidence_commands.add_run_arguments(run)
    evidence_commands.register(commands)
    store_commands.register(commands)
    diff_command.register(commands)

    demo = commands.add_parser("demo", help="certify the embedded reference supplier with every suite")
    demo.add_argument("--reports", type=Path, default=DEFAULT_REPORTS)
    demo.add_argument("--concurrency", type=int, default=4)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        handler = getattr(args, "func", None) or _COMMANDS[args.command]
        return int(handler(args))
    except HarnessError as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return 130


# -- catalog listings -------------------------------------------------------------


def _cmd_formats(args: argparse.Namespace) -> int:
    catalog = load_catalog()
    for fmt in sorted(catalog.formats.values(), key=lambda f: f.id):
        if args.json:
            print(
                json.dumps(
                    {
                        "id": fmt.id,
                        "title": fmt.title,
                        "syntax": fmt.syntax,
                        "mediaTypes": list(fmt.media_types),
                        "rules": fmt.rule_set,
                        "samples": {"valid": len(fmt.valid_samples), "invalid": len(fmt.invalid_samples)},
                    }
                )
            )
        else:
            print(f"{fmt.id:<24} {fmt.syntax:<5} {fmt.media_type:<45} {fmt.title}")
    return 0


def _cmd_suites(args: argparse.Namespace) -> int:
    if args.check:
        return suitecheck.check_suites(args)
    catalog = load_catalog()
    for name in sorted(catalog.suites):
        for version, suite in sorted(catalog.suites[name].items()):
            must = sum(1 for s in suite.scenarios if s["level"] == "MUST")
            if args.json:
                print(
                    json.dumps(
                        {
                            "name": name,
                            "version": version,
                            "title": suite.title,
                            "scenarios": len(suite.scenarios),
                            "must": must,
                        }
                    )
                )
            else:
                print(f"{suite.ref:<22} {len(suite.scenarios):>3} scenarios ({must} MUST)  {suite.title}")
    return 0


# -- validate ---------------------------------------------------------------------


def _read_file(path: str) -> bytes:
    file = Path(path)
    try:
        info = file.stat()
        if stat.S_ISDIR(info.st_mode):
            raise UsageError(f"{path}: is a directory")
        if not stat.S_ISREG(info.st_mode):
            # A FIFO or a device would block or never end: only regular files are messages.
            raise UsageError(f"{path}: not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise UsageError(f"{path}: {info.st_size} bytes is over the {MAX_FILE_BYTES}-byte limit for a message file")
        with file.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)  # the file may grow after stat
        if len(data) > MAX_FILE_BYTES:
            raise UsageError(f"{path}: over the {MAX_FILE_BYTES}-byte limit for a message file")
        return data
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except PermissionError:
        raise UsageError(f"{path}: permission denied") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None


def _cmd_validate(args: argparse.Namespace) -> int:
    catalog = load_catalog()
    forced = catalog.format(args.format_id) if args.format_id else None
    worst = 0
    for path in args.paths:
        shown = path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        try:
            data = _read_file(path)
            fmt = forced or detect_format(list(catalog.formats.values()), data)
            if fmt is None:
                raise UsageError(f"{shown}: cannot tell the format from the content; name it with --format")
        except UsageError as exc:
            print(f"harness: {str(exc).replace(path, shown)}", file=sys.stderr)
            worst = 2
            continue
        validation = validator_for(fmt).validate(data)
        if args.json:
            print(
                json.dumps(
                    {
                        "path": shown,
                        "format": fmt.id,
                        "valid": validation.valid,
                        "errors": [f.as_dict() for f in validation.findings],
                    },
                    ensure_ascii=False,
                )
            )
        elif validation.valid:
            print(f"{shown}: valid {fmt.id}")
        else:
            print(f"{shown}: INVALID {fmt.id} ({len(validation.findings)} error(s))")
            for finding in validation.findings:
                print(f"  {finding.rule:<7} {finding.location or '/'}: {finding.message}")
        if not validation.valid:
            worst = max(worst, 1)
    return worst


# -- serve --------------------------------------------------------------------------


def _cmd_serve(args: argparse.Namespace) -> int:
    from harness.endpoints import ReferenceServer, build_app, roles_named

    catalog = load_catalog()
    server = ReferenceServer(
        build_app(catalog, roles_named(catalog, args.role)), args.host, args.port, _serving_tls(args)
    )

    def started(urls: dict[str, str]) -> None:
        print(f"reference endpoints listening on {urls[args.role]} (role {args.role}; Ctrl-C to stop)", flush=True)

    return _serve_until_stopped({args.role: server}, started)


def _serving_tls(args: argparse.Namespace) -> ssl.SSLContext | None:
    """The reference endpoint's TLS context from --tls-cert/--tls-key/--client-ca, or None for plain HTTP."""
    from harness.endpoints import server_tls

    if not args.tls_cert and not args.tls_key and not args.client_ca:
        return None
    if not (args.tls_cert and args.tls_key):
        raise UsageError("--tls-cert and --tls-key go together (and --client-ca needs both)")
    for option in ("tls_cert", "tls_key", "client_ca"):
        path = getattr(args, option)
        if path and not Path(path).is_file():
            raise UsageError(f"--{option.replace('_', '-')} {path}: no such file")
    try:
        return server_tls(args.tls_cert, args.tls_key, args.client_ca)
    except ssl.SSLError as exc:
        raise UsageError(f"unusable TLS files: {exc.reason or 'cannot load'}") from None


def _serve_until_stopped(servers: dict[str, Any], started: Callable[[dict[str, str]], None]) -> int:
    """Serve role -> ReferenceServer until Ctrl-C or SIGTERM (``docker stop``), then stop them all."""
    import signal

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        try:
            urls: dict[str, str] = {}
            for role, server in servers.items():
                try:
                    urls[role] = await server.start()
                except OSError as exc:
                    raise UsageError(f"cannot bind {server.host}:{server.port} for {role}: {exc.strerror}") from None
            started(urls)
            await stop.wait()
        finally:
            loop.remove_signal_handler(signal.SIGTERM)
            for server in servers.values():
                await server.stop()

    import contextlib

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
    print("stopped", file=sys.stderr)
    return 0


def _cmd_up(args: argparse.Namespace) -> int:
    from harness.endpoints import ROLE_PORTS, ReferenceServer, build_app, roles_named

    roles = list(dict.fromkeys(args.roles or ROLE_PORTS))
    for role in roles:
        if role not in ROLE_PORTS:
            raise UsageError(f"unknown role {role!r} (known: {', '.join(ROLE_PORTS)})")
    if args.containers:
        return _up_in_containers(args, roles)
    if args.build or args.image or args.base_image:
        raise UsageError("--image, --build and --base-image go with --containers")
    catalog = load_catalog()
    servers = {
        role: ReferenceServer(
            build_app(catalog, roles_named(catalog, role)), args.host, 0 if args.free_ports else ROLE_PORTS[role]
        )
        for role in roles
    }

    def started(urls: dict[str, str]) -> None:
        for role, url in urls.items():
            print(f"{role:<16} {url}")
        print("reference endpoints up in-process (Ctrl-C to stop)", flush=True)

    return _serve_until_stopped(servers, started)


def _up_in_containers(args: argparse.Namespace, roles: list[str]) -> int:
    """Start the roles in containers, print their URLs, hold until Ctrl-C or SIGTERM, then remove the containers."""
    import contextlib
    import signal
    import time

    from harness import containers

    image = args.image or containers.IMAGE
    if args.build:
        context = containers.source_checkout()
        containers.prepare_wheels(context)
        built = containers.build_image(context, image, args.base_image)
        print(f"built {built.tag}: {built.size_bytes / 1e6:.0f} MB in {built.seconds:.1f} s", flush=True)
    stack = containers.ReferenceContainers(image, roles, host=args.host, timeout_s=args.timeout)
    if args.free_ports:
        stack.with_free_ports()

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)  # SIGTERM, like Ctrl-C, ends the run and removes them
    stopped: str | None = None
    try:
        with stack, contextlib.suppress(KeyboardInterrupt):  # once up, Ctrl-C is the normal way to stop
            for endpoint in stack.endpoints.values():
                where = f"container {endpoint.container_id[:12]}, ready in {endpoint.ready_s:.1f} s"
                print(f"{endpoint.role:<16} {endpoint.url}  ({where})")
            print(f"reference endpoints up in containers of {image} (Ctrl-C stops and removes them)", flush=True)
            while stopped is None:
                time.sleep(1.0)
                stopped = stack.stopped_role()
    finally:
        signal.signal(signal.SIGTERM, previous)
    print("stopped; containers removed", file=sys.stderr)
    if stopped is not None:
        raise containers.ContainerError(f"the {stopped} container stopped by itself; every container was removed")
    return 0


# -- run and demo ---------------------------------------------------------------------


def _check_target(target: str) -> str:
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


def _check_sip_target(target: str) -> str:
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
    evidence: bool = True
    sut: Sut | None = None
    sign_key: Any = None
    """The Ed25519 private key that signs the evidence bundle (never printed)."""
    run_id: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    store: str | None = None
    """Run store URL (None: the default store); every run with evidence is recorded there."""


async def run_suite(catalog: Catalog, suite_ref: str, target: str, settings: RunSettings) -> RunFinished:
    """Run one suite against ``target``, writing its reports; raises TargetUnreachable before any scenario.

    A suite in which the SUT sends messages gets a reference endpoint of its own
    (the counterpart) on ``listen_host:listen_port`` for the length of the run.
    """
    from harness.endpoints import RecorderCounterpart, ReferenceServer, build_app

    suite = catalog.suite(suite_ref)
    options = dataclasses.replace(settings.credentials, timeout_s=settings.timeout, concurrency=settings.concurrency)
    redact = Redactor(options.secrets)
    transport = load_transport("http", options)
    extra_targets: dict[str, tuple[Transport, str]] = {}
    counterpart_server: ReferenceServer | None = None
    try:
        await transport.probe(target)
        if settings.sip_target is not None:
            # HTTP credentials (headers, TLS files) are not for the SIP side: only the time-out goes along.
            sip = load_transport("sip", TransportOptions(timeout_s=settings.timeout))
            extra_targets["sip"] = (sip, settings.sip_target)
            await sip.probe(settings.sip_target)
        counterpart: RecorderCounterpart | None = None
        if suite.counterpart:
            app = build_app(catalog)
            counterpart_server = ReferenceServer(app, settings.listen_host, settings.listen_port)
            try:
                url = await counterpart_server.start()
            except OSError as exc:
                where = f"{settings.listen_host}:{settings.listen_port}"
                raise UsageError(f"cannot listen on {where} for the reference endpoint: {exc.strerror}") from None
            counterpart = RecorderCounterpart(app, url)
        listeners: list[Listener] = [
            JournalReporter(settings.reports / "journal.jsonl", redact),
            ResultsJsonReporter(settings.reports, redact),
        ]
        if settings.console:
            listeners.insert(0, ConsoleReporter(redact=redact))
            if counterpart is not None:
                print(f"reference endpoint for the SUT to send to: {counterpart.url}", flush=True)
        if settings.junit is not None:
            listeners.append(JUnitReporter(settings.junit, redact))
        if settings.evidence:
            dataset_dir = catalog.datasets.get(suite.dataset) if suite.dataset else None
            listeners.append(
                EvidenceReporter(
                    settings.reports, suite, catalog.root, dataset_dir, redact, settings.sut, settings.sign_key,
                    run_id=settings.run_id,
                )
            )  # fmt: skip
        runner = Runner(
            catalog,
            transport,
            target,
            listeners,
            settings.concurrency,
            counterpart,
            unattended=settings.unattended,
            extra_targets=extra_targets,
        )
        finished = await runner.run(suite)
        if settings.evidence:
            evidence_commands.record_run(settings.reports / f"{settings.run_id}.evidence.zip", settings)
        return finished
    finally:
        await transport.close()
        for carrier, _ in extra_targets.values():
            await carrier.close()
        if counterpart_server is not None:
            await counterpart_server.stop()


def _credentials(args: argparse.Namespace) -> TransportOptions:
    """TLS files and extra headers from the command line; the key password only from the environment."""
    headers: list[tuple[str, str]] = []
    for text in args.header or ():
        name, sep, value = text.partition(":")
        if not sep or not name.strip() or any(c in name for c in " \t"):
            raise UsageError("bad --header: expected 'Name: value'")
        headers.append((name.strip(), value.strip()))
    for option in ("ca_bundle", "client_cert", "client_key"):
        path = getattr(args, option)
        if path and not Path(path).is_file():
            raise UsageError(f"--{option.replace('_', '-')} {path}: no such file")
    if args.client_key and not args.client_cert:
        raise UsageError("--client-key needs --client-cert")
    password = os.environ.get(args.key_password_env) if args.key_password_env else None
    if args.key_password_env and password is None:
        raise UsageError(f"--key-password-env names {args.key_password_env}, which is not set")
    return TransportOptions(
        ca_bundle=args.ca_bundle,
        client_cert=args.client_cert,
        client_key=args.client_key,
        key_password=password,
        headers=tuple(headers),
    )


def _cmd_report(args: argparse.Namespace) -> int:
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
    target = _check_target(args.target)
    sip_target = _check_sip_target(args.sip_target) if args.sip_target is not None else None
    catalog.suite(args.suite)  # unknown suites fail before any connection
    _positive(args.concurrency, "concurrency")
    host, port = _listen_address(args.listen)
    sut, sign_key = evidence_commands.run_options(args)
    settings = RunSettings(
        args.reports,
        args.junit,
        args.concurrency,
        args.timeout,
        _unattended(args),
        host,
        port,
        credentials=_credentials(args),
        sip_target=sip_target,
        evidence=not args.no_evidence,
        store=args.store,
        sut=sut,
        sign_key=sign_key,
    )
    try:
        finished = asyncio.run(run_suite(catalog, args.suite, target, settings))
    except KeyboardInterrupt:
        print(f"harness: interrupted; partial report: {args.reports / 'results.json'}", file=sys.stderr)
        return 130
    print(f"report: {args.reports / 'results.json'}" + (f", JUnit: {args.junit}" if args.junit else ""))
    if settings.evidence:
        state = "signed" if sign_key is not None else "unsigned"
        marked = "" if sut is not None else "; no --sut-* given: not certifiable"
        print(f"evidence: {args.reports / (settings.run_id + '.evidence.zip')} ({state}{marked})")
    return 0 if finished.certified else 1


def _cmd_demo(args: argparse.Namespace) -> int:
    from harness.endpoints import ReferenceServer, build_app
    from harness.endpoints.sip_gateway import SipServer

    catalog = load_catalog(check_names=suitecheck.known_checks())
    _positive(args.concurrency, "concurrency")

    async def demo() -> list[RunFinished]:
        async with ReferenceServer(build_app(catalog)) as url, SipServer(catalog) as sip:
            sip_target = sip.uri()
            print(f"reference supplier running in-process at {url} and {sip_target}")
            runs = []
            for suite in catalog.latest_suites():
                settings = RunSettings(
                    args.reports / suite.name, None, args.concurrency, unattended=True, sip_target=sip_target
                )
                runs.append(await run_suite(catalog, suite.ref, url, settings))
            return runs

    runs = asyncio.run(demo())
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
            }
        )
    certified = all(run.certified for run in runs)
    document = {
        "harness": {"version": harness.__version__},
        "target": "embedded reference supplier",
        "certified": certified,
        "summary": total.as_dict(),
        "suites": suites,
    }
    write_atomically(args.reports / "results.json", json.dumps(document, indent=2).encode() + b"\n")
    print()
    print(f"demo: {len(runs)} suite(s): {summary_line(total)} -> {'CERTIFIED' if certified else 'NOT CERTIFIED'}")
    for entry in suites:
        print(f"  {entry['name']}@{entry['version']}: {entry['report']}")
    print(f"  all suites: {args.reports / 'results.json'}")
    return 0 if certified else 1


_COMMANDS = {
    "formats": _cmd_formats,
    "suites": _cmd_suites,
    "validate": _cmd_validate,
    "serve": _cmd_serve,
    "up": _cmd_up,
    "run": _cmd_run,
    "report": _cmd_report,
    "demo": _cmd_demo,
}


if __name__ == "__main__":
    raise SystemExit(main())
