"""The report, the matrix and the catalogue as people use them: in Chromium, from disk, keyboard included."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from harness.catalog import Catalog
from harness.cli import main
from harness.endpoints import build_app
from harness.evidence import TrustEntry, TrustList
from harness.evidence.bundle import Sut
from harness.evidence.keys import keyid
from harness.htmlreport import HtmlReporter
from tests.browser.conftest import network_requests
from tests.conftest import certify
from tests.integration.broken_suppliers import build_broken
from tests.integration.evidence_helpers import run_with_evidence

pytestmark = pytest.mark.browser


def _broken_intel_hub(catalog: Catalog) -> web.Application:
    """The reference supplier, except that it answers XML intelligence reports 400: a SUT with one bug."""
    app = build_app(catalog)

    @web.middleware
    async def refuse_xml(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.endswith("/intel-reports") and "xml" in request.headers.get("Content-Type", ""):
            return web.json_response({"title": "we do not do XML"}, status=400)
        response: web.StreamResponse = await handler(request)
        return response

    app.middlewares.insert(0, refuse_xml)
    return app


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory, catalog: Catalog) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("reports")
    failing = folder / "failing" / "report.html"
    asyncio.run(certify(catalog, _broken_intel_hub(catalog), "intel-core", listeners=[HtmlReporter(failing, catalog)]))
    esn = folder / "esn" / "report.html"
    asyncio.run(certify(catalog, build_app(catalog), "esn-core", listeners=[HtmlReporter(esn, catalog)]))
    return {"failing": failing, "esn": esn}


def _wait_for(scope: Any, css: str) -> list[Any]:
    """Elements the page renders on a ``toggle`` event (dispatched as a task, after the click returns)."""
    from selenium.webdriver.support.ui import WebDriverWait

    found: list[Any] = WebDriverWait(scope, 5).until(lambda s: s.find_elements(By.CSS_SELECTOR, css))
    return found


def _visible(page: Any, css: str) -> list[Any]:
    return [e for e in page.find_elements(By.CSS_SELECTOR, css) if e.is_displayed()]


def test_failing_report_filtered_expanded_and_diffed_without_network(page: Any, reports: dict[str, Path]) -> None:
    url = reports["failing"].as_uri()
    page.get(url)
    assert [u for u in network_requests(page) if u != url] == []
    assert page.find_element(By.ID, "verdict").text == "NOT CERTIFIED"
    total = len(page.find_elements(By.CSS_SELECTOR, "ol.scenarios > li"))
    first = page.find_element(By.CSS_SELECTOR, "ol.scenarios > li")
    assert first.get_attribute("data-verdict") == "failed"  # failures first
    page.find_element(By.ID, "f-failed").send_keys(Keys.SPACE)  # keyboard, not a click
    shown = _visible(page, "ol.scenarios > li")
    assert 0 < len(shown) < total
    assert {li.get_attribute("data-verdict") for li in shown} <= {"failed", "error"}
    assert page.find_element(By.ID, "shown").text.startswith(f"{len(shown)} of {total}")
    page.find_element(By.TAG_NAME, "body").send_keys("j")  # next scenario: the first shown
    focused = page.switch_to.active_element
    assert focused.tag_name == "summary"
    focused.send_keys(Keys.ENTER)
    details = focused.find_element(By.XPATH, "parent::*")
    assert details.get_attribute("open") == "true"
    deleted = _wait_for(details, ".failure .expected del")
    inserted = details.find_elements(By.CSS_SELECTOR, ".failure .actual ins")
    assert deleted and inserted
    assert "202" in details.find_element(By.CSS_SELECTOR, ".failure .expected pre").text
    assert "400" in details.find_element(By.CSS_SELECTOR, ".failure .actual pre").text
    assert details.find_elements(By.CSS_SELECTOR, "a.spec") == []  # the clause is embedded: no link to follow
    clause = _wait_for(details, "details.clause")[0]
    clause.find_element(By.TAG_NAME, "summary").click()
    assert clause.get_attribute("open") == "true"
    assert ".md \u00a7 " in clause.find_element(By.TAG_NAME, "summary").text  # document \u00a7 section
    assert clause.find_element(By.CSS_SELECTOR, "pre.clause").get_attribute("textContent").startswith("#")
    exchange = _wait_for(details, "details.exchange > summary")[0]
    exchange.send_keys(Keys.ENTER)
    answer = _wait_for(details, "details.exchange pre.json")[0].text
    assert "we do not do XML" in answer or "reportId" in answer
    assert [u for u in network_requests(page) if u != url] == []


def test_search_and_level_filter(page: Any, reports: dict[str, Path]) -> None:
    page.get(reports["failing"].as_uri())
    search = page.find_element(By.ID, "f-search")
    page.find_element(By.TAG_NAME, "body").send_keys("/")
    assert page.switch_to.active_element == search
    search.send_keys("ic-02")
    shown = _visible(page, "ol.scenarios > li")
    assert [li.find_element(By.CSS_SELECTOR, ".sid").text for li in shown] == ["IC-02"]
    search.clear()
    search.send_keys(" ")
    page.find_element(By.CSS_SELECTOR, "#f-level option[value='']").click()
    page.find_element(By.XPATH, "//select[@id='f-level']/option[text()='SHOULD']").click()
    levels = {li.get_attribute("data-level") for li in _visible(page, "ol.scenarios > li")}
    assert levels == {"SHOULD"}


def test_mcdata_binary_shown_as_hex_beside_decoded_fields(page: Any, reports: dict[str, Path]) -> None:
    page.get(reports["esn"].as_uri())
    scenario = page.find_element(By.ID, "s-ESN-01")
    scenario.find_element(By.TAG_NAME, "summary").click()
    _wait_for(scenario, "details.exchange > summary")[0].click()
    hexes = _wait_for(scenario, "pre.hex")
    decoded = scenario.find_elements(By.CSS_SELECTOR, "pre.decoded")
    assert hexes and decoded
    assert "00000000" in hexes[0].text
    assert "SdsSignalling" in " ".join(d.text for d in decoded)
    page.execute_script("arguments[0].scrollIntoView()", hexes[0])
    # Full width, never wrapped: the dump takes (nearly) the page's content width and one line per 16 octets.
    content = page.execute_script("return document.querySelector('main').clientWidth")
    assert hexes[0].size["width"] > 0.85 * content
    style = page.execute_script(
        "var s = getComputedStyle(arguments[0]); return [s.whiteSpace, parseFloat(s.lineHeight)]", hexes[0]
    )
    rows = hexes[0].text.count("\n") + 1
    assert (
        style[0] == "pre"
        and page.execute_script("return arguments[0].scrollHeight", hexes[0]) < (rows + 1.5) * style[1] + 20
    )
    assert "date_time" in " ".join(d.text for d in decoded) and "Z)" in " ".join(d.text for d in decoded)


def test_a_failed_scenario_shows_its_first_reason_in_the_list(page: Any, reports: dict[str, Path]) -> None:
    page.get(reports["failing"].as_uri())
    failed = [
        li
        for li in page.find_elements(By.CSS_SELECTOR, "ol.scenarios > li")
        if li.get_attribute("data-verdict") == "failed"
    ]
    assert failed
    for li in failed:
        reason = li.find_element(By.CSS_SELECTOR, "p.reason")
        assert reason.is_displayed() and reason.text  # seen without opening the scenario
    passed = [
        li
        for li in page.find_elements(By.CSS_SELECTOR, "ol.scenarios > li")
        if li.get_attribute("data-verdict") == "passed"
    ]
    assert passed and all(not li.find_elements(By.CSS_SELECTOR, "p.reason") for li in passed)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, catalog: Catalog) -> dict[str, Any]:
    """Three products' real runs, signed by one lab key and registered in a store through the verifier."""
    folder = tmp_path_factory.mktemp("store")
    lab = Ed25519PrivateKey.generate()
    trust = folder / "trust.json"
    TrustList((TrustEntry(keyid(lab.public_key()), lab.public_key(), "Accredited Lab Ltd", ("*",)),)).save(trust)

    async def runs() -> list[Path]:
        return [
            await run_with_evidence(
                catalog, build_app(catalog), folder / "a", "intel-core", lab, Sut("acme", "rms", "2.1")
            ),
            await run_with_evidence(
                catalog, _broken_intel_hub(catalog), folder / "b", "intel-core", lab, Sut("beta", "cad", "1.0")
            ),
            await run_with_evidence(
                catalog, build_app(catalog), folder / "c", "alerts-core@1.1", lab, Sut("gamma", "alerter", "3")
            ),
        ]

    bundles = asyncio.run(runs())
    url = f"sqlite:///{folder / 'store.db'}"
    assert main(["runs", "import", "--store", url, "--trust-list", str(trust), *map(str, bundles)]) == 0
    return {"url": url, "trust": trust, "folder": folder}


