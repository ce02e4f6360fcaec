"""The run store: every run and every imported, verified bundle, in SQLite (default) or PostgreSQL.

SQLAlchemy Core for the queries, Alembic for the schema (migrated on open, under a lock so
that concurrent first runs do not race: a file lock for SQLite, an advisory lock for PostgreSQL).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from harness.model import ConfigurationError, UsageError

__all__ = ["STORE_ENV", "RunRecord", "Store", "default_url", "open_store"]

STORE_ENV = "HARNESS_STORE"
_MIGRATIONS = Path(__file__).parent / "migrations"

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


def default_url() -> str:
    """``HARNESS_STORE``, else SQLite in the user's data directory (``$XDG_DATA_HOME/netcode-harness``)."""
    configured = os.environ.get(STORE_ENV)
    if configured:
        return configured if "://" in configured else f"sqlite:///{Path(configured).resolve()}"
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{base / 'netcode-harness' / 'runs.db'}"


@dataclass(slots=True, frozen=True)
class RunRecord:
    """One run as the store keeps it (built from a bundle's statement and results)."""

    run_id: str
    results: Mapping[str, Any]
    predicate: Mapping[str, Any]
    bundle_sha256: str | None
    signer: str | None
    verification: str
    source: str

    @classmethod
    def from_bundle(cls, bundle: Any, source: str) -> RunRecord:
        """From a :class:`harness.evidence.VerifiedBundle` (the one verifier found it valid)."""
        status = "verified" if bundle.signer is not None else "unsigned"
        signer = bundle.signer.keyid if bundle.signer is not None else None
        return cls(bundle.run_id, bundle.results, bundle.predicate, bundle.sha256, signer, status, source)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, run: RunRecord) -> None:
        """Insert the run and its scenarios in one transaction; a run recorded twice is replaced."""
        results, predicate = run.results, run.predicate
        suite = predicate.get("suite") or results.get("suite") or {}
        sut = predicate.get("sut") or {}
        targets = predicate.get("target")
        row = {
            "run_id": run.run_id,
            "suite": str(suite.get("name")),
            "suite_version": str(suite.get("version")),
            "document_version": suite.get("document") or suite.get("document_version"),
            "sut_supplier": sut.get("supplier"),
            "sut_product": sut.get("product"),
            "sut_version": sut.get("version"),
            "target": json.dumps(targets if targets is not None else results.get("target")),
            "started": str(results.get("started", "")),
            "finished": str(results.get("finished", "")),
            "certified": bool(results.get("certified")),
            "summary": json.dumps(results.get("summary") or {}),
            "bundle_sha256": run.bundle_sha256,
            "signer": run.signer,
            "verification": run.verification,
            "source": run.source,
            "recorded": _now(),
        }
        scenarios = []
        for scenario in results.get("scenarios") or []:
            latency = scenario.get("latency_ms") or {}
            scenarios.append(
                {
                    "run_id": run.run_id,
                    "scenario": str(scenario.get("id")),
                    "level": str(scenario.get("level")),
                    "verdict": str(scenario.get("verdict")),
                    "failures": json.dumps(scenario.get("failures") or [], ensure_ascii=False, default=str),
                    "latency_count": latency.get("count"),
                    "latency_p50_ms": latency.get("p50"),
                    "latency_p95_ms": latency.get("p95"),
                    "latency_max_ms": latency.get("max"),
                }
            )
        with self.engine.begin() as connection:
            connection.execute(sa.delete(scenario_results).where(scenario_results.c.run_id == run.run_id))
            connection.execute(sa.delete(runs).where(runs.c.run_id == run.run_id))
            connection.execute(sa.insert(runs), [row])
            if scenarios:
                connection.execute(sa.insert(scenario_results), scenarios)

    def list(self, sut: str | None = None, suite: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        query = sa.select(runs).order_by(runs.c.started.desc(), runs.c.run_id).limit(limit)
        if sut:
            query = query.where(
                sa.or_(
                    runs.c.sut_product == sut,
                    runs.c.sut_supplier == sut,
                    (runs.c.sut_supplier + " " + runs.c.sut_product) == sut,
                )
            )
        if suite:
            name, _, version = suite.partition("@")
            query = query.where(runs.c.suite == name)
            if version:
                query = query.where(runs.c.suite_version == version)
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    def get(self, run_id: str) -> dict[str, Any]:
        """A run by id or unique id prefix, with its scenarios; UsageError when none or several match."""
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(runs).where(runs.c.run_id == run_id)).all() or (
                connection.execute(
                    sa.select(runs).where(runs.c.run_id.startswith(run_id, autoescape=True)).limit(2)
                ).all()
            )
            if not rows:
                raise UsageError(f"no run {run_id!r} in the store")
            if len(rows) > 1:
                raise UsageError(f"run id {run_id!r} is ambiguous; give more of it")
            run = dict(rows[0]._mapping)
            scenarios = connection.execute(
                sa.select(scenario_results)
                .where(scenario_results.c.run_id == run["run_id"])
                .order_by(scenario_results.c.scenario)
            )
            run["scenarios"] = [dict(row._mapping) for row in scenarios]
        run["summary"] = json.loads(run["summary"])
        for scenario in run["scenarios"]:
            scenario["failures"] = json.loads(scenario["failures"])
        return run

    def close(self) -> None:
        self.engine.dispose()


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


def open_store(url: str | None = None) -> Store:
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
    return Store(engine)
