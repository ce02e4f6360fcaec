"""What registered certification evidence says: certificates, the compatibility matrix, can-exchange, the catalogue.

Everything here is a pure function over the values of :mod:`harness.certification.records`,
which the run store builds from bundles the one verifier (:mod:`harness.evidence`) passed; tests
build them by hand. Nothing in this package opens a bundle or decides "certified".
"""

from __future__ import annotations

from harness.certification.matrix import (
    Answer,
    CellStatus,
    ExchangeAnswer,
    MatrixCell,
    Reason,
    can_exchange,
    certificates,
    compatibility_matrix,
)
from harness.certification.records import (
    Certificate,
    CertificateStatus,
    Evidence,
    FailedRun,
    Product,
    Refusal,
    Withdrawal,
    certificate_status,
    parse_product,
)
from harness.certification.roles import Certifies, SuiteVersion, suite_versions

__all__ = [
    "Answer",
    "CellStatus",
    "Certificate",
    "CertificateStatus",
    "Certifies",
    "Evidence",
    "ExchangeAnswer",
    "FailedRun",
    "MatrixCell",
    "Product",
    "Reason",
    "Refusal",
    "SuiteVersion",
    "Withdrawal",
    "can_exchange",
    "certificate_status",
    "certificates",
    "compatibility_matrix",
    "parse_product",
    "suite_versions",
]
