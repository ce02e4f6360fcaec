"""Alembic migrations of the run store (run programmatically by :func:`harness.store.open_store`)."""
