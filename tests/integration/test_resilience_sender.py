"""resilience-core, sender roles: the reference sender passes, every broken sender fails on the rule it breaks.

Timings are judged only from the timeline the counterpart recorded (its own clock) and the spec's tolerances;
nothing here reads the wall clock.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from harness.catalog import Catalog
from harness.endpoints import ReferenceServer, build_app
from harness.endpoints.intel_hub import IntelHub
from harness.events import Listener, RunFinished
from harness.evidence.bundle import EvidenceReporter
from harness.evidence.rejudge import rejudge
from harness.session import RunSession
from tests.integration.broken_senders import build_broken_sender
from tests.integration.evidence_helpers import SUT

SUITE = "resilience-core"
SENDER = [f"RS-S{n:02d}" for n in range(1, 12)]

# variant -> {scenario: rule its failure must name}; a SHOULD-only failure leaves the role certified
EXPECTED: dict[str, dict[str, str]] = {
    "new-id-on-retry": {"RS-S01": "RS-01", "RS-S04": "RS-01"},
    "gives-up-after-one": {"RS-S01": "RS-02", "RS-S06": "RS-02"},
    "ignores-retry-after": {"RS-S02": "RS-03", "RS-S03": "RS-03"},
    "no-backoff": {"RS-S01": "RS-04", "RS-S06": "RS-04"},
    "retries-400": {"RS-S07": "RS-05", "RS-S08": "RS-05"},
    "two-in-flight": {"RS-S05": "RS-06"},
    "reports-failed-as-delivered": {"RS-S09": "RS-07"},
    "update-before-original": {"RS-S11": "RS-09"},
    "no-idempotency-key": {"RS-S10": "RS-08"},
}


async def run_sender(
    catalog: Catalog, app: web.Application, ids: list[str], listeners: tuple[Listener, ...] = (), **options: Any
) -> RunFinished:
    """The sender scenarios ``ids`` against ``app`` on loopback, side by side (they share nothing)."""
    async with contextlib.AsyncExitStack() as stack:
        url = await stack.enter_async_context(ReferenceServer(app))
        session = (
            RunSession(catalog, SUITE)
            .with_target(url)
            .with_scenarios(ids)
            .with_options(concurrency=len(ids), timeout_s=5.0, **options)
            .with_listener(*listeners)
        )
        async with session:
            return await session.run()
    raise AssertionError("unreachable")  # pragma: no cover


def rules_failed(run: RunFinished) -> dict[str, set[str]]:
    return {r.id: {f.check.split(":", 1)[0] for f in r.failures} for r in run.results if str(r.verdict) != "passed"}


async def test_reference_sender_passes_every_sender_scenario(catalog: Catalog) -> None:
    run = await run_sender(catalog, build_app(catalog), SENDER)
    assert rules_failed(run) == {}
    timelines = {r.id: r.timeline for r in run.results}
    assert all(timelines.values()), "every sender verdict shows its attempts"
    three = timelines["RS-S06"]  # three 503s, then success: four attempts, gaps that do not shrink
    assert [row["answer"] for row in three] == ["503", "503", "503", "202"]
    gaps = [row["gap_ms"] for row in three[1:]]
    assert gaps[0] >= 150 and all(later >= 0.6 * earlier for earlier, later in itertools.pairwise(gaps))
    waited = timelines["RS-S02"]  # Retry-After: 2 honoured (100 ms tolerance), on the counterpart's clock
    assert waited[0]["answer"] == "503 (Retry-After: 2)" and waited[1]["gap_ms"] >= 1900
    assert [row["answer"] for row in timelines["RS-S07"]] == ["400"]  # exactly one attempt
    assert len(timelines["RS-S09"]) >= 3  # permanent 503: at least three attempts, then reported failed


@pytest.mark.parametrize("variant", sorted(EXPECTED))
async def test_broken_sender_fails_on_its_rule(catalog: Catalog, variant: str) -> None:
    expected = EXPECTED[variant]
    run = await run_sender(catalog, build_broken_sender(catalog, variant), sorted(expected))
    failed = rules_failed(run)
    for scenario, rule in expected.items():
        assert rule in failed.get(scenario, set()), f"{variant}: {scenario} did not fail on {rule}: {failed}"
    verdicts = {r.id: str(r.verdict) for r in run.results}
    assert set(verdicts.values()) == {"failed"}, verdicts
    assert run.certified is (variant == "no-idempotency-key")  # RS-08 is a warning: its scenario is SHOULD


async def test_a_sender_that_claims_deliveries_it_never_made_fails_every_scenario(catalog: Catalog) -> None:
    run = await run_sender(catalog, build_broken_sender(catalog, "never-sends"), SENDER)
    failed = rules_failed(run)
    assert sorted(failed) == SENDER
    assert all({"RS-02", "RS-07"} <= rules for rules in failed.values()), failed
    assert not run.certified


async def test_without_trigger_hook_unattended_sender_scenarios_are_manual(catalog: Catalog) -> None:
    app = build_app(catalog, [IntelHub(catalog)])  # no test hooks at all
    run = await run_sender(catalog, app, ["RS-S01", "RS-S09"], unattended=True)
    assert {str(r.verdict) for r in run.results} == {"manual"}
    reason = run.results[0].failures[0].message
    assert "operator must" in reason and "/resilience/" in reason and reason.endswith("/netcode/v1/intel-reports)")


def _records(bundle: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    with zipfile.ZipFile(bundle) as archive:
        records = [json.loads(line) for line in archive.read("exchanges.jsonl").splitlines() if line.strip()]
        return records, json.loads(archive.read("results.json"))


async def _bundle(catalog: Catalog, app: web.Application, ids: list[str], folder: Path) -> Path:
    suite = catalog.suite(SUITE)
    reporter = EvidenceReporter(folder, suite, catalog.root, None, sut=SUT)
    await run_sender(catalog, app, ids, (reporter,))
    assert reporter.bundle is not None
    return reporter.bundle


async def test_attempts_are_evidence_and_rejudged_from_the_record(catalog: Catalog, tmp_path: Path) -> None:
    """The attempts are the step's sut->reference records; a timeline edited in the record is judged again."""
    ids = ["RS-S01", "RS-S10", "RS-S11"]
    bundle = await _bundle(catalog, build_app(catalog), ids, tmp_path / "good")
    records, results = _records(bundle)
    suite = catalog.suite(SUITE)
    attempts = [r for r in records if r["scenario"] == "RS-S01" and r["direction"] == "sut->reference"]
    assert [r["attempt"] for r in attempts] == [1, 2] and attempts[0]["status"] == 503
    assert attempts[0]["request"]["start_line"].startswith("POST http://127.0.0.1:")
    assert any(h[0].lower() == "idempotency-key" and h[1] != "[redacted]" for h in attempts[0]["request"]["headers"])
    stated = {s["id"]: s["verdict"] for s in results["scenarios"]}
    assert stated == dict.fromkeys(ids, "passed")
    chosen = _only(suite, ids)
    assert rejudge(catalog, chosen, results["target"], iter(records), results) == []
    # A dishonest record: the retry moved to 20 ms after the 503 (no backoff). Judged again, RS-S01 fails.
    second = attempts[1]
    first_end = attempts[0]["answered"]
    edited = [{**r, "sent": _plus_ms(first_end, 20)} if r is second else r for r in records]
    differences = rejudge(catalog, chosen, results["target"], iter(edited), results)
    assert len(differences) == 1 and "RS-S01" in differences[0] and "RS-04" in differences[0]


