"""Start-up: each command imports only what it needs (docs/decisions-users.md, "Start-up").

Held by what a command loads, never by how long it takes: a subprocess runs the command through
``harness.cli.main`` and reports ``sys.modules``; each command has its list of heavy packages it must
not load (the run store's SQLAlchemy and Alembic, the aiohttp server, Locust and gevent, Jinja2...).
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness import cli

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "fixtures/formats/cap/1.2/samples/valid/minimal.xml"

HEAVY = ("sqlalchemy", "alembic", "aiohttp", "locust", "gevent", "jinja2", "mako", "testcontainers", "docker")
"""Never loaded just to parse a command line (the run store, servers and clients, the load tool, templates)."""
LIGHT = (
    *HEAVY,
    "cryptography",
    "asyncio",
    "ssl",
    "httptools",
    "harness.transport",
    "harness.endpoints",
    "harness.runner",
    "harness.store",
)
"""Never loaded by the commands that only read the catalog, a message file or the standard."""

_PROBE = """
import json, sys
from harness.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n")
sys.exit(code)
"""


def _loaded(*argv: str) -> tuple[int, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, timeout=120, check=False, cwd=ROOT
    )
    line = next(line for line in done.stderr.splitlines() if line.startswith("MODULES "))
    return done.returncode, set(json.loads(line.removeprefix("MODULES ")))


def _forbidden(loaded: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(m for m in loaded if any(m == f or m.startswith(f + ".") for f in forbidden))


@pytest.mark.parametrize(
    "argv",
    [
        ("--version",),
        ("validate", str(SAMPLE)),
        ("validate", "--format", "cap", str(SAMPLE)),
        ("formats",),
        ("suites",),
        ("spec",),
        ("spec", "--rule", "PQ-01"),
    ],
    ids=lambda argv: " ".join(a if not a.startswith("/") else Path(a).name for a in argv),
)
def test_light_commands_load_no_heavy_package(argv: tuple[str, ...]) -> None:
    code, loaded = _loaded(*argv)
    assert code == 0
    assert _forbidden(loaded, LIGHT) == []


@pytest.mark.parametrize("command", sorted(set(cli.COMMANDS) - {"runs"}))
def test_parsing_any_command_loads_no_store_server_or_load_tool(command: str) -> None:
    """``harness COMMAND --help``: what the command's family module costs before it does anything."""
    code, loaded = _loaded(command, "--help")
    assert code == 0
    assert _forbidden(loaded, HEAVY) == []


def test_runs_loads_the_store_but_no_server_or_load_tool() -> None:
    code, loaded = _loaded("runs", "--help")
    assert code == 0
    assert _forbidden(loaded, ("aiohttp", "locust", "gevent", "jinja2", "testcontainers")) == []


def test_the_command_table_names_every_command_of_every_family() -> None:
    """A command missing from ``cli.COMMANDS`` would still work, but would load every family."""
    registered: dict[str, str] = {}
    for module in cli.COMMAND_FAMILIES:
        commands = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(module).register(commands)
        registered |= dict.fromkeys(commands.choices, module)
    assert registered == cli.COMMANDS


def test_families_for_picks_the_named_command_or_everything() -> None:
    assert cli.families_for(["validate", "x"]) == ("harness.cli.catalog",)
    assert cli.families_for(["--version"]) == ()
    assert cli.families_for(["--help"]) == cli.COMMAND_FAMILIES
    assert cli.families_for(["-h", "validate"]) == cli.COMMAND_FAMILIES
    assert cli.families_for([]) == cli.COMMAND_FAMILIES
    assert cli.families_for(["valdate"]) == cli.COMMAND_FAMILIES  # argparse then names every known command


def test_misspelt_command_still_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["valdate", "x"])
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert "invalid choice: 'valdate'" in error and "'validate'" in error and "'runs'" in error


def test_lazy_reexports_of_the_run_api() -> None:
    from harness.cli import run

    assert cli.run_suite is run.run_suite and cli.RunSettings is run.RunSettings
    with pytest.raises(AttributeError):
        cli.no_such_name  # noqa: B018


def test_the_catalog_reads_its_yaml_as_the_pure_python_safe_loader_does() -> None:
    """The catalog uses libyaml's loader for speed; it must read every fixture exactly as ``yaml.safe_load``."""
    from harness.documents import SAFE_LOADER

    files = sorted((ROOT / "fixtures").rglob("*.yaml"))
    assert files
    for path in files:
        data = path.read_bytes()
        assert yaml.load(data, Loader=SAFE_LOADER) == yaml.safe_load(data), path


def test_validating_a_text_message_loads_no_binary_codec() -> None:
    """The MCData codecs are loaded for a binary message (or ``--explain``), not for every ``validate``."""
    code, loaded = _loaded("validate", str(SAMPLE))
    assert code == 0
    codecs = ("harness.codecs", "harness.families.esn.validation", "harness.families.esn.mcdata")
    assert _forbidden(loaded, codecs) == []
