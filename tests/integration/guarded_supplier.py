"""The reference supplier behind a bearer token: every request without ``Authorization: Bearer $TOKEN`` gets 401.

``TOKEN=... python -m tests.integration.guarded_supplier`` serves it on 127.0.0.1 port 0 and prints its URL.
"""

from __future__ import annotations

import os

from aiohttp import web

from harness.catalog import load_catalog
from harness.endpoints import build_app
from harness.endpoints.common import problem
from tests.integration.served import run_on_loopback


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
    run_on_loopback(guarded_app(os.environ["TOKEN"]))


if __name__ == "__main__":
    main()
