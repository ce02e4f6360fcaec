"""Value types and the harness's one exception hierarchy.

This module imports nothing of the harness: every other layer builds on it.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "STEP_KINDS",
    "BadAnswer",
    "CatalogError",
    "CheckFailure",
    "ConfigurationError",
    "Finding",
    "Format",
    "HarnessError",
    "Level",
    "Sample",
    "Scenario",
    "ScenarioResult",
    "Severity",
    "Step",
    "Suite",
    "SuiteStatus",
    "TargetUnreachable",
    "TransportError",
    "UsageError",
    "Verdict",
    "certified_by_rule",
    "not_checked_note",
    "percentile",
    "summary_key",
]


class HarnessError(Exception):
    """Base of every error the harness raises on purpose.

    Its message is one line a user can act on; the CLI prints it without a
    traceback and maps the subclass to an exit code.
    """

    exit_code = 2


class UsageError(HarnessError):
    """The command line or an input file cannot be used as given."""


class ConfigurationError(HarnessError):
    """A suite, format or option is unknown or inconsistent."""


class CatalogError(ConfigurationError):
    """The fixtures on disk are inconsistent (a bug in the catalog data)."""


class TransportError(HarnessError):
    """A message could not be carried to or from the system under test."""

    attempts: tuple[Any, ...] = ()
    """What crossed the wire before it failed (``harness.transport.Attempt`` records): a transport sets it so
    that a request sent without a complete answer is still recorded."""


class BadAnswer(TransportError):
    """The system under test answered, but with something no conforming system sends
    (over the size limit, malformed, cut off, too slow): a failed check, not a harness error."""


class TargetUnreachable(TransportError):
    """The system under test does not accept connections at all."""

    exit_code = 3


@dataclass(slots=True, frozen=True)
class Finding:
    """One reason a message is not valid.

    `location` is a JSON Pointer (RFC 6901) for JSON and an XPath for XML;
    `rule` is a rule id of the profile (``IR-03``) or ``schema``.
    """

    location: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"location": self.location, "rule": self.rule, "message": self.message}


class Severity(enum.StrEnum):
    """How much a broken rule weighs (binding rule 10): an error makes a message invalid, a warning does not."""

    ERROR = "error"
    WARNING = "warning"


class SuiteStatus(enum.StrEnum):
    """Where a suite version (and the document version it certifies) is in its life (specs/README.md)."""

    CURRENT = "current"
    SUPERSEDED = "superseded"
    """A newer version exists; this one stays runnable and its certificates stay valid."""
    RETIRED = "retired"
    """No longer certifiable: a run of it certifies nothing."""


class Level(enum.StrEnum):
    MUST = "MUST"
    SHOULD = "SHOULD"


class Verdict(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"
    MANUAL = "manual"


_SUMMARY_KEYS = {"passed": "passed", "failed": "failed", "error": "errors", "skipped": "skipped", "manual": "manual"}


def summary_key(verdict: str) -> str:
    """The key of ``summary`` (results.json, the predicate) that counts ``verdict``: ``error`` -> ``errors``.

    KeyError for a string that is no verdict: callers reading untrusted documents check first.
    """
    return _SUMMARY_KEYS[str(verdict)]


def certified_by_rule(outcomes: Iterable[tuple[str, str]], *, interrupted: bool, certifying: bool) -> bool:
    """README rule 9, written once: every MUST scenario passed, in a whole run that certifies.

    ``outcomes`` are ``(level, verdict)`` pairs. Whoever calls this chooses where the levels
    come from: the runner from its suite, the verifier from the *issued* suite (evidence.md, check 7).
    """
    must_passed = all(str(verdict) == "passed" for level, verdict in outcomes if str(level) == "MUST")
    return must_passed and not interrupted and certifying


@dataclass(slots=True, frozen=True)
class CheckFailure:
    """A conformance check that did not hold, explained as (field, expected, actual).

    ``not_checked`` names the checks of the same answer that were not evaluated because this one failed
    (a wrong status: the body and headers of that answer are not judged, docs/verdicts.md): one failure
    line per cause, the checks it hides named on it.
    """

    step: str
    check: str
    expected: Any
    actual: Any
    message: str
    not_checked: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "check": self.check,
            "expected": self.expected,
            "actual": self.actual,
            "message": self.message,
            **({"not_checked": list(self.not_checked)} if self.not_checked else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckFailure:
        """The inverse of :meth:`as_dict` (``not_checked`` is optional: older documents lack it)."""
        hidden = data.get("not_checked") or ()
        return cls(
            data["step"],
            data["check"],
            data["expected"],
            data["actual"],
            data["message"],
            tuple(str(name) for name in hidden) if isinstance(hidden, list | tuple) else (),
        )

    @property
    def not_checked_note(self) -> str:
        """``not checked (status was 202): problem, json``, or "" when this failure hides no check."""
        return not_checked_note(self.check, self.actual, self.not_checked)


def not_checked_note(check: str, actual: Any, hidden: Iterable[str]) -> str:
    """``not checked (status was 202): problem, json``: the checks a failed ``check`` kept from running, the
    same words in every output (console, HTML, JUnit, pytest); "" when it kept none."""
    names = ", ".join(str(name) for name in hidden)
    if not names:
        return ""
    cause = check.split(":", 1)[0]  # "status: status" -> "status"
    return f"not checked ({cause} was {actual}): {names}"


def percentile(values: list[float], rank: int) -> float:
    """Nearest-rank percentile: the smallest value with at least ``rank`` % of the values at or below it."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(rank / 100 * len(ordered)) - 1)]


