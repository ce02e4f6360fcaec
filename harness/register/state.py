"""One server process of the register: its configuration, its state, and how it answers (RFC 9457 problems).

Shared by the submission and body-act handlers (:mod:`harness.register.service`) and the public reads
(:mod:`harness.register.reads`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import multiprocessing
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.catalog import load_catalog, use_folders
from harness.profile import PROBLEM_BASE, PROBLEM_MEDIA_TYPE
from harness.register.pool import start_worker
from harness.register.views import Snapshot, SnapshotCache

if TYPE_CHECKING:
    from harness.store import Store

__all__ = ["LOG", "STATE", "RegisterConfig", "RegisterState", "json_answer", "problem", "refused", "state_of"]

LOG = logging.getLogger("harness.register")
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


def json_answer(document: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(document, ensure_ascii=False).encode(), status=status, content_type="application/json"
    )


def refused(
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


STATE: web.AppKey[RegisterState] = web.AppKey("register_state", object)  # type: ignore[arg-type]


class RegisterState:
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


def state_of(request: web.Request) -> RegisterState:
    return request.app[STATE]
