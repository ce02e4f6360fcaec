"""``harness suites --check``: load and check every suite of the catalog, one line per problem.

Exit 0 when every suite loads, 2 with one line per problem (``FILE: KEY: what``) otherwise.
"""

from __future__ import annotations

import argparse
import sys

from harness.catalog import catalog_problems, load_catalog
from harness.extensions import check_names

__all__ = ["add_arguments", "check_suites", "known_checks"]


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


def check_suites(args: argparse.Namespace) -> int:
    problems = catalog_problems(check_names=known_checks())
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
