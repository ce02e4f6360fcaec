"""Fixtures for tests that need a Docker engine (marker ``containers``).

Without an engine those tests are skipped, with the reason; in CI (``CI=true``)
that is a failure instead: .ci/run starts an engine, so a missing one means CI
is broken, not that the tests may pass unseen.
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading
import time
import urllib.request
from typing import IO, Any

import pytest

from harness import containers
from tests.conftest import ROOT


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def docker_engine() -> None:
    problem = containers.engine_problem()
    if problem is None:
        return
    if in_ci():
        pytest.fail(f"CI=true, so the container tests must run, but {problem}", pytrace=False)
    pytest.skip(f"needs a Docker engine: {problem}")


@pytest.fixture(autouse=True)
def _engine_for_marked(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("containers"):
        request.getfixturevalue("docker_engine")


@pytest.fixture(scope="session")
def harness_image(docker_engine: None) -> containers.BuiltImage:
    """The image built from this checkout; base $HARNESS_BASE_IMAGE (.ci/run's local one), else the Dockerfile's."""
    containers.prepare_wheels(ROOT)
    return containers.build_image(ROOT, containers.IMAGE, os.environ.get("HARNESS_BASE_IMAGE") or None)


def health(url: str) -> dict[str, Any]:
    """The answer of ``GET <url>/_harness/health`` (loopback, no proxy)."""
    import json

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url + containers.HEALTH_PATH, timeout=5) as response:
        assert response.status == 200
        answer: dict[str, Any] = json.loads(response.read())
        return answer


class Lines:
    """The lines a process prints, read by a thread so that waiting for one is bounded in time."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self.process = process
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def until(self, marker: str, timeout_s: float = 120.0) -> list[str]:
        """Lines up to and including the first that contains ``marker``."""
        deadline = time.monotonic() + timeout_s
        lines: list[str] = []
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            lines.append(line)
            self.seen.append(line)
            if marker in line:
                return lines
        raise AssertionError(f"no line with {marker!r} (exit code {self.process.poll()}); got {lines}")

    def close(self) -> None:
        self._thread.join(timeout=30)
