"""The standard ships with the harness: ``docs/specs/`` (equal to the profile's own copy), the wheel's
``harness/_docs``, ``harness spec``, and every document a message or a scenario names is there."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

from harness import documentation
from harness.catalog import load_catalog
from harness.cli import main

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.corpus
def test_the_shipped_standard_equals_the_profiles_own_copy(corpus: Path) -> None:
    """``docs/specs`` is a copy of the profile documents beside the repository (they sit next to the corpus)."""
    published = corpus.parent / "specs"
    if not published.is_dir():
        pytest.skip("the profile's documents are not beside the repository")
    assert _files(DOCS / "specs") == _files(published)


def test_the_build_carries_the_docs_and_the_catalog_and_harness_spec_reads_them(tmp_path: Path) -> None:
    """What ``setup.py``'s build step puts in a wheel: ``harness/_docs`` = docs/, ``harness/_catalog`` = fixtures/;
    ``harness spec`` run from that tree (no checkout beside it) prints from ``harness/_docs/specs``."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("setup.py", "pyproject.toml", "MANIFEST.in", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for folder in ("harness", "adapters", "fixtures", "docs"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    built = tmp_path / "built"
    done = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(built)],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert _files(built / "harness" / "_docs") == _files(DOCS)
    assert _files(built / "harness" / "_catalog") == _files(ROOT / "fixtures")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("HARNESS_DOCS", "HARNESS_CATALOG", "HARNESS_FIXTURES")}
    env["PYTHONPATH"] = str(built)
    spec = subprocess.run(
        [sys.executable, "-m", "harness", "spec", "--rule", "PQ-01"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert spec.returncode == 0, spec.stderr
    assert "purpose is refused (`400`, rule `PQ-01`)" in spec.stdout
    listing = subprocess.run(
        [sys.executable, "-m", "harness", "spec"], cwd=elsewhere, env=env, capture_output=True, text=True, check=False
    )
    assert str(built / "harness" / "_docs" / "specs") in listing.stdout


_NAMED = re.compile(r"(?<![\w/.-])((?:docs|specs)/[\w.-]+\.md)")


def _named_documents() -> set[tuple[str, str]]:
    """Every ``docs/X.md`` or ``specs/X.md`` a string of harness/ or adapters/ names (messages, docstrings)."""
    named: set[tuple[str, str]] = set()
    for folder in ("harness", "adapters"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for token in tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline):
                if token.type == tokenize.STRING:
                    named |= {(path.relative_to(ROOT).as_posix(), m) for m in _NAMED.findall(token.string)}
    return named


def test_every_document_the_code_names_is_shipped() -> None:
    named = _named_documents()
    assert any(m.startswith("docs/") for _, m in named) and any(m.startswith("specs/") for _, m in named)
    missing = [f"{where}: {m}" for where, m in sorted(named) if not (DOCS / m.removeprefix("docs/")).is_file()]
    assert missing == []


def test_messages_name_the_shipped_path_of_a_document() -> None:
    """A wheel user has no ``docs/`` in the working folder: a message names where the document really is."""
    assert documentation.doc_path("containers.md") == DOCS / "containers.md"
    assert documentation.doc_path("containers.md").is_file()


def test_every_scenarios_spec_reference_resolves() -> None:
    catalog = load_catalog()
    checked = 0
    for versions in catalog.suites.values():
        for suite in versions.values():
            for scenario in suite.scenarios:
                spec = str(scenario.get("spec") or "")
                assert spec, f"{suite.ref} {scenario['id']} names no clause of the standard"
                for clause in documentation.clauses_for(spec):
                    assert "missing" not in clause, f"{suite.ref} {scenario['id']}: {clause['missing']}"
                    assert clause["text"].strip()
                    checked += 1
    assert checked > 50


def test_references_of_a_spec_text() -> None:
    refs = documentation.references
    assert refs("queries.md#person-check") == [("queries.md", "person-check")]
    assert refs("esn.md#binary-mcdata-messages-ts-24282-clause-15 (offset), #carrying-an-sds (HTTP binding)") == [
        ("esn.md", "binary-mcdata-messages-ts-24282-clause-15"),
        ("esn.md", "carrying-an-sds"),
    ]
    assert refs("docs/decisions-alerts-exchange.md (14); alerts.md#emsi-isotr-22351 is silent") == [
        ("docs/decisions-alerts-exchange.md", ""),
        ("alerts.md", "emsi-isotr-22351"),
    ]
    assert refs("queries.md (both directions)") == [("queries.md", "")]


def test_a_section_is_found_by_its_anchor_or_the_start_of_it() -> None:
    assert documentation.find_section("alerts.md", "cap-12").heading.startswith("CAP 1.2 (")
    assert documentation.find_section("queries", "timing").text.startswith("## Timing\n")
    with pytest.raises(documentation.UsageError, match=r"no section #nowhere in queries\.md"):
        documentation.find_section("queries.md", "nowhere")


# -- harness spec ----------------------------------------------------------------------------------------------


def test_spec_lists_the_documents(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spec"]) == 0
    out = capsys.readouterr().out
    names = [line.split()[0] for line in out.splitlines()[:-1]]
    assert names == ["README", "alerts", "esn", "evidence", "intel-report", "queries", "resilience"]


def test_spec_prints_a_document_and_a_section(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spec", "intel-report"]) == 0
    assert capsys.readouterr().out == (DOCS / "specs" / "intel-report.md").read_text(encoding="utf-8")
    assert main(["spec", "queries.md#timing"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## Timing\n") and "## Certification data set" not in out


def test_spec_rule_prints_the_defining_row_with_its_table_header(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spec", "--rule", "IR-06"]) == 0
    out = capsys.readouterr().out
    assert "== intel-report.md \u00a7 Rules beyond the schema [defined]" in out
    assert "| rule | statement |\n|---|---|\n| IR-06 | an `object` with `objectType` `vehicle` has a `vrm`" in out


def test_spec_rule_stated_only_in_prose(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spec", "--rule", "pq-01"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("PQ-01: no table of the standard defines it")
    assert "== queries.md \u00a7 Person check [mentioned]" in out and "rule `PQ-01`" in out


def test_spec_rule_the_standard_gives_no_id_comes_from_the_harness_docs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spec", "--rule", "MCD-07"]) == 0
    out = capsys.readouterr().out
    assert "docs/decisions-esn.md" in out and "the harness's reading" in out
    assert "| MCD-07 | a TEXT payload that is not UTF-8 |" in out


def test_spec_rule_in_several_versions_shows_each(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spec", "--rule", "CAP-06", "alerts"]) == 0
    out = capsys.readouterr().out
    assert out.count("[defined]") == 2  # the 1.0 table and the 1.1 table (a warning since)
    assert "| CAP-06 | warning |" in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["spec", "--rule", "XX-99"], "XX-99 is not named in the standard, the harness's docs or a suite (rules"),
        (["spec", "--rule", "IR1"], "bad rule id 'IR1'"),
        (["spec", "nope"], "no document 'nope' in the standard (known: README, alerts, esn"),
        (["spec", "queries#nowhere"], "no section #nowhere in queries.md"),
    ],
)
def test_spec_bad_input_is_one_line_and_exit_2(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and expected in captured.err


def test_spec_prints_a_shipped_doc_of_the_harness_but_nothing_outside(capsys: pytest.CaptureFixture[str]) -> None:
    """The path a message names (``docs/containers.md``) can be read with ``harness spec`` from any install."""
    assert main(["spec", "docs/containers.md"]) == 0
    assert capsys.readouterr().out == (DOCS / "containers.md").read_text(encoding="utf-8")
    for outside in ("docs/../README.md", "docs/../setup.py", "docs/nope.md", "../README"):
        assert main(["spec", outside]) == 2
        assert capsys.readouterr().err.startswith("harness: no document")


def test_every_folder_the_build_copies_reaches_every_build() -> None:
    """setup.py copies ``fixtures/`` and ``docs/`` into the wheel: the sdist (MANIFEST.in), the image's build
    context (.dockerignore) and its build stage (Dockerfile) must carry each, or that build fails."""
    import ast

    tree = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    copied = next(
        ast.literal_eval(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "COPIED" for t in node.targets)
    )
    assert set(copied) == {"fixtures", "docs"}
    manifest = (ROOT / "MANIFEST.in").read_text(encoding="utf-8").splitlines()
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    for folder in copied:
        assert f"graft {folder}" in manifest
        assert f"!{folder}/" in ignore
        assert f"COPY {folder}/ /src/{folder}/" in dockerfile


def test_spec_rule_of_a_scenario_id_prints_the_clauses_it_cites(capsys: pytest.CaptureFixture[str]) -> None:
    """Reports name scenarios (``CC-04``); the standard does not: the suite's scenario says which clause it is."""
    assert main(["spec", "--rule", "cc-04"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("CC-04: scenario of checks-core@1.0 (MUST), Family name compared case-insensitively")
    assert "it cites: queries.md#person-check" in out
    assert (
        "== queries.md \u00a7 Cross-force checks \u2014 person and vehicle queries > Person check\n## Person check"
        in out
    )
