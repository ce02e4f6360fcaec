"""Command-line seams of the catalog: ``--catalog DIR`` on every command, ``--version``, where suites come from.

Registered once, in harness/cli/__init__.py, after every command family has added its commands.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import harness
from harness.catalog import Catalog, bundled_fixtures, load_catalog, use_folders
from harness.model import HarnessError, Suite

__all__ = ["VersionAction", "add_catalog_option", "apply_catalog_option", "suite_source", "version_text"]


def add_catalog_option(commands: Any) -> None:
    """Give every sub-command of ``commands`` (an argparse sub-parsers action) a repeatable ``--catalog DIR``."""
    for parser in dict.fromkeys(commands.choices.values()):  # an alias maps to the same parser
        parser.add_argument(
            "--catalog",
            action="append",
            type=Path,
            default=[],
            metavar="DIR",
            help="add a catalog folder (formats/, suites/, datasets/) to the bundled one; repeatable",
        )


def apply_catalog_option(args: argparse.Namespace) -> None:
    """Make the ``--catalog`` folders of ``args`` part of every catalog loaded from now on."""
    use_folders(tuple(getattr(args, "catalog", None) or ()))


def suite_source(catalog: Catalog, suite: Suite) -> str:
    """``bundled`` for a suite of the harness's own catalog, else the catalog folder it was read from."""
    origin = catalog.origin(suite)
    return "bundled" if origin.resolve() == bundled_fixtures().resolve() else str(origin)


def version_text() -> str:
    """The harness version, then every suite of the catalog with its versions (or why there is none)."""
    lines = [f"harness {harness.__version__}"]
    try:
        catalog = load_catalog()
    except HarnessError as exc:
        return "\n".join([*lines, f"catalog: {exc}"])
    lines.append(f"catalog: {', '.join(str(root) for root in catalog.roots)}")
    for name, versions in sorted(catalog.suites.items()):
        lines.append(f"  {name} {', '.join(sorted(versions))}")
    return "\n".join(lines)


class VersionAction(argparse.Action):
    """``--version``: :func:`version_text`, computed only when asked for (it reads the catalog)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        sys.stdout.write(version_text() + "\n")
        parser.exit(0)
