"""The register's web service (aiohttp): submissions, public reads, the body's signed acts, the log.

One :func:`build_app` per server process; ``harness register serve --processes N`` runs N of them on one
listening socket over one database (:func:`serve`). Submissions are bounded three ways before any CPU is
spent: the declared size (413 before reading), the streamed size (413 as soon as it is exceeded), and the
number of submissions pending in this process (503 with ``Retry-After`` when full). Verification with
re-judging runs in a process pool (:mod:`harness.register.pool`), never in the event loop; store reads run
in threads. Every refusal is logged on one line (status, peer, organisation, reason; never a credential).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import json
import logging
import multiprocessing
import os
import signal
import socket
import ssl
import sys
import tempfile
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.catalog import load_catalog, use_folders
from harness.certification import can_exchange, parse_product
from harness.certification.matrix import exchange_document, matrix_document
from harness.model import HarnessError, UsageError
from harness.profile import PROBLEM_BASE, PROBLEM_MEDIA_TYPE
from harness.register import pages
from harness.register.auth import bearer_token, org_from_certificate
from harness.register.lifecycle import LifecycleError, check_lifecycle
from harness.register.log import consistency_json, inclusion_json
from harness.register.pool import Judged, judge_submission, render_report, start_worker
from harness.register.views import API, Snapshot, SnapshotCache, catalogue_feed, certificate_document

if TYPE_CHECKING:
    from harness.store import Store

__all__ = ["LOG", "RegisterConfig", "build_app", "serve"]

LOG = logging.getLogger("harness.register")
BUNDLE_TYPE = "application/zip"
_CHUNK = 64 << 10
_TITLES = {
    "invalid-bundle": "The bundle is not valid evidence",
    "unauthenticated": "A bearer token or a client certificate is needed",
    "forbidden": "The organisation may not do this",
    "too-large": "The body is larger than the register accepts",
    "unsupported-media-type": "The media type is not accepted here",
    "overloaded": "Too many submissions pending; try again later",
    "not-found": "No such resource",
    "bad-request": "The request is malformed",
    "conflict": "The act conflicts with what the register holds",
    "request-timeout": "The upload took too long",
    "method-not-allowed": "Method not allowed",
    "internal": "The register failed to answer",
}
_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
"""The run report is one self-contained page (inline style and script, no fetch); nothing else is allowed."""


@dataclass(slots=True, frozen=True)
class RegisterConfig:
    """What one server process needs (picklable: it is handed to every process)."""

    store_url: str
    trust_lists: tuple[str, ...]
    body_key_pem: bytes
    """The body's private key (PKCS8 PEM, unencrypted, in memory only): it signs checkpoints."""
    catalog_folders: tuple[str, ...] = ()
    max_bundle_bytes: int = 64 << 20
    pending: int = 8
    """Submissions in flight in one server process (upload + verification) before 503."""
    workers: int = 1
    """Verifying worker processes per server process."""
    retry_after: int = 5
    upload_seconds: float = 300.0
    """The longest an upload may take (its slot is held meanwhile)."""
    spool: str | None = None
    """Where uploads are streamed to (default: the system's temporary folder)."""


def problem(status: int, kind: str, detail: str = "", **headers: str) -> web.Response:
    """An RFC 9457 problem document (``type`` ends with ``/<kind>``); ``Retry_After`` is ``Retry-After``."""
    body: dict[str, Any] = {"type": PROBLEM_BASE + kind, "title": _TITLES.get(kind, kind), "status": status}
    if detail:
        body["detail"] = detail
    return web.Response(
        body=json.dumps(body, ensure_ascii=False).encode(),
        status=status,
        headers={"Content-Type": PROBLEM_MEDIA_TYPE, **{name.replace("_", "-"): v for name, v in headers.items()}},
    )


def _json(document: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(document, ensure_ascii=False).encode(), status=status, content_type="application/json"
    )


