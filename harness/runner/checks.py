"""Conformance checks on one response; each explains a mismatch as (field, expected, actual).

A check is a function registered with :func:`check` under the key that names
it in scenario files (``status``, ``headers``, ``json``, ``problem``, ...), in
the registry :data:`harness.extensions.CHECKS`. This module holds the generic
checks (status, headers, media type, JSON, problem, XML, format, body, timing,
located errors) and the helpers format families build theirs with; the checks
only one family needs live in ``harness/families/<family>/checks.py``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import etree

from harness.extensions import CHECKS
from harness.http import media_type
from harness.model import CheckFailure, ConfigurationError, Format
from harness.profile import PROBLEM_MEDIA_TYPE
from harness.runner.context import Message, ScenarioContext, is_missing, resolve_pointer
from harness.transport import Response
from harness.validation.jsonsafe import UnsafeJson, parse_json
from harness.validation.jsonschema import is_date_time
from harness.validation.validator import Validation, sample_findings, validator_for
from harness.validation.xmlsafe import UnsafeXml, parse_xml

__all__ = [
    "CHECKS",
    "STATUS_INDEPENDENT",
    "CheckContext",
    "CheckFunction",
    "Mismatch",
    "as_list",
    "check",
    "declared_rules",
    "evaluate",
    "json_object",
    "matches",
    "preview",
    "validate_as",
    "xml_root",
]


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

    def now(self) -> dt.datetime:
        """The clock the answer is judged by: when it arrived (a recorded answer), else the current time."""
        when = self.response.answered_at
        if when:
            try:
                moment = dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
            except ValueError:
                moment = None
            if moment is not None and moment.tzinfo is not None:
                return moment
        return dt.datetime.now(dt.UTC)

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


def check(name: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register the decorated function as the check ``name`` (in :data:`harness.extensions.CHECKS`)."""
    return CHECKS.register(name)


STATUS_INDEPENDENT = frozenset({"status", "within_ms"})
"""Checks that read neither the body nor the headers of the answer. Every other check of an answer (the
generic ones and every family's or extension's, registered or to come) depends on its status: when the status
is not the expected one, they are not checked (docs/verdicts.md, "First cause")."""


def evaluate(
    expect: Mapping[str, Any],
    ctx: CheckContext,
    step: str,
    expand: Callable[[Any], Any] | None = None,
) -> list[CheckFailure]:
    """The failures of the checks ``expect`` names on one answer, one line per cause.

    ``status`` is judged first wherever the step lists it. When it fails, the checks that depend on it
    (all but :data:`STATUS_INDEPENDENT`) are not run: the status failure names them as ``not_checked``.
    The verdict is the same either way (the step already failed); only the misleading lines go.
    """
    names = sorted(expect, key=lambda name: name != "status")  # stable: status first, the rest in file order
    failures: list[CheckFailure] = []
    hidden: list[str] = []
    status_failed = False
    for key in names:
        if status_failed and key not in STATUS_INDEPENDENT:
            hidden.append(key)
            continue
        function = CHECKS.get(key)  # an unknown name: RegistryError naming the known ones
        expected = expect[key] if expand is None else expand(expect[key])
        for mismatch in function(expected, ctx):
            failures.append(
                CheckFailure(step, f"{key}: {mismatch.field}", mismatch.expected, mismatch.actual, mismatch.message)
            )
        if key == "status":  # judged first: any failure so far is its own
            status_failed = bool(failures)
    if hidden:  # the status failure (first, and one line) names the checks it kept from running
        failures[0] = replace(failures[0], not_checked=tuple(hidden))
    return failures


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@check("status")
def status_is(expected: Any, ctx: CheckContext) -> Iterator[Mismatch]:
    allowed = as_list(expected)
    if ctx.response.status not in allowed:
        wanted = allowed[0] if len(allowed) == 1 else allowed
        yield Mismatch("status", wanted, ctx.response.status, f"HTTP status {ctx.response.status}, expected {wanted}")


@check("media_type")
def media_type_is(expected: Any, ctx: CheckContext) -> Iterator[Mismatch]:
    allowed = [str(m).lower() for m in as_list(expected)]
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
            if not _names_path(actual, ctx.response.url or ctx.scenario.target, ctx.scenario.target, spec["path"]):
                yield Mismatch(field, spec["path"], actual, f"{name} does not name {spec['path']}")
        elif isinstance(spec, dict) and "path_pattern" in spec:
            if not _matches_path(actual, ctx.response.url or ctx.scenario.target, ctx.scenario.target, spec):
                yield Mismatch(field, spec["path_pattern"], actual, f"{name} does not name a path like that")
        elif isinstance(spec, dict) and "media_type" in spec:
            if media_type(actual) != str(spec["media_type"]).lower():
                yield Mismatch(field, spec["media_type"], actual, f"{name} names another media type")
        elif actual != str(spec):
            yield Mismatch(field, spec, actual, f"{name} differs")


