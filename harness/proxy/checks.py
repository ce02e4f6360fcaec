"""The checks of one forwarded exchange: the messages against their formats, the exchange against the binding
rules (``specs/README.md``) and the exchange tables of the specs.

The same judges as the suites: messages are validated by :func:`~harness.validation.validator.validator_for` (the
profile's rules, their severities in the document versions in force), problem documents against binding rule 3
as the ``problem`` check reads it, Locations as the ``headers`` check resolves them. What a suite knows from its
scenario (what it sent and why) the proxy learns from the request it saw: whether it was valid, its id, its
classification, its size and media type.

Rule ids of the findings (``docs/proxy.md``): a format's own rule (``IR-03``, ``CAP-04``, ``schema``, ...) when an
invalid message was accepted or an answer breaks its format; ``BR-2``..``BR-5`` for binding rules 2 to 5;
``EX-STATUS``, ``EX-REFUSED``, ``EX-CLASSIFICATION``, ``EX-LOCATION``, ``EX-ANSWER`` for the exchange tables.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import etree

from harness.catalog import Catalog
from harness.families.cap.message import read_header
from harness.families.edxl.rules import first_refused
from harness.families.esn.validation import sds_validator
from harness.families.intel_report.rendition import content_of
from harness.http import media_type
from harness.model import Finding, Format
from harness.profile import CAP_NS, DE_NS, PROBLEM_MEDIA_TYPE
from harness.recording.exchange import RecordedExchange
from harness.validation.jsonsafe import UnsafeJson, parse_json
from harness.validation.jsonschema import is_date_time
from harness.validation.validator import Validation, detect_format, validator_for
from harness.validation.xmlsafe import UnsafeXml, parse_xml

__all__ = ["KINDS", "ExchangeChecker", "ExchangeKind", "ProxyFinding", "kind_name", "kind_of", "kinds_for"]

MAX_BODY = 1 << 20
"""Binding rule 4: bodies up to 1 MiB are accepted, larger ones answered ``413``."""

PROBLEM_TYPES = {
    400: "invalid-message",
    404: "not-found",
    406: "not-acceptable",
    409: "conflict",
    413: "too-large",
    415: "unsupported-media-type",
    422: "classification-not-permitted",
}
"""Binding rule 3: the problem ``type`` suffix each refusal status stands for."""

INTEL_NOT_PERMITTED = frozenset({"SECRET", "TOP SECRET"})
EMSI_NOT_PERMITTED = frozenset({"CONFID", "SECRET", "TOPSRT"})


@dataclass(frozen=True, slots=True)
class ProxyFinding:
    """One nonconformity of one exchange: the rule broken, its severity, which message, where, and why."""

    rule: str
    message: str
    side: str = "answer"
    """``request``, ``answer`` or ``exchange`` (the pair, e.g. idempotency)."""
    location: str = ""
    severity: str = "error"


@dataclass(frozen=True, slots=True)
class ExchangeKind:
    """One row set of an exchange table: which requests it covers and what their answers may be."""

    name: str
    method: str
    path: re.Pattern[str]
    statuses: frozenset[int]
    accepted: int | None = None
    """The status of a valid, permitted message (None: a read, judged by ``statuses`` alone)."""
    request_formats: tuple[str, ...] = ()
    """Formats the request may be (by its media type); empty: the body is not judged here."""
    native_errors: bool = False
    """Refusals are messages of the standard (CAP Error), not problem documents."""
    idempotent: bool = False
    """Binding rule 5 is judged on this exchange (its table names re-sending and ``409``)."""
    resilience: bool = False
    """resilience.md applies (intel-report.md, queries.md, alerts.md exchanges): RR-03 judges load shedding."""
    should_within_ms: float | None = None
    """The answer SHOULD come within this (a warning past it: one answer cannot show a percentile)."""


def _kind(name: str, method: str, path: str, statuses: set[int], **options: Any) -> ExchangeKind:
    return ExchangeKind(name, method, re.compile(path + r"\Z"), frozenset(statuses), **options)


KINDS: tuple[ExchangeKind, ...] = (
    _kind(
        "intel-report submit", "POST", r"/netcode/v1/intel-reports/?", {202, 400, 409, 413, 415, 422},
        resilience=True,
        accepted=202, request_formats=("intel-report/1.0", "intel-report-xml/1.0"), idempotent=True,
        should_within_ms=1000,
    ),
    _kind("intel-report retrieve", "GET", r"/netcode/v1/intel-reports/[^/]+", {200, 404, 406}, resilience=True),
    _kind(
        "person query", "POST", r"/netcode/v1/queries/person", {200, 400, 413, 415},
        resilience=True,
        accepted=200, request_formats=("person-query/1.0",), should_within_ms=500,
    ),
    _kind(
        "vehicle query", "POST", r"/netcode/v1/queries/vehicle", {200, 400, 413, 415},
        resilience=True,
        accepted=200, request_formats=("vehicle-query/1.0",), should_within_ms=500,
    ),
    _kind(
        "cap alert", "POST", r"/netcode/v1/alerts", {202, 400, 409, 413, 415},
        resilience=True,
        accepted=202, request_formats=("cap/1.2",), native_errors=True, idempotent=True,
        should_within_ms=1000,
    ),
    _kind(
        "edxl-de distribution", "POST", r"/netcode/v1/distributions", {202, 400, 409, 413, 415, 422},
        resilience=True,
        accepted=202, request_formats=("edxl-de/1.0",), idempotent=True,
    ),
    _kind(
        "emsi incident", "POST", r"/netcode/v1/incidents", {202, 400, 404, 409, 413, 415, 422},
        resilience=True,
        accepted=202, request_formats=("emsi/1.0",), idempotent=True,
    ),
    # esn.md 1.1: a notification no record correlates is 404 (DSP-01), one that breaks the record's rules 409
    # (DSP-02..05); an SDS NOTIFICATION comes to /esn/sds, an FD NOTIFICATION to /esn/fd.
    _kind(
        "esn sds", "POST", r"/netcode/v1/esn/sds", {202, 400, 404, 409, 413, 415},
        accepted=202, request_formats=("mcdata-sds/1.0",),
    ),
    _kind("esn fd", "POST", r"/netcode/v1/esn/fd", {202, 400, 404, 409, 413, 415}),
    _kind("esn emergency alert", "POST", r"/netcode/v1/esn/emergency-alerts", {200, 202, 400, 413, 415}),
    _kind("esn location", "POST", r"/netcode/v1/esn/location-info", {202, 400, 413, 415}),
    _kind("esn floor", "POST", r"/netcode/v1/esn/floor/[^/]+", {202, 400, 404, 413, 415}),
    _kind("esn file upload", "POST", r"/netcode/v1/esn/files", {201, 400, 413, 415}, accepted=201),
    _kind("esn file download", "GET", r"/netcode/v1/esn/files/[^/]+", {200, 404}),
)  # fmt: skip
"""The exchanges of intel-report.md, queries.md, alerts.md and esn.md 1.1 (HTTP binding), as the proxy judges."""

ESN_1_1_ONLY = frozenset({"esn fd", "esn floor", "esn file upload", "esn file download"})
"""Exchanges esn.md 1.1 brought (file distribution, the content server, floor control): none in 1.0."""
KINDS_ESN_1_0: tuple[ExchangeKind, ...] = tuple(
    dataclasses.replace(kind, statuses=frozenset({202, 400, 413, 415})) if kind.name == "esn sds" else kind
    for kind in KINDS
    if kind.name not in ESN_1_1_ONLY
)
"""The tables as esn.md 1.0 has them (``--profile esn=1.0``): an SDS is answered 202, 400, 413 or 415."""


def kinds_for(catalog: Catalog) -> tuple[ExchangeKind, ...]:
    """The exchange tables of the esn document version ``catalog`` judges by (its current one by default)."""
    return KINDS_ESN_1_0 if dict(catalog.in_force).get("esn") == "1.0" else KINDS


TEST_HOOK = re.compile(r"/netcode/v1/_test(/|\Z)")


def kind_of(method: str, target: str, kinds: tuple[ExchangeKind, ...] = KINDS) -> ExchangeKind | None:
    """The exchange kind of a request (None: not an exchange of the tables: test hooks, other paths)."""
    path = target.split("?", 1)[0].split("#", 1)[0]
    if "://" in path:  # absolute-form target
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    if TEST_HOOK.match(path):
        return None
    return next((kind for kind in kinds if kind.method == method and kind.path.match(path)), None)


def kind_name(exchange: RecordedExchange) -> str:
    """The name results.json counts an exchange under."""
    kind = kind_of(exchange.method, exchange.target)
    if kind is not None:
        return kind.name
    path = exchange.target.split("?", 1)[0]
    return "test hook" if TEST_HOOK.match(path) else "other"


@dataclass(slots=True)
class _Seen:
    """What the checker learnt of a request."""

    fmt: Format | None = None
    validation: Validation | None = None
    message_id: str | None = None
    content: bytes | None = None
    refused_for: list[tuple[int, str]] = field(default_factory=list)
    """(status, why) the table requires instead of acceptance: 413 oversize, 415 media type, 400 invalid, 422."""


class ExchangeChecker:
    """Judges exchanges one after the other (idempotency needs their order); thread-safe by a lock.

    ``remember`` bounds the idempotency memory (message id -> content digest, answer status and digest): the
    oldest ids are forgotten first, so a re-send later than that many messages is not judged.
    """

    def __init__(self, catalog: Catalog, remember: int = 100_000) -> None:
        self.catalog = catalog
        self.kinds = kinds_for(catalog)
        self.formats = list(catalog.formats.values())
        self.remember = remember
        self._ids: OrderedDict[str, bytes] = OrderedDict()
        """kind NUL id -> content digest (16 bytes), answer status (2), answer digest (16): ~250 bytes an id."""
        self._refused: OrderedDict[str, str] = OrderedDict()
        """Report ids refused for their classification (``422``): a receiver must not serve them later."""
        self._lock = threading.Lock()

    def check(self, exchange: RecordedExchange) -> list[ProxyFinding]:
        """Every finding on ``exchange`` (empty: it conforms as far as the proxy can see)."""
        kind = kind_of(exchange.method, exchange.target, self.kinds)
        if kind is None:
            return []
        with self._lock:
            return list(self._check(kind, exchange))

    def _check(self, kind: ExchangeKind, exchange: RecordedExchange) -> Iterator[ProxyFinding]:
        status = exchange.answer_status
        if status == 0:
            return
        if status in (429, 503):  # load shed (resilience.md RR-03): the message is not judged, only the answer
            if exchange.header("Retry-After", answer=True) is None:
                rule = "RR-03" if kind.resilience else "EX-STATUS"
                yield ProxyFinding(rule, f"{kind.name} answered {status} without Retry-After", "answer")
            return
        seen = self._request(kind, exchange) if kind.accepted is not None else _Seen()
        if status == 500 and kind.resilience and seen.validation is not None and seen.validation.valid:
            yield ProxyFinding("RR-03", f"{kind.name} answered a well-formed message with 500", "answer")
        elif status not in kind.statuses:
            allowed = ", ".join(str(s) for s in sorted(kind.statuses))
            yield ProxyFinding("EX-STATUS", f"{kind.name} answered {status}; the exchange table allows {allowed}")
        if kind.should_within_ms is not None and 200 <= status < 300 and exchange.elapsed_ms > kind.should_within_ms:
            yield ProxyFinding(
                "EX-TIME",
                f"{kind.name} answered in {exchange.elapsed_ms:.0f} ms; the spec says within "
                f"{kind.should_within_ms:.0f} ms (SHOULD)",
                "exchange",
                severity="warning",
            )
        if kind.accepted is not None:
            yield from self._acceptance(kind, exchange, seen)
        if status >= 400:
            yield from self._refusal(kind, exchange, seen)
        elif 200 <= status < 300:
            yield from self._answer(kind, exchange, seen)
        if kind.idempotent and seen.message_id is not None and seen.content is not None:
            yield from self._idempotency(kind, exchange, seen)
        if kind.name == "intel-report submit" and status == 422 and seen.message_id is not None:
            self._refused[seen.message_id] = exchange.started
            if len(self._refused) > self.remember:
                self._refused.popitem(last=False)

    # -- the request --------------------------------------------------------------------------------------

    def _request(self, kind: ExchangeKind, exchange: RecordedExchange) -> _Seen:
        seen = _Seen()
        declared = exchange.header("Content-Length")
        size = len(exchange.request_body) + exchange.request_dropped
        if declared is not None and declared.strip().isdigit():
            size = max(size, int(declared.strip()))
        if size > MAX_BODY:
            seen.refused_for.append((413, f"a body of {size} bytes, over 1 MiB"))
            return seen
        if not kind.request_formats or not exchange.request_complete:
            return seen
        given = media_type(exchange.header("Content-Type"))
        candidates = [
            self.catalog.formats[fid]
            for fid in kind.request_formats
            if fid in self.catalog.formats and given in self.catalog.formats[fid].media_types
        ]
        if not candidates:
            seen.refused_for.append((415, f"a body of media type {given or 'none'}"))
            return seen
        fmt = candidates[0] if len(candidates) == 1 else detect_format(candidates, exchange.request_body)
        fmt = fmt or candidates[0]
        seen.fmt = fmt
        if fmt.syntax == "multipart":
            validation = sds_validator(fmt).validate(exchange.header("Content-Type") or "", exchange.request_body)
        else:
            validation = validator_for(fmt).validate(exchange.request_body)
        seen.validation = validation
        if not validation.valid:
            seen.refused_for.append((400, "an invalid message"))
            return seen
        refused = _classification_refused(kind, exchange.request_body, validation)
        if refused:
            seen.refused_for.append((422, f"a message classified {refused}"))
        if kind.idempotent:  # only these compare content; a query's id is read from its model where needed
            seen.message_id, seen.content = _identity(kind, exchange.request_body, validation)
        return seen

    def _acceptance(self, kind: ExchangeKind, exchange: RecordedExchange, seen: _Seen) -> Iterator[ProxyFinding]:
        status = exchange.answer_status
        if 200 <= status < 300:
            for wanted, why in seen.refused_for:
                if wanted == 400 and seen.validation is not None:
                    for finding in seen.validation.findings[:20]:
                        yield ProxyFinding(
                            finding.rule,
                            f"{kind.name} accepted ({status}) {why}: {finding.message}",
                            "request",
                            finding.location,
                        )
                else:
                    rule = {413: "BR-4", 415: "BR-2", 422: "EX-CLASSIFICATION"}[wanted]
                    yield ProxyFinding(rule, f"{kind.name} accepted ({status}) {why}; the table says {wanted}")
        elif status >= 400 and status != 409:
            for wanted, why in seen.refused_for:
                if wanted in (413, 415) and status != wanted:
                    rule = "BR-4" if wanted == 413 else "BR-2"
                    yield ProxyFinding(rule, f"{kind.name} answered {why} with {status}; the binding says {wanted}")
        if status in (400, 413, 415, 422) and status not in {wanted for wanted, _ in seen.refused_for}:
            why = _refused_wrongly(kind, status, seen, exchange)
            if why:
                yield ProxyFinding(
                    "EX-REFUSED", f"{kind.name} refused {why} with {status}; the table wants {kind.accepted}"
                )

    # -- refusals ---------------------------------------------------------------------------------------

    def _refusal(self, kind: ExchangeKind, exchange: RecordedExchange, seen: _Seen) -> Iterator[ProxyFinding]:
        given = media_type(exchange.header("Content-Type", answer=True))
        if kind.native_errors and given in ("application/common-alerting-protocol+xml", "application/xml"):
            yield from _cap_error(exchange, seen)
            return
        yield from _problem(exchange, seen)

    # -- accepted answers -------------------------------------------------------------------------------

    def _answer(self, kind: ExchangeKind, exchange: RecordedExchange, seen: _Seen) -> Iterator[ProxyFinding]:
        name = kind.name
        if name == "intel-report submit":
            yield from self._intel_ack(exchange, seen)
        elif name == "intel-report retrieve":
            yield from self._retrieved(exchange)
        elif name in ("person query", "vehicle query"):
            result = "person-result/1.0" if name == "person query" else "vehicle-result/1.0"
            validation = yield from self._validated(exchange, result)
            query = seen.validation.model if seen.validation is not None else None
            answer = validation.model if validation is not None else None
            if query is not None and answer is not None and answer.get("queryId") != query.get("queryId"):
                yield ProxyFinding("EX-ANSWER", "the result does not echo the queryId", location="/queryId")
        elif name == "cap alert":
            yield from self._cap_answer(exchange, seen, "Ack")
        elif name == "edxl-de distribution":
            yield from self._edxl_ack(exchange)
        elif name == "emsi incident":
            validation = yield from self._validated(exchange, "emsi/1.0")
            model = validation.model if validation is not None else None
            context = model.get("CONTEXT") if model else None
            if isinstance(context, dict) and context.get("MSGTYPE") != "ACK":
                yield ProxyFinding("EX-ANSWER", "an accepted EMSI message is answered with an ACK", location="/CONTEXT")
        elif name == "esn emergency alert" and not _alert_received(exchange.answer_body):
            yield ProxyFinding("EX-ANSWER", "an emergency alert or cancel is answered with alert-ind-rcvd true")
        elif name == "esn file upload":
            location = exchange.header("Location", answer=True)
            if not location or "://" not in location:
                yield ProxyFinding("EX-LOCATION", f"201 without an absolute Location (got {location!r})")

    def _validated(
        self, exchange: RecordedExchange, format_id: str
    ) -> Generator[ProxyFinding, None, Validation | None]:
        """Findings of the answer body as ``format_id``; returns its validation (None when unusable)."""
        fmt = self.catalog.formats.get(format_id)
        if fmt is None or exchange.answer_dropped:
            return None
        validation = validator_for(fmt).validate(exchange.answer_body)
        for finding in validation.findings[:20]:
            yield _answer_finding(fmt, finding)
        return validation

    def _intel_ack(self, exchange: RecordedExchange, seen: _Seen) -> Iterator[ProxyFinding]:
        given = media_type(exchange.header("Content-Type", answer=True))
        if given != "application/json":
            yield ProxyFinding("EX-ANSWER", f"the ack is application/json, not {given or 'untyped'}")
        try:
            ack = parse_json(exchange.answer_body)
        except UnsafeJson as exc:
            yield ProxyFinding("EX-ANSWER", f"the ack is not JSON: {exc}")
            return
        report_id = seen.message_id
        if not isinstance(ack, dict):
            yield ProxyFinding("EX-ANSWER", "the ack is a JSON object")
            return
        if report_id is not None and ack.get("reportId") != report_id:
            yield ProxyFinding("EX-ANSWER", f"the ack names reportId {ack.get('reportId')!r}", location="/reportId")
        if ack.get("status") != "accepted":
            yield ProxyFinding("EX-ANSWER", f"the ack's status is {ack.get('status')!r}", location="/status")
        if not (isinstance(ack.get("receivedAt"), str) and is_date_time(ack["receivedAt"])):
            yield ProxyFinding("EX-ANSWER", "the ack's receivedAt is an RFC 3339 timestamp", location="/receivedAt")
        location = exchange.header("Location", answer=True)
        if report_id is not None:
            path = f"/netcode/v1/intel-reports/{report_id}"
            if location is None:
                yield ProxyFinding("EX-LOCATION", f"202 without a Location naming {path}")
            elif not _location_names(location, exchange, path):
                yield ProxyFinding("EX-LOCATION", f"Location {location!r} does not name {path}")

    def _retrieved(self, exchange: RecordedExchange) -> Iterator[ProxyFinding]:
        """intel-report.md, retrieve: the stored report in the rendition ``Accept`` names (``application/xml``
        and ``application/json`` are aliases, ``*/*`` gives JSON)."""
        accept = (exchange.header("Accept") or "*/*").lower()
        given = media_type(exchange.header("Content-Type", answer=True))
        wants_xml = any(t in accept for t in ("application/vnd.netcode.intel-report+xml", "application/xml"))
        wants_json = any(t in accept for t in ("application/vnd.netcode.intel-report+json", "application/json", "*/*"))
        if wants_xml and not wants_json:
            rendition, types = "intel-report-xml/1.0", ("application/vnd.netcode.intel-report+xml", "application/xml")
        elif wants_json and not wants_xml:
            rendition, types = "intel-report/1.0", ("application/vnd.netcode.intel-report+json", "application/json")
        else:  # both named: either rendition answers
            rendition = "intel-report-xml/1.0" if given.endswith("xml") else "intel-report/1.0"
            types = (given, given)
        if given not in types:
            yield ProxyFinding(
                "EX-ANSWER", f"Accept {accept!r} asked for {rendition}; the answer is {given or 'untyped'}"
            )
            return
        report_id = exchange.target.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        if report_id in self._refused:
            yield ProxyFinding("EX-CLASSIFICATION", f"report {report_id} was refused (422) and is served all the same")
        validation = yield from self._validated(exchange, rendition)
        held = self._ids.get(f"intel-report submit\x00{report_id}")
        model = validation.model if validation is not None else None
        if model is not None and held is not None and _digest(_canonical_json(content_of(model))) != held[:16]:
            yield ProxyFinding("EX-ANSWER", f"report {report_id} is served with other content than was submitted")

    def _cap_answer(self, exchange: RecordedExchange, seen: _Seen, msg_type: str) -> Iterator[ProxyFinding]:
        validation = yield from self._validated(exchange, "cap/1.2")
        if validation is None or not validation.valid:
            return
        try:
            root = parse_xml(exchange.answer_body)
        except UnsafeXml:
            return
        header = read_header(root)
        kind = root.findtext(f"{{{CAP_NS}}}msgType")
        if kind != msg_type:
            yield ProxyFinding(
                "EX-ANSWER", f"a CAP {msg_type} is expected, not {kind}", location="/cap:alert/cap:msgType"
            )
        original = _cap_reference(exchange.request_body) if seen.validation is not None else None
        references = (header.references or "").split() if header is not None else []
        if original and original not in references:
            yield ProxyFinding(
                "EX-ANSWER", f"the {msg_type} does not reference {original}", location="/cap:alert/cap:references"
            )

    def _edxl_ack(self, exchange: RecordedExchange) -> Iterator[ProxyFinding]:
        validation = yield from self._validated(exchange, "edxl-de/1.0")
        if validation is None or not validation.valid:
            return
        try:
            root, sent = parse_xml(exchange.answer_body), parse_xml(exchange.request_body)
        except UnsafeXml:
            return
        if root.findtext(f"{{{DE_NS}}}distributionType") != "Ack":
            yield ProxyFinding("EX-ANSWER", "an accepted distribution is answered with an Ack envelope")
        wanted = ",".join(
            sent.findtext(f"{{{DE_NS}}}{n}") or "" for n in ("distributionID", "senderID", "dateTimeSent")
        )
        if (root.findtext(f"{{{DE_NS}}}distributionReference") or "").strip() != wanted:
            yield ProxyFinding("EX-ANSWER", f"the Ack's distributionReference is not {wanted}")

    # -- binding rule 5 ---------------------------------------------------------------------------------

    def _idempotency(self, kind: ExchangeKind, exchange: RecordedExchange, seen: _Seen) -> Iterator[ProxyFinding]:
        assert seen.message_id is not None and seen.content is not None
        key = f"{kind.name}\x00{seen.message_id}"
        digest = _digest(seen.content)
        status = exchange.answer_status
        answer = status.to_bytes(2, "big") + _answer_digest(exchange)
        held = self._ids.get(key)
        if held is None:
            if 200 <= status < 300:
                self._ids[key] = digest + answer
                if len(self._ids) > self.remember:
                    self._ids.popitem(last=False)
            return
        self._ids.move_to_end(key)
        if held[:16] == digest:
            if held[16:] != answer:
                first = int.from_bytes(held[16:18], "big")
                yield ProxyFinding(
                    "BR-5",
                    f"{seen.message_id} re-sent unchanged got {status} and another answer than the first time "
                    f"({first})",
                    "exchange",
                )
        elif status != 409:
            yield ProxyFinding(
                "BR-5", f"{seen.message_id} re-used with other content got {status}, not 409", "exchange"
            )


# -- helpers ------------------------------------------------------------------------------------------------


def _answer_finding(fmt: Format, finding: Finding) -> ProxyFinding:
    return ProxyFinding(
        finding.rule, f"the answer is not valid {fmt.id}: {finding.message}", "answer", finding.location
    )


def _problem(exchange: RecordedExchange, seen: _Seen) -> Iterator[ProxyFinding]:
    """Binding rule 3 on a refusal: an RFC 9457 problem, its type, status and (for an invalid message) errors."""
    status = exchange.answer_status
    given = media_type(exchange.header("Content-Type", answer=True))
    if given != PROBLEM_MEDIA_TYPE:
        yield ProxyFinding("BR-3", f"a {status} refusal is {PROBLEM_MEDIA_TYPE}, not {given or 'untyped'}")
        return
    try:
        document = parse_json(exchange.answer_body)
    except UnsafeJson as exc:
        yield ProxyFinding("BR-3", f"the problem document is not JSON: {exc}")
        return
    if not isinstance(document, dict):
        yield ProxyFinding("BR-3", "the problem document is a JSON object")
        return
    for member, member_type in (("type", str), ("title", str), ("status", int)):
        if not isinstance(document.get(member), member_type):
            yield ProxyFinding("BR-3", f"the problem lacks {member} ({member_type.__name__})", location=f"/{member}")
    if isinstance(document.get("status"), int) and document["status"] != status:
        yield ProxyFinding("BR-3", f"the problem's status {document['status']} is not the HTTP status {status}")
    suffix = PROBLEM_TYPES.get(status)
    kind = document.get("type")
    if suffix and isinstance(kind, str) and not kind.endswith("/" + suffix):
        yield ProxyFinding("BR-3", f"a {status} problem's type ends with /{suffix}, not {kind!r}", location="/type")
    if status == 400:
        yield from _errors_listed(document.get("errors"), seen)


def _errors_listed(errors: Any, seen: _Seen) -> Iterator[ProxyFinding]:
    if not isinstance(errors, list) or not errors:
        yield ProxyFinding(
            "BR-3", "an invalid-message problem lists its errors (a non-empty array)", location="/errors"
        )
        return
    named: set[str] = set()
    for index, error in enumerate(errors):
        if not isinstance(error, dict) or not all(
            isinstance(error.get(k), str) for k in ("location", "rule", "message")
        ):
            yield ProxyFinding("BR-3", "each error is {location, rule, message}", location=f"/errors/{index}")
            continue
        named.add(error["rule"])
    yield from _rules_named(named, seen, "/errors")
    yield from _content_located(errors, seen)


def _content_located(errors: list[Any], seen: _Seen) -> Iterator[ProxyFinding]:
    """The errors locate the failing part as the specs ask: the n-th content object of an EDXL-DE envelope when
    the message inside one fails (alerts.md; any XPath to it names ``contentObject``), the part and the octet of
    a binary MCData part (esn.md; ``/part/N/octet/K``)."""
    broken = seen.validation.findings if seen.validation is not None else ()
    locations = [str(error.get("location", "")) for error in errors if isinstance(error, dict)]
    for marker, what in (("contentObject", "content object"), ("/octet/", "part and octet")):
        if any(marker in finding.location for finding in broken) and not any(marker in at for at in locations):
            yield ProxyFinding("BR-3", f"the errors do not locate the {what} that fails", location="/errors")


def _rules_named(named: set[str], seen: _Seen, where: str) -> Iterator[ProxyFinding]:
    """Each rule the message broke is named: none of them is an error, some missing a warning (the specs make
    the complete list a SHOULD)."""
    broken = sorted(seen.validation.rules) if seen.validation is not None and not seen.validation.valid else []
    missing = [rule for rule in broken if rule not in named]
    if broken and len(missing) == len(broken):
        yield ProxyFinding("BR-3", f"the refusal names none of the rules broken ({', '.join(broken)})", location=where)
    elif missing:
        yield ProxyFinding(
            "BR-3", f"the refusal does not name {', '.join(missing)}", location=where, severity="warning"
        )


def _cap_error(exchange: RecordedExchange, seen: _Seen) -> Iterator[ProxyFinding]:
    """A CAP refusal: a valid CAP ``Error`` alert whose ``note`` names the rules broken."""
    try:
        root = parse_xml(exchange.answer_body)
    except UnsafeXml as exc:
        yield ProxyFinding("BR-3", f"the CAP Error is not usable XML: {exc}")
        return
    if root.tag != f"{{{CAP_NS}}}alert" or root.findtext(f"{{{CAP_NS}}}msgType") != "Error":
        yield ProxyFinding("BR-3", "a CAP refusal is a CAP alert of msgType Error")
        return
    if exchange.answer_status == 400:
        note = root.findtext(f"{{{CAP_NS}}}note") or ""
        named = {rule for rule in re.findall(r"[A-Za-z]+-\d+|schema", note)}
        yield from _rules_named(named, seen, "/cap:alert/cap:note")


def _cap_reference(body: bytes) -> str | None:
    try:
        header = read_header(parse_xml(body))
    except UnsafeXml:
        return None
    return header.reference if header is not None else None


def _refused_wrongly(kind: ExchangeKind, status: int, seen: _Seen, exchange: RecordedExchange) -> str:
    """What was refused for no reason the proxy can see ("" when the refusal may stand)."""
    if status == 413:
        return "a body within 1 MiB"
    if status == 415 and seen.fmt is not None:
        return f"a body of an accepted media type ({seen.fmt.id})"
    if kind.name.startswith("esn") and _names_esn_rule(exchange):
        return ""  # ESN rules on headers (Netcode-Reply-To, ESN-03) are judged by the receiver, not the validator
    valid = seen.validation is not None and seen.validation.valid
    if valid and status in (400, 422):
        return "a valid message" + (" of a permitted classification" if status == 422 else "")
    return ""


def _location_names(location: str, exchange: RecordedExchange, path: str) -> bool:
    """Whether ``location`` (relative or absolute, resolved against the request's URL) names ``path`` on the
    upstream, or on the host the client addressed (its ``Host``: behind a proxy a supplier may name either)."""
    try:
        resolved = urlsplit(urljoin(exchange.url, location.strip()))
    except ValueError:
        return False
    hosts = {urlsplit(exchange.url).netloc, (exchange.header("Host") or "").strip()}
    return resolved.path == path and resolved.netloc in hosts and not resolved.query and not resolved.fragment


def _names_esn_rule(exchange: RecordedExchange) -> bool:
    """Whether a refusal's problem names an ``ESN-..`` rule (one the message validator does not judge)."""
    try:
        document = parse_json(exchange.answer_body)
    except UnsafeJson:
        return False
    errors = document.get("errors") if isinstance(document, dict) else None
    return any(isinstance(error, dict) and str(error.get("rule", "")).startswith("ESN-") for error in errors or [])


def _alert_received(body: bytes) -> bool:
    """Whether an mcptt-info carries ``alert-ind-rcvd`` true (esn.md, exchange 3)."""
    try:
        root = parse_xml(body)
    except UnsafeXml:
        return False
    return any(
        isinstance(element.tag, str)
        and etree.QName(element).localname == "alert-ind-rcvd"
        and (element.text or "").strip() == "true"
        for element in root.iter()
    )


def _classification_refused(kind: ExchangeKind, body: bytes, validation: Validation) -> str | None:
    """The marking that may not travel (the tables' ``422``), or None."""
    model = validation.model
    if kind.name == "intel-report submit" and model is not None:
        marking = model.get("classification")
        return str(marking) if marking in INTEL_NOT_PERMITTED else None
    if kind.name == "emsi incident" and model is not None:
        context = model.get("CONTEXT")
        marking = str(context.get("SECLASS", "")) if isinstance(context, dict) else ""
        return marking if marking in EMSI_NOT_PERMITTED else None
    if kind.name == "edxl-de distribution":
        try:
            refused = first_refused(parse_xml(body))
        except UnsafeXml:
            return None
        return refused.text if refused is not None else None
    return None


def _identity(kind: ExchangeKind, body: bytes, validation: Validation) -> tuple[str | None, bytes | None]:
    """(message id, content as compared for binding rule 5) of a valid message, as the reference compares it."""
    model = validation.model
    if kind.name == "intel-report submit" and model is not None:
        return str(model.get("reportId")), _canonical_json(content_of(model))
    if kind.name == "emsi incident" and model is not None:
        context = model.get("CONTEXT")
        message_id = context.get("ID") if isinstance(context, dict) else None
        return (str(message_id) if message_id is not None else None), _canonical_json(model)
    if kind.name in ("person query", "vehicle query") and model is not None:
        return str(model.get("queryId")), _canonical_json(model)
    if kind.name in ("cap alert", "edxl-de distribution"):
        try:
            root = parse_xml(body)
        except UnsafeXml:
            return None, None
        if kind.name == "cap alert":
            header = read_header(root)
            if header is None or not header.identifier:
                return None, None
            return f"{header.sender},{header.identifier}", canonical(root)
        ids = (root.findtext(f"{{{DE_NS}}}senderID") or "", root.findtext(f"{{{DE_NS}}}distributionID") or "")
        return ",".join(ids), canonical(root)
    return None, None


def canonical(root: etree._Element) -> bytes:
    """An XML document's content as the reference alert hub compares it for binding rule 5: C14N 2.0, no
    comments, text trimmed (``harness.endpoints.alert_hub.canonical``; not imported, to keep the proxy free of
    the aiohttp server)."""
    text: bytes = etree.tostring(root, method="c14n2", strip_text=True, with_comments=False)  # type: ignore[call-overload]
    return text


def _digest(data: bytes) -> bytes:
    """128 bits of SHA-256: enough to tell contents apart, half the memory per remembered id."""
    return hashlib.sha256(data).digest()[:16]


def _canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _answer_digest(exchange: RecordedExchange) -> bytes:
    """The answer as compared between an original and its re-send: JSON by value, XML in C14N, else the bytes."""
    body = exchange.answer_body
    given = media_type(exchange.header("Content-Type", answer=True))
    try:
        if given.endswith("json"):
            body = _canonical_json(parse_json(body))
        elif given.endswith("xml"):
            body = canonical(parse_xml(body))
    except (UnsafeJson, UnsafeXml, etree.Error):
        pass
    return _digest(body)


ExchangeHandler = Callable[[RecordedExchange], list[ProxyFinding]]
