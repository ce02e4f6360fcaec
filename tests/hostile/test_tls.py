"""TLS and mutual TLS: `harness run` trusts a CA bundle, presents a client certificate, and gives a clear
verdict for expired, wrong-host and untrusted certificates."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from harness.catalog import Catalog
from harness.endpoints import ReferenceServer, build_app, server_tls
from tests.conftest import ROOT
from tests.hostile.pki import Authority

PASSWORD = "k3y-pa55word-never-printed"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("pki")
    ca, rogue = Authority(folder, "test"), Authority(folder, "rogue")
    return {
        "ca": ca,
        "server": ca.issue("server"),
        "expired": ca.issue("expired", expired=True),
        "wrong-host": ca.issue("wrong-host", hosts=("other.example",)),
        "untrusted": rogue.issue("untrusted"),
        "client": ca.issue("client", client=True, password=PASSWORD.encode()),
    }


async def harness_run(target: str, *args: str, reports: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "harness.cli",
        "run",
        "--suite",
        "intel-core",
        "--target",
        target,
        "--reports",
        str(reports),
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "CLIENT_KEY_PASSWORD": PASSWORD},
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode() + err.decode()


async def serve_and_run(
    catalog: Catalog, cert: str, pki: dict[str, object], tmp_path: Path, *args: str, client_ca: bool = False
) -> tuple[int, str]:
    issued = pki[cert]
    ca = pki["ca"]
    context = server_tls(str(issued.cert), str(issued.key), str(ca.bundle) if client_ca else None)  # type: ignore[attr-defined]
    async with ReferenceServer(build_app(catalog), tls=context) as url:
        assert url.startswith("https://127.0.0.1:")
        return await harness_run(url, *args, reports=tmp_path / "reports")


async def test_trusted_server_is_certified(catalog: Catalog, pki: dict[str, object], tmp_path: Path) -> None:
    code, output = await serve_and_run(catalog, "server", pki, tmp_path, "--ca-bundle", str(pki["ca"].bundle))  # type: ignore[attr-defined]
    assert code == 0, output
    assert "CERTIFIED" in output


@pytest.mark.parametrize(
    ("cert", "needle"),
    [
        ("expired", "certificate has expired"),
        ("wrong-host", "mismatch"),
        ("untrusted", "unable to get local issuer certificate"),
    ],
)
async def test_bad_server_certificates_give_a_clear_verdict(
    catalog: Catalog, pki: dict[str, object], tmp_path: Path, cert: str, needle: str
) -> None:
    code, output = await serve_and_run(catalog, cert, pki, tmp_path, "--ca-bundle", str(pki["ca"].bundle))  # type: ignore[attr-defined]
    assert code == 3, output
    assert needle in output and "TLS certificate not accepted" in output
    assert "Traceback" not in output and len(output.strip().splitlines()) == 1


async def test_mutual_tls(catalog: Catalog, pki: dict[str, object], tmp_path: Path) -> None:
    client = pki["client"]
    bundle = str(pki["ca"].bundle)  # type: ignore[attr-defined]
    code, output = await serve_and_run(catalog, "server", pki, tmp_path, "--ca-bundle", bundle, client_ca=True)
    assert code == 3 and "client certificate" in output, output  # no client certificate: refused, clearly
    code, output = await serve_and_run(
        catalog,
        "server",
        pki,
        tmp_path,
        "--ca-bundle",
        bundle,
        "--client-cert",
        str(client.cert),  # type: ignore[attr-defined]
        "--client-key",
        str(client.key),
        "--key-password-env",
        "CLIENT_KEY_PASSWORD",
        client_ca=True,  # type: ignore[attr-defined]
    )
    assert code == 0, output
    results = (tmp_path / "reports" / "results.json").read_text()
    assert json.loads(results)["certified"] is True
    for written in (output, results, (tmp_path / "reports" / "journal.jsonl").read_text()):
        assert PASSWORD not in written


async def test_wrong_key_password_is_one_line_without_the_password(
    catalog: Catalog, pki: dict[str, object], tmp_path: Path
) -> None:
    client = pki["client"]
    os.environ["WRONG_PASSWORD"] = "not-the-password-either"
    try:
        code, output = await serve_and_run(
            catalog,
            "server",
            pki,
            tmp_path,
            "--ca-bundle",
            str(pki["ca"].bundle),  # type: ignore[attr-defined]
            "--client-cert",
            str(client.cert),
            "--client-key",
            str(client.key),  # type: ignore[attr-defined]
            "--key-password-env",
            "WRONG_PASSWORD",
            client_ca=True,
        )
    finally:
        del os.environ["WRONG_PASSWORD"]
    assert code == 2, output
    assert "unusable TLS credentials" in output and "not-the-password-either" not in output
    assert len(output.strip().splitlines()) == 1


async def test_harness_serve_with_tls_and_client_certificates(pki: dict[str, object], tmp_path: Path) -> None:
    """`harness serve --tls-cert --tls-key --client-ca` is the mutual-TLS reference endpoint of a lab."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server, client, bundle = pki["server"], pki["client"], str(pki["ca"].bundle)  # type: ignore[attr-defined]
    serve = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "harness.cli",
        "serve",
        "--port",
        str(port),
        "--tls-cert",
        str(server.cert),  # type: ignore[attr-defined]
        "--tls-key",
        str(server.key),
        "--client-ca",
        bundle,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,  # type: ignore[attr-defined]
    )
    try:
        assert serve.stdout is not None
        line = (await asyncio.wait_for(serve.stdout.readline(), 30)).decode()
        assert f"https://127.0.0.1:{port}" in line
        code, output = await harness_run(
            f"https://127.0.0.1:{port}",
            "--ca-bundle",
            bundle,
            "--client-cert",
            str(client.cert),  # type: ignore[attr-defined]
            "--client-key",
            str(client.key),
            "--key-password-env",
            "CLIENT_KEY_PASSWORD",
            reports=tmp_path / "r",  # type: ignore[attr-defined]
        )
        assert code == 0, output
    finally:
        serve.terminate()
        await serve.wait()
