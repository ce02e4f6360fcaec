"""Conformance checks on one response; each explains a mismatch as (field, expected, actual).

A check is a function registered with :func:`check` under the key that names
it in scenario files (``status``, ``headers``, ``json``, ``problem``, ...).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import etree

from harness.codecs.mcdata import CodecError, NotificationType, SdsNotification, SdsSignalling, decode
from harness.codecs.multipart import MultipartError, Sds, parse_sds
from harness.http import media_type
from harness.model import ConfigurationError, Format
from harness.renditions import family
from harness.rules.queries import expected_person_result, expected_vehicle_result
from harness.runner.context import NOTIFICATION_TYPES, Message, ScenarioContext, is_missing, resolve_pointer
from harness.transport import Response
from harness.validation.binary import sds_validator
from harness.validation.jsonsafe import UnsafeJson, parse_json
from harness.validation.jsonschema import is_date_time
from harness.validation.validator import Validation, sample_findings, validator_for
from harness.validation.xmlsafe import UnsafeXml, parse_xml

__all__ = ["CHECKS", "CheckContext", "Mismatch", "check"]

PROBLEM_MEDIA_TYPE = "application/problem+json"


@dataclass(slots=True, frozen=True)
class Mismatch:
    field: str
    expected: Any
    actual: Any
    message: str


@dataclass
class CheckContext:
    response: Response
    scenario: ScenarioContext
    sent: Message | None
    _json: Any = None
    _json_error: str | None = None
    _parsed: bool = False

    def json(self) -> tuple[Any, str | None]:
        """The response body as JSON, or the reason it is not JSON."""
        if not self._parsed:
            self._parsed = True
            try:
                self._json = parse_json(self.response.body)
            except UnsafeJson as exc:
                self._json_error = str(exc)
        return self._json, self._json_error


CheckFunction = Callable[[Any, CheckContext], Iterator[Mismatch]]
CHECKS: dict[str, CheckFunction] = {}


def check(name: str) -> Callable[[CheckFunction], CheckFunction]:
    def register(function: CheckFunction) -> CheckFunction:
        CHECKS[name] = function
        return function

    return register


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@check("status")
def status_is(expected: Any, ctx: CheckContext) -> Iterator[Mismatch]:
    allowed = _as_list(expected)
    if ctx.response.status not in allowed:
        wanted = allowed[0] if len(allowed) == 1 else allowed
        yield Mismatch("status", wanted, ctx.response.status, f"HTTP status {ctx.response.status}, expected {wanted}")


@check("media_type")
def media_type_is(expected: Any, ctx: CheckContext) -> Iterator[Mismatch]:
    allowed = [str(m).lower() for m in _as_list(expected)]
    actual = media_type(ctx.response.header("Content-Type"))
    if actual not in allowed:
        wanted = allowed[0] if len(allowed) == 1 else allowed
        yield Mismatch("header Content-Type", wanted, actual or None, f"Content-Type {actual or 'missing'}")


@check("headers")
def headers_are(expected: dict[str, Any], ctx: CheckContext) -> Iterator[Mismatch]:
    for name, spec in expected.items():
        field = f"header {name}"
        actual = ctx.response.header(name)
        spec = ctx.scenario.expand(spec)
        if isinstance(spec, dict) and "present" in spec:
            if bool(spec["present"]) != (actual is not None):
                yield Mismatch(field, "present" if spec["present"] else "absent", actual, f"{name} presence")
            continue
        if actual is None:
            yield Mismatch(field, spec, None, f"response has no {name} header")
        elif isinstance(spec, dict) and "path" in spec:
            # A Location may be relative or absolute: compare what it resolves to.
            resolved = urlsplit(urljoin(ctx.response.url or ctx.scenario.target, actual))
            target = urlsplit(ctx.scenario.target)
            if resolved.path != spec["path"] or (resolved.netloc and resolved.netloc != target.netloc):
                yield Mismatch(field, spec["path"], actual, f"{name} does not name {spec['path']}")
        elif isinstance(spec, dict) and "media_type" in spec:
            if media_type(actual) != str(spec["media_type"]).lower():
                yield Mismatch(field, spec["media_type"], actual, f"{name} names another media type")
        elif actual != str(spec):
            yield Mismatch(field, spec, actual, f"{name} differs")


def _json_body(ctx: CheckContext, field: str) -> Iterator[Mismatch]:
    _, error = ctx.json()
    if error is not None:
        yield Mismatch(field, "a JSON body", _preview(ctx.response.body), f"body is not JSON: {error}")


def _json_object(ctx: CheckContext, what: str) -> tuple[dict[str, Any] | None, list[Mismatch]]:
    """The body as a JSON object, or None and the mismatches that say why it is not one."""
    errors = list(_json_body(ctx, "body"))
    if errors:
        return None, errors
    document, _ = ctx.json()
    if not isinstance(document, dict):
        return None, [Mismatch("body", "a JSON object", type(document).__name__, f"{what} is a JSON object")]
    return document, []


def _preview(body: bytes, limit: int = 200) -> str:
    text = body[:limit].decode("utf-8", "replace")
    return text + ("…" if len(body) > limit else "")


def _matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict) and len(expected) == 1:
        ((kind, value),) = expected.items()
        if kind == "date_time":
            return isinstance(actual, str) and is_date_time(actual) == bool(value)
        if kind == "type":
            names = {"string": str, "object": dict, "array": list, "boolean": bool, "number": (int, float)}
            return isinstance(actual, names[str(value)])  # type: ignore[arg-type]
        if kind == "non_empty":
            return bool(actual) == bool(value)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    return bool(expected == actual)


@check("json")
def json_members(expected: dict[str, Any], ctx: CheckContext) -> Iterator[Mismatch]:
    """Members of a JSON body by pointer: key order and extra members never matter."""
    errors = list(_json_body(ctx, "body"))
    if errors:
        yield from errors
        return
    document, _ = ctx.json()
    for pointer, spec in expected.items():
        spec = ctx.scenario.expand(spec)
        actual = resolve_pointer(document, pointer)
        if isinstance(spec, dict) and spec.get("present") is False:
            if not is_missing(actual):
                yield Mismatch(f"body {pointer}", "absent", actual, f"{pointer} must be absent")
        elif is_missing(actual):
            yield Mismatch(f"body {pointer}", spec, None, f"body has no member {pointer}")
        elif not _matches(spec, actual):
            yield Mismatch(f"body {pointer}", spec, actual, f"{pointer} differs")


@check("problem")
def problem_document(expected: dict[str, Any], ctx: CheckContext) -> Iterator[Mismatch]:
    """An RFC 9457 problem as the profile's binding rule 3 requires."""
    actual_type = media_type(ctx.response.header("Content-Type"))
    if actual_type != PROBLEM_MEDIA_TYPE:
        yield Mismatch("header Content-Type", PROBLEM_MEDIA_TYPE, actual_type or None, "errors are problem+json")
    document, errors = _json_object(ctx, "a problem")
    if document is None:
        yield from errors
        return
    for member, member_type in (("type", str), ("title", str), ("status", int)):
        if not isinstance(document.get(member), member_type):
            yield Mismatch(f"body /{member}", member_type.__name__, document.get(member), f"problem lacks {member}")
    kind = expected.get("type")
    if kind and not (isinstance(document.get("type"), str) and document["type"].endswith("/" + kind)):
        yield Mismatch("body /type", f".../{kind}", document.get("type"), "problem type")
    if "status" in document and document.get("status") != ctx.response.status:
        yield Mismatch("body /status", ctx.response.status, document.get("status"), "problem status is the HTTP status")
    rules = expected.get("rules")
    if rules is not None:
        yield from _problem_errors(document, _declared_rules(rules, ctx))
    apart = expected.get("warnings_apart")
    if apart is not None:
        yield from _warnings_apart(document, [str(rule) for rule in _as_list(apart)])


