"""What a load run replays, how its outcomes are counted, and the ``load.json`` it ends with.

No Locust and no I/O here: the command and the Locust processes share these values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from harness.model import CheckFailure, Suite, UsageError
from harness.transport import TransportOptions

__all__ = [
    "CREDENTIALS_ENV",
    "MAX_DUPLICATES",
    "MAX_EXAMPLES",
    "LoadPlan",
    "Tally",
    "check_and_rule",
    "load_result",
    "read_credentials",
    "replayable",
    "write_credentials",
]

MAX_EXAMPLES = 3
"""Examples kept for each (check, rule): enough to see the failure, bounded whatever the run's length."""

MAX_DUPLICATES = 10_000
"""Duplicated messages recorded one by one for the retrieval after the load; beyond, they are only counted."""

MAX_KINDS = 200
"""Distinct (check, rule) pairs counted one by one; beyond that they count under ``(other)``."""

CREDENTIALS_ENV = "HARNESS_LOAD_CREDENTIALS"
"""How ``harness load`` hands its credentials (headers, TLS files, key password) to its Locust processes: in
their environment, never on a command line (``ps`` shows it) nor in the plan (it travels to workers in clear)."""

_REPLAYABLE_STEP = frozenset({"id", "request", "expect", "capture", "title", "description", "note"})
_RULE_IN_EXPECTED = re.compile(r"\(([^()]+)\)$")


@dataclass(slots=True, frozen=True)
class LoadPlan:
    """Everything a Locust process needs to replay a suite (it travels as JSON to the workers)."""

    suite: str
    target: str
    scenarios: tuple[str, ...]
    exchanges: int = 0
    """Stop after about this many exchanges (0: no count, the duration ends the run)."""
    timeout_s: float = 10.0
    duplicate_rate: float = 0.0
    """The fraction of messages sent again at the same time on another connection (RR-01; ``--duplicate-rate``)."""

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> LoadPlan:
        data = json.loads(text)
        return cls(
            str(data["suite"]),
            str(data["target"]),
            tuple(str(s) for s in data["scenarios"]),
            int(data["exchanges"]),
            float(data["timeout_s"]),
            float(data.get("duplicate_rate", 0.0)),
        )


def _replayable(scenario: Mapping[str, Any]) -> bool:
    """A scenario of plain HTTP exchanges: no trigger, no awaited message, no repeat, no other transport."""
    for step in scenario.get("steps", ()):
        if not isinstance(step, dict) or not set(step) <= _REPLAYABLE_STEP or "request" not in step:
            return False
        request = step["request"]
        if not isinstance(request, dict) or request.get("transport") is not None:
            return False
    return bool(scenario.get("steps"))


