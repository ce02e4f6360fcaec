"""Correct implementations that differ in every permitted way still pass: no false failures."""

from __future__ import annotations

from harness.catalog import Catalog
from tests.conftest import certify, failing
from tests.integration.alt_force import build_alt_force
from tests.integration.alt_supplier import build_alt_app


async def test_independent_correct_implementation_is_certified(catalog: Catalog) -> None:
    run = await certify(catalog, build_alt_app(catalog))
    assert failing(run) == {}
    assert run.certified


async def test_independent_correct_force_is_certified(catalog: Catalog) -> None:
    run = await certify(catalog, build_alt_force(), "checks-core")
    assert failing(run) == {}
    assert run.certified