def test_matrix_cell_leads_to_its_evidence(page: Any, store: dict[str, Any]) -> None:
    matrix = store["folder"] / "matrix.html"
    assert main(["matrix", "--store", store["url"], "--trust-list", str(store["trust"]), "--html", str(matrix)]) == 0
    page.get(matrix.as_uri())
    assert [u for u in network_requests(page) if u != matrix.as_uri()] == []
    cell = page.find_element(By.CSS_SELECTOR, "a.cell[aria-label^='beta/cad@1.0 intel-core@1.0']")
    assert cell.text == "NOT CERTIFIED"
    cell.send_keys(Keys.ENTER)
    assert _wait_for(page, "#verdict")[0].text == "NOT CERTIFIED"
    assert page.find_element(By.ID, "sut").text == "beta/cad@1.0"
    assert page.find_element(By.ID, "verification").text.startswith("valid: signed by Accredited Lab Ltd")
    assert page.find_element(By.CSS_SELECTOR, "ol.scenarios > li .badge").text == "FAILED"


def test_matrix_has_a_legend_and_dates(page: Any, store: dict[str, Any]) -> None:
    matrix = store["folder"] / "matrix-legend.html"
    assert main(["matrix", "--store", store["url"], "--html", str(matrix)]) == 0
    page.get(matrix.as_uri())
    legend = page.find_element(By.ID, "legend")
    assert legend.is_displayed()
    for status in ("CERTIFIED", "NOT CERTIFIED", "NEVER RUN", "WITHDRAWN", "LAPSED", "SUPERSEDED", "REGRESSION"):
        assert status in legend.text
    issued = page.find_elements(By.CSS_SELECTOR, "td .dates.issued")
    last = page.find_elements(By.CSS_SELECTOR, "td .dates.last-run")
    assert len(issued) == 2 and len(last) == 3  # two certificates, and beta/cad's failing run
    assert all(e.text.startswith("issued 20") for e in issued) and all(e.text.startswith("last run 20") for e in last)


