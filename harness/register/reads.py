"""The register's public reads: the JSON documents of the contract, the log's proofs, and the pages.

Every view is computed from the process's :class:`~harness.register.views.Snapshot` of the store; store
reads run in threads, the run report of a bundle is rendered in the verifying pool.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from harness.certification import can_exchange, parse_product
from harness.certification.matrix import exchange_document, matrix_document
from harness.model import UsageError
from harness.register import pages
from harness.register.log import consistency_json, inclusion_json
from harness.register.pool import render_report
from harness.register.state import json_answer, problem, state_of
from harness.register.views import Snapshot, catalogue_feed, certificate_document

__all__ = [
    "BUNDLE_TYPE",
    "bundle",
    "catalogue",
    "certificate",
    "certificate_page",
    "checkpoint",
    "consistency",
    "exchange",
    "exchange_page",
    "icon",
    "inclusion",
    "index_page",
    "log_entry",
    "matrix",
    "matrix_page",
    "product_page",
    "report_page",
    "stylesheet",
]

BUNDLE_TYPE = "application/zip"
_REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
"""The run report is one self-contained page (inline style and script, no fetch); nothing else is allowed."""


# -- public reads ------------------------------------------------------------------------------------------------


async def _document(request: web.Request, name: str, build: Callable[[Snapshot], Any]) -> web.Response:
    """A whole-register JSON document, serialised once per snapshot (in a thread: 10,000 entries take a while)."""
    state = state_of(request)
    snapshot = await state.snapshot()
    held = state.documents.get(name)
    if held is None or held[0] is not snapshot:
        body = await asyncio.to_thread(lambda: json.dumps(build(snapshot), ensure_ascii=False).encode())
        held = (snapshot, body)
        state.documents[name] = held
    return web.Response(body=held[1], content_type="application/json")


async def catalogue(request: web.Request) -> web.Response:
    """``GET /register/v1/catalogue``: the feed of ``catalogue.json``, with each certificate's log index."""
    return await _document(request, "catalogue", catalogue_feed)


async def matrix(request: web.Request) -> web.Response:
    """``GET /register/v1/matrix``: as ``harness matrix --json``."""
    return await _document(request, "matrix", lambda snapshot: matrix_document(snapshot.evidence, snapshot.suites))


def _products(request: web.Request, snapshot: Snapshot) -> tuple[Any, Any] | web.Response:
    given = (request.query.get("a", ""), request.query.get("b", ""))
    try:
        a, b = parse_product(given[0]), parse_product(given[1])
    except UsageError as exc:
        return problem(400, "bad-request", str(exc))
    known = snapshot.evidence.products()
    for product in (a, b):
        if product not in known:
            return problem(404, "not-found", f"unknown product {product.ref!r}")
    return a, b


async def exchange(request: web.Request) -> web.Response:
    snapshot = await state_of(request).snapshot()
    pair = _products(request, snapshot)
    if isinstance(pair, web.Response):
        return pair
    overall, answers = can_exchange(pair[0], pair[1], snapshot.evidence, snapshot.suites)
    return json_answer(exchange_document(pair[0], pair[1], overall, answers))


async def certificate(request: web.Request) -> web.Response:
    snapshot = await state_of(request).snapshot()
    found = snapshot.certificate(request.match_info["ident"])
    if found is None:
        return problem(404, "not-found", f"no certificate {request.match_info['ident'][:40]!r}")
    return json_answer(certificate_document(snapshot, found))


async def bundle(request: web.Request) -> web.Response:
    state = state_of(request)
    snapshot = await state.snapshot()
    found = snapshot.certificate(request.match_info["ident"])
    if found is None:
        return problem(404, "not-found", "no such certificate")
    data = await asyncio.to_thread(state.store.bundle_bytes, found.bundle_sha256)
    name = f"{found.bundle_sha256[:16]}-{found.run_id}.evidence.zip"
    return web.Response(
        body=data,
        content_type=BUNDLE_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"', "X-Content-Type-Options": "nosniff"},
    )


def _int_params(request: web.Request, *names: str) -> tuple[int, ...] | web.Response:
    values = []
    for name in names:
        text = request.query.get(name, "")
        if not text.isdigit() or len(text) > 18:
            return problem(400, "bad-request", f"{name} must be a non-negative integer")
        values.append(int(text))
    return tuple(values)


async def checkpoint(request: web.Request) -> web.Response:
    """``GET /register/v1/log/checkpoint``: the log's head, signed with the body's key now."""
    state = state_of(request)
    signed = await asyncio.to_thread(state.store.checkpoint, state.body_key)
    return json_answer(signed.as_json())


