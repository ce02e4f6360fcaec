"""One-line hints at the end of a run when the cause of its failures is plain (docs/decisions-users.md, "Hints").

A wrong base URL makes every answer ``404``: twenty scenarios each say ``expected 202, got 404`` and none
says why. :class:`RunHints` watches the run's events and, at the end, names the likely first cause once,
instead of once per scenario. It never changes a verdict.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from harness.events import Event, ExchangeCompleted, RunFinished, RunStarted

__all__ = ["MIN_ANSWERS", "RunHints"]

MIN_ANSWERS = 3
"""Fewer answers than this say nothing about a base URL (a suite of one 404 scenario is not a wrong URL)."""

BASE_PATH = "/netcode/v1"
"""Every path of the binding starts here (specs/README.md, binding rule 1); the suites add it themselves."""


class RunHints:
    """Counts the system under test's answers; :meth:`lines` gives the hints for the finished run."""

    def __init__(self) -> None:
        self.target = ""
        self.answers = 0
        self.not_found = 0

    def observe(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.target, self.answers, self.not_found = event.target, 0, 0
        elif isinstance(event, ExchangeCompleted) and event.direction == "harness->sut" and event.status is not None:
            self.answers += 1
            self.not_found += event.status == 404

    def lines(self, event: RunFinished | None = None) -> list[str]:
        """The hints for the run (empty when nothing is plain)."""
        target = event.target if event is not None and event.target else self.target
        if self.answers < MIN_ANSWERS or self.not_found != self.answers:
            return []
        path = urlsplit(target).path.rstrip("/")
        advice = (
            f"drop {path[path.find(BASE_PATH) :]} from --target: the suites add {BASE_PATH}/... themselves"
            if BASE_PATH in path
            else f"--target must be the URL under which {BASE_PATH}/... is served"
        )
        return [f"hint: all {self.answers} answers of {target} were 404 Not Found: check the base URL ({advice})"]
