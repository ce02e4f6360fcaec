"""`harness run` in a subprocess, for tests whose server lives in the test's own event loop."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.conftest import ROOT


async def harness_run(
    target: str, *args: str, reports: Path, env: dict[str, str] | None = None, suite: str = "intel-core"
) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``harness run --suite SUITE --target TARGET --reports REPORTS ARGS``."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "harness.cli", "run", "--suite", suite, "--target", target,
        "--reports", str(reports), *args,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, **(env or {})},
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()
