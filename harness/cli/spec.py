"""``harness spec [DOC[#SECTION]] [--rule ID]``: the standard the harness certifies against, as it ships with it."""

from __future__ import annotations

import argparse
import re
from itertools import groupby
from typing import Any

from harness.catalog import load_catalog
from harness.documentation import (
    clauses_for,
    find_section,
    read_document,
    rule_clauses,
    rule_ids,
    spec_documents,
    specs_folder,
)
from harness.model import SuiteStatus, UsageError

__all__ = ["register"]

_TITLE = re.compile(r"^#\s+(.*)$", re.MULTILINE)


def register(subparsers: Any) -> None:
    spec = subparsers.add_parser(
        "spec",
        help="print a document of the standard, a section of it, or the clause of a rule",
        description="Without DOC: the documents of the standard shipped with the harness. "
        "DOC is a document (esn, esn.md) or one of its sections (queries.md#person-check, as the reports cite them).",
    )
    spec.add_argument("document", nargs="?", metavar="DOC[#SECTION]", help="the document (or section) to print")
    spec.add_argument("--rule", metavar="ID", help="print where a rule (IR-01, PQ-01, MCD-07, ESN-20) is stated")
    spec.set_defaults(func=_cmd_spec)


def _ranges(ids: list[str]) -> str:
    """``CAP-01..CAP-12, DSP-01..DSP-07`` from a sorted list of rule ids."""
    parts = []
    for _, group in groupby(ids, key=lambda rule: rule.split("-")[0]):
        members = list(group)
        parts.append(members[0] if len(members) == 1 else f"{members[0]}..{members[-1]}")
    return ", ".join(parts)


def _list_documents() -> int:
    names = spec_documents()
    if not names:
        raise UsageError(f"the profile's documents are missing from {specs_folder()}: the installation is incomplete")
    for name in names:
        _, text = read_document(name)
        title = _TITLE.search(text)
        print(f"{name.removesuffix('.md'):<14} {title[1].strip() if title else name}")
    print(f"({specs_folder()}; harness spec DOC prints one, harness spec --rule ID the clause of a rule)")
    return 0


def _print_rule(rule: str, document: str | None) -> int:
    clauses = rule_clauses(rule)
    if document is not None:
        shown, _ = read_document(document)
        clauses = [clause for clause in clauses if clause.document == shown]
    if not clauses and document is None and _print_scenario(rule.strip().upper()):
        return 0
    if not clauses:
        where = f"{document}" if document else "the standard, the harness's docs or a suite"
        raise UsageError(f"{rule.upper()} is not named in {where} (rules the standard defines: {_ranges(rule_ids())})")
    if not any(clause.defining and clause.standard for clause in clauses):
        print(f"{rule.upper()}: no table of the standard defines it; where it is stated:\n")
    for clause in clauses:
        owner = "" if clause.standard else "  (the harness's reading, where the standard names no rule id)"
        kind = "defined" if clause.defining else "mentioned"
        print(f"== {clause.document} \u00a7 {' > '.join(clause.section[1:] or clause.section)} [{kind}]{owner}")
        print(clause.text)
        print()
    return 0


def _print_scenario(scenario_id: str) -> bool:
    """A scenario id of a suite (``CC-04``, as reports and ``results.json`` name them), when no document names
    it: the scenario, then the text of each clause its ``spec:`` cites. False when no suite has it."""
    catalog = load_catalog()
    found = [
        (suite, scenario)
        for versions in catalog.suites.values()
        for suite in sorted(versions.values(), key=lambda s: s.status is not SuiteStatus.CURRENT)
        for scenario in suite.scenarios
        if str(scenario.get("id", "")).upper() == scenario_id
    ]
    if not found:
        return False
    suite, scenario = found[0]
    spec = str(scenario.get("spec") or "")
    print(f"{scenario_id}: scenario of {suite.ref} ({scenario.get('level')}), {scenario.get('title')}")
    print(f"it cites: {spec or 'nothing'}\n")
    for clause in clauses_for(spec):
        print(f"== {clause['title']}")
        print(clause.get("missing") or clause["text"])
        print()
    return True


def _cmd_spec(args: argparse.Namespace) -> int:
    if args.rule:
        return _print_rule(args.rule, args.document.partition("#")[0] if args.document else None)
    if not args.document:
        return _list_documents()
    document, _, anchor = args.document.partition("#")
    if anchor:
        print(find_section(document, anchor).text)
    else:
        print(read_document(document)[1].rstrip("\n"))
    return 0
