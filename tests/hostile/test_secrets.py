"""Credentials given to the harness never reach any output, even when the system under test echoes them."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import zipfile
from pathlib import Path

from aiohttp import web

from harness.catalog import Catalog
from harness.endpoints import ReferenceServer, build_app
from harness.transport import TransportOptions
from tests.conftest import ROOT
from tests.hostile.runs import harness_run

TOKEN = "Bearer eyJ-very-secret-token-0123456789"
API_KEY = "ak_live_SECRET_4242"


def echoing_supplier() -> web.Application:
    """A broken SUT that acknowledges with the request's credentials where the ids should be."""

    async def echo(request: web.Request) -> web.Response:
        await request.read()
        ack = {
            "reportId": request.headers.get("Authorization"),
            "status": request.headers.get("X-Api-Key"),
            "receivedAt": "2026-01-01T00:00:00Z",
            "headers": dict(request.headers),
        }
        return web.json_response(ack, status=202, headers={"Location": "/netcode/v1/intel-reports/x"})

    app = web.Application()
    app.router.add_route("*", "/{path:.*}", echo)
    return app


async def test_secrets_never_reach_console_reports_journal_or_logs(tmp_path: Path) -> None:
    async with ReferenceServer(echoing_supplier()) as url:
        code, out, err = await harness_run(
            url, "--junit", str(tmp_path / "junit.xml"), "--header", f"Authorization: {TOKEN}",
            "--header", f"X-Api-Key: {API_KEY}", reports=tmp_path / "reports",
        )  # fmt: skip
    assert code == 1
    outputs = {"stdout": out, "stderr": err}
    for path in [*(tmp_path / "reports").iterdir(), tmp_path / "junit.xml"]:
        if path.suffix == ".zip":  # the evidence bundle: every member, binary ones as Latin-1
            with zipfile.ZipFile(path) as bundle:
                for member in bundle.namelist():
                    outputs[f"{path.name}:{member}"] = bundle.read(member).decode("latin-1")
            continue
        outputs[path.name] = path.read_text()
    assert any(name.endswith(":exchanges.jsonl") for name in outputs), "the run wrote its evidence bundle"
    # The echo made the secrets part of what was checked: they were there to leak.
    assert "[redacted]" in outputs["results.json"]
    for name, text in outputs.items():
        for secret in (TOKEN, API_KEY, TOKEN.split()[1]):
            assert secret not in text, f"{secret!r} leaked into {name}"


async def test_reference_endpoint_evidence_redacts_credentials(catalog: Catalog) -> None:
    import aiohttp

    async with ReferenceServer(build_app(catalog)) as url, aiohttp.ClientSession() as http:
        headers = {"Authorization": TOKEN, "X-Api-Key": API_KEY, "Cookie": "session=abc"}
        async with http.get(url + "/netcode/v1/intel-reports/unknown", headers=headers) as answer:
            assert answer.status == 404
        async with http.get(url + "/_harness/received") as answer:
            evidence = await answer.text()
    assert TOKEN not in evidence and API_KEY not in evidence and "session=abc" not in evidence


PASSWORD = "longpassword1"
BEARER = "tok-0123456789-never-written"


def echoing_everything() -> web.Application:
    """A SUT that echoes every header it received, the body, the credentials without their scheme word and
    the decoded Basic password: in its answer's body, and in answer headers whose names say nothing."""

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        authorization = request.headers.get("Authorization", "")
        scheme, _, credentials = authorization.partition(" ")
        password = ""
        if scheme == "Basic":
            password = base64.b64decode(credentials).decode().partition(":")[2]
        echoed = {
            "reportId": credentials,
            "password": password,
            "headers": dict(request.headers),
            "body": body.decode("utf-8", "replace"),
            "url": str(request.url).replace("://", f"://u:{password}@") if password else str(request.url),
        }
        headers = {"X-Echo": credentials, "X-Seen": password or "none", "Location": f"/x?token={credentials}"}
        return web.json_response(echoed, status=202, headers=headers)

    app = web.Application()
    app.router.add_route("*", "/{path:.*}", echo)
    return app


