"""Submitting under mutual TLS: the organisation is the client certificate's (its O, else its CN); reads stay
public over TLS; a certificate from another CA never gets a connection; without a certificate or token, 401."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from harness.catalog import Catalog
from harness.cli import main
from tests.hostile.pki import Authority
from tests.integration.register_world import BETA, LAB, World, build_world, register_server


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, catalog: Catalog) -> World:
    return build_world(tmp_path_factory.mktemp("tls"), catalog)


def test_a_client_certificate_names_the_submitting_organisation(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "stranger").mkdir()
    body_ca, stranger_ca = Authority(tmp_path, "body"), Authority(tmp_path / "stranger", "stranger")
    server = body_ca.issue("register", hosts=("127.0.0.1",))
    lab = body_ca.issue(LAB, client=True)
    beta = body_ca.issue(BETA, client=True)
    forged = stranger_ca.issue(LAB, client=True)  # the lab's name, from a CA the register does not trust
    tls = ["--tls-cert", str(server.cert), "--tls-key", str(server.key), "--client-ca", str(body_ca.bundle)]
    monkeypatch.delenv("REGISTER_TOKEN", raising=False)
    with register_server(world, f"sqlite:///{tmp_path / 'register.db'}", *tls, log=tmp_path / "register.log") as url:
        assert url.startswith("https://127.0.0.1:")

        def submit(bundle: str, who: Path | None, key: Path | None) -> tuple[int, str]:
            mutual = ["--client-cert", str(who), "--client-key", str(key)] if who is not None else []
            command = ["register", "submit", url, str(world.bundles[bundle]), "--ca-bundle", str(body_ca.bundle)]
            code = main([*command, "--token-env", "REGISTER_TOKEN", *mutual])
            out = capsys.readouterr()
            return code, out.out + out.err

        code, out = submit("acme", lab.cert, lab.key)
        assert code == 0 and "issued certificate" in out, out
        code, out = submit("gamma", beta.cert, beta.key)  # Beta's certificate, the lab's bundle of Gamma
        assert code == 1 and "refused (403)" in out and f"organisation {BETA}" in out
        code, out = submit("gamma", forged.cert, forged.key)
        assert code == 3 and "unreachable" in out  # the handshake fails: no connection, no answer
        code, out = submit("gamma", None, None)
        assert code == 2 and "set REGISTER_TOKEN" in out  # the client asks for a credential before connecting
        context = ssl.create_default_context(cafile=str(body_ca.bundle))
        with urllib.request.urlopen(f"{url}/register/v1/catalogue", context=context) as response:
            feed = json.load(response)
        assert [p["supplier"] for p in feed["products"]] == ["Acme Ltd"]
        request = urllib.request.Request(
            f"{url}/register/v1/bundles", data=b"PK", headers={"Content-Type": "application/zip"}, method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, context=context)
        refused.value.close()
        assert refused.value.code == 401
