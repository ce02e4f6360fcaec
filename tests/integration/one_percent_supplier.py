"""The reference supplier, broken for load tests: every 100th answer is an HTTP 500 problem instead.

``python -m tests.integration.one_percent_supplier`` serves it on 127.0.0.1 port 0 and prints its URL.
"""

from __future__ import annotations

import itertools

from aiohttp import web

from harness.catalog import load_catalog
from harness.endpoints import build_app
from harness.endpoints.common import problem
from tests.integration.served import run_on_loopback

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
    run_on_loopback(broken_app())


if __name__ == "__main__":
    main()