def every_output(tmp_path: Path, out: str, err: str) -> dict[str, bytes]:
    """Every file under ``tmp_path`` (reports, JUnit, the store's database), every member of every ZIP in it,
    and the console."""
    outputs = {"stdout": out.encode(), "stderr": err.encode()}
    for path in sorted(tmp_path.rglob("*")):
        if not path.is_file():
            continue
        outputs[str(path.relative_to(tmp_path))] = path.read_bytes()
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as bundle:
                for member in bundle.namelist():
                    outputs[f"{path.name}:{member}"] = bundle.read(member)
    return outputs


async def test_a_password_in_the_target_and_a_bearer_token_reach_no_output(tmp_path: Path) -> None:
    """``--target http://u:longpassword1@...`` and ``--header 'Authorization: Bearer ...'`` against a SUT that
    echoes what it receives: neither secret, in any form, is in a file the run writes or on the console."""
    env = {"HARNESS_STORE": f"sqlite:///{tmp_path / 'store.db'}"}
    async with ReferenceServer(echoing_everything()) as url:
        with_password = url.replace("http://", f"http://u:{PASSWORD}@")
        first = await harness_run(with_password, reports=tmp_path / "basic", env=env)
        second = await harness_run(
            url, "--junit", str(tmp_path / "junit.xml"), "--header", f"Authorization: Bearer {BEARER}",
            reports=tmp_path / "bearer", env=env,
        )  # fmt: skip
    basic = base64.b64encode(f"u:{PASSWORD}".encode()).decode()
    for (code, out, err), folder in ((first, "basic"), (second, "bearer")):
        assert code == 1, err  # the echo is no conforming SUT
        outputs = every_output(tmp_path, out, err)
        assert any(name.endswith(":exchanges.jsonl") for name in outputs), folder
        assert any(name == "store.db" for name in outputs)
        for name, data in outputs.items():
            for secret in (PASSWORD, BEARER, basic):
                assert secret.encode() not in data, f"{secret!r} leaked into {name}"
    records = [
        json.loads(line)
        for name, data in every_output(tmp_path, "", "").items()
        if name.endswith(":exchanges.jsonl")
        for line in data.splitlines()
    ]
    sent = [dict(map(tuple, r["request"]["headers"])) for r in records if r["direction"] == "harness->sut"]
    assert sent and all(headers.get("Authorization") == "[redacted]" for headers in sent)  # sent, and redacted
    assert all("Host" in headers and "User-Agent" in headers for headers in sent)


async def test_a_short_header_value_leaves_every_output_intact(tmp_path: Path, catalog: Catalog) -> None:
    """``--header 'X-Api-Version: 1'`` is no credential: nothing is redacted and the reference certifies."""
    async with ReferenceServer(build_app(catalog)) as url:
        code, out, err = await harness_run(
            url, "--header", "X-Api-Version: 1", "--junit", str(tmp_path / "junit.xml"), reports=tmp_path / "r",
            env={"HARNESS_STORE": f"sqlite:///{tmp_path / 'store.db'}"},
        )  # fmt: skip
    assert code == 0, out + err
    assert "CERTIFIED" in out and "Traceback" not in err
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    assert results["certified"] is True
    outputs = every_output(tmp_path, out, err)
    assert not any(b"[redacted]" in data for data in outputs.values())
    bundle = next(name for name in outputs if name.endswith(".evidence.zip"))
    records = [json.loads(line) for line in outputs[f"{Path(bundle).name}:exchanges.jsonl"].splitlines()]
    assert all(["X-Api-Version", "1"] in r["request"]["headers"] for r in records if r["direction"] == "harness->sut")


def test_options_never_show_secrets() -> None:
    options = TransportOptions(headers=(("Authorization", TOKEN),), key_password="pw-123")
    assert TOKEN not in repr(options) and "pw-123" not in repr(options)
    assert set(options.secrets) == {TOKEN, "pw-123"}


def test_key_password_cannot_be_given_on_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "--help"], capture_output=True, text=True, cwd=ROOT
    )
    assert "--key-password-env" in result.stdout and "--key-password " not in result.stdout
