"""The fault plan of the reference endpoints (specs/resilience.md, "What the reference receiver does on purpose").

A plan is a list of rules; each rule says: for the next ``count`` requests (every one when ``count`` is None)
matching ``method``, ``path_pattern`` (a shell-style pattern) and, when given, the message ``id`` the request
carries, do ``action`` instead of answering normally. The first matching rule with requests left applies, so
``[{count: 3, 503}, ...]`` gives three 503s and then whatever comes next.

The same plan is written in YAML for ``harness serve --faults PLAN.yaml`` and in a scenario's ``deliver: faults:``
(docs/resilience.md). This module is pure: values, parsing and the message id a body carries; the endpoints
(:mod:`harness.endpoints.faults`) apply it.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import fnmatch
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.model import ConfigurationError
from harness.validation.jsonsafe import UnsafeJson, parse_json
from harness.validation.xmlsafe import UnsafeXml, parse_xml

__all__ = [
    "ACTION_NAMES",
    "AcceptThenForget",
    "Action",
    "CloseBeforeBody",
    "Delay",
    "FaultPlan",
    "FaultPlanError",
    "FaultRule",
    "Reset",
    "Status",
    "message_id",
    "parse_plan",
    "retry_after_value",
]

_HTTP_DATE_AHEAD = re.compile(r"http-date\+(\d{1,4})\Z")
MAX_RULES = 1000


class FaultPlanError(ConfigurationError):
    """A fault plan that cannot be used, said in one line naming the rule and the key."""


@dataclass(slots=True, frozen=True)
class Status:
    """Answer ``code`` (a problem document) instead, with ``Retry-After`` when ``retry_after`` is given:
    delta-seconds (an int), ``"http-date+N"`` (the HTTP-date of the first whole second at least N s after the
    answer) or a literal HTTP-date."""

    code: int
    retry_after: int | str | None = None

    def describe(self) -> str:
        after = f" retry-after {self.retry_after}" if self.retry_after is not None else ""
        return f"status {self.code}{after}"


@dataclass(slots=True, frozen=True)
class Reset:
    """Read the request whole, then close the connection with no answer (a TCP reset)."""

    def describe(self) -> str:
        return "reset"


@dataclass(slots=True, frozen=True)
class Delay:
    """Wait ``seconds``, then answer normally (nothing is stored if the sender has gone by then)."""

    seconds: float

    def describe(self) -> str:
        return f"delay {self.seconds:g}"


@dataclass(slots=True, frozen=True)
class CloseBeforeBody:
    """Answer the status line and headers of a ``202`` only, then close the connection."""

    def describe(self) -> str:
        return "close-before-body"


@dataclass(slots=True, frozen=True)
class AcceptThenForget:
    """Answer ``202`` and store nothing."""

    def describe(self) -> str:
        return "accept-then-forget"


Action = Status | Reset | Delay | CloseBeforeBody | AcceptThenForget
ACTION_NAMES: dict[str, Action] = {
    "reset": Reset(),
    "close-before-body": CloseBeforeBody(),
    "accept-then-forget": AcceptThenForget(),
}


@dataclass(slots=True, frozen=True)
class FaultRule:
    """One rule: ``action`` for the next ``count`` matching requests (None: every one)."""

    action: Action
    method: str = "*"
    path_pattern: str = "*"
    count: int | None = None
    id: str | None = None

    def matches(self, method: str, path: str, message: str | None) -> bool:
        """Whether a request ``method path`` carrying message id ``message`` falls under this rule."""
        if self.method != "*" and self.method != method.upper():
            return False
        if not fnmatch.fnmatchcase(path, self.path_pattern):
            return False
        return self.id is None or self.id == message

    def may_match(self, method: str, path: str) -> bool:
        """Whether a request could fall under this rule, before its body (and message id) is read."""
        return (self.method in ("*", method.upper())) and fnmatch.fnmatchcase(path, self.path_pattern)

    def as_dict(self) -> dict[str, Any]:
        action: Any
        if isinstance(self.action, Status):
            action = {"status": self.action.code}
            if self.action.retry_after is not None:
                action["retry_after"] = self.action.retry_after
        elif isinstance(self.action, Delay):
            action = {"delay": self.action.seconds}
        else:
            action = self.action.describe()
        rule: dict[str, Any] = {"method": self.method, "path": self.path_pattern, "count": self.count}
        if self.id is not None:
            rule["id"] = self.id
        return {**rule, "action": action}


@dataclass(slots=True, frozen=True)
class FaultPlan:
    """The rules of a plan, in the order they are tried."""

    rules: tuple[FaultRule, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"rules": [rule.as_dict() for rule in self.rules]}


def _action(value: Any, where: str) -> Action:
    if isinstance(value, str):
        if value in ACTION_NAMES:
            return ACTION_NAMES[value]
        raise FaultPlanError(f"{where}: action {value!r} is not one of {', '.join(ACTION_NAMES)}, status or delay")
    if not isinstance(value, Mapping):
        raise FaultPlanError(f"{where}: action is a name or a mapping ({{status: CODE}} or {{delay: SECONDS}})")
    if "status" in value:
        unknown = set(value) - {"status", "retry_after"}
        if unknown:
            raise FaultPlanError(f"{where}: unknown key {sorted(unknown)[0]!r} of a status action")
        code = value["status"]
        if not isinstance(code, int) or isinstance(code, bool) or not 400 <= code <= 599:
            raise FaultPlanError(f"{where}: status must be an HTTP status from 400 to 599")
        retry_after = value.get("retry_after")
        if retry_after is not None:
            _check_retry_after(retry_after, where)
        return Status(code, retry_after)
    if "delay" in value:
        if set(value) != {"delay"}:
            raise FaultPlanError(f"{where}: a delay action has only 'delay'")
        seconds = value["delay"]
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not 0 < seconds <= 300:
            raise FaultPlanError(f"{where}: delay is a number of seconds, above 0 and at most 300")
        return Delay(float(seconds))
    raise FaultPlanError(f"{where}: an action mapping needs 'status' or 'delay'")


def _check_retry_after(value: Any, where: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise FaultPlanError(f"{where}: retry_after seconds must not be negative")
        return
    if isinstance(value, str) and (_HTTP_DATE_AHEAD.match(value) or _parse_http_date(value) is not None):
        return
    raise FaultPlanError(f"{where}: retry_after is delta-seconds, 'http-date+SECONDS' or an HTTP-date")


def _parse_http_date(value: str) -> dt.datetime | None:
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo is not None else None


def parse_plan(document: Any, where: str = "fault plan", defaults: Mapping[str, str] | None = None) -> FaultPlan:
    """The plan of a YAML/JSON document: ``{rules: [RULE, ...]}`` or the bare list of rules.

    A rule is ``{method, path, id, count, action}`` (only ``action`` required); ``defaults`` gives ``method`` and
    ``path`` for rules that leave them out (a scenario's deliver step: its path, POST).
    """
    rules = document.get("rules") if isinstance(document, Mapping) else document
    if isinstance(document, Mapping) and set(document) - {"rules"}:
        raise FaultPlanError(f"{where}: unknown key {sorted(set(document) - {'rules'})[0]!r} (a plan has 'rules')")
    if not isinstance(rules, list):
        raise FaultPlanError(f"{where}: a plan is a list of rules (or {{rules: [...]}})")
    if len(rules) > MAX_RULES:
        raise FaultPlanError(f"{where}: at most {MAX_RULES} rules")
    defaults = defaults or {}
    parsed: list[FaultRule] = []
    for index, rule in enumerate(rules):
        at = f"{where}: rules[{index}]"
        if not isinstance(rule, Mapping):
            raise FaultPlanError(f"{at}: a rule is a mapping")
        unknown = set(rule) - {"method", "path", "id", "count", "action"}
        if unknown:
            raise FaultPlanError(f"{at}: unknown key {sorted(unknown)[0]!r}")
        if "action" not in rule:
            raise FaultPlanError(f"{at}: 'action' is required")
        method = str(rule.get("method", defaults.get("method", "*"))).upper()
        if method != "*" and not method.isalpha():
            raise FaultPlanError(f"{at}: method {method!r} is not an HTTP method or '*'")
        path = str(rule.get("path", defaults.get("path", "*")))
        if not path.startswith(("/", "*")):
            raise FaultPlanError(f"{at}: path {path!r} must start with '/' (or be a pattern starting with '*')")
        count = rule.get("count")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
            raise FaultPlanError(f"{at}: count is a positive integer, or absent for every matching request")
        ident = rule.get("id")
        if ident is not None and (not isinstance(ident, str) or not ident):
            raise FaultPlanError(f"{at}: id is the message id (reportId, CAP identifier, ...) as a string")
        parsed.append(FaultRule(_action(rule["action"], at), method, path, count, ident))
    return FaultPlan(tuple(parsed))


def retry_after_value(spec: int | str, now: float) -> str:
    """The ``Retry-After`` header for an answer given at ``now`` (seconds since the epoch)."""
    if isinstance(spec, int):
        return str(spec)
    ahead = _HTTP_DATE_AHEAD.match(spec)
    if ahead:  # whole seconds: the first one at least N s ahead, so the sender never has less than N
        return email.utils.formatdate(math.ceil(now) + int(ahead[1]), usegmt=True)
    return spec


_ID_MEMBERS = ("reportId", "identifier", "queryId", "distributionID", "id")
_ID_ELEMENTS = frozenset({"identifier", "distributionID", "reportId"})


def message_id(body: bytes, content_type: str = "") -> str | None:
    """The id of the message ``body`` carries (a JSON ``reportId``, ``identifier``, ``queryId``; the
    ``identifier`` of a CAP alert, the ``distributionID`` of an EDXL-DE, an XML report's ``reportId``), or None.

    Read with the harness's safe parsers (no DTD, no entities, bounded depth): a body that is not a message gives
    None, never an error.
    """
    if not body:
        return None
    stripped = body.lstrip()
    if stripped.startswith((b"{", b"[")):
        try:
            document = parse_json(body)
        except (UnsafeJson, ValueError, RecursionError):
            return None
        if isinstance(document, dict):
            for member in _ID_MEMBERS:
                value = document.get(member)
                if isinstance(value, str) and value:
                    return value
        return None
    if stripped.startswith(b"<"):
        try:
            root = parse_xml(body)
        except (UnsafeXml, ValueError):
            return None
        for child in root:
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag.rsplit("}", 1)[-1] in _ID_ELEMENTS and child.text and child.text.strip():
                return child.text.strip()
    return None
