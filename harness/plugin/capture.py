"""The exchanges of each scenario a pytest process ran, kept on disk for the process that writes the reports.

Under pytest-xdist the scenarios of a suite run in several worker processes, and only the controller
writes the run's reports (one evidence bundle, one ``report.html``). Each process appends the exchange
events of a scenario to a file of its own, redacted, one JSON line per event; the controller reads them
back as events, in the suite's order, into the same reporters as ``harness run`` (the one run session).
Every field of an event is kept, so what the runner adds to an event reaches the reporters unchanged.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.events import ExchangeCompleted, WireMessage
from harness.reporting import Redactor

__all__ = ["ExchangeCapture", "capture_path", "read_events"]


def capture_path(folder: Path, scenario: str) -> Path:
    """The file of ``scenario``'s exchanges in ``folder`` (named by a digest: ids are not file names)."""
    return folder / f"{hashlib.sha256(scenario.encode()).hexdigest()[:24]}.jsonl"


def _bytes(data: bytes) -> list[str]:
    try:
        return [data.decode("utf-8"), "utf-8"]
    except UnicodeDecodeError:  # byte for byte through Latin-1, so a secret in it is still found and redacted
        return [data.decode("latin-1"), "latin-1"]


def _wire(message: WireMessage) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for each in dataclasses.fields(message):
        value = getattr(message, each.name)
        if isinstance(value, bytes):
            fields[each.name] = {"bytes": _bytes(value)}
        elif isinstance(value, tuple):
            fields[each.name] = [list(pair) for pair in value]
        else:
            fields[each.name] = value
    return fields


def _unwire(data: dict[str, Any]) -> WireMessage:
    fields: dict[str, Any] = {}
    for name, value in data.items():
        if isinstance(value, dict) and set(value) == {"bytes"}:
            text, encoding = value["bytes"]
            fields[name] = str(text).encode(str(encoding))
        elif name == "headers":
            fields[name] = tuple((str(key), str(item)) for key, item in value)
        else:
            fields[name] = value
    return WireMessage(**fields)


def _plain(value: Any) -> Any:
    if isinstance(value, WireMessage):
        return {"__wire__": _wire(value)}
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def _restored(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"__wire__"}:
        return _unwire(value["__wire__"])
    return value


class ExchangeCapture:
    """A run listener: each exchange event of a scenario appended to that scenario's file, redacted."""

    def __init__(self, folder: Path, redact: Redactor) -> None:
        self.folder = folder
        self.redact = redact

    def start(self, scenario: str) -> Path:
        """A scenario is about to run (again): its file starts empty."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = capture_path(self.folder, scenario)
        path.unlink(missing_ok=True)
        return path

    def __call__(self, event: object) -> None:
        if not isinstance(event, ExchangeCompleted):
            return
        fields = {f.name: _plain(getattr(event, f.name)) for f in dataclasses.fields(event)}
        line = self.redact(json.dumps(fields, ensure_ascii=False, default=str))
        self.folder.mkdir(parents=True, exist_ok=True)
        with capture_path(self.folder, event.scenario).open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def read_events(path: Path) -> Iterator[ExchangeCompleted]:
    """The exchange events a capture file holds, in the order they happened (none when there is no file)."""
    if not path.is_file():
        return
    names = {f.name for f in dataclasses.fields(ExchangeCompleted)}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            fields = json.loads(line)
            yield ExchangeCompleted(**{key: _restored(value) for key, value in fields.items() if key in names})