def _warnings_apart(document: dict[str, Any], rules: list[str]) -> Iterator[Mismatch]:
    """Rules that are warnings in the version certified are never listed among ``errors`` (binding rule 10)."""
    errors = document.get("errors")
    named = {e.get("rule") for e in errors if isinstance(e, dict)} if isinstance(errors, list) else set()
    mixed = sorted(rule for rule in rules if rule in named)
    if mixed:
        yield Mismatch("body /errors/*/rule", f"none of {rules}", mixed, f"warnings listed as errors: {mixed}")


def _declared_rules(rules: Any, ctx: CheckContext) -> list[str]:
    """The rules an answer must name: as listed, or ``from_sample``, the errors of the sample sent in the document
    version the suite certifies (a rule that is a warning there is no reason to refuse, so it need not be named)."""
    if rules == "from_sample":
        sent = ctx.sent
        errors = sample_findings(sent.format, sent.sample)[0] if sent and sent.format and sent.sample else ()
        if not errors:
            raise ConfigurationError("'rules: from_sample' needs a message built from a sample with errors")
        return list(errors)
    return [str(rule) for rule in _as_list(rules)]


def _problem_errors(document: dict[str, Any], rules: list[str]) -> Iterator[Mismatch]:
    errors = document.get("errors")
    if not isinstance(errors, list) or not errors:
        yield Mismatch("body /errors", "a non-empty array", errors, "invalid messages list their errors")
        return
    named: set[str] = set()
    for index, error in enumerate(errors):
        if not isinstance(error, dict) or not all(
            isinstance(error.get(k), str) for k in ("location", "rule", "message")
        ):
            yield Mismatch(f"body /errors/{index}", "{location, rule, message} strings", error, "malformed error")
            continue
        named.add(error["rule"])
    missing = [rule for rule in rules if rule not in named]
    if missing:
        yield Mismatch("body /errors/*/rule", rules, sorted(named), f"rules not named: {', '.join(missing)}")


