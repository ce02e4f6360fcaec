"""Rules beyond the schema, written once against a format family's JSON model.

A rule set is a list of functions registered with :func:`rule`. Each takes
the message's JSON model (the XML rendition is converted first) and yields
``(path, message)`` pairs; the validator turns paths into JSON Pointers or
XPaths for the rendition at hand. Rules run even when the schema failed, so
they must tolerate any shape: a rule that cannot judge a malformed part
stays silent about it (the schema error already explains it).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from harness.extensions import FAMILIES

__all__ = ["RULE_SETS", "Rule", "RuleViolation", "rule", "run_rules"]

Path = tuple[str | int, ...]
RuleViolation = tuple[Path | str, str]
"""A rule's finding: where (a model path, or an XPath string for formats without a model) and why."""
RuleFunction = Callable[[Any], Iterable[RuleViolation]]


@dataclass(slots=True, frozen=True)
class Rule:
    id: str
    statement: str
    check: RuleFunction


RULE_SETS: dict[str, list[Rule]] = {}


def rule(rule_set: str, rule_id: str, statement: str) -> Callable[[RuleFunction], RuleFunction]:
    """Register ``function`` as rule ``rule_id`` of ``rule_set``."""

    def register(function: RuleFunction) -> RuleFunction:
        RULE_SETS.setdefault(rule_set, []).append(Rule(rule_id, statement, function))
        return function

    return register


def run_rules(rule_set: str, document: Any) -> Iterator[tuple[str, Path | str, str]]:
    """Every violation of every rule of ``rule_set``, as ``(rule id, path, message)``."""
    _load_builtin_rule_sets()
    for item in RULE_SETS.get(rule_set, ()):
        try:
            violations = list(item.check(document))
        except (TypeError, KeyError, ValueError, AttributeError, IndexError, OverflowError):
            # The document's shape is too broken for this rule; the schema reports why.
            continue
        for path, message in violations:
            yield item.id, path, message


def _load_builtin_rule_sets() -> None:
    """Import the rule modules of every registered format family (each registers its rules on import)."""
    for _, family in FAMILIES.items():
        for module in family.rule_modules:
            importlib.import_module(module)
