"""``harness run --sip-target``: checked before any connection, and carrying esn-core's SIP scenarios."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from harness.catalog import Catalog
from harness.endpoints import ReferenceServer, build_app
from harness.endpoints.sip_gateway import SipServer
from tests.conftest import ROOT
from tests.integration.test_cli import assert_one_clean_line, harness

SIP_SCENARIOS = {"ESN-17", "ESN-18", "ESN-19"}


@pytest.mark.parametrize(
    "sip_target",
    ["bogus", "sip:", "http://127.0.0.1:5060", "sip:127.0.0.1:70000", "sip:127.0.0.1:5060;transport=sctp", "sip:a b"],
)
def test_a_malformed_sip_target_is_one_line_and_exit_2(sip_target: str, tmp_path: Path) -> None:
    result = harness(
        "run", "--suite", "esn-core", "--target", "http://127.0.0.1:9", "--sip-target", sip_target,
        "--reports", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 2
    assert_one_clean_line(result)
    assert "bad --sip-target" in result.stderr and "sip:HOST:PORT[;transport=udp|tcp]" in result.stderr


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_run_with_a_sip_target_passes_the_sip_scenarios(catalog: Catalog, tmp_path: Path, transport: str) -> None:
    async with ReferenceServer(build_app(catalog)) as url, SipServer(catalog) as sip:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "harness.cli", "run", "--suite", "esn-core", "--target", url,
            "--sip-target", f"sip:{sip.host}:{sip.port};transport={transport}", "--reports", str(tmp_path),
            "--unattended", cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, (stdout + stderr).decode()
    document = json.loads((tmp_path / "results.json").read_text())
    outcome = {scenario["id"]: scenario["verdict"] for scenario in document["scenarios"]}
    assert {outcome[scenario] for scenario in SIP_SCENARIOS} == {"passed"}
    assert {received.transport for received in sip.received} == {transport}
    messages = [received.message for received in sip.received if received.message.method == "MESSAGE"]
    assert len(messages) == 7
    assert {message.header("Accept-Contact") for message in messages} == {"*;+g.3gpp.mcdata.sds;require;explicit"}
