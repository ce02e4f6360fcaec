"""Re-judging through the runner's one replay seam: recorded exchanges answer the runner's requests.

Each latest suite is run for real against the reference supplier (loopback), its exchanges recorded
as the evidence bundle records them, then judged again with the catalog's own suite: same verdicts.
Then the record is tampered with as a dishonest supplier would, and re-judging must tell.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from harness.catalog import Catalog
from harness.endpoints import build_app
from harness.endpoints.sip_gateway import SipServer
from harness.evidence.bundle import EvidenceReporter
from harness.evidence.rejudge import RecordedExchanges, rejudge
from harness.runner.engine import Runner
from tests.conftest import certify
from tests.integration.evidence_helpers import SUT


def _recorded(bundle: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    with zipfile.ZipFile(bundle) as archive:
        records = [json.loads(line) for line in archive.read("exchanges.jsonl").splitlines() if line.strip()]
        results = json.loads(archive.read("results.json"))
    return records, results


@pytest.fixture(scope="module")
def recorded(catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One genuine bundle per latest suite version."""
    import asyncio

    folder = tmp_path_factory.mktemp("rejudge")
    bundles: dict[str, Path] = {}

    async def run_all() -> None:
        for suite in catalog.latest_suites():
            dataset = catalog.datasets.get(suite.dataset) if suite.dataset else None
            reporter = EvidenceReporter(folder / suite.name, suite, catalog.root, dataset, sut=SUT)
            await certify(catalog, build_app(catalog), suite.ref, sip=SipServer, listeners=[reporter])
            assert reporter.bundle is not None
            bundles[suite.ref] = reporter.bundle

    asyncio.run(run_all())
    return bundles


def test_every_suite_rejudges_to_its_own_verdicts(catalog: Catalog, recorded: dict[str, Path]) -> None:
    judged = 0
    for ref, bundle in recorded.items():
        records, results = _recorded(bundle)
        verdicts = {s["verdict"] for s in results["scenarios"]}
        assert "passed" in verdicts, (ref, verdicts)  # a real run, not one that judged nothing
        assert rejudge(catalog, catalog.suite(ref), results["target"], iter(records), results) == [], ref
        judged += len(results["scenarios"])
    assert judged >= 40  # every scenario of every latest suite went through the seam


