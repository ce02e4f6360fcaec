"""A correct implementation that differs in every permitted way still passes intel-core."""

from __future__ import annotations

from harness.catalog import Catalog
from tests.conftest import certify
from tests.integration.alt_supplier import build_alt_app


async def test_independent_correct_implementation_is_certified(catalog: Catalog) -> None:
    run = await certify(catalog, build_alt_app(catalog))
    failing = {
        r.id: [(f.check, f.expected, f.actual) for f in r.failures] for r in run.results if r.verdict != "passed"
    }
    assert failing == {}
    assert run.certified
