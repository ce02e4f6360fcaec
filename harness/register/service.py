"""The register's web service (aiohttp): submissions and the body's signed acts; :func:`build_app` wires
them with the public reads (:mod:`harness.register.reads`).

Submissions are bounded three ways before any CPU is spent: the declared size (413 before reading), the
streamed size (413 as soon as it is exceeded), and the number of submissions pending in this process (503
with ``Retry-After`` when full); a stalled upload is cut off (408). Verification with re-judging runs in a
process pool (:mod:`harness.register.pool`), never in the event loop; store reads and writes run in threads.
Every refusal is logged on one line (status, peer, organisation, reason; never a credential).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from harness.model import HarnessError, UsageError
from harness.register import reads
from harness.register.auth import bearer_token, org_from_certificate
from harness.register.lifecycle import LifecycleError, check_lifecycle
from harness.register.pool import Judged, judge_submission
from harness.register.state import LOG, STATE, RegisterConfig, RegisterState, json_answer, problem, refused, state_of
from harness.register.views import API

__all__ = ["build_app", "publish", "submit", "withdraw"]

_CHUNK = 64 << 10
_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


# -- submissions ------------------------------------------------------------------------------------------------


async def _organisation(request: web.Request, state: RegisterState) -> str | None:
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
    state = state_of(request)
    config = state.config
    limit_mb = config.max_bundle_bytes >> 20
    if state.pending >= config.pending:
        return refused(
            request, 503, "overloaded", f"{state.pending} submissions pending", Retry_After=str(config.retry_after)
        )
    state.pending += 1  # held from here to the answer: uploads and verifications in flight are both bounded
    try:
        org = await _organisation(request, state)
        if org is None:
            return refused(request, 401, "unauthenticated", "no valid bearer token or client certificate",
                            WWW_Authenticate='Bearer realm="register"')  # fmt: skip
        media = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media != reads.BUNDLE_TYPE:
            return refused(request, 415, "unsupported-media-type", f"send the bundle as {reads.BUNDLE_TYPE}", org)
        declared = request.content_length
        if declared is not None and declared > config.max_bundle_bytes:
            return refused(request, 413, "too-large", f"{declared} bytes declared; the limit is {limit_mb} MiB", org)
        try:
            async with asyncio.timeout(config.upload_seconds):  # a slow upload must not hold its slot for ever
                path = await _spool(request, config.max_bundle_bytes, config.spool)
        except TimeoutError:
            return refused(request, 408, "request-timeout", f"the upload took over {config.upload_seconds} s", org)
        if path is None:
            return refused(request, 413, "too-large", f"the body exceeded the limit of {limit_mb} MiB", org)
        try:
            digest = await asyncio.to_thread(_sha256, path)
            source = f"{org}/{digest[:16]}.evidence.zip"
            judged: Judged = await state.in_pool(judge_submission, str(path), org, source)
        finally:
            path.unlink(missing_ok=True)
    finally:
        state.pending -= 1
    if judged.status == 403:
        return refused(request, 403, "forbidden", judged.detail, org)
    if judged.status == 422:
        return refused(request, 422, "invalid-bundle", judged.detail, org)
    body: dict[str, Any] = {"outcome": judged.outcome, "run": judged.run_id, "detail": judged.detail}
    if judged.certificate is not None:
        body["certificate"] = judged.certificate
    LOG.info("%s %s by %s: %s", judged.status, judged.outcome, org, judged.detail)
    return json_answer(body, judged.status)


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

    state = state_of(request)
    record = await _record(request)
    if record is None:
        return refused(request, 413, "too-large", "a withdrawal record is at most 64 KiB")
    ident = _withdrawn_id(record)
    if ident is None:
        return refused(request, 400, "bad-request", "not a DSSE envelope naming a certificate")
    try:
        withdrawal = await asyncio.to_thread(state.store.withdraw, ident, record)
    except WithdrawalRefused as exc:
        status, kind = (409, "conflict") if "withdrawn already" in str(exc) else (403, "forbidden")
        return refused(request, status, kind, str(exc))
    except UsageError as exc:
        return refused(request, 404, "not-found", str(exc))
    LOG.info("certificate %s withdrawn: %s", ident, withdrawal.reason)
    return json_answer({"certificate": ident, "withdrawn": {"reason": withdrawal.reason, "at": withdrawal.at}})


async def publish(request: web.Request) -> web.Response:
    """``POST /register/v1/lifecycle``: a suite version superseded or retired, by a record signed with the body key."""
    from harness.certification.withdrawal import public_key_from_pem
    from harness.store import LifecycleRefused

    state = state_of(request)
    record = await _record(request)
    if record is None:
        return refused(request, 413, "too-large", "a life-cycle record is at most 64 KiB")
    pinned = await asyncio.to_thread(state.store.body_key)
    if pinned is None:  # pragma: no cover - serve pins the key before it listens
        return refused(request, 403, "forbidden", "no certifying body key is pinned")
    try:  # read to find what it names; the store checks it again as it keeps it
        checked = check_lifecycle(record, public_key_from_pem(pinned[1]))
    except LifecycleError as exc:
        status, kind = (403, "forbidden") if "signed" in str(exc) or "signature" in str(exc) else (400, "bad-request")
        return refused(request, status, kind, str(exc))
    if checked.version not in state.catalog.suites.get(checked.suite, {}):
        return refused(request, 404, "not-found", f"suite {checked.suite}@{checked.version} is not issued here")
    try:
        entry = await asyncio.to_thread(
            state.store.publish_lifecycle, checked.suite, checked.version, checked.status, record
        )
    except LifecycleRefused as exc:
        return refused(request, 409, "conflict", str(exc))
    LOG.info("suite %s@%s %s (log entry %s)", checked.suite, checked.version, checked.status, entry.index)
    return json_answer(
        {"suite": checked.suite, "version": checked.version, "status": checked.status, "log_index": entry.index}
    )


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
        response = refused(request, 400, "bad-request", str(exc))
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
        app[STATE] = await asyncio.to_thread(RegisterState, config)

    async def stop(app: web.Application) -> None:
        if STATE in app:
            await asyncio.to_thread(app[STATE].close)

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    routes = app.router
    routes.add_post(f"{API}/bundles", submit)
    routes.add_post(f"{API}/withdrawals", withdraw)
    routes.add_post(f"{API}/lifecycle", publish)
    routes.add_get(f"{API}/catalogue", reads.catalogue)
    routes.add_get(f"{API}/matrix", reads.matrix)
    routes.add_get(f"{API}/can-exchange", reads.exchange)
    routes.add_get(f"{API}/certificates/{{ident}}", reads.certificate)
    routes.add_get(f"{API}/certificates/{{ident}}/bundle", reads.bundle)
    routes.add_get(f"{API}/log/checkpoint", reads.checkpoint)
    routes.add_get(f"{API}/log/inclusion", reads.inclusion)
    routes.add_get(f"{API}/log/consistency", reads.consistency)
    routes.add_get(f"{API}/log/entries/{{index}}", reads.log_entry)
    routes.add_get("/", reads.index_page)
    routes.add_get("/products/{slug}", reads.product_page)
    routes.add_get("/certificates/{ident}", reads.certificate_page)
    routes.add_get("/certificates/{ident}/report", reads.report_page)
    routes.add_get("/matrix", reads.matrix_page)
    routes.add_get("/can-exchange", reads.exchange_page)
    routes.add_get("/assets/register.css", reads.stylesheet)
    routes.add_get("/favicon.ico", reads.icon)
    return app