def _validate_as(fmt: Format, ctx: CheckContext) -> Validation:
    return validator_for(fmt).validate(ctx.response.body)


@check("format")
def body_is_valid(expected: str, ctx: CheckContext) -> Iterator[Mismatch]:
    fmt = ctx.scenario.catalog.format(str(expected))
    validation = _validate_as(fmt, ctx)
    for finding in validation.findings[:20]:
        yield Mismatch(
            f"body {finding.location or '/'}",
            f"valid {fmt.id} ({finding.rule})",
            finding.message,
            f"body is not valid {fmt.id}: {finding.message}",
        )


@check("content")
def same_content(expected: dict[str, Any], ctx: CheckContext) -> Iterator[Mismatch]:
    """The body carries the same content (everything but extensions) as a message sent earlier."""
    step = str(expected["same_as"])
    original = ctx.scenario.sent.get(step)
    if original is None or original.model is None or original.format is None or original.format.family is None:
        raise ConfigurationError(f"'content: same_as: {step}' needs a model message sent by step {step}")
    rendition = family(original.format.family)
    assert rendition is not None
    candidates = ctx.scenario.catalog.formats_of_family(original.format.family)
    actual_type = media_type(ctx.response.header("Content-Type"))
    fmt = next((f for f in candidates if actual_type in f.media_types), None)
    if fmt is None:
        syntax = "xml" if actual_type.endswith("xml") else "json"
        fmt = next((f for f in candidates if f.syntax == syntax), None)
    if fmt is None:
        yield Mismatch("header Content-Type", [f.media_type for f in candidates], actual_type, "no rendition")
        return
    validation = _validate_as(fmt, ctx)
    if validation.model is None:
        reason = validation.findings[0].message if validation.findings else "unreadable"
        yield Mismatch("body", f"a {fmt.id} message", _preview(ctx.response.body), reason)
        return
    want, got = rendition.content_of(original.model), rendition.content_of(validation.model)
    for path, expected_value, actual_value in _differences(want, got, ""):
        yield Mismatch(f"content {path or '/'}", expected_value, actual_value, "content differs from what was sent")


def _differences(expected: Any, actual: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual)):
            yield from _differences(expected.get(key), actual.get(key), f"{path}/{key}")
    elif isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            yield from _differences(left, right, f"{path}/{index}")
    elif expected != actual:
        yield path, expected, actual


@check("within_ms")
def answered_within(expected: Any, ctx: CheckContext) -> Iterator[Mismatch]:
    limit = float(expected)
    if ctx.response.elapsed_ms > limit:
        yield Mismatch("elapsed_ms", f"<= {limit:g}", round(ctx.response.elapsed_ms, 1), "answered too slowly")


