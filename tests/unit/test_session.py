"""The run session: targets, reporters from the registry, subsets, closing; in memory."""

from __future__ import annotations

import asyncio
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from harness.catalog import Catalog
from harness.events import Event, ExchangeCompleted, RunFinished
from harness.memory import MemoryTransport, answer
from harness.model import ConfigurationError, Suite, TargetUnreachable
from harness.session import RunSession
from harness.transport import Request, Response, TransportOptions


async def sut(request: Request) -> Response:
    secret = dict(request.headers).get("X-Token", "")
    return answer(200, f'{{"echo": "{secret}"}}'.encode(), "application/json")


def suite() -> Suite:
    scenarios = tuple(
        {
            "id": f"S-0{i}",
            "title": "get",
            "level": "MUST",
            "steps": [{"request": {"method": "GET", "path": f"/s{i}"}, "expect": {"status": 200}}],
        }
        for i in (1, 2, 3)
    )
    return Suite("unit", "1.0", "unit", "", scenarios, "")


def run(session: RunSession) -> RunFinished:
    async def go() -> RunFinished:
        async with session:
            return await session.run()

    return asyncio.run(go())


def test_runs_a_subset_through_a_given_transport(catalog: Catalog) -> None:
    transport = MemoryTransport(sut)
    events: list[Event] = []
    session = (
        RunSession(catalog, suite())
        .with_transport(transport, "http://sut.invalid")
        .with_listener(events.append)
        .with_scenarios(["S-03", "S-01"])
    )
    finished = run(session)
    assert [r.id for r in finished.results] == ["S-01", "S-03"]
    assert finished.certified
    assert sorted(r.url for r in transport.requests) == ["http://sut.invalid/s1", "http://sut.invalid/s3"]
    assert len([e for e in events if isinstance(e, ExchangeCompleted)]) == 2
    assert not transport.closed, "a transport the caller gave stays open"


def test_unknown_scenario_is_a_configuration_error(catalog: Catalog) -> None:
    session = RunSession(catalog, suite()).with_transport(MemoryTransport(sut)).with_scenarios(["S-09"])
    with pytest.raises(ConfigurationError, match="no scenario S-09"):
        run(session)


def test_no_target_is_a_configuration_error(catalog: Catalog) -> None:
    with pytest.raises(ConfigurationError, match="no target"):
        run(RunSession(catalog, suite()))


def test_run_before_entering_is_refused(catalog: Catalog) -> None:
    session = RunSession(catalog, suite()).with_transport(MemoryTransport(sut))
    with pytest.raises(ConfigurationError, match="not entered"):
        asyncio.run(session.run())


def test_registry_reporters_write_redacted_evidence(catalog: Catalog, tmp_path: Path) -> None:
    """Reporters come from the entry points; the credentials' secrets never reach what they write."""
    secret = "s3cr3t-token-value"

    async def with_header(request: Request) -> Response:
        return await sut(Request(request.method, request.url, (("X-Token", secret),), request.body))

    junit = tmp_path / "junit.xml"
    session = (
        RunSession(catalog, suite())
        .with_transport(MemoryTransport(with_header))
        .with_reporters(tmp_path, console=False, junit=junit)
        .with_options(credentials=TransportOptions(headers=(("X-Token", secret),)))
    )
    run(session)
    written = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.suffix != ".zip"}
    (bundle,) = tmp_path.glob("*.evidence.zip")  # the evidence reporter: every member read too
    with zipfile.ZipFile(bundle) as archive:
        # suite/ is the suite's folder as used: this test's synthetic suite lives in tests/unit, whose
        # sources spell the secret out; every other member is what the run wrote.
        members = [name for name in archive.namelist() if not name.startswith("suite/")]
        written.update({f"{bundle.name}:{name}": archive.read(name) for name in members})
    assert {name for name in written if ":" not in name} == {
        "journal.jsonl",
        "results.json",
        "junit.xml",
        "report.html",
    }
    assert json.loads(written["results.json"])["summary"]["passed"] == 3
    assert [name for name, data in written.items() if secret.encode() in data] == []


def test_only_named_reporters(catalog: Catalog, tmp_path: Path) -> None:
    session = (
        RunSession(catalog, suite())
        .with_transport(MemoryTransport(sut))
        .with_reporters(tmp_path, only=["results-json"])
    )
    run(session)
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_unknown_reporter_is_a_configuration_error(catalog: Catalog, tmp_path: Path) -> None:
    session = RunSession(catalog, suite()).with_transport(MemoryTransport(sut)).with_reporters(tmp_path, only=["nope"])
    with pytest.raises(ConfigurationError, match="no reporter nope"):
        run(session)


def test_unreachable_loaded_target_is_reported_before_any_scenario(catalog: Catalog, tmp_path: Path) -> None:
    from tests.conftest import free_port

    events: list[Any] = []
    session = (
        RunSession(catalog, suite())
        .with_target(f"http://127.0.0.1:{free_port()}")
        .with_options(timeout_s=2.0)
        .with_listener(events.append)
    )
    with pytest.raises(TargetUnreachable):
        run(session)
    assert events == []