async def test_a_failing_sender_rejudges_to_failed_and_a_forged_pass_is_told(catalog: Catalog, tmp_path: Path) -> None:
    """Think like the supplier who gains: a failing run whose results say 'passed' does not survive re-judging."""
    ids = ["RS-S01"]
    bundle = await _bundle(catalog, build_broken_sender(catalog, "new-id-on-retry"), ids, tmp_path / "bad")
    records, results = _records(bundle)
    chosen = _only(catalog.suite(SUITE), ids)
    assert {s["verdict"] for s in results["scenarios"]} == {"failed"}
    assert rejudge(catalog, chosen, results["target"], iter(records), results) == []
    forged = json.loads(json.dumps(results))
    for scenario in forged["scenarios"]:
        scenario["verdict"], scenario["failures"] = "passed", []
    differences = rejudge(catalog, chosen, results["target"], iter(records), forged)
    assert differences and "RS-01" in differences[0]


def _only(suite: Any, ids: list[str]) -> Any:
    import dataclasses

    return dataclasses.replace(
        suite,
        scenarios=tuple(s for s in suite.scenarios if str(s.get("id")) in ids),
        typed=tuple(s for s in suite.typed if s.id in ids),
    )


def _plus_ms(rfc3339: str, ms: int) -> str:
    import datetime as dt

    moment = dt.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")) + dt.timedelta(milliseconds=ms)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def test_the_verdict_shows_the_timeline_on_console_results_and_report(catalog: Catalog) -> None:
    import io

    from harness.htmlreport.view import RunHeader, build_report
    from harness.model import ScenarioResult
    from harness.reporting import ConsoleReporter

    out = io.StringIO()
    run = await run_sender(catalog, build_broken_sender(catalog, "no-backoff"), ["RS-S01"], (ConsoleReporter(out),))
    (result,) = run.results
    lines = out.getvalue().splitlines()
    assert any("RS-04: backoff" in line for line in lines)
    shown = [line.strip() for line in lines if line.strip().startswith("attempt ")]
    assert [line.split()[5] for line in shown] == ["503", "202"] and "(gap " in shown[1]
    document = result.as_dict()
    assert [row["answer"] for row in document["timeline"]] == ["503", "202"]
    assert ScenarioResult.from_dict(document).timeline == result.timeline
    results = {"suite": {"name": SUITE, "version": "1.0"}, "scenarios": [document]}
    (entry,) = build_report(results, [], RunHeader("", "", "", ""), catalog)["scenarios"]
    assert [row["answer"] for row in entry["timeline"]] == ["503", "202"]