_UNORDERED = ("warningMarkers", "markers")


def _canonical(record: Any) -> str:
    """A record as compared: marker lists are sets, key order never matters."""
    if isinstance(record, dict):
        record = {k: sorted(v) if k in _UNORDERED and isinstance(v, list) else v for k, v in record.items()}
    return json.dumps(record, sort_keys=True, ensure_ascii=False)


@check("dataset_answer")
def answer_follows_dataset(expected: str, ctx: CheckContext) -> Iterator[Mismatch]:
    """The answer is what the certification data set and the matching rules give for the query sent."""
    if ctx.scenario.dataset is None or ctx.sent is None or ctx.sent.model is None:
        raise ConfigurationError("'dataset_answer' needs the suite's data set and a query sent by this step")
    if expected == "person":
        want = expected_person_result(ctx.scenario.dataset, ctx.sent.model)
    elif expected == "vehicle":
        want = expected_vehicle_result(ctx.scenario.dataset, ctx.sent.model)
    else:
        raise ConfigurationError(f"dataset_answer is 'person' or 'vehicle', not {expected!r}")
    got, errors = _json_object(ctx, "an answer")
    if got is None:
        yield from errors
        return
    for member in ("queryId", "profile", "status"):
        if got.get(member) != want[member]:
            yield Mismatch(f"body /{member}", want[member], got.get(member), f"{member} differs")
    if expected == "person":
        yield from _same_records(want["matches"], got.get("matches"))
    elif _canonical(want["vehicle"]) != _canonical(got.get("vehicle")):
        yield Mismatch("body /vehicle", want["vehicle"], got.get("vehicle"), "vehicle differs from the data set")


def _same_records(want: list[Any], got: Any) -> Iterator[Mismatch]:
    if not isinstance(got, list):
        yield Mismatch("body /matches", want, got, "matches is not an array")
        return
    expected_keys = sorted(_canonical(record) for record in want)
    actual_keys = sorted(_canonical(record) for record in got)
    missing = [json.loads(k) for k in expected_keys if expected_keys.count(k) > actual_keys.count(k)]
    unexpected = [json.loads(k) for k in actual_keys if actual_keys.count(k) > expected_keys.count(k)]
    if missing:
        yield Mismatch("body /matches", missing, None, f"{len(missing)} record(s) of the data set not returned")
    if unexpected:
        yield Mismatch("body /matches", None, unexpected, f"{len(unexpected)} record(s) returned that do not match")


# -- XML answers (CAP 1.2, EDXL-DE) and bodies kept between steps ------------------------------

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_FORMAT = "cap/1.2"
SKEW_S = 300.0
"""Clock skew a receiver tolerates (binding rule 6): an Ack's ``sent`` is "now" within it."""


def _xml_root(ctx: CheckContext, field: str) -> tuple[etree._Element | None, Mismatch | None]:
    try:
        return parse_xml(ctx.response.body), None
    except UnsafeXml as exc:
        return None, Mismatch(field, "an XML body", _preview(ctx.response.body), f"body is not usable XML: {exc}")


def _xpath_value(result: Any) -> Any:
    """An XPath result as a scenario compares it: text of the first node, numbers, booleans; MISSING for no node."""
    if isinstance(result, list):
        if not result:
            return _NO_NODE
        first = result[0]
        if isinstance(first, etree._Element):
            return (first.text or "").strip()
        return str(first).strip()
    if isinstance(result, float) and result.is_integer():
        return int(result)
    if isinstance(result, (bool, float)):
        return result
    return str(result)


_NO_NODE = object()


@check("xml")
def xml_values(expected: dict[str, Any], ctx: CheckContext) -> Iterator[Mismatch]:
    """Values of an XML body by XPath (``namespaces`` binds the prefixes the XPaths use).

    A node gives its text (trimmed); ``count(...)`` a number; ``{present: false}`` wants no node.
    """
    root, error = _xml_root(ctx, "body")
    if root is None:
        assert error is not None
        yield error
        return
    namespaces = {str(k): str(v) for k, v in (expected.get("namespaces") or {}).items()}
    for expression, spec in expected.items():
        if expression == "namespaces":
            continue
        spec = ctx.scenario.expand(spec)
        try:
            actual = _xpath_value(root.xpath(expression, namespaces=namespaces))
        except etree.XPathError as exc:
            raise ConfigurationError(f"bad XPath {expression!r} in an 'xml' check: {exc}") from None
        if isinstance(spec, dict) and spec.get("present") is False:
            if actual is not _NO_NODE:
                yield Mismatch(f"body {expression}", "absent", actual, f"{expression} must be absent")
        elif actual is _NO_NODE:
            yield Mismatch(f"body {expression}", spec, None, f"body has no {expression}")
        elif not _matches(spec, actual):
            yield Mismatch(f"body {expression}", spec, actual, f"{expression} differs")


