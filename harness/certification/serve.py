"""``harness catalogue serve DIR``: the built catalogue over HTTP on loopback, for a lab."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from aiohttp import web

from harness.model import UsageError

__all__ = ["catalogue_app", "serve_catalogue"]


def catalogue_app(directory: Path) -> web.Application:
    root = directory.resolve()
    app = web.Application()

    async def index(_: web.Request) -> web.FileResponse:
        return web.FileResponse(root / "index.html")

    app.router.add_get("/", index)
    app.router.add_static("/", root, show_index=False, follow_symlinks=False)
    return app


def serve_catalogue(directory: Path, port: int) -> int:
    async def serve() -> None:
        runner = web.AppRunner(catalogue_app(directory))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise UsageError(f"cannot bind 127.0.0.1:{port}: {exc.strerror}") from None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        bound = runner.addresses[0][1] if runner.addresses else port
        print(f"catalogue of {directory} at http://127.0.0.1:{bound}/ (Ctrl-C to stop)", flush=True)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
    print("stopped", file=sys.stderr)
    return 0