@dataclass(slots=True, frozen=True)
class ScenarioResult:
    id: str
    title: str
    level: Level
    verdict: Verdict
    duration_ms: float
    failures: tuple[CheckFailure, ...] = ()
    exchanges: int = 0
    latencies_ms: tuple[float, ...] = field(default=())
    latency: dict[str, Any] | None = field(default=None, compare=False)
    """A latency summary read back from a journal (when the raw latencies are gone)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "level": str(self.level),
            "verdict": str(self.verdict),
            "duration_ms": round(self.duration_ms, 3),
            "failures": [f.as_dict() for f in self.failures],
            **({"latency_ms": self.latency_summary()} if self.latencies_ms else {}),
            **({"latency_ms": self.latency} if self.latency and not self.latencies_ms else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScenarioResult:
        """The inverse of :meth:`as_dict` (latencies come back as their summary only)."""
        failures = tuple(CheckFailure.from_dict(f) for f in data["failures"])
        latency = data.get("latency_ms") or {}
        return cls(
            id=str(data["id"]),
            title=str(data["title"]),
            level=Level(data["level"]),
            verdict=Verdict(data["verdict"]),
            duration_ms=float(data["duration_ms"]),
            failures=failures,
            exchanges=int(latency.get("count", 0)),
            latencies_ms=(),
            latency=latency or None,
        )

    def latency_summary(self) -> dict[str, float]:
        """Count, median, 95th percentile (nearest rank) and maximum of this scenario's exchanges."""
        values = list(self.latencies_ms)
        return {
            "count": len(values),
            "p50": round(percentile(values, 50), 3),
            "p95": round(percentile(values, 95), 3),
            "max": round(max(values), 3),
        }


@dataclass(slots=True, frozen=True)
class Sample:
    """A message kept in the catalog: valid, or invalid with the rules it breaks."""

    path: str
    valid: bool
    rules: tuple[str, ...] = ()
    """Every rule it breaks in some version of its document."""
    by_version: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """When its manifest says so, the rules it breaks in each version of its document (``{"1.0": [MCD-06]}``):
    a version not listed is one where it breaks none (a message a newer version made valid)."""


