"""intel-core certifies the reference supplier and fails every deliberately broken variant of it."""

from __future__ import annotations

import pytest

from harness.catalog import Catalog
from harness.endpoints import build_app
from tests.conftest import certify, failing, verdicts
from tests.integration.broken_suppliers import build_broken

# variant -> scenarios that must fail; certification is refused unless only SHOULD scenarios fail.
EXPECTED: dict[str, tuple[set[str], bool]] = {
    "wrong-status": ({"IC-01", "IC-02", "IC-05", "IC-21", "IC-30"}, False),
    "missing-location": ({"IC-01", "IC-02", "IC-05"}, False),
    "ack-with-another-id": ({"IC-01", "IC-02", "IC-05", "IC-21"}, False),
    "secret-accepted": ({"IC-22"}, False),
    "stores-secret": ({"IC-22"}, False),
    "ir-01-not-enforced": ({"IC-11"}, False),
    "conflict-not-detected": ({"IC-06"}, False),
    "retrieve-ignores-accept": ({"IC-03", "IC-04"}, False),
    "errors-not-problem-json": (
        {"IC-04", "IC-06", "IC-11", "IC-17", "IC-20", "IC-22", "IC-23", "IC-24", "IC-25"},
        False,
    ),
    "idempotency-forgotten": ({"IC-05"}, False),
    "oversize-read-whole": ({"IC-23"}, False),
    "any-media-type": ({"IC-24"}, False),
    "extensions-rejected": ({"IC-21"}, False),
    "no-rule-ids": ({"IC-11", "IC-12", "IC-13", "IC-14", "IC-15", "IC-16", "IC-17", "IC-31"}, False),
    "lossy-xml-rendition": ({"IC-03", "IC-04"}, False),
    # Only SHOULD scenarios break: listed as warnings, the certificate still stands.
    "first-error-only": ({"IC-31"}, True),
    "slow-ack": ({"IC-30"}, True),
}


async def test_reference_supplier_is_certified(catalog: Catalog) -> None:
    run = await certify(catalog, build_app(catalog))
    assert failing(run) == {}
    assert run.certified
    assert run.summary.passed == len(catalog.suite("intel-core").scenarios)


@pytest.mark.parametrize("variant", sorted(EXPECTED))
async def test_broken_variant_fails(catalog: Catalog, variant: str) -> None:
    must_fail, still_certified = EXPECTED[variant]
    run = await certify(catalog, build_broken(catalog, variant))
    outcome = verdicts(run)
    not_failed = {scenario for scenario in must_fail if outcome[scenario] != "failed"}
    assert not_failed == set(), f"{variant}: these scenarios did not fail: {sorted(not_failed)}"
    assert run.certified is still_certified
    for result in run.results:
        for failure in result.failures:
            # Every failed check explains itself as (field, expected, actual).
            assert failure.step and failure.check and failure.message
