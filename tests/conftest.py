from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from harness.catalog import Catalog, load_catalog
from harness.endpoints import ReferenceServer
from harness.endpoints.sip_gateway import SipServer
from harness.events import RunFinished
from harness.session import RunSession

ROOT = Path(__file__).resolve().parent.parent
CORPUS_ABSENT = "third-party corpus not present"


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The third-party corpus (official schemas and real samples), beside the repository and never in it.

    The only place a test learns where it is: tests that use it carry the ``corpus`` marker. Without
    the folder they are skipped; under ``CI=true`` its absence fails them instead. ``$HARNESS_CORPUS``
    names it for a checkout that does not sit beside ``shared/`` (a git worktree elsewhere).
    """
    folder = Path(os.environ.get("HARNESS_CORPUS") or ROOT.parent / "shared" / "corpus")
    if not folder.is_dir():
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):  # as tests/containers/conftest.py reads it
            pytest.fail(f"{CORPUS_ABSENT} (CI=true needs {folder})", pytrace=False)
        pytest.skip(CORPUS_ABSENT)
    return folder


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that uses the ``corpus`` fixture must say so with the ``corpus`` marker."""
    unmarked = [
        item.nodeid
        for item in items
        if "corpus" in getattr(item, "fixturenames", ()) and item.get_closest_marker("corpus") is None
    ]
    if unmarked:
        raise pytest.UsageError(f"tests use the corpus fixture without the corpus marker: {', '.join(unmarked[:5])}")


async def certify(
    catalog: Catalog,
    app: web.Application,
    suite: str = "intel-core",
    sip: type[SipServer] | None = None,
    **runner_options: Any,
) -> RunFinished:
    """Run ``suite`` against ``app`` served on loopback port 0; the verdicts, nothing printed.

    A suite in which the SUT sends gets a reference counterpart on loopback too.
    With ``roles``, only the scenarios of those roles run (``harness run --role``).
    With ``sip`` (SipServer or a variant of it), that server runs on loopback as
    the SUT's SIP side and is the run's SIP target (UDP).
    """
    roles = runner_options.pop("roles", ())
    async with contextlib.AsyncExitStack() as stack:
        url = await stack.enter_async_context(ReferenceServer(app))
        session = (
            RunSession(catalog, suite)
            .with_target(url)
            .with_options(concurrency=4, timeout_s=5.0)
            .with_listener(*runner_options.pop("listeners", ()))
            .with_options(**runner_options)
        )
        if roles:
            session.with_roles(roles)
        if sip is not None:
            sip_server = await stack.enter_async_context(sip(catalog))
            session.with_target(sip_server.uri(), name="sip")
        async with session:
            return await session.run()
    raise AssertionError("unreachable")  # pragma: no cover (the exit stack does not swallow errors)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now (for a peer that must be told one)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def verdicts(run: RunFinished) -> dict[str, str]:
    return {result.id: str(result.verdict) for result in run.results}


def failing(run: RunFinished) -> dict[str, list[tuple[str, Any, Any]]]:
    """Every scenario that did not pass, with its failed checks as (check, expected, actual)."""
    return {r.id: [(f.check, f.expected, f.actual) for f in r.failures] for r in run.results if r.verdict != "passed"}


@pytest.fixture(autouse=True, scope="session")
def _private_run_store(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Runs made by the tests are recorded in a store of their own, never in the user's data directory."""
    import os

    os.environ["HARNESS_STORE"] = f"sqlite:///{tmp_path_factory.mktemp('store') / 'runs.db'}"
