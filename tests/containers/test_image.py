"""The image built from the repository: what it holds, and that a full suite certifies the endpoint it serves."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from harness import containers
from harness.catalog import Catalog
from harness.cli import RunSettings, run_suite
from tests.conftest import failing
from tests.containers.conftest import health

pytestmark = pytest.mark.containers


def leftovers(run_id: str) -> list[str]:
    client = containers.docker_client()
    try:
        return [c.id for c in client.containers.list(all=True, filters={"label": f"{containers.LABEL}={run_id}"})]
    finally:
        client.close()


def test_image_is_non_root_with_a_health_check_and_no_compiler(harness_image: containers.BuiltImage) -> None:
    client = containers.docker_client()
    try:
        config = client.images.get(harness_image.id).attrs["Config"]
        assert config["User"] == "harness:harness"
        assert config["Entrypoint"] == ["harness", "serve"]
        assert containers.HEALTH_PATH in " ".join(config["Healthcheck"]["Test"])
        probe = "id -u; id -g; for tool in cc gcc g++ clang make; do command -v $tool; done; true"
        output = client.containers.run(
            harness_image.id, ["-c", probe], entrypoint="sh", network_mode="none", remove=True
        )
    finally:
        client.close()
    assert output.decode().split() == ["10001", "10001"]


@pytest.mark.parametrize("suite", ["intel-core", "checks-core"])
def test_full_suite_certifies_the_containerised_supplier(
    harness_image: containers.BuiltImage, catalog: Catalog, suite: str, tmp_path: Path
) -> None:
    # checks-core makes the supplier send to a counterpart on the host's loopback: host networking reaches it.
    with containers.ReferenceContainers(harness_image.tag, ["supplier"]).with_free_ports() as stack:
        url = stack.urls["supplier"]
        finished = asyncio.run(run_suite(catalog, suite, url, RunSettings(tmp_path, console=False)))
    assert finished.certified, failing(finished)
    assert finished.summary.failed == finished.summary.errors == finished.summary.manual == 0
    assert leftovers(stack.run_id) == []


def test_each_role_serves_what_it_names_on_loopback(harness_image: containers.BuiltImage) -> None:
    with containers.ReferenceContainers(harness_image.tag).with_free_ports() as stack:
        urls = stack.urls
        roles = {role: health(url)["roles"] for role, url in urls.items()}
        client = containers.docker_client()
        try:
            attrs = [client.containers.get(e.container_id).attrs for e in stack.endpoints.values()]
        finally:
            client.close()
    assert set(roles["supplier"]) >= {"IntelHub", "QueryResponder", "TestHooks"}
    assert roles["intel-hub"] == ["IntelHub"] and roles["query-responder"] == ["QueryResponder"]
    assert roles["alert-hub"] == ["AlertHub"] and roles["esn-gateway"] == ["EsnGateway"]
    assert all(url.startswith("http://127.0.0.1:") for url in urls.values())
    assert {a["HostConfig"]["NetworkMode"] for a in attrs} == {"host"}
    assert all("HARNESS_HOST=127.0.0.1" in a["Config"]["Env"] for a in attrs)
    assert leftovers(stack.run_id) == []


def test_a_failed_start_removes_every_container_and_says_why(harness_image: containers.BuiltImage) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        busy = taken.getsockname()[1]
        stack = containers.ReferenceContainers(harness_image.tag, ["supplier", "intel-hub"], timeout_s=60)
        stack.with_free_ports().with_ports(intel_hub=busy)
        with pytest.raises(containers.ContainerError, match=f"cannot bind 127.0.0.1:{busy} for intel-hub"):
            stack.start()
    assert stack.endpoints == {}
    assert leftovers(stack.run_id) == []


def test_an_interrupt_while_waiting_removes_every_container(
    harness_image: containers.BuiltImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    stack = containers.ReferenceContainers(harness_image.tag, ["supplier", "query-responder"]).with_free_ports()
    original = containers.HealthAnswers.wait_until_ready
    calls: list[str] = []

    def second_is_interrupted(self: containers.HealthAnswers, target: object) -> None:
        calls.append(self.url)
        if len(calls) == 2:
            interrupted()
        original(self, target)  # type: ignore[arg-type]

    monkeypatch.setattr(containers.HealthAnswers, "wait_until_ready", second_is_interrupted)
    with pytest.raises(KeyboardInterrupt):
        stack.start()
    assert len(calls) == 2
    assert leftovers(stack.run_id) == []


def test_a_missing_image_is_one_clear_error(docker_engine: None) -> None:
    stack = containers.ReferenceContainers("netcode-harness:no-such-tag", ["supplier"]).with_free_ports()
    with pytest.raises(containers.ContainerError, match="image netcode-harness:no-such-tag not found"):
        stack.start()
