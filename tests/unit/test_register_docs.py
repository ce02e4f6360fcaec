"""docs/register.md is a walk-through a certifying body follows: every ``harness`` command it shows parses."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from harness import cli

DOC = Path(__file__).resolve().parents[2] / "docs" / "register.md"


def _commands() -> list[list[str]]:
    blocks = re.findall(r"```sh\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    text = "\n".join(blocks).replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        while words and "=" in words[0] and not words[0].startswith("-"):  # VAR=value before the command
            words = words[1:]
        if words and words[0] == "harness":
            found.append(words[1:])
    return found


def test_every_command_of_the_walk_through_parses() -> None:
    commands = _commands()
    assert {c[1] for c in commands if c[0] == "register"} >= {
        "token",
        "serve",
        "submit",
        "withdraw",
        "publish",
        "audit",
    }
    for argv in commands:
        args = cli._parser(cli.families_for(argv)).parse_args(argv)
        assert callable(args.func), argv
