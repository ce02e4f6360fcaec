"""Build hook: the wheel carries the catalog (``fixtures/``) as ``harness/_catalog/``.

``fixtures/`` in the checkout stays the single source; it is copied into the
build tree when a wheel is built (never kept as a copy in the repository). An
editable install reads the checkout's ``fixtures/`` directly
(``harness.catalog.bundled_fixtures``). Everything else is in pyproject.toml.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
CATALOG = "fixtures"
TARGET = ("harness", "_catalog")


class BuildWithCatalog(build_py):  # type: ignore[misc]
    """``build_py`` that also copies ``fixtures/`` into ``harness/_catalog`` of the build tree."""

    def _catalog_files(self) -> list[tuple[Path, Path]]:
        source = HERE / CATALOG
        if not source.is_dir():
            raise SystemExit(f"setup.py: the catalog folder {source} is missing")
        files = sorted(p for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        return [(path, Path(*TARGET, path.relative_to(source))) for path in files]

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
