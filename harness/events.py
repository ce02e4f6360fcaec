"""Events the runner emits; reporters consume them and nothing else."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.model import ScenarioResult, Verdict, certified_by_rule, summary_key

__all__ = [
    "Event",
    "ExchangeCompleted",
    "Listener",
    "OperatorActionRequired",
    "RunFinished",
    "RunNote",
    "RunStarted",
    "ScenarioFinished",
    "Summary",
    "WireMessage",
]


@dataclass(slots=True)
class Summary:
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    manual: int = 0

    def add(self, verdict: Verdict) -> None:
        name = summary_key(verdict)
        setattr(self, name, getattr(self, name) + 1)

    def merge(self, other: Summary) -> None:
        for name in ("passed", "failed", "errors", "skipped", "manual"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return {
            "passed": self.passed,
            "failed": self.failed,
            "errors": self.errors,
            "skipped": self.skipped,
            "manual": self.manual,
        }


@dataclass(slots=True, frozen=True)
class RunStarted:
    suite: str
    version: str
    target: str
    started: str
    scenarios: int


@dataclass(slots=True, frozen=True)
class WireMessage:
    """One message as it crossed the wire: start line, headers, raw body.

    Not redacted: a reporter that writes it anywhere redacts it first with
    :class:`harness.reporting.Redactor`. ``body`` references the bytes the
    transport already holds (no copy).
    """

    start_line: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    decoded: bytes | None = None
    """The body with its ``Content-Encoding`` undone, when it had one (``body`` stays as it crossed the wire)."""


@dataclass(slots=True, frozen=True)
class ExchangeCompleted:
    """One exchange of a step: one sending of a request (``attempt`` 1, 2, ... when the transport sent it
    again) and the answer to it (None when none came complete).

    ``direction`` is ``"harness->sut"`` for what the harness sent to the SUT, or
    ``"sut->reference"`` for what the SUT sent to the counterpart reference endpoint
    (then ``request`` is the SUT's message and ``answer`` the counterpart's answer).
    ``sent`` and ``answered`` are RFC 3339 UTC times with milliseconds; ``bindings`` what the step
    captured from the answer (``capture:``).
    """

    scenario: str
    step: str
    method: str
    url: str
    status: int | None
    elapsed_ms: float
    request_bytes: int
    response_bytes: int
    direction: str = "harness->sut"
    transport: str = "http"
    request: WireMessage | None = None
    answer: WireMessage | None = None
    sent: str = ""
    answered: str = ""
    attempt: int = 1
    bindings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class RunNote:
    """Something the operator should know about the run (a hook missing, a data set loaded)."""

    message: str


@dataclass(slots=True, frozen=True)
class OperatorActionRequired:
    """An interactive run waits for the operator to make the SUT do something."""

    scenario: str
    step: str
    instruction: str
    timeout_s: float


@dataclass(slots=True, frozen=True)
class ScenarioFinished:
    result: ScenarioResult


@dataclass(slots=True, frozen=True)
class RunFinished:
    suite: str
    version: str
    target: str
    started: str
    finished: str
    summary: Summary
    results: tuple[ScenarioResult, ...]
    interrupted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def certified(self) -> bool:
        """Every MUST scenario passed, in a run that certifies (not of a retired suite version)."""
        outcomes = ((str(r.level), str(r.verdict)) for r in self.results)
        return certified_by_rule(outcomes, interrupted=self.interrupted, certifying=self.certifying)

    @property
    def certifying(self) -> bool:
        """False for a run marked as not certifying (a retired suite version run on request)."""
        return self.extra.get("certifying", True) is not False


Event = RunStarted | RunNote | OperatorActionRequired | ExchangeCompleted | ScenarioFinished | RunFinished


class Listener(Protocol):
    def __call__(self, event: Event) -> None: ...
