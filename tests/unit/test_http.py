"""Content negotiation and media types, with the offers of the intel hub's retrieve (in its order)."""

from __future__ import annotations

import pytest

from harness.catalog import Catalog
from harness.endpoints.intel_hub import IntelHub
from harness.http import media_type, negotiate, parse_accept

VND_JSON = "application/vnd.netcode.intel-report+json"
VND_XML = "application/vnd.netcode.intel-report+xml"

# As harness/endpoints/intel_hub.py IntelHub.offers(): the first one is preferred for */*.
OFFERS = {
    VND_JSON: "json",
    VND_XML: "xml",
    "application/json": "json",
    "application/xml": "xml",
}


def test_the_offers_are_those_of_the_intel_hub(catalog: Catalog) -> None:
    offers = IntelHub(catalog).offers()
    assert list(offers.items()) == list(OFFERS.items())


@pytest.mark.parametrize("accept", [None, "", "   "], ids=["missing", "empty", "blank"])
def test_no_accept_gives_the_first_offer(accept: str | None) -> None:
    assert negotiate(accept, OFFERS) == VND_JSON


@pytest.mark.parametrize("accept", ["*/*", "*/*;q=0.8", "text/html, */*;q=0.1"])
def test_any_gives_the_first_offer(accept: str) -> None:
    assert negotiate(accept, OFFERS) == VND_JSON


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        ("application/xml", "application/xml"),
        ("application/json", "application/json"),
        (VND_XML, VND_XML),
        (VND_JSON, VND_JSON),
        ("APPLICATION/XML", "application/xml"),
        ("application/xml; charset=utf-8", "application/xml"),
        (" application/xml ", "application/xml"),
    ],
)
def test_an_exact_type_is_chosen(accept: str, chosen: str) -> None:
    assert negotiate(accept, OFFERS) == chosen


def test_quality_values_decide() -> None:
    accept = f"application/xml;q=0.5, {VND_JSON};q=0.9"
    assert negotiate(accept, OFFERS) == VND_JSON


def test_quality_values_decide_whatever_the_order() -> None:
    assert negotiate(f"{VND_JSON};q=0.2, application/xml;q=0.7", OFFERS) == "application/xml"
    assert negotiate(f"{VND_XML};q=0.9, {VND_JSON};q=0.3", OFFERS) == VND_XML


def test_a_tie_goes_to_the_offer_listed_first() -> None:
    assert negotiate(f"application/xml, {VND_XML}", OFFERS) == VND_XML
    assert negotiate("application/xml;q=0.5, application/json;q=0.5", OFFERS) == "application/json"


@pytest.mark.parametrize("accept", ["text/html", "text/*", "image/png, text/plain;q=0.9", "application/pdf"])
def test_nothing_acceptable_gives_none(accept: str) -> None:
    assert negotiate(accept, OFFERS) is None


def test_a_type_wildcard_gives_the_first_offer_of_that_type() -> None:
    assert negotiate("application/*", OFFERS) == VND_JSON


def test_q_zero_excludes_even_when_a_wildcard_accepts() -> None:
    chosen = negotiate("application/json;q=0, */*;q=0.1", OFFERS)
    assert chosen is not None
    assert chosen != "application/json"
    assert chosen == VND_JSON


def test_q_zero_on_every_offer_gives_none() -> None:
    assert negotiate("*/*;q=0", OFFERS) is None
    assert negotiate(f"{VND_JSON};q=0, {VND_XML};q=0", {VND_JSON: "json", VND_XML: "xml"}) is None


def test_the_most_specific_range_sets_the_quality() -> None:
    # application/* would give the vendor JSON q=1, but its own range says 0.1
    assert negotiate(f"application/*, {VND_JSON};q=0.1", OFFERS) == VND_XML


def test_a_malformed_quality_counts_as_zero() -> None:
    assert negotiate("application/xml;q=high", OFFERS) is None


def test_a_nan_quality_counts_as_zero() -> None:
    assert negotiate("application/xml;q=nan", OFFERS) is None


def test_parse_accept_keeps_order_and_quality() -> None:
    ranges = parse_accept("Application/XML;q=0.5, */*;q=2 ,, text/html;level=1;q=-1")
    assert [(r.type, r.quality, r.order) for r in ranges] == [
        ("application/xml", 0.5, 0),
        ("*/*", 1.0, 1),
        ("text/html", 0.0, 3),
    ]


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("Application/JSON; charset=utf-8", "application/json"),
        ("application/vnd.netcode.intel-report+xml", VND_XML),
        ("  application/problem+json  ;charset=UTF-8", "application/problem+json"),
        ("", ""),
        (None, ""),
    ],
)
def test_media_type(content_type: str | None, expected: str) -> None:
    assert media_type(content_type) == expected
