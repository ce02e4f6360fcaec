"""The reference supplier, broken for load tests: every 100th answer is an HTTP 500 problem instead.

``python -m tests.integration.one_percent_supplier`` serves it on 127.0.0.1 port 0 and prints its URL.
"""

from __future__ import annotations

import itertools
import sys

from aiohttp import web

from harness.catalog import load_catalog
from harness.endpoints import build_app
from harness.endpoints.common import problem

EVERY = 100


def broken_app() -> web.Application:
    app = build_app(load_catalog())
    counter = itertools.count(1)

    @web.middleware
    async def one_in_a_hundred(request: web.Request, handler: web.RequestHandler) -> web.StreamResponse:  # type: ignore[name-defined]
        response = await handler(request)
        if not request.path.startswith("/_harness/") and next(counter) % EVERY == 0:
            return problem(500, "internal-error", "broken on purpose")
        return response

    app.middlewares.insert(0, one_in_a_hundred)
    return app


def main() -> None:
    def announce(url: str) -> None:
        print(f"listening on {url}", flush=True)

    runner_app = broken_app()

    async def start() -> None:
        runner = web.AppRunner(runner_app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        announce(f"http://127.0.0.1:{port}")

    import asyncio

    loop = asyncio.new_event_loop()
    loop.run_until_complete(start())
    try:
        loop.run_forever()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
