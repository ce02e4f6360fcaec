"""The run store, the only store: runs, registered bundles, certificates and withdrawals (SQLite or PostgreSQL).

SQLAlchemy Core for the queries, Alembic for the schema (migrated on open, under a lock so
that concurrent first runs do not race: a file lock for SQLite, an advisory lock for PostgreSQL).

The store never opens a bundle: it is handed the one verifier's :class:`~harness.evidence.verified.Outcome`
and the bytes that were verified (checked against the verified SHA-256). Registering is the
certifying body's act, timed by the store's own clock; a bundle's ``finished`` orders nothing.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Connection, Engine

from harness.certification import Certificate, Evidence, FailedRun, Refusal, Withdrawal
from harness.certification.records import why_not_certifying
from harness.certification.withdrawal import WithdrawalError, check_withdrawal, public_key_from_pem
from harness.evidence.keys import keyid as public_keyid
from harness.evidence.verified import Outcome, Signer, SutRef, VerifiedBundle
from harness.model import ConfigurationError, HarnessError, UsageError
from harness.register.checkpoint import Checkpoint, SignedCheckpoint, sign_checkpoint
from harness.register.lifecycle import LifecycleError, check_lifecycle, later_stage
from harness.register.log import LogEntry, consistency_proof, inclusion_path, root_hash
from harness.store import log as ledger
from harness.store.schema import (
    body_keys,
    bundles,
    certificates,
    log_entries,
    org_tokens,
    registrations,
    runs,
    scenario_results,
    suite_status,
    withdrawals,
)

__all__ = [
    "MAX_BUNDLE_BYTES",
    "STORE_ENV",
    "LifecycleRefused",
    "Registration",
    "RunRecord",
    "Store",
    "WithdrawalRefused",
    "certificate_id",
    "default_url",
    "open_store",
    "store_clock",
]

STORE_ENV = "HARNESS_STORE"
MAX_BUNDLE_BYTES = 64 << 20
"""The largest bundle the store registers (its bytes are kept, so the catalogue can publish them)."""
_MIGRATIONS = Path(__file__).parent / "migrations"


class WithdrawalRefused(HarnessError):
    """A withdrawal the store does not accept (not signed by the pinned body key, no such certificate...)."""

    exit_code = 1


class LifecycleRefused(HarnessError):
    """A life-cycle change the store does not accept (not signed by the pinned body key, not a step forward...)."""

    exit_code = 1


def default_url() -> str:
    """``HARNESS_STORE`` (a URL, or a path taken as SQLite), else SQLite in ``$XDG_DATA_HOME/netcode-harness``."""
    configured = os.environ.get(STORE_ENV)
    if configured:
        return configured if "://" in configured else f"sqlite:///{Path(configured).resolve()}"
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite:///{base / 'netcode-harness' / 'runs.db'}"


@dataclass(slots=True, frozen=True)
class RunRecord:
    """One run as the store keeps it, from a bundle the verifier passed."""

    bundle: VerifiedBundle
    verification: str
    """``registered`` (through a trust list, re-judged), ``recorded`` (a run's own bundle) or ``unsigned``."""
    source: str


@dataclass(slots=True, frozen=True)
class Registration:
    """What registering one bundle did: one line, and the run and certificate it concerns."""

    accepted: bool
    line: str
    run_id: str | None = None
    certificate: str | None = None
    """The certificate issued, or the one that stands already for this product and suite version."""
    issued: bool = False
    """Whether this registration issued ``certificate``."""
    log_index: int | None = None
    """The index of the log entry recording this attempt (every attempt has one)."""


def store_clock(connection: Connection | None = None) -> str:
    """The store's own clock (UTC, RFC 3339, milliseconds): what registrations and withdrawals are timed by.

    PostgreSQL's clock when the store is a server (every lab writing into it shares one clock), else
    this machine's (an embedded SQLite store has no other).
    """
    when = dt.datetime.now(dt.UTC)
    if connection is not None and connection.dialect.name == "postgresql":
        when = connection.execute(sa.text("SELECT clock_timestamp()")).scalar_one().astimezone(dt.UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def certificate_id(bundle_sha256: str) -> str:
    """16 hex digits naming the certificate a bundle was issued (one bundle certifies one suite version)."""
    return hashlib.sha256(b"certificate\0" + bundle_sha256.encode()).hexdigest()[:16]


def _run_row(run: RunRecord, at: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    bundle = run.bundle
    sut = bundle.sut
    document_version = bundle.document.rpartition("@")[2] or None
    row = {
        "run_id": bundle.run_id,
        "suite": bundle.suite,
        "suite_version": bundle.suite_version,
        "document_version": document_version,
        "sut_supplier": sut.supplier if sut else None,
        "sut_product": sut.product if sut else None,
        "sut_version": sut.version if sut else None,
        "target": json.dumps(list(bundle.targets)),
        "started": bundle.started,
        "finished": bundle.finished,
        "certified": bundle.certifies,
        "summary": json.dumps(dict(bundle.summary)),
        "bundle_sha256": bundle.sha256,
        "signer": bundle.signer.keyid if bundle.signer else None,
        "verification": run.verification,
        "source": run.source,
        "recorded": at,
    }
    latency_of = {}
    listed = bundle.results.get("scenarios")
    for entry in listed if isinstance(listed, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("latency_ms"), dict):
            latency_of[str(entry.get("id"))] = entry["latency_ms"]
    scenarios = []
    for scenario in bundle.scenarios:
        latency = latency_of.get(scenario.id, {})
        scenarios.append(
            {
                "run_id": bundle.run_id,
                "scenario": scenario.id,
                "level": scenario.level,
                "verdict": scenario.verdict,
                "failures": json.dumps(list(scenario.failures), ensure_ascii=False, default=str),
                "latency_count": int(count) if (count := _number(latency.get("count"))) is not None else None,
                "latency_p50_ms": _number(latency.get("p50")),
                "latency_p95_ms": _number(latency.get("p95")),
                "latency_max_ms": _number(latency.get("max")),
            }
        )
    return row, scenarios


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _role_list(text: str | None) -> tuple[str, ...]:
    """The roles a stored JSON list names; () for NULL (every role of the suite version)."""
    if not text:
        return ()
    value = json.loads(text)
    return tuple(str(role) for role in value) if isinstance(value, list) else ()


def _covers(held: tuple[str, ...], wanted: tuple[str, ...]) -> bool:
    """Whether roles ``held`` (() every role) cover roles ``wanted`` (() every role)."""
    return not held or (bool(wanted) and set(wanted) <= set(held))


def _overlap(first: tuple[str, ...], second: tuple[str, ...]) -> bool:
    """Whether two sets of roles (() every role) share one."""
    return not first or not second or bool(set(first) & set(second))


def _signer(keyid: str | None, holder: str | None) -> Signer:
    return Signer(keyid or "", holder or "")


class Store:
    """The run store (one database): open it with :func:`open_store`, close it with :meth:`close`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- runs -------------------------------------------------------------------------------------------------

    def record(self, run: RunRecord) -> None:
        """Keep a run the harness itself made (``harness run``): never a registration, never a certificate.

        A run id already held with another bundle is left as it is (nothing replaces what is held).
        """
        with self.engine.begin() as connection:
            self._write_lock(connection)
            row, scenarios = _run_row(run, store_clock(connection))
            held = connection.execute(sa.select(runs.c.bundle_sha256).where(runs.c.run_id == row["run_id"])).first()
            if held is not None:
                if held.bundle_sha256 != row["bundle_sha256"]:
                    raise UsageError(f"run {row['run_id']} is held already with another bundle; not replaced")
                return
            connection.execute(sa.insert(runs), [row])
            if scenarios:
                connection.execute(sa.insert(scenario_results), scenarios)

    def list(self, sut: str | None = None, suite: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Runs, newest first; ``sut`` is ``SUPPLIER/PRODUCT@VERSION``, or a supplier or product name alone."""
        query = sa.select(runs).order_by(runs.c.started.desc(), runs.c.run_id).limit(limit)
        if sut:
            supplier, slash, rest = sut.partition("/")
            product, at, version = rest.rpartition("@")
            if slash and at:
                query = query.where(
                    runs.c.sut_supplier == supplier.strip(),
                    runs.c.sut_product == product.strip(),
                    runs.c.sut_version == version.strip(),
                )
            else:
                query = query.where(sa.or_(runs.c.sut_product == sut, runs.c.sut_supplier == sut))
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

    # -- registration -----------------------------------------------------------------------------------------

    def _write_lock(self, connection: Connection) -> None:
        """Serialise writers for the whole transaction (read-check-write without a race)."""
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(4242014)"))
        else:  # SQLite: a write first takes the database's write lock until the transaction ends
            connection.execute(sa.text("UPDATE body_keys SET keyid = keyid WHERE 0"))

    def register(self, outcome: Outcome, source: str, data: bytes | None) -> Registration:
        """Record one registration attempt; keep the bundle, its run and (when it certifies) a certificate.

        ``data`` are the bytes that were verified (None when the file could not be read). Refused: an
        outcome that is not valid, a bundle that was not re-judged, bytes other than the ones verified,
        a bundle over :data:`MAX_BUNDLE_BYTES`, or a run id already registered with another bundle.
        Every attempt, refused or not, is kept with its line and the store's time.
        """
        with self.engine.begin() as connection:
            self._write_lock(connection)
            at = store_clock(connection)
            attempt: dict[str, Any] = {"at": at, "source": source, "outcome": str(outcome.kind), "line": outcome.line()}
            result = self._register(connection, outcome, data, at, attempt)
            attempt.update(accepted=result.accepted, result=result.line)
            attempt.setdefault("certificate_id", result.certificate)
            connection.execute(sa.insert(registrations), [attempt])
            entry = ledger.append(
                connection,
                "registration" if result.accepted else "refusal",
                at,
                ledger.registration_content(
                    attempt, outcome.line(), result.line, result.accepted, result.issued, result.certificate
                ),
                result.certificate if result.issued else None,
            )
        return dataclasses.replace(result, log_index=entry.index)

    def _register(
        self, connection: Connection, outcome: Outcome, data: bytes | None, at: str, attempt: dict[str, Any]
    ) -> Registration:
        bundle = outcome.bundle
        if not outcome.valid or bundle is None:
            return Registration(False, outcome.line())
        sut, signer = bundle.sut, bundle.signer
        attempt.update(
            sha256=bundle.sha256,
            run_id=bundle.run_id,
            signer_keyid=signer.keyid if signer else None,
            signer_holder=signer.holder if signer else None,
            sut_supplier=sut.supplier if sut else None,
            sut_product=sut.product if sut else None,
            sut_version=sut.version if sut else None,
            suite=bundle.suite,
            suite_version=bundle.suite_version,
            certifying=bundle.certifying,
            certified=bundle.certified,
            rejudged=bundle.rejudged,
            failed=json.dumps(list(bundle.failed_scenarios())),
            roles=json.dumps(list(bundle.roles)) if bundle.roles else None,
        )
        if not bundle.rejudged:
            return Registration(False, "refused: registering needs a re-judged bundle", bundle.run_id)
        if data is None or len(data) > MAX_BUNDLE_BYTES:
            return Registration(False, f"refused: the bundle is over {MAX_BUNDLE_BYTES >> 20} MiB", bundle.run_id)
        if hashlib.sha256(data).hexdigest() != bundle.sha256:
            return Registration(False, "refused: the file changed after it was verified", bundle.run_id)
        held = connection.execute(sa.select(bundles.c.sha256).where(bundles.c.run_id == bundle.run_id)).first()
        if held is not None and held.sha256 != bundle.sha256:
            return Registration(
                False,
                f"refused: run {bundle.run_id} is registered already with another bundle (sha256 {held.sha256[:16]})",
                bundle.run_id,
            )
        run_held = connection.execute(sa.select(runs.c.bundle_sha256).where(runs.c.run_id == bundle.run_id)).first()
        if run_held is not None and run_held.bundle_sha256 != bundle.sha256:
            return Registration(
                False, f"refused: run {bundle.run_id} is held already with another bundle; not replaced", bundle.run_id
            )
        if held is not None:
            return Registration(True, f"registered already as run {bundle.run_id}", bundle.run_id)
        connection.execute(
            sa.insert(bundles),
            [{"sha256": bundle.sha256, "run_id": bundle.run_id, "size": len(data), "content": data, "registered": at}],
        )
        verification = "registered" if signer is not None else "unsigned"
        row, scenarios = _run_row(RunRecord(bundle, verification, "import"), at)
        if run_held is not None:  # the run's own record (harness run) of these very bytes, now registered
            connection.execute(sa.update(runs).where(runs.c.run_id == bundle.run_id).values(verification=verification))
        else:
            connection.execute(sa.insert(runs), [row])
            if scenarios:
                connection.execute(sa.insert(scenario_results), scenarios)
        if not bundle.certifies:
            return Registration(
                True, f"registered as run {bundle.run_id} ({why_not_certifying(bundle)})", bundle.run_id
            )
        published = self._published(connection).get((bundle.suite, bundle.suite_version))
        if "retired" in (bundle.suite_status, published):  # specs/README.md: retired is no longer certifiable
            return Registration(
                True,
                f"registered as run {bundle.run_id} ({bundle.suite}@{bundle.suite_version} is retired: "
                "no longer certifiable)",
                bundle.run_id,
            )
        return self._issue(connection, bundle, at)

    def _issue(self, connection: Connection, bundle: VerifiedBundle, at: str) -> Registration:
        assert bundle.sut is not None and bundle.signer is not None  # bundle.certifies says so
        sut = bundle.sut
        live_rows = connection.execute(
            sa.select(certificates.c.id, certificates.c.roles)
            .select_from(certificates.outerjoin(withdrawals, withdrawals.c.certificate_id == certificates.c.id))
            .where(
                certificates.c.sut_supplier == sut.supplier,
                certificates.c.sut_product == sut.product,
                certificates.c.sut_version == sut.version,
                certificates.c.suite == bundle.suite,
                certificates.c.suite_version == bundle.suite_version,
                withdrawals.c.certificate_id.is_(None),
            )
        ).all()
        # A live certificate stands for this run when it covers every role the run covers (NULL: every role).
        live = next((row for row in live_rows if _covers(_role_list(row.roles), bundle.roles)), None)
        if live is not None:
            return Registration(
                True, f"registered as run {bundle.run_id}; certificate {live.id} stands already", bundle.run_id, live.id
            )
        ident = certificate_id(bundle.sha256)
        connection.execute(
            sa.insert(certificates),
            [
                {
                    "id": ident,
                    "sut_supplier": sut.supplier,
                    "sut_product": sut.product,
                    "sut_version": sut.version,
                    "suite": bundle.suite,
                    "suite_version": bundle.suite_version,
                    "document": bundle.document,
                    "run_id": bundle.run_id,
                    "bundle_sha256": bundle.sha256,
                    "signer_keyid": bundle.signer.keyid,
                    "signer_holder": bundle.signer.holder,
                    "issued": at,
                    "roles": json.dumps(list(bundle.roles)) if bundle.roles else None,
                }
            ],
        )
        covered = f" (roles: {', '.join(bundle.roles)})" if bundle.roles else ""
        return Registration(
            True,
            f"registered as run {bundle.run_id}; certificate {ident} issued: "
            f"{sut.ref} {bundle.suite}@{bundle.suite_version}{covered}",
            bundle.run_id,
            ident,
            issued=True,
        )

    # -- what the matrix, can-exchange and the catalogue read ------------------------------------------------

    def evidence(self) -> Evidence:
        """Certificates (with withdrawals and later failing runs), failing runs, and refused bundles."""
        with self.engine.connect() as connection:
            failed = [
                FailedRun(
                    str(row.run_id),
                    SutRef(row.sut_supplier, row.sut_product, row.sut_version),
                    str(row.suite),
                    str(row.suite_version),
                    str(row.at),
                    tuple(json.loads(row.failed or "[]")),
                    _signer(row.signer_keyid, row.signer_holder),
                    str(row.sha256),
                    _role_list(row.roles),
                )
                for row in connection.execute(
                    sa.select(registrations)
                    .where(
                        registrations.c.accepted.is_(True),
                        registrations.c.outcome == "valid",
                        registrations.c.signer_keyid.is_not(None),
                        registrations.c.sut_product.is_not(None),
                        registrations.c.certifying.is_(True),
                        registrations.c.certified.is_(False),
                    )
                    .order_by(registrations.c.at, registrations.c.id)
                )
            ]
            failed = list({run.run_id: run for run in failed}.values())  # one per run, however often imported
            withdrawn = {
                row.certificate_id: Withdrawal(row.reason, row.at, row.keyid)
                for row in connection.execute(sa.select(withdrawals))
            }
            held = []
            for row in connection.execute(sa.select(certificates).order_by(certificates.c.issued, certificates.c.id)):
                product = SutRef(row.sut_supplier, row.sut_product, row.sut_version)
                covered = _role_list(row.roles)
                later = tuple(
                    run
                    for run in failed
                    if (run.product, run.suite, run.suite_version) == (product, row.suite, row.suite_version)
                    and run.registered > row.issued
                    and _overlap(run.roles, covered)  # a failing run of other roles is no regression of this one
                )
                held.append(
                    Certificate(
                        row.id,
                        product,
                        row.suite,
                        row.suite_version,
                        row.document,
                        row.run_id,
                        row.bundle_sha256,
                        _signer(row.signer_keyid, row.signer_holder),
                        row.issued,
                        withdrawn.get(row.id),
                        later,
                        _role_list(row.roles),
                    )
                )
            registered = {row.sha256 for row in connection.execute(sa.select(bundles.c.sha256))}
            refused: dict[tuple[str, str], Refusal] = {}
            for row in connection.execute(
                sa.select(registrations.c.source, registrations.c.result, registrations.c.sha256)
                .where(registrations.c.accepted.is_(False))
                .order_by(registrations.c.id)
            ):
                if row.sha256 is None or row.sha256 not in registered:
                    refused[(row.source, row.result)] = Refusal(row.source, row.result)
        return Evidence(tuple(held), tuple(failed), tuple(refused.values()))

    def certificate(self, ident: str) -> Certificate:
        """A certificate by id or unique id prefix; UsageError when none or several match."""
        found = [c for c in self.evidence().certificates if c.id.startswith(ident.strip().lower())] if ident else []
        if not found:
            raise UsageError(f"no certificate {ident!r} in the store")
        if len(found) > 1:
            raise UsageError(f"certificate id {ident!r} is ambiguous; give more of it")
        return found[0]

    def bundle_bytes(self, sha256: str) -> bytes:
        """The exact bytes of a registered bundle."""
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(bundles.c.content).where(bundles.c.sha256 == sha256)).first()
        if row is None:
            raise UsageError(f"no registered bundle with sha256 {sha256[:16]}")
        return bytes(row.content)

    def registrations(self, limit: int = 1000) -> builtins.list[dict[str, Any]]:
        """Every registration attempt, newest first, with the verifier's line and the store's time."""
        query = sa.select(registrations).order_by(registrations.c.id.desc()).limit(limit)
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    # -- the certifying body's key and withdrawals --------------------------------------------------------------

    def clock(self) -> str:
        """:func:`store_clock` of this store."""
        with self.engine.connect() as connection:
            return store_clock(connection)

    def body_key(self) -> tuple[str, bytes] | None:
        """(keyid, PEM) of the certifying body's key pinned in this store, if any."""
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(body_keys)).first()
        return (str(row.keyid), str(row.public_key).encode()) if row is not None else None

    def pin_body_key(self, pem: bytes) -> tuple[str, bool]:
        """Pin the body's public key once: (keyid, newly pinned). Another key is refused, never swapped in."""
        try:
            key = public_key_from_pem(pem)
        except WithdrawalError as exc:
            raise UsageError(f"body key: {exc}") from None
        ident = public_keyid(key)
        canonical = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        with self.engine.begin() as connection:
            self._write_lock(connection)
            held = connection.execute(sa.select(body_keys.c.keyid)).first()
            if held is not None:
                if held.keyid != ident:
                    raise UsageError(
                        f"the store's certifying body key is pinned already (keyid {held.keyid[:16]}); "
                        "it is never replaced"
                    )
                return ident, False
            connection.execute(
                sa.insert(body_keys), [{"keyid": ident, "public_key": canonical.decode(), "pinned": store_clock()}]
            )
        return ident, True

    def withdraw(self, ident: str, record: str) -> Withdrawal:
        """Keep a signed withdrawal record of certificate ``ident``; refused unless the pinned body key signed it."""
        pinned = self.body_key()
        if pinned is None:
            raise WithdrawalRefused(
                "no certifying body key is pinned in this store (harness certificates body-key PREFIX.pub)"
            )
        certificate = self.certificate(ident)
        if certificate.withdrawal is not None:
            raise WithdrawalRefused(f"certificate {certificate.id} is withdrawn already ({certificate.withdrawal.at})")
        try:
            checked = check_withdrawal(record, public_key_from_pem(pinned[1]), certificate)
        except WithdrawalError as exc:
            raise WithdrawalRefused(f"withdrawal of {certificate.id} refused: {exc}") from None
        with self.engine.begin() as connection:
            self._write_lock(connection)
            at = store_clock(connection)
            if connection.execute(
                sa.select(withdrawals.c.certificate_id).where(withdrawals.c.certificate_id == certificate.id)
            ).first():
                raise WithdrawalRefused(f"certificate {certificate.id} is withdrawn already")
            connection.execute(
                sa.insert(withdrawals),
                [
                    {
                        "certificate_id": certificate.id,
                        "reason": checked.reason,
                        "at": checked.at or at,
                        "keyid": checked.keyid,
                        "record": record,
                    }
                ],
            )
            content = ledger.withdrawal_content(
                certificate.id,
                certificate.bundle_sha256,
                certificate.product.ref,
                certificate.suite_ref,
                checked.reason,
                checked.at or at,
                checked.keyid,
                record,
            )
            ledger.append(connection, "withdrawal", at, content, certificate.id)
        return Withdrawal(checked.reason, checked.at or at, checked.keyid)

    # -- the register's log: every registration, refusal, withdrawal and life-cycle change ----------------------

    def log_size(self) -> int:
        """How many entries the register's log holds."""
        with self.engine.connect() as connection:
            return ledger.log_size(connection)

    def log_entry(self, index: int) -> LogEntry:
        """Entry ``index`` of the log; UsageError when there is none."""
        with self.engine.connect() as connection:
            found = ledger.entries(connection, index, index + 1) if index >= 0 else []
        if not found:
            raise UsageError(f"no log entry {index}")
        return found[0]

    def log_entries(self, start: int, end: int) -> builtins.list[LogEntry]:
        """Entries ``start`` to ``end - 1`` (at most 1,000 at a time), in order."""
        if start < 0 or end < start:
            raise UsageError(f"no log entries {start} to {end}")
        with self.engine.connect() as connection:
            return ledger.entries(connection, start, min(end, start + 1000))

    def log_indexes(self, kind: str = "registration") -> dict[str, int]:
        """Certificate id -> index of the entry that issued it (``registration``) or withdrew it (``withdrawal``)."""
        query = sa.select(log_entries.c.certificate_id, log_entries.c.idx).where(
            log_entries.c.kind == kind, log_entries.c.certificate_id.is_not(None)
        )
        with self.engine.connect() as connection:
            return {str(row.certificate_id): int(row.idx) for row in connection.execute(query)}

    def checkpoint(self, signer_key: Ed25519PrivateKey) -> SignedCheckpoint:
        """The log's head now (size, root, the store's clock), signed with the certifying body's key.

        Refused unless ``signer_key`` is the body key pinned in this store: a checkpoint is the body's word.
        """
        pinned = self.body_key()
        ident = public_keyid(signer_key.public_key())
        if pinned is None:
            raise UsageError(
                "no certifying body key is pinned in this store (harness certificates body-key PREFIX.pub)"
            )
        if pinned[0] != ident:
            raise UsageError(
                f"the checkpoint key {ident[:16]} is not the body key pinned in this store ({pinned[0][:16]})"
            )
        with self.engine.connect() as connection:
            size = ledger.log_size(connection)
            root = ledger.with_nodes(connection, lambda node: root_hash(size, node))
            at = store_clock(connection)
        return sign_checkpoint(Checkpoint(size, root, at), signer_key)

    def _proof_size(self, connection: Connection, size: int) -> None:
        held = ledger.log_size(connection)
        if size > held:
            raise UsageError(f"the log holds {held} entries, not {size}")

    def inclusion_proof(self, index: int, size: int) -> builtins.list[bytes]:
        """PATH(index, D[size]) of RFC 9162 (2.1.3.1): the hashes proving entry ``index`` in the tree of ``size``."""
        if not 0 <= index < size:
            raise UsageError(f"no entry {index} in a log of {size} entries")
        with self.engine.connect() as connection:
            self._proof_size(connection, size)
            return ledger.with_nodes(connection, lambda node: inclusion_path(index, size, node))

    def consistency_proof(self, first: int, second: int) -> builtins.list[bytes]:
        """PROOF(first, D[second]) of RFC 9162 (2.1.4.1): the tree of ``first`` entries is a prefix of ``second``'s."""
        if not 0 <= first <= second:
            raise UsageError(f"no consistency proof from {first} to {second} entries")
        with self.engine.connect() as connection:
            self._proof_size(connection, second)
            return ledger.with_nodes(connection, lambda node: consistency_proof(first, second, node))

    # -- suite life-cycle changes the body publishes ----------------------------------------------------------------

    def publish_lifecycle(self, suite: str, version: str, status: str, record: str) -> LogEntry:
        """Keep the body's signed record making ``suite@version`` ``superseded`` or ``retired``, and log it.

        Refused unless the pinned body key signed it, it says exactly this change, and it moves the
        version forward in life (current -> superseded -> retired; the register's own published status).
        """
        pinned = self.body_key()
        if pinned is None:
            raise LifecycleRefused(
                "no certifying body key is pinned in this store (harness certificates body-key PREFIX.pub)"
            )
        try:
            checked = check_lifecycle(record, public_key_from_pem(pinned[1]))
        except (LifecycleError, WithdrawalError) as exc:
            raise LifecycleRefused(f"life-cycle change of {suite}@{version} refused: {exc}") from None
        if (checked.suite, checked.version, checked.status) != (suite, version, status):
            raise LifecycleRefused(
                f"life-cycle change refused: the record makes {checked.suite}@{checked.version} {checked.status}, "
                f"not {suite}@{version} {status}"
            )
        with self.engine.begin() as connection:
            self._write_lock(connection)
            at = store_clock(connection)
            held = self._published(connection).get((suite, version), "current")
            if later_stage(held, status) == held:
                raise LifecycleRefused(f"life-cycle change refused: {suite}@{version} is {held} already")
            entry = ledger.append(
                connection,
                "lifecycle",
                at,
                {
                    "suite": suite,
                    "version": version,
                    "status": status,
                    "reason": checked.reason,
                    "published": checked.published,
                    "signer": checked.keyid,
                    "record_sha256": hashlib.sha256(record.encode()).hexdigest(),
                },
            )
            connection.execute(
                sa.insert(suite_status),
                [
                    {
                        "suite": suite,
                        "version": version,
                        "status": status,
                        "at": at,
                        "reason": checked.reason,
                        "record": record,
                        "log_index": entry.index,
                    }
                ],
            )
        return entry

    @staticmethod
    def _published(connection: Connection) -> dict[tuple[str, str], str]:
        life: dict[tuple[str, str], str] = {}
        for row in connection.execute(sa.select(suite_status).order_by(suite_status.c.id)):
            key = (str(row.suite), str(row.version))
            life[key] = later_stage(life.get(key, "current"), str(row.status))
        return life

    def suite_life(self) -> dict[tuple[str, str], str]:
        """(suite, version) -> the status the body published for it (only versions it published a change for).

        Merge it over the catalog's with :func:`harness.register.lifecycle.merged_life` (the later stage wins).
        """
        with self.engine.connect() as connection:
            return self._published(connection)

    # -- submitters' tokens (one per organisation and issue; only a hash is kept) ---------------------------------

    def issue_token(self, org: str) -> str:
        """A new bearer token for organisation ``org``, returned this once: the store keeps only its SHA-256."""
        name = " ".join(org.split())
        if not name or len(name) > 200 or any(ord(c) < 32 or ord(c) == 127 for c in name):
            raise UsageError("an organisation is one line of 1 to 200 printable characters")
        token = "nrt_" + secrets.token_urlsafe(32)
        with self.engine.begin() as connection:
            self._write_lock(connection)
            connection.execute(
                sa.insert(org_tokens),
                [{"org": name, "token_sha256": _token_digest(token), "created": store_clock(connection)}],
            )
        return token

    def token_org(self, token: str) -> str | None:
        """The organisation a live (not revoked) token was issued to, else None."""
        if not token or len(token) > 512:
            return None
        digest = _token_digest(token)
        query = sa.select(org_tokens.c.org, org_tokens.c.token_sha256).where(
            org_tokens.c.token_sha256 == digest, org_tokens.c.revoked.is_(None)
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        # the lookup is by a hash of a 256-bit random token; the compare is constant-time all the same
        if row is None or not hmac.compare_digest(str(row.token_sha256).encode(), digest.encode()):
            return None
        return str(row.org)

    def revoke_token(self, token: str) -> bool:
        """Revoke a token (True when it was live)."""
        with self.engine.begin() as connection:
            self._write_lock(connection)
            done = connection.execute(
                sa.update(org_tokens)
                .where(org_tokens.c.token_sha256 == _token_digest(token), org_tokens.c.revoked.is_(None))
                .values(revoked=store_clock(connection))
            )
        return bool(done.rowcount)

    def close(self) -> None:
        self.engine.dispose()


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


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