@functools.lru_cache(maxsize=256)
def _netloc(url: str) -> str:
    return urlsplit(url).netloc


_PLAIN_PATH = re.compile(r"/(?!/)[^?#]*\Z")
_DOT_SEGMENT = re.compile(r"/\.\.?(?:/|\Z)")


def _names_path(reference: str, base: str, target: str, path: str) -> bool:
    """Whether ``reference`` (a Location: relative or absolute), resolved against ``base``, is ``path`` on the
    target's host. An absolute path with no dot segment, query or fragment resolves to itself on the base's host."""
    if _PLAIN_PATH.match(reference) and not _DOT_SEGMENT.search(reference):
        netloc = _netloc(base)
        return reference == path and (not netloc or netloc == _netloc(target))
    if reference.startswith(("http://", "https://")):  # absolute: resolves to itself once dot segments go
        parts = urlsplit(reference)
        if parts.netloc and not _DOT_SEGMENT.search(parts.path):
            return parts.path == path and parts.netloc == _netloc(target)
    resolved = urlsplit(urljoin(base, reference))
    return resolved.path == path and (not resolved.netloc or resolved.netloc == _netloc(target))


def _matches_path(reference: str, base: str, target: str, spec: Mapping[str, Any]) -> bool:
    """Whether ``reference`` (a Location), resolved against ``base``, names on the target's host a path that
    ``spec["path_pattern"]`` (a regular expression) matches whole: an id the answering system minted."""
    resolved = urlsplit(urljoin(base, reference))
    if resolved.netloc and resolved.netloc != _netloc(target):
        return False
    return re.fullmatch(str(spec["path_pattern"]), resolved.path) is not None


def _json_body(ctx: CheckContext, field: str) -> Iterator[Mismatch]:
    _, error = ctx.json()
    if error is not None:
        yield Mismatch(field, "a JSON body", preview(ctx.response.body), f"body is not JSON: {error}")


def json_object(ctx: CheckContext, what: str) -> tuple[dict[str, Any] | None, list[Mismatch]]:
    """The body as a JSON object, or None and the mismatches that say why it is not one."""
    errors = list(_json_body(ctx, "body"))
    if errors:
        return None, errors
    document, _ = ctx.json()
    if not isinstance(document, dict):
        return None, [Mismatch("body", "a JSON object", type(document).__name__, f"{what} is a JSON object")]
    return document, []


def preview(body: bytes, limit: int = 200) -> str:
    text = body[:limit].decode("utf-8", "replace")
    return text + ("…" if len(body) > limit else "")


def matches(expected: Any, actual: Any) -> bool:
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
        elif not matches(spec, actual):
            yield Mismatch(f"body {pointer}", spec, actual, f"{pointer} differs")


@check("problem")
def problem_document(expected: dict[str, Any], ctx: CheckContext) -> Iterator[Mismatch]:
    """An RFC 9457 problem as the profile's binding rule 3 requires."""
    actual_type = media_type(ctx.response.header("Content-Type"))
    if actual_type != PROBLEM_MEDIA_TYPE:
        yield Mismatch("header Content-Type", PROBLEM_MEDIA_TYPE, actual_type or None, "errors are problem+json")
    document, errors = json_object(ctx, "a problem")
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
        yield from _problem_errors(document, declared_rules(rules, ctx))
    apart = expected.get("warnings_apart")
    if apart is not None:
        yield from _warnings_apart(document, [str(rule) for rule in as_list(apart)])


def _warnings_apart(document: dict[str, Any], rules: list[str]) -> Iterator[Mismatch]:
    """Rules that are warnings in the version certified are never listed among ``errors`` (binding rule 10)."""
    errors = document.get("errors")
    named = {e.get("rule") for e in errors if isinstance(e, dict)} if isinstance(errors, list) else set()
    mixed = sorted(rule for rule in rules if rule in named)
    if mixed:
        yield Mismatch("body /errors/*/rule", f"none of {rules}", mixed, f"warnings listed as errors: {mixed}")


