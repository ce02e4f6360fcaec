"""The compatibility matrix and can-exchange, as pure functions over the store's certificates.

A cell is what the certifying body registered: a certificate (its status following the suite
version's life, or withdrawn by a signed record), else a registered failing run, else nothing.
A failing run registered after a certificate never takes it away: it is listed beside it as a
regression for the body to act on. Nothing here reads a bundle or orders by a supplier's clock.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from harness.certification.records import (
    Certificate,
    CertificateStatus,
    Evidence,
    FailedRun,
    Product,
    certificate_status,
)
from harness.certification.roles import ORIGINATING, SIDES, SuiteVersion, version_key

__all__ = [
    "Answer",
    "CellStatus",
    "ExchangeAnswer",
    "MatrixCell",
    "Reason",
    "Side",
    "can_exchange",
    "certificates",
    "compatibility_matrix",
    "exchange_document",
    "matrix_document",
    "per_exchange",
    "standing",
]


class CellStatus(enum.StrEnum):
    CERTIFIED = "certified"
    """A current certificate."""
    SUPERSEDED = "superseded"
    LAPSED = "lapsed"
    WITHDRAWN = "withdrawn"
    NOT_CERTIFIED = "not certified"
    """No certificate; a registered, signed run failed."""
    NEVER_RUN = "never run"


_FROM_CERTIFICATE = {
    CertificateStatus.CURRENT: CellStatus.CERTIFIED,
    CertificateStatus.SUPERSEDED: CellStatus.SUPERSEDED,
    CertificateStatus.LAPSED: CellStatus.LAPSED,
    CertificateStatus.WITHDRAWN: CellStatus.WITHDRAWN,
}


@dataclass(slots=True, frozen=True)
class MatrixCell:
    product: Product
    suite: str
    version: str
    status: CellStatus
    certificate: Certificate | None = None
    failed: FailedRun | None = None
    """The latest registered failing run, when the cell holds no certificate."""

    @property
    def run_id(self) -> str | None:
        """The run whose evidence the cell shows."""
        if self.certificate is not None:
            return self.certificate.run_id
        return self.failed.run_id if self.failed is not None else None

    @property
    def regressions(self) -> tuple[FailedRun, ...]:
        return self.certificate.regressions if self.certificate is not None else ()

    @property
    def issued(self) -> str | None:
        """When the certificate was issued (the store's clock at registration), if the cell holds one."""
        return self.certificate.issued if self.certificate is not None else None

    @property
    def last_run(self) -> str | None:
        """The latest registration of a run of this product and suite version: certificate, failure or regression.

        Store clocks only (never a bundle's own ``finished``), so a supplier cannot date its runs.
        """
        dates = [r.registered for r in self.regressions]
        dates += [self.certificate.issued] if self.certificate is not None else []
        dates += [self.failed.registered] if self.failed is not None else []
        return max((d for d in dates if d), default=None)

    def as_dict(self) -> dict[str, object]:
        return {
            "product": self.product.ref,
            "suite": self.suite,
            "version": self.version,
            "status": str(self.status),
            "certificate": self.certificate.id if self.certificate is not None else None,
            "roles": list(self.certificate.roles) if self.certificate is not None and self.certificate.roles else None,
            "run": self.run_id,
            "issued": self.issued,
            "last_run": self.last_run,
            "regressions": [
                {"run": r.run_id, "registered": r.registered, "failed": list(r.failed)} for r in self.regressions
            ],
        }


def standing(
    evidence: Evidence, life: dict[tuple[str, str], str], role: str | None = None
) -> dict[tuple[Product, str, str], tuple[CellStatus, Certificate | None, FailedRun | None]]:
    """Per (product, suite, version): its status, the certificate behind it and the latest failing run.

    A live (not withdrawn) certificate stands; a withdrawn one shows only when no live one exists;
    otherwise the latest failing run (by the store's registration clock) makes the cell "not certified".
    With ``role``, only the certificates and failing runs that cover that role count (a role-limited run
    speaks for its roles only: ``harness run --role``).
    """
    found: dict[tuple[Product, str, str], tuple[CellStatus, Certificate | None, FailedRun | None]] = {}
    failures = [f for f in evidence.failures if role is None or not f.roles or role in f.roles]
    for failure in sorted(failures, key=lambda f: (f.registered, f.run_id)):
        found[(failure.product, failure.suite, failure.suite_version)] = (CellStatus.NOT_CERTIFIED, None, failure)
    covering = [c for c in evidence.certificates if role is None or c.covers(role)]
    withdrawn_first = sorted(covering, key=lambda c: (c.withdrawal is None, c.issued, c.id))
    for certificate in withdrawn_first:
        key = (certificate.product, certificate.suite, certificate.suite_version)
        status = _FROM_CERTIFICATE[
            certificate_status(certificate, life.get((certificate.suite, certificate.suite_version)))
        ]
        failed = found.get(key, (CellStatus.NEVER_RUN, None, None))[2]
        found[key] = (status, certificate, failed)
    return found


def compatibility_matrix(
    evidence: Evidence, suites: Sequence[SuiteVersion]
) -> tuple[list[Product], list[SuiteVersion], list[MatrixCell]]:
    """Products (rows) against suite versions (columns); each cell what the store registered.

    A suite version that a certificate names but the register no longer knows is added as a
    column of status ``retired`` (its certificates lapse).
    """
    life = {(s.name, s.version): s.status for s in suites}
    held = standing(evidence, life)
    columns = list(suites)
    known = set(life)
    for _, suite, version in held:
        if (suite, version) not in known:
            known.add((suite, version))
            columns.append(SuiteVersion(suite, version, suite, "retired", ()))
    columns.sort(key=lambda s: (s.name, version_key(s.version)))
    products = evidence.products()
    cells = []
    for product in products:
        for column in columns:
            status, certificate, failed = held.get(
                (product, column.name, column.version), (CellStatus.NEVER_RUN, None, None)
            )
            cells.append(MatrixCell(product, column.name, column.version, status, certificate, failed))
    return products, columns, cells


class Answer(enum.StrEnum):
    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"
    NOT_COVERED = "not covered"
    """A direction one of whose roles no suite version certifies: listed apart, never deciding the overall answer."""


class Side(enum.StrEnum):
    """What the evidence says about one side (role) of an exchange for one product."""

    CERTIFIED = "certified"
    FAILED = "failed"
    LAPSED = "lapsed"
    NEVER_RUN = "never run"
    WITHDRAWN = "withdrawn"
    """The certifying body withdrew the certificate (a signed record): counts as a refusal."""
    NOT_CERTIFIABLE = "not certifiable"
    """No suite version of the catalog certifies this role."""


_REFUSED = frozenset({Side.FAILED, Side.WITHDRAWN})


class Reason(enum.StrEnum):
    """Why can-exchange answered as it did, one typed code per case."""

    BOTH_CERTIFIED = "both-certified"
    INCOMPATIBLE_DOCUMENTS = "incompatible-documents"
    SENDER_FAILED = "sender-failed"
    RECEIVER_FAILED = "receiver-failed"
    BOTH_FAILED = "both-failed"
    SENDER_UNKNOWN = "sender-unknown"
    RECEIVER_UNKNOWN = "receiver-unknown"
    BOTH_UNKNOWN = "both-unknown"
    NO_SUITE_CERTIFIES = "no-suite-certifies"


@dataclass(slots=True, frozen=True)
class SideEvidence:
    role: str
    side: Side
    documents: frozenset[tuple[str, str]]
    """Document families (name, major) under which the side is certified."""
    evidence: tuple[str, ...]
    """Suite versions behind the answer, with failed scenarios where the side failed."""


@dataclass(slots=True, frozen=True)
class ExchangeAnswer:
    exchange: str
    direction: str
    """``A -> B``: A originates (sender/requester), B answers or receives."""
    answer: Answer
    reason: Reason
    detail: str
    evidence: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "exchange": self.exchange,
            "direction": self.direction,
            "answer": str(self.answer),
            "reason": str(self.reason),
            "detail": self.detail,
            "evidence": list(self.evidence),
        }


