"""Fixtures for scenarios written in Python, and for suppliers testing their client side.

The same catalog, message building and checks as the YAML suites: a failed check
reads ``(field, expected, actual)`` exactly as in ``harness run``.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from harness.catalog import Catalog
from harness.endpoints import ReferenceServer, build_app, roles_named
from harness.model import CheckFailure, HarnessError
from harness.runner.checks import CheckContext, evaluate
from harness.runner.context import Message, ScenarioContext
from harness.transport import Request, Response, Transport, TransportOptions, load_transport

__all__ = [
    "ExpectationFailed",
    "NetcodeTarget",
    "ReferenceRole",
    "_netcode_transport",
    "netcode_catalog",
    "netcode_check",
    "netcode_expect",
    "netcode_reference",
    "netcode_target",
]


class ExpectationFailed(AssertionError):
    """Checks that did not hold, one ``[step] check: expected X, got Y (why)`` line each."""

    def __init__(self, failures: list[CheckFailure]) -> None:
        self.failures = failures
        lines = [
            f"[{f.step}] {f.check}: expected {json.dumps(f.expected, default=str)}, "
            f"got {json.dumps(f.actual, default=str)} ({f.message})"
            + (f"; {f.not_checked_note}" if f.not_checked else "")
            for f in failures
        ]
        super().__init__("\n".join(lines))


def check_response(
    response: Response, expect: dict[str, Any], context: ScenarioContext, sent: Message | None = None, step: str = "py"
) -> list[CheckFailure]:
    """Judge ``response`` with the scenario checks named in ``expect`` (the keys of a YAML step's ``expect:``)."""
    return evaluate(expect, CheckContext(response, context, sent), step, context.expand)


@dataclass(slots=True)
class NetcodeTarget:
    """The system under test, as a scenario step sees it; one per test (fresh ``${uuid:...}`` values)."""

    url: str
    transport: Transport
    context: ScenarioContext
    call: Callable[[Any], Any]
    sent: dict[str, Message] = field(default_factory=dict)

    def send(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Response:
        request = Request(method.upper(), self.url + "/" + path.lstrip("/"), tuple((headers or {}).items()), body)
        response: Response = self.call(self.transport.send(request))
        return response

    def send_message(
        self, method: str, path: str, message: dict[str, Any], headers: dict[str, str] | None = None, step: str = "py"
    ) -> tuple[Message, Response]:
        """Build a message as a YAML ``message:`` block does (``sample``, ``set``, ``remove``, ``as``, ``same_as``)
        and send it; the message is remembered under ``step`` for a later ``same_as``."""
        built = self.context.build_message(message)
        self.context.sent[step] = built
        all_headers = {"Content-Type": built.content_type, **(headers or {})}
        return built, self.send(method, path, built.body, all_headers)


@pytest.fixture(scope="session")
def netcode_catalog(request: pytest.FixtureRequest) -> Catalog:
    """The harness's catalog: formats (``validator_for(catalog.format(id)).validate(bytes)``), samples, suites."""
    from harness.plugin.session import plugin_state

    return plugin_state(request.config).catalog


@pytest.fixture(scope="session")
def _netcode_transport(request: pytest.FixtureRequest) -> Iterator[tuple[str, Transport]]:
    from harness.plugin.session import plugin_state

    state = plugin_state(request.config)
    if state.settings.target is None:
        pytest.skip("no --netcode-target given")
    options = TransportOptions(timeout_s=state.settings.timeout_s, concurrency=state.settings.concurrency)
    transport = load_transport("http", options)
    try:
        state.loop.call(transport.probe(state.settings.target))
    except HarnessError as exc:
        state.loop.call(transport.close())
        pytest.fail(f"--netcode-target {state.settings.target}: {exc}", pytrace=False)
    yield state.settings.target.rstrip("/"), transport
    state.loop.call(transport.close())


@pytest.fixture
def netcode_target(request: pytest.FixtureRequest, _netcode_transport: tuple[str, Transport]) -> NetcodeTarget:
    """The system under test named by ``--netcode-target`` (the test is skipped without one)."""
    from harness.plugin.session import plugin_state

    state = plugin_state(request.config)
    url, transport = _netcode_transport
    return NetcodeTarget(url, transport, ScenarioContext(state.catalog, url), state.loop.call)


@pytest.fixture
def netcode_check(
    request: pytest.FixtureRequest,
) -> Callable[..., list[CheckFailure]]:
    """``netcode_check(response, expect, sent=None)``: the failed checks, as ``CheckFailure`` values."""
    from harness.plugin.session import plugin_state

    catalog = plugin_state(request.config).catalog

    def judge(
        response: Response, expect: dict[str, Any], sent: Message | None = None, context: ScenarioContext | None = None
    ) -> list[CheckFailure]:
        return check_response(response, expect, context or ScenarioContext(catalog, ""), sent)

    return judge


@pytest.fixture
def netcode_expect(netcode_check: Callable[..., list[CheckFailure]]) -> Callable[..., None]:
    """``netcode_expect(response, expect, sent=None)``: raises ``ExpectationFailed`` listing every failed check."""

    def expect(
        response: Response, expect: dict[str, Any], sent: Message | None = None, context: ScenarioContext | None = None
    ) -> None:
        failures = netcode_check(response, expect, sent, context)
        if failures:
            raise ExpectationFailed(failures)

    return expect


@dataclass(slots=True)
class ReferenceRole:
    """A reference role serving on loopback; what it received is at ``/_harness/received``."""

    role: str
    url: str

    def received(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(self.url + "/_harness/received", timeout=10) as answer:  # noqa: S310 - loopback
            return list(json.loads(answer.read()))

    def reset(self) -> None:
        request = urllib.request.Request(self.url + "/_harness/reset", method="POST")  # noqa: S310 - loopback
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - loopback
            pass


@pytest.fixture
def netcode_reference(request: pytest.FixtureRequest) -> Iterator[Callable[[str], ReferenceRole]]:
    """``netcode_reference(role)`` starts a reference role (``intel-hub``, ``alert-hub``, ..., ``supplier``)
    on 127.0.0.1 for the test: in-process, or in a container with ``--netcode-containers``."""
    from harness.plugin.session import plugin_state

    state = plugin_state(request.config)
    stops: list[Callable[[], object]] = []

    def start(role: str) -> ReferenceRole:
        try:
            if state.settings.containers:
                from harness.containers import ReferenceContainers

                containers = ReferenceContainers(roles=[role]).with_free_ports()
                urls = containers.start()
                stops.append(containers.stop)
                return ReferenceRole(role, urls[role])
            server = ReferenceServer(build_app(state.catalog, roles_named(state.catalog, role)))
            url = state.loop.call(server.start())
            stops.append(lambda: state.loop.call(server.stop()))
            return ReferenceRole(role, url)
        except HarnessError as exc:
            pytest.fail(f"netcode_reference({role!r}): {exc}", pytrace=False)

    yield start
    for stop in reversed(stops):
        stop()
