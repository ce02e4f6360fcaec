"""Hostile files for `harness validate`: one clear line each and the right exit code, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

HARNESS = [sys.executable, "-m", "harness.cli"]
VALID = ROOT / "fixtures/formats/intel-report/1.0/samples/valid/minimal.json"


def validate(*args: str | bytes) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HARNESS, "validate", *args], capture_output=True, text=True, cwd=ROOT, timeout=60)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_huge_file(tmp_path: Path) -> None:
    huge = tmp_path / "huge.json"
    with huge.open("wb") as handle:
        handle.truncate(200 << 20)  # sparse: 200 MiB that cost no disk
    result = validate(str(huge))
    assert result.returncode == 2 and "over the" in one_line(result)


def test_large_but_readable_message_is_invalid_not_an_error(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    document = json.loads(VALID.read_text()) | {"text": "x" * (2 << 20)}
    big.write_text(json.dumps(document))
    result = validate("--json", str(big))
    assert result.returncode == 1
    assert "over the limit" in json.loads(result.stdout)["errors"][0]["message"]


@pytest.mark.parametrize(
    ("content", "forced", "code", "needle"),
    [
        (b"", None, 2, "cannot tell the format"),
        (b"", "intel-report/1.0", 1, "not well-formed JSON"),
        (bytes(range(256)) * 64, None, 2, "cannot tell the format"),
        (bytes(range(256)) * 64, "intel-report/1.0", 1, "not UTF-8"),
        (bytes(range(256)) * 64, "intel-report-xml/1.0", 1, "not well-formed"),
        (b"\xef\xbb\xbf" + VALID.read_bytes(), None, 0, ""),
    ],
    ids=["empty", "empty-forced", "binary", "binary-forced-json", "binary-forced-xml", "utf8-bom"],
)
def test_empty_and_binary_files(tmp_path: Path, content: bytes, forced: str | None, code: int, needle: str) -> None:
    path = tmp_path / "message"
    path.write_bytes(content)
    result = validate(*(["--format", forced] if forced else []), "--json", str(path))
    assert result.returncode == code, result.stdout + result.stderr
    if code == 2:
        assert needle in one_line(result)
    elif code == 1:
        assert needle in json.loads(result.stdout)["errors"][0]["message"]


def test_non_utf8_file_name(tmp_path: Path) -> None:
    name = os.fsencode(tmp_path) + b"/\xff\xfe-report.json"
    with open(name, "wb") as handle:
        handle.write(VALID.read_bytes())
    result = subprocess.run([*HARNESS, "validate", "--json", name], capture_output=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout)
    assert line["valid"] is True and "-report.json" in line["path"]


def test_directory_fifo_and_device(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for target, needle in ((tmp_path, "is a directory"), (fifo, "not a regular file"), ("/dev/zero", "not a regular")):
        result = validate(str(target))
        assert result.returncode == 2 and needle in one_line(result)


def test_unreadable_file(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any file whatever its mode; the permission path is covered by the no-such-file twin")
    secret = tmp_path / "secret.json"
    secret.write_bytes(VALID.read_bytes())
    secret.chmod(0)
    result = validate(str(secret))
    assert result.returncode == 2 and "permission denied" in one_line(result)


def test_one_bad_file_among_good_ones_keeps_the_others(tmp_path: Path) -> None:
    result = validate("--json", str(VALID), str(tmp_path / "missing.json"), str(VALID))
    assert result.returncode == 2
    assert [json.loads(line)["valid"] for line in result.stdout.splitlines()] == [True, True]