def test_catalogue_search_finds_a_product(page: Any, store: dict[str, Any]) -> None:
    site = store["folder"] / "site"
    assert (
        main(
            [
                "catalogue",
                "build",
                "--out",
                str(site),
                "--trust-list",
                str(store["trust"]),
                "--store",
                store["url"],
            ]
        )
        == 0
    )
    page.get((site / "index.html").as_uri())
    assert len(page.find_elements(By.CSS_SELECTOR, "tbody tr")) == 2  # beta/cad is not certified on anything
    page.find_element(By.ID, "q").send_keys("alerter")
    rows = _visible(page, "tbody tr")
    assert len(rows) == 1 and "gamma" in rows[0].text
    rows[0].find_element(By.TAG_NAME, "a").click()
    assert _wait_for(page, "nav a[href='../index.html']")
    assert page.find_element(By.TAG_NAME, "h1").text == "alerter 3"
    assert page.find_element(By.CSS_SELECTOR, "td .badge").text == "CERTIFIED"
    # Evidence: the run report, rendered, with the bundle to download beside it.
    assert page.find_element(By.CSS_SELECTOR, "a.bundle").get_attribute("download") is not None
    page.find_element(By.CSS_SELECTOR, "a.report").click()
    assert _wait_for(page, "#verdict")[0].text == "CERTIFIED"
    assert page.find_element(By.ID, "sut").text == "gamma/alerter@3"


def test_demo_reports_show_every_scenario(
    page: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], catalog: Catalog
) -> None:
    """Every scenario of every current suite (88 today: intel 21, alerts 1.1 30, checks 18, esn 19)."""
    expected = sum(len(suite.scenarios) for suite in catalog.current_suites())
    assert main(["demo", "--reports", str(tmp_path)]) == 0
    capsys.readouterr()
    scenarios = exchanged = 0
    for report in sorted(tmp_path.glob("*/report.html")):
        page.get(report.as_uri())
        assert [u for u in network_requests(page) if u != report.as_uri()] == []
        rows = page.find_elements(By.CSS_SELECTOR, "ol.scenarios > li")
        scenarios += len(rows)
        counts = [int(r.find_element(By.CSS_SELECTOR, ".time").text.split()[0]) for r in rows]
        exchanged += sum(1 for count in counts if count > 0)
    assert scenarios == expected
    assert exchanged == expected


def test_the_network_check_sees_a_request(page: Any, tmp_path: Path) -> None:
    """The guard of the tests above: a page that fetches something is caught."""
    leaky = tmp_path / "leaky.html"
    leaky.write_text('<!DOCTYPE html><title>x</title><img alt="" src="http://127.0.0.1:9/pixel.png">')
    page.get(leaky.as_uri())
    assert "http://127.0.0.1:9/pixel.png" in network_requests(page)
    page.get_log("browser")  # the refused image is logged as an error: not this test's subject


def test_should_failure_is_a_warning_and_a_wrong_status_one_line(page: Any, catalog: Catalog, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    asyncio.run(certify(catalog, build_broken(catalog, "wrong-status"), listeners=[HtmlReporter(report, catalog)]))
    page.get(report.as_uri())
    facts = page.find_element(By.CSS_SELECTOR, "dl.facts").text
    assert " MUST failed, 1 SHOULD failed (warnings)," in facts
    badge = page.find_element(By.CSS_SELECTOR, "#s-IC-30 .badge")
    assert badge.text == "WARNING" and "warning" in (badge.get_attribute("class") or "")
    red = page.find_element(By.CSS_SELECTOR, "#s-IC-01 .badge").value_of_css_property("color")
    assert badge.value_of_css_property("color") != red  # amber, not the red of a MUST failure
    should = page.find_element(By.CSS_SELECTOR, "#s-IC-30 > summary")
    should.click()
    [heading] = _wait_for(page, "#s-IC-30 .failure h3")
    assert heading.text.startswith("WARNING (SHOULD): check status: status")
    page.find_element(By.CSS_SELECTOR, "#s-IC-01 > summary").click()
    sections = _wait_for(page, "#s-IC-01 .failure")
    assert len(sections) == 1  # one failure per cause
    note = sections[0].find_element(By.CSS_SELECTOR, "p.not-checked").text
    assert note.startswith("not checked (status was 200): ")
