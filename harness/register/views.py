"""What the register shows: the suites' life in this register, and a cached snapshot of the store's evidence.

Every document (JSON) and page (HTML) is computed from one :class:`Snapshot`: the store's certificates,
failing runs and refusals (all registered through the one verifier), the suite versions with the life
the body published, and each certificate's log index. A snapshot is reused until the store's log grows
(every registration, refusal, withdrawal and life-cycle change appends one entry in the same transaction),
so reads at 10,000 certificates cost one indexed query, not a reload, and every server process sees a
change as soon as it is committed.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import harness
from harness.catalog import Catalog
from harness.certification import (
    Certificate,
    Evidence,
    Product,
    SuiteVersion,
    Withdrawal,
    certificate_status,
    certificates,
    suite_versions,
)
from harness.certification.catalogue import certificate_entry, product_slug
from harness.evidence.verified import SutRef
from harness.register.lifecycle import with_published

if TYPE_CHECKING:
    from harness.store import Store

__all__ = [
    "API",
    "Snapshot",
    "SnapshotCache",
    "catalogue_feed",
    "certificate_document",
    "certificate_log_index",
    "certificate_summary",
    "held_certificate",
    "suite_life",
]

API = "/register/v1"


def suite_life(catalog: Catalog, store: Store) -> tuple[SuiteVersion, ...]:
    """The catalog's suite versions with the life this register gives them.

    A version's status is the later of the catalog's (``suites/lifecycle.yaml``) and the last one the body
    published to this register (:func:`~harness.register.lifecycle.with_published`): a life only moves forward.
    """
    return tuple(with_published(suite_versions(catalog), store.suite_life()))


def held_certificate(store: Store, ident: str) -> Certificate | None:
    """Certificate ``ident`` as the store holds it (with its withdrawal), read by its key alone.

    What a submission's answer needs, without loading every certificate (:meth:`Store.evidence` does).
    """
    import sqlalchemy as sa

    from harness.evidence.verified import Signer
    from harness.store.schema import certificates as table
    from harness.store.schema import withdrawals

    with store.engine.connect() as connection:
        row = connection.execute(sa.select(table).where(table.c.id == ident)).first()
        gone = connection.execute(sa.select(withdrawals).where(withdrawals.c.certificate_id == ident)).first()
    if row is None:
        return None
    return Certificate(
        row.id,
        SutRef(row.sut_supplier, row.sut_product, row.sut_version),
        row.suite,
        row.suite_version,
        row.document,
        row.run_id,
        row.bundle_sha256,
        Signer(row.signer_keyid, row.signer_holder),
        row.issued,
        Withdrawal(gone.reason, gone.at, gone.keyid) if gone is not None else None,
    )


def certificate_log_index(store: Store, certificate: str) -> int | None:
    """The index of the log entry that issued ``certificate`` (what an auditor proves the inclusion of)."""
    return store.log_indexes("registration").get(certificate)


def certificate_summary(
    certificate: Certificate, life: Mapping[tuple[str, str], str], index: int | None
) -> dict[str, Any]:
    """The certificate as a submission's answer names it (the API contract's fields)."""
    return {
        "id": certificate.id,
        "product": certificate.product.ref,
        "suite": certificate.suite_ref,
        "status": str(certificate_status(certificate, life.get((certificate.suite, certificate.suite_version)))),
        "issued": certificate.issued,
        "log_index": index,
    }


@dataclass(slots=True, frozen=True)
class Snapshot:
    """The store's evidence at one log size, with what every view needs precomputed."""

    version: object
    evidence: Evidence
    suites: tuple[SuiteVersion, ...]
    log_index: Mapping[str, int]
    """Certificate id -> the log entry that issued it."""
    withdrawal_index: Mapping[str, int]
    """Certificate id -> the log entry that withdrew it."""
    held: Mapping[Product, Sequence[Any]] = field(default_factory=dict)
    """Per product, its matrix cells that hold a certificate (:func:`harness.certification.certificates`)."""

    @property
    def life(self) -> dict[tuple[str, str], str]:
        return {(s.name, s.version): s.status for s in self.suites}

    def certificate(self, ident: str) -> Certificate | None:
        for certificate in self.evidence.certificates:
            if certificate.id == ident:
                return certificate
        return None

    def status(self, certificate: Certificate) -> str:
        return str(certificate_status(certificate, self.life.get((certificate.suite, certificate.suite_version))))

    def product(self, slug: str) -> Product | None:
        for product in self.held:
            if product_slug(product) == slug:
                return product
        return None


class SnapshotCache:
    """One snapshot per server process, rebuilt when the store's log has grown (thread-safe: reads run in threads)."""

    def __init__(self, store: Store, catalog: Catalog) -> None:
        self.store = store
        self.catalog = catalog
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None

    def get(self) -> Snapshot:
        version = self.store.log_size()
        with self._lock:
            if self._snapshot is not None and self._snapshot.version == version:
                return self._snapshot
            evidence = self.store.evidence()
            suites = suite_life(self.catalog, self.store)
            snapshot = Snapshot(
                version,
                evidence,
                suites,
                self.store.log_indexes("registration"),
                self.store.log_indexes("withdrawal"),
                certificates(evidence, suites),
            )
            self._snapshot = snapshot
            return snapshot


def certificate_document(snapshot: Snapshot, certificate: Certificate) -> dict[str, Any]:
    """``GET /register/v1/certificates/{id}``: the catalogue's entry of the certificate, its product and log index."""
    entry = certificate_entry(
        snapshot.status(certificate),
        certificate,
        f"{API}/certificates/{certificate.id}/bundle",
        f"/certificates/{certificate.id}/report",
    )
    withdrawn = certificate.id in snapshot.withdrawal_index and entry["withdrawn"] is not None
    if withdrawn:
        entry["withdrawn"] = {**entry["withdrawn"], "log_index": snapshot.withdrawal_index[certificate.id]}
    return {
        **entry,
        "product": certificate.product.ref,
        "suite_ref": certificate.suite_ref,
        "log_index": snapshot.log_index.get(certificate.id),
        "page": f"/certificates/{certificate.id}",
    }


def catalogue_feed(snapshot: Snapshot) -> dict[str, Any]:
    """``GET /register/v1/catalogue``: the feed of ``catalogue.json``, its links pointing into the register."""
    products = []
    for product, cells in sorted(snapshot.held.items()):
        if not cells:
            continue
        entries = [certificate_document(snapshot, cell.certificate) for cell in cells]
        for entry in entries:
            entry.pop("product")
        products.append({**product.as_dict(), "page": f"/products/{product_slug(product)}", "certificates": entries})
    rejected = sorted((r.source, r.reason) for r in snapshot.evidence.refusals)
    return {
        "harness": {"version": harness.__version__},
        # the log size this snapshot was read at: every entry below it is reflected here (the auditor relies on it)
        "log_size": snapshot.version,
        "products": products,
        "rejected": [{"bundle": source.rpartition("/")[2], "reason": reason} for source, reason in rejected],
    }