def test_a_bundle_rejudged_a_day_later_keeps_its_verdicts(
    catalog: Catalog, recorded: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A check that compares a time of the answer with "now" (a CAP Ack's ``sent``) is judged by the clock
    the answer was recorded at: registering a bundle an hour or a day after its run changes nothing."""
    import datetime as dt

    from harness.runner import checks

    real = dt.datetime

    class Tomorrow(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]
            return real.now(tz) + dt.timedelta(days=1)

    monkeypatch.setattr(checks.dt, "datetime", Tomorrow)
    ref = next(ref for ref in recorded if ref.startswith("alerts-core@"))
    records, results = _recorded(recorded[ref])
    assert rejudge(catalog, catalog.suite(ref), results["target"], iter(records), results) == []


def test_the_runner_is_never_subclassed_to_replay() -> None:
    # The recorded side is an Exchanges implementation handed to the one Runner.
    assert Runner.__subclasses__() == []
    assert not issubclass(RecordedExchanges, Runner)


def _first_exchange(records: list[dict[str, Any]]) -> int:
    return next(i for i, r in enumerate(records) if r["direction"] == "harness->sut" and r["status"] == 200)


def _failing_copy(record: dict[str, Any]) -> dict[str, Any]:
    copy = json.loads(json.dumps(record))
    copy["answer"]["start_line"] = "HTTP/1.1 500 Internal Server Error"
    return copy


def test_the_last_attempt_of_a_step_is_judged(catalog: Catalog, recorded: dict[str, Path]) -> None:
    records, results = _recorded(recorded["intel-core@1.0"])
    index = _first_exchange(records)
    good, bad = dict(records[index], attempt=2), dict(_failing_copy(records[index]), attempt=1)
    suite = catalog.suite("intel-core@1.0")
    # A first attempt answered 500, sent again, answered well: judged on the second (the last).
    retried = [*records[:index], bad, good, *records[index + 1 :]]
    assert rejudge(catalog, suite, results["target"], iter(retried), results) == []
    # The other way round: the last attempt failed, whatever the first said.
    good, bad = dict(good, attempt=1), dict(bad, attempt=2)
    reversed_ = [*records[:index], good, bad, *records[index + 1 :]]
    differences = rejudge(catalog, suite, results["target"], iter(reversed_), results)
    assert len(differences) == 1 and f"scenario {records[index]['scenario']}:" in differences[0]
    assert "results say passed, the recorded answers give failed" in differences[0]


def test_a_1_0_record_is_read_under_its_response_key(catalog: Catalog, recorded: dict[str, Path]) -> None:
    records, results = _recorded(recorded["intel-core@1.0"])
    assert all("answer" in r and "response" not in r for r in records)  # 1.1 records
    renamed = [{("response" if k == "answer" else k): v for k, v in r.items()} for r in records]
    suite = catalog.suite("intel-core@1.0")
    assert rejudge(catalog, suite, results["target"], iter(renamed), results) == []
    index = _first_exchange(records)
    renamed[index] = {("response" if k == "answer" else k): v for k, v in _failing_copy(records[index]).items()}
    assert len(rejudge(catalog, suite, results["target"], iter(renamed), results)) == 1


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda r: r.pop("answer"), "no answer"),
        (lambda r: r["answer"].update(headers="Content-Type"), "headers are not a list"),
        (lambda r: r["answer"].update(body_encoding="base64", body="%%%"), "not base64"),
        (lambda r: r["answer"].update(body=["not", "text"]), "body is not a string"),
        (lambda r: r["answer"].update(start_line="HTTP/1.1 OK"), "no status"),
        (lambda r: r["answer"].update(body_encoding="rot13"), "unknown body_encoding"),
    ],
)
def test_a_malformed_record_is_a_difference_never_a_crash(
    catalog: Catalog, recorded: dict[str, Path], change: Any, why: str
) -> None:
    records, results = _recorded(recorded["intel-core@1.0"])
    index = _first_exchange(records)
    change(records[index])
    differences = rejudge(catalog, catalog.suite("intel-core@1.0"), results["target"], iter(records), results)
    assert len(differences) == 1 and why in differences[0], differences
    assert "give error" in differences[0]


def test_a_scenario_missing_from_the_record_or_the_results_is_a_difference(
    catalog: Catalog, recorded: dict[str, Path]
) -> None:
    records, results = _recorded(recorded["intel-core@1.0"])
    suite = catalog.suite("intel-core@1.0")
    dropped = records[_first_exchange(records)]["scenario"]
    without = [r for r in records if r["scenario"] != dropped]
    differences = rejudge(catalog, suite, results["target"], iter(without), results)
    assert differences == [d for d in differences if d.startswith(f"scenario {dropped}:")] and differences
    assert "no recorded answer to judge" in differences[0]
    # The results leave a scenario of the (issued) suite out: re-judging names it.
    fewer = dict(results, scenarios=[s for s in results["scenarios"] if s["id"] != dropped])
    differences = rejudge(catalog, suite, results["target"], iter(records), fewer)
    assert differences == [f"scenario {dropped}: results say None, the recorded answers give passed"]


def test_a_gzip_answer_recorded_compressed_is_judged_decoded(catalog: Catalog, recorded: dict[str, Path]) -> None:
    import base64
    import gzip

    records, results = _recorded(recorded["intel-core@1.0"])
    index = next(
        i for i, r in enumerate(records) if r["direction"] == "harness->sut" and r["answer"]["body"].startswith("{")
    )
    answer = records[index]["answer"]
    suite = catalog.suite("intel-core@1.0")
    # 1.0 stored the decoded body beside Content-Encoding: judged as recorded.
    answer["headers"] = [*answer["headers"], ["Content-Encoding", "gzip"]]
    assert rejudge(catalog, suite, results["target"], iter(records), results) == []
    # 1.1: the compressed bytes as they crossed the wire, marked decoded: decoded again from the wire bytes.
    answer["decoded"], answer["decoded_encoding"] = answer["body"], "text"
    answer["body"] = base64.b64encode(gzip.compress(answer["body"].encode())).decode()
    answer["body_encoding"] = "base64"
    assert rejudge(catalog, suite, results["target"], iter(records), results) == []
    answer["body"] = base64.b64encode(b"\x1f\x8b not gzip").decode()  # the decoded form cannot stand in for it
    differences = rejudge(catalog, suite, results["target"], iter(records), results)
    assert len(differences) == 1 and "not gzip data" in differences[0]


def test_what_reached_the_counterpart_is_judged_from_the_record(catalog: Catalog, recorded: dict[str, Path]) -> None:
    for ref in ("checks-core@1.0", "esn-core@1.1"):
        records, results = _recorded(recorded[ref])
        arrivals = [i for i, r in enumerate(records) if r["direction"] == "sut->reference"]
        assert arrivals, ref
        scenario = records[arrivals[0]]["scenario"]
        stated = {s["id"]: s["verdict"] for s in results["scenarios"]}
        without = [r for i, r in enumerate(records) if i != arrivals[0]]
        differences = rejudge(catalog, catalog.suite(ref), results["target"], iter(without), results)
        assert any(d.startswith(f"scenario {scenario}: results say {stated[scenario]}") for d in differences), (
            ref,
            differences,
        )


def test_a_last_attempt_without_answer_is_error_or_failed_never_passed(
    catalog: Catalog, recorded: dict[str, Path]
) -> None:
    records, results = _recorded(recorded["intel-core@1.0"])
    index = _first_exchange(records)
    scenario = records[index]["scenario"]
    records[index] = dict(records[index], answer=None, status=None)  # the transport got no complete answer
    suite = catalog.suite("intel-core@1.0")
    for stated, differs in (("error", False), ("failed", False), ("passed", True)):
        claimed = dict(
            results,
            scenarios=[dict(s, verdict=stated) if s["id"] == scenario else s for s in results["scenarios"]],
        )
        differences = rejudge(catalog, suite, results["target"], iter(records), claimed)
        assert bool(differences) is differs, (stated, differences)


async def test_a_supplier_answering_gzip_rejudges_to_its_verdicts(catalog: Catalog, tmp_path: Path) -> None:
    from aiohttp import web
    from aiohttp.web_response import ContentCoding

    @web.middleware
    async def gzip_everything(request: web.Request, handler: Any) -> web.StreamResponse:
        response = await handler(request)
        if isinstance(response, web.Response) and response.body:
            response.enable_compression(ContentCoding.gzip)
        return response

    app = build_app(catalog)
    app.middlewares.append(gzip_everything)
    suite = catalog.suite("intel-core@1.0")
    dataset = catalog.datasets.get(suite.dataset) if suite.dataset else None
    reporter = EvidenceReporter(tmp_path, suite, catalog.root, dataset, sut=SUT)
    run = await certify(catalog, app, suite.ref, listeners=[reporter])
    assert reporter.bundle is not None
    records, results = _recorded(reporter.bundle)
    compressed = [r for r in records if r["answer"] and "decoded" in r["answer"]]
    assert compressed and all(r["answer"]["body_encoding"] == "base64" for r in compressed)  # wire bytes kept
    assert sum(r.verdict == "passed" for r in run.results) >= len(run.results) - 2
    import asyncio

    differences = await asyncio.to_thread(rejudge, catalog, suite, results["target"], iter(records), results)
    assert differences == []
