"""The register: its append-only log (entries and the Merkle tree's completed nodes), published suite life-cycle
changes, and submitters' tokens (hashed).

The database itself refuses UPDATE and DELETE of log rows (and TRUNCATE on PostgreSQL): SQLite triggers
``RAISE(ABORT, ...)``, a PostgreSQL trigger function that raises. Whoever can drop a trigger can still
rewrite the log; the signed checkpoints an auditor keeps are what catch that (``harness register audit``).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_APPEND_ONLY = ("log_entries", "log_nodes", "suite_status")
"""suite_status too: a published retirement is never taken back (its certificates would come back to life)."""


def upgrade() -> None:
    op.create_table(
        "log_entries",
        sa.Column("idx", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary, nullable=False),
        sa.Column("certificate_id", sa.String(16)),
        sa.CheckConstraint("idx >= 0", name="log_entries_idx_non_negative"),
        sa.CheckConstraint(
            "kind IN ('registration', 'refusal', 'withdrawal', 'lifecycle')", name="log_entries_kind_known"
        ),
    )
    op.create_index("log_entries_by_certificate", "log_entries", ["certificate_id", "kind"])
    op.create_table(
        "log_nodes",
        sa.Column("level", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "suite_status",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("suite", sa.String(200), nullable=False),
        sa.Column("version", sa.String(50), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("record", sa.Text, nullable=False),
        sa.Column("log_index", sa.Integer, nullable=False),
    )
    op.create_index("suite_status_by_version", "suite_status", ["suite", "version"])
    op.create_table(
        "org_tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("org", sa.String(200), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("revoked", sa.String(40)),
    )
    # what the store held before it had a log is logged now, marked backfilled (harness.store.log.backfill)
    from harness.store.log import backfill

    backfill(op.get_bind())
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION register_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'the register log is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
            END
            $$
            """
        )
        for table in _APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION register_log_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION register_log_append_only()"
            )
    else:
        for table in _APPEND_ONLY:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} BEGIN "
                    f"SELECT RAISE(ABORT, 'the register log is append-only: {action} on {table} refused'); END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in _APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS register_log_append_only()")
    else:
        for table in _APPEND_ONLY:
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
    op.drop_table("org_tokens")
    op.drop_index("suite_status_by_version", "suite_status")
    op.drop_table("suite_status")
    op.drop_table("log_nodes")
    op.drop_index("log_entries_by_certificate", "log_entries")
    op.drop_table("log_entries")
