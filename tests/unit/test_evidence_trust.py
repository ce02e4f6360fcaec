"""The trust list (evidence.md, "Trust list"), the register's suite digests, and their commands."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.catalog import Catalog, read_catalog
from harness.cli import main
from harness.documents import folder_digest
from harness.evidence import TrustList
from harness.evidence.keys import keyid
from harness.evidence.trust import parse_time
from harness.model import CatalogError, UsageError

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))


def pem(key: Ed25519PrivateKey) -> str:
    public = key.public_key()
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def raw_entry(key: Ed25519PrivateKey = KEY, **changes: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "keyid": keyid(key.public_key()),
        "public_key": pem(key),
        "holder": "Lab",
        "may_sign_for": ["*"],
    }
    entry.update(changes)
    return {k: v for k, v in entry.items() if v is not None}


def write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "trust.json"
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return path


def test_a_trust_list_loads_and_covers(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "keys": [
                raw_entry(holder="Example Ltd", may_sign_for=["Example Ltd"], not_before="2026-01-01T00:00:00Z",
                          not_after="2026-12-31T23:59:59.999+01:00"),
                raw_entry(OTHER),
            ]
        },
    )  # fmt: skip
    trust = TrustList.load(path)
    assert len(trust) == 2
    (supplier,) = trust.for_keyid(keyid(KEY.public_key()))
    assert supplier.covers("Example Ltd") and not supplier.covers("Rival plc") and not supplier.covers(None)
    assert supplier.within(parse_time("2026-06-01T00:00:00Z", "t"))
    assert not supplier.within(parse_time("2025-12-31T23:59:59Z", "t"))
    assert not supplier.within(parse_time("2026-12-31T23:00:00Z", "t"))  # 23:59:59.999+01:00 is 22:59:59.999Z
    (lab,) = trust.for_keyid(keyid(OTHER.public_key()))
    assert lab.covers("anyone") and lab.covers(None) and lab.within(dt.datetime(1990, 1, 1, tzinfo=dt.UTC))
    saved = tmp_path / "again.json"
    trust.save(saved)
    assert TrustList.load(saved) == trust


@pytest.mark.parametrize(
    ("document", "needle"),
    [
        ("{", "not JSON"),
        ({"keys": {}}, 'a trust list is an object {"keys": [...]}'),
        ([], 'a trust list is an object {"keys": [...]}'),
        ({"keys": [raw_entry(keyid=keyid(OTHER.public_key()))]}, "is not the SHA-256 of its public_key"),
        ({"keys": [raw_entry(keyid="ABC")]}, "keyid must be 64 lowercase hex digits"),
        ({"keys": [raw_entry(public_key="-----BEGIN PUBLIC KEY-----\nxx\n")]}, "not a PEM public key"),
        ({"keys": [raw_entry(public_key=5)]}, "public_key must be a PEM string"),
        ({"keys": [raw_entry(holder="")]}, "holder must be a non-empty string"),
        ({"keys": [raw_entry(may_sign_for="*")]}, "may_sign_for must be a non-empty list"),
        ({"keys": [raw_entry(may_sign_for=[])]}, "may_sign_for must be a non-empty list"),
        ({"keys": [raw_entry(not_before="2026-01-01")]}, "not_before is not an RFC 3339 date-time"),
        ({"keys": [raw_entry(not_after="2026-01-01T00:00:00")]}, "not_after is not an RFC 3339 date-time"),
        ({"keys": [raw_entry(not_after="2026-13-01T00:00:00Z")]}, "not_after is not a valid date-time"),
        ({"keys": [raw_entry(not_before="2026-02-01T00:00:00Z", not_after="2026-01-01T00:00:00Z")]}, "lies before"),
        ({"keys": [raw_entry(trusted=True)]}, "unknown member 'trusted'"),
        ({"keys": ["x"]}, "keys[0]: not an object"),
    ],
)
def test_bad_trust_lists_are_one_line_usage_errors(tmp_path: Path, document: object, needle: str) -> None:
    with pytest.raises(UsageError) as raised:
        TrustList.load(write(tmp_path, document))
    assert needle in str(raised.value) and "\n" not in str(raised.value)


def test_a_missing_trust_list(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read the trust list"):
        TrustList.load(tmp_path / "absent.json")


def test_single_and_merged(tmp_path: Path) -> None:
    (tmp_path / "lab.pub").write_text(pem(KEY))
    single = TrustList.single(tmp_path / "lab.pub")
    (entry,) = single.entries
    assert entry.may_sign_for == ("*",) and entry.not_before is None and entry.keyid == keyid(KEY.public_key())
    assert TrustList.empty().merged(single).merged(single) == single
    assert not TrustList.empty()


def test_trust_list_add_creates_and_extends(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.pub").write_text(pem(KEY))
    (tmp_path / "b.pub").write_text(pem(OTHER))
    out = tmp_path / "lists" / "trust.json"
    args = ["keys", "trust-list", "add"]
    assert main([*args, str(tmp_path / "a.pub"), "--holder", "Example Ltd", "--may-sign-for", "Example Ltd",
                 "Example Subsidiary", "--not-after", "2027-01-01T00:00:00Z", "--out", str(out)]) == 0  # fmt: skip
    assert main([*args, str(tmp_path / "b.pub"), "--holder", "Lab", "--may-sign-for", "*", "--out", str(out)]) == 0
    document = json.loads(out.read_text())
    assert [e["holder"] for e in document["keys"]] == ["Example Ltd", "Lab"]
    assert document["keys"][0]["may_sign_for"] == ["Example Ltd", "Example Subsidiary"]
    assert document["keys"][0]["not_after"] == "2027-01-01T00:00:00Z" and "not_before" not in document["keys"][0]
    assert len(TrustList.load(out)) == 2
    capsys.readouterr()
    again = main([*args, str(tmp_path / "b.pub"), "--holder", "Lab", "--may-sign-for", "*", "--out", str(out)])
    assert again == 2 and "already on the list" in capsys.readouterr().err
    bad = main([*args, str(tmp_path / "a.pub"), "--holder", "X", "--may-sign-for", "Y", "--not-before", "soon",
                "--out", str(tmp_path / "x.json")])  # fmt: skip
    assert bad == 2 and "not_before is not an RFC 3339 date-time" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_nothing_is_trusted_implicitly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A ``trusted-keys/`` folder beside the bundles is never read: with no option, no key is trusted."""
    import argparse

    from harness.cli.options import add_trust_arguments, trust_from_args

    parser = argparse.ArgumentParser()
    add_trust_arguments(parser)
    (tmp_path / "trusted-keys").mkdir()
    (tmp_path / "trusted-keys" / "k.pub").write_text(pem(KEY))
    assert not trust_from_args(parser.parse_args([]))
    (tmp_path / "k.pub").write_text(pem(KEY))
    path = write(tmp_path, {"keys": [raw_entry(OTHER)]})
    merged = trust_from_args(parser.parse_args(["--trust-list", str(path), "--trusted-key", str(tmp_path / "k.pub")]))
    assert {e.keyid for e in merged} == {keyid(KEY.public_key()), keyid(OTHER.public_key())}


