"""The register's pages as people use them, in Chromium: catalogue search, a product with its certificates,
a withdrawn certificate with its reason, the matrix with its legend, a compatibility answer with its reasons.
No request leaves the register; no script runs (the CSP forbids it); names holding markup show as text."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from harness.catalog import Catalog
from harness.cli import main
from tests.browser.conftest import network_requests
from tests.integration.register_world import BETA, GAMMA, LAB, World, build_world, register_server

pytestmark = pytest.mark.browser


def _token(store: str, org: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "register", "token", "issue", "--org", org, "--store", store],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture(scope="module")
def register(tmp_path_factory: pytest.TempPathFactory, catalog: Catalog) -> Iterator[dict[str, Any]]:
    """A register holding Acme's and Beta's certificates (Beta's withdrawn), Gamma's failing run, one refusal."""
    folder = tmp_path_factory.mktemp("register-pages")
    world: World = build_world(folder, catalog)
    store = f"sqlite:///{folder / 'register.db'}"
    tokens = {LAB: _token(store, LAB), BETA: _token(store, BETA)}
    with register_server(world, store) as url, pytest.MonkeyPatch.context() as mp:
        for name, org in (("acme", LAB), ("beta", BETA), ("gamma", LAB), ("tampered", BETA)):
            mp.setenv("REGISTER_TOKEN", tokens[org])
            main(["register", "submit", url, str(world.bundles[name]), "--token-env", "REGISTER_TOKEN"])
        withdrawn = _certificate_of(url, "Beta Systems/Alerter@3.0")
        reason = "interference on <b>channel</b> 3"
        assert (
            main(["register", "withdraw", url, withdrawn, "--reason", reason, "--body-key", str(world.body_key)]) == 0
        )
        yield {"url": url, "withdrawn": withdrawn, "reason": reason}


def _json(url: str) -> Any:
    with urllib.request.urlopen(url) as response:
        return json.load(response)


def _certificate_of(url: str, product: str) -> str:
    feed = _json(f"{url}/register/v1/catalogue")
    (entry,) = [p for p in feed["products"] if f"{p['supplier']}/{p['product']}@{p['version']}" == product]
    return str(entry["certificates"][0]["id"])


def _only_the_register(page: Any, url: str) -> None:
    assert [u for u in network_requests(page) if not u.startswith(url + "/")] == []


def test_catalogue_search_leads_to_a_product_and_its_evidence(page: Any, register: dict[str, Any]) -> None:
    url = register["url"]
    page.get(url + "/")
    assert page.find_element(By.ID, "count").text.startswith("2 products")
    search = page.find_element(By.ID, "q")
    search.send_keys("acme", Keys.ENTER)  # a GET form: the server answers the search
    WebDriverWait(page, 20).until(lambda driver: urllib.parse.urlsplit(driver.current_url).query == "q=acme")
    rows = page.find_elements(By.CSS_SELECTOR, "#catalogue tbody tr")
    assert len(rows) == 1 and "Acme Ltd" in rows[0].text
    rows[0].find_element(By.CSS_SELECTOR, "a.product").send_keys(Keys.ENTER)
    assert page.find_element(By.TAG_NAME, "h1").text == "RMS 2.1"
    row = page.find_element(By.CSS_SELECTOR, "#certificates tbody tr")
    assert "intel-core@1.0" in row.text and "CURRENT" in row.text
    assert row.find_element(By.CSS_SELECTOR, "td.issued").text.endswith("Z")
    assert LAB in row.find_element(By.CSS_SELECTOR, "td.signer").text
    assert row.find_element(By.CSS_SELECTOR, "a.bundle").get_attribute("href").endswith("/bundle")
    row.find_element(By.CSS_SELECTOR, "a.report").click()  # the run report, rendered through the verifier
    assert page.find_element(By.ID, "verdict").text == "CERTIFIED"
    assert page.find_element(By.ID, "sut").text == "Acme Ltd/RMS@2.1"
    page.get(url + "/?q=nothing-matches")
    assert page.find_element(By.ID, "count").text.startswith("0 products")
    assert page.find_elements(By.CSS_SELECTOR, "#catalogue tbody tr") == []
    assert "invalid: digest mismatch: junit.xml" in page.find_element(By.ID, "refused").text
    _only_the_register(page, url)


def test_a_withdrawn_certificate_shows_its_reason_as_text(page: Any, register: dict[str, Any]) -> None:
    page.get(f"{register['url']}/certificates/{register['withdrawn']}")
    assert page.find_element(By.ID, "status").text == "WITHDRAWN"
    assert register["reason"] in page.find_element(By.ID, "withdrawn").text  # the markup shown, not rendered
    assert page.find_elements(By.CSS_SELECTOR, "#withdrawn b") == []
    page.find_element(By.ID, "product").click()
    assert "WITHDRAWN" in page.find_element(By.CSS_SELECTOR, "#certificates tbody tr").text
    _only_the_register(page, register["url"])


def test_the_matrix_has_every_cell_and_a_legend(page: Any, register: dict[str, Any]) -> None:
    page.get(register["url"] + "/matrix")
    gamma = f"{GAMMA.supplier}/{GAMMA.product}@{GAMMA.version}"
    cell = page.find_element(By.XPATH, f"//tr[th[normalize-space()='{gamma}']]/td[@data-suite='intel-core@1.0']")
    assert cell.get_attribute("data-status") == "not certified"  # and the product's markup is text
    acme = page.find_element(By.CSS_SELECTOR, "a.cell[aria-label^='Acme Ltd/RMS@2.1 intel-core@1.0']")
    assert acme.text == "CERTIFIED"
    legend = page.find_element(By.ID, "legend").text
    for word in ("CERTIFIED", "SUPERSEDED", "LAPSED", "WITHDRAWN", "NOT CERTIFIED", "NEVER RUN"):
        assert word in legend
    acme.send_keys(Keys.ENTER)
    assert page.find_element(By.ID, "status").text == "CURRENT"
    _only_the_register(page, register["url"])


def test_a_compatibility_answer_with_its_reasons(page: Any, register: dict[str, Any]) -> None:
    page.get(register["url"] + "/can-exchange")
    page.find_element(By.XPATH, "//select[@id='a']/option[starts-with(., 'Acme')]").click()
    page.find_element(By.XPATH, "//select[@id='b']/option[starts-with(., 'Gamma')]").click()
    page.find_element(By.ID, "ask").click()
    # the form's GET navigates: wait for the answer page (reading current_url at once can still give the form's)
    WebDriverWait(page, 20).until(lambda driver: "a=" in urllib.parse.urlsplit(driver.current_url).query)
    query = urllib.parse.urlsplit(page.current_url).query
    document = _json(f"{register['url']}/register/v1/can-exchange?{query}")  # the same answer, as JSON
    assert document["a"].startswith("Acme") and document["b"].startswith("Gamma")
    assert page.find_element(By.ID, "answer").text == document["answer"].upper()
    rows = page.find_elements(By.CSS_SELECTOR, "#reasons tbody tr")
    listed = document["exchanges"] + document["not_covered"]
    assert len(rows) == len(listed) > 0
    for row, answer in zip(rows, listed, strict=True):
        assert row.get_attribute("data-exchange") == answer["exchange"]
        assert f"{answer['reason']}: {answer['detail']}" in row.find_element(By.CSS_SELECTOR, "td.reason").text
    _only_the_register(page, register["url"])
