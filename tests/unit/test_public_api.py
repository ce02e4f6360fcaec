"""The public API of every module of the engine and the adapters: what is exported is what others use.

- every module that others import from declares ``__all__``;
- ``__all__`` names only what the module defines, sorted as ruff sorts it (constants, classes, the rest);
- every name one module of ``harness/``, ``adapters/`` or ``benchmarks/`` imports from another is in
  that module's ``__all__`` (tests may reach further in, on purpose).
"""

from __future__ import annotations

import ast
import importlib
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("harness", "adapters")
IMPORTERS = ("harness", "adapters", "benchmarks")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> list[str]:
    # ``__main__`` modules, and alembic's migration ``env.py`` (it needs alembic's running context), run a
    # program when imported: they have no API to hold to.
    skip = {"__main__.py", "env.py"}
    paths = [path for package in PACKAGES for path in (ROOT / package).rglob("*.py") if path.name not in skip]
    return sorted(_module_name(path) for path in paths)


def _imported_names() -> dict[str, set[str]]:
    """``module -> names`` that code outside it imports with ``from module import name``."""
    used: dict[str, set[str]] = defaultdict(set)
    for folder in IMPORTERS:
        for path in (ROOT / folder).rglob("*.py"):
            importer = _module_name(path)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(node, ast.ImportFrom) and node.module and node.level == 0):
                    continue
                if node.module.split(".")[0] in PACKAGES and node.module != importer:
                    used[node.module].update(alias.name for alias in node.names)
    return used


def _ruff_order(name: str) -> tuple[int, str]:
    if name.isupper() or (name.upper() == name and "_" in name):
        return 0, name
    return (1 if name[:1].isupper() else 2), name


MODULES = _modules()
USED = _imported_names()


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_names_what_the_module_defines(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    if exported is None:
        assert name not in USED or all(_is_submodule(name, item) for item in USED[name]), (
            f"{name} is imported from ({sorted(USED[name])}) but declares no __all__"
        )
        return
    assert list(exported) == sorted(exported, key=_ruff_order), f"{name}.__all__ is not sorted"
    assert len(set(exported)) == len(exported), f"{name}.__all__ repeats a name"
    missing = [item for item in exported if not hasattr(module, item)]
    assert not missing, f"{name}.__all__ names what it does not define: {missing}"


@pytest.mark.parametrize("name", sorted(USED))
def test_what_others_import_is_exported(name: str) -> None:
    module = importlib.import_module(name)
    exported = set(getattr(module, "__all__", ()))
    hidden = sorted(item for item in USED[name] if item not in exported and not _is_submodule(name, item))
    assert not hidden, f"imported from {name} but not in its __all__: {hidden}"


def _is_submodule(package: str, item: str) -> bool:
    return (ROOT / Path(*package.split("."), item)).is_dir() or (
        ROOT / Path(*package.split("."), f"{item}.py")
    ).is_file()