# -- suite digests -----------------------------------------------------------------------------------


def recipe(folder: Path) -> str:
    """evidence.md's recipe, written out again independently of harness.documents."""
    lines = []
    for path in sorted(folder.rglob("*"), key=lambda p: p.relative_to(folder).as_posix()):
        if path.is_file():
            lines.append(f"{path.relative_to(folder).as_posix()}\0{hashlib.sha256(path.read_bytes()).hexdigest()}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def test_every_register_digest_is_the_folders(catalog: Catalog) -> None:
    suites = [suite for versions in catalog.suites.values() for suite in versions.values()]
    assert suites and all(suite.digest is not None for suite in suites), "every bundled suite version is issued"
    for suite in suites:
        assert suite.digest == recipe(Path(suite.directory)) == folder_digest(Path(suite.directory)), suite.ref


def test_the_wheels_copy_gives_the_same_digests(catalog: Catalog, tmp_path: Path) -> None:
    """setup.py copies fixtures/ without __pycache__ into harness/_catalog: nothing a digest covers is left out."""
    for versions in catalog.suites.values():
        for suite in versions.values():
            files = [p for p in Path(suite.directory).rglob("*") if p.is_file()]
            assert not [p for p in files if "__pycache__" in p.parts or p.suffix in (".pyc", ".pyo", ".pyd")]
    copy = tmp_path / "_catalog"
    shutil.copytree(catalog.root, copy, ignore=shutil.ignore_patterns("__pycache__", "*.py[cod]"))
    copied = read_catalog((copy,))
    for name, versions in catalog.suites.items():
        for version, suite in versions.items():
            assert folder_digest(Path(copied.suites[name][version].directory)) == suite.digest


def test_a_bad_register_digest_is_a_catalog_error(catalog: Catalog, tmp_path: Path) -> None:
    copy = tmp_path / "fixtures"
    shutil.copytree(catalog.root, copy)
    register = copy / "suites/lifecycle.yaml"
    text = register.read_text()
    register.write_text(text.replace("digest: {sha256: ", "digest: {sha256: X", 1))
    with pytest.raises(CatalogError, match="digest must be"):
        read_catalog((copy,))


def test_suites_digest_json_and_check(catalog: Catalog, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    assert main(["suites", "--digest", "checks-core@1.0"]) == 0
    assert capsys.readouterr().out == f"digest: {{sha256: {catalog.suite('checks-core@1.0').digest}}}\n"
    assert main(["suites", "--digest", "checks-core"]) == 2
    assert "name the version" in capsys.readouterr().err
    assert main(["suites", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert all(row["issued"] and len(row["digest"]["sha256"]) == 64 for row in rows)
    copy = tmp_path / "fixtures"
    shutil.copytree(catalog.root, copy)
    monkeypatch.setenv("HARNESS_CATALOG", str(copy))
    monkeypatch.delenv("HARNESS_FIXTURES", raising=False)
    assert main(["suites", "--check"]) == 0
    capsys.readouterr()
    scenario = copy / "suites/checks-core/1.0/scenarios/cc-03-person-no-trace.yaml"
    scenario.write_text(scenario.read_text() + "\n")
    assert main(["suites", "--check"]) == 2
    out = capsys.readouterr().out
    assert "checks-core/1.0: digest " in out and "differs from the register's" in out and "checks-core@1.0" in out
