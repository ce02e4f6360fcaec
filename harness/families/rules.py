"""Rules beyond the schema, written once against a format family's JSON model.

A rule set is a list of functions registered with :func:`rule`. Each takes
the message's JSON model (the XML rendition is converted first) and yields
``(path, message)`` pairs; the validator turns paths into JSON Pointers or
XPaths for the rendition at hand. Rules run even when the schema failed, so
they must tolerate any shape: a rule that cannot judge a malformed part
stays silent about it (the schema error already explains it).

Every rule declares its severity with it, as a history over the versions of
the document that states it: ``history=(("1.0", ERROR), ("1.1", WARNING))``
is an error from 1.0 and a warning from 1.1 on; ``(("1.1", ERROR),)`` a rule
that 1.1 adds; a ``None`` severity withdraws the rule from that version on.
The default, ``(("1.0", ERROR),)``, is an error in every version.
"""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from harness.extensions import FAMILIES
from harness.model import Severity

__all__ = [
    "ALWAYS_AN_ERROR",
    "RULE_SETS",
    "History",
    "Rule",
    "RuleViolation",
    "judge",
    "rule",
    "rules_in_force",
    "run_rules",
    "version_key",
]

Path = tuple[str | int, ...]
RuleViolation = tuple[Path | str, str]
"""A rule's finding: where (a model path, or an XPath string for formats without a model) and why."""
RuleFunction = Callable[[Any], Iterable[RuleViolation]]


History = tuple[tuple[str, Severity | None], ...]
"""``(version, severity from that version on)``, oldest first; ``None`` withdraws the rule."""
ALWAYS_AN_ERROR: History = (("1.0", Severity.ERROR),)


def version_key(version: str) -> tuple[tuple[int, str], ...]:
    """Orders ``1.0 < 1.1 < 1.10``; a non-numeric part sorts before the numbers."""
    return tuple((int(part), "") if part.isdigit() else (-1, part) for part in version.split("."))


@dataclass(slots=True, frozen=True)
class Rule:
    id: str
    statement: str
    check: RuleFunction
    history: History = ALWAYS_AN_ERROR

    def severity_at(self, version: str | None) -> Severity | None:
        """The rule's severity in ``version`` of its document (None: not a rule there); None version: the latest."""
        if version is None:
            return self.history[-1][1]
        severity: Severity | None = None
        for since, value in self.history:
            if version_key(since) <= version_key(version):
                severity = value
        return severity


RULE_SETS: dict[str, list[Rule]] = {}


def rule(
    rule_set: str, rule_id: str, statement: str, history: History = ALWAYS_AN_ERROR
) -> Callable[[RuleFunction], RuleFunction]:
    """Register ``function`` as rule ``rule_id`` of ``rule_set``, with its severity in each document version."""
    if not history or any(version_key(a[0]) >= version_key(b[0]) for a, b in itertools.pairwise(history)):
        raise ValueError(f"{rule_id}: the history of a rule is a non-empty list of versions in increasing order")

    def register(function: RuleFunction) -> RuleFunction:
        RULE_SETS.setdefault(rule_set, []).append(Rule(rule_id, statement, function, history))
        return function

    return register


def rules_in_force(rule_set: str, version: str | None = None) -> list[tuple[Rule, Severity]]:
    """The rules of ``rule_set`` that ``version`` of their document states, each with its severity there."""
    _load_builtin_rule_sets()
    rules = RULE_SETS.get(rule_set, ())
    key = (rule_set, version)
    cached = _IN_FORCE.get(key)
    if cached is not None and cached[0] == len(rules):  # rules are only ever added
        return cached[1]
    in_force = ((item, item.severity_at(version)) for item in rules)
    found = [(item, severity) for item, severity in in_force if severity is not None]
    _IN_FORCE[key] = (len(rules), found)
    return found


_IN_FORCE: dict[tuple[str, str | None], tuple[int, list[tuple[Rule, Severity]]]] = {}
"""What :func:`rules_in_force` found, by rule set and version (every validated message asks)."""


def run_rules(rule_set: str, document: Any, version: str | None = None) -> Iterator[tuple[str, Path | str, str]]:
    """Every violation of every rule of ``rule_set`` in force in ``version``, as ``(rule id, path, message)``."""
    for rule_id, path, message, _ in judge(rule_set, document, version):
        yield rule_id, path, message


def judge(rule_set: str, document: Any, version: str | None = None) -> Iterator[tuple[str, Path | str, str, Severity]]:
    """:func:`run_rules` with each violation's severity: ``(rule id, path, message, severity)``."""
    for item, severity in rules_in_force(rule_set, version):
        try:
            violations = list(item.check(document))
        except (TypeError, KeyError, ValueError, AttributeError, IndexError, OverflowError):
            # The document's shape is too broken for this rule; the schema reports why.
            continue
        for path, message in violations:
            yield item.id, path, message, severity


_IMPORTED: set[str] = set()
_FAMILIES_SEEN = [-1]  # FAMILIES.changes when their rule modules were last imported


def _load_builtin_rule_sets() -> None:
    """Import the rule modules of every registered format family (each registers its rules on import)."""
    changes = FAMILIES.changes
    if changes == _FAMILIES_SEEN[0]:  # every validated message asks: no walk when nothing changed
        return
    for _, family in FAMILIES.items():
        for module in family.rule_modules:
            if module not in _IMPORTED:
                importlib.import_module(module)
                _IMPORTED.add(module)
    _FAMILIES_SEEN[0] = changes
