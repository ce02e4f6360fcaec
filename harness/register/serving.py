"""``harness register serve``: one listening socket, N server processes over one database, TLS optional.

A parent binds the socket once and forks the server processes, which all accept on it; each builds its own
application (:func:`harness.register.service.build_app`), verifying pool and store connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import ssl
import sys
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from harness.model import UsageError
from harness.register.service import build_app
from harness.register.state import RegisterConfig

__all__ = ["Listening", "serve"]


def _ssl_context(cert: str | None, key: str | None, client_ca: str | None) -> ssl.SSLContext | None:
    if cert is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    if client_ca is not None:
        context.load_verify_locations(client_ca)
        # Optional: reads are public; a submission without a certificate needs a bearer token instead.
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


@dataclass(slots=True, frozen=True)
class Listening:
    host: str
    port: int
    processes: int
    tls: tuple[str | None, str | None, str | None] = (None, None, None)


def _serve_one(sock: socket.socket, config: RegisterConfig, tls: tuple[str | None, str | None, str | None]) -> None:
    """One server process: the app on the shared socket until SIGTERM or SIGINT."""
    logging.basicConfig(level=logging.INFO, format="harness register[%(process)d]: %(message)s", stream=sys.stderr)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the register's own lines, not the migrator's

    async def run() -> None:
        runner = web.AppRunner(build_app(config), access_log=None)
        await runner.setup()
        site = web.SockSite(runner, sock, ssl_context=_ssl_context(*tls))
        await site.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, stop.set)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    asyncio.run(run())


def serve(config: RegisterConfig, listening: Listening) -> int:
    """Bind once, print ``listening on URL``, then serve in ``processes`` processes sharing the socket."""
    if listening.tls[0] is not None:
        _ssl_context(*listening.tls)  # a bad certificate or key is a usage error now, not N crashed children
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((listening.host, listening.port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot bind {listening.host}:{listening.port}: {exc.strerror}") from None
    sock.listen(512)
    sock.set_inheritable(True)
    port = sock.getsockname()[1]
    scheme = "https" if listening.tls[0] else "http"
    print(f"register listening on {scheme}://{listening.host}:{port}/ ({listening.processes} processes)", flush=True)
    if listening.processes == 1:
        with contextlib.suppress(KeyboardInterrupt):
            _serve_one(sock, config, listening.tls)
        return 0
    context = multiprocessing.get_context("fork")  # the children inherit the bound socket; nothing else runs yet
    children = [
        context.Process(target=_serve_one, args=(sock, config, listening.tls)) for _ in range(listening.processes)
    ]
    for child in children:
        child.start()
    sock.close()
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.pid is not None and child.is_alive():
                os.kill(child.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for child in children:
        child.join()
    failed = [child.exitcode for child in children if child.exitcode not in (0, None)]
    return 0 if stopping or not failed else 1
