"""``harness up`` (in-process and ``--containers``) and ``harness serve --role``, run as a user runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import containers
from tests.conftest import ROOT
from tests.containers.conftest import Lines, health

# Ctrl-C as at a terminal, whatever the test runner's parent did with SIGINT.
WITH_CTRL_C = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from harness.cli import main; sys.exit(main(sys.argv[1:]))"
)


def harness(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WITH_CTRL_C, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=60)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def finish(process: subprocess.Popen[str], lines: Lines, sig: int) -> tuple[int, str]:
    process.send_signal(sig)
    code = process.wait(timeout=120)
    lines.close()
    assert process.stderr is not None
    return code, process.stderr.read()


def test_up_containers_without_an_engine_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "up", "--containers"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"},
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("harness: no Docker engine reachable at unix://")


def test_up_in_process_serves_every_role_until_sigterm(started: list[subprocess.Popen[str]]) -> None:
    process = harness("up", "--free-ports")
    started.append(process)
    lines = Lines(process)
    shown = lines.until("up in-process")
    urls = dict(line.split()[:2] for line in shown[:-1])
    assert set(urls) == {"supplier", "intel-hub", "query-responder", "alert-hub", "esn-gateway"}
    assert health(urls["intel-hub"])["roles"] == ["IntelHub"]
    assert "TestHooks" in health(urls["supplier"])["roles"]
    code, errors = finish(process, lines, signal.SIGTERM)
    assert code == 0 and errors.strip() == "stopped"


def test_serve_takes_role_address_and_port_from_the_environment(started: list[subprocess.Popen[str]]) -> None:
    process = harness(
        "serve", env={"HARNESS_ROLE": "query-responder", "HARNESS_HOST": "127.0.0.1", "HARNESS_PORT": "0"}
    )
    started.append(process)
    lines = Lines(process)
    url = lines.until("listening on")[-1].split(" on ", 1)[1].split()[0]
    assert url.startswith("http://127.0.0.1:")
    assert health(url)["roles"] == ["QueryResponder"]
    code, _ = finish(process, lines, signal.SIGINT)
    assert code == 0


def test_serve_an_unknown_role_is_one_line_and_exit_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "serve", "--role", "dispatcher", "--port", "0"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "harness: unknown role 'dispatcher' (known: supplier, intel-hub, query-responder, alert-hub, esn-gateway)"
    )


@pytest.mark.containers
def test_up_containers_prints_urls_and_removes_them_on_ctrl_c(
    harness_image: containers.BuiltImage, started: list[subprocess.Popen[str]]
) -> None:
    process = harness("up", "--containers", "--free-ports", "--image", harness_image.tag, "--role", "supplier")
    started.append(process)
    lines = Lines(process)
    shown = lines.until("up in containers")
    role, url, _, container_id = shown[0].replace(",", "").split()[:4]
    assert role == "supplier" and "TestHooks" in health(url)["roles"]
    code, errors = finish(process, lines, signal.SIGINT)
    assert code == 0, errors
    assert errors.strip() == "stopped; containers removed"
    client = containers.docker_client()
    try:
        assert client.containers.list(all=True, filters={"id": container_id}) == []
    finally:
        client.close()


@pytest.mark.containers
def test_up_containers_with_a_missing_image_is_one_line_and_exit_2(docker_engine: None) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "up", "--containers", "--image", "netcode-harness:no-such-tag"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "image netcode-harness:no-such-tag not found" in result.stderr
