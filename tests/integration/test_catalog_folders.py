"""Where the catalog comes from: the bundled one, ``$HARNESS_FIXTURES`` and ``--catalog DIR`` folders added to it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.catalog import bundled_fixtures, catalog_folders, load_catalog, use_folders
from harness.model import CatalogError, ConfigurationError
from tests.conftest import ROOT


def harness(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "HARNESS_FIXTURES"} | (env or {})
    command = [sys.executable, "-m", "harness", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=environment, timeout=120)


def extra_catalog(folder: Path, name: str) -> Path:
    """A catalog folder holding one suite, ``name@2.0``: intel-core's scenarios under another name."""
    source = ROOT / "fixtures/suites/intel-core/1.0"
    target = folder / "suites" / name / "2.0"
    shutil.copytree(source, target)
    manifest = (target / "suite.yaml").read_text(encoding="utf-8")
    manifest = manifest.replace("name: intel-core", f"name: {name}").replace('version: "1.0"', 'version: "2.0"')
    manifest = manifest.replace("version: 1.0", "version: 2.0")
    (target / "suite.yaml").write_text(manifest, encoding="utf-8")
    return folder


@pytest.fixture
def no_added_folders(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("HARNESS_FIXTURES", raising=False)
    use_folders(())
    yield
    use_folders(())


def test_the_bundled_catalog_is_the_checkouts_fixtures_in_a_checkout(no_added_folders: None) -> None:
    assert bundled_fixtures().resolve() == (ROOT / "fixtures").resolve()
    assert catalog_folders() == (bundled_fixtures(),)


def test_folders_are_added_after_the_bundled_one_without_repeats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_added_folders: None
) -> None:
    first, second, third = (extra_catalog(tmp_path / n, f"extra-{n}") for n in ("a", "b", "c"))
    monkeypatch.setenv("HARNESS_FIXTURES", os.pathsep.join([str(first), "", str(second), str(bundled_fixtures())]))
    use_folders((third, first))
    assert catalog_folders() == (bundled_fixtures(), first, second, third)
    catalog = load_catalog()
    assert {"extra-a", "extra-b", "extra-c", "intel-core"} <= set(catalog.suites)
    assert catalog.origin(catalog.suite("extra-b")) == second
    assert catalog.origin(catalog.suite("intel-core")) == bundled_fixtures()


def test_a_suite_defined_twice_is_a_catalog_error(tmp_path: Path, no_added_folders: None) -> None:
    use_folders((extra_catalog(tmp_path / "a", "twice"), extra_catalog(tmp_path / "b", "twice")))
    with pytest.raises(CatalogError, match=r"suite twice@2.0 defined twice"):
        load_catalog()


def test_a_missing_folder_is_a_configuration_error(tmp_path: Path, no_added_folders: None) -> None:
    use_folders((tmp_path / "nowhere",))
    with pytest.raises(ConfigurationError, match=r"catalog folder .*nowhere not found"):
        load_catalog()


def test_suites_shows_where_each_suite_came_from(tmp_path: Path) -> None:
    extra = extra_catalog(tmp_path / "mine", "mine")
    listed = harness("suites", "--json", "--catalog", str(extra), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    sources = {entry["name"]: entry["source"] for entry in map(json.loads, listed.stdout.splitlines())}
    assert sources.pop("mine") == str(extra)
    assert set(sources) == set(load_catalog(bundled_fixtures()).suites)
    assert set(sources.values()) == {"bundled"}
    text = harness("suites", cwd=tmp_path, env={"HARNESS_FIXTURES": str(extra)}).stdout
    assert "mine@2.0" in text and f"[{extra}]" in text and "[bundled]" in text


def test_a_suite_of_an_added_folder_certifies_the_reference_supplier(tmp_path: Path) -> None:
    extra = extra_catalog(tmp_path / "mine", "mine")
    command = [sys.executable, "-m", "harness", "serve", "--host", "127.0.0.1", "--port", "0"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split(" on ", 1)[1].split()[0]
        result = harness("run", "--catalog", str(extra), "--suite", "mine@2.0", "--target", url, cwd=tmp_path)
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout is not None:
            server.stdout.close()
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads((tmp_path / "reports/latest/results.json").read_text(encoding="utf-8"))
    assert (document["suite"]["name"], document["suite"]["version"]) == ("mine", "2.0")


@pytest.mark.parametrize("args", [("suites", "--catalog"), ("suites", "--catalog", "/nonexistent-catalog")])
def test_catalog_option_errors_are_one_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = harness(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_version_lists_the_suites_with_their_versions(tmp_path: Path) -> None:
    result = harness("--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("harness ") and lines[0].split()[1][0].isdigit()
    catalog = load_catalog(bundled_fixtures())
    for name, versions in catalog.suites.items():
        assert f"  {name} {', '.join(sorted(versions))}" in lines