def replayable(suite: Suite, wanted: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The scenarios of ``suite`` a load run replays: those named (each must be replayable), else every
    replayable one. A UsageError when a name is unknown or none can be replayed."""
    by_id = {str(s["id"]): s for s in suite.scenarios}
    if wanted:
        chosen = []
        for name in wanted:
            if name not in by_id:
                raise UsageError(f"suite {suite.ref} has no scenario {name!r}")
            if not _replayable(by_id[name]):
                raise UsageError(
                    f"scenario {name} cannot be replayed under load (it waits for the SUT, repeats or uses another "
                    "transport): load replays plain HTTP exchanges"
                )
            chosen.append(dict(by_id[name]))
        return chosen
    chosen = [dict(s) for s in suite.scenarios if _replayable(s)]
    if not chosen:
        raise UsageError(f"suite {suite.ref} has no scenario of plain HTTP exchanges to replay under load")
    return chosen


def check_and_rule(failure: CheckFailure) -> tuple[str, str]:
    """The check (the scenario's ``expect`` key) and the rule a failure breaks: the format's rule id
    for a body that is not valid, else what the check looked at (``status``, ``header Content-Type``)."""
    check, _, field = failure.check.partition(": ")
    if check == "format":
        found = _RULE_IN_EXPECTED.search(str(failure.expected))
        if found:
            return check, found.group(1)
    return check, field or check


class Tally:
    """Exchanges, conformance failures by (check, rule) with bounded examples, and errors.

    Workers hand :meth:`take` (what was counted since the last take) to the master, which :meth:`merge`\\ s.
    """

    def __init__(self) -> None:
        self.exchanges = 0
        self.failed = 0
        self.errors = 0
        self.by_check: dict[tuple[str, str], list[Any]] = {}
        self.error_examples: list[str] = []
        self.duplicated = 0
        self.duplicates: list[dict[str, Any]] = []

    def duplicate(self, record: Mapping[str, Any]) -> None:
        """One message sent twice at once (``--duplicate-rate``): what both attempts got, for the retrieval."""
        self.duplicated += 1
        if len(self.duplicates) < MAX_DUPLICATES:
            self.duplicates.append(dict(record))

    def passed(self) -> None:
        self.exchanges += 1

    def failures(self, scenario: str, found: Iterable[CheckFailure]) -> str:
        """Count one exchange whose answer broke checks; returns a one-line summary for Locust."""
        self.exchanges += 1
        self.failed += 1
        first = ""
        for failure in found:
            key = check_and_rule(failure)
            if key not in self.by_check and len(self.by_check) >= MAX_KINDS:
                key = ("(other)", "(other)")
            entry = self.by_check.setdefault(key, [0, []])
            entry[0] += 1
            if len(entry[1]) < MAX_EXAMPLES:
                entry[1].append(f"{scenario}/{failure.step}: {failure.message}"[:300])
            first = first or f"{key[0]}: {key[1]}"
        return first

    def error(self, scenario: str, what: str) -> None:
        self.exchanges += 1
        self.errors += 1
        if len(self.error_examples) < MAX_EXAMPLES:
            self.error_examples.append(f"{scenario}: {what}"[:300])

    def take(self) -> dict[str, Any]:
        """What was counted since the last take, as JSON-ready data; the tally starts again from zero."""
        data = {
            "exchanges": self.exchanges,
            "failed": self.failed,
            "errors": self.errors,
            "by_check": [[check, rule, count, examples] for (check, rule), (count, examples) in self.by_check.items()],
            "error_examples": self.error_examples,
            "duplicated": self.duplicated,
            "duplicates": self.duplicates,
        }
        self.__init__()  # type: ignore[misc]
        return data

    def merge(self, data: Mapping[str, Any]) -> None:
        self.exchanges += int(data["exchanges"])
        self.failed += int(data["failed"])
        self.errors += int(data["errors"])
        for check, rule, count, examples in data["by_check"]:
            key = (str(check), str(rule))
            if key not in self.by_check and len(self.by_check) >= MAX_KINDS:
                key = ("(other)", "(other)")
            entry = self.by_check.setdefault(key, [0, []])
            entry[0] += int(count)
            entry[1].extend(str(e) for e in examples[: MAX_EXAMPLES - len(entry[1])])
        room = MAX_EXAMPLES - len(self.error_examples)
        self.error_examples.extend(str(e) for e in data["error_examples"][: max(0, room)])
        self.duplicated += int(data.get("duplicated", 0))
        space = MAX_DUPLICATES - len(self.duplicates)
        self.duplicates.extend(dict(d) for d in data.get("duplicates", ())[: max(0, space)])


def load_result(
    suite: str,
    target: str,
    tally: Tally,
    elapsed_s: float,
    latency_ms: Mapping[str, float],
    steps: Sequence[Mapping[str, Any]] = (),
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``load.json`` document (the command contract of issue 15, plus ``steps`` and ``processes``)."""
    by_check = sorted(tally.by_check.items(), key=lambda item: (-item[1][0], item[0]))
    return {
        "suite": suite,
        "target": target,
        "exchanges": tally.exchanges,
        "failures": tally.failed,
        "errors": tally.errors,
        "failure_rate": round(tally.failed / tally.exchanges, 6) if tally.exchanges else 0.0,
        "rps": round(tally.exchanges / elapsed_s, 1) if elapsed_s > 0 else 0.0,
        "latency_ms": dict(latency_ms),
        "by_check": [
            {"check": check, "rule": rule, "count": count, "examples": list(examples)}
            for (check, rule), (count, examples) in by_check
        ],
        "error_examples": list(tally.error_examples),
        "elapsed_s": round(elapsed_s, 3),
        "steps": list(steps),
        **dict(extra or {}),
    }


def write_credentials(options: TransportOptions) -> str:
    """``options``' credentials as the value of :data:`CREDENTIALS_ENV`."""
    return json.dumps(
        {
            "headers": [list(pair) for pair in options.headers],
            "ca_bundle": options.ca_bundle,
            "client_cert": options.client_cert,
            "client_key": options.client_key,
            "key_password": options.key_password,
        }
    )


def read_credentials(text: str, timeout_s: float) -> TransportOptions:
    """The transport options of a Locust process: ``timeout_s`` and the credentials of :func:`write_credentials`
    (none when ``text`` is empty)."""
    data: dict[str, Any] = json.loads(text) if text else {}
    return TransportOptions(
        timeout_s=timeout_s,
        ca_bundle=data.get("ca_bundle"),
        client_cert=data.get("client_cert"),
        client_key=data.get("client_key"),
        key_password=data.get("key_password"),
        headers=tuple((str(name), str(value)) for name, value in data.get("headers", ())),
    )
