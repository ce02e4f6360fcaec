"""Where test_registry hands its registry to the built-in module it imports."""

from __future__ import annotations

from typing import Any

REGISTRY: Any = None
