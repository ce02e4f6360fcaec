"""Rule module of a format family registered by a test after the first validation (tests/unit/test_hot_paths.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from harness.families.rules import rule


@rule("hot-path-family", "HF-01", "always")
def always(document: Any) -> Iterator[Any]:
    yield (), "found"
