"""``harness proxy`` as a user runs it: the ready line, console lines, SIGTERM writing the reports, exit codes, and
no credential in any output."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.conftest import ROOT, free_port
from tests.hostile.pki import Authority
from tests.integration.served import serve_process

HARNESS = [sys.executable, "-m", "harness.cli"]
REPORT = (ROOT / "fixtures/formats/intel-report/1.0/samples/valid/minimal.json").read_bytes()
TOKEN = "Bearer s3cr3t-t0ken-never-shown"
PASSWORD = "pr0xy-key-pa55word-never-printed"


def _broken_upstream(variant: str) -> list[str]:
    code = (
        "from harness.catalog import load_catalog; from tests.integration.served import run_on_loopback; "
        "from tests.integration.broken_suppliers import build_broken; "
        f"run_on_loopback(build_broken(load_catalog(), {variant!r}))"
    )
    return [sys.executable, "-c", code]


def _proxy(upstream: str, *options: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [*HARNESS, "proxy", "--listen", "127.0.0.1:0", "--upstream", upstream, *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    assert process.stdout is not None
    ready = process.stdout.readline()
    assert ready.startswith(("proxy listening on http://127.0.0.1:", "proxy listening on https://127.0.0.1:")), (
        ready + (process.stderr.read() if process.stderr else "")
    )
    return process, ready.split(" on ", 1)[1].split()[0]


def _submit(url: str, body: bytes = REPORT, context: ssl.SSLContext | None = None) -> int:
    request = urllib.request.Request(
        f"{url}/netcode/v1/intel-reports",
        data=body,
        headers={"Content-Type": "application/vnd.netcode.intel-report+json", "Authorization": TOKEN},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def _stop(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    return process.returncode, out, err


def test_no_finding_exits_0_and_writes_the_three_reports(tmp_path: Path) -> None:
    with serve_process([*HARNESS, "serve", "--role", "supplier", "--host", "127.0.0.1", "--port", "0"]) as upstream:
        process, url = _proxy(upstream, "--reports", str(tmp_path))
        assert _submit(url) == 202
        assert _submit(url) == 202  # the identical re-submission: the same answer (binding rule 5)
        code, out, err = _stop(process)
    assert code == 0, out + err
    assert "Traceback" not in err and "2 exchange(s), 0 finding(s)" in err
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["exchanges"] == 2 and results["findings"] == 0 and results["by_rule"] == []
    assert results["by_exchange_kind"] == [
        {"kind": "intel-report submit", "exchanges": 2, "findings": 0, "by_rule": {}}
    ]
    assert ">NO FINDING<" in (tmp_path / "report.html").read_text()
    suite = ElementTree.parse(tmp_path / "junit.xml").getroot()
    assert suite.get("tests") == "1" and suite.get("failures") == "0"


def test_findings_exit_1_with_a_line_each_and_no_credential_anywhere(tmp_path: Path) -> None:
    with serve_process(_broken_upstream("missing-location")) as upstream:
        process, url = _proxy(upstream, "--reports", str(tmp_path), "--header", f"Authorization: {TOKEN}")
        assert _submit(url) == 202  # forwarded as the supplier answered: a finding is a record, not an action
        code, out, err = _stop(process)
    assert code == 1, out + err
    lines = [line for line in out.splitlines() if line.startswith("ERROR")]
    assert len(lines) == 1 and "EX-LOCATION" in lines[0] and "POST /netcode/v1/intel-reports -> 202" in lines[0]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["findings"] == 1 and results["by_rule"][0]["rule"] == "EX-LOCATION"
    assert results["by_rule"][0]["count"] == 1 and results["by_rule"][0]["examples"]
    suite = ElementTree.parse(tmp_path / "junit.xml").getroot()
    assert suite.get("failures") == "1"
    html = (tmp_path / "report.html").read_text()
    assert "EX-LOCATION" in html and "[redacted]" in html  # the request's Authorization, shown redacted
    secret = TOKEN.split()[1]
    for text in (out, err, html, (tmp_path / "results.json").read_text(), (tmp_path / "junit.xml").read_text()):
        assert secret not in text


def test_an_unreachable_upstream_at_start_exits_3() -> None:
    done = subprocess.run(
        [*HARNESS, "proxy", "--listen", "127.0.0.1:0", "--upstream", f"http://127.0.0.1:{free_port()}"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 3, done.stderr
    assert done.stderr.startswith("harness: upstream unreachable") and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--listen", "nowhere", "--upstream", "http://127.0.0.1:1"], "expected HOST:PORT"),
        (["--listen", "127.0.0.1:0", "--upstream", "ftp://x"], "http:// or https://"),
        (["--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:1/netcode"], "scheme://host:port only"),
        (["--listen", "127.0.0.1:0", "--upstream", "http://user:pa55w0rd-x@127.0.0.1:1"], "[redacted]"),
        (["--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:1", "--mask-personal"], "goes with --record"),
        (
            ["--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:1", "--record", "x.har", "--mask-personal"],
            "HARNESS_MASK_KEY",
        ),
        (["--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:1", "--tls-cert", "c.pem"], "go together"),
    ],
)
def test_usage_errors_exit_2_with_one_line(options: list[str], says: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "HARNESS_MASK_KEY"}
    done = subprocess.run([*HARNESS, "proxy", *options], capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert done.returncode == 2, done.stderr
    assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "pa55w0rd" not in done.stderr


def test_tls_on_both_sides_with_the_runs_client_certificate(tmp_path: Path) -> None:
    """TLS listening (--tls-cert/--tls-key) and mutual TLS upstream with the run's credential options; the key's
    password comes from the environment and reaches no output."""
    ca = Authority(tmp_path, "proxy-test")
    server, client = ca.issue("server"), ca.issue("client", client=True, password=PASSWORD.encode())
    serving = [*HARNESS, "serve", "--role", "supplier", "--host", "127.0.0.1", "--port", "0"]
    serving += ["--tls-cert", str(server.cert), "--tls-key", str(server.key), "--client-ca", str(ca.bundle)]
    reports = tmp_path / "reports"
    with serve_process(serving) as upstream:
        assert upstream.startswith("https://")
        credentials = ["--ca-bundle", str(ca.bundle), "--client-cert", str(client.cert), "--client-key"]
        credentials += [str(client.key), "--key-password-env", "PROXY_KEY_PASSWORD"]
        listening = ["--tls-cert", str(server.cert), "--tls-key", str(server.key)]
        process, url = _proxy(
            upstream, "--reports", str(reports), *credentials, *listening, env={"PROXY_KEY_PASSWORD": PASSWORD}
        )
        assert url.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(ca.bundle))
        assert _submit(url, context=context) == 202
        code, out, err = _stop(process)
    assert code == 0, out + err
    results = json.loads((reports / "results.json").read_text())
    assert results["exchanges"] == 1 and results["findings"] == 0
    for text in (out, err, *(path.read_text() for path in reports.iterdir())):
        assert PASSWORD not in text


def test_record_writes_a_masked_redacted_har_of_what_crossed(tmp_path: Path) -> None:
    """--record with --mask-personal: the HAR holds every exchange, no credential, none of the personal values,
    and the key (from HARNESS_MASK_KEY) nowhere."""
    from harness.recording.har import read_har

    full = ROOT / "fixtures/formats/intel-report/1.0/samples/valid/full.json"
    report = full.read_bytes()
    recording = tmp_path / "traffic.har"
    key = "mask-key-from-the-environment-0123"
    with serve_process([*HARNESS, "serve", "--role", "supplier", "--host", "127.0.0.1", "--port", "0"]) as upstream:
        process, url = _proxy(
            upstream,
            "--record",
            str(recording),
            "--mask-personal",
            "--max-exchanges",
            "10",
            "--reports",
            str(tmp_path / "reports"),
            env={"HARNESS_MASK_KEY": key},
        )
        assert _submit(url, report) == 202
        code, out, err = _stop(process)
    assert code == 0, out + err
    text = recording.read_text()
    read = read_har(recording)
    assert len(read.exchanges) == 1 and read.exchanges[0].answer_status == 202
    for secret in (TOKEN.split()[1], key):
        assert secret not in text and secret not in out + err
    html = (tmp_path / "reports" / "report.html").read_text()
    assert "intel-report submit" in html
    for personal in ("SMITH", "Johnny S", "1980-01-01", "AB12 CDE", "1 High Street"):
        assert personal not in text, personal
        assert personal not in html, personal  # the report shows the exchanges masked as the recording does
