"""``harness load`` with credentials and Locust's CSV: a bearer token on every request (never written anywhere),
an https target verified against --ca-bundle with a client certificate (mutual TLS), a clear exit 3 when the
server's certificate does not verify, and --csv statistics that count what load.json counts."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.hostile.pki import Authority
from tests.integration.served import serve_process

HARNESS = [sys.executable, "-m", "harness.cli"]
TOKEN = "t0ken-that-must-never-be-written"
PASSWORD = "client-key-pa55word"


def harness(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HARNESS, *args], capture_output=True, text=True, cwd=ROOT, timeout=180, env={**os.environ, **(env or {})}
    )


@pytest.fixture(scope="module")
def guarded() -> Iterator[str]:
    with serve_process([sys.executable, "-m", "tests.integration.guarded_supplier"], {"TOKEN": TOKEN}) as url:
        yield url


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pki")
    ca = Authority(folder, "load-ca")
    server, client = ca.issue("server"), ca.issue("client", client=True, password=PASSWORD.encode())
    return {
        "ca": ca.bundle,
        "cert": server.cert,
        "key": server.key,
        "client_cert": client.cert,
        "client_key": client.key,
    }


@pytest.fixture(scope="module")
def mutual_tls(pki: dict[str, Path]) -> Iterator[str]:
    with serve_process(
        [*HARNESS, "serve", "--host", "127.0.0.1", "--port", "0", "--tls-cert", str(pki["cert"]),
         "--tls-key", str(pki["key"]), "--client-ca", str(pki["ca"])]
    ) as url:  # fmt: skip
        yield url


def everything_written(folder: Path, result: subprocess.CompletedProcess[str]) -> str:
    files = [path.read_text(encoding="utf-8", errors="replace") for path in folder.rglob("*") if path.is_file()]
    return "\n".join([result.stdout, result.stderr, *files])


def test_a_bearer_token_goes_on_every_request_and_nowhere_else(guarded: str, tmp_path: Path) -> None:
    common = ["load", "--suite", "intel-core", "--target", guarded, "--users", "2", "--spawn-rate", "50",
              "--exchanges", "200", "--quiet", "--reports"]  # fmt: skip
    without = harness(*common, str(tmp_path / "without"), "--max-failure-rate", "1")
    document = json.loads((tmp_path / "without" / "load.json").read_text())
    assert document["failures"] == document["exchanges"] > 0  # every answer a 401: the guard is real
    result = harness(*common, str(tmp_path / "with"), "--header", f"Authorization: Bearer {TOKEN}")
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads((tmp_path / "with" / "load.json").read_text())
    assert document["exchanges"] >= 200 and (document["failures"], document["errors"]) == (0, 0)
    assert TOKEN not in everything_written(tmp_path / "with", result)
    assert without.returncode == 0 and TOKEN not in without.stdout + without.stderr


def test_mutual_tls_with_a_private_ca(mutual_tls: str, pki: dict[str, Path], tmp_path: Path) -> None:
    assert mutual_tls.startswith("https://127.0.0.1:")
    result = harness(
        "load", "--suite", "checks-core", "--target", mutual_tls, "--users", "2", "--spawn-rate", "50",
        "--exchanges", "150", "--quiet", "--reports", str(tmp_path), "--ca-bundle", str(pki["ca"]),
        "--client-cert", str(pki["client_cert"]), "--client-key", str(pki["client_key"]),
        "--key-password-env", "LOAD_KEY_PASSWORD",
        env={"LOAD_KEY_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads((tmp_path / "load.json").read_text())
    assert document["exchanges"] >= 150 and (document["failures"], document["errors"]) == (0, 0)
    assert PASSWORD not in everything_written(tmp_path, result)


def test_a_server_certificate_that_does_not_verify_is_exit_3(mutual_tls: str, tmp_path: Path) -> None:
    result = harness("load", "--suite", "checks-core", "--target", mutual_tls, "--exchanges", "5",
                     "--reports", str(tmp_path))  # fmt: skip
    assert result.returncode == 3, result.stdout + result.stderr
    assert "TLS" in result.stderr and "certificate" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_csv_statistics_count_what_load_json_counts(guarded: str, tmp_path: Path) -> None:
    prefix = tmp_path / "csv" / "run"
    result = harness(
        "load", "--suite", "intel-core", "--target", guarded, "--users", "2", "--spawn-rate", "50",
        "--exchanges", "120", "--quiet", "--reports", str(tmp_path), "--csv", str(prefix),
        "--header", f"Authorization: Bearer {TOKEN}",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads((tmp_path / "load.json").read_text())
    with open(f"{prefix}_stats.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    aggregated = next(row for row in rows if row["Name"] == "Aggregated")
    assert int(aggregated["Request Count"]) == document["exchanges"]
    steps = {row["Name"]: int(row["Request Count"]) for row in rows if row["Name"] != "Aggregated"}
    assert steps == {step["step"]: step["count"] for step in document["steps"]}
    for suffix in ("_stats_history.csv", "_failures.csv", "_exceptions.csv"):
        assert Path(f"{prefix}{suffix}").is_file()
