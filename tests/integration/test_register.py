"""The register end to end (issue 22, "done when"): real runs submitted over HTTP by two organisations, one
refused with its reason, the catalogue and the matrix, a withdrawal, a suite version retired, the audit
passing before and after, then the log tampered with in the database: refused, and a rebuilt log caught.

Run on SQLite with one server process and on PostgreSQL with two (``--processes 2``). Tried as the party
who gains: a supplier submitting a lab's bundle of another product, a bundle changed after signing.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from harness.catalog import Catalog
from harness.cli import main
from tests.integration.pg_cluster import throwaway_cluster
from tests.integration.register_world import BETA, GAMMA, LAB, World, build_world, fetch, register_server

API = "/register/v1"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, catalog: Catalog) -> World:
    return build_world(tmp_path_factory.mktemp("register"), catalog)


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    with throwaway_cluster() as url:
        yield url


def _token(store: str, org: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["register", "token", "issue", "--org", org, "--store", store]) == 0
    out = capsys.readouterr()
    assert org in out.err and out.out.strip() not in out.err  # the token goes to stdout alone, once
    return out.out.strip()


def _submit(
    url: str, bundle: Path, token: str, capsys: pytest.CaptureFixture[str], mp: pytest.MonkeyPatch
) -> tuple[int, str]:
    mp.setenv("REGISTER_TOKEN", token)
    code = main(["register", "submit", url, str(bundle), "--token-env", "REGISTER_TOKEN"])
    out = capsys.readouterr()
    assert token not in out.out + out.err
    return code, out.out + out.err


def _catalogue(url: str) -> dict[str, Any]:
    status, feed, _ = fetch(f"{url}{API}/catalogue")
    assert status == 200
    return {f"{p['supplier']}/{p['product']}@{p['version']}": p for p in feed["products"]} | {"_": feed}


def _cell(url: str, product: str, suite: str) -> str:
    status, matrix, _ = fetch(f"{url}{API}/matrix")
    assert status == 200
    (cell,) = [c for c in matrix["cells"] if c["product"] == product and f"{c['suite']}@{c['version']}" == suite]
    return str(cell["status"])


def _same_as_the_commands(url: str, store: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The register's matrix and can-exchange answers are the documents ``harness matrix|can-exchange --json``
    print from the same store: one computation, whichever way it is asked."""
    capsys.readouterr()
    assert main(["matrix", "--store", store, "--json"]) == 0
    status, served, _ = fetch(f"{url}{API}/matrix")
    assert status == 200 and served == json.loads(capsys.readouterr().out)
    for a, b in (
        ("Acme Ltd/RMS@2.1", "Beta Systems/Alerter@3.0"),
        ("Acme Ltd/RMS@2.1", f"{GAMMA.supplier}/{GAMMA.product}@{GAMMA.version}"),
    ):
        main(["can-exchange", a, b, "--store", store, "--json"])
        query = urllib.parse.urlencode({"a": a, "b": b})
        status, served, _ = fetch(f"{url}{API}/can-exchange?{query}")
        assert status == 200 and served == json.loads(capsys.readouterr().out)
        assert served["exchanges"] or served["not_covered"]


def _audit(url: str, checkpoint: Path, capsys: pytest.CaptureFixture[str], *key: str) -> tuple[int, str]:
    code = main(["register", "audit", url, "--checkpoint", str(checkpoint), *key])
    out = capsys.readouterr()
    return code, out.out + out.err


