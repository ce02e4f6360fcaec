"""The register's log in the store (migration v0003) and ``harness register audit`` against it, on SQLite and
PostgreSQL: every registration, refusal, withdrawal and life-cycle change is an entry appended in the same
transaction; the database refuses UPDATE and DELETE of log rows; a log rebuilt behind the triggers' back is
caught by the audit against the checkpoint saved before.

Played as the party who gains: a body operator who rewrites history with the harness's own tree code, a
register that serves a checkpoint signed by another key, a payload changed under its leaf hash.
Registrations are of hand-made verifier outcomes (the store's own checks are tested with real bundles in
``test_store.py``); what is tested here is the log that records them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.certification.withdrawal import sign_withdrawal
from harness.cli import main
from harness.evidence.verified import Outcome, OutcomeKind, ScenarioVerdict, Signer, SutRef, VerifiedBundle
from harness.register.audit import audit
from harness.register.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from harness.register.lifecycle import merged_life, sign_lifecycle
from harness.register.log import (
    MemoryTree,
    completed_nodes,
    consistency_json,
    inclusion_json,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from harness.store import LifecycleRefused, Registration, Store, open_store
from tests.conftest import ROOT
from tests.integration.pg_cluster import throwaway_cluster

LAB = Signer("1" * 64, "Accredited Lab Ltd")


def _submit(
    store: Store, source: str, n: int, product: str = "ForceRMS", certified: bool = True, suite: str = "intel-core"
) -> Registration:
    """Register the verifier's valid, re-judged outcome for bundle ``n`` (and its bytes)."""
    data = f"bundle {n} of {product} {suite} {certified}".encode()
    verdict = "passed" if certified else "failed"
    bundle = VerifiedBundle(
        Path(f"b{n}.zip"), hashlib.sha256(data).hexdigest(), f"run-{product}-{suite}-{n}", LAB, suite, "1.0",
        "intel-report@1.0", "current", SutRef("Example Ltd", product, "4.2"), True, certified,
        "2026-12-01T10:00:00.000Z", "2026-12-01T10:00:01.000Z", {verdict: 1},
        (ScenarioVerdict("IC-01", "MUST", verdict),), (), True, {}, {},
    )  # fmt: skip
    return store.register(Outcome(bundle.path, OutcomeKind.VALID, "", bundle), source, data)


def _pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _catalogue(store: Store) -> dict[str, Any]:
    """The catalogue's JSON as the register serves it: each certificate with the index of its log entry."""
    size = store.log_size()  # read first, as the register's snapshot does: everything below it is reflected
    issued, withdrawn = store.log_indexes("registration"), store.log_indexes("withdrawal")
    products: dict[str, list[dict[str, Any]]] = {}
    for certificate in store.evidence().certificates:
        entry: dict[str, Any] = {
            "id": certificate.id,
            "suite": certificate.suite,
            "version": certificate.suite_version,
            "sha256": certificate.bundle_sha256,
            "log_index": issued.get(certificate.id),
            "withdrawn": None,
        }
        if certificate.withdrawal is not None:
            entry["withdrawn"] = {"reason": certificate.withdrawal.reason, "log_index": withdrawn.get(certificate.id)}
        products.setdefault(certificate.product.ref, []).append(entry)
    return {"log_size": size, "products": [{"product": name, "certificates": held} for name, held in products.items()]}


def _app(
    store: Store, key: Ed25519PrivateKey, catalogue: dict[str, Any] | None = None, head: Any = None
) -> web.Application:
    """A tiny register serving the store's log at the paths (and in the JSON shapes) of docs/register-log.md
    (``catalogue`` and ``head``, a signed checkpoint, replace what the store would serve)."""

    async def checkpoint(_: web.Request) -> web.Response:
        return web.json_response((head if head is not None else store.checkpoint(key)).as_json())

    async def inclusion(request: web.Request) -> web.Response:
        index, size = int(request.query["index"]), int(request.query["size"])
        return web.json_response(inclusion_json(store.log_entry(index), size, store.inclusion_proof(index, size)))

    async def consistency(request: web.Request) -> web.Response:
        first, second = int(request.query["first"]), int(request.query["second"])
        return web.json_response(consistency_json(first, second, store.consistency_proof(first, second)))

    async def listed(_: web.Request) -> web.Response:
        return web.json_response(catalogue if catalogue is not None else _catalogue(store))

    app = web.Application()
    app.router.add_get("/register/v1/log/checkpoint", checkpoint)
    app.router.add_get("/register/v1/log/inclusion", inclusion)
    app.router.add_get("/register/v1/log/consistency", consistency)
    app.router.add_get("/register/v1/catalogue", listed)
    return app


