"""The run store, the only store: runs, registered bundles, certificates and withdrawals (SQLite or PostgreSQL).

SQLAlchemy Core for the queries, Alembic for the schema (migrated on open, under a lock so
that concurrent first runs do not race: a file lock for SQLite, an advisory lock for PostgreSQL).

The store never opens a bundle: it is handed the one verifier's :class:`~harness.evidence.verified.Outcome`
and the bytes that were verified (checked against the verified SHA-256). Registering is the
certifying body's act, timed by the store's own clock; a bundle's ``finished`` orders nothing.

One :class:`Store`, its concerns in modules of their own: :mod:`~harness.store.runs`,
:mod:`~harness.store.certificates` (registration, certificates, withdrawals, the body key),
:mod:`~harness.store.transparency` (the log, checkpoints, proofs), :mod:`~harness.store.lifecycle`,
:mod:`~harness.store.tokens`, and :mod:`~harness.store.opening` (URL, engine, migrations).
"""

from __future__ import annotations

from harness.store.base import store_clock
from harness.store.certificates import (
    MAX_BUNDLE_BYTES,
    CertificatesMixin,
    Registration,
    WithdrawalRefused,
    certificate_id,
)
from harness.store.lifecycle import LifecycleMixin, LifecycleRefused
from harness.store.opening import STORE_ENV, default_url, open_engine
from harness.store.runs import RunRecord, RunsMixin
from harness.store.tokens import TokensMixin
from harness.store.transparency import LogMixin

__all__ = [
    "MAX_BUNDLE_BYTES",
    "STORE_ENV",
    "LifecycleRefused",
    "Registration",
    "RunRecord",
    "Store",
    "WithdrawalRefused",
    "certificate_id",
    "default_url",
    "open_store",
    "store_clock",
]


class Store(RunsMixin, CertificatesMixin, LogMixin, LifecycleMixin, TokensMixin):
    """The run store (one database): open it with :func:`open_store`, close it with :meth:`close`."""


def open_store(url: str | None = None) -> Store:
    """The store at ``url`` (default :func:`default_url`), migrated to the newest schema."""
    return Store(open_engine(url))
