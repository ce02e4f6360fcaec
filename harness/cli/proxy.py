"""``harness proxy``: a passive, byte-exact HTTP/1.1 proxy between two real systems, checking every exchange.

Exit codes: 0 stopped with no finding, 1 stopped with findings, 2 usage, 3 the upstream unreachable at start.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import signal
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.cli.options import add_credential_options, credentials_from
from harness.cli.profile import catalog_at, profile_option
from harness.model import TargetUnreachable, UsageError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    proxy = subparsers.add_parser(
        "proxy", help="forward HTTP/1.1 between two systems unchanged and check every exchange against the profile"
    )
    proxy.add_argument("--listen", required=True, metavar="HOST:PORT", help="where to listen (port 0: any free one)")
    proxy.add_argument("--upstream", required=True, metavar="URL", help="where to forward (http:// or https://)")
    proxy.add_argument("--reports", type=Path, metavar="DIR", help="write results.json, report.html, junit.xml here")
    proxy.add_argument("--record", type=Path, metavar="FILE.har", help="record the exchanges in HAR 1.2")
    proxy.add_argument(
        "--mask-personal",
        action="store_true",
        help="with --record: pseudonymise personal data (key: $HARNESS_MASK_KEY)",
    )
    proxy.add_argument("--max-exchanges", type=int, metavar="N", help="with --record: at most N exchanges")
    proxy.add_argument("--max-bytes", type=int, metavar="N", help="with --record: at most N bytes of recording")
    proxy.add_argument("--tls-cert", help="listen with TLS: this PEM certificate (chain)")
    proxy.add_argument("--tls-key", help="the PEM private key of --tls-cert")
    proxy.add_argument("--forward-only", action="store_true", help=argparse.SUPPRESS)  # benchmarks: no checking
    add_credential_options(proxy)
    for action in proxy._actions:  # the run's options, read as a passive proxy reads them: it adds no header
        if action.dest == "header":
            action.help = "a credential the traffic carries ('Name: value'): redacted wherever it appears in any output"
        elif action.dest == "secret_header":
            action.help = "like --header, for a header whose name does not say it is a credential"
    profile_option(proxy)
    proxy.set_defaults(func=_cmd_proxy)


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--listen {text}: expected HOST:PORT")
    return host.strip("[]"), int(port)


def _recorder(args: argparse.Namespace, redactor: Any) -> Any:
    """The HAR writer of ``--record`` (``harness.recording.har``), or None."""
    if args.record is None:
        for option in ("mask_personal", "max_exchanges", "max_bytes"):
            if getattr(args, option):
                raise UsageError(f"--{option.replace('_', '-')} goes with --record")
        return None
    for option in ("max_exchanges", "max_bytes"):
        value = getattr(args, option)
        if value is not None and value < 1:
            raise UsageError(f"--{option.replace('_', '-')} must be at least 1")
    key = os.environ.get("HARNESS_MASK_KEY")
    if args.mask_personal and not key:
        raise UsageError("--mask-personal needs the pseudonym key in HARNESS_MASK_KEY")
    try:
        har = importlib.import_module("harness.recording.har")
    except ImportError:
        raise UsageError("--record: this build has no HAR writer (harness.recording.har)") from None
    masker = har.personal_masker(key) if args.mask_personal else None  # the key is never written anywhere
    try:
        return har.HarWriter(args.record, args.max_exchanges, args.max_bytes, masker, redactor=redactor)
    except OSError as exc:
        raise UsageError(f"--record {args.record}: {exc.strerror}") from None


def _cmd_proxy(args: argparse.Namespace) -> int:
    from harness.protocols.http1 import parse_target
    from harness.proxy.checks import ExchangeChecker
    from harness.proxy.loop import run
    from harness.proxy.report import write_reports
    from harness.proxy.server import ProxyServer, probe_upstream
    from harness.proxy.session import CheckingProcess, ProxySession
    from harness.reporting.redaction import Redactor, printable
    from harness.transport import tls_context

    host, port = _listen(args.listen)
    if not args.upstream.startswith(("http://", "https://")):
        raise UsageError(f"--upstream {args.upstream}: an http:// or https:// URL")
    parts = urlsplit(args.upstream)
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        # A passive proxy sends each request target as the client sent it and adds nothing to a request.
        shown = Redactor(urls=[args.upstream]).text(args.upstream)  # the URL's credentials never reach the console
        raise UsageError(f"--upstream {shown}: give scheme://host:port only (no path, query or credentials)")
    upstream = parse_target(args.upstream)
    options = credentials_from(args)
    upstream_tls = tls_context(options) if upstream.tls else None
    listen_tls = _listen_tls(args)
    catalog = catalog_at(args)
    redactor = Redactor.for_run(options, [args.upstream])
    if args.reports is not None:
        try:
            args.reports.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--reports {args.reports}: {exc.strerror}") from None
    recorder = _recorder(args, redactor)

    def say(line: str) -> None:
        print(line, flush=True)

    masker = getattr(recorder, "masker", None) if args.mask_personal else None
    session = ProxySession(
        ExchangeChecker(catalog),
        redactor,
        print_line=say,
        recorder=recorder,
        mask=masker.mask if masker is not None else None,  # the report shows what the recording shows
        start=False,
    )
    # The checks run in a child process forked here, before the event loop exists, so that the forwarding keeps its
    # own interpreter and core (docs/proxy.md, decision 6); --forward-only (benchmarks) starts none.
    checking = None if args.forward_only else CheckingProcess(session)
    forward = _counting if checking is None else checking.submit  # the plain fields: made into exchanges there

    async def serve() -> dict[str, int]:
        why = await probe_upstream(upstream, upstream_tls)
        if why is not None:
            raise TargetUnreachable(f"upstream unreachable: {why}")
        if checking is not None:
            await checking.start()
        server = ProxyServer(
            upstream,
            _counting,
            on_raw=forward,
            upstream_tls=upstream_tls,
            listen_tls=listen_tls,
            on_problem=lambda text: say(printable(redactor.text(f"NOTE {text}"))),
            on_unframed=session.unframed if checking is None else checking.unframed,
        )
        try:
            bound_host, bound_port = await server.start(host, port)
        except OSError as exc:
            raise UsageError(f"cannot listen on {args.listen}: {exc.strerror}") from None
        scheme = "https" if listen_tls else "http"
        say(
            f"proxy listening on {scheme}://{bound_host}:{bound_port} -> {redactor.text(upstream.origin)} "
            "(Ctrl-C to stop)"
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await server.close()
            if checking is not None:
                await checking.finish_async()  # the child's findings, counts and failures come back here
        counters = server.counters
        return {
            "connections": counters.connections,
            "upstream_failures": counters.upstream_failures,
            "unwatched_connections": counters.unwatched,
        }

    try:
        counters = run(serve())  # on uvloop when installed (harness/proxy/loop.py)
    finally:
        if checking is not None:
            checking.finish()
        session.finish()
    counters["dropped"] = session.dropped
    counters["checker_failures"] = len(session.failures)
    findings = session.findings
    if args.reports is not None:
        write_reports(args.reports, findings, counters, redactor.text(upstream.origin))
    dropped = f", {session.dropped} not checked (the checker fell behind)" if session.dropped else ""
    print(
        f"stopped: {findings.exchanges} exchange(s), {findings.errors} finding(s), {findings.warnings} warning(s)"
        f"{dropped}",
        file=sys.stderr,
    )
    for failure in session.failures:
        print(f"harness: checker failed on an exchange: {printable(redactor.text(failure))}", file=sys.stderr)
    # "No finding" is claimed only for traffic that was checked whole: an exchange the checker dropped (it fell
    # behind) or failed on could hide one, so either makes the exit 1 too (docs/proxy.md).
    return 1 if findings.errors or session.failures or session.dropped else 0


def _counting(_: Any) -> None:
    """``--forward-only`` (benchmarks): exchanges are cut out of the traffic but not checked."""


def _listen_tls(args: argparse.Namespace) -> Any:
    if not args.tls_cert and not args.tls_key:
        return None
    if not (args.tls_cert and args.tls_key):
        raise UsageError("--tls-cert and --tls-key go together")
    import ssl

    from harness.endpoints import server_tls

    for option in ("tls_cert", "tls_key"):
        if not Path(getattr(args, option)).is_file():
            raise UsageError(f"--{option.replace('_', '-')} {getattr(args, option)}: no such file")
    try:
        return server_tls(args.tls_cert, args.tls_key, None)
    except ssl.SSLError as exc:
        raise UsageError(f"unusable TLS files: {exc.reason or 'cannot load'}") from None
