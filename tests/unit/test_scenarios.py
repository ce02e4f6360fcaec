"""Typed scenarios, checked when the catalog loads: a typo is a catalog error naming file and key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.catalog import catalog_problems, default_fixtures, load_catalog
from harness.cli import main
from harness.extensions import scenario_parts
from harness.model import CatalogError
from harness.runner.checks import CHECKS
from harness.suitecheck import known_checks

FIXTURES = default_fixtures()
FAMILY_STEPS = set(scenario_parts("step"))
"""Step kinds the format families add (ESN: ``floor_send``, ``floor_await``)."""
CHECKING_ITSELF = {key for key, part in scenario_parts("step").items() if part.checks_itself}
IC05 = "suites/intel-core/1.0/scenarios/ic-05-idempotent.yaml"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A catalog with the real formats, data sets and schemas, and a copy of intel-core to spoil."""
    for folder in ("formats", "datasets", "schemas"):
        (tmp_path / folder).symlink_to(FIXTURES / folder, target_is_directory=True)
    shutil.copytree(FIXTURES / "suites/intel-core", tmp_path / "suites/intel-core")
    return tmp_path


def spoil(root: Path, relative: str, old: str, new: str, count: int = -1) -> Path:
    path = root / relative
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {relative}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    return path


def lines(root: Path) -> list[str]:
    return [str(problem) for problem in catalog_problems(root, known_checks())]


def test_every_shipped_suite_loads_typed() -> None:
    assert catalog_problems(FIXTURES, known_checks()) == []
    catalog = load_catalog(FIXTURES, CHECKS.names())
    assert set(catalog.suites) == {"alerts-core", "checks-core", "esn-core", "intel-core", "resilience-core"}
    for versions in catalog.suites.values():
        for suite in versions.values():
            assert [s.raw for s in suite.typed] == list(suite.scenarios)
            for scenario in suite.typed:
                assert scenario.steps, scenario.id
                for step in scenario.steps:
                    assert step.kind in {"exchange", "repeat", "trigger", "await", *FAMILY_STEPS}
                    assert set(step.checks) <= CHECKS.names()
                    assert step.checks or step.kind in {"repeat", "await", *CHECKING_ITSELF}


def test_step_kinds_and_typed_access() -> None:
    catalog = load_catalog(FIXTURES, CHECKS.names())
    ic05 = catalog.suite("intel-core").scenario("IC-05")
    assert [step.name for step in ic05.steps] == ["first", "again-same-rendition", "again-other-rendition"]
    assert ic05.steps[0].checks == ("status", "json")
    assert ic05.steps[0].pointer == "/steps/0"
    assert ic05.file.endswith("ic-05-idempotent.yaml")
    kinds = {step.kind for suite in catalog.latest_suites() for s in suite.typed for step in s.steps}
    assert kinds == {"exchange", "repeat", "trigger", "await", *FAMILY_STEPS}  # a family's steps: ESN floor, resilience
    assert {"floor_send", "floor_await", "deliver", "resilience"} <= kinds
    assert {"esn_originator", "fd_receiver", "sds_dispositions", "content_server"} <= kinds


def test_misspelt_expect_in_ic05_is_refused_with_file_and_key(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = spoil(
        root, IC05, "    expect:\n      status: 202\n      headers", "    expcet:\n      status: 202\n      headers"
    )
    spoil(
        root,
        IC05,
        "    expect:\n      status: 202\n      json:\n        /reportId",
        "    expcet:\n      status: 202\n      json:\n        /reportId",
    )
    found = lines(root)
    assert f"{path}: /steps/1/expcet: unknown key 'expcet'" in found
    assert f"{path}: /steps/2/expcet: unknown key 'expcet'" in found
    assert any(line.startswith(f"{path}: /steps/1: ") and "checks nothing" in line for line in found)
    with pytest.raises(CatalogError, match=r"ic-05-idempotent\.yaml: /steps/1/expcet: unknown key 'expcet'"):
        load_catalog(root)

    with pytest.MonkeyPatch.context() as patch:
        # The spoilt copy stands in for the bundled catalog ($HARNESS_FIXTURES and --catalog add to it).
        patch.setattr("harness.catalog.bundled_fixtures", lambda: root)
        assert main(["suites", "--check"]) == 2
    out, err = capsys.readouterr()
    assert f"{path}: /steps/2/expcet: unknown key 'expcet'" in out.splitlines()
    assert len(out.splitlines()) == len(found) and "Traceback" not in err


def test_unknown_check_is_refused(root: Path) -> None:
    path = spoil(root, IC05, "      status: 202\n      json: {/reportId", "      stauts: 202\n      json: {/reportId")
    found = lines(root)
    assert len(found) == 1 and found[0].startswith(f"{path}: /steps/0/expect/stauts: unknown check 'stauts' (known: ")
    # Without the check names the catalog leaves them to the run (it cannot import the runner).
    assert catalog_problems(root, None) == []


def test_step_with_no_check_is_refused(root: Path) -> None:
    path = spoil(
        root,
        IC05,
        '    expect:\n      status: 202\n      json: {/reportId: "${uuid:report}", /receivedAt: {date_time: true}}\n',
        "",
    )
    found = lines(root)
    assert f"{path}: /steps/0: the exchange step 'first' checks nothing: it needs 'expect'" in found


def test_missing_sample_and_format_are_refused(root: Path) -> None:
    path = spoil(root, IC05, "intel-report/1.0/valid/full.json", "intel-report/1.0/valid/fll.json")
    spoil(root, IC05, "as: intel-report-xml/1.0", "as: intel-report-xml/9.9")
    found = lines(root)
    assert (
        f"{path}: /steps/0/request/message/sample: no sample 'intel-report/1.0/valid/fll.json' in the catalog" in found
    )
    assert f"{path}: /steps/2/request/message/as: unknown format 'intel-report-xml/9.9'" in found


def test_references_to_unknown_steps_and_captures_are_refused(root: Path) -> None:
    path = spoil(root, IC05, "message: {same_as: first}", "message: {same_as: frist}")
    spoil(root, IC05, '/receivedAt: "${capture:first_received}"', '/receivedAt: "${capture:first_recieved}"', 1)
    found = lines(root)
    assert any(line.startswith(f"{path}: /steps/1/request/message/same_as: ") and "'frist'" in line for line in found)
    assert any(line.startswith(f"{path}: /steps/1: ${{capture:first_recieved}}") for line in found)


def test_bad_values_and_manifest_keys_are_refused(root: Path) -> None:
    path = spoil(root, IC05, "level: MUST", "level: MUSt")
    manifest = spoil(root, "suites/intel-core/1.0/suite.yaml", "title:", "titel:")
    found = lines(root)
    assert any(line.startswith(f"{path}: /level: ") for line in found)
    assert f"{manifest}: /titel: unknown key 'titel'" in found


def test_unknown_dataset_is_refused(root: Path) -> None:
    manifest = spoil(root, "suites/intel-core/1.0/suite.yaml", "title:", "dataset: nowhere@1.0\ntitle:")
    assert lines(root) == [f"{manifest}: /dataset: unknown data set 'nowhere@1.0'"]


def test_suites_check_passes_on_the_shipped_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["suites", "--check"]) == 0
    assert "no problem" in capsys.readouterr().out
