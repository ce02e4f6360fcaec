"""The HTML run report's data and page: bodies shown right, differences cut right, nothing escapes or leaks."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import harness.htmlreport
from harness.catalog import Catalog
from harness.certification.serve import catalogue_app
from harness.cli import main
from harness.events import ExchangeCompleted, RunFinished, RunStarted, Summary, WireMessage
from harness.htmlreport import HtmlReporter, RunHeader, build_report
from harness.htmlreport.bodies import body_view, diff_ops, hex_dump
from harness.htmlreport.render import embed_json
from harness.model import CheckFailure, Level, ScenarioResult, Verdict
from harness.reporting import Redactor
from tests.bundles import exchange, results_for, write_bundle, write_key

SIGNALLING = bytes.fromhex("01006abd1130") + bytes(range(32)) + bytes.fromhex("81")


def test_hex_dump_lines_and_bound() -> None:
    assert hex_dump(b"AB\x00") == "00000000  41 42 00" + " " * 39 + "  AB."
    assert hex_dump(bytes(40), limit=16).endswith("... 24 more octets")


def test_mcdata_binary_decoded_beside_its_hex() -> None:
    view = body_view("application/vnd.3gpp.mcdata-signalling", SIGNALLING)
    assert view["kind"] == "binary" and view["hex"].startswith("00000000  01 00 6a bd 11 30")
    decoded = json.loads(view["decoded"])
    assert decoded["message"] == "SdsSignalling"
    assert decoded["date_time"] == "1790775600 (2026-09-30T13:40:00Z)"  # the integer on the wire, and its reading
    broken = body_view("application/vnd.3gpp.mcdata-signalling", SIGNALLING[:10])
    assert broken["decoded"].startswith("not decodable:")


def test_json_and_xml_pretty_printed_and_xml_parsed_safely() -> None:
    assert body_view("application/json", b'{"a":[1,2]}')["text"] == '{\n  "a": [\n    1,\n    2\n  ]\n}'
    assert body_view("application/xml", b"<a><b>x</b></a>")["text"] == "<a>\n  <b>x</b>\n</a>"
    bomb = b'<!DOCTYPE a [<!ENTITY e "xxxxxxxx">]><a>&e;&e;</a>'
    view = body_view("application/xml", bomb)
    assert view["kind"] == "text" and "&e;" in view["text"]  # shown as sent, never expanded
    assert body_view("application/json", b"{not json")["kind"] == "text"
    assert body_view("application/octet-stream", b"\xff\xfe")["kind"] == "binary"
    assert body_view("", b"")["kind"] == "empty"


def test_diff_marks_only_what_differs() -> None:
    ops = diff_ops(202, 400)
    assert ops == {"expected": [["-", "202"]], "actual": [["+", "400"]]}
    ops = diff_ops({"status": "accepted", "id": 1}, {"status": "rejected", "id": 1})
    assert ops["expected"][0] == ["=", '{\n  "id": 1,\n']
    assert ops["expected"][-2] == ["-", '  "status": "accepted"\n']
    assert ops["actual"][-2] == ["+", '  "status": "rejected"\n']
    assert diff_ops("application/json", "application/jsn") == {
        "expected": [["=", "application/js"], ["-", "o"], ["=", "n"]],
        "actual": [["=", "application/jsn"]],
    }


def test_embedded_json_cannot_close_its_script() -> None:
    text = str(embed_json({"body": "</script><script>alert(1)</script>&\u2028"}))
    assert "</" not in text and "<script" not in text and "&" not in text
    assert json.loads(text)["body"] == "</script><script>alert(1)</script>&\u2028"


def _run(tmp: Path, catalog: Catalog, secret: str) -> Path:
    path = tmp / "report.html"
    reporter = HtmlReporter(path, catalog, Redactor((secret,)), sut="acme/rms@2.1")
    reporter(RunStarted("intel-core", "1.0", "http://127.0.0.1:9", "2026-11-28T10:00:00.000Z", 2))
    request = WireMessage(
        "POST http://127.0.0.1:9/netcode/v1/intel-reports",
        (("Authorization", f"Bearer {secret}"), ("Content-Type", "application/json")),
        b'{"reportId": "</script>"}',
    )
    answer = WireMessage("400 Bad Request", (("Content-Type", "application/json"),), f'{{"echo": "{secret}"}}'.encode())
    reporter(
        ExchangeCompleted(
            "IC-01", "submit", "POST", request.start_line, 400, 2.5, 10, 10, request=request, answer=answer
        )
    )
    failures = (CheckFailure("submit", "status", 202, 400, f"status 400 ({secret})"),)
    results = (
        ScenarioResult("IC-01", "Submit", Level.MUST, Verdict.FAILED, 3.0, failures, 1, (2.5,)),
        ScenarioResult("IC-02", "Submit XML", Level.MUST, Verdict.PASSED, 3.0),
    )
    summary = Summary(passed=1, failed=1)
    reporter(RunFinished("intel-core", "1.0", f"http://u:{secret}@127.0.0.1:9", "a", "b", summary, results))
    return path


def test_live_report_redacts_secrets_and_orders_failures_first(tmp_path: Path, catalog: Catalog) -> None:
    secret = "s3cr3t-token-value"
    page = _run(tmp_path, catalog, secret).read_text()
    assert secret not in page and "[redacted]" in page
    assert page.count("<script") == 1 + 2  # the page's script and one data block per scenario
    order = re.findall(r'<span class="sid">([^<]+)</span>', page)
    assert order == ["IC-01", "IC-02"]
    block = re.search(r'<script type="application/json" id="d-0">(.*?)</script>', page, re.S)
    assert block is not None
    scenario = json.loads(block.group(1))
    assert scenario["spec"] == "intel-report.md#exchange-submit" and scenario["spec_href"] == ""  # no link to follow
    [clause] = scenario["clauses"]  # the clause's text itself, from the standard shipped with the harness
    assert clause["title"].endswith("\u00a7 Intelligence report \u2014 `netcode.intel-report/1.0` > Exchange: submit")
    assert clause["text"].startswith("## Exchange: submit\n") and "| `409` problem `/conflict` |" in clause["text"]
    assert scenario["family"] == "intel-report"
    assert scenario["steps"] == [{"id": "submit", "exchanges": [0], "latency_ms": {"p50": 2.5, "p95": 2.5, "max": 2.5}}]
    assert scenario["x"][0]["request"]["body"]["kind"] == "json"
    # The failed scenario's first cause is in the list itself (redacted like everything else), the passed one has none.
    assert scenario["reason"] == "submit: status 400 ([redacted])"
    assert re.findall(r'<p class="reason" title="first cause">([^<]+)</p>', page) == ["submit: status 400 ([redacted])"]


def test_a_hex_dump_gets_the_full_width_and_never_wraps() -> None:
    css = (Path(harness.htmlreport.__file__).parent / "templates" / "report.css").read_text()
    assert re.search(r"pre\.hex \{[^}]*white-space: pre;", css)  # lines scroll, never wrap
    assert re.search(r"\.binary \{[^}]*grid-template-columns: 1fr;", css)  # hex above the decoded fields
    assert re.search(r"\.message\.stacked \{[^}]*grid-template-columns: 1fr;", css)  # request above answer
    script = (Path(harness.htmlreport.__file__).parent / "templates" / "report.js").read_text()
    assert '"message stacked"' in script and "hasBinary" in script


def test_report_is_one_file_with_no_external_reference(tmp_path: Path, catalog: Catalog) -> None:
    page = _run(tmp_path, catalog, "x" * 12).read_text()
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=|@import|url\(", page)
    assert "default-src 'none'" in page


def test_report_command_from_a_journal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.html"
    assert main(["report", "--html", str(out), str(tmp_path / "none.zip")]) == 2
    assert capsys.readouterr().err.strip().endswith("none.zip: unreadable: no such file")
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    assert main(["report", "--html", str(out), str(tmp_path / "junk.zip")]) == 2
    assert "junk.zip: unreadable:" in capsys.readouterr().err
    assert not out.exists()  # no bundle at all: no page
    assert main(["report", str(tmp_path / "junk.zip")]) == 2
    assert main(["report", "--html", str(out)]) == 2
    journal = tmp_path / "run" / "journal.jsonl"
    journal.parent.mkdir()
    journal.write_text(
        json.dumps({"event": "run-started", "suite": "intel-core", "version": "1.0", "target": "t", "started": "s"})
        + "\n"
        + json.dumps(
            {
                "event": "scenario-finished",
                "id": "IC-01",
                "title": "t",
                "level": "MUST",
                "verdict": "passed",
                "duration_ms": 1,
                "failures": [],
            }
        )
        + "\n"
    )
    assert main(["report", "--html", str(out), "--journal", str(journal)]) == 1  # interrupted: no run-finished
    assert "rebuilt from a journal" in out.read_text()


def test_catalogue_served_on_loopback(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<h1>catalogue</h1>")
    (tmp_path / "catalogue.json").write_text("{}")
    (tmp_path.parent / "secret.txt").write_text("no")

    async def fetch() -> list[Any]:
        async with TestClient(TestServer(catalogue_app(tmp_path), host="127.0.0.1")) as client:
            home, feed = await client.get("/"), await client.get("/catalogue.json")
            escape = await client.get("/../secret.txt")
            return [home.status, await home.text(), feed.status, escape.status]

    assert asyncio.run(fetch()) == [200, "<h1>catalogue</h1>", 200, 404]


def test_hostile_bundle_gives_a_report_or_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def garble(members: dict[str, bytes]) -> None:
        members["results.json"] = json.dumps(
            {"suite": "x", "summary": [], "scenarios": [1, {"id": "A", "duration_ms": "NaN", "failures": {"a": 1}}]}
        ).encode()
        members["exchanges.jsonl"] = b'{"scenario": "A", "elapsed_ms": "x", "request": 5}\n[1]\n'

    path = write_bundle(tmp_path, None, ("a", "b", "c"), results_for("intel-core", "1.0", {}), tamper=garble)
    out = tmp_path / "r.html"
    assert main(["report", "--html", str(out), str(path)]) == 1
    page = out.read_text()
    assert "NOT VERIFIED" in page and "CERTIFIED<" not in page.replace("NOT CERTIFIED<", "")
    (tmp_path / "blocker").write_text("a file where a folder should be")
    assert main(["report", "--html", str(tmp_path / "blocker" / "r.html"), str(path)]) == 2
    assert "cannot write the report" in capsys.readouterr().err
    assert (
        main(
            [
                "catalogue",
                "build",
                "--out",
                str(tmp_path / "blocker"),
                "--trusted-key",
                str(write_key(tmp_path / "k.pem", Ed25519PrivateKey.generate())[1]),
                str(path),
            ]
        )
        == 2
    )
    assert "cannot write the catalogue" in capsys.readouterr().err


def test_a_huge_run_is_counted_not_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.htmlreport import view

    monkeypatch.setattr(view, "MAX_EXCHANGES_LISTED", 3)
    monkeypatch.setattr(view, "MAX_EXCHANGES_WITH_BODIES", 2)
    results = results_for("intel-core", "1.0", {"IC-01": ("MUST", "passed")})
    records = [exchange("IC-01", f"submit#{i}", 202, {"n": i}) for i in range(5)]
    data = build_report(results, records, RunHeader("", "", "", ""), None)
    scenario = data["scenarios"][0]
    assert data["exchange_total"] == 5 and scenario["exchange_count"] == 5 and scenario["unlisted"] == 2
    assert [("request" in x) for x in scenario["x"]] == [True, True, False]
    assert scenario["steps"] == [
        {"id": "submit", "exchanges": [0, 1, 2], "latency_ms": {"p50": 3.0, "p95": 3.0, "max": 3.0}}
    ]


def test_should_failures_are_warnings_with_their_own_badge_and_count(tmp_path: Path, catalog: Catalog) -> None:
    path = tmp_path / "report.html"
    reporter = HtmlReporter(path, catalog, Redactor(()), sut="acme/rms@2.1")
    reporter(RunStarted("intel-core", "1.0", "http://127.0.0.1:9", "2026-11-28T10:00:00.000Z", 3))
    wrong = (CheckFailure("submit", "status: status", 202, 200, "HTTP status 200, expected 202", ("json",)),)
    results = (
        ScenarioResult("IC-01", "Submit", Level.MUST, Verdict.FAILED, 3.0, wrong),
        ScenarioResult("IC-30", "Ack within 1 s", Level.SHOULD, Verdict.FAILED, 3.0, wrong),
        ScenarioResult("IC-02", "Submit XML", Level.MUST, Verdict.PASSED, 3.0),
    )
    reporter(RunFinished("intel-core", "1.0", "http://127.0.0.1:9", "a", "b", Summary(passed=1, failed=2), results))
    page = path.read_text()
    badges = dict(re.findall(r'<span class="badge (\w+)">\w+</span><span class="sid">([^<]+)</span>', page))
    assert badges == {"failed": "IC-01", "warning": "IC-30", "passed": "IC-02"}
    assert '<span class="badge warning">WARNING</span>' in page
    assert "1 passed, 1 MUST failed, 1 SHOULD failed (warnings), 0 errors" in page
    assert ".badge.superseded, .badge.warning { color: var(--warn); }" in page  # amber, not the red of a failure
    block = re.search(r'<script type="application/json" id="d-1">(.*?)</script>', page, re.S)
    assert block is not None
    scenario = json.loads(block.group(1))
    assert scenario["id"] == "IC-30" and scenario["badge"] == "warning"
    assert scenario["failures"][0]["not_checked"] == "not checked (status was 200): json"


def test_the_first_reason_is_one_escaped_bounded_line(tmp_path: Path) -> None:
    from harness.htmlreport import write_report

    results = results_for("intel-core", "1.0", {"IC-01": ("MUST", "failed"), "IC-02": ("MUST", "error")})
    hostile = "<img src=x onerror=alert(1)>\n\tsecond line " + "x" * 400
    results["scenarios"][0]["failures"] = [
        {"step": "submit", "check": "status", "expected": 202, "actual": 500, "message": hostile},
        {"step": "submit", "check": "body", "expected": 1, "actual": 2, "message": "a later one"},
    ]
    results["scenarios"][1]["error"] = "connection reset by peer"
    data = build_report(results, [], RunHeader("", "", "", ""), None)
    reasons = {s["id"]: s["reason"] for s in data["scenarios"]}
    assert reasons["IC-01"].startswith("submit: <img src=x onerror=alert(1)> second line xxx")
    assert len(reasons["IC-01"]) == 200 and reasons["IC-01"].endswith("…") and "\n" not in reasons["IC-01"]
    assert reasons["IC-02"] == "connection reset by peer"
    write_report(tmp_path / "r.html", data)
    page = (tmp_path / "r.html").read_text()
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
