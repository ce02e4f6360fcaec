"""Size and open time in Chromium of the HTML report of a large real run, against a raw baseline.

The run: checks-core against the in-process reference supplier, from a copy of
the fixtures whose timing scenarios (CC-15, CC-16) repeat their checks so that
the run makes about ``--exchanges`` real exchanges. Its ``report.html`` is opened
from disk in headless Chromium (Debian's chromium and chromedriver):

- open: navigation start to the load event, read from the page's Navigation Timing;
- expand: time to open the largest scenario and render its first exchanges (clicked
  through Selenium, measured inside the page);
- raw baseline: the same page bytes' JSON data embedded in an otherwise empty page
  (no styles, no markup, no script parsing it), opened the same way in the same run.

Prints one JSON line: {"exchanges", "report_bytes", "open_ms", "baseline_open_ms", "ratio", "expand_ms"}
(medians over ``--rounds`` loads).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _fixtures_with_repeats(folder: Path, exchanges: int) -> Path:
    root = folder / "fixtures"
    shutil.copytree(ROOT / "fixtures", root)
    per_step = max(1, exchanges // 4)  # CC-15 and CC-16 each have two repeated steps
    for name in ("cc-15-timing-2s.yaml", "cc-16-timing-500ms.yaml"):
        path = root / "suites/checks-core/1.0/scenarios" / name
        text = re.sub(r"times: \d+, concurrency: \d+", f"times: {per_step}, concurrency: 8", path.read_text())
        path.write_text(text)
    return root


async def _run(root: Path, reports: Path) -> int:
    from harness.catalog import load_catalog
    from harness.cli import RunSettings, run_suite
    from harness.endpoints import ReferenceServer, build_app

    catalog = load_catalog(root)
    async with ReferenceServer(build_app(catalog)) as url:
        finished = await run_suite(catalog, "checks-core", url, RunSettings(reports, console=False))
    return sum(r.exchanges or len(r.latencies_ms) for r in finished.results)


def _driver() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="harness-bench-")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))


def _open_ms(driver: Any, path: Path) -> float:
    driver.get(path.as_uri())
    timing = driver.execute_script("const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd;")
    return float(timing)


def _expand_ms(driver: Any, path: Path) -> float:
    driver.get(path.as_uri())
    script = """
      const all = Array.from(document.querySelectorAll('details.scenario'));
      let biggest = all[0], most = -1;
      all.forEach(d => {
        const size = document.getElementById('d-' + d.dataset.i).textContent.length;
        if (size > most) { most = size; biggest = d; }
      });
      const t0 = performance.now();
      biggest.open = true;
      biggest.dispatchEvent(new Event('toggle'));
      const first = biggest.querySelector('details.exchange');
      first.open = true; first.dispatchEvent(new Event('toggle'));
      document.body.getBoundingClientRect();
      return performance.now() - t0;
    """
    return float(driver.execute_script(script))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exchanges", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="copy the report here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        root = _fixtures_with_repeats(folder, args.exchanges)
        exchanges = asyncio.run(_run(root, folder / "reports"))
        report = folder / "reports" / "report.html"
        page = report.read_text()
        blocks = re.findall(r'<script type="application/json" id="d-\d+">.*?</script>', page, re.S)
        baseline = folder / "baseline.html"
        baseline.write_text('<!DOCTYPE html><meta charset="utf-8">' + "".join(blocks))
        if args.keep:
            shutil.copyfile(report, args.keep)
        driver = _driver()
        try:
            opened, raw, expanded = [], [], []
            for _ in range(args.rounds):
                raw.append(_open_ms(driver, baseline))
                opened.append(_open_ms(driver, report))
                expanded.append(_expand_ms(driver, report))
        finally:
            driver.quit()
    result = {
        "exchanges": exchanges,
        "report_bytes": len(page.encode()),
        "open_ms": round(statistics.median(opened), 1),
        "baseline_open_ms": round(statistics.median(raw), 1),
        "ratio": round(statistics.median(opened) / statistics.median(raw), 2),
        "expand_ms": round(statistics.median(expanded), 1),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