def declared_rules(rules: Any, ctx: CheckContext) -> list[str]:
    """The rules an answer must name: as listed, or ``from_sample``, the errors of the sample sent in the document
    version the suite certifies (a rule that is a warning there is no reason to refuse, so it need not be named)."""
    if rules == "from_sample":
        sent = ctx.sent
        errors = sample_findings(sent.format, sent.sample)[0] if sent and sent.format and sent.sample else ()
        if not errors:
            raise ConfigurationError("'rules: from_sample' needs a message built from a sample with errors")
        return list(errors)
    return [str(rule) for rule in as_list(rules)]


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


def validate_as(fmt: Format, ctx: CheckContext) -> Validation:
    return validator_for(fmt).validate(ctx.response.body)


@check("format")
def body_is_valid(expected: str, ctx: CheckContext) -> Iterator[Mismatch]:
    fmt = ctx.scenario.catalog.format(str(expected))
    validation = validate_as(fmt, ctx)
    for finding in validation.findings[:20]:
        yield Mismatch(
            f"body {finding.location or '/'}",
            f"valid {fmt.id} ({finding.rule})",
            finding.message,
            f"body is not valid {fmt.id}: {finding.message}",
        )


@check("within_ms")
def answered_within(expected: Any, ctx: CheckContext) -> Iterator[Mismatch]:
    limit = float(expected)
    if ctx.response.elapsed_ms > limit:
        yield Mismatch("elapsed_ms", f"<= {limit:g}", round(ctx.response.elapsed_ms, 1), "answered too slowly")


# -- XML answers and bodies kept between steps ------------------------------------------------


def xml_root(ctx: CheckContext, field: str) -> tuple[etree._Element | None, Mismatch | None]:
    try:
        return parse_xml(ctx.response.body), None
    except UnsafeXml as exc:
        return None, Mismatch(field, "an XML body", preview(ctx.response.body), f"body is not usable XML: {exc}")


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
    root, error = xml_root(ctx, "body")
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
        elif not matches(spec, actual):
            yield Mismatch(f"body {expression}", spec, actual, f"{expression} differs")


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
    for wanted in as_list(expected):
        pattern, rule = re.compile(str(wanted["location"])), wanted.get("rule")
        if not any(
            isinstance(location, str) and pattern.search(location) and rule in (None, found_rule)
            for location, found_rule in found
        ):
            explained = f"an error at {pattern.pattern}" + (f" ({rule})" if rule else "")
            yield Mismatch("body /errors", explained, found, "no error locates the failing part")


@check("body")
def body_kept(expected: dict[str, Any], ctx: CheckContext) -> Iterator[Mismatch]:
    """``keep_as: NAME`` keeps the body for a later step; ``same_as: NAME`` wants it byte-identical to that one;
    ``octets`` wants it equal to those octets (base64), but for ``ignore_octets``."""
    if "same_as" in expected:
        name = str(expected["same_as"])
        if name not in ctx.scenario.captures:
            raise ConfigurationError(f"no body was kept as {name!r}")
        if ctx.response.body != ctx.scenario.captures[name]:
            kept = ctx.scenario.captures[name]
            yield Mismatch("body", preview(kept), preview(ctx.response.body), f"body differs from {name}")
    if "octets" in expected:
        yield from _octets_differ(expected, ctx.response.body)
    if "keep_as" in expected:
        ctx.scenario.captures[str(expected["keep_as"])] = ctx.response.body


def _octets_differ(expected: dict[str, Any], body: bytes) -> Iterator[Mismatch]:
    """``octets`` (base64): the body octet for octet, but for the ``ignore_octets`` ranges (``START-END``, both
    included: what the answering system stamps, e.g. an MCData message's date and time)."""
    try:
        wanted = base64.b64decode(str(expected["octets"]), validate=True)
    except binascii.Error as exc:
        raise ConfigurationError(f"body octets is not base64: {exc}") from None
    ignored: set[int] = set()
    for text in expected.get("ignore_octets") or ():
        start, _, end = str(text).partition("-")
        ignored.update(range(int(start), int(end) + 1))
    if len(body) != len(wanted):
        yield Mismatch("body", f"{len(wanted)} octets", f"{len(body)} octets", "the body's length changed")
        return
    first = next((i for i, (a, b) in enumerate(zip(wanted, body, strict=True)) if a != b and i not in ignored), None)
    if first is not None:
        yield Mismatch(
            f"body /octet/{first}",
            wanted[first : first + 8].hex(" "),
            body[first : first + 8].hex(" "),
            f"the body differs from octet {first} on",
        )
