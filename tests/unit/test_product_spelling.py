"""One spelling of a product: what `harness run` declares is what can-exchange, runs list and the rest read."""

from __future__ import annotations

import argparse

import pytest

from harness.certification import parse_product
from harness.cli.evidence import run_options
from harness.evidence.bundle import Sut
from harness.model import UsageError


def _args(sut: str | None = None, *parts: str | None) -> argparse.Namespace:
    supplier, product, version = (*parts, None, None, None)[:3]
    return argparse.Namespace(
        sut=sut, sut_supplier=supplier, sut_product=product, sut_version=version, sign_key=None, key_password_env=None
    )


def test_run_takes_the_one_spelling_or_the_three_options_alike() -> None:
    spelled, _ = run_options(_args("Example Ltd/Force RMS@4.2"))
    apart, _ = run_options(_args(None, " Example Ltd ", "Force RMS", "4.2 "))
    assert spelled == apart == Sut("Example Ltd", "Force RMS", "4.2")
    assert parse_product(f"{spelled.supplier}/{spelled.product}@{spelled.version}") == parse_product(
        "Example Ltd/Force RMS@4.2"
    )
    assert run_options(_args())[0] is None  # declared nothing: not certifiable, no error


@pytest.mark.parametrize(
    ("sut", "parts", "message"),
    [
        ("Example Ltd/Force RMS@4.2", ("Example Ltd", "Force RMS", "4.2"), "not both"),
        ("Example Ltd@4.2", (), "SUPPLIER/PRODUCT@VERSION"),
        (None, ("Example/Ltd", "Force RMS", "4.2"), "may not hold '/'"),  # could never be named again
        (None, ("Example Ltd", "Force RMS", "4.2@beta"), "may not hold '/' nor --sut-version '@'"),
        (None, ("Example Ltd", "Force RMS"), "go together"),
    ],
)
def test_a_product_that_could_not_be_named_is_refused(sut: str | None, parts: tuple[str, ...], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        run_options(_args(sut, *parts))
