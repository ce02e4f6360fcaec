"""``harness serve --processes 2``: whichever process a connection lands on, it answers as the single process would.

Every request goes over a connection of its own (``force_close``), so the kernel spreads them over both processes;
with state kept per process, a retrieve lands on the process that did not store the report about half the time.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from lxml import etree

from tests.conftest import ROOT
from tests.integration.served import serve_process

HARNESS = [sys.executable, "-m", "harness.cli"]
CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
INTEL = ROOT / "fixtures/formats/intel-report/1.0/samples/valid/minimal.json"
CAP = ROOT / "fixtures/formats/cap/1.2/samples/valid/minimal.xml"
ROUNDS = 24
"""Exchanges of each kind: with per-process state, all of them landing right has a chance of about 2**-24."""
MEDIA_TYPE = "application/vnd.netcode.intel-report+json"
TIMEOUT = aiohttp.ClientTimeout(total=20)


TWO_PROCESSES = [*HARNESS, "serve", "--processes", "2", "--host", "127.0.0.1", "--port", "0"]


@pytest.fixture(scope="module")
def two_processes() -> Iterator[str]:
    with serve_process(TWO_PROCESSES, clean_exit=True) as url:
        yield url


async def _exchange(
    method: str, url: str, body: bytes | None = None, content_type: str | None = None, accept: str | None = None
) -> tuple[int, bytes]:
    """One request over a new connection, closed after the answer."""
    headers = {name: value for name, value in (("Content-Type", content_type), ("Accept", accept)) if value}
    connector = aiohttp.TCPConnector(force_close=True, limit=1)
    async with (
        aiohttp.ClientSession(connector=connector, timeout=TIMEOUT) as session,
        session.request(method, url, data=body, headers=headers) as answer,
    ):
        return answer.status, await answer.read()


def _report(index: int) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(INTEL.read_text())
    report["reportId"] = str(uuid.uuid4())
    report["text"] = f"Observed activity number {index}."
    return report


async def test_every_report_submitted_is_retrieved_whichever_process_answers(two_processes: str) -> None:
    reports = [_report(index) for index in range(ROUNDS)]
    base = two_processes + "/netcode/v1/intel-reports"
    submitted = await asyncio.gather(*(_exchange("POST", base, json.dumps(r).encode(), MEDIA_TYPE) for r in reports))
    assert [status for status, _ in submitted] == [202] * ROUNDS, submitted
    for report, (_, first_ack) in zip(reports, submitted, strict=True):
        status, body = await _exchange("GET", f"{base}/{report['reportId']}", accept="application/json")
        assert status == 200, (report["reportId"], body)
        assert json.loads(body) == report
        status, xml = await _exchange("GET", f"{base}/{report['reportId']}", accept="application/xml")
        assert status == 200 and report["text"].encode() in xml
        again = await _exchange("POST", base, json.dumps(report).encode(), MEDIA_TYPE)
        assert again == (202, first_ack), "a re-submission gets the first acknowledgement (its receivedAt)"
        changed = {**report, "text": "Something else."}
        conflict, _ = await _exchange("POST", base, json.dumps(changed).encode(), MEDIA_TYPE)
        assert conflict == 409


async def test_alert_hub_follow_ups_refer_to_what_another_process_received(two_processes: str) -> None:
    alerts, incidents = two_processes + "/netcode/v1/alerts", two_processes + "/netcode/v1/incidents"
    template = CAP.read_bytes()
    for index in range(ROUNDS):
        alert = template.replace(b"kent-police-2026-0001", f"shared-{uuid.uuid4()}".encode())
        first = await _exchange("POST", alerts, alert, "application/xml")
        again = await _exchange("POST", alerts, alert, "application/xml")
        assert first[0] == 202 and again == first, "an identical re-send gets the same Ack, byte for byte"
        changed = await _exchange("POST", alerts, alert.replace(b">Test<", b">Exercise<"), "application/xml")
        assert changed[0] == 409
        assert etree.fromstring(changed[1]).findtext(f"{{{CAP_NS}}}msgType") == "Error"

        event = f"event-{uuid.uuid4()}"

        def emsi(msg_type: str, note: str, event: str = event) -> bytes:
            context = {"ID": f"{note}-{event}", "MODE": "TEST", "MSGTYPE": msg_type}
            return json.dumps({"CONTEXT": context, "EVENT": {"ID": event, "NAME": note}}).encode()

        opened = await _exchange("POST", incidents, emsi("ALERT", "opened"), "application/json")
        assert opened[0] == 202, opened
        status, held = await _exchange("GET", f"{incidents}/{event}")
        assert status == 200 and json.loads(held)["state"] == "open"
        updated = await _exchange("POST", incidents, emsi("UPDATE", "updated"), "application/json")
        assert updated[0] == 202, (index, updated)
        status, held = await _exchange("GET", f"{incidents}/{event}")
        assert status == 200 and json.loads(held)["message"]["EVENT"]["NAME"] == "updated"
        cancelled = await _exchange("POST", incidents, emsi("CANCEL", "cancelled"), "application/json")
        assert cancelled[0] == 202, cancelled
        status, held = await _exchange("GET", f"{incidents}/{event}")
        assert status == 200 and json.loads(held)["state"] == "closed"
        late = await _exchange("POST", incidents, emsi("UPDATE", "late"), "application/json")
        assert late[0] == 409


async def test_a_data_set_loaded_through_one_process_answers_on_every_process(two_processes: str) -> None:
    dataset: dict[str, Any] = json.loads((ROOT / "fixtures/datasets/checks-core/1.0/dataset.json").read_text())
    vehicle = dict(dataset["vehicles"][0])
    vrm = "SH45RED"
    vehicle["vrm"] = vrm
    loaded = {**dataset, "vehicles": [*dataset["vehicles"], vehicle]}
    status, _ = await _exchange("PUT", two_processes + "/netcode/v1/_test/dataset", json.dumps(loaded).encode(),
                                "application/json")  # fmt: skip
    assert status == 204
    try:
        query = {
            "queryId": "", "profile": "netcode.vehicle-query/1.0", "vrm": vrm,
            "requestedBy": {"force": "kent", "officerId": "K1", "purpose": "investigation"},
        }  # fmt: skip
        for index in range(ROUNDS):
            query["queryId"] = str(uuid.uuid4())
            status, answer = await _exchange(
                "POST", two_processes + "/netcode/v1/queries/vehicle", json.dumps(query).encode(),
                "application/json",
            )  # fmt: skip
            assert status == 200, answer
            assert json.loads(answer)["status"] == "match", (index, answer)
    finally:
        await _exchange("POST", two_processes + "/_harness/reset")


def test_the_temporary_state_folder_is_private_and_removed(tmp_path: Path) -> None:
    """The parent's private folder (mode 0700) exists while serving and is gone once stopped."""
    env_tmp = tmp_path / "tmp"
    env_tmp.mkdir()
    with serve_process(TWO_PROCESSES, {"TMPDIR": str(env_tmp)}, clean_exit=True):
        folders = list(env_tmp.iterdir())
        assert len(folders) == 1 and folders[0].stat().st_mode & 0o777 == 0o700
    assert list(env_tmp.iterdir()) == []


def test_an_unusable_shared_state_is_one_line_and_exit_2(tmp_path: Path) -> None:
    for path in (tmp_path / "absent.sqlite3", tmp_path):
        result = subprocess.run(
            [*HARNESS, "serve", "--port", "0", "--shared-state", str(path)],
            capture_output=True, text=True, cwd=ROOT, timeout=60,
        )  # fmt: skip
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "--shared-state" in result.stderr
