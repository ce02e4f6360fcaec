"""Certification evidence (``specs/evidence.md`` 1.1): bundles, DSSE signatures, keys, the trust list and
the one verifier. Nothing outside this package opens a bundle: consumers ask :class:`Verifier` and read the
:class:`Outcome` (and, for a valid bundle, its :class:`VerifiedBundle`)."""

from __future__ import annotations

from harness.evidence.trust import TrustEntry, TrustList
from harness.evidence.verified import Outcome, OutcomeKind, ScenarioVerdict, Signer, SutRef, VerifiedBundle
from harness.evidence.verify import Invalid, OpenedBundle, Verifier

__all__ = [
    "Invalid",
    "OpenedBundle",
    "Outcome",
    "OutcomeKind",
    "ScenarioVerdict",
    "Signer",
    "SutRef",
    "TrustEntry",
    "TrustList",
    "VerifiedBundle",
    "Verifier",
]
