"""The ``harness`` command. Thin: it builds runs from arguments (through the run session) and attaches reporters.

One module per command family, each exposing ``register(subparsers)`` (adds its sub-parsers and
sets their ``func``). Exit codes: 0 success / certified, 1 invalid message or a MUST scenario not
passed, 2 usage or configuration error, 3 target unreachable, 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from harness import diff as diff_command
from harness.cli import catalog, load, reports, run, serve
from harness.cli.options import VersionAction, add_catalog_option, apply_catalog_option
from harness.cli.run import DEFAULT_REPORTS, RunSettings, run_suite
from harness.evidence import commands as evidence_commands
from harness.model import HarnessError
from harness.reporting import printable
from harness.store import commands as store_commands

__all__ = ["COMMAND_FAMILIES", "DEFAULT_REPORTS", "RunSettings", "main", "run_suite"]

COMMAND_FAMILIES: tuple[Callable[[Any], None], ...] = (
    catalog.register,
    serve.register,
    run.register,
    reports.register,
    load.register,
    evidence_commands.register,
    store_commands.register,
    diff_command.register,
)
"""Each adds its commands, in the order ``harness --help`` lists them."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        command = self.prog.split()[1:]  # "harness run" -> ["run"]; the top-level parser is just "harness"
        self.exit(2, f"harness: {message} (see {' '.join(['harness', *command[-1:]])} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="harness", description="Certification harness for the police and emergency-services network code."
    )
    parser.add_argument("--version", action=VersionAction, help="print the harness version and the catalog's suites")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for register in COMMAND_FAMILIES:
        register(commands)
    add_catalog_option(commands)  # after every family: each of their commands takes --catalog DIR
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        apply_catalog_option(args)
        handler: Callable[[argparse.Namespace], int] = args.func
        return handler(args)
    except HarnessError as exc:
        print(f"harness: {printable(str(exc))}", file=sys.stderr)  # a reason may quote a bundle or a SUT
        return exc.exit_code
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (``harness suites | head``): not worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
