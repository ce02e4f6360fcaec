"""docs/getting-started.md works as written: its shell blocks run in order, against its example SUT.

The page's port 8080 is replaced by a free loopback port; a block preceded by ``<!-- test: background -->``
is the SUT, started in the background until the next one. What each block must print is below; the failure
the page quotes must be the one the run prints.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port

PAGE = ROOT / "docs" / "getting-started.md"
_BLOCK = re.compile(r"(?P<mark><!-- test: background -->\n)?```(?P<lang>\w+)\n(?P<body>.*?)\n```", re.S)

EXPECTED = [
    ["rule `PQ-01`", "## Person check", "README ", "queries "],
    ["my-check.json: valid person-query/1.0"],
    ["checks-core@1.0", "-> CERTIFIED (every MUST scenario passed)", "report: reports/first/results.json"],
    ["FAIL CC-04 MUST", "-> NOT CERTIFIED", "exit code 1"],
    ["case-insensitively after", "trimming"],
]


def _blocks() -> list[tuple[str, str, bool]]:
    return [(m["lang"], m["body"], bool(m["mark"])) for m in _BLOCK.finditer(PAGE.read_text(encoding="utf-8"))]


class Background:
    """The SUT a background block starts; stopped when the next one starts, or at the end."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None

    def start(self, command: str, cwd: Path, env: dict[str, str]) -> None:
        self.stop()
        self.process = subprocess.Popen(
            ["bash", "-c", f"exec {command}"], cwd=cwd, env=env, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        assert "listening on http://127.0.0.1:" in self.process.stdout.readline()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            assert self.process.stdout is not None
            self.process.stdout.close()
            self.process = None


@pytest.fixture
def background() -> Iterator[Background]:
    running = Background()
    yield running
    running.stop()


def test_the_page_runs_as_written(tmp_path: Path, background: Background) -> None:
    (tmp_path / "examples").mkdir()
    shutil.copy2(ROOT / "examples" / "first_sut.py", tmp_path / "examples" / "first_sut.py")
    env = {k: v for k, v in os.environ.items() if k not in ("HARNESS_FIXTURES", "HARNESS_CATALOG", "HARNESS_DOCS")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # the harness under test
    port = str(free_port())
    outputs: list[str] = []
    for lang, body, in_background in _blocks():
        if lang != "sh":
            continue
        script = body.replace("8080", port)
        if in_background:
            background.start(script, tmp_path, env)
            continue
        done = subprocess.run(
            ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, f"{script}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        assert "Traceback" not in done.stderr and "command not found" not in done.stderr, done.stderr
        outputs.append(done.stdout)
    assert len(outputs) == len(EXPECTED)
    for output, wanted in zip(outputs, EXPECTED, strict=True):
        for text in wanted:
            assert text in output, f"{text!r} not in:\n{output[-3000:]}"
    quoted = next(body for lang, body, _ in _blocks() if lang == "text").splitlines()
    failing = outputs[3]
    assert re.sub(r"\(\d+ ms\)", "", quoted[0]).strip() in re.sub(r"\(\d+ ms\)", "", failing)
    assert quoted[1] in failing  # the page quotes the failure the run really prints
    assert (tmp_path / "reports" / "bug" / "report.html").is_file()
