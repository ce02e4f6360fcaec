"""Chromium (Debian's chromium and chromium-driver) driven by Selenium, headless, with a fresh profile.

Tests here carry the marker ``browser``: skipped when Chromium or its driver is
missing, failing instead under ``CI=true``. Every test fails on a JavaScript
console error; :func:`network_requests` lists what a page fetched (performance log).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOTS = Path(
    os.environ.get("HARNESS_SCREENSHOTS", Path(__file__).resolve().parents[2] / "reports" / "screenshots")
)


def _missing() -> str | None:
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        return "Chromium or chromedriver not installed (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    missing = _missing()
    if missing is not None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"browser tests must run in CI: {missing}")
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="harness-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """The browser, its logs emptied; after the test, a screenshot and no console error allowed."""
    browser.get_log("browser")
    browser.get_log("performance")
    yield browser
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"{request.node.name}.png"))
    errors = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]
    assert not errors, f"JavaScript console errors: {errors}"


_INTERNAL = ("chrome://", "chrome-untrusted://", "devtools://", "data:")
"""Chromium's own pages (its new-tab page loads its resources) and inline data: no request leaves the machine."""


def network_requests(browser: Any) -> list[str]:
    """URLs requested since the logs were last read (Chrome DevTools Network.requestWillBeSent), but
    Chromium's internal ones: any http(s), ws(s), ftp or file URL is listed."""
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            url = str(message["params"]["request"]["url"])
            if not url.startswith(_INTERNAL):
                urls.append(url)
    return urls
