"""Bad input and abuse at the register (issue 22, item 5): oversize bundles refused before they are read whole,
a malformed one in one line, no or a wrong credential, a burst shed with 503 and ``Retry-After``, every
refusal logged on one line without the token; and the client's exit codes."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.catalog import Catalog
from harness.cli import main
from tests.conftest import free_port
from tests.integration.evidence_helpers import forge, members
from tests.integration.register_world import LAB, World, build_world, fetch, register_server
from tests.integration.served import serve_process

API = "/register/v1"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, catalog: Catalog) -> World:
    return build_world(tmp_path_factory.mktemp("abuse"), catalog)


@pytest.fixture(scope="module")
def served(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A register taking bundles of at most 1 MiB and one submission in flight, its stderr kept."""
    folder = tmp_path_factory.mktemp("served")
    store = f"sqlite:///{folder / 'register.db'}"
    log = folder / "register.log"
    token = _last_token(store)
    limits = ("--max-bundle-mb", "1", "--pending", "1", "--upload-seconds", "3")
    with register_server(world, store, *limits, log=log) as url:
        yield {"url": url, "token": token, "log": log, "store": store}


def _last_token(store: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "register", "token", "issue", "--org", LAB, "--store", store],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def _raw(url: str, head: str, body: bytes = b"", hold: bool = False) -> tuple[str, socket.socket]:
    """Send ``head`` (and ``body``) on a fresh connection; the answer's text (empty when ``hold``) and the socket."""
    parts = urllib.parse.urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    sock.sendall(head.encode() + body)
    if hold:
        return "", sock
    answer = b""
    while b"\r\n\r\n" not in answer or len(answer) < answer.index(b"\r\n\r\n") + 4 + _length(answer):
        chunk = sock.recv(65536)
        if not chunk:
            break
        answer += chunk
    sock.close()
    return answer.decode("utf-8", "replace"), sock


def _length(answer: bytes) -> int:
    for line in answer.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def _head(token: str, length: int | None, media: str = "application/zip", chunked: bool = False) -> str:
    size = f"Content-Length: {length}\r\n" if length is not None else ""
    encoding = "Transfer-Encoding: chunked\r\n" if chunked else ""
    return (
        f"POST {API}/bundles HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: {media}\r\n{size}{encoding}Connection: close\r\n\r\n"
    )


def test_a_declared_oversize_bundle_is_refused_before_a_byte_of_it_is_read(served: dict[str, Any]) -> None:
    answer, _ = _raw(served["url"], _head(served["token"], 10 << 30))  # 10 GiB declared, nothing sent
    assert answer.startswith("HTTP/1.1 413")
    problem = json.loads(answer.split("\r\n\r\n", 1)[1])
    assert problem["type"].endswith("/too-large") and "limit is 1 MiB" in problem["detail"]


def test_a_streamed_oversize_bundle_is_cut_off_at_the_limit(served: dict[str, Any]) -> None:
    chunk = b"x" * (256 << 10)
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(5)) + b"0\r\n\r\n"  # 1.25 MiB, no length
    try:
        answer, _ = _raw(served["url"], _head(served["token"], None, chunked=True), body)
    except (BrokenPipeError, ConnectionResetError):  # the server may close before the last chunk is sent
        time.sleep(0.2)
        answer = ""
    assert answer.startswith("HTTP/1.1 413") or "the body exceeded the limit of 1 MiB" in served["log"].read_text()
    assert "exceeded the limit" in served["log"].read_text()


