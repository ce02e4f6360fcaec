"""Who submits to the register, and what an organisation may submit (harness/register/auth.py)."""

from __future__ import annotations

from pathlib import Path

from harness.evidence.verified import Signer, SutRef, VerifiedBundle
from harness.register.auth import bearer_token, org_from_certificate, scope_refusal


def _bundle(holder: str | None, supplier: str | None) -> VerifiedBundle:
    return VerifiedBundle(
        path=Path("x.zip"),
        sha256="0" * 64,
        run_id="00000000-0000-4000-8000-000000000000",
        signer=Signer("1" * 64, holder) if holder is not None else None,
        suite="intel-core",
        suite_version="1.0",
        document="intel-report@1.0",
        suite_status="current",
        sut=SutRef(supplier, "P", "1") if supplier is not None else None,
        certifying=True,
        certified=True,
        started="2026-01-01T00:00:00Z",
        finished="2026-01-01T00:00:01Z",
        summary={},
        scenarios=(),
        targets=(),
        rejudged=True,
        results={},
        predicate={},
    )


def test_a_bearer_token_is_read_only_from_the_bearer_scheme() -> None:
    assert bearer_token("Bearer nrt_abc") == "nrt_abc"
    assert bearer_token("bearer   nrt_abc ") == "nrt_abc"
    for header in (None, "", "Basic nrt_abc", "Bearer", "Bearer a b", "Bearer " + "x" * 300):
        assert bearer_token(header) is None


def test_a_client_certificate_names_its_organisation_or_common_name() -> None:
    both = {"subject": ((("commonName", "lab-gateway-7"),), (("organizationName", "Accredited Lab Ltd"),))}
    assert org_from_certificate(both) == "Accredited Lab Ltd"
    assert org_from_certificate({"subject": ((("commonName", "Beta Systems"),),)}) == "Beta Systems"
    assert org_from_certificate({"subject": ((("commonName", "bad\nname"),),)}) is None
    assert org_from_certificate(None) is None and org_from_certificate({}) is None


def test_an_organisation_submits_what_it_signed_or_its_own_products_only() -> None:
    assert scope_refusal("Lab", _bundle("Lab", "Acme")) is None  # the signer
    assert scope_refusal("Acme", _bundle("Lab", "Acme")) is None  # the supplier
    refusal = scope_refusal("Rival", _bundle("Lab", "Acme"))
    assert refusal is not None and "Rival" in refusal and "neither its signer nor its supplier" in refusal
    assert scope_refusal("Acme", _bundle(None, None)) is not None
