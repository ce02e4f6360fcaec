"""What certification evidence says, once verified: the compatibility matrix, can-exchange, the catalogue.

Everything here is a pure function over :class:`VerifiedRunRecord` values (see
:mod:`harness.certification.records`), so the same logic serves a folder of
bundles, the run store, or a test building records by hand.
"""

from __future__ import annotations

from harness.certification.matrix import (
    Answer,
    CellStatus,
    ExchangeAnswer,
    MatrixCell,
    Reason,
    can_exchange,
    compatibility_matrix,
)
from harness.certification.records import Product, VerifiedRunRecord
from harness.certification.roles import Certifies, SuiteVersion, suite_versions

__all__ = [
    "Answer",
    "CellStatus",
    "Certifies",
    "ExchangeAnswer",
    "MatrixCell",
    "Product",
    "Reason",
    "SuiteVersion",
    "VerifiedRunRecord",
    "can_exchange",
    "compatibility_matrix",
    "suite_versions",
]
