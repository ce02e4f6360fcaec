"""The ``deliver`` step kind (specs/resilience.md, sender): trigger a delivery, watch its attempts, judge them."""

from __future__ import annotations

from typing import Any

from harness.model import CheckFailure, ConfigurationError

__all__ = ["run_deliver_step"]


async def run_deliver_step(
    runner: Any, scenario: Any, step: Any, ctx: Any, latencies: list[float]
) -> list[CheckFailure]:
    raise ConfigurationError("deliver steps are not runnable yet")
