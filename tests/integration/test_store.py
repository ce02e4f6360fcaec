"""The run store on SQLite and PostgreSQL (concurrent writers lose nothing), runs commands, and diff."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.catalog import Catalog
from harness.cli import main
from harness.endpoints import build_app
from harness.store import open_store
from tests.integration.broken_suppliers import build_broken
from tests.integration.evidence_helpers import run_with_evidence
from tests.integration.pg_cluster import throwaway_cluster

ROOT = Path(__file__).resolve().parents[2]

WRITER = """
import sys
from harness.store import RunRecord, open_store
url, worker, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
store = open_store(url)
for n in range(count):
    results = {"suite": {"name": "intel-core", "version": "1.0"}, "started": "2026-01-01T00:00:00.000Z",
               "finished": "2026-01-01T00:00:01.000Z", "certified": True,
               "summary": {"passed": 1, "failed": 0, "errors": 0, "skipped": 0, "manual": 0},
               "scenarios": [{"id": "IC-01", "level": "MUST", "verdict": "passed", "failures": [],
                              "latency_ms": {"count": 1, "p50": 1.0, "p95": 1.0, "max": 1.0}}]}
    store.record(RunRecord(f"w{worker}-{n}", results, {}, None, None, "unsigned", "run"))
store.close()
"""


def _concurrent_writers(url: str, workers: int = 4, each: int = 15) -> None:
    processes = [
        subprocess.Popen([sys.executable, "-c", WRITER, url, str(w), str(each)], cwd=ROOT, stderr=subprocess.PIPE)
        for w in range(workers)
    ]
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()[-2000:]
    store = open_store(url)
    try:
        rows = store.list(limit=10_000)
        assert len(rows) == workers * each
        assert len(store.get("w0-1")["scenarios"]) == 1
    finally:
        store.close()


def test_concurrent_runs_lose_nothing_on_sqlite(tmp_path: Path) -> None:
    _concurrent_writers(f"sqlite:///{tmp_path / 'store.db'}")


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    with throwaway_cluster() as url:
        yield url


@pytest.mark.postgres
def test_concurrent_runs_lose_nothing_on_postgresql(postgres: str) -> None:
    _concurrent_writers(postgres)


@pytest.mark.postgres
def test_runs_import_into_postgresql(
    catalog: Catalog, postgres: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = asyncio.run(run_with_evidence(catalog, build_app(catalog), tmp_path))
    assert main(["runs", "import", str(bundle), "--store", postgres]) == 0
    assert main(["runs", "list", "--store", postgres, "--sut", "Reference", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert [row["run_id"] for row in listed] == [bundle.name.removesuffix(".evidence.zip")]


def test_store_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "list", "--store", "mysql://x@127.0.0.1/db"]) == 2
    assert "unsupported store" in capsys.readouterr().err
    assert main(["runs", "show", "nope", "--store", "sqlite://"]) == 2
    assert "no run 'nope'" in capsys.readouterr().err


def test_import_refuses_a_tampered_bundle(catalog: Catalog, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.integration.evidence_helpers import rebuild

    bundle = asyncio.run(run_with_evidence(catalog, build_app(catalog), tmp_path))
    tampered = rebuild(bundle, tmp_path / "t.zip", {"junit.xml": b"<x/>"})
    url = f"sqlite:///{tmp_path / 's.db'}"
    assert main(["runs", "import", str(tampered), "--store", url]) == 1
    assert "digest mismatch: junit.xml" in capsys.readouterr().out
    assert main(["runs", "import", str(bundle), "--store", url]) == 0
    run_id = bundle.name.removesuffix(".evidence.zip")
    assert main(["runs", "show", run_id[:8], "--store", url, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert shown["verification"] == "unsigned" and shown["sut_product"] == "Reference"
    assert len(shown["scenarios"]) == len(catalog.suite("checks-core").scenarios)


def test_diff_lists_exactly_the_changed_scenarios(
    catalog: Catalog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def runs() -> tuple[Path, Path, Path]:
        good = await run_with_evidence(catalog, build_app(catalog), tmp_path / "a", "intel-core")
        again = await run_with_evidence(catalog, build_app(catalog), tmp_path / "b", "intel-core")
        broken = await run_with_evidence(
            catalog, build_broken(catalog, "missing-location"), tmp_path / "c", "intel-core"
        )
        return good, again, broken

    good, again, broken = asyncio.run(runs())
    url = f"sqlite:///{tmp_path / 's.db'}"
    assert main(["runs", "import", str(good), str(broken), "--store", url]) == 0
    capsys.readouterr()
    assert main(["diff", str(good), str(again), "--latency-threshold", "100000%"]) == 0
    assert "no regression" in capsys.readouterr().out
    expected = {r["id"] for r in json.loads(_member(broken, "results.json"))["scenarios"] if r["verdict"] != "passed"}
    assert expected, "the broken variant fails something"
    good_id = good.name.removesuffix(".evidence.zip")
    assert main(["diff", good_id, str(broken), "--json", "--store", url, "--latency-threshold", "100000%"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert {e["scenario"] for e in report["newly_failing"]} == expected
    assert report["fixed"] == [] and report["regressed"] is True
    assert all(e["checks_after"] and e["checks_after"][0]["expected"] is not None for e in report["newly_failing"])
    assert main(["diff", str(broken), str(good), "--latency-threshold", "100000%"]) == 0
    assert "fixed: " in capsys.readouterr().out
    assert main(["diff", str(good), "no-such.zip"]) == 2
    assert main(["diff", str(good), str(again), "--latency-threshold", "lots"]) == 2


def _member(bundle: Path, name: str) -> bytes:
    import zipfile

    with zipfile.ZipFile(bundle) as archive:
        return archive.read(name)


def test_keys_generate_and_signed_run_verify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HARNESS_KEY_PASSWORD", "correct horse battery staple")
    assert main(["keys", "generate", "--out", str(tmp_path / "lab")]) == 0
    out = capsys.readouterr()
    keyid = out.out.split()[1]
    assert len(keyid) == 64 and "correct horse" not in out.out + out.err
    assert b"ENCRYPTED PRIVATE KEY" in (tmp_path / "lab.key").read_bytes()
    assert main(["keys", "generate", "--out", str(tmp_path / "lab")]) == 2  # never overwrites
    monkeypatch.setenv("HARNESS_KEY_PASSWORD", "wrong")
    import argparse

    from harness.cli.evidence import run_options

    args = argparse.Namespace(
        sut_supplier=None, sut_product=None, sut_version=None, sign_key=tmp_path / "lab.key", key_password_env=None
    )
    from harness.model import UsageError

    with pytest.raises(UsageError, match="password is wrong"):
        run_options(args)