def _done_when(
    world: World, store: str, processes: int, tmp_path: Path, capsys: pytest.CaptureFixture[str], mp: pytest.MonkeyPatch
) -> None:
    lab, beta = _token(store, LAB, capsys), _token(store, BETA, capsys)
    b = world.bundles
    checkpoint = tmp_path / "checkpoint.json"
    body_key = ["--body-key", str(world.body_key)]
    with register_server(world, store, "--processes", str(processes)) as url:
        # Two organisations submit three products' runs; one bundle changed after signing is refused.
        code, out = _submit(url, b["acme"], lab, capsys, mp)
        assert code == 0 and "issued certificate" in out and "Acme Ltd/RMS@2.1 intel-core@1.0, current" in out
        code, out = _submit(url, b["beta"], beta, capsys, mp)
        assert code == 0 and "issued certificate" in out
        code, out = _submit(url, b["gamma"], lab, capsys, mp)
        assert code == 1 and "registered, no certificate" in out and "not certified" in out
        code, out = _submit(url, b["tampered"], beta, capsys, mp)
        assert code == 1 and "refused (422): invalid: digest mismatch: junit.xml" in out
        # The party who gains: Beta filing the lab's evidence of Acme's product; no credential at all.
        code, out = _submit(url, b["acme"], beta, capsys, mp)
        assert code == 1 and "refused (403)" in out and "neither its signer nor its supplier" in out
        status, problem, headers = fetch(
            f"{url}{API}/bundles", b["beta"].read_bytes(), {"Content-Type": "application/zip"}
        )
        assert status == 401 and problem["type"].endswith("/unauthenticated")
        assert headers["Content-Type"] == "application/problem+json" and "Bearer" in headers["WWW-Authenticate"]
        # Re-sending the identical bundle gives the same answer as the first time.
        status, again, _ = fetch(
            f"{url}{API}/bundles",
            b["acme"].read_bytes(),
            {"Content-Type": "application/zip", "Authorization": f"Bearer {lab}"},
        )
        assert status == 201 and again["outcome"] == "issued"
        acme_id = again["certificate"]["id"]
        assert again["certificate"]["issued"].endswith("Z") and isinstance(again["certificate"]["log_index"], int)

        feed = _catalogue(url)
        assert set(feed) == {"Acme Ltd/RMS@2.1", "Beta Systems/Alerter@3.0", "_"}  # Gamma holds no certificate
        (beta_cert,) = feed["Beta Systems/Alerter@3.0"]["certificates"]
        assert beta_cert["status"] == "current" and beta_cert["signer"]["holder"] == BETA
        rejected = feed["_"]["rejected"]
        assert [r["reason"] for r in rejected] == ["invalid: digest mismatch: junit.xml"]
        assert rejected[0]["bundle"].startswith(BETA + "/") is False  # the name only, no path
        assert _cell(url, "Acme Ltd/RMS@2.1", "intel-core@1.0") == "certified"
        assert _cell(url, f"{GAMMA.supplier}/{GAMMA.product}@{GAMMA.version}", "intel-core@1.0") == "not certified"
        _same_as_the_commands(url, store, capsys)
        with urllib.request.urlopen(f"{url}{API}/certificates/{acme_id}/bundle") as response:
            assert response.read() == b["acme"].read_bytes()

        code, out = _audit(url, checkpoint, capsys, "--body-key", str(world.body_public))
        assert code == 0, out  # first use: the body's key is pinned and the checkpoint saved

        # The body withdraws Beta's certificate and retires intel-core@1.0 (Acme's certificate lapses).
        withdraw = ["register", "withdraw", url, beta_cert["id"], "--reason", "field fault <script>x</script>"]
        assert main([*withdraw, *body_key]) == 0
        assert main(["register", "publish", url, "intel-core@1.0", "retired", "--reason", "IR-07 fix", *body_key]) == 0
        capsys.readouterr()
        feed = _catalogue(url)
        (beta_cert,) = feed["Beta Systems/Alerter@3.0"]["certificates"]
        assert (
            beta_cert["status"] == "withdrawn" and beta_cert["withdrawn"]["reason"] == "field fault <script>x</script>"
        )
        (acme_cert,) = feed["Acme Ltd/RMS@2.1"]["certificates"]
        assert acme_cert["status"] == "lapsed"
        assert _cell(url, "Acme Ltd/RMS@2.1", "intel-core@1.0") == "lapsed"
        _same_as_the_commands(url, store, capsys)
        status, page, headers = fetch(f"{url}/certificates/{beta_cert['id']}")
        assert status == 200 and "field fault &lt;script&gt;x&lt;/script&gt;" in page and "<script>" not in page
        assert "script-src" not in headers["Content-Security-Policy"]
        # A stranger's record (not the body's key) is refused; so is a second withdrawal.
        status, _, _ = fetch(f"{url}{API}/withdrawals", b"{}", {"Content-Type": "application/json"})
        assert status == 400
        assert main([*withdraw, *body_key]) == 1
        # Retired here: a new run under intel-core@1.0 is registered but certifies nothing; the bytes that once
        # did answer as they did (the certificate), with its status now: lapsed (exit 1: it no longer counts).
        code, out = _submit(url, b["acme-next"], lab, capsys, mp)
        assert code == 1 and "registered, no certificate" in out and "intel-core@1.0 is retired" in out
        code, out = _submit(url, b["acme"], lab, capsys, mp)
        assert code == 1 and f"issued certificate {acme_id}" in out and "lapsed" in out

        code, out = _audit(url, checkpoint, capsys)
        assert code == 0, out

        # The log in the database: an update is refused; a log rebuilt without a row is caught by the audit.
        engine = sa.create_engine(store.replace("postgresql://", "postgresql+psycopg://"))
        try:
            with pytest.raises(sa.exc.DBAPIError), engine.begin() as connection:
                connection.execute(sa.text("UPDATE log_entries SET kind = 'refusal' WHERE idx = 0"))
            with pytest.raises(sa.exc.DBAPIError), engine.begin() as connection:
                connection.execute(sa.text("DELETE FROM log_entries WHERE idx = 0"))
            (refusal,) = [e for e in _entries(url) if e["kind"] == "refusal" and "junit.xml" in e["payload"]]
            _rebuild_log_without_a_row(engine, refusal["index"])
        finally:
            engine.dispose()
        code, out = _audit(url, checkpoint, capsys)
        assert code == 1 and "inconsistent" in out, out
        # Even with the log grown again past the saved size, the rewritten history does not prove consistent.
        assert main(["register", "publish", url, "alerts-core@1.0", "retired", *body_key]) == 0
        assert main(["register", "publish", url, "alerts-core@1.1", "superseded", *body_key]) == 0
        code, out = _audit(url, checkpoint, capsys)
        assert code == 1 and "not consistent" in out, out


