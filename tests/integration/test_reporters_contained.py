"""Reporters read hostile bodies within the validators' bounds, and one that fails stops nothing.

The supplier answers every request with a JSON array nested 100,000 deep: the run judges it (every
MUST scenario fails) and every report is written, report.html included, with no traceback. A reporter
that raises is named on one line; the others and the run go on, and the exit code stays the verdict's.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from aiohttp import web

from harness.catalog import Catalog
from harness.endpoints import ReferenceServer
from harness.events import Event, RunFinished
from harness.memory import MemoryTransport, answer
from harness.model import Suite
from harness.session import RunSession
from harness.transport import Request, Response
from tests.hostile.runs import harness_run

DEEP = b"[" * 100_000 + b"]" * 100_000


async def _deep(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=DEEP, content_type="application/json")


def _deep_supplier() -> web.Application:
    app = web.Application(client_max_size=1 << 24)
    app.router.add_route("*", "/{tail:.*}", _deep)
    return app


async def test_a_100000_deep_json_answer_ends_in_verdicts_and_every_report(tmp_path: Path) -> None:
    async with ReferenceServer(_deep_supplier()) as url:
        junit = str(tmp_path / "junit.xml")
        code, out, err = await harness_run(url, "--unattended", "--junit", junit, reports=tmp_path)
    assert "Traceback" not in out + err and "RecursionError" not in out + err, err[-2000:]
    assert code == 1, (code, err[-2000:])  # not certified: the verdict's exit code
    assert "NOT CERTIFIED" in out
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "intel-core" in page
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert results["summary"]["passed"] < len(results["scenarios"])
    assert list(tmp_path.glob("*.evidence.zip")) and (tmp_path / "junit.xml").is_file()


async def _ok(request: Request) -> Response:
    return answer(200, b'{"ok": true}', "application/json")


def _suite() -> Suite:
    step = {"request": {"method": "GET", "path": "/x"}, "expect": {"status": 200}}
    return Suite("unit", "1.0", "unit", "", ({"id": "S-1", "title": "t", "level": "MUST", "steps": [step]},), "")


class _Exploding:
    """A reporter that raises on the first event it hears."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, event: Event) -> None:
        self.calls += 1
        raise RecursionError("maximum recursion depth exceeded while decoding a JSON array")


def test_a_failing_reporter_is_named_and_stops_nothing(catalog: Catalog, tmp_path: Path, capsys: object) -> None:
    exploding = _Exploding()
    heard: list[Event] = []

    async def go() -> tuple[RunFinished, list[str]]:
        session = (
            RunSession(catalog, _suite())
            .with_transport(MemoryTransport(_ok))
            .with_reporters(tmp_path, console=False)
            .with_listener(exploding, heard.append)
        )
        async with session:
            finished = await session.run()
            return finished, session.reporter_failures

    finished, failures = asyncio.run(go())
    assert finished.certified  # the verdict is the run's, not the reporter's
    assert exploding.calls == 1  # silenced after its first failure
    assert any(isinstance(event, RunFinished) for event in heard)  # the listener after it heard everything
    assert len(failures) == 1 and failures[0].startswith("reporter _Exploding failed on RunStarted (RecursionError")
    assert (tmp_path / "results.json").is_file() and (tmp_path / "report.html").is_file()
    assert list(tmp_path.glob("*.evidence.zip"))
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert err.count("error: reporter _Exploding failed") == 1 and "\n" not in err.strip()
