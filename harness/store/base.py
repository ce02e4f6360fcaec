"""What every part of the store stands on: its engine, its clock, its writers' lock and the pinned body key."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from harness.store.schema import body_keys

__all__ = ["NO_BODY_KEY", "StoreBase", "store_clock"]

NO_BODY_KEY = "no certifying body key is pinned in this store (harness certificates body-key PREFIX.pub)"


def store_clock(connection: Connection | None = None) -> str:
    """The store's own clock (UTC, RFC 3339, milliseconds): what registrations and withdrawals are timed by.

    PostgreSQL's clock when the store is a server (every lab writing into it shares one clock), else
    this machine's (an embedded SQLite store has no other).
    """
    when = dt.datetime.now(dt.UTC)
    if connection is not None and connection.dialect.name == "postgresql":
        when = connection.execute(sa.text("SELECT clock_timestamp()")).scalar_one().astimezone(dt.UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class StoreBase:
    """The engine and what every concern of :class:`~harness.store.Store` uses (one database)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _write_lock(self, connection: Connection) -> None:
        """Serialise writers for the whole transaction (read-check-write without a race)."""
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(4242014)"))
        else:  # SQLite: a write first takes the database's write lock until the transaction ends
            connection.execute(sa.text("UPDATE body_keys SET keyid = keyid WHERE 0"))

    def clock(self) -> str:
        """:func:`store_clock` of this store."""
        with self.engine.connect() as connection:
            return store_clock(connection)

    def body_key(self) -> tuple[str, bytes] | None:
        """(keyid, PEM) of the certifying body's key pinned in this store, if any."""
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(body_keys)).first()
        return (str(row.keyid), str(row.public_key).encode()) if row is not None else None

    def close(self) -> None:
        self.engine.dispose()
