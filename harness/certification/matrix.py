"""The compatibility matrix and can-exchange, as pure functions over verified run records.

Only records with ``verified`` set count; the latest record (by ``finished``) of a
product and suite version is its standing for that suite version.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from harness.certification.records import Product, VerifiedRunRecord
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
    "latest_records",
    "products_of",
]


class CellStatus(enum.StrEnum):
    CERTIFIED = "certified"
    NOT_CERTIFIED = "not certified"
    SUPERSEDED = "superseded"
    LAPSED = "lapsed"
    NEVER_RUN = "never run"


@dataclass(slots=True, frozen=True)
class MatrixCell:
    product: Product
    suite: str
    version: str
    status: CellStatus
    bundle: str | None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "product": self.product.ref,
            "suite": self.suite,
            "version": self.version,
            "status": str(self.status),
            "bundle": self.bundle,
        }


def latest_records(records: Iterable[VerifiedRunRecord]) -> dict[tuple[Product, str, str], VerifiedRunRecord]:
    """The latest verified record per (product, suite, suite version); unverified records never count."""
    latest: dict[tuple[Product, str, str], VerifiedRunRecord] = {}
    for record in records:
        if not record.verified:
            continue
        key = (record.product, record.suite, record.suite_version)
        held = latest.get(key)
        if held is None or (record.finished, record.bundle) > (held.finished, held.bundle):
            latest[key] = record
    return latest


def products_of(records: Iterable[VerifiedRunRecord]) -> list[Product]:
    return sorted({record.product for record in records if record.verified})


def _status(record: VerifiedRunRecord | None, life: str) -> CellStatus:
    if record is None:
        return CellStatus.NEVER_RUN
    if not record.certified:
        return CellStatus.NOT_CERTIFIED
    if life == "retired":
        return CellStatus.LAPSED
    if life == "superseded":
        return CellStatus.SUPERSEDED
    return CellStatus.CERTIFIED


def compatibility_matrix(
    records: Sequence[VerifiedRunRecord], suites: Sequence[SuiteVersion]
) -> tuple[list[Product], list[SuiteVersion], list[MatrixCell]]:
    """Products (rows) against suite versions (columns), each cell the latest verified verdict.

    A suite version that evidence names but the catalog does not know is added
    as a column (status taken from the record).
    """
    latest = latest_records(records)
    columns = list(suites)
    known = {(s.name, s.version) for s in columns}
    for record in latest.values():
        if (record.suite, record.suite_version) not in known:
            known.add((record.suite, record.suite_version))
            columns.append(SuiteVersion(record.suite, record.suite_version, record.suite, record.status, ()))
    columns.sort(key=lambda s: (s.name, version_key(s.version)))
    products = products_of(records)
    cells = []
    for product in products:
        for column in columns:
            found = latest.get((product, column.name, column.version))
            status = _status(found, column.status)
            cells.append(MatrixCell(product, column.name, column.version, status, found.bundle if found else None))
    return products, columns, cells


class Answer(enum.StrEnum):
    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


class Side(enum.StrEnum):
    """What the evidence says about one side (role) of an exchange for one product."""

    CERTIFIED = "certified"
    FAILED = "failed"
    LAPSED = "lapsed"
    NEVER_RUN = "never run"
    NOT_CERTIFIABLE = "not certifiable"
    """No suite version of the catalog certifies this role."""


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


def _side(
    product: Product,
    exchange: str,
    role: str,
    suites: Sequence[SuiteVersion],
    latest: dict[tuple[Product, str, str], VerifiedRunRecord],
) -> SideEvidence:
    relevant = [(s, c) for s in suites for c in s.certifies if c.exchange == exchange and c.role == role]
    if not relevant:
        return SideEvidence(role, Side.NOT_CERTIFIABLE, frozenset(), ())
    certified: set[tuple[str, str]] = set()
    evidence: list[str] = []
    failed = lapsed = False
    for suite, entry in relevant:
        record = latest.get((product, suite.name, suite.version))
        if record is None:
            continue
        status = _status(record, suite.status)
        if status in (CellStatus.CERTIFIED, CellStatus.SUPERSEDED):
            certified.add(entry.document_family)
            evidence.append(f"{suite.ref} certified ({record.bundle})")
        elif status is CellStatus.LAPSED:
            lapsed = True
            evidence.append(f"{suite.ref} lapsed ({record.bundle})")
        else:
            failed = True
            missed = ", ".join(record.failed_scenarios()) or "not certified"
            evidence.append(f"{suite.ref} not certified: {missed} ({record.bundle})")
    if certified:
        return SideEvidence(role, Side.CERTIFIED, frozenset(certified), tuple(evidence))
    if failed:
        return SideEvidence(role, Side.FAILED, frozenset(), tuple(evidence))
    return SideEvidence(role, Side.LAPSED if lapsed else Side.NEVER_RUN, frozenset(), tuple(evidence))


def _describe(side: SideEvidence) -> str:
    return f"{side.role} {side.side}"


def _judge(exchange: str, direction: str, origin: SideEvidence, answer: SideEvidence) -> ExchangeAnswer:
    evidence = origin.evidence + answer.evidence
    detail = f"{_describe(answer)}, {_describe(origin)}"
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
    failed = (origin.side is Side.FAILED, answer.side is Side.FAILED)
    if any(failed):
        reason = Reason.BOTH_FAILED if all(failed) else (Reason.SENDER_FAILED if failed[0] else Reason.RECEIVER_FAILED)
        return ExchangeAnswer(exchange, direction, Answer.NO, reason, detail, evidence)
    unknown = (origin.side is not Side.CERTIFIED, answer.side is not Side.CERTIFIED)
    reason = Reason.BOTH_UNKNOWN if all(unknown) else (Reason.SENDER_UNKNOWN if unknown[0] else Reason.RECEIVER_UNKNOWN)
    return ExchangeAnswer(exchange, direction, Answer.UNKNOWN, reason, detail, evidence)


def can_exchange(
    a: Product, b: Product, records: Sequence[VerifiedRunRecord], suites: Sequence[SuiteVersion]
) -> tuple[Answer, list[ExchangeAnswer]]:
    """For every exchange of the profile and both directions: can A and B interoperate, on the evidence?

    ``yes`` needs the originating side (sender or requester) of one and the
    answering side (receiver or responder) of the other certified on documents
    of the same name and major version; ``no`` means a side's latest verified
    evidence failed (or the documents are incompatible); ``unknown`` means
    there is no such evidence. The overall answer is ``yes`` only when every
    answer is, ``no`` when any is, ``unknown`` otherwise.
    """
    latest = latest_records(records)
    pairs: dict[str, set[tuple[str, str]]] = {}
    for suite in suites:
        for entry in suite.certifies:
            origin = entry.role if entry.role in ORIGINATING else SIDES[entry.role]
            pairs.setdefault(entry.exchange, set()).add((origin, SIDES[origin]))
    answers: list[ExchangeAnswer] = []
    for exchange in sorted(pairs):
        for origin_role, answer_role in sorted(pairs[exchange]):
            for first, second in ((a, b), (b, a)):
                answers.append(
                    _judge(
                        exchange,
                        f"{first.ref} -> {second.ref}",
                        _side(first, exchange, origin_role, suites, latest),
                        _side(second, exchange, answer_role, suites, latest),
                    )
                )
    states = {answer.answer for answer in answers}
    if not answers or Answer.NO in states:
        overall = Answer.NO if answers else Answer.UNKNOWN
    elif states == {Answer.YES}:
        overall = Answer.YES
    else:
        overall = Answer.UNKNOWN
    return overall, answers


def certificates(
    records: Sequence[VerifiedRunRecord], suites: Sequence[SuiteVersion]
) -> dict[Product, list[MatrixCell]]:
    """Per product, the suite versions it holds (certified, superseded or lapsed), from verified records only."""
    products, _, cells = compatibility_matrix(records, suites)
    held: dict[Product, list[MatrixCell]] = {product: [] for product in products}
    for cell in cells:
        if cell.status in (CellStatus.CERTIFIED, CellStatus.SUPERSEDED, CellStatus.LAPSED):
            held[cell.product].append(cell)
    return held
