"""The proxy's event loop: uvloop (libuv, in C) when it is installed, else asyncio's own.

The forwarding is a few calls per chunk read (write it on, show it to the cutter); with asyncio's pure-Python
selector loop the loop's own bookkeeping around each read and write costs about as much again. uvloop runs the
same protocols unchanged with that part in C (docs/proxy.md, "Measurements"). Nothing else differs: the bytes, the
flow control and the checks are the proxy's own code in both cases.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["loop_name", "run"]

T = TypeVar("T")


def _factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # an optional speed-up: the proxy is the same without it
        return None
    return uvloop.new_event_loop


def loop_name() -> str:
    """``uvloop`` or ``asyncio``: the loop :func:`run` uses here."""
    return "asyncio" if _factory() is None else "uvloop"


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on a new loop of the fastest kind installed (as :func:`asyncio.run` does)."""
    with asyncio.Runner(loop_factory=_factory()) as runner:
        return runner.run(main)
