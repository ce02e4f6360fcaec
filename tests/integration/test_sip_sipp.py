"""SDS over SIP MESSAGE against sipp, an independent SIP peer (Debian package ``sip-tester``, command ``sipp``).

sipp runs our own XML scenarios, bound to 127.0.0.1, one call (``-m 1``) and a
time-out: as a UAC it sends a MESSAGE with a multipart SDS (binary parts in
base64: a sipp scenario is XML text) to our reference SIP server over UDP and
TCP and expects ``202``; as a UAS it receives our adapter's MESSAGE and answers
``202``. Without sipp the tests are skipped, except in CI (``CI=true``), where
that is a failure.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import uuid
from pathlib import Path

import pytest

from adapters.sip import SipTransport
from harness.catalog import Catalog
from harness.endpoints.sip_gateway import SipServer, free_port
from harness.families.esn.body import build_sds
from harness.families.esn.mcdata import DataPayload, Disposition, SdsSignalling, Text, encode
from harness.model import TargetUnreachable
from harness.transport import Request, TransportOptions
from tests.conftest import ROOT

INFO = (ROOT / "fixtures/formats/mcdata-info/1.0/samples/valid/one-to-one-sds.xml").read_text(encoding="utf-8")
SIPP_TIMEOUT_S = 20


@pytest.fixture(scope="module")
def sipp() -> str:
    found = shutil.which("sipp")
    if found is None:
        reason = "sipp is not installed (Debian: apt-get install -y sip-tester)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def uac_scenario(signalling: bytes, payload: bytes) -> str:
    """A MESSAGE carrying an SDS (our own scenario); sipp writes Via, tags, Call-ID and Content-Length."""
    body = "\n".join(
        [
            "--sds-sipp",
            "Content-Type: application/vnd.3gpp.mcdata-info+xml",
            "",
            INFO.strip(),
            "--sds-sipp",
            "Content-Type: application/vnd.3gpp.mcdata-signalling",
            "Content-Transfer-Encoding: base64",
            "",
            base64.b64encode(signalling).decode(),
            "--sds-sipp",
            "Content-Type: application/vnd.3gpp.mcdata-payload",
            "Content-Transfer-Encoding: base64",
            "",
            base64.b64encode(payload).decode(),
            "--sds-sipp--",
        ]
    )
    return f"""<?xml version="1.0" encoding="UTF-8" ?>
<scenario name="netcode SDS as SIP MESSAGE">
  <send retrans="500">
    <![CDATA[
      MESSAGE sip:pc.5678@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:pc.1234@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:pc.5678@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 MESSAGE
      Max-Forwards: 70
      Accept-Contact: *;+g.3gpp.mcdata.sds;require;explicit
      Content-Type: multipart/mixed; boundary=sds-sipp
      Content-Length: [len]

{body}
    ]]>
  </send>
  <recv response="202"/>
</scenario>
"""


UAS_SCENARIO = """<?xml version="1.0" encoding="UTF-8" ?>
<scenario name="netcode SDS receiver answering 202">
  <recv request="MESSAGE"/>
  <send>
    <![CDATA[
      SIP/2.0 202 Accepted
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
</scenario>
"""


async def run_sipp(sipp: str, workdir: Path, *arguments: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sipp,
        *arguments,
        "-m",
        "1",
        "-i",
        "127.0.0.1",
        "-timeout",
        f"{SIPP_TIMEOUT_S}s",
        "-timeout_error",
        "-nostdin",
        "-trace_err",
        cwd=workdir,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), SIPP_TIMEOUT_S + 10)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    errors = "".join(path.read_text(errors="replace") for path in workdir.glob("*errors.log"))
    return process.returncode or 0, output.decode(errors="replace")[-2000:] + errors[-2000:]


@pytest.mark.parametrize(("kind", "flag"), [("udp", "u1"), ("tcp", "t1")])
async def test_sipp_sends_an_sds_and_gets_202(
    catalog: Catalog, sipp: str, tmp_path: Path, kind: str, flag: str
) -> None:
    signalling = encode(SdsSignalling(1790775600, uuid.uuid4(), uuid.uuid4(), disposition=Disposition.DELIVERY))
    payload = encode(DataPayload((Text("from sipp \u2192 gateway"),)))
    (tmp_path / "uac.xml").write_text(uac_scenario(signalling, payload), encoding="utf-8")
    async with SipServer(catalog) as gateway:
        code, output = await run_sipp(sipp, tmp_path, f"127.0.0.1:{gateway.port}", "-sf", "uac.xml", "-t", flag)
        assert code == 0, output
        received = await gateway.wait_for(1, 5)
    assert [(r.message.method, r.transport, r.status) for r in received] == [("MESSAGE", kind, 202)]
    message = received[0].message
    assert message.header("Accept-Contact") == "*;+g.3gpp.mcdata.sds;require;explicit"
    assert base64.b64encode(signalling) in message.body and base64.b64encode(payload) in message.body


async def test_sipp_receives_our_sds_and_answers_202(sipp: str, tmp_path: Path) -> None:
    """sipp as the receiving side: our adapter's MESSAGE, raw binary parts, is answered 202."""
    (tmp_path / "uas.xml").write_text(UAS_SCENARIO, encoding="utf-8")
    port = free_port()
    server = asyncio.ensure_future(run_sipp(sipp, tmp_path, "-sf", "uas.xml", "-p", str(port), "-t", "u1"))
    signalling = encode(SdsSignalling(1790775600, uuid.uuid4(), uuid.uuid4()))
    info = INFO.encode()
    content_type, body = build_sds(info, signalling, encode(DataPayload((Text("to sipp"),))))
    transport = SipTransport(TransportOptions(timeout_s=10.0))
    request = Request("MESSAGE", f"sip:pc.5678@127.0.0.1:{port}", (("Content-Type", content_type),), body)
    answer = None
    try:
        for _ in range(100):  # until sipp listens (bounded: 10 s)
            try:
                answer = await transport.send(request)
                break
            except TargetUnreachable:
                await asyncio.sleep(0.1)
    finally:
        code, output = await server
    assert answer is not None, output
    assert (answer.status, answer.reason) == (202, "Accepted"), output
    assert code == 0, output
