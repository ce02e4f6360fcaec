"""The roles a certificate, and a registered run, cover (``harness run --role``); NULL: every role of the suite.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("certificates") as batch:
        batch.add_column(sa.Column("roles", sa.Text, nullable=True))
    with op.batch_alter_table("registrations") as batch:
        batch.add_column(sa.Column("roles", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("registrations") as batch:
        batch.drop_column("roles")
    with op.batch_alter_table("certificates") as batch:
        batch.drop_column("roles")