def _refused(
    request: web.Request, status: int, kind: str, detail: str, org: str | None = None, **headers: str
) -> web.Response:
    """A refusal, logged on one line (never a token: only the organisation it named)."""
    peer = request.remote or "-"
    who = f" org={org}" if org else ""
    LOG.warning(
        "refused %s %s %s from %s%s: %s",
        status,
        request.method,
        request.path,
        peer,
        who,
        detail.replace("\n", " ")[:300],
    )
    return problem(status, kind, detail, **headers)


_STATE: web.AppKey[_State] = web.AppKey("register_state", object)  # type: ignore[arg-type]


class _State:
    """Per server process: the store, the snapshot cache, the verifying pool, the pending count."""

    def __init__(self, config: RegisterConfig) -> None:
        from harness.store import open_store

        self.config = config
        use_folders(tuple(Path(folder) for folder in config.catalog_folders))
        self.catalog = load_catalog()
        self.store: Store = open_store(config.store_url)
        self.cache = SnapshotCache(self.store, self.catalog)
        key = serialization.load_pem_private_key(config.body_key_pem, None)
        assert isinstance(key, Ed25519PrivateKey)
        self.body_key = key
        self.pending = 0
        self.reports: OrderedDict[str, str] = OrderedDict()
        self.documents: dict[str, tuple[Snapshot, bytes]] = {}
        self.pool = self._new_pool()

    def _new_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        config = self.config
        return concurrent.futures.ProcessPoolExecutor(
            max_workers=config.workers,
            mp_context=multiprocessing.get_context("spawn"),  # a clean interpreter: no inherited loop or sockets
            initializer=start_worker,
            initargs=(config.store_url, config.trust_lists, config.catalog_folders, config.max_bundle_bytes),
        )

    async def in_pool(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` in a verifying process; a pool whose worker died is replaced (the job fails once)."""
        pool = self.pool
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, function, *args)
        except concurrent.futures.process.BrokenProcessPool:
            if self.pool is pool:
                LOG.error("a verifying process died; the pool is started again")
                self.pool = self._new_pool()
                await asyncio.to_thread(pool.shutdown, wait=False, cancel_futures=True)
            raise

    async def snapshot(self) -> Snapshot:
        return await asyncio.to_thread(self.cache.get)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.store.close()


def _state(request: web.Request) -> _State:
    return request.app[_STATE]


# -- submissions ------------------------------------------------------------------------------------------------


async def _organisation(request: web.Request, state: _State) -> str | None:
    """The submitting organisation: the verified client certificate's, else the bearer token's; None without."""
    transport = request.transport
    peercert = transport.get_extra_info("peercert") if transport is not None else None
    org = org_from_certificate(peercert)
    if org is not None:
        return org
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        return None
    found: str | None = await asyncio.to_thread(state.store.token_org, token)
    return found


async def _spool(request: web.Request, limit: int, folder: str | None) -> Path | None:
    """Stream the body to a private file; None (file removed) as soon as it exceeds ``limit``."""
    handle, name = tempfile.mkstemp(prefix="register-", suffix=".evidence.zip", dir=folder)
    path = Path(name)
    size = 0
    try:
        with os.fdopen(handle, "wb") as out:
            async for chunk in request.content.iter_chunked(_CHUNK):
                size += len(chunk)
                if size > limit:
                    path.unlink(missing_ok=True)
                    return None
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


async def submit(request: web.Request) -> web.Response:
    """``POST /register/v1/bundles``: verify (re-judged), register, answer 201, 200 or a problem."""
    state = _state(request)
    config = state.config
    limit_mb = config.max_bundle_bytes >> 20
    if state.pending >= config.pending:
        return _refused(
            request, 503, "overloaded", f"{state.pending} submissions pending", Retry_After=str(config.retry_after)
        )
    state.pending += 1  # held from here to the answer: uploads and verifications in flight are both bounded
    try:
        org = await _organisation(request, state)
        if org is None:
            return _refused(request, 401, "unauthenticated", "no valid bearer token or client certificate",
                            WWW_Authenticate='Bearer realm="register"')  # fmt: skip
        media = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media != BUNDLE_TYPE:
            return _refused(request, 415, "unsupported-media-type", f"send the bundle as {BUNDLE_TYPE}", org)
        declared = request.content_length
        if declared is not None and declared > config.max_bundle_bytes:
            return _refused(request, 413, "too-large", f"{declared} bytes declared; the limit is {limit_mb} MiB", org)
        try:
            async with asyncio.timeout(config.upload_seconds):  # a slow upload must not hold its slot for ever
                path = await _spool(request, config.max_bundle_bytes, config.spool)
        except TimeoutError:
            return _refused(request, 408, "request-timeout", f"the upload took over {config.upload_seconds} s", org)
        if path is None:
            return _refused(request, 413, "too-large", f"the body exceeded the limit of {limit_mb} MiB", org)
        try:
            digest = await asyncio.to_thread(_sha256, path)
            source = f"{org}/{digest[:16]}.evidence.zip"
            judged: Judged = await state.in_pool(judge_submission, str(path), org, source)
        finally:
            path.unlink(missing_ok=True)
    finally:
        state.pending -= 1
    if judged.status == 403:
        return _refused(request, 403, "forbidden", judged.detail, org)
    if judged.status == 422:
        return _refused(request, 422, "invalid-bundle", judged.detail, org)
    body: dict[str, Any] = {"outcome": judged.outcome, "run": judged.run_id, "detail": judged.detail}
    if judged.certificate is not None:
        body["certificate"] = judged.certificate
    LOG.info("%s %s by %s: %s", judged.status, judged.outcome, org, judged.detail)
    return _json(body, judged.status)


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


# -- the body's signed acts --------------------------------------------------------------------------------------


async def _record(request: web.Request, limit: int = 64 << 10) -> str | None:
    if request.content_length is not None and request.content_length > limit:
        return None
    data = await request.content.read(limit + 1)
    if len(data) > limit:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return ""


def _withdrawn_id(record: str) -> str | None:
    """The certificate a record names (read only to find it: the store checks the signature and the name)."""
    from harness.evidence.dsse import EnvelopeError, parse_envelope

    try:
        document = json.loads(record)
        payload = json.loads(parse_envelope(document).payload) if isinstance(document, dict) else None
    except (ValueError, RecursionError, EnvelopeError):
        return None
    ident = payload.get("certificate") if isinstance(payload, dict) else None
    return ident if isinstance(ident, str) and ident.isalnum() else None


async def withdraw(request: web.Request) -> web.Response:
    """``POST /register/v1/withdrawals``: a withdrawal record signed with the body's key."""
    from harness.store import WithdrawalRefused

    state = _state(request)
    record = await _record(request)
    if record is None:
        return _refused(request, 413, "too-large", "a withdrawal record is at most 64 KiB")
    ident = _withdrawn_id(record)
    if ident is None:
        return _refused(request, 400, "bad-request", "not a DSSE envelope naming a certificate")
    try:
        withdrawal = await asyncio.to_thread(state.store.withdraw, ident, record)
    except WithdrawalRefused as exc:
        status, kind = (409, "conflict") if "withdrawn already" in str(exc) else (403, "forbidden")
        return _refused(request, status, kind, str(exc))
    except UsageError as exc:
        return _refused(request, 404, "not-found", str(exc))
    LOG.info("certificate %s withdrawn: %s", ident, withdrawal.reason)
    return _json({"certificate": ident, "withdrawn": {"reason": withdrawal.reason, "at": withdrawal.at}})


async def publish(request: web.Request) -> web.Response:
    """``POST /register/v1/lifecycle``: a suite version superseded or retired, by a record signed with the body key."""
    from harness.certification.withdrawal import public_key_from_pem
    from harness.store import LifecycleRefused

    state = _state(request)
    record = await _record(request)
    if record is None:
        return _refused(request, 413, "too-large", "a life-cycle record is at most 64 KiB")
    pinned = await asyncio.to_thread(state.store.body_key)
    if pinned is None:  # pragma: no cover - serve pins the key before it listens
        return _refused(request, 403, "forbidden", "no certifying body key is pinned")
    try:  # read to find what it names; the store checks it again as it keeps it
        checked = check_lifecycle(record, public_key_from_pem(pinned[1]))
    except LifecycleError as exc:
        status, kind = (403, "forbidden") if "signed" in str(exc) or "signature" in str(exc) else (400, "bad-request")
        return _refused(request, status, kind, str(exc))
    if checked.version not in state.catalog.suites.get(checked.suite, {}):
        return _refused(request, 404, "not-found", f"suite {checked.suite}@{checked.version} is not issued here")
    try:
        entry = await asyncio.to_thread(
            state.store.publish_lifecycle, checked.suite, checked.version, checked.status, record
        )
    except LifecycleRefused as exc:
        return _refused(request, 409, "conflict", str(exc))
    LOG.info("suite %s@%s %s (log entry %s)", checked.suite, checked.version, checked.status, entry.index)
    return _json(
        {"suite": checked.suite, "version": checked.version, "status": checked.status, "log_index": entry.index}
    )


# -- public reads ------------------------------------------------------------------------------------------------


async def _document(request: web.Request, name: str, build: Callable[[Snapshot], Any]) -> web.Response:
    """A whole-register JSON document, serialised once per snapshot (in a thread: 10,000 entries take a while)."""
    state = _state(request)
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
    snapshot = await _state(request).snapshot()
    pair = _products(request, snapshot)
    if isinstance(pair, web.Response):
        return pair
    overall, answers = can_exchange(pair[0], pair[1], snapshot.evidence, snapshot.suites)
    return _json(exchange_document(pair[0], pair[1], overall, answers))


async def certificate(request: web.Request) -> web.Response:
    snapshot = await _state(request).snapshot()
    found = snapshot.certificate(request.match_info["ident"])
    if found is None:
        return problem(404, "not-found", f"no certificate {request.match_info['ident'][:40]!r}")
    return _json(certificate_document(snapshot, found))


async def bundle(request: web.Request) -> web.Response:
    state = _state(request)
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
    state = _state(request)
    signed = await asyncio.to_thread(state.store.checkpoint, state.body_key)
    return _json(signed.as_json())


async def inclusion(request: web.Request) -> web.Response:
    """``GET /register/v1/log/inclusion?index=N&size=M``: the entry and PATH(N, D[M])."""
    values = _int_params(request, "index", "size")
    if isinstance(values, web.Response):
        return values
    index, size = values
    store = _state(request).store

    def prove() -> dict[str, Any]:
        return inclusion_json(store.log_entry(index), size, store.inclusion_proof(index, size))

    try:
        return _json(await asyncio.to_thread(prove))
    except UsageError as exc:
        return problem(400, "bad-request", str(exc))


async def log_entry(request: web.Request) -> web.Response:
    """``GET /register/v1/log/entries/{index}``: one entry (its leaf hash is the auditor's to recompute)."""
    text = request.match_info["index"]
    if not text.isdigit() or len(text) > 18:
        return problem(400, "bad-request", "index must be a non-negative integer")
    store = _state(request).store
    try:
        entry = await asyncio.to_thread(store.log_entry, int(text))
    except UsageError as exc:
        return problem(404, "not-found", str(exc))
    return _json(entry.as_json())


async def consistency(request: web.Request) -> web.Response:
    """``GET /register/v1/log/consistency?first=M&second=N``: PROOF(M, D[N])."""
    values = _int_params(request, "first", "second")
    if isinstance(values, web.Response):
        return values
    first, second = values
    store = _state(request).store
    try:
        proof = await asyncio.to_thread(store.consistency_proof, first, second)
    except UsageError as exc:
        return problem(400, "bad-request", str(exc))
    return _json(consistency_json(first, second, proof))


# -- pages -------------------------------------------------------------------------------------------------------


def _page(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


async def index_page(request: web.Request) -> web.Response:
    snapshot = await _state(request).snapshot()
    return _page(pages.catalogue_page(snapshot, request.query.get("q", ""), request.query.get("page", "1")))


async def product_page(request: web.Request) -> web.Response:
    snapshot = await _state(request).snapshot()
    product = snapshot.product(request.match_info["slug"])
    if product is None:
        return _page(pages.not_found_page("No such product in the register."), 404)
    return _page(pages.product_page(snapshot, product))


async def certificate_page(request: web.Request) -> web.Response:
    snapshot = await _state(request).snapshot()
    found = snapshot.certificate(request.match_info["ident"])
    if found is None:
        return _page(pages.not_found_page("No such certificate in the register."), 404)
    return _page(pages.certificate_page(snapshot, found))


async def report_page(request: web.Request) -> web.Response:
    """The certificate's run report, rendered from the registered bytes through the verifier (in the pool)."""
    state = _state(request)
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
    snapshot = await _state(request).snapshot()
    return _page(pages.matrix_page(snapshot, request.query.get("q", ""), request.query.get("page", "1")))


async def exchange_page(request: web.Request) -> web.Response:
    snapshot = await _state(request).snapshot()
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


# -- the application ---------------------------------------------------------------------------------------------


@web.middleware
async def _guard(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Security headers on every answer; an unexpected failure is a problem document, logged, never a traceback."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        kind = {404: "not-found", 405: "method-not-allowed", 413: "too-large"}.get(exc.status, "bad-request")
        response = problem(exc.status, kind, exc.reason)
    except HarnessError as exc:
        response = _refused(request, 400, "bad-request", str(exc))
    except Exception as exc:  # a bug or a lost database must not take the process down, nor leak a traceback
        LOG.error("internal error on %s %s: %s: %s", request.method, request.path, type(exc).__name__, str(exc)[:300])
        response = problem(500, "internal", "the register could not answer; the failure is logged")
    response.headers.setdefault("Content-Security-Policy", _CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


def build_app(config: RegisterConfig) -> web.Application:
    """The register of one server process (its pool and store are made on start-up, closed on clean-up)."""
    app = web.Application(middlewares=[_guard], client_max_size=config.max_bundle_bytes + 1)

    async def start(app: web.Application) -> None:
        app[_STATE] = await asyncio.to_thread(_State, config)

    async def stop(app: web.Application) -> None:
        if _STATE in app:
            await asyncio.to_thread(app[_STATE].close)

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    routes = app.router
    routes.add_post(f"{API}/bundles", submit)
    routes.add_post(f"{API}/withdrawals", withdraw)
    routes.add_post(f"{API}/lifecycle", publish)
    routes.add_get(f"{API}/catalogue", catalogue)
    routes.add_get(f"{API}/matrix", matrix)
    routes.add_get(f"{API}/can-exchange", exchange)
    routes.add_get(f"{API}/certificates/{{ident}}", certificate)
    routes.add_get(f"{API}/certificates/{{ident}}/bundle", bundle)
    routes.add_get(f"{API}/log/checkpoint", checkpoint)
    routes.add_get(f"{API}/log/inclusion", inclusion)
    routes.add_get(f"{API}/log/consistency", consistency)
    routes.add_get(f"{API}/log/entries/{{index}}", log_entry)
    routes.add_get("/", index_page)
    routes.add_get("/products/{slug}", product_page)
    routes.add_get("/certificates/{ident}", certificate_page)
    routes.add_get("/certificates/{ident}/report", report_page)
    routes.add_get("/matrix", matrix_page)
    routes.add_get("/can-exchange", exchange_page)
    routes.add_get("/assets/register.css", stylesheet)
    routes.add_get("/favicon.ico", icon)
    return app


# -- serving: one socket, N processes ----------------------------------------------------------------------------


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
