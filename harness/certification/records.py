"""What the store hands the matrix, can-exchange and the catalogue: certificates, failed runs and refusals.

Every value here comes from a bundle the one verifier passed (``harness.evidence``) and the store
registered; nothing in this package opens a bundle or decides "certified".
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from harness.evidence.verified import Signer, SutRef, VerifiedBundle
from harness.model import UsageError

__all__ = [
    "Certificate",
    "CertificateStatus",
    "Evidence",
    "FailedRun",
    "Product",
    "Refusal",
    "Withdrawal",
    "certificate_status",
    "parse_product",
    "safe_name",
    "why_not_certifying",
]

Product = SutRef
"""A product as the operator declared it: ``SUPPLIER/PRODUCT@VERSION``, the one spelling every command uses."""


def parse_product(text: str) -> SutRef:
    """``SUPPLIER/PRODUCT@VERSION`` (spaces allowed, e.g. ``Example Ltd/ForceRMS@4.2``).

    The supplier ends at the first ``/`` and the version starts after the last ``@``, so a product
    name may itself hold ``/`` or ``@``; no part may be empty or hold a control character.
    """
    supplier, slash, rest = text.strip().partition("/")
    product, at, version = rest.rpartition("@")
    parts = (supplier.strip(), product.strip(), version.strip())
    if not slash or not at or not all(parts) or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise UsageError(f"bad product {text!r}: expected SUPPLIER/PRODUCT@VERSION (e.g. 'Example Ltd/ForceRMS@4.2')")
    return SutRef(*parts)


class CertificateStatus(enum.StrEnum):
    """``specs/evidence.md``, certificates: the suite version's life, or the body's signed withdrawal."""

    CURRENT = "current"
    SUPERSEDED = "superseded"
    LAPSED = "lapsed"
    WITHDRAWN = "withdrawn"


@dataclass(slots=True, frozen=True)
class Withdrawal:
    """The certifying body's signed act: its reason, the store's time, and the key that signed it."""

    reason: str
    at: str
    keyid: str


@dataclass(slots=True, frozen=True)
class FailedRun:
    """A registered, valid, signed run that did not certify (a MUST scenario failed, or the run was cut short)."""

    run_id: str
    product: SutRef
    suite: str
    suite_version: str
    registered: str
    """The store's clock at registration (never the bundle's ``finished``)."""
    failed: tuple[str, ...]
    signer: Signer
    bundle_sha256: str
    roles: tuple[str, ...] = ()
    """The roles the run covered (``harness run --role``); (): every role of the suite version."""

    @property
    def suite_ref(self) -> str:
        return f"{self.suite}@{self.suite_version}"


@dataclass(slots=True, frozen=True)
class Certificate:
    """Issued at registration of a valid, re-judged bundle that certifies (``VerifiedBundle.certifies``)."""

    id: str
    product: SutRef
    suite: str
    suite_version: str
    document: str
    run_id: str
    bundle_sha256: str
    signer: Signer
    issued: str
    """The store's clock when the bundle was registered."""
    withdrawal: Withdrawal | None = None
    regressions: tuple[FailedRun, ...] = ()
    """Failing runs of the same product and suite version registered after the certificate: shown, never acted on."""
    roles: tuple[str, ...] = ()
    """The roles the certificate covers (a role-limited run); (): every role of the suite version."""

    def covers(self, role: str) -> bool:
        """Whether the certificate stands for ``role`` of its suite version."""
        return not self.roles or role in self.roles

    @property
    def suite_ref(self) -> str:
        return f"{self.suite}@{self.suite_version}"


def certificate_status(certificate: Certificate, life: str | None) -> CertificateStatus:
    """Withdrawn by a signed record, else the suite version's life now (``None``: the register no longer knows it).

    A suite version the register does not know is no longer certifiable, so its certificates lapse.
    """
    if certificate.withdrawal is not None:
        return CertificateStatus.WITHDRAWN
    if life == "current":
        return CertificateStatus.CURRENT
    if life == "superseded":
        return CertificateStatus.SUPERSEDED
    return CertificateStatus.LAPSED


@dataclass(slots=True, frozen=True)
class Refusal:
    """A bundle that did not get in, with the verifier's (or the store's) one-line reason."""

    source: str
    reason: str


@dataclass(slots=True, frozen=True)
class Evidence:
    """Everything the matrix, can-exchange and the catalogue are computed from."""

    certificates: tuple[Certificate, ...] = ()
    failures: tuple[FailedRun, ...] = ()
    refusals: tuple[Refusal, ...] = ()

    def products(self) -> list[SutRef]:
        return sorted({c.product for c in self.certificates} | {f.product for f in self.failures})


def why_not_certifying(bundle: VerifiedBundle) -> str:
    """Why a valid bundle issues no certificate, in words (the verdict itself is the verifier's ``certifies``)."""
    if bundle.signer is None:
        return "unsigned: integrity only, never certifies"
    if not bundle.certifying:
        return "a not-certifying run"
    if bundle.sut is None:
        return "no system under test declared"
    failed = bundle.failed_scenarios()
    return f"not certified: {', '.join(failed)} failed" if failed else "not certified"


def safe_name(text: str) -> str:
    """``text`` as one file name (a run id is a UUID by the verifier's check; this holds even if it were not)."""
    return re.sub(r"[^0-9A-Za-z-]", "_", text)[:100] or "_"
