"""Events the runner emits; reporters consume them and nothing else."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.model import ScenarioResult, Verdict

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
        name = {Verdict.ERROR: "errors"}.get(verdict, str(verdict))
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
    """One message as it crossed the wire (raw: reporters redact what they write)."""

    start_line: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(slots=True, frozen=True)
class ExchangeCompleted:
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
    response: WireMessage | None = None
    sent: str = ""
    answered: str = ""


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
        """Every MUST scenario passed."""
        return all(r.verdict == Verdict.PASSED for r in self.results if r.level == "MUST") and not self.interrupted


Event = RunStarted | RunNote | OperatorActionRequired | ExchangeCompleted | ScenarioFinished | RunFinished


class Listener(Protocol):
    def __call__(self, event: Event) -> None: ...