async def inclusion(request: web.Request) -> web.Response:
    """``GET /register/v1/log/inclusion?index=N&size=M``: the entry and PATH(N, D[M])."""
    values = _int_params(request, "index", "size")
    if isinstance(values, web.Response):
        return values
    index, size = values
    store = state_of(request).store

    def prove() -> dict[str, Any]:
        return inclusion_json(store.log_entry(index), size, store.inclusion_proof(index, size))

    try:
        return json_answer(await asyncio.to_thread(prove))
    except UsageError as exc:
        return problem(400, "bad-request", str(exc))


async def log_entry(request: web.Request) -> web.Response:
    """``GET /register/v1/log/entries/{index}``: one entry (its leaf hash is the auditor's to recompute)."""
    text = request.match_info["index"]
    if not text.isdigit() or len(text) > 18:
        return problem(400, "bad-request", "index must be a non-negative integer")
    store = state_of(request).store
    try:
        entry = await asyncio.to_thread(store.log_entry, int(text))
    except UsageError as exc:
        return problem(404, "not-found", str(exc))
    return json_answer(entry.as_json())


async def consistency(request: web.Request) -> web.Response:
    """``GET /register/v1/log/consistency?first=M&second=N``: PROOF(M, D[N])."""
    values = _int_params(request, "first", "second")
    if isinstance(values, web.Response):
        return values
    first, second = values
    store = state_of(request).store
    try:
        proof = await asyncio.to_thread(store.consistency_proof, first, second)
    except UsageError as exc:
        return problem(400, "bad-request", str(exc))
    return json_answer(consistency_json(first, second, proof))


# -- pages -------------------------------------------------------------------------------------------------------


def _page(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


async def index_page(request: web.Request) -> web.Response:
    snapshot = await state_of(request).snapshot()
    return _page(pages.catalogue_page(snapshot, request.query.get("q", ""), request.query.get("page", "1")))


async def product_page(request: web.Request) -> web.Response:
    snapshot = await state_of(request).snapshot()
    product = snapshot.product(request.match_info["slug"])
    if product is None:
        return _page(pages.not_found_page("No such product in the register."), 404)
    return _page(pages.product_page(snapshot, product))


async def certificate_page(request: web.Request) -> web.Response:
    snapshot = await state_of(request).snapshot()
    found = snapshot.certificate(request.match_info["ident"])
    if found is None:
        return _page(pages.not_found_page("No such certificate in the register."), 404)
    return _page(pages.certificate_page(snapshot, found))


async def report_page(request: web.Request) -> web.Response:
    """The certificate's run report, rendered from the registered bytes through the verifier (in the pool)."""
    state = state_of(request)
    snapshot = await state.snapshot()
    found = snapshot.certificate(request.match_info["ident"])
    if found is None:
        return _page(pages.not_found_page("No such certificate in the register."), 404)
    page = state.reports.get(found.bundle_sha256, "")
    if not page:
        data = await asyncio.to_thread(state.store.bundle_bytes, found.bundle_sha256)
        handle, name = tempfile.mkstemp(prefix="register-report-", suffix=".evidence.zip", dir=state.config.spool)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        try:
            rendered: tuple[str, bool] = await state.in_pool(render_report, name)
            page = rendered[0]
        finally:
            Path(name).unlink(missing_ok=True)
        state.reports[found.bundle_sha256] = page
        while len(state.reports) > 32:
            state.reports.popitem(last=False)
    response = _page(page)
    response.headers["Content-Security-Policy"] = _REPORT_CSP
    return response


async def matrix_page(request: web.Request) -> web.Response:
    snapshot = await state_of(request).snapshot()
    return _page(pages.matrix_page(snapshot, request.query.get("q", ""), request.query.get("page", "1")))


async def exchange_page(request: web.Request) -> web.Response:
    snapshot = await state_of(request).snapshot()
    if "a" not in request.query and "b" not in request.query:
        return _page(pages.exchange_page(snapshot, None))
    pair = _products(request, snapshot)
    if isinstance(pair, web.Response):
        detail = json.loads(pair.body).get("detail", "") if isinstance(pair.body, bytes) else ""
        return _page(
            pages.exchange_page(snapshot, None, request.query.get("a", ""), request.query.get("b", ""), detail),
            pair.status,
        )
    overall, answers = can_exchange(pair[0], pair[1], snapshot.evidence, snapshot.suites)
    return _page(pages.exchange_page(snapshot, exchange_document(pair[0], pair[1], overall, answers)))


_ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1a7f37"/>'
    '<path d="M4 8l3 3 5-6" stroke="#fff" stroke-width="2" fill="none"/></svg>'
)


async def icon(_: web.Request) -> web.Response:
    """The register's own icon (a browser asks for one; nothing is fetched from elsewhere)."""
    return web.Response(text=_ICON, content_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


async def stylesheet(_: web.Request) -> web.Response:
    return web.Response(text=pages.stylesheet(), content_type="text/css", charset="utf-8")
