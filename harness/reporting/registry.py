"""The reporters: the registry ``harness.extensions.REPORTERS``, over the entry-point group ``harness.reporters``.

Each entry point is a factory ``make(context: ReporterContext) -> Listener | None``;
``None`` means the reporter is not enabled for this run.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from harness.catalog import Catalog
from harness.events import Event, Listener
from harness.extensions import REPORTERS
from harness.model import ConfigurationError, Suite
from harness.reporting import ConsoleReporter, JournalReporter, JUnitReporter, Redactor, ResultsJsonReporter

__all__ = [
    "GROUP",
    "GuardedReporter",
    "ReporterContext",
    "ReporterFactory",
    "load_named_reporters",
    "load_reporters",
    "make_console",
    "make_journal",
    "make_junit",
    "make_results_json",
]

GROUP = REPORTERS.group

_FIRST = ("console", "journal", "results-json", "junit")
"""The built-in reporters' order (console first, so its lines come before any file is written); others follow
by name."""


@dataclass(slots=True, frozen=True)
class ReporterContext:
    """What a reporter factory is given. ``options`` holds run-level settings (``sut``, ``sign_key``,
    ``junit``, ``console``, ...): a factory reads the ones it knows and ignores the rest."""

    reports: Path
    redact: Redactor
    catalog: Catalog
    suite: Suite
    options: Mapping[str, Any] = field(default_factory=dict)


ReporterFactory = Callable[[ReporterContext], Listener | None]


def make_console(context: ReporterContext) -> Listener | None:
    """Progress and verdicts on standard output, unless ``console`` is false."""
    return ConsoleReporter(redact=context.redact) if context.options.get("console", True) else None


def make_journal(context: ReporterContext) -> Listener | None:
    """Every event appended to ``journal.jsonl`` as it happens (a report can be rebuilt from it)."""
    return JournalReporter(context.reports / "journal.jsonl", context.redact)


def make_results_json(context: ReporterContext) -> Listener | None:
    """``results.json`` when the run finishes."""
    sut = context.options.get("sut")
    declared = sut.as_dict() if sut is not None and hasattr(sut, "as_dict") else None
    return ResultsJsonReporter(context.reports, context.redact, context.options.get("run_id"), declared)


def make_junit(context: ReporterContext) -> Listener | None:
    """JUnit XML at the path given as option ``junit``; off without it."""
    path = context.options.get("junit")
    return JUnitReporter(Path(path), context.redact) if path else None


def _rank(name: str) -> tuple[int, str]:
    return (_FIRST.index(name) if name in _FIRST else len(_FIRST), name)


def load_reporters(context: ReporterContext, only: tuple[str, ...] | None = None) -> list[Listener]:
    """The enabled reporters of every installed factory (or only of those named), in a stable order."""
    return [listener for _, listener in load_named_reporters(context, only)]


def load_named_reporters(context: ReporterContext, only: tuple[str, ...] | None = None) -> list[tuple[str, Listener]]:
    """Like :func:`load_reporters`, each with the name of its entry point."""
    known = REPORTERS.names()
    names = known if only is None else frozenset(only)
    missing = sorted(names - known)
    if missing:
        raise ConfigurationError(f"no reporter {', '.join(missing)} is installed (entry-point group {GROUP})")
    listeners: list[tuple[str, Listener]] = []
    for name in sorted(names, key=_rank):
        factory: ReporterFactory = REPORTERS.get(name)
        listener = factory(context)
        if listener is not None:
            listeners.append((name, listener))
    return listeners


def _one_line(text: str, limit: int = 300) -> str:
    """A message on one line, control characters escaped (it may quote what a SUT sent)."""
    line = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return line if len(line) <= limit else line[: limit - 1] + "…"


class GuardedReporter:
    """A reporter that cannot stop the run nor the other reporters.

    The first exception it raises (a ``RecursionError`` on a hostile body, a full disk) is reported on
    one line naming the reporter, kept in ``failure``, and the reporter hears nothing more (what it would
    write next would build on a half-done state). The run's verdict and exit code are not its business.
    """

    def __init__(
        self, name: str, listener: Listener, redact: Redactor | None = None, stream: TextIO | None = None
    ) -> None:
        self.name = name
        self.listener = listener
        self.redact = redact or Redactor()
        self.stream = stream
        self.failure: str | None = None

    def __call__(self, event: Event) -> None:
        if self.failure is not None:
            return
        try:
            self.listener(event)
        except Exception as exc:  # any fault of one reporter is contained and reported
            self._failed(f"on {type(event).__name__}", exc)

    def close(self) -> None:
        closing = getattr(self.listener, "close", None)
        if not callable(closing):
            return
        try:
            closing()
        except Exception as exc:  # closing one reporter must not keep the others open
            self._failed("closing", exc)

    def _failed(self, when: str, exc: BaseException) -> None:
        detail = self.redact(_one_line(f"{type(exc).__name__}: {exc}"))
        line = f"reporter {self.name} failed {when} ({detail}); the run and the other reporters went on"
        if self.failure is None:
            self.failure = line
        print(f"error: {line}", file=self.stream or sys.stderr, flush=True)