async def test_without_hooks_an_operator_sends_and_the_timeline_is_judged(catalog: Catalog) -> None:
    """The operator (played by this test) makes the 'SUT' deliver: a 503, then 300 ms later the same report."""
    import asyncio
    import re

    import aiohttp

    from harness.events import Event, OperatorActionRequired
    from tests.integration.test_resilience_sender_faults import HEADERS, report

    tasks: list[asyncio.Task[None]] = []

    async def operator(event: OperatorActionRequired) -> None:
        url = event.instruction.rsplit("send it to ", 1)[1].rstrip(")")
        found = re.search(r"reportId ([0-9a-f-]{36})", event.instruction)
        assert found is not None
        headers = {**HEADERS, "Idempotency-Key": found[1]}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
            for _ in range(2):  # a retry after a 503, none after an answer that ends the delivery
                async with http.post(url, data=report(found[1]), headers=headers) as answer:
                    if answer.status != 503:
                        return
                await asyncio.sleep(0.3)

    def listener(event: Event) -> None:
        if isinstance(event, OperatorActionRequired):
            tasks.append(asyncio.ensure_future(operator(event)))

    app = build_app(catalog, [IntelHub(catalog)])  # no test hooks at all
    run = await run_sender(catalog, app, ["RS-S01", "RS-S07"], (listener,), unattended=False, operator_timeout_s=20)
    await asyncio.gather(*tasks)
    verdicts = {r.id: str(r.verdict) for r in run.results}
    assert verdicts["RS-S01"] == "passed"  # RS-01, RS-02, RS-04 judged from the timeline the operator made
    assert verdicts["RS-S07"] == "manual"  # RS-07 is what the SUT reports: without the hook, only manual
    assert [row["answer"] for row in run.results[0].timeline] == ["503", "202"]
