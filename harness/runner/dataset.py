"""Loading a suite's data set into the system under test through its test hook (binding rule 8)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from harness.model import ConfigurationError
from harness.profile import DATASET_HOOK, HOOK_ABSENT
from harness.transport import Request, Response

__all__ = ["load_dataset"]


async def load_dataset(
    send: Callable[[Request], Awaitable[Response]], target: str, ref: str, dataset: dict[str, Any]
) -> str:
    """Load the data set through the SUT's test hook (``send``: the run's ``Exchanges.hook``), when it has one;
    returns the run note to emit."""
    body = json.dumps(dataset, ensure_ascii=False).encode()
    request = Request("PUT", target + DATASET_HOOK, (("Content-Type", "application/json"),), body)
    response = await send(request)
    if response.status in (200, 204):
        return f"data set {ref} loaded through {DATASET_HOOK}"
    if response.status in HOOK_ABSENT:
        return f"no {DATASET_HOOK} hook (HTTP {response.status}): the SUT must already hold data set {ref}"
    raise ConfigurationError(f"the SUT refused data set {ref} through {DATASET_HOOK}: HTTP {response.status}")
