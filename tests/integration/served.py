"""Reference servers for the load tests: a server process whose ready line gives its URL, and the ``main`` of a
supplier module run as such a process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator

from aiohttp import web

from tests.conftest import ROOT

ALERT_HUB_1_0 = [
    sys.executable, "-m", "harness.cli", "serve", "--role", "alert-hub", "--host", "127.0.0.1", "--port", "0",
    "--profile", "alerts=1.0",
]  # fmt: skip
"""``harness serve`` playing alerts 1.0: the reference an alerts-core@1.0 run is made against."""


@contextlib.contextmanager
def serve_process(
    command: list[str], env: dict[str, str] | None = None, clean_exit: bool = False, expect: str = ""
) -> Iterator[str]:
    """Start ``command``, yield the URL of its ``listening on URL`` line, stop it afterwards; ``expect`` is text the
    ready line must hold too; with ``clean_exit``, assert it then exits 0 with no traceback (what ``harness serve``
    promises on SIGTERM)."""
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=errors, text=True, cwd=ROOT, env={**os.environ, **(env or {})}
        )
        assert process.stdout is not None
        try:
            line = process.stdout.readline()
            assert "listening on http://127.0.0.1:" in line or "listening on https://127.0.0.1:" in line, line
            assert expect in line, line
            yield line.split(" on ", 1)[1].split()[0]
        finally:
            process.terminate()
            process.wait(timeout=30)
            process.stdout.close()
        errors.seek(0)
        written = errors.read()
    if clean_exit:
        assert process.returncode == 0 and "Traceback" not in written, written


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
