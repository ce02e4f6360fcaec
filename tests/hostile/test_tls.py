"""TLS and mutual TLS: `harness run` trusts a CA bundle, presents a client certificate, and gives a clear
verdict for expired, wrong-host and untrusted certificates."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.catalog import Catalog
from harness.endpoints import ReferenceServer, build_app, server_tls
from tests.conftest import ROOT, free_port
from tests.hostile.pki import Authority, Issued
from tests.hostile.runs import harness_run

PASSWORD = "k3y-pa55word-never-printed"
PASSWORD_ENV = {"CLIENT_KEY_PASSWORD": PASSWORD, "WRONG_PASSWORD": "not-the-password-either"}


@dataclass(frozen=True)
class Pki:
    bundle: str
    certificates: dict[str, Issued]

    def client_args(self, password_variable: str = "CLIENT_KEY_PASSWORD") -> tuple[str, ...]:
        """The run options that trust the CA and present the (password-protected) client certificate."""
        client = self.certificates["client"]
        return ("--ca-bundle", self.bundle, "--client-cert", str(client.cert), "--client-key", str(client.key),
                "--key-password-env", password_variable)  # fmt: skip


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca, rogue = Authority(folder, "test"), Authority(folder, "rogue")
    return Pki(
        str(ca.bundle),
        {
            "server": ca.issue("server"),
            "expired": ca.issue("expired", expired=True),
            "wrong-host": ca.issue("wrong-host", hosts=("other.example",)),
            "untrusted": rogue.issue("untrusted"),
            "client": ca.issue("client", client=True, password=PASSWORD.encode()),
        },
    )


async def serve_and_run(
    catalog: Catalog, cert: str, pki: Pki, tmp_path: Path, *args: str, client_ca: bool = False
) -> tuple[int, str]:
    """Serve the reference supplier over TLS with certificate ``cert``, run intel-core against it."""
    issued = pki.certificates[cert]
    context = server_tls(str(issued.cert), str(issued.key), pki.bundle if client_ca else None)
    async with ReferenceServer(build_app(catalog), tls=context) as url:
        assert url.startswith("https://127.0.0.1:")
        code, out, err = await harness_run(url, *args, reports=tmp_path / "reports", env=PASSWORD_ENV)
        return code, out + err


async def test_trusted_server_is_certified(catalog: Catalog, pki: Pki, tmp_path: Path) -> None:
    code, output = await serve_and_run(catalog, "server", pki, tmp_path, "--ca-bundle", pki.bundle)
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
    catalog: Catalog, pki: Pki, tmp_path: Path, cert: str, needle: str
) -> None:
    code, output = await serve_and_run(catalog, cert, pki, tmp_path, "--ca-bundle", pki.bundle)
    assert code == 3, output
    assert needle in output and "TLS certificate not accepted" in output
    assert "Traceback" not in output and len(output.strip().splitlines()) == 1


async def test_mutual_tls(catalog: Catalog, pki: Pki, tmp_path: Path) -> None:
    code, output = await serve_and_run(catalog, "server", pki, tmp_path, "--ca-bundle", pki.bundle, client_ca=True)
    assert code == 3 and "client certificate" in output, output  # no client certificate: refused, clearly
    code, output = await serve_and_run(catalog, "server", pki, tmp_path, *pki.client_args(), client_ca=True)
    assert code == 0, output
    results = (tmp_path / "reports" / "results.json").read_text()
    assert json.loads(results)["summary"]["failed"] == 0  # (no --sut-*: certified stays false, evidence.md 1.1)
    for written in (output, results, (tmp_path / "reports" / "journal.jsonl").read_text()):
        assert PASSWORD not in written


async def test_wrong_key_password_is_one_line_without_the_password(catalog: Catalog, pki: Pki, tmp_path: Path) -> None:
    code, output = await serve_and_run(
        catalog, "server", pki, tmp_path, *pki.client_args("WRONG_PASSWORD"), client_ca=True
    )
    assert code == 2, output
    assert "unusable TLS credentials" in output and PASSWORD_ENV["WRONG_PASSWORD"] not in output
    assert len(output.strip().splitlines()) == 1


async def test_harness_serve_with_tls_and_client_certificates(pki: Pki, tmp_path: Path) -> None:
    """`harness serve --tls-cert --tls-key --client-ca` is the mutual-TLS reference endpoint of a lab."""
    port = free_port()
    server = pki.certificates["server"]
    serve = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "harness.cli", "serve", "--port", str(port), "--tls-cert", str(server.cert),
        "--tls-key", str(server.key), "--client-ca", pki.bundle, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert serve.stdout is not None
        line = (await asyncio.wait_for(serve.stdout.readline(), 30)).decode()
        assert f"https://127.0.0.1:{port}" in line
        code, out, err = await harness_run(
            f"https://127.0.0.1:{port}", *pki.client_args(), reports=tmp_path / "r", env=PASSWORD_ENV
        )
        assert code == 0, out + err
    finally:
        serve.terminate()
        await serve.wait()
