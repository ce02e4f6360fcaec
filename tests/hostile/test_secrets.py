"""Credentials given to the harness never reach any output, even when the system under test echoes them."""

from __future__ import annotations

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


def test_options_never_show_secrets() -> None:
    options = TransportOptions(headers=(("Authorization", TOKEN),), key_password="pw-123")
    assert TOKEN not in repr(options) and "pw-123" not in repr(options)
    assert set(options.secrets) == {TOKEN, "pw-123"}


def test_key_password_cannot_be_given_on_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "--help"], capture_output=True, text=True, cwd=ROOT
    )
    assert "--key-password-env" in result.stdout and "--key-password " not in result.stdout
