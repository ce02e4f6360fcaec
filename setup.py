"""Build hook: the wheel carries the catalog (``fixtures/``) as ``harness/_catalog/`` and the documents
(``docs/``, the standard in ``docs/specs/`` included) as ``harness/_docs/``.

``fixtures/`` and ``docs/`` in the checkout stay the single sources; they are copied
into the build tree when a wheel is built (never kept as a copy in the repository). An
editable install reads the checkout's folders directly (``harness.catalog.bundled_fixtures``,
``harness.documentation.docs_folder``). Everything else is in pyproject.toml.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
COPIED = {"fixtures": ("harness", "_catalog"), "docs": ("harness", "_docs")}
"""Folder of the checkout -> where the wheel carries it."""


class BuildWithCatalog(build_py):  # type: ignore[misc]
    """``build_py`` that also copies ``fixtures/`` and ``docs/`` into ``harness/_catalog`` and ``harness/_docs``."""

    def _catalog_files(self) -> list[tuple[Path, Path]]:
        copied: list[tuple[Path, Path]] = []
        for folder, target in COPIED.items():
            source = HERE / folder
            if not source.is_dir():
                raise SystemExit(f"setup.py: the folder {source} is missing")
            files = sorted(p for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
            copied += [(path, Path(*target, path.relative_to(source))) for path in files]
        return copied

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # the editable install reads the checkout's fixtures/ in place
            return
        for path, relative in self._catalog_files():
            destination = Path(self.build_lib, relative)
            self.mkpath(str(destination.parent))
            self.copy_file(str(path), str(destination), preserve_mode=False)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs: list[str] = super().get_outputs(include_bytecode)
        if not self.editable_mode:
            outputs += [str(Path(self.build_lib, relative)) for _, relative in self._catalog_files()]
        return outputs


setup(cmdclass={"build_py": BuildWithCatalog})
