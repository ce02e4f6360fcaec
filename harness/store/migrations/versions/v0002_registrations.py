"""Registered bundles (their bytes), every registration attempt, certificates, withdrawals, the body's key.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bundles",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("run_id", sa.String(64), nullable=False, unique=True),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("registered", sa.String(40), nullable=False),
    )
    op.create_table(
        "registrations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("line", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("accepted", sa.Boolean, nullable=False),
        sa.Column("sha256", sa.String(64)),
        sa.Column("run_id", sa.String(64)),
        sa.Column("signer_keyid", sa.String(64)),
        sa.Column("signer_holder", sa.Text),
        sa.Column("sut_supplier", sa.String(200)),
        sa.Column("sut_product", sa.String(200)),
        sa.Column("sut_version", sa.String(100)),
        sa.Column("suite", sa.String(200)),
        sa.Column("suite_version", sa.String(50)),
        sa.Column("certifying", sa.Boolean),
        sa.Column("certified", sa.Boolean),
        sa.Column("rejudged", sa.Boolean),
        sa.Column("failed", sa.Text),
        sa.Column("certificate_id", sa.String(16)),
    )
    op.create_index("registrations_by_product", "registrations", ["sut_supplier", "sut_product", "sut_version"])
    op.create_table(
        "certificates",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("sut_supplier", sa.String(200), nullable=False),
        sa.Column("sut_product", sa.String(200), nullable=False),
        sa.Column("sut_version", sa.String(100), nullable=False),
        sa.Column("suite", sa.String(200), nullable=False),
        sa.Column("suite_version", sa.String(50), nullable=False),
        sa.Column("document", sa.String(100), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("bundle_sha256", sa.String(64), sa.ForeignKey("bundles.sha256"), nullable=False),
        sa.Column("signer_keyid", sa.String(64), nullable=False),
        sa.Column("signer_holder", sa.Text, nullable=False),
        sa.Column("issued", sa.String(40), nullable=False),
    )
    op.create_table(
        "withdrawals",
        sa.Column("certificate_id", sa.String(16), sa.ForeignKey("certificates.id"), primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("keyid", sa.String(64), nullable=False),
        sa.Column("record", sa.Text, nullable=False),
    )
    op.create_table(
        "body_keys",
        sa.Column("keyid", sa.String(64), primary_key=True),
        sa.Column("public_key", sa.Text, nullable=False),
        sa.Column("pinned", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("body_keys")
    op.drop_table("withdrawals")
    op.drop_table("certificates")
    op.drop_index("registrations_by_product", "registrations")
    op.drop_table("registrations")
    op.drop_table("bundles")