def test_malformed_and_unauthenticated_submissions_get_one_line_each(served: dict[str, Any]) -> None:
    url, token = served["url"], served["token"]
    status, problem, headers = fetch(
        f"{url}{API}/bundles",
        b"PK\x03\x04 not a zip",
        {"Content-Type": "application/zip", "Authorization": f"Bearer {token}"},
    )
    assert status == 422 and problem["detail"].startswith("unreadable: not a ZIP archive")
    assert "\n" not in problem["detail"] and headers["Content-Type"] == "application/problem+json"
    for credential in ({}, {"Authorization": "Bearer nrt_forged"}, {"Authorization": f"Basic {token}"}):
        status, problem, _ = fetch(f"{url}{API}/bundles", b"x", {"Content-Type": "application/zip", **credential})
        assert status == 401 and problem["status"] == 401
    status, problem, _ = fetch(
        f"{url}{API}/bundles", b"{}", {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    )
    assert status == 415
    status, problem, _ = fetch(f"{url}{API}/certificates/nope")
    assert status == 404 and problem["type"].endswith("/not-found")
    status, problem, _ = fetch(f"{url}{API}/log/inclusion?index=-1&size=x")
    assert status == 400
    status, problem, _ = fetch(f"{url}{API}/can-exchange?a=nonsense&b=")
    assert status == 400 and "SUPPLIER/PRODUCT@VERSION" in problem["detail"]


def test_a_burst_is_shed_with_503_and_retry_after(served: dict[str, Any]) -> None:
    url, token = served["url"], served["token"]
    _, holding = _raw(url, _head(token, 900 << 10), b"PK" + b"\0" * 1000, hold=True)  # an upload in flight
    try:
        time.sleep(0.5)  # the server has taken the first request (it waits for the rest of its body)
        status, problem, headers = fetch(
            f"{url}{API}/bundles", b"PK", {"Content-Type": "application/zip", "Authorization": f"Bearer {token}"}
        )
        assert status == 503 and headers["Retry-After"].isdigit() and problem["type"].endswith("/overloaded")
    finally:
        holding.close()
    for _ in range(50):  # the slot is freed when the held upload ends
        status, _, _ = fetch(
            f"{url}{API}/bundles", b"PK", {"Content-Type": "application/zip", "Authorization": f"Bearer {token}"}
        )
        if status != 503:
            break
        time.sleep(0.1)
    assert status == 422


def test_a_stalled_upload_is_cut_off_and_frees_its_slot(served: dict[str, Any]) -> None:
    _, stalled = _raw(served["url"], _head(served["token"], 500 << 10), b"PK" + b"\0" * 100, hold=True)
    try:
        stalled.settimeout(30)
        answer = stalled.recv(65536).decode("utf-8", "replace")  # the server answers first: 408 after 3 s
    finally:
        stalled.close()
    assert answer.startswith("HTTP/1.1 408") and "request-timeout" in answer


def test_a_dishonest_lab_re_signing_a_failed_run_as_passed_is_caught_by_re_judging(
    world: World, served: dict[str, Any], tmp_path: Path
) -> None:
    """The lab's own valid key, results and predicate edited alike (checks 1-7 hold): only re-judging sees it."""
    lab = serialization.load_pem_private_key((world.folder / "lab.key").read_bytes(), None)
    assert isinstance(lab, Ed25519PrivateKey)

    def passed(document: dict[str, Any]) -> None:
        for scenario in document.get("scenarios", []):
            scenario["verdict"], scenario["failures"] = "passed", []
        document["summary"] = {"passed": len(document.get("scenarios", [])), "failed": 0, "errors": 0,
                               "skipped": 0, "manual": 0}  # fmt: skip
        document["certified"] = True

    def predicate(document: dict[str, Any]) -> None:
        results = json.loads(members(world.bundles["gamma"])["results.json"])
        passed(results)
        document["summary"], document["certified"] = results["summary"], True

    forged = forge(world.bundles["gamma"], tmp_path / "forged.zip", lab, results_edit=passed, predicate_edit=predicate)
    status, problem, _ = fetch(
        f"{served['url']}{API}/bundles",
        forged.read_bytes(),
        {"Content-Type": "application/zip", "Authorization": f"Bearer {served['token']}"},
    )
    assert status == 422 and problem["detail"].startswith("invalid: re-judging differs"), problem


def test_pages_carry_a_content_security_policy_and_fetch_nothing_else(served: dict[str, Any]) -> None:
    for path in ("/", "/matrix", "/can-exchange", "/?q=%3Cscript%3E"):
        status, page, headers = fetch(served["url"] + path)
        assert status == 200 and "default-src 'none'" in headers["Content-Security-Policy"]
        assert "<script" not in page and "http://" not in page and "https://" not in page
    status, page, _ = fetch(served["url"] + "/?q=%3Cscript%3Ealert(1)%3C/script%3E")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_every_refusal_is_logged_on_one_line_without_the_token(served: dict[str, Any]) -> None:
    fetch(f"{served['url']}{API}/bundles", b"x", {"Content-Type": "application/zip"})
    time.sleep(0.2)
    log = served["log"].read_text()
    refusals = [line for line in log.splitlines() if " refused " in line]
    assert any("refused 401" in line for line in refusals) and any("refused 413" in line for line in refusals)
    assert any("refused 503" in line for line in refusals) and any("refused 422" in line for line in refusals)
    assert any("refused 408" in line for line in refusals)
    assert served["token"] not in log and "nrt_forged" not in log


def test_client_exit_codes(
    world: World, served: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = str(world.bundles["acme"])
    monkeypatch.delenv("REGISTER_TOKEN", raising=False)
    assert main(["register", "submit", served["url"], bundle, "--token-env", "REGISTER_TOKEN"]) == 2
    assert "set REGISTER_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("REGISTER_TOKEN", "nrt_x")
    assert main(["register", "submit", f"http://127.0.0.1:{free_port()}", bundle, "--token-env", "REGISTER_TOKEN"]) == 3
    assert "unreachable" in capsys.readouterr().err
    assert main(["register", "submit", "http://register.example", bundle, "--token-env", "REGISTER_TOKEN"]) == 2
    assert "only sent over https" in capsys.readouterr().err
    assert main(["register", "submit", served["url"], "/no/such.zip", "--token-env", "REGISTER_TOKEN"]) == 2
    assert main(["register", "submit", served["url"], bundle, "--token-env", "REGISTER_TOKEN"]) == 1
    out = capsys.readouterr()
    assert "refused (401)" in out.out and "nrt_x" not in out.out + out.err


def test_a_revoked_token_names_no_organisation(
    served: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    token = _last_token(served["store"])
    headers = {"Content-Type": "application/zip", "Authorization": f"Bearer {token}"}
    assert fetch(f"{served['url']}{API}/bundles", b"PK", headers)[0] == 422  # known: judged (and refused)
    monkeypatch.setenv("REVOKED", token)
    assert main(["register", "token", "revoke", "--token-env", "REVOKED", "--store", served["store"]]) == 0
    assert f"token of {LAB} revoked" in capsys.readouterr().out
    assert fetch(f"{served['url']}{API}/bundles", b"PK", headers)[0] == 401
    assert main(["register", "token", "revoke", "--token-env", "REVOKED", "--store", served["store"]]) == 1
    status, problem, _ = fetch(f"{served['url']}{API}/catalogue", b"{}", {"Content-Type": "application/json"})
    assert status == 405 and problem["type"].endswith("/method-not-allowed")


def test_run_register_submits_the_bundle_at_the_end(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path / 'register.db'}"
    token = _last_token(store)
    monkeypatch.setenv("REGISTER_TOKEN", token)
    key = world.folder / "lab.key"
    with (
        register_server(world, store) as register,
        serve_process([sys.executable, "-m", "harness.cli", "serve", "--host", "127.0.0.1", "--port", "0"]) as target,
    ):
        run = [
            "run", "--suite", "intel-core", "--target", target, "--reports", str(tmp_path / "reports"),
            "--sut", "Acme Ltd/RMS@9.9", "--sign-key", str(key), "--register", register,
            "--register-token-env", "REGISTER_TOKEN", "--unattended", "--store", f"sqlite:///{tmp_path / 'runs.db'}",
        ]  # fmt: skip
        assert main(run) == 0, capsys.readouterr()
        out = capsys.readouterr().out
        assert "issued certificate" in out and "Acme Ltd/RMS@9.9 intel-core@1.0" in out
        monkeypatch.delenv("REGISTER_TOKEN")
        assert main(run) == 2  # no token: refused before the run starts
        assert "--register: no token" in capsys.readouterr().err
