"""Alembic environment: the connection is handed over by :mod:`harness.store`; nothing is read from files."""

from __future__ import annotations

from typing import Any

from alembic import context


def _run_on_sqlite(connection: Any) -> None:
    """The migrations in one SQLite transaction of their own, foreign keys checked once, at its end.

    A batch operation SQLite cannot do in place (dropping a column) copies the table, drops the original and
    renames the copy. With foreign keys on, dropping a table others refer to (``certificates``, by
    ``withdrawals``) fails, and deferring the checks does not help: SQLite counts the references the drop
    breaks but not the ones the rename mends. So, as SQLite's own documentation for such changes says, foreign
    keys are off during the migration (``PRAGMA foreign_keys`` only takes effect outside a transaction), then
    ``PRAGMA foreign_key_check`` must find no dangling reference before the transaction commits.
    """
    raw = connection.connection.dbapi_connection
    if raw.in_transaction:  # a transaction the caller opened: foreign keys cannot be switched off inside it
        context.run_migrations()
        return
    enforced = connection.exec_driver_sql("PRAGMA foreign_keys").scalar()
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    try:
        # pysqlite opens a transaction only before DML: without this BEGIN each DDL statement would commit
        # alone and a migration failing half-way would leave the store half-migrated.
        connection.exec_driver_sql("BEGIN")
        try:
            context.run_migrations()
            dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
            if dangling is not None:
                raise RuntimeError(f"a migration left a row of {dangling[0]} referring to no row of {dangling[2]}")
        except BaseException:
            raw.rollback()
            raise
        raw.commit()
    finally:
        connection.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if enforced else 'OFF'}")


connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    if connection.dialect.name == "sqlite":
        _run_on_sqlite(connection)
    else:
        context.run_migrations()
