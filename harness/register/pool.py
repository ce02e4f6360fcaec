"""The CPU-bound half of a submission, run in a worker process (never in the event loop).

Each worker holds its own :class:`~harness.evidence.Verifier` (the issued suites and the register's trust
list, loaded once) and its own connection to the store. A job verifies the uploaded file with re-judging,
checks the submitting organisation's scope, and registers it: the store times the registration with its
own clock and appends the log entry in the same transaction. The answer is a picklable :class:`Judged`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.catalog import load_catalog, use_folders
from harness.evidence import TrustList, Verifier
from harness.register.auth import scope_refusal

if TYPE_CHECKING:
    from harness.store import Store

__all__ = ["Judged", "judge_submission", "render_report", "start_worker"]


@dataclass(slots=True, frozen=True)
class Judged:
    """What a submission came to: the HTTP status and the body of the answer."""

    status: int
    """201 issued, 200 registered (valid, does not certify), 422 refused (kept), 403 out of scope (not kept)."""
    outcome: str
    detail: str
    run_id: str | None = None
    certificate: dict[str, Any] | None = None


@dataclass(slots=True)
class _Worker:
    verifier: Verifier
    store: Store
    max_bytes: int


_worker: _Worker | None = None


def start_worker(store_url: str, trust_lists: Sequence[str], catalog_folders: Sequence[str], max_bytes: int) -> None:
    """Process-pool initializer: the worker's verifier and store, made once."""
    global _worker
    from harness.store import open_store

    use_folders(tuple(Path(folder) for folder in catalog_folders))
    trust = TrustList.empty()
    for path in trust_lists:
        trust = trust.merged(TrustList.load(Path(path)))
    _worker = _Worker(Verifier(load_catalog(), trust, registering=True), open_store(store_url), max_bytes)


def _current() -> _Worker:
    if _worker is None:  # pragma: no cover - the pool always runs start_worker first
        raise RuntimeError("register worker used before start_worker")
    return _worker


def _read(path: Path, limit: int) -> bytes | None:
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError:
        return None
    return data if len(data) <= limit else None


def judge_submission(path: str, org: str, source: str) -> Judged:
    """Verify (re-judging), check ``org``'s scope, register; the answer for the submitter."""
    from harness.register.views import certificate_log_index, certificate_summary, held_certificate, suite_life
    from harness.store import certificate_id

    worker = _current()
    upload = Path(path)
    outcome = worker.verifier.verify(upload, rejudge=True)
    bundle = outcome.bundle
    if outcome.valid and bundle is not None:
        refusal = scope_refusal(org, bundle)
        if refusal is not None:
            return Judged(403, "forbidden", refusal, bundle.run_id)
    data = _read(upload, worker.max_bytes) if outcome.valid else None
    registration = worker.store.register(outcome, source, data)
    if not outcome.valid or not registration.accepted or bundle is None:
        detail = outcome.line() if not outcome.valid else registration.line
        return Judged(422, "refused", detail, bundle.run_id if bundle is not None else None)
    own = certificate_id(bundle.sha256)
    if registration.issued or (registration.certificate is None and bundle.certifies):
        # Issued now, or by these very bytes before: re-sending gives the same answer as the first time.
        found = held_certificate(worker.store, own)
        if found is not None:
            life = {(s.name, s.version): s.status for s in suite_life(worker.verifier.catalog, worker.store)}
            summary = certificate_summary(found, life, certificate_log_index(worker.store, own))
            return Judged(201, "issued", registration.line, bundle.run_id, summary)
    return Judged(200, "registered", registration.line, bundle.run_id)


def render_report(path: str) -> tuple[str, bool]:
    """The run report page of the bundle at ``path``, read through the verifier (no re-judging: it was at
    registration); (page, verified)."""
    import harness
    from harness.htmlreport import report_from_bundle, report_not_verified
    from harness.htmlreport.render import render

    worker = _current()
    with worker.verifier.open(Path(path), rejudge=False) as opened:
        outcome = opened.outcome
        if outcome.valid and outcome.bundle is not None:
            data = report_from_bundle(outcome.bundle, opened.exchanges(), worker.verifier.catalog)
        else:
            data = report_not_verified(outcome)
    return render("report.html.j2", r=data, harness_version=harness.__version__), outcome.valid


def worker_pid() -> int:
    """The worker's process id (tests check that verification left the server process)."""
    return os.getpid()
