"""The bundle writer's 1.1 predicate and results.json (check 5 by construction), and outcomes of odd paths."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

from harness.catalog import Catalog
from harness.events import RunFinished, RunStarted, Summary
from harness.evidence import OutcomeKind, SutRef, TrustList, Verifier
from harness.evidence.bundle import EvidenceReporter, Sut
from harness.model import Level, ScenarioResult, Verdict
from harness.reporting import target_without_credentials

SECRET_URL = "http://operator:longpassword1@127.0.0.1:9/netcode/v1?api_token=abcdefgh12345678#frag"


def finished(catalog: Catalog, *, certifying: bool = True) -> RunFinished:
    suite = catalog.suite("intel-core")
    results = tuple(
        ScenarioResult(str(s["id"]), str(s["title"]), Level(str(s["level"])), Verdict.PASSED, 1.0)
        for s in suite.scenarios
    )
    summary = Summary()
    for result in results:
        summary.add(result.verdict)
    extra = {"status": "current", "certifies": "intel-report@1.0", **({} if certifying else {"certifying": False})}
    return RunFinished(
        "intel-core", "1.0", SECRET_URL, "2026-01-01T00:00:00.000Z", "2026-01-01T00:01:00.000Z", summary, results,
        extra=extra,
    )  # fmt: skip


def test_target_without_credentials() -> None:
    assert target_without_credentials(SECRET_URL) == "http://127.0.0.1:9/netcode/v1"
    assert target_without_credentials("http://[::1]:8080/a") == "http://[::1]:8080/a"
    assert target_without_credentials("http://u@[::1]:8080/a") == "http://[::1]:8080/a"


def test_the_predicate_and_results_agree_by_construction(catalog: Catalog, tmp_path: Path) -> None:
    assert Sut is SutRef
    sut = Sut("Example Ltd", "RMS", "4.2")
    reporter = EvidenceReporter(tmp_path, catalog.suite("intel-core"), catalog.root, sut=sut)
    reporter(RunStarted("intel-core", "1.0", SECRET_URL, "2026-01-01T00:00:00.000Z", 21))
    bundle = reporter.finish(finished(catalog))
    with zipfile.ZipFile(bundle) as archive:
        statement = json.loads(archive.read("statement.json"))
        results = json.loads(archive.read("results.json"))
        for name in ("statement.json", "results.json"):  # (junit.xml's target: the redaction work's)
            assert b"longpassword1" not in archive.read(name) and b"abcdefgh12345678" not in archive.read(name)
    predicate = statement["predicate"]
    assert predicate["target"] == ["http://127.0.0.1:9/netcode/v1"] == [results["target"]]
    assert predicate["run_id"] == results["run_id"] == reporter.run_id == bundle.name.removesuffix(".evidence.zip")
    assert predicate["sut"] == results["sut"] == sut.as_dict()
    assert predicate["certified"] is results["certified"] is True
    assert predicate["certifying"] is results["certifying"] is True
    assert predicate["suite"]["document"] == "intel-report@1.0"
    assert predicate["suite"]["digest"] == {"sha256": catalog.suite("intel-core@1.0").digest}
    outcome = Verifier(catalog, TrustList.empty()).verify(bundle)
    assert outcome.line() == "valid" and outcome.bundle is not None
    assert outcome.bundle.signer is None and not outcome.bundle.certifies  # unsigned: integrity only


def test_no_declared_system_never_certified(catalog: Catalog, tmp_path: Path) -> None:
    reporter = EvidenceReporter(tmp_path, catalog.suite("intel-core"), catalog.root)
    with zipfile.ZipFile(reporter.finish(finished(catalog))) as archive:
        results = json.loads(archive.read("results.json"))
    assert results["sut"] is None and results["certified"] is False and results["summary"]["failed"] == 0


def test_a_not_certifying_run(catalog: Catalog, tmp_path: Path) -> None:
    reporter = EvidenceReporter(tmp_path, catalog.suite("intel-core"), catalog.root, sut=Sut("A", "B", "C"))
    bundle = reporter.finish(finished(catalog, certifying=False))
    outcome = Verifier(catalog, TrustList.empty()).verify(bundle)
    assert outcome.line() == "valid" and outcome.bundle is not None
    assert outcome.bundle.certifying is False and outcome.bundle.certified is False


def test_paths_that_are_no_bundle(catalog: Catalog, tmp_path: Path) -> None:
    verifier = Verifier(catalog, TrustList.empty())
    assert verifier.verify(tmp_path).line() == "unreadable: not a regular file"
    os.mkfifo(tmp_path / "fifo")
    assert verifier.verify(tmp_path / "fifo").line() == "unreadable: not a regular file"
    (tmp_path / "empty.zip").write_bytes(b"")
    assert verifier.verify(tmp_path / "empty.zip").kind is OutcomeKind.UNREADABLE


def test_reasons_are_one_line(catalog: Catalog, tmp_path: Path) -> None:
    path = tmp_path / "odd.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("../line\nbreak\x1b[31m", b"x")
    line = Verifier(catalog, TrustList.empty()).verify(path).line()
    assert "\n" not in line and "\x1b" not in line
    assert line == "invalid: member ../line\\nbreak\\u001b[31m has a '..' segment"


@pytest.mark.parametrize("member", ["statement.json", "results.json"])
def test_the_opened_bundle_refuses_to_stream_an_invalid_one(catalog: Catalog, tmp_path: Path, member: str) -> None:
    path = tmp_path / "x.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, b"{}")
    with Verifier(catalog, TrustList.empty()).open(path) as opened:
        assert not opened.outcome.valid
        with pytest.raises(Exception, match="not a valid bundle"):
            opened.exchanges()


def test_random_damage_never_crashes_nor_passes_for_changed_content(catalog: Catalog, tmp_path: Path) -> None:
    """Any byte of a bundle changed: one line, never a traceback; valid only if every member still reads the same."""
    import random

    reporter = EvidenceReporter(tmp_path, catalog.suite("intel-core"), catalog.root, sut=Sut("A", "B", "C"))
    bundle = reporter.finish(finished(catalog))
    original = bundle.read_bytes()
    with zipfile.ZipFile(bundle) as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}
    verifier = Verifier(catalog, TrustList.empty())
    chance = random.Random(21)
    damaged = tmp_path / "damaged.zip"
    kinds: set[OutcomeKind] = set()
    for _ in range(300):
        data = bytearray(original)
        for _ in range(chance.randint(1, 3)):
            data[chance.randrange(len(data))] ^= 1 << chance.randrange(8)
        damaged.write_bytes(bytes(data))
        outcome = verifier.verify(damaged)
        kinds.add(outcome.kind)
        assert "\n" not in outcome.line()
        if outcome.valid:
            with zipfile.ZipFile(damaged) as archive:
                assert {name: archive.read(name) for name in archive.namelist()} == contents
    assert {OutcomeKind.INVALID, OutcomeKind.UNREADABLE} <= kinds