@dataclass(slots=True, frozen=True)
class CapHeader:
    """What a CAP alert's header says: the triple that references it, and to whom it goes."""

    sender: str
    identifier: str
    sent: str
    status: str
    msg_type: str
    scope: str
    restriction: str
    addresses: str
    references: str | None
    note: str

    @property
    def reference(self) -> str:
        return f"{self.sender},{self.identifier},{self.sent}"


def cap_header(root: etree._Element) -> CapHeader | None:
    """The header of a CAP 1.2 ``alert`` (missing elements read as empty text), or None for another root."""
    if root.tag != f"{{{CAP_NS}}}alert":
        return None

    def text(name: str) -> str | None:
        element = root.find(f"{{{CAP_NS}}}{name}")
        return None if element is None else (element.text or "").strip()

    return CapHeader(
        sender=text("sender") or "",
        identifier=text("identifier") or "",
        sent=text("sent") or "",
        status=text("status") or "",
        msg_type=text("msgType") or "",
        scope=text("scope") or "",
        restriction=text("restriction") or "",
        addresses=text("addresses") or "",
        references=text("references"),
        note=text("note") or "",
    )


def _sent_header(ctx: CheckContext, step: str) -> CapHeader:
    original = ctx.scenario.sent.get(step)
    header = None
    if original is not None:
        try:
            header = cap_header(parse_xml(original.body))
        except UnsafeXml:
            header = None
    if header is None or not (header.sender and header.identifier and header.sent):
        raise ConfigurationError(f"'original: {step}' needs a CAP alert (sender, identifier, sent) sent by {step}")
    return header


def _cap_findings(ctx: CheckContext, answer: CapHeader) -> Iterator[Mismatch]:
    """The answer must itself be valid CAP 1.2; an Error may lack ``references`` (original unreadable)."""
    validation = _validate_as(ctx.scenario.catalog.format(CAP_FORMAT), ctx)
    for finding in validation.findings[:20]:
        if finding.rule == "CAP-04" and answer.msg_type == "Error" and answer.references is None:
            continue
        where = f"body {finding.location or '/'}"
        yield Mismatch(where, f"valid {CAP_FORMAT} ({finding.rule})", finding.message, "the answer is not valid CAP")


def _is_now(sent: str) -> bool:
    try:
        moment = dt.datetime.fromisoformat(sent)
    except ValueError:
        return False
    if moment.tzinfo is None:
        return False
    return abs((dt.datetime.now(dt.UTC) - moment).total_seconds()) <= SKEW_S


@check("cap_answer")
def cap_answer(expected: dict[str, Any], ctx: CheckContext) -> Iterator[Mismatch]:
    """A CAP answer (Ack or Error): valid CAP, the ``msgType`` wanted, about the message ``original`` sent.

    ``original: STEP`` wants ``references`` to name exactly that message (``sender,identifier,sent``);
    for an Ack also a new identifier, ``sent`` now, and the original's status, scope, restriction and
    addresses. ``note_rules`` (a list, or ``from_sample``) are rule ids the Error's ``note`` must name.
    """
    root, error = _xml_root(ctx, "body")
    answer = cap_header(root) if root is not None else None
    if answer is None:
        yield error or Mismatch("body", f"{{{CAP_NS}}}alert", root.tag if root is not None else None, "not CAP")
        return
    yield from _cap_findings(ctx, answer)
    wanted_type = expected.get("msgType")
    if wanted_type and answer.msg_type != wanted_type:
        yield Mismatch("body msgType", wanted_type, answer.msg_type, f"a {wanted_type} was expected")
    if "original" in expected:
        yield from _refers_to(_sent_header(ctx, str(expected["original"])), answer)
    if "note_rules" in expected:
        rules = _declared_rules(expected["note_rules"], ctx)
        missing = [rule for rule in rules if not re.search(rf"(?<![\w-]){re.escape(rule)}(?![\w-])", answer.note)]
        if missing:
            yield Mismatch("body note", rules, answer.note, f"the note does not name {', '.join(missing)}")


