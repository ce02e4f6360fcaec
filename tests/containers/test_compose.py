"""The compose stack (docker-compose.yml with the CI override): every service comes up healthy and answers."""

from __future__ import annotations

import os
import subprocess
import time
import uuid

import pytest

from harness import containers
from tests.conftest import ROOT
from tests.containers.conftest import health

pytestmark = pytest.mark.containers

PORT_VARIABLES = {
    "supplier": "HARNESS_SUPPLIER_PORT",
    "intel-hub": "HARNESS_INTEL_HUB_PORT",
    "query-responder": "HARNESS_QUERY_RESPONDER_PORT",
    "alert-hub": "HARNESS_ALERT_HUB_PORT",
    "esn-gateway": "HARNESS_ESN_GATEWAY_PORT",
}
ROLES = {
    "supplier": "TestHooks",
    "intel-hub": "IntelHub",
    "query-responder": "QueryResponder",
    "alert-hub": "AlertHub",
    "esn-gateway": "EsnGateway",
}


def health_states(project: str) -> dict[str, str]:
    client = containers.docker_client()
    try:
        found = client.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"})
        states: dict[str, str] = {}
        for container in found:
            container.reload()
            service = container.labels["com.docker.compose.service"]
            states[service] = container.attrs["State"].get("Health", {}).get("Status", container.status)
        return states
    finally:
        client.close()


def test_compose_files_are_valid_with_and_without_the_ci_override() -> None:
    compose = containers.compose_command()
    for files in (
        ["docker-compose.yml", "docker-compose.override.yml"],
        ["docker-compose.yml", "docker-compose.ci.yml"],
    ):
        options = [option for name in files for option in ("-f", str(ROOT / name))]
        checked = subprocess.run([*compose, *options, "config", "--quiet"], capture_output=True, text=True, timeout=60)
        assert checked.returncode == 0, checked.stderr


def test_compose_stack_comes_up_healthy_and_every_service_answers(harness_image: containers.BuiltImage) -> None:
    ports = {service: containers.free_port() for service in PORT_VARIABLES}
    environment = {**os.environ, "HARNESS_IMAGE": harness_image.tag}
    environment.update({variable: str(ports[service]) for service, variable in PORT_VARIABLES.items()})
    project = f"netcode-test-{uuid.uuid4().hex[:10]}"
    files = ["-f", str(ROOT / "docker-compose.yml"), "-f", str(ROOT / "docker-compose.ci.yml")]
    compose = [*containers.compose_command(), "--project-name", project, "--project-directory", str(ROOT), *files]
    try:
        up = subprocess.run(
            [*compose, "up", "--detach", "--no-build"], env=environment, capture_output=True, text=True, timeout=300
        )
        assert up.returncode == 0, up.stderr
        deadline = time.monotonic() + 120
        while (states := health_states(project)) != dict.fromkeys(ports, "healthy"):
            assert "unhealthy" not in states.values() and "exited" not in states.values(), states
            assert time.monotonic() < deadline, f"not healthy in time: {states}"
            time.sleep(0.5)
        for service, port in ports.items():
            assert ROLES[service] in health(f"http://127.0.0.1:{port}")["roles"]
    finally:
        down = subprocess.run(
            [*compose, "down", "--remove-orphans", "--timeout", "10"],
            env=environment,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert down.returncode == 0, down.stderr
    assert health_states(project) == {}