@contextlib.contextmanager
def _serving(app: web.Application) -> Iterator[str]:
    """``app`` on 127.0.0.1 (port 0) in a thread of its own; its URL."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    port: list[int] = []

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port.append(runner.addresses[0][1])

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=30)
    try:
        yield f"http://127.0.0.1:{port[0]}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()


@pytest.fixture
def body() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def _populate(store: Store, body: Ed25519PrivateKey) -> dict[str, Any]:
    """Two certificates issued, a valid run that does not certify, a refusal, a withdrawal, a suite retired."""
    store.pin_body_key(_pem(body))
    first = _submit(store, "org A", 1)
    second = _submit(store, "org B", 2, "Dispatch")
    failing = _submit(store, "org B", 3, "Dispatch", certified=False, suite="checks-core")
    refused = store.register(Outcome(Path("bad.zip"), OutcomeKind.INVALID, "signed by an unknown key"), "org B", None)
    assert first.certificate is not None and second.certificate is not None
    certificate = store.certificate(first.certificate)
    store.withdraw(certificate.id, sign_withdrawal(certificate, "misrepresented", store.clock(), body))
    record = sign_lifecycle("checks-core", "1.0", "retired", "replaced by 1.1", store.clock(), body)
    retired = store.publish_lifecycle("checks-core", "1.0", "retired", record)
    return {"first": first, "second": second, "failing": failing, "refused": refused, "retired": retired}


def _sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'register.db'}"


def test_every_act_is_one_entry_of_a_dense_log(tmp_path: Path, body: Ed25519PrivateKey) -> None:
    store = open_store(_sqlite(tmp_path))
    try:
        done = _populate(store, body)
        entries = store.log_entries(0, 100)
        assert [e.index for e in entries] == list(range(6))
        assert [e.kind for e in entries] == [
            "registration", "registration", "registration", "refusal", "withdrawal", "lifecycle",
        ]  # fmt: skip
        assert [done[name].log_index for name in ("first", "second", "failing", "refused")] == [0, 1, 2, 3]
        assert done["retired"].index == 5
        issued = entries[0].content()
        assert issued["outcome"] == "issued" and issued["certificate"] == done["first"].certificate
        assert issued["product"] == "Example Ltd/ForceRMS@4.2" and issued["suite"] == "intel-core@1.0"
        assert issued["signer"] == LAB.keyid and "org A" not in entries[0].payload.decode()
        assert entries[2].content()["outcome"] == "registered" and entries[2].content()["certificate"] is None
        assert entries[3].content()["result"] == "invalid: signed by an unknown key"
        withdrawal = entries[4].content()
        assert withdrawal["certificate"] == done["first"].certificate and withdrawal["reason"] == "misrepresented"
        assert entries[5].content()["status"] == "retired"
        assert all(e.leaf_hash == leaf_hash(e.payload) and e.content()["kind"] == e.kind for e in entries)
        assert store.log_indexes("registration") == {done["first"].certificate: 0, done["second"].certificate: 1}
        assert store.log_indexes("withdrawal") == {done["first"].certificate: 4}
        # the same bytes again: registered already, still an entry of its own
        again = _submit(store, "org B", 2, "Dispatch")
        assert again.accepted and not again.issued and again.log_index == 6
    finally:
        store.close()


def test_checkpoints_and_proofs_agree_with_the_entries(tmp_path: Path, body: Ed25519PrivateKey) -> None:
    store = open_store(_sqlite(tmp_path))
    try:
        with pytest.raises(Exception, match="no certifying body key is pinned"):
            store.checkpoint(body)
        _populate(store, body)
        for n in range(7, 40):
            _submit(store, "org", n, f"P{n}")
        size = store.log_size()
        tree = MemoryTree([e.payload for e in store.log_entries(0, size)])
        signed = store.checkpoint(body)
        checkpoint = open_checkpoint(signed.as_json()["envelope"], body.public_key())
        assert (checkpoint.size, checkpoint.root) == (size, tree.root())
        with pytest.raises(Exception, match="not the body key pinned"):
            store.checkpoint(Ed25519PrivateKey.generate())
        for index in range(size):
            proof = store.inclusion_proof(index, size)
            assert verify_inclusion(index, size, tree.node(0, index), proof, tree.root())
        for first in range(size + 1):
            proof = store.consistency_proof(first, size)
            assert verify_consistency(first, size, tree.root(first), tree.root(), proof)
        with pytest.raises(Exception, match=f"holds {size} entries"):
            store.inclusion_proof(0, size + 1)
        with pytest.raises(Exception, match="no entry"):
            store.inclusion_proof(size, size)
    finally:
        store.close()


def _refused(store: Store, statement: str) -> str:
    with pytest.raises(sa.exc.DBAPIError) as refused, store.engine.begin() as connection:
        connection.execute(sa.text(statement))
    return str(refused.value.orig)


def test_the_database_refuses_to_change_log_rows(tmp_path: Path, body: Ed25519PrivateKey) -> None:
    store = open_store(_sqlite(tmp_path))
    try:
        _populate(store, body)
        before = [e.payload for e in store.log_entries(0, 100)]
        for statement in (
            "UPDATE log_entries SET payload = X'00' WHERE idx = 0",
            "DELETE FROM log_entries WHERE idx = 3",
            "DELETE FROM log_entries",
            "UPDATE log_nodes SET hash = X'00'",
            "DELETE FROM log_nodes",
        ):
            assert "append-only" in _refused(store, statement)
        assert [e.payload for e in store.log_entries(0, 100)] == before
    finally:
        store.close()


def test_life_cycle_changes_only_by_the_body_and_only_forwards(tmp_path: Path, body: Ed25519PrivateKey) -> None:
    store = open_store(_sqlite(tmp_path))
    try:
        record = sign_lifecycle("intel-core", "1.0", "superseded", "1.1 is out", "2026-12-05T10:00:00Z", body)
        with pytest.raises(LifecycleRefused, match="no certifying body key is pinned"):
            store.publish_lifecycle("intel-core", "1.0", "superseded", record)
        store.pin_body_key(_pem(body))
        stranger = sign_lifecycle("intel-core", "1.0", "retired", "", "2026-12-05T10:00:00Z", LAB_KEY)
        with pytest.raises(LifecycleRefused, match="not by the certifying body's key"):
            store.publish_lifecycle("intel-core", "1.0", "retired", stranger)
        with pytest.raises(LifecycleRefused, match=r"makes intel-core@1\.0 superseded, not intel-core@1\.0 retired"):
            store.publish_lifecycle("intel-core", "1.0", "retired", record)
        assert store.publish_lifecycle("intel-core", "1.0", "superseded", record).kind == "lifecycle"
        with pytest.raises(LifecycleRefused, match="is superseded already"):
            store.publish_lifecycle("intel-core", "1.0", "superseded", record)
        retire = sign_lifecycle("intel-core", "1.0", "retired", "withdrawn standard", "2026-12-05T11:00:00Z", body)
        store.publish_lifecycle("intel-core", "1.0", "retired", retire)
        with pytest.raises(LifecycleRefused, match="is retired already"):
            store.publish_lifecycle("intel-core", "1.0", "superseded", record)
        assert store.suite_life() == {("intel-core", "1.0"): "retired"}
        catalog = {("intel-core", "1.0"): "current", ("checks-core", "1.0"): "superseded"}
        assert merged_life(catalog, store.suite_life()) == {
            ("intel-core", "1.0"): "retired",
            ("checks-core", "1.0"): "superseded",
        }
        assert merged_life({("x", "1"): "retired"}, {("x", "1"): "superseded"}) == {("x", "1"): "retired"}
        assert [e.kind for e in store.log_entries(0, 10)] == ["lifecycle", "lifecycle"]
    finally:
        store.close()


LAB_KEY = Ed25519PrivateKey.generate()


def test_tokens_are_returned_once_and_kept_only_as_a_hash(tmp_path: Path) -> None:
    store = open_store(_sqlite(tmp_path))
    try:
        token = store.issue_token("Example Ltd")
        other = store.issue_token("Rival plc")
        assert token != other and len(token) > 40
        assert store.token_org(token) == "Example Ltd" and store.token_org(other) == "Rival plc"
        assert store.token_org(token + "x") is None and store.token_org("") is None
        assert store.token_org(token[:-1]) is None
        with store.engine.connect() as connection:
            held = connection.execute(sa.text("SELECT * FROM org_tokens")).all()
        assert token not in repr(held) and hashlib.sha256(token.encode()).hexdigest() in repr(held)
        assert store.revoke_token(token) and not store.revoke_token(token)
        assert store.token_org(token) is None and store.token_org(other) == "Rival plc"
        with pytest.raises(Exception, match="organisation"):
            store.issue_token(" \n ")
    finally:
        store.close()
    assert token.encode() not in (tmp_path / "register.db").read_bytes()


def _rebuild_without(url: str, dropped: int, extra: Sequence[bytes] = ()) -> None:
    """What a body operator who can drop triggers does: rewrite the log without entry ``dropped`` (and maybe with
    entries of its own), indexes dense and every tree node recomputed with the harness's own code."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            for table in ("log_entries", "log_nodes"):
                connection.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"))
        else:
            for table in ("log_entries", "log_nodes"):
                for action in ("update", "delete"):
                    connection.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_no_{action}"))
        rows = connection.execute(
            sa.text("SELECT idx, kind, at, payload, certificate_id FROM log_entries ORDER BY idx")
        ).all()
        connection.execute(sa.text("DELETE FROM log_nodes"))
        connection.execute(sa.text("DELETE FROM log_entries"))
        kept = [(r.kind, r.at, bytes(r.payload), r.certificate_id) for r in rows if r.idx != dropped]
        kept += [("registration", "2026-12-05T00:00:00.000Z", payload, None) for payload in extra]
        nodes: dict[tuple[int, int], bytes] = {}
        for index, (kind, at, payload, certificate) in enumerate(kept):
            leaf = leaf_hash(payload)
            nodes[(0, index)] = leaf
            connection.execute(
                sa.text(
                    "INSERT INTO log_entries (idx, kind, at, payload, leaf_hash, certificate_id) "
                    "VALUES (:idx, :kind, :at, :payload, :leaf, :certificate)"
                ),
                {"idx": index, "kind": kind, "at": at, "payload": payload, "leaf": leaf, "certificate": certificate},
            )
            for level, position, digest in completed_nodes(index, leaf, lambda lv, ix: nodes[(lv, ix)]):
                nodes[(level, position)] = digest
                connection.execute(
                    sa.text("INSERT INTO log_nodes (level, idx, hash) VALUES (:level, :idx, :hash)"),
                    {"level": level, "idx": position, "hash": digest},
                )
    engine.dispose()