@dataclass(slots=True, frozen=True, eq=False)
class Format:
    """A message format of the catalog, as its manifest describes it.

    Compared and hashed by identity: the catalog holds each format once, and the
    caches keyed by a format (compiled validators, samples) must not hash all of it.
    """

    id: str
    title: str
    syntax: str  # "json" or "xml"
    media_types: tuple[str, ...]
    schema_path: str
    rule_set: str | None
    family: str | None
    detect: tuple[tuple[str, str], ...]
    max_bytes: int
    samples: tuple[Sample, ...]
    directory: str
    embedded: tuple[Format, ...] = ()
    """Formats of the messages this one carries inside ``embedded_in`` elements (an envelope's contents)."""
    embedded_in: str | None = None
    """Clark name (``{namespace}local``) of the elements whose child elements are embedded messages."""
    document: str | None = None
    """The document of the profile whose rules judge this format (``alerts``), when it is versioned."""
    rules_version: str | None = None
    """The version of ``document`` whose rules (and their severities) apply; None: the latest rules."""

    @property
    def media_type(self) -> str:
        return self.media_types[0]

    @property
    def valid_samples(self) -> tuple[Sample, ...]:
        return tuple(s for s in self.samples if s.valid)

    @property
    def invalid_samples(self) -> tuple[Sample, ...]:
        return tuple(s for s in self.samples if not s.valid)


STEP_KINDS = ("exchange", "repeat", "trigger", "await")
"""What a scenario step does: send a request and judge the answer (``exchange``), the same ``repeat``-ed with
timing checks, make the SUT send to the reference endpoint and judge that (``trigger``), or judge what the SUT
sent to it because of earlier steps (``await``)."""


@dataclass(slots=True, frozen=True)
class Step:
    """One step of a scenario, checked when the catalog loaded it (harness/scenarios.py).

    ``raw`` is the step's mapping as the file gives it, for the runner; the typed fields say what it is.
    """

    name: str
    """Its ``id``, else ``step-N`` (1-based): how captures, ``same_as`` and failures name it."""
    kind: str
    checks: tuple[str, ...]
    """The check names of its ``expect`` block, in file order."""
    pointer: str
    """Where it sits in its file (``/steps/2``)."""
    raw: dict[str, Any] = field(compare=False)

    @property
    def request(self) -> dict[str, Any] | None:
        request = self.raw.get("request")
        return request if isinstance(request, dict) else None

    @property
    def expect(self) -> dict[str, Any]:
        expect = self.raw.get("expect")
        return expect if isinstance(expect, dict) else {}

    @property
    def transport(self) -> str | None:
        """The transport its request names (``sip``), None for the run's own."""
        request = self.request
        return str(request["transport"]) if request and request.get("transport") is not None else None


@dataclass(slots=True, frozen=True)
class Scenario:
    """A scenario of a suite, typed; ``raw`` is the mapping the runner replays (with ``_file``)."""

    id: str
    title: str
    level: Level
    file: str
    steps: tuple[Step, ...]
    serial: bool = False
    spec: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(slots=True, frozen=True)
class Suite:
    """A versioned certification suite: declarative scenarios read from its folder."""

    name: str
    version: str
    title: str
    description: str
    scenarios: tuple[dict[str, Any], ...]
    directory: str
    dataset: str | None = None
    """The certification data set the system under test must hold (``name@version``)."""
    counterpart: bool = False
    """Whether the suite needs a reference endpoint that the system under test sends to."""
    status: SuiteStatus = SuiteStatus.CURRENT
    """Where this suite version is in its life (the catalog's register, not the suite's folder)."""
    certifies: tuple[tuple[str, str], ...] = ()
    """The document versions this suite version certifies, as ``(document, version)`` (``("alerts", "1.1")``)."""
    digest: str | None = None
    """The register's SHA-256 (lowercase hex) of the suite version's folder (evidence.md, "Suite digest");
    None when the register holds none: such a suite version is not issued and certifies nothing."""

    @property
    def certifies_text(self) -> str:
        """``alerts@1.1`` (several joined with commas), or "" when the register names none."""
        return ", ".join(f"{document}@{version}" for document, version in self.certifies)

    typed: tuple[Scenario, ...] = field(default=(), compare=False)
    """The scenarios as typed values (same order as ``scenarios``, whose mappings the runner replays)."""

    def scenario(self, scenario_id: str) -> Scenario:
        """The typed scenario ``scenario_id`` (ConfigurationError when the suite has none)."""
        for scenario in self.typed:
            if scenario.id == scenario_id:
                return scenario
        raise ConfigurationError(f"suite {self.ref} has no scenario {scenario_id!r}")

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"
