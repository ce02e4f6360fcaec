"""``harness suites --check``: load and check every suite of the catalog, one line per problem.

Exit 0 when every suite loads, 2 with one line per problem (``FILE: KEY: what``) otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.catalog import Catalog, catalog_problems, load_catalog
from harness.documents import folder_digest
from harness.extensions import check_names
from harness.model import CatalogError

__all__ = ["add_arguments", "check_suites", "digest_problems", "known_checks"]


def known_checks() -> frozenset[str]:
    """The check names a scenario's ``expect`` may use: every check of the registry (built in, of the
    format families, or from an installed package)."""
    return check_names()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--check",
        action="store_true",
        help="load and check every scenario and manifest (exit 2 with one line per problem naming file and key)",
    )


def digest_problems(catalog: Catalog) -> list[str]:
    """One line per issued suite version whose folder no longer gives the register's digest."""
    problems = []
    for versions in catalog.suites.values():
        for suite in versions.values():
            if suite.digest is None:
                continue
            try:
                own = folder_digest(Path(suite.directory))
            except CatalogError as exc:
                problems.append(f"{suite.directory}: {exc}")
                continue
            if own != suite.digest:
                problems.append(
                    f"{suite.directory}: digest {own} differs from the register's {suite.digest} for {suite.ref} "
                    "(an issued suite version never changes: make a new version)"
                )
    return problems


def check_suites(args: argparse.Namespace) -> int:
    problems: list[object] = list(catalog_problems(check_names=known_checks()))
    if not problems:
        problems.extend(digest_problems(load_catalog(check_names=known_checks())))
    if problems:
        for problem in problems:
            print(problem)
        print(f"harness: {len(problems)} problem(s) in the catalog", file=sys.stderr)
        return 2
    catalog = load_catalog(check_names=known_checks())
    suites = [suite for versions in catalog.suites.values() for suite in versions.values()]
    steps = sum(len(scenario.steps) for suite in suites for scenario in suite.typed)
    scenarios = sum(len(suite.typed) for suite in suites)
    print(f"{len(suites)} suite(s), {scenarios} scenarios, {steps} steps checked: no problem")
    return 0
