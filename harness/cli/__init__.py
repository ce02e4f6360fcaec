"""The ``harness`` command. Thin: it builds runs from arguments (through the run session) and attaches reporters.

One module per command family, each exposing ``register(subparsers)`` (adds its sub-parsers and
sets their ``func``). Exit codes: 0 success / certified, 1 invalid message or a MUST scenario not
passed, 2 usage or configuration error, 3 target unreachable, 130 interrupted.

Start-up: a command imports only its own family's module (:data:`COMMANDS`), never the others', so
``harness validate FILE`` or ``harness --version`` load no run store (SQLAlchemy, Alembic), no aiohttp
server, no Locust and no Jinja2. ``tests/unit/test_startup.py`` holds each command to its list of
imports it must not load.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from harness.cli.options import VersionAction, add_catalog_option, apply_catalog_option
from harness.model import HarnessError

if TYPE_CHECKING:  # re-exported lazily (module __getattr__): importing them loads the whole run machinery
    from harness.cli.run import DEFAULT_REPORTS, RunSettings, run_suite

__all__ = ["COMMANDS", "COMMAND_FAMILIES", "DEFAULT_REPORTS", "RunSettings", "main", "run_suite"]

COMMANDS: dict[str, str] = {
    "formats": "harness.cli.catalog",
    "suites": "harness.cli.catalog",
    "validate": "harness.cli.catalog",
    "spec": "harness.cli.spec",
    "serve": "harness.cli.serve",
    "up": "harness.cli.serve",
    "run": "harness.cli.run",
    "report": "harness.cli.run",
    "demo": "harness.cli.run",
    "matrix": "harness.cli.reports",
    "can-exchange": "harness.cli.reports",
    "catalogue": "harness.cli.reports",
    "load": "harness.cli.load",
    "keys": "harness.cli.evidence",
    "verify": "harness.cli.evidence",
    "runs": "harness.cli.store",
    "certificates": "harness.cli.store",
    "diff": "harness.cli.diff",
    "register": "harness.cli.register",
    "replay": "harness.cli.replay",
    "scenarios": "harness.cli.replay",
    "proxy": "harness.cli.proxy",
}
"""Command -> the family module whose ``register(subparsers)`` adds it: the only module ``harness COMMAND ...``
imports. The one table of the CLI: a family's other commands need no entry to work (without one, every family
is loaded), but ``tests/unit/test_startup.py`` keeps it complete so that each stays light."""

COMMAND_FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(COMMANDS.values()))
"""Every family module, in the order ``harness --help`` lists their commands."""

_HELP = frozenset({"-h", "--help"})
_LAZY = frozenset({"DEFAULT_REPORTS", "RunSettings", "run_suite"})


def __getattr__(name: str) -> Any:
    """``from harness.cli import run_suite`` (and RunSettings, DEFAULT_REPORTS), loaded on first use."""
    if name in _LAZY:
        from harness.cli import run

        return getattr(run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        command = self.prog.split()[1:]  # "harness run" -> ["run"]; the top-level parser is just "harness"
        self.exit(2, f"harness: {message} (see {' '.join(['harness', *command[-1:]])} --help)\n")


def families_for(argv: Sequence[str]) -> tuple[str, ...]:
    """The family modules the parser needs for ``argv``: the named command's alone when it is known, none for a
    bare ``--version``, every family otherwise (``--help``, no command, an unknown one: the full list is shown)."""
    for token in argv:
        if token in _HELP:
            return COMMAND_FAMILIES
        if not token.startswith("-"):  # the top-level parser takes no option with a value: this is the command
            family = COMMANDS.get(token)
            return (family,) if family is not None else COMMAND_FAMILIES
    return () if "--version" in argv else COMMAND_FAMILIES


def _parser(families: Sequence[str] = COMMAND_FAMILIES) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="harness", description="Certification harness for the police and emergency-services network code."
    )
    parser.add_argument("--version", action=VersionAction, help="print the harness version and the catalog's suites")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for module in families:
        register: Callable[[Any], None] = importlib.import_module(module).register
        register(commands)
    add_catalog_option(commands)  # after every family: each of their commands takes --catalog DIR
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = _parser(families_for(arguments)).parse_args(arguments)
    try:
        apply_catalog_option(args)
        handler: Callable[[argparse.Namespace], int] = args.func
        return handler(args)
    except HarnessError as exc:
        from harness.reporting import printable  # here: the CLI imports the run machinery lazily

        print(f"harness: {printable(str(exc))}", file=sys.stderr)  # a reason may quote a bundle or a SUT
        return exc.exit_code
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (``harness suites | head``): not worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
