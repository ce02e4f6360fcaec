"""Conformance checks on one response; each explains a mismatch as (field, expected, actual).

A check is a function registered with :func:`check` under the key that names
it in scenario files (``status``, ``headers``, ``json``, ``problem``, ...).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from harness.http import media_type
from harness.model import ConfigurationError, Format
from harness.renditions import family
from harness.rules.queries import expected_person_result, expected_vehicle_result
from harness.runner.context import Message, ScenarioContext, is_missing, resolve_pointer
from harness.transport import Response
from harness.validation.jsonsafe import UnsafeJson, parse_json
from harness.validation.jsonschema import is_date_time
from harness.validation.validator import Validation, validator_for

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
    errors = list(_json_body(ctx, "body"))
    if errors:
        yield from errors
        return
    document, _ = ctx.json()
    if not isinstance(document, dict):
        yield Mismatch("body", "a JSON object", type(document).__name__, "a problem is a JSON object")
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


def _declared_rules(rules: Any, ctx: CheckContext) -> list[str]:
    if rules == "from_sample":
        if ctx.sent is None or ctx.sent.sample is None or ctx.sent.sample.valid:
            raise ConfigurationError("'rules: from_sample' needs a message built from an invalid sample")
        return list(ctx.sent.sample.rules)
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
            f"body {finding.location or '/'}", f"valid {fmt.id} ({finding.rule})", finding.message, "invalid body"
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
    errors = list(_json_body(ctx, "body"))
    if errors:
        yield from errors
        return
    got, _ = ctx.json()
    if not isinstance(got, dict):
        yield Mismatch("body", "a JSON object", type(got).__name__, "an answer is a JSON object")
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
