"""Reference servers for the load tests: a server process whose ready line gives its URL, and the ``main`` of a
supplier module run as such a process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator

from aiohttp import web

from tests.conftest import ROOT


def serve_process(command: list[str], env: dict[str, str] | None = None) -> Iterator[str]:
    """Start ``command``, yield the URL of its ``listening on URL`` line, stop it afterwards."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, **(env or {})})
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "listening on http://127.0.0.1:" in line or "listening on https://127.0.0.1:" in line, line
    try:
        yield line.split(" on ", 1)[1].split()[0]
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


def run_on_loopback(app: web.Application) -> None:
    """Serve ``app`` on 127.0.0.1 port 0, print ``listening on URL``, run until interrupted."""

    async def start() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        assert site._server is not None
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(f"listening on http://127.0.0.1:{port}", flush=True)

    loop = asyncio.new_event_loop()
    loop.run_until_complete(start())
    try:
        loop.run_forever()
    except KeyboardInterrupt:
        sys.exit(0)
