"""Opening a store: its URL, its engine, and the schema migrated under a lock (no race between first runs)."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from harness.model import ConfigurationError, UsageError

__all__ = ["STORE_ENV", "default_url", "open_engine"]

STORE_ENV = "HARNESS_STORE"
_MIGRATIONS = Path(__file__).parent / "migrations"


def default_url() -> str:
    """``HARNESS_STORE`` (a URL, or a path taken as SQLite), else SQLite in ``$XDG_DATA_HOME/netcode-harness``."""
    configured = os.environ.get(STORE_ENV)
    if configured:
        return configured if "://" in configured else f"sqlite:///{Path(configured).resolve()}"
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{base / 'netcode-harness' / 'runs.db'}"


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """Held around the whole migration transaction (taken before it begins, released after it commits)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as holder:
            holder.execute(sa.text("SELECT pg_advisory_lock(4242013)"))
            holder.commit()
            try:
                yield
            finally:
                holder.execute(sa.text("SELECT pg_advisory_unlock(4242013)"))
                holder.commit()
    elif engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        with open(f"{engine.url.database}.lock", "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    else:
        yield


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def open_engine(url: str | None = None) -> Engine:
    """The store at ``url`` (default :func:`default_url`), migrated to the newest schema."""
    url = url or default_url()
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise UsageError(f"bad --store URL {url!r} (sqlite:///PATH or postgresql://...)") from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise UsageError(f"unsupported store {parsed.get_backend_name()!r}: use sqlite:/// or postgresql://")
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = sa.create_engine(parsed, pool_pre_ping=True)
    except ImportError as exc:
        raise ConfigurationError(f"the store's database driver is missing ({exc.name})") from None
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    try:
        with _migration_lock(engine), engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except sa.exc.OperationalError as exc:
        engine.dispose()
        where = parsed.render_as_string(hide_password=True)
        raise ConfigurationError(f"cannot open the run store {where}: {str(exc.orig).splitlines()[0]}") from None
    return engine