def _entries(url: str) -> list[dict[str, Any]]:
    status, checkpoint, _ = fetch(f"{url}{API}/log/checkpoint")
    assert status == 200
    size = json.loads(base64.b64decode(checkpoint["envelope"]["payload"]))["size"]
    found = []
    for index in range(size):
        status, proof, _ = fetch(f"{url}{API}/log/inclusion?index={index}&size={size}")
        assert status == 200
        status, entry, _ = fetch(f"{url}{API}/log/entries/{index}")
        assert status == 200 and entry == proof["entry"]
        found.append(entry)
    assert fetch(f"{url}{API}/log/entries/{size}")[0] == 404
    return found


def _rebuild_log_without_a_row(engine: sa.Engine, dropped: int) -> None:
    """What whoever holds the database could do: lift the guard, rewrite history without one entry (a refusal, say)
    and rebuild the tree so that every proof the register serves is self-consistent again."""
    from harness.store import log as ledger
    from harness.store.schema import log_entries, log_nodes

    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as connection:
        rows = [r._mapping for r in connection.execute(sa.select(log_entries).order_by(log_entries.c.idx))]
        for table in ("log_entries", "log_nodes"):
            if postgres:
                connection.execute(sa.text(f"DROP TRIGGER {table}_append_only ON {table}"))
            else:
                connection.execute(sa.text(f"DROP TRIGGER {table}_no_delete"))
        connection.execute(sa.delete(log_nodes))
        connection.execute(sa.delete(log_entries))
        for row in rows:
            if row["idx"] != dropped:
                content = {k: v for k, v in json.loads(row["payload"]).items() if k not in ("kind", "at")}
                ledger.append(connection, row["kind"], row["at"], content, row["certificate_id"])


@pytest.mark.parametrize("processes", [1, 2])
def test_the_register_end_to_end_on_sqlite(
    world: World, processes: int, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _done_when(world, f"sqlite:///{tmp_path / 'register.db'}", processes, tmp_path, capsys, monkeypatch)


@pytest.mark.postgres
def test_the_register_end_to_end_on_postgresql_with_two_processes(
    world: World, postgres: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _done_when(world, postgres, 2, tmp_path, capsys, monkeypatch)
