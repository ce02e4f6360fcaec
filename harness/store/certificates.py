"""Registration, certificates, withdrawals and the body key: the certifying body's acts in the store.

The store never opens a bundle: it is handed the one verifier's :class:`~harness.evidence.verified.Outcome`
and the bytes that were verified (checked against the verified SHA-256). Registering is the
certifying body's act, timed by the store's own clock; a bundle's ``finished`` orders nothing.
"""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from sqlalchemy.engine import Connection

from harness.certification import Certificate, Evidence, FailedRun, Refusal, Withdrawal
from harness.certification.records import why_not_certifying
from harness.certification.withdrawal import WithdrawalError, check_withdrawal, public_key_from_pem
from harness.evidence.keys import keyid as public_keyid
from harness.evidence.verified import Outcome, Signer, SutRef, VerifiedBundle
from harness.model import HarnessError, UsageError
from harness.store import log as ledger
from harness.store.base import NO_BODY_KEY, StoreBase, store_clock
from harness.store.lifecycle import published_life
from harness.store.runs import RunRecord, run_row
from harness.store.schema import body_keys, bundles, certificates, registrations, runs, scenario_results, withdrawals

__all__ = ["MAX_BUNDLE_BYTES", "CertificatesMixin", "Registration", "WithdrawalRefused", "certificate_id"]

MAX_BUNDLE_BYTES = 64 << 20
"""The largest bundle the store registers (its bytes are kept, so the catalogue can publish them)."""


class WithdrawalRefused(HarnessError):
    """A withdrawal the store does not accept (not signed by the pinned body key, no such certificate...)."""

    exit_code = 1


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


def certificate_id(bundle_sha256: str) -> str:
    """16 hex digits naming the certificate a bundle was issued (one bundle certifies one suite version)."""
    return hashlib.sha256(b"certificate\0" + bundle_sha256.encode()).hexdigest()[:16]


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


class CertificatesMixin(StoreBase):
    """Registering bundles, issuing and withdrawing certificates, and what the matrix and catalogue read."""

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
        row, scenarios = run_row(RunRecord(bundle, verification, "import"), at)
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
        published = published_life(connection).get((bundle.suite, bundle.suite_version))
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
        # A withdrawal binds the product version (docs/decisions-store.md 5): no later run of the same version, held
        # back or re-signed under a new run id, issues again what the body withdrew; a new product version certifies.
        withdrawn_rows = connection.execute(
            sa.select(certificates.c.id, certificates.c.roles, withdrawals.c.reason)
            .select_from(certificates.join(withdrawals, withdrawals.c.certificate_id == certificates.c.id))
            .where(
                certificates.c.sut_supplier == sut.supplier,
                certificates.c.sut_product == sut.product,
                certificates.c.sut_version == sut.version,
                certificates.c.suite == bundle.suite,
                certificates.c.suite_version == bundle.suite_version,
            )
            .order_by(certificates.c.issued, certificates.c.id)
        ).all()
        bound = next((row for row in withdrawn_rows if _overlap(_role_list(row.roles), bundle.roles)), None)
        if bound is not None:
            return Registration(
                True,
                f"registered as run {bundle.run_id}; no certificate issued: certificate {bound.id} of "
                f"{sut.ref} {bundle.suite}@{bundle.suite_version} was withdrawn ({str(bound.reason)[:200]}); "
                "a withdrawal binds the product version: certify a new version",
                bundle.run_id,
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
            raise WithdrawalRefused(NO_BODY_KEY)
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