def _refers_to(original: CapHeader, answer: CapHeader) -> Iterator[Mismatch]:
    references = (answer.references or "").split()
    if references != [original.reference]:
        yield Mismatch("body references", original.reference, answer.references, "references must name the original")
    if answer.msg_type != "Ack":
        return
    if (answer.sender, answer.identifier) == (original.sender, original.identifier):
        yield Mismatch("body identifier", "a new identifier", answer.identifier, "the Ack re-uses the original's id")
    if not _is_now(answer.sent):
        yield Mismatch("body sent", f"now (within {SKEW_S:g} s)", answer.sent, "the Ack is not sent now")
    for field, want, got in (
        ("status", original.status, answer.status),
        ("scope", original.scope, answer.scope),
        ("restriction", original.restriction, answer.restriction),
        ("addresses", original.addresses, answer.addresses),
    ):
        if want != got:
            yield Mismatch(f"body {field}", want or None, got or None, f"the Ack's {field} is not the original's")


@check("error_located")
def error_located(expected: Any, ctx: CheckContext) -> Iterator[Mismatch]:
    """Each ``{location: REGEX, rule: ID}`` given is matched by some entry of a problem's ``errors`` (rule optional)."""
    errors = list(_json_body(ctx, "body"))
    if errors:
        yield from errors
        return
    document, _ = ctx.json()
    entries = document.get("errors") if isinstance(document, dict) else None
    found = [(e.get("location"), e.get("rule")) for e in entries or [] if isinstance(e, dict)]
    for wanted in _as_list(expected):
        pattern, rule = re.compile(str(wanted["location"])), wanted.get("rule")
        if not any(
            isinstance(location, str) and pattern.search(location) and rule in (None, found_rule)
            for location, found_rule in found
        ):
            explained = f"an error at {pattern.pattern}" + (f" ({rule})" if rule else "")
            yield Mismatch("body /errors", explained, found, "no error locates the failing part")


@check("body")
def body_kept(expected: dict[str, Any], ctx: CheckContext) -> Iterator[Mismatch]:
    """``keep_as: NAME`` keeps the body for a later step; ``same_as: NAME`` wants it byte-identical to that one."""
    if "same_as" in expected:
        name = str(expected["same_as"])
        if name not in ctx.scenario.captures:
            raise ConfigurationError(f"no body was kept as {name!r}")
        if ctx.response.body != ctx.scenario.captures[name]:
            kept = ctx.scenario.captures[name]
            yield Mismatch("body", _preview(kept), _preview(ctx.response.body), f"body differs from {name}")
    if "keep_as" in expected:
        ctx.scenario.captures[str(expected["keep_as"])] = ctx.response.body


# -- ESN: SDS notifications and relayed SDS (specs/esn.md, docs/decisions-esn-exchange.md) ----------------

SDS_FORMAT = "mcdata-sds/1.0"
_MCDATA_NS = "urn:3gpp:ns:mcdataInfo:1.0"


def _received_sds(ctx: CheckContext) -> tuple[Sds | None, list[Mismatch]]:
    """The SDS in the body (its Content-Type names the boundary), or why it is not a valid one."""
    fmt = ctx.scenario.catalog.format(SDS_FORMAT)
    content_type = ctx.response.header("Content-Type") or ""
    validation = sds_validator(fmt).validate(content_type, ctx.response.body)
    if not validation.valid:
        return None, [
            Mismatch(f"body {f.location}", f"valid {SDS_FORMAT} ({f.rule})", f.message, f"not a valid SDS: {f.message}")
            for f in validation.findings[:20]
        ]
    return parse_sds(content_type, ctx.response.body), []


