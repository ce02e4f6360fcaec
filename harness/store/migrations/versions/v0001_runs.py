"""Runs and their scenario verdicts.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("suite", sa.String(200), nullable=False),
        sa.Column("suite_version", sa.String(50), nullable=False),
        sa.Column("document_version", sa.String(50)),
        sa.Column("sut_supplier", sa.String(200)),
        sa.Column("sut_product", sa.String(200)),
        sa.Column("sut_version", sa.String(100)),
        sa.Column("target", sa.Text),
        sa.Column("started", sa.String(40), nullable=False),
        sa.Column("finished", sa.String(40)),
        sa.Column("certified", sa.Boolean, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("bundle_sha256", sa.String(64)),
        sa.Column("signer", sa.String(64)),
        sa.Column("verification", sa.String(40), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("recorded", sa.String(40), nullable=False),
    )
    op.create_index("runs_by_sut", "runs", ["sut_supplier", "sut_product"])
    op.create_index("runs_by_suite", "runs", ["suite", "suite_version"])
    op.create_table(
        "scenario_results",
        sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("scenario", sa.String(100), primary_key=True),
        sa.Column("level", sa.String(10), nullable=False),
        sa.Column("verdict", sa.String(10), nullable=False),
        sa.Column("failures", sa.Text, nullable=False),
        sa.Column("latency_count", sa.Integer),
        sa.Column("latency_p50_ms", sa.Float),
        sa.Column("latency_p95_ms", sa.Float),
        sa.Column("latency_max_ms", sa.Float),
    )


def downgrade() -> None:
    op.drop_table("scenario_results")
    op.drop_index("runs_by_suite", "runs")
    op.drop_index("runs_by_sut", "runs")
    op.drop_table("runs")