_Standing = dict[tuple[Product, str, str], tuple[CellStatus, Certificate | None, FailedRun | None]]


def _side(product: Product, exchange: str, role: str, suites: Sequence[SuiteVersion], held: _Standing) -> SideEvidence:
    relevant = [(s, c) for s in suites for c in s.certifies if c.exchange == exchange and c.role == role]
    if not relevant:
        return SideEvidence(role, Side.NOT_CERTIFIABLE, frozenset(), ())
    certified: set[tuple[str, str]] = set()
    evidence: list[str] = []
    failed = lapsed = withdrawn = False
    for suite, entry in relevant:
        status, certificate, failure = held.get(
            (product, suite.name, suite.version), (CellStatus.NEVER_RUN, None, None)
        )
        if certificate is not None and status in (CellStatus.CERTIFIED, CellStatus.SUPERSEDED):
            certified.add(entry.document_family)
            later = "".join(
                f"; regression: run {r.run_id} failed {', '.join(r.failed)}" for r in certificate.regressions
            )
            covered = f" for {', '.join(certificate.roles)}" if certificate.roles else ""
            evidence.append(
                f"{suite.ref} certificate {certificate.id}{covered} {status} (run {certificate.run_id}){later}"
            )
        elif certificate is not None and status is CellStatus.LAPSED:
            lapsed = True
            evidence.append(f"{suite.ref} certificate {certificate.id} lapsed (run {certificate.run_id})")
        elif certificate is not None and status is CellStatus.WITHDRAWN:
            withdrawn = True
            reason = certificate.withdrawal.reason if certificate.withdrawal is not None else ""
            evidence.append(f"{suite.ref} certificate {certificate.id} withdrawn: {reason}")
        elif failure is not None:
            failed = True
            missed = ", ".join(failure.failed) or "not certified"
            evidence.append(f"{suite.ref} not certified: {missed} (run {failure.run_id})")
    if certified:
        return SideEvidence(role, Side.CERTIFIED, frozenset(certified), tuple(evidence))
    if failed or withdrawn:
        return SideEvidence(role, Side.FAILED if failed else Side.WITHDRAWN, frozenset(), tuple(evidence))
    return SideEvidence(role, Side.LAPSED if lapsed else Side.NEVER_RUN, frozenset(), tuple(evidence))


