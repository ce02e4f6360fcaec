"""``harness serve`` and ``harness up``: reference endpoints in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.cli.profile import catalog_at, profile_option
from harness.model import UsageError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    serve = subparsers.add_parser("serve", help="run a reference endpoint in the foreground (the image's entry point)")
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
    profile_option(serve, "play")
    serve.add_argument(
        "--faults",
        metavar="PLAN.yaml",
        help="answer on this fault plan (resilience.md: status/Retry-After, reset, delay, close-before-body, "
        "accept-then-forget; docs/resilience.md); change it live with PUT /_harness/faults",
    )
    serve.add_argument("--processes", type=int, default=1, help="processes sharing the port (SO_REUSEPORT)")
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)  # one of --processes
    serve.add_argument("--shared-state", help=argparse.SUPPRESS)  # one of --processes: the parent's SQLite database

    up = subparsers.add_parser(
        "up", help="run every reference role on its documented port, in-process or in containers"
    )
    up.add_argument("--containers", action="store_true", help="in containers of the harness image (needs Docker)")
    up.add_argument("--role", action="append", dest="roles", metavar="ROLE", help="only this role (repeatable)")
    up.add_argument("--host", default="127.0.0.1", help="address to bind (containers use host networking)")
    up.add_argument("--free-ports", action="store_true", help="ports that are free now instead of the documented ones")
    up.add_argument("--image", help="with --containers: the image to run (default netcode-harness:latest)")
    up.add_argument("--build", action="store_true", help="with --containers: build the image from this checkout first")
    up.add_argument("--base-image", help="with --build: the BASE_IMAGE build argument (default python:3.11-slim)")
    up.add_argument("--timeout", type=float, default=60.0, help="with --containers: seconds to become ready")
    profile_option(up, "play")

    serve.set_defaults(func=_cmd_serve)
    up.set_defaults(func=_cmd_up)


def _cmd_serve(args: argparse.Namespace) -> int:
    from harness.endpoints import ReferenceServer, build_app, roles_named

    if args.processes != 1:
        from harness.endpoints.processes import serve_processes

        if args.processes < 1:
            raise UsageError("--processes must be at least 1")
        tls = [f"--{name.replace('_', '-')}={getattr(args, name)}" for name in ("tls_cert", "tls_key", "client_ca")]
        _serving_tls(args)  # its usage errors, once, here
        options = ["--role", args.role, *(option for option in tls if not option.endswith("=None"))]
        if args.faults:
            _fault_plan(args.faults)  # its usage errors, once, here
            options.append(f"--faults={args.faults}")
        profiles = [f"--profile={p}" for p in (getattr(args, "profile", None) or [])]
        return serve_processes([*options, *profiles], args.host, args.port, args.processes)
    if args.shared_state:
        _share_state(args.shared_state)
    catalog = catalog_at(args)
    faults = _fault_plan(args.faults) if args.faults else None
    server = ReferenceServer(
        build_app(catalog, roles_named(catalog, args.role), faults=faults),
        args.host,
        args.port,
        _serving_tls(args),
        args.reuse_port,
    )
    playing = ", ".join(f"{document}@{version}" for document, version in catalog.in_force)
    rules = len(faults.plans()[""]["rules"]) if faults is not None and faults.plans() else 0
    if faults is not None:
        playing += f"; fault plan {args.faults}: {rules} rule(s)"

    def started(urls: dict[str, str]) -> None:
        print(
            f"reference endpoints listening on {urls[args.role]} (role {args.role}, playing {playing}; Ctrl-C to stop)",
            flush=True,
        )

    return _serve_until_stopped({args.role: server}, started)


def _fault_plan(path: str) -> Any:
    """The injector of ``--faults PLAN.yaml`` (a plan: ``rules: [{method, path, id, count, action}]``), or a
    usage error naming the file and the rule."""
    import yaml

    from harness.endpoints.faults import FaultInjector
    from harness.families.resilience.faults import FaultPlanError, parse_plan

    try:
        with open(path, "rb") as handle:
            data = handle.read(1 << 20)
        document = yaml.safe_load(data.decode("utf-8"))
    except OSError as exc:
        raise UsageError(f"--faults {path}: {exc.strerror or 'cannot read'}") from None
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"--faults {path}: not a YAML plan ({type(exc).__name__})") from None
    try:
        return FaultInjector(parse_plan(document, f"--faults {path}"))
    except FaultPlanError as exc:
        raise UsageError(str(exc)) from None


def _share_state(path: str) -> None:
    """One of ``--processes``: keep the roles' state in the parent's SQLite database."""
    import sqlite3

    from harness.endpoints.store import share_state

    if not Path(path).is_file():
        raise UsageError(f"--shared-state {path}: no such file")
    try:
        share_state(Path(path))
    except (OSError, sqlite3.Error) as exc:
        raise UsageError(f"--shared-state {path}: unusable ({exc})") from None


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
        if args.profile:
            raise UsageError("--profile plays other document versions in-process only (containers play the current)")
        return _up_in_containers(args, roles)
    if args.build or args.image or args.base_image:
        raise UsageError("--image, --build and --base-image go with --containers")
    catalog = catalog_at(args)
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
