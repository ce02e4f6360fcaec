"""Evidence bundles of real runs: layout, signature, and every tampering case detected with its reason."""

from __future__ import annotations

import base64
import json
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.catalog import Catalog
from harness.cli import main
from harness.endpoints import build_app
from harness.evidence.dsse import pae
from harness.evidence.keys import keyid
from tests.integration.evidence_helpers import flip, members, rebuild, run_with_evidence

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cryptography.hazmat.primitives import serialization

    folder = tmp_path_factory.mktemp("keys")
    pub = KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (folder / "trusted.pub").write_bytes(pub)
    return folder / "trusted.pub"


@pytest.fixture(scope="module")
def bundles(catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import asyncio

    folder = tmp_path_factory.mktemp("bundles")

    async def both() -> dict[str, Path]:
        first = await run_with_evidence(catalog, build_app(catalog), folder / "a", key=KEY)
        second = await run_with_evidence(catalog, build_app(catalog), folder / "b", key=KEY)
        esn = await run_with_evidence(catalog, build_app(catalog), folder / "c", suite="esn-core", key=KEY)
        return {"a": first, "b": second, "esn": esn}

    return asyncio.run(both())


def verify(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    code = main(["verify", *map(str, args)])
    out = capsys.readouterr()
    return code, (out.out + out.err).strip()


def test_bundle_layout_and_statement(bundles: dict[str, Path]) -> None:
    content = members(bundles["a"])
    assert {"statement.json", "envelope.json", "results.json", "exchanges.jsonl", "junit.xml"} <= set(content)
    assert any(name.startswith("suite/scenarios/") for name in content)
    assert "suite/suite.yaml" in content
    statement = json.loads(content["statement.json"])
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "urn:netcode:certification-run:1.0"
    listed = {s["name"] for s in statement["subject"]}
    assert listed == set(content) - {"statement.json", "envelope.json"}
    predicate = statement["predicate"]
    assert predicate["sut"] == {"supplier": "Example Ltd", "product": "Reference", "version": "1.0"}
    assert predicate["certified"] is True and predicate["suite"]["name"] == "checks-core"
    env = json.loads(content["envelope.json"])
    assert base64.b64decode(env["payload"]) == content["statement.json"]
    assert env["signatures"][0]["keyid"] == keyid(KEY.public_key())
    KEY.public_key().verify(
        base64.b64decode(env["signatures"][0]["sig"]), pae(env["payloadType"], content["statement.json"])
    )
    records = [json.loads(line) for line in content["exchanges.jsonl"].splitlines()]
    results = json.loads(content["results.json"])
    assert len(records) >= len(results["scenarios"])
    assert {
        "scenario",
        "step",
        "direction",
        "transport",
        "request",
        "answer",
        "sent",
        "answered",
        "attempt",
        "bindings",
    } <= set(records[0])


def test_pae_encoding() -> None:
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_binary_bodies_are_byte_exact(bundles: dict[str, Path]) -> None:
    records = [json.loads(line) for line in members(bundles["esn"])["exchanges.jsonl"].splitlines()]
    binary = [r for r in records if r["request"]["body_encoding"] == "base64"]
    assert binary, "esn-core sends multipart MCData"
    body = base64.b64decode(binary[0]["request"]["body"])
    assert b"\r\n" in body and b"--" in body  # raw multipart, delimiters and CRLFs kept


def test_valid_bundles_verify_and_rejudge(
    bundles: dict[str, Path], keys: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = verify(capsys, bundles["a"], bundles["esn"], "--trusted-key", keys, "--rejudge")
    assert code == 0, out
    assert "valid (signed by" in out and "certified" in out


def test_signed_bundle_without_trusted_key_is_unknown_key(
    bundles: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = verify(capsys, bundles["a"])
    assert code == 1 and "unknown key" in out


def test_flipping_one_byte_of_any_member_is_detected(
    bundles: dict[str, Path], keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, data in members(bundles["a"]).items():
        tampered = rebuild(bundles["a"], tmp_path / "t.zip", {name: flip(data)})
        code, out = verify(capsys, tampered, "--trusted-key", keys)
        assert code == 1, (name, out)
        if name == "statement.json":
            assert "signed payload differs from statement.json" in out
        elif name == "envelope.json":
            assert "envelope" in out or "bad signature" in out or "unknown key" in out, out
        else:
            assert f"digest mismatch: {name}" in out, out


def test_added_and_removed_members(
    bundles: dict[str, Path], keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = verify(capsys, rebuild(bundles["a"], tmp_path / "add.zip", {"extra.txt": b"x"}), "--trusted-key", keys)
    assert code == 1 and "member added: extra.txt" in out
    code, out = verify(capsys, rebuild(bundles["a"], tmp_path / "rm.zip", {"junit.xml": None}), "--trusted-key", keys)
    assert code == 1 and "member missing: junit.xml" in out


def test_results_swapped_from_another_run(
    bundles: dict[str, Path], keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = members(bundles["b"])["results.json"]
    code, out = verify(
        capsys, rebuild(bundles["a"], tmp_path / "s.zip", {"results.json": other}), "--trusted-key", keys
    )
    assert code == 1 and "digest mismatch: results.json" in out


def test_resigned_with_an_untrusted_key(
    bundles: dict[str, Path], keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = verify(capsys, rebuild(bundles["a"], tmp_path / "u.zip", resign=OTHER), "--trusted-key", keys)
    assert code == 1 and "unknown key" in out


def test_verdicts_must_follow_from_results(
    bundles: dict[str, Path], keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = json.loads(members(bundles["a"])["results.json"])
    results["scenarios"][0]["verdict"] = "failed"  # summary and certified left as they were
    edited = json.dumps(results).encode()
    code, out = verify(
        capsys, rebuild(bundles["a"], tmp_path / "v.zip", {"results.json": edited}, resign=KEY), "--trusted-key", keys
    )
    assert code == 1 and "verdicts do not follow" in out


def test_predicate_must_agree_with_results(
    bundles: dict[str, Path], keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def lie(statement: dict) -> None:  # type: ignore[type-arg]
        statement["predicate"]["summary"]["passed"] += 1

    tampered = rebuild(bundles["a"], tmp_path / "p.zip", resign=KEY, statement_edit=lie)
    code, out = verify(capsys, tampered, "--trusted-key", keys)
    assert code == 1 and "predicate disagrees with results.json: summary" in out


def test_changed_answer_is_caught_by_rejudging(
    bundles: dict[str, Path], keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = members(bundles["a"])["exchanges.jsonl"].splitlines()
    first = json.loads(lines[0])
    first["answer"]["start_line"] = "500 Internal Server Error"
    lines[0] = json.dumps(first).encode()
    tampered = rebuild(bundles["a"], tmp_path / "r.zip", {"exchanges.jsonl": b"\n".join(lines) + b"\n"}, resign=KEY)
    code, out = verify(capsys, tampered, "--trusted-key", keys)
    assert code == 0, out  # signatures and digests hold: only re-judging can see it
    code, out = verify(capsys, tampered, "--trusted-key", keys, "--rejudge")
    assert code == 1 and "re-judging differs: scenario " + first["scenario"] in out


def test_unreadable_and_unsigned(
    bundles: dict[str, Path], keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    assert verify(capsys, tmp_path / "junk.zip")[0] == 2
    assert verify(capsys, tmp_path / "absent.zip")[0] == 2
    unsigned = rebuild(bundles["a"], tmp_path / "n.zip", {"envelope.json": None})
    code, out = verify(capsys, unsigned)
    assert code == 0 and "unsigned" in out
    code, out = verify(capsys, unsigned, "--trusted-key", keys)
    assert code == 1 and "unsigned bundle" in out
    with zipfile.ZipFile(bundles["a"]) as archive:
        assert archive.testzip() is None