def _describe(side: SideEvidence) -> str:
    return f"{side.role} {side.side}"


def _judge(exchange: str, direction: str, origin: SideEvidence, answer: SideEvidence) -> ExchangeAnswer:
    evidence = origin.evidence + answer.evidence
    detail = f"{_describe(answer)}, {_describe(origin)}"
    uncovered = [side.role for side in (origin, answer) if side.side is Side.NOT_CERTIFIABLE]
    if uncovered:
        return ExchangeAnswer(
            exchange,
            direction,
            Answer.NOT_COVERED,
            Reason.NO_SUITE_CERTIFIES,
            f"no suite certifies the {' or '.join(uncovered)} side; {detail}",
            evidence,
        )
    if origin.side is Side.CERTIFIED and answer.side is Side.CERTIFIED:
        if origin.documents & answer.documents:
            return ExchangeAnswer(exchange, direction, Answer.YES, Reason.BOTH_CERTIFIED, detail, evidence)
        documents = f"{sorted(origin.documents)} vs {sorted(answer.documents)}"
        return ExchangeAnswer(
            exchange,
            direction,
            Answer.NO,
            Reason.INCOMPATIBLE_DOCUMENTS,
            f"both certified, on incompatible document versions {documents}",
            evidence,
        )
    failed = (origin.side in _REFUSED, answer.side in _REFUSED)
    if any(failed):
        reason = Reason.BOTH_FAILED if all(failed) else (Reason.SENDER_FAILED if failed[0] else Reason.RECEIVER_FAILED)
        return ExchangeAnswer(exchange, direction, Answer.NO, reason, detail, evidence)
    unknown = (origin.side is not Side.CERTIFIED, answer.side is not Side.CERTIFIED)
    reason = Reason.BOTH_UNKNOWN if all(unknown) else (Reason.SENDER_UNKNOWN if unknown[0] else Reason.RECEIVER_UNKNOWN)
    return ExchangeAnswer(exchange, direction, Answer.UNKNOWN, reason, detail, evidence)