def _sent_sds(ctx: CheckContext, step: str) -> Sds:
    original = ctx.scenario.sent.get(step)
    try:
        if original is None:
            raise MultipartError("nothing sent")
        sds = parse_sds(original.content_type, original.body)
        if not isinstance(decode(sds.signalling), SdsSignalling):
            raise MultipartError("no SDS SIGNALLING PAYLOAD")
    except (MultipartError, CodecError) as exc:
        raise ConfigurationError(f"step {step!r} sent no readable SDS ({exc})") from None
    return sds


def _ids(octets: bytes) -> str:
    return f"conversation {uuid.UUID(bytes=octets[:16])}, message {uuid.UUID(bytes=octets[16:32])}"


def _notification_types(names: Any) -> list[NotificationType]:
    try:
        return [NOTIFICATION_TYPES[str(name)] for name in _as_list(names)]
    except KeyError as exc:
        raise ConfigurationError(f"unknown notification type {exc} (known: {', '.join(NOTIFICATION_TYPES)})") from None


@check("sds_notification")
def sds_notification(expected: dict[str, Any], ctx: CheckContext) -> Iterator[Mismatch]:
    """An SDS NOTIFICATION (mcdata-info + signalling, no payload part) answering the SDS sent by step ``answers``:
    its Conversation ID and Message ID are that SDS's octet for octet, its type one of ``type``."""
    sent = _sent_sds(ctx, str(expected["answers"]))
    allowed = _notification_types(expected.get("type", "delivered"))
    received, problems = _received_sds(ctx)
    if received is None:
        yield from problems
        return
    message = decode(received.signalling)
    if not isinstance(message, SdsNotification):
        kind = received.signalling[0] & 0x3F
        yield Mismatch("body signalling message type", "5 (SDS NOTIFICATION)", kind, "not an SDS NOTIFICATION")
        return
    if received.payload is not None:
        yield Mismatch("body payload part", "absent", len(received.payload), "an SDS NOTIFICATION has no payload part")
    want, got = sent.signalling[6:38], received.signalling[7:39]
    if want != got:
        yield Mismatch("body signalling octets 7-38", _ids(want), _ids(got), "the ids are not those of the SDS sent")
    if message.notification not in allowed:
        names = [kind.name.lower().replace("_", "-") for kind in allowed]
        actual = message.notification.name.lower().replace("_", "-")
        yield Mismatch("body notification type", names[0] if len(names) == 1 else names, actual, "notification type")


def _uri(info: bytes, element: str) -> str | None:
    try:
        root = parse_xml(info)
    except UnsafeXml:
        return None
    found = root.find(f"{{{_MCDATA_NS}}}mcdata-Params/{{{_MCDATA_NS}}}{element}/{{{_MCDATA_NS}}}mcdataURI")
    return None if found is None else (found.text or "").strip()


@check("sds_relayed")
def sds_relayed(expected: dict[str, Any], ctx: CheckContext) -> Iterator[Mismatch]:
    """The SDS sent by step ``original``, as a member received it: the same SDS SIGNALLING PAYLOAD ids and the
    payload part octet for octet; ``group: true`` also wants the mcdata-info to name the group the SDS was
    sent to as ``mcdata-calling-group-id``."""
    sent = _sent_sds(ctx, str(expected["original"]))
    received, problems = _received_sds(ctx)
    if received is None:
        yield from problems
        return
    if not isinstance(decode(received.signalling), SdsSignalling):
        kind = received.signalling[0] & 0x3F
        yield Mismatch("body signalling message type", "1 (SDS SIGNALLING PAYLOAD)", kind, "not an SDS")
        return
    want, got = sent.signalling[6:38], received.signalling[6:38]
    if want != got:
        yield Mismatch("body signalling octets 6-37", _ids(want), _ids(got), "the ids are not those of the SDS sent")
    if received.payload != sent.payload:
        shown = None if received.payload is None else received.payload.hex(" ")
        assert sent.payload is not None
        yield Mismatch("body payload part", sent.payload.hex(" "), shown, "the payload was not relayed octet for octet")
    if expected.get("group"):
        group = _uri(sent.info, "mcdata-request-uri")
        calling_group = _uri(received.info, "mcdata-calling-group-id")
        if calling_group != group:
            yield Mismatch("body mcdata-calling-group-id", group, calling_group, "the relayed SDS names another group")