def _tamper_story(url: str, tmp_path: Path, body: Ed25519PrivateKey, capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "saved-checkpoint.json"
    public = tmp_path / "body.pub"
    public.write_bytes(_pem(body))
    store = open_store(url)
    try:
        done = _populate(store, body)
        with _serving(_app(store, body)) as register:
            assert main(["register", "audit", register, "--checkpoint", str(saved)]) == 2
            assert "--body-key PUB on first use" in capsys.readouterr().err
            assert main(["register", "audit", register, "--checkpoint", str(saved), "--body-key", str(public)]) == 0
            assert "consistent: 6 entries" in capsys.readouterr().out
            assert json.loads(saved.read_text())["envelope"]["payloadType"] == "application/vnd.netcode.checkpoint+json"
            _submit(store, "org A", 50, "Gazetteer")
            assert audit(register, saved) == 0  # the key pinned in the saved file from now on
            assert "consistent with the saved checkpoint of 6 entries; 3 certificates" in capsys.readouterr().out
            # the database itself refuses a change of a log row
            assert "append-only" in _refused(store, "UPDATE log_entries SET at = 'x' WHERE idx = 0")
            assert "append-only" in _refused(store, f"DELETE FROM log_entries WHERE idx = {done['refused'].log_index}")
            assert audit(register, saved) == 0
            capsys.readouterr()
            kept = saved.read_bytes()
            # a log rebuilt without the refusal (entry 3): shorter, then padded back to its old size and beyond
            _rebuild_without(url, done["refused"].log_index)
            assert audit(register, saved) == 1
            assert capsys.readouterr().out.strip() == (
                "inconsistent: the log shrank: the signed checkpoint has 6 entries, the saved one 7"
            )
            _rebuild_without(url, -1, [b'{"at":"2026-12-05T00:00:00.000Z","kind":"registration"}'] * 3)
            assert audit(register, saved) == 1
            assert capsys.readouterr().out.strip() == (
                "inconsistent: the signed checkpoint of 9 entries is not consistent with the saved one of 7 entries "
                "(the log was rewritten)"
            )
            assert saved.read_bytes() == kept  # an inconsistent register never replaces the saved checkpoint
    finally:
        store.close()


def test_a_rebuilt_log_is_caught_by_the_audit_on_sqlite(
    tmp_path: Path, body: Ed25519PrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    _tamper_story(_sqlite(tmp_path), tmp_path, body, capsys)


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    with throwaway_cluster() as url:
        yield url


def _database(cluster: str, name: str) -> str:
    """A fresh database of its own in the module's cluster (each test starts from an empty log)."""
    engine = sa.create_engine(cluster.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return cluster.rsplit("/", 1)[0] + "/" + name


@pytest.mark.postgres
def test_a_rebuilt_log_is_caught_by_the_audit_on_postgresql(
    postgres: str, tmp_path: Path, body: Ed25519PrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _database(postgres, "tamper")
    _tamper_story(url, tmp_path, body, capsys)
    store = open_store(url)
    try:
        assert "append-only" in _refused(store, "TRUNCATE log_nodes")
    finally:
        store.close()


def test_a_payload_changed_under_its_leaf_hash_is_caught(
    tmp_path: Path, body: Ed25519PrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    url, saved = _sqlite(tmp_path), tmp_path / "saved.json"
    (tmp_path / "body.pub").write_bytes(_pem(body))
    store = open_store(url)
    try:
        done = _populate(store, body)
        with _serving(_app(store, body)) as register:
            assert audit(register, saved, tmp_path / "body.pub") == 0
            capsys.readouterr()
            with store.engine.begin() as connection:
                connection.execute(sa.text("DROP TRIGGER log_entries_no_update"))
                forged = store.log_entry(1).payload.replace(b"Dispatch", b"Dispatch Pro")
                connection.execute(sa.text("UPDATE log_entries SET payload = :p WHERE idx = 1"), {"p": forged})
            assert audit(register, saved) == 1
            assert capsys.readouterr().out.strip() == (
                f"inconsistent: certificate {done['second'].certificate}: entry 1: its payload does not hash to "
                "the leaf hash served with it"
            )
    finally:
        store.close()


def test_the_audit_refuses_a_checkpoint_a_catalogue_or_a_register_it_cannot_trust(
    tmp_path: Path, body: Ed25519PrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "saved.json"
    (tmp_path / "body.pub").write_bytes(_pem(body))
    store = open_store(_sqlite(tmp_path))
    try:
        done = _populate(store, body)
        impostor = Ed25519PrivateKey.generate()
        with _serving(_app(store, body)) as register:
            assert audit(register, saved, tmp_path / "body.pub") == 0
        capsys.readouterr()
        # a register signing with another key (its store pinned to that key: a fresh register elsewhere)
        other = open_store(f"sqlite:///{tmp_path / 'other.db'}")
        other.pin_body_key(_pem(impostor))
        with _serving(_app(other, impostor)) as register:
            assert audit(register, saved) == 1
            assert "not by the certifying body's key" in capsys.readouterr().out
        other.close()
        # a catalogue listing a certificate without its log entry, or pointing at another entry
        second = done["second"].certificate
        for catalogue, reason in (
            (
                {"log_size": 6, "products": [{"certificates": [{"id": second}]}]},
                f"certificate {second} has no log_index",
            ),
            (
                {"log_size": 6, "products": [{"certificates": [{"id": second, "log_index": 2}]}]},
                f"certificate {second}: log entry 2 is not its registration",
            ),
            (
                {"log_size": 6, "products": [{"certificates": [{"id": second, "log_index": 99}]}]},
                "entry 99 is beyond the checkpoint's 6 entries",
            ),
            ({"products": "none"}, "the catalogue is not an object with a products array"),
        ):
            with _serving(_app(store, body, catalogue)) as register:
                assert audit(register, saved) == 1
                assert reason in capsys.readouterr().out
        # unreachable, and usage errors
        with _serving(web.Application()) as register:
            pass
        assert audit(register, saved) == 3
        assert "register unreachable" in capsys.readouterr().err
        assert audit("ftp://127.0.0.1/", saved) == 2
        assert audit("http://user:pw@127.0.0.1/", saved) == 2
        assert "no credentials" in capsys.readouterr().err
        (tmp_path / "junk.json").write_text("{")
        assert audit("http://127.0.0.1:1", tmp_path / "junk.json") == 2
        assert "not a saved checkpoint" in capsys.readouterr().err
        assert audit("http://127.0.0.1:1", saved, tmp_path / "stranger.pub") == 2
        (tmp_path / "stranger.pub").write_bytes(_pem(impostor))
        assert audit("http://127.0.0.1:1", saved, tmp_path / "stranger.pub") == 2
        assert "is not the key pinned in" in capsys.readouterr().err
    finally:
        store.close()


APPENDER = """
import sys
from pathlib import Path
from tests.integration.test_register_store import _submit
from harness.store import open_store
url, worker, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
store = open_store(url)
for n in range(rounds):
    _submit(store, f"w{worker}", 1000 * worker + n, f"W{worker}-{n}")
store.close()
"""


def _concurrent_appends(url: str, body: Ed25519PrivateKey, workers: int = 2, rounds: int = 15) -> None:
    store = open_store(url)
    store.pin_body_key(_pem(body))
    processes = [
        subprocess.Popen([sys.executable, "-c", APPENDER, url, str(w), str(rounds)], cwd=ROOT, stderr=subprocess.PIPE)
        for w in range(workers)
    ]
    for process in processes:
        _, err = process.communicate(timeout=180)
        assert process.returncode == 0, err.decode()[-2000:]
    try:
        entries = store.log_entries(0, 1000)
        assert [e.index for e in entries] == list(range(workers * rounds))
        tree = MemoryTree([e.payload for e in entries])
        checkpoint = open_checkpoint(store.checkpoint(body).as_json()["envelope"], body.public_key())
        assert checkpoint.root == tree.root() and checkpoint.size == workers * rounds
        assert len(store.log_indexes()) == workers * rounds
    finally:
        store.close()


def test_concurrent_registrations_append_a_dense_log_on_sqlite(tmp_path: Path, body: Ed25519PrivateKey) -> None:
    _concurrent_appends(_sqlite(tmp_path), body)


@pytest.mark.postgres
def test_concurrent_registrations_append_a_dense_log_on_postgresql(postgres: str, body: Ed25519PrivateKey) -> None:
    _concurrent_appends(_database(postgres, "appends"), body)


def test_a_store_from_before_the_log_has_its_past_logged_as_backfilled(tmp_path: Path, body: Ed25519PrivateKey) -> None:
    """A v0002 store (registrations, certificates, a withdrawal) upgraded to v0003: every past act is an entry."""
    from alembic import command
    from alembic.config import Config

    url = _sqlite(tmp_path)
    store = open_store(url)
    done = _populate(store, body)
    before = [e.content() for e in store.log_entries(0, 5)]
    config = Config()
    config.set_main_option("script_location", str(ROOT / "harness/store/migrations"))
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")  # the store as it was before the register's log
    store.close()
    store = open_store(url)
    try:
        entries = store.log_entries(0, 100)
        assert [e.kind for e in entries] == ["registration", "registration", "registration", "refusal", "withdrawal"]
        for entry, original in zip(entries, before, strict=True):
            if entry.kind == "withdrawal":  # v0002 kept the withdrawal's signed time, not the store's when it was kept
                original["at"] = original["withdrawn"]
            assert entry.content() == {**original, "backfilled": True}
        assert store.log_indexes("registration") == {done["first"].certificate: 0, done["second"].certificate: 1}
        assert store.log_indexes("withdrawal") == {done["first"].certificate: 4}
        checkpoint = open_checkpoint(store.checkpoint(body).as_json()["envelope"], body.public_key())
        assert checkpoint.root == MemoryTree([e.payload for e in entries]).root()
    finally:
        store.close()


def _migrate(store: Store, direction: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(ROOT / "harness/store/migrations"))
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, direction)(config, revision)


def _columns(store: Store, table: str) -> set[str]:
    return {column["name"] for column in sa.inspect(store.engine).get_columns(table)}


def _the_roles_migration_goes_down_and_up(url: str, body: Ed25519PrivateKey) -> None:
    """Down to 0003 and up again with a certificate withdrawn: the roles columns go and come back, nothing is
    lost, and foreign keys are enforced afterwards (dropping a column rebuilds ``certificates`` on SQLite)."""
    store = open_store(url)
    try:
        done = _populate(store, body)
        _migrate(store, "downgrade", "0003")
        assert "roles" not in _columns(store, "certificates") and "roles" not in _columns(store, "registrations")
    finally:
        store.close()
    store = open_store(url)  # migrated to the newest again
    try:
        assert "roles" in _columns(store, "certificates") and "roles" in _columns(store, "registrations")
        first = store.certificate(done["first"].certificate)
        assert first.withdrawal is not None and store.certificate(done["second"].certificate).withdrawal is None
        with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as connection:
            connection.execute(
                sa.text("INSERT INTO withdrawals VALUES ('nosuchcert', 'r', '2026-01-01T00:00:00Z', 'k', '{}')")
            )
    finally:
        store.close()


def test_the_roles_migration_goes_down_and_up_on_sqlite(tmp_path: Path, body: Ed25519PrivateKey) -> None:
    _the_roles_migration_goes_down_and_up(_sqlite(tmp_path), body)


@pytest.mark.postgres
def test_the_roles_migration_goes_down_and_up_on_postgresql(postgres: str, body: Ed25519PrivateKey) -> None:
    _the_roles_migration_goes_down_and_up(_database(postgres, "roles_down_up"), body)


def test_a_sqlite_migration_leaving_a_dangling_reference_changes_nothing(
    tmp_path: Path, body: Ed25519PrivateKey
) -> None:
    """Foreign keys are off while SQLite migrates (a rebuilt table would trip them), so they are checked at the
    end: a dangling reference fails the migration whole, the store stays at its revision, checks back on."""
    store = open_store(_sqlite(tmp_path))
    try:
        _populate(store, body)
        with store.engine.connect() as connection:  # a row a store with foreign keys off could have let in
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.exec_driver_sql(
                "INSERT INTO withdrawals VALUES ('nosuchcert', 'r', '2026-01-01T00:00:00Z', 'k', '{}')"
            )
            connection.commit()
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        with pytest.raises(RuntimeError, match="withdrawals referring to no row of certificates"):
            _migrate(store, "downgrade", "0003")
        assert "roles" in _columns(store, "certificates")
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "0004"
            assert connection.exec_driver_sql("SELECT count(*) FROM log_entries").scalar() == 6
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        store.close()


def test_a_hostile_register_gets_one_line_never_a_traceback(
    tmp_path: Path, body: Ed25519PrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    """Answers a register could send to wear an auditor down: too deep, too big, not JSON, errors, a redirect."""
    (tmp_path / "body.pub").write_bytes(_pem(body))
    answers = {
        "deep": web.Response(body=b"[" * 200_000 + b"]" * 200_000, content_type="application/json"),
        "huge": web.Response(body=b" " * (2 << 20), content_type="application/json"),
        "text": web.Response(text="<html>maintenance</html>", content_type="text/html"),
        "error": web.Response(status=500),
        "elsewhere": web.Response(status=302, headers={"Location": "http://192.0.2.1/register/v1/log/checkpoint"}),
    }
    for name, answer in answers.items():

        async def checkpoint(_: web.Request, answer: web.StreamResponse = answer) -> web.StreamResponse:
            return answer

        app = web.Application()
        app.router.add_get("/register/v1/log/checkpoint", checkpoint)
        with _serving(app) as register:
            assert audit(register, tmp_path / f"{name}.json", tmp_path / "body.pub") == 1, name
        line = capsys.readouterr().out
        assert line.startswith("inconsistent: ") and line.count("\n") == 1, (name, line)
        assert not (tmp_path / f"{name}.json").exists()


def test_a_retired_suite_version_issues_no_certificate(tmp_path: Path, body: Ed25519PrivateKey) -> None:
    """specs/README.md: a retired version is no longer certifiable: a passing bundle of it registers, issues nothing."""
    store = open_store(_sqlite(tmp_path))
    try:
        store.pin_body_key(_pem(body))
        record = sign_lifecycle("intel-core", "1.0", "retired", "obsolete", store.clock(), body)
        store.publish_lifecycle("intel-core", "1.0", "retired", record)
        late = _submit(store, "org A", 7)
        assert late.accepted and late.certificate is None and not late.issued
        assert "intel-core@1.0 is retired: no longer certifiable" in late.line
        assert store.log_entry(late.log_index or 0).content()["outcome"] == "registered"
        assert store.evidence().certificates == ()
    finally:
        store.close()


def test_published_life_cycle_changes_show_in_the_stores_readers(
    tmp_path: Path, body: Ed25519PrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    """``certificates list`` and ``matrix`` over the body's store: superseded stays valid, retired lapses."""
    url = _sqlite(tmp_path)
    store = open_store(url)
    try:
        store.pin_body_key(_pem(body))
        issued = _submit(store, "org A", 1)
        statuses = []
        for status in ("superseded", "retired"):
            record = sign_lifecycle("intel-core", "1.0", status, "", store.clock(), body)
            store.publish_lifecycle("intel-core", "1.0", status, record)
            assert main(["certificates", "list", "--store", url, "--json"]) == 0
            (listed,) = json.loads(capsys.readouterr().out)["certificates"]
            assert main(["matrix", "--store", url, "--json"]) == 0
            cells = json.loads(capsys.readouterr().out)["cells"]
            (cell,) = [c for c in cells if c["certificate"] == issued.certificate]
            statuses.append((listed["status"], cell["status"]))
        assert statuses == [("superseded", "superseded"), ("lapsed", "lapsed")]
    finally:
        store.close()


def test_proofs_and_appends_never_scan_the_log(tmp_path: Path, body: Ed25519PrivateKey) -> None:
    """Each query behind an append, a checkpoint or a proof is an index lookup (SQLite's own query plans): a request
    reads O(log n) rows whatever the log's size (benchmarks/register_log.py has the times)."""
    store = open_store(_sqlite(tmp_path))
    try:
        store.pin_body_key(_pem(body))
        for n in range(40):
            _submit(store, "org", n, f"P{n}")
        seen: list[tuple[str, Any]] = []

        def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
            if statement.lstrip().upper().startswith("SELECT") and "log_" in statement:
                seen.append((statement, parameters))

        sa.event.listen(store.engine, "before_cursor_execute", keep)
        store.checkpoint(body)
        store.inclusion_proof(17, 40)
        store.consistency_proof(13, 40)
        _submit(store, "org", 99, "P99")
        sa.event.remove(store.engine, "before_cursor_execute", keep)
        assert len(seen) >= 6
        with store.engine.connect() as connection:
            for statement, parameters in seen:
                plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
                scans = [row[-1] for row in plan if str(row[-1]).startswith("SCAN log_")]
                assert scans == [], (statement, plan)
    finally:
        store.close()


def test_the_audit_catches_a_catalogue_that_hides_or_revives_a_certificate(
    tmp_path: Path, body: Ed25519PrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    """A register that keeps its log honest but shows a catalogue other than the log's: a rival's live certificate
    left out, a withdrawn one shown live, a live one shown withdrawn, one the log never issued."""
    (tmp_path / "body.pub").write_bytes(_pem(body))
    store = open_store(_sqlite(tmp_path))
    try:
        done = _populate(store, body)
        first, second = done["first"].certificate, done["second"].certificate
        honest = _catalogue(store)
        with _serving(_app(store, body)) as register:
            assert audit(register, tmp_path / "saved.json", tmp_path / "body.pub") == 0
        saved = json.loads((tmp_path / "saved.json").read_text())
        assert saved["certificates"] == {
            "issued": {first: 0, second: 1},
            "withdrawn": {first: 4},
            "life": {"checks-core@1.0": ["retired", 5]},
        }
        capsys.readouterr()

        def edited(change: Any) -> dict[str, Any]:
            catalogue = json.loads(json.dumps(honest))
            change([c for p in catalogue["products"] for c in p["certificates"]], catalogue)
            return catalogue

        def hide(listed: list[dict[str, Any]], catalogue: dict[str, Any]) -> None:
            for product in catalogue["products"]:
                product["certificates"] = [c for c in product["certificates"] if c["id"] != second]

        def revive(listed: list[dict[str, Any]], _: dict[str, Any]) -> None:
            for certificate in listed:
                certificate["withdrawn"] = None

        def bury(listed: list[dict[str, Any]], _: dict[str, Any]) -> None:
            for certificate in listed:
                certificate["withdrawn"] = {"reason": "made up"}

        def invent(listed: list[dict[str, Any]], catalogue: dict[str, Any]) -> None:
            catalogue["products"][0]["certificates"].append({**listed[0], "id": "00000000deadbeef"})

        for change, reason in (
            (hide, f"certificate {second}, issued by log entry 1, is missing from the catalogue"),
            (revive, f"certificate {first} is withdrawn by log entry 4, but the catalogue shows it live"),
            (bury, f"the catalogue shows certificate {second} withdrawn, but the log holds no withdrawal"),
            (invent, "the catalogue lists certificate 00000000deadbeef, which no log entry issued"),
        ):
            with _serving(_app(store, body, edited(change))) as register:
                assert audit(register, tmp_path / "saved.json") == 1, change
                assert capsys.readouterr().out.strip() == f"inconsistent: {reason}"
        # a file saved without what the log issued (or by an older auditor) is filled in from every entry again
        del saved["certificates"]
        (tmp_path / "saved.json").write_text(json.dumps(saved))
        with _serving(_app(store, body)) as register:
            assert audit(register, tmp_path / "saved.json") == 0
        assert json.loads((tmp_path / "saved.json").read_text())["certificates"]["withdrawn"] == {first: 4}
    finally:
        store.close()


def test_the_audit_catches_a_retirement_the_catalogue_ignores(
    tmp_path: Path, body: Ed25519PrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    """The body retired a suite version through the log; a catalogue still showing its certificates current is
    caught, and the database refuses to take the published retirement back."""
    (tmp_path / "body.pub").write_bytes(_pem(body))
    store = open_store(_sqlite(tmp_path))
    try:
        store.pin_body_key(_pem(body))
        issued = _submit(store, "org A", 1)
        record = sign_lifecycle("intel-core", "1.0", "retired", "obsolete", store.clock(), body)
        retired = store.publish_lifecycle("intel-core", "1.0", "retired", record)
        assert "append-only" in _refused(store, "DELETE FROM suite_status")
        assert "append-only" in _refused(store, "UPDATE suite_status SET status = 'superseded'")
        catalogue = _catalogue(store)
        (certificate,) = catalogue["products"][0]["certificates"]
        for status, code in (("current", 1), ("certified", 1), ("lapsed", 0)):
            certificate["status"] = status
            with _serving(_app(store, body, catalogue)) as register:
                assert audit(register, tmp_path / "saved.json", tmp_path / "body.pub") == code
            out = capsys.readouterr().out.strip()
            if code:
                assert out == (
                    f"inconsistent: the catalogue shows certificate {issued.certificate} {status}, but log entry "
                    f"{retired.index} made intel-core@1.0 retired"
                )
        assert json.loads((tmp_path / "saved.json").read_text())["certificates"]["life"] == {
            "intel-core@1.0": ["retired", retired.index]
        }
    finally:
        store.close()


def test_the_audit_of_a_busy_register_holds_the_catalogue_to_the_log_size_it_reflects(
    tmp_path: Path, body: Ed25519PrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    """The auditor reads the catalogue, then the checkpoint. A certificate issued (or withdrawn) in between is in
    the signed tree but not in the catalogue: that is no inconsistency, the next audit holds it. A catalogue that
    claims to reflect more entries than the later checkpoint signs, or fewer than the last audited checkpoint (a
    stale catalogue kept to hide a withdrawal), is."""
    (tmp_path / "body.pub").write_bytes(_pem(body))
    store = open_store(_sqlite(tmp_path))
    try:
        store.pin_body_key(_pem(body))
        first = _submit(store, "org A", 1)
        assert first.certificate is not None
        before = _catalogue(store)  # read before the next two acts, as a register busy between the auditor's reads
        second = _submit(store, "org B", 2, "Dispatch")
        certificate = store.certificate(first.certificate)
        store.withdraw(certificate.id, sign_withdrawal(certificate, "misrepresented", store.clock(), body))
        assert second.certificate is not None and before["log_size"] == 1
        with _serving(_app(store, body, before)) as register:
            assert audit(register, tmp_path / "saved.json", tmp_path / "body.pub") == 0, capsys.readouterr().out
        # the next audit sees the catalogue of now: the new certificate and the withdrawal are held to the log
        with _serving(_app(store, body)) as register:
            assert audit(register, tmp_path / "saved.json") == 0, capsys.readouterr().out
        capsys.readouterr()
        for size, reason in (
            (1, "the catalogue reflects 1 log entries, fewer than the 3 of the last audited checkpoint"),
            (9, "the catalogue reflects 9 log entries, more than the 3 the later checkpoint signs"),
            (None, "the catalogue does not say which log size it reflects (log_size)"),
        ):
            stale = {**before, "log_size": size}
            with _serving(_app(store, body, stale)) as register:
                assert audit(register, tmp_path / "saved.json") == 1
            assert capsys.readouterr().out.strip() == f"inconsistent: {reason}"
    finally:
        store.close()


def test_the_audit_refuses_a_checkpoint_older_than_the_saved_one(
    tmp_path: Path, body: Ed25519PrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    """The body's clock only moves forward: a checkpoint of the same tree signed with an earlier time than the one
    the auditor saved is a register replaying a past state, caught even though its tree is consistent."""
    (tmp_path / "body.pub").write_bytes(_pem(body))
    store = open_store(_sqlite(tmp_path))
    try:
        _populate(store, body)
        with _serving(_app(store, body)) as register:
            assert audit(register, tmp_path / "saved.json", tmp_path / "body.pub") == 0
        head = store.checkpoint(body).checkpoint
        older = sign_checkpoint(Checkpoint(head.size, head.root, "2000-01-01T00:00:00.000Z"), body)
        capsys.readouterr()
        with _serving(_app(store, body, head=older)) as register:
            assert audit(register, tmp_path / "saved.json") == 1
        assert (
            "inconsistent: the signed checkpoint's time 2000-01-01T00:00:00.000Z is before" in capsys.readouterr().out
        )
    finally:
        store.close()
