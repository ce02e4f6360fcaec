"""The register's pages from a snapshot built by hand: search and paging of the catalogue and the matrix,
every value escaped, no script, links only into the register."""

from __future__ import annotations

import re

from harness.certification import Certificate, Evidence, SuiteVersion, certificates
from harness.evidence.verified import Signer, SutRef
from harness.register import pages
from harness.register.views import Snapshot, catalogue_feed

SUITES = (SuiteVersion("intel-core", "1.0", "Intelligence reports", "current", ()),)


def _snapshot(count: int) -> Snapshot:
    held = tuple(
        Certificate(
            f"{number:016x}",
            SutRef(f"Supplier {number % 7}", f"Product <i>{number}</i>", "1.0"),
            "intel-core",
            "1.0",
            "intel-report@1.0",
            f"00000000-0000-4000-8000-{number:012d}",
            f"{number:064x}",
            Signer("0" * 64, "Lab"),
            "2026-01-01T00:00:00.000Z",
        )
        for number in range(count)
    )
    evidence = Evidence(held)
    return Snapshot(1, evidence, SUITES, {c.id: n for n, c in enumerate(held)}, {}, certificates(evidence, SUITES))


def _rows(page: str) -> int:
    return len(re.findall(r"<tr>", page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]))


def test_the_catalogue_pages_and_searches_on_the_server() -> None:
    snapshot = _snapshot(120)
    first = pages.catalogue_page(snapshot, "", "1")
    assert _rows(first) == pages.PAGE_SIZE and "page 1 of 3" in first and 'rel="next" href="/?q=&amp;page=2"' in first
    assert _rows(pages.catalogue_page(snapshot, "", "3")) == 20
    assert _rows(pages.catalogue_page(snapshot, "", "999")) == 20  # past the end: the last page
    assert _rows(pages.catalogue_page(snapshot, "", "-1")) == pages.PAGE_SIZE
    found = pages.catalogue_page(snapshot, "<i>3</i>", "1")  # every word must match; the query is echoed as text
    assert "1 product matching" in found and _rows(found) == 1
    assert "<i>" not in found and "Product &lt;i&gt;3&lt;/i&gt;" in found
    assert _rows(pages.catalogue_page(snapshot, "supplier 3 <i>10</i>", "1")) == 1
    assert "<script" not in found and not re.search(r'(href|src)="(https?:)?//', found)


def test_the_matrix_pages_its_products_and_keeps_every_suite_column() -> None:
    snapshot = _snapshot(120)
    page = pages.matrix_page(snapshot, "", "2")
    assert _rows(page) == pages.PAGE_SIZE and "page 2 of 3" in page and "intel-core@1.0" in page
    assert "CERTIFIED" in page and 'id="legend"' in page
    assert _rows(pages.matrix_page(snapshot, "product <i>7</i>", "1")) == 1


def test_the_feed_lists_every_product_with_links_into_the_register() -> None:
    feed = catalogue_feed(_snapshot(120))
    assert len(feed["products"]) == 120
    entry = feed["products"][0]["certificates"][0]
    assert entry["bundle"].startswith("/register/v1/certificates/") and entry["report"].startswith("/certificates/")
    assert isinstance(entry["log_index"], int) and entry["status"] == "current"
