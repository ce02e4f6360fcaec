"""A built-in module for test_registry: registers one member when imported."""

from __future__ import annotations

from tests.unit._registry_builtin_target import REGISTRY

REGISTRY.add("built-in", object())
