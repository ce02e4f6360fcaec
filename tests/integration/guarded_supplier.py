"""The reference supplier behind a bearer token: every request without ``Authorization: Bearer $TOKEN`` gets 401.

``TOKEN=... python -m tests.integration.guarded_supplier`` serves it on 127.0.0.1 port 0 and prints its URL.
"""

from __future__ import annotations

import asyncio
import os
import sys

from aiohttp import web

from harness.catalog import load_catalog
from harness.endpoints import build_app
from harness.endpoints.common import problem


def guarded_app(token: str) -> web.Application:
    app = build_app(load_catalog())

    @web.middleware
    async def bearer(request: web.Request, handler: web.RequestHandler) -> web.StreamResponse:  # type: ignore[name-defined]
        if request.headers.get("Authorization") != f"Bearer {token}":
            return problem(401, "unauthorized", "no or wrong bearer token")
        response: web.StreamResponse = await handler(request)
        return response

    app.middlewares.insert(0, bearer)
    return app


def main() -> None:
    app = guarded_app(os.environ["TOKEN"])

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


if __name__ == "__main__":
    main()
