"""What the one verifier hands back (``specs/evidence.md`` 1.1): typed, verified contents.

Nothing outside :mod:`harness.evidence` opens a bundle. The verifier checks it (the eight checks,
in order, first failure as the reason) and returns an :class:`Outcome`; when the bundle is valid,
``Outcome.bundle`` is a :class:`VerifiedBundle` read from the same open file. Matrix, catalogue,
store, register, report and diff consume these values and never the raw members.

This module holds only the value types: the verifier fills them, the others read them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Outcome", "OutcomeKind", "ScenarioVerdict", "Signer", "SutRef", "VerifiedBundle"]


class OutcomeKind(enum.StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    UNREADABLE = "unreadable"


@dataclass(slots=True, frozen=True, order=True)
class SutRef:
    """The system under test as the operator declared it (``sut`` of the predicate)."""

    supplier: str
    product: str
    version: str

    @property
    def ref(self) -> str:
        """``SUPPLIER/PRODUCT@VERSION``, the one spelling every command prints."""
        return f"{self.supplier}/{self.product}@{self.version}"

    def as_dict(self) -> dict[str, str]:
        return {"supplier": self.supplier, "product": self.product, "version": self.version}


@dataclass(slots=True, frozen=True)
class Signer:
    """The trust-list entry whose key verified the envelope."""

    keyid: str
    holder: str


@dataclass(slots=True, frozen=True)
class ScenarioVerdict:
    """One scenario of a verified run; ``level`` is the *issued* suite's, never the bundle's."""

    id: str
    level: str
    verdict: str
    failures: tuple[Mapping[str, Any], ...] = ()
    """As ``results.json`` lists them (step, check, expected, actual, message), for display only."""


@dataclass(slots=True, frozen=True)
class VerifiedBundle:
    """A bundle that passed every check asked of it. ``certifies`` is the only "certified" a consumer uses."""

    path: Path
    sha256: str
    """Lowercase hex SHA-256 of the bundle file as verified."""
    run_id: str
    """From the signed predicate (never the file name)."""
    signer: Signer | None
    """None for an unsigned bundle: integrity only, never certifies."""
    suite: str
    suite_version: str
    document: str
    """``DOC@VERSION`` the suite version certifies, from the verifier's register."""
    suite_status: str
    """The suite version's status in the verifier's register now: current, superseded or retired."""
    sut: SutRef | None
    certifying: bool
    certified: bool
    """The run's own verdict as checked by rule 9 (levels from the issued suite)."""
    started: str
    finished: str
    summary: Mapping[str, int]
    scenarios: tuple[ScenarioVerdict, ...]
    targets: tuple[str, ...]
    rejudged: bool
    results: Mapping[str, Any]
    """``results.json`` as verified: for reporters that show details (read it, never decide from it)."""
    predicate: Mapping[str, Any]
    roles: tuple[str, ...] = ()
    """The roles the run covered (a role-limited run, ``harness run --role``), checked against the issued suite;
    empty: a whole run, every role of the suite version."""

    @property
    def certifies(self) -> bool:
        """Signed by a trust-list key covering the supplier, certifying, SUT declared, rule 9 holds."""
        return self.certified and self.certifying and self.signer is not None and self.sut is not None

    def failed_scenarios(self, must_only: bool = True) -> tuple[str, ...]:
        return tuple(
            s.id for s in self.scenarios if s.verdict in ("failed", "error") and (s.level == "MUST" or not must_only)
        )


@dataclass(slots=True, frozen=True)
class Outcome:
    """The verifier's answer for one bundle: one line, and the verified contents when valid."""

    path: Path
    kind: OutcomeKind
    reason: str = ""
    bundle: VerifiedBundle | None = None

    @property
    def valid(self) -> bool:
        return self.kind is OutcomeKind.VALID

    def line(self) -> str:
        """``valid``, ``invalid: REASON`` or ``unreadable: REASON`` (evidence.md: every outcome is one line)."""
        return str(self.kind) if self.valid else f"{self.kind}: {self.reason}"
