"""The store's tables, as SQLAlchemy Core sees them (the migrations under ``migrations/`` create them)."""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "body_keys",
    "bundles",
    "certificates",
    "log_entries",
    "log_nodes",
    "metadata",
    "org_tokens",
    "registrations",
    "runs",
    "scenario_results",
    "suite_status",
    "withdrawals",
]

metadata = sa.MetaData()
runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("suite", sa.String(200)),
    sa.Column("suite_version", sa.String(50)),
    sa.Column("document_version", sa.String(50)),
    sa.Column("sut_supplier", sa.String(200)),
    sa.Column("sut_product", sa.String(200)),
    sa.Column("sut_version", sa.String(100)),
    sa.Column("target", sa.Text),
    sa.Column("started", sa.String(40)),
    sa.Column("finished", sa.String(40)),
    sa.Column("certified", sa.Boolean),
    sa.Column("summary", sa.Text),
    sa.Column("bundle_sha256", sa.String(64)),
    sa.Column("signer", sa.String(64)),
    sa.Column("verification", sa.String(40)),
    sa.Column("source", sa.String(20)),
    sa.Column("recorded", sa.String(40)),
)
scenario_results = sa.Table(
    "scenario_results",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("scenario", sa.String(100), primary_key=True),
    sa.Column("level", sa.String(10)),
    sa.Column("verdict", sa.String(10)),
    sa.Column("failures", sa.Text),
    sa.Column("latency_count", sa.Integer),
    sa.Column("latency_p50_ms", sa.Float),
    sa.Column("latency_p95_ms", sa.Float),
    sa.Column("latency_max_ms", sa.Float),
)
bundles = sa.Table(
    "bundles",
    metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("run_id", sa.String(64)),
    sa.Column("size", sa.Integer),
    sa.Column("content", sa.LargeBinary),
    sa.Column("registered", sa.String(40)),
)
registrations = sa.Table(
    "registrations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.String(40)),
    sa.Column("source", sa.Text),
    sa.Column("outcome", sa.String(20)),
    sa.Column("line", sa.Text),
    # line: the verifier's (valid, invalid: ..., unreadable: ...); result: what the store did with it
    sa.Column("result", sa.Text),
    sa.Column("accepted", sa.Boolean),
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
    sa.Column("roles", sa.Text),  # JSON list of the roles a role-limited run covers; NULL: every role
)
certificates = sa.Table(
    "certificates",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("sut_supplier", sa.String(200)),
    sa.Column("sut_product", sa.String(200)),
    sa.Column("sut_version", sa.String(100)),
    sa.Column("suite", sa.String(200)),
    sa.Column("suite_version", sa.String(50)),
    sa.Column("document", sa.String(100)),
    sa.Column("run_id", sa.String(64)),
    sa.Column("bundle_sha256", sa.String(64)),
    sa.Column("signer_keyid", sa.String(64)),
    sa.Column("signer_holder", sa.Text),
    sa.Column("issued", sa.String(40)),
    sa.Column("roles", sa.Text),  # JSON list of the roles the certificate covers; NULL: every role of the suite
)
withdrawals = sa.Table(
    "withdrawals",
    metadata,
    sa.Column("certificate_id", sa.String(16), primary_key=True),
    sa.Column("reason", sa.Text),
    sa.Column("at", sa.String(40)),
    sa.Column("keyid", sa.String(64)),
    sa.Column("record", sa.Text),
)
body_keys = sa.Table(
    "body_keys",
    metadata,
    sa.Column("keyid", sa.String(64), primary_key=True),
    sa.Column("public_key", sa.Text),
    sa.Column("pinned", sa.String(40)),
)

# v0003: the register's append-only log (RFC 9162 Merkle tree), published life-cycle changes, submitters' tokens
log_entries = sa.Table(
    "log_entries",
    metadata,
    sa.Column("idx", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(20)),
    sa.Column("at", sa.String(40)),
    sa.Column("payload", sa.LargeBinary),  # canonical JSON, holding kind and at too: the leaf's bytes
    sa.Column("leaf_hash", sa.LargeBinary),
    sa.Column("certificate_id", sa.String(16)),  # for lookup only (the payload names it, hashed)
)
log_nodes = sa.Table(
    "log_nodes",
    metadata,
    sa.Column("level", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("idx", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.LargeBinary),
)
suite_status = sa.Table(
    "suite_status",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("suite", sa.String(200)),
    sa.Column("version", sa.String(50)),
    sa.Column("status", sa.String(20)),
    sa.Column("at", sa.String(40)),
    sa.Column("reason", sa.Text),
    sa.Column("record", sa.Text),
    sa.Column("log_index", sa.Integer),
)
org_tokens = sa.Table(
    "org_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("org", sa.String(200)),
    sa.Column("token_sha256", sa.String(64), unique=True),
    sa.Column("created", sa.String(40)),
    sa.Column("revoked", sa.String(40)),
)