def can_exchange(
    a: Product, b: Product, evidence: Evidence, suites: Sequence[SuiteVersion]
) -> tuple[Answer, list[ExchangeAnswer]]:
    """For every exchange of the profile and both directions: can A and B interoperate, on the evidence?

    ``yes`` needs the originating side (sender or requester) of one and the
    answering side (receiver or responder) of the other holding a certificate
    (current or superseded) on documents of the same name and major version;
    ``no`` means a side has no certificate but a registered failing run, or its
    certificate was withdrawn (or the documents are incompatible); ``unknown``
    means there is no such evidence. A direction one of whose roles no suite version
    certifies is ``not covered``: no evidence could ever decide it, so it is listed
    apart and left out of the overall answer. The overall answer, over the covered
    directions, is ``yes`` only when every one is, ``no`` when any is, ``unknown``
    otherwise (and when none is covered).
    """
    life = {(s.name, s.version): s.status for s in suites}
    by_role: dict[str, _Standing] = {}

    def held(role: str) -> _Standing:  # each side is judged on the certificates that cover its role
        if role not in by_role:
            by_role[role] = standing(evidence, life, role)
        return by_role[role]

    pairs: dict[str, set[tuple[str, str]]] = {}
    for suite in suites:
        for entry in suite.certifies:
            origin = entry.role if entry.role in ORIGINATING else SIDES[entry.role]
            pairs.setdefault(entry.exchange, set()).add((origin, SIDES[origin]))
    answers: list[ExchangeAnswer] = []
    for exchange in sorted(pairs):
        for origin_role, answer_role in sorted(pairs[exchange]):
            for first, second in ((a, b), (b, a)) if a != b else ((a, a),):  # a product with itself: one direction
                answers.append(
                    _judge(
                        exchange,
                        f"{first.ref} -> {second.ref}",
                        _side(first, exchange, origin_role, suites, held(origin_role)),
                        _side(second, exchange, answer_role, suites, held(answer_role)),
                    )
                )
    return _combined({answer.answer for answer in answers if answer.answer is not Answer.NOT_COVERED}), answers


def _combined(states: set[Answer]) -> Answer:
    """Over covered answers: yes only when all are, no when any is, unknown otherwise (and when there are none)."""
    if Answer.NO in states:
        return Answer.NO
    return Answer.YES if states == {Answer.YES} else Answer.UNKNOWN


def per_exchange(answers: Sequence[ExchangeAnswer]) -> dict[str, Answer]:
    """One answer per exchange over its directions, as the overall one is made; ``not covered`` when none is."""
    found: dict[str, set[Answer]] = {}
    for answer in answers:
        found.setdefault(answer.exchange, set()).add(answer.answer)
    return {
        exchange: Answer.NOT_COVERED if states == {Answer.NOT_COVERED} else _combined(states - {Answer.NOT_COVERED})
        for exchange, states in found.items()
    }


def certificates(evidence: Evidence, suites: Sequence[SuiteVersion]) -> dict[Product, list[MatrixCell]]:
    """Per product, the certificates it holds or held (current, superseded, lapsed, withdrawn)."""
    products, _, cells = compatibility_matrix(evidence, suites)
    held: dict[Product, list[MatrixCell]] = {product: [] for product in products}
    for cell in cells:
        if cell.certificate is not None:
            held[cell.product].append(cell)
    return held


def matrix_document(evidence: Evidence, suites: Sequence[SuiteVersion]) -> dict[str, object]:
    """The matrix as one JSON document (``harness matrix --json``, ``GET /register/v1/matrix``)."""
    products, columns, cells = compatibility_matrix(evidence, suites)
    return {
        "products": [p.as_dict() | {"ref": p.ref} for p in products],
        "suites": [{"name": s.name, "version": s.version, "status": s.status} for s in columns],
        "cells": [cell.as_dict() for cell in cells],
        "left_out": [{"source": r.source, "reason": r.reason} for r in evidence.refusals],
    }


def exchange_document(a: Product, b: Product, overall: Answer, answers: Sequence[ExchangeAnswer]) -> dict[str, object]:
    """A can-exchange answer as one JSON document (``harness can-exchange --json``, ``GET .../can-exchange``)."""
    return {
        "a": a.ref,
        "b": b.ref,
        "answer": str(overall),
        "by_exchange": {name: str(answer) for name, answer in per_exchange(answers).items()},
        "exchanges": [x.as_dict() for x in answers if x.answer is not Answer.NOT_COVERED],
        "not_covered": [x.as_dict() for x in answers if x.answer is Answer.NOT_COVERED],
    }
