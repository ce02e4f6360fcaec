"""The proxy's event loop: uvloop when installed, asyncio's own when not, the same coroutine either way."""

from __future__ import annotations

import asyncio
import sys

import pytest

from harness.proxy import loop


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_without_uvloop_the_proxy_runs_on_asyncios_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as if it were not installed: the import fails
    assert loop.loop_name() == "asyncio"
    assert loop.run(_loop_module()).startswith("asyncio")


def test_with_uvloop_installed_the_proxy_runs_on_it() -> None:
    pytest.importorskip("uvloop")
    assert loop.loop_name() == "uvloop"
    assert loop.run(_loop_module()).startswith("uvloop")
