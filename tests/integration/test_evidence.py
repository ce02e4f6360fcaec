"""Evidence 1.1 bundles of real runs, and the one verifier refusing each tampering with its reason.

Every forgery is built as a dishonest supplier would: with its own genuine key (on the trust list for
its own name), re-signing after the edit, so that only the checks of evidence.md can catch it.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.catalog import Catalog, read_catalog
from harness.cli import main
from harness.endpoints import build_app
from harness.evidence import TrustEntry, TrustList, Verifier
from harness.evidence.dsse import envelope, pae
from harness.evidence.keys import keyid
from harness.evidence.trust import parse_time
from tests.conftest import ROOT
from tests.integration.evidence_helpers import SUT, flip, forge, members, rebuild, run_with_evidence

SUPPLIER = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
"""The supplier's own genuine key: on the trust list for "Example Ltd" only."""
LAB = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
"""An accredited lab's key: may sign for any supplier."""
STRANGER = Ed25519PrivateKey.from_private_bytes(bytes(range(2, 34)))


def entry(key: Ed25519PrivateKey, holder: str, *suppliers: str, **dates: str) -> TrustEntry:
    public = key.public_key()
    times = {name: parse_time(value, name) for name, value in dates.items()}
    return TrustEntry(keyid(public), public, holder, suppliers, times.get("not_before"), times.get("not_after"))


TRUST = TrustList((entry(SUPPLIER, "Example Ltd", "Example Ltd"), entry(LAB, "Accredited Lab", "*")))


@pytest.fixture(scope="module")
def trust_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("trust") / "trust.json"
    TRUST.save(path)
    return path


@pytest.fixture(scope="module")
def bundles(catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bundles")

    async def runs() -> dict[str, Path]:
        app = build_app(catalog)
        return {
            "a": await run_with_evidence(catalog, app, folder / "a", key=SUPPLIER),
            "b": await run_with_evidence(catalog, build_app(catalog), folder / "b", key=SUPPLIER),
            "esn": await run_with_evidence(catalog, build_app(catalog), folder / "c", suite="esn-core", key=LAB),
            "intel": await run_with_evidence(catalog, build_app(catalog), folder / "d", suite="intel-core", key=LAB),
            "nosut": await run_with_evidence(catalog, build_app(catalog), folder / "e", key=LAB, sut=None),
            "practice": await run_with_evidence(
                catalog, build_app(catalog), folder / "f", key=SUPPLIER, certifying=False
            ),
        }

    return asyncio.run(runs())


@pytest.fixture(scope="module")
def verifier(catalog: Catalog) -> Verifier:
    return Verifier(catalog, TRUST)


def verify(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    code = main(["verify", *map(str, args)])
    out = capsys.readouterr()
    return code, (out.out + out.err).strip()


def reason(verifier: Verifier, bundle: Path, rejudge: bool = False) -> str:
    return verifier.verify(bundle, rejudge=rejudge).line()


# -- what a genuine run leaves behind ---------------------------------------------------------------------


def test_bundle_layout_and_statement_1_1(bundles: dict[str, Path], catalog: Catalog) -> None:
    content = members(bundles["a"])
    assert {"statement.json", "envelope.json", "results.json", "exchanges.jsonl", "junit.xml"} <= set(content)
    assert "suite/suite.yaml" in content
    statement = json.loads(content["statement.json"])
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "urn:netcode:certification-run:1.1"
    assert {s["name"] for s in statement["subject"]} == set(content) - {"statement.json", "envelope.json"}
    predicate = statement["predicate"]
    assert predicate["run_id"] == bundles["a"].name.removesuffix(".evidence.zip")
    issued = catalog.suite("checks-core@1.0")
    assert predicate["suite"] == {
        "name": "checks-core",
        "version": "1.0",
        "status": "current",
        "document": "queries@1.0",
        "digest": {"sha256": issued.digest},
    }
    assert predicate["sut"] == SUT.as_dict() and predicate["certifying"] is True and predicate["certified"] is True
    results = json.loads(content["results.json"])
    for field in ("run_id", "sut", "certifying", "certified", "summary", "started", "finished"):
        assert results[field] == predicate[field], field
    assert [results["target"]] == predicate["target"]
    signed = json.loads(content["envelope.json"])
    assert base64.b64decode(signed["payload"]) == content["statement.json"]
    assert signed["signatures"][0]["keyid"] == keyid(SUPPLIER.public_key())
    SUPPLIER.public_key().verify(
        base64.b64decode(signed["signatures"][0]["sig"]), pae(signed["payloadType"], content["statement.json"])
    )


def test_pae_encoding() -> None:
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_genuine_bundles_verify_and_rejudge(bundles: dict[str, Path], verifier: Verifier) -> None:
    for name in ("a", "esn", "intel"):
        outcome = verifier.verify(bundles[name], rejudge=True)
        assert outcome.line() == "valid", (name, outcome.line())
        assert outcome.bundle is not None and outcome.bundle.certifies and outcome.bundle.rejudged
    bundle = verifier.verify(bundles["a"]).bundle
    assert bundle is not None and bundle.signer is not None and bundle.signer.holder == "Example Ltd"
    assert bundle.sut == SUT and bundle.document == "queries@1.0" and len(bundle.scenarios) == 18


def test_verify_command_exit_codes_and_one_line(
    bundles: dict[str, Path], trust_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = verify(capsys, bundles["a"], bundles["esn"], "--trust-list", trust_file, "--rejudge")
    assert code == 0 and out.count("valid (signed by") == 2 and len(out.splitlines()) == 2, out
    code, out = verify(capsys, bundles["a"])  # nothing trusted implicitly
    assert code == 1 and "invalid: unknown key" in out
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    code, out = verify(capsys, tmp_path / "junk.zip", "--trust-list", trust_file)
    assert code == 2 and "unreadable: not a ZIP archive" in out and len(out.splitlines()) == 1
    code, out = verify(capsys, tmp_path / "absent.zip")
    assert code == 2 and "unreadable: no such file" in out
    code, out = verify(capsys, bundles["a"], "--trust-list", trust_file, "--json")
    report = json.loads(out)["bundles"][0]
    assert code == 0 and report["certifies"] is True and report["signer"]["holder"] == "Example Ltd"


def test_the_opened_bundle_streams_what_was_verified(bundles: dict[str, Path], verifier: Verifier) -> None:
    with verifier.open(bundles["a"]) as opened:
        assert opened.outcome.valid
        records = list(opened.exchanges())
    lines = members(bundles["a"])["exchanges.jsonl"].splitlines()
    assert len(records) == len(lines) and records[0] == json.loads(lines[0])


# -- check 1: the ZIP ------------------------------------------------------------------------------------


def with_member(bundle: Path, out: Path, name: str, data: bytes = b"x", stand_in: str | None = None) -> Path:
    """``bundle`` plus a member ``name`` (written as ``stand_in`` of the same length, then patched in the
    bytes: zipfile will not write a NUL in a name)."""
    shutil.copy(bundle, out)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(stand_in or name, data)
    if stand_in is not None:
        raw = out.read_bytes()
        assert len(stand_in) == len(name)
        out.write_bytes(raw.replace(stand_in.encode(), name.encode()))
    return out


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../evil", "has a '..' segment"),
        ("/".join(["suite", os.pardir, os.pardir, "evil"]), "has a '..' segment"),
        ("/etc/evil", "is an absolute path"),
        ("suite\\evil", "has a backslash in its name"),
        ("suite/ev\0l", "has a NUL in its name"),
        ("statement.json", "member statement.json appears twice"),
        ("results.json", "member results.json appears twice"),
    ],
)
def test_member_name_rules(
    bundles: dict[str, Path], verifier: Verifier, tmp_path: Path, name: str, expected: str
) -> None:
    stand_in = name.replace("\0", "Q") if "\0" in name else None
    with pytest.warns(UserWarning) if name in ("statement.json", "results.json") else _nothing():
        out = with_member(bundles["a"], tmp_path / "n.zip", name, b'{"_type": "x"}', stand_in)
    line = reason(verifier, out)
    assert line.startswith("invalid: ") and expected in line, line


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_directory_entries(bundles: dict[str, Path], verifier: Verifier, tmp_path: Path) -> None:
    empty = with_member(bundles["a"], tmp_path / "d.zip", "suite/extra/", b"")
    assert reason(verifier, empty) == "valid"  # an empty directory entry is no member to list
    loaded = with_member(bundles["a"], tmp_path / "l.zip", "suite/extra/", b"hidden payload")
    assert reason(verifier, loaded) == "invalid: directory entry suite/extra/ carries data"


def stored(bundle: Path, out: Path) -> Path:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members(bundle).items():
            archive.writestr(name, data)
    return out


def test_corrupt_zips_are_unreadable_never_a_crash(
    bundles: dict[str, Path], verifier: Verifier, trust_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = bundles["a"].read_bytes()
    (tmp_path / "cut.zip").write_bytes(raw[: len(raw) // 2])
    assert reason(verifier, tmp_path / "cut.zip").startswith("unreadable: not a ZIP archive")
    # bad CRC: one byte of a stored member's data changed, its recorded CRC-32 kept
    plain = stored(bundles["a"], tmp_path / "plain.zip")
    data = plain.read_bytes()
    junit = members(bundles["a"])["junit.xml"]
    at = data.index(junit[:40]) + 20
    (tmp_path / "crc.zip").write_bytes(data[:at] + bytes([data[at] ^ 0x20]) + data[at + 1 :])
    assert (
        reason(verifier, tmp_path / "crc.zip")
        == "unreadable: member junit.xml is corrupt (Bad CRC-32 for file 'junit.xml')"
    )
    # bad deflate data: the compressed stream of a member replaced by bytes that are no deflate stream
    with zipfile.ZipFile(bundles["a"]) as archive:
        info = archive.getinfo("junit.xml")
    header = raw[info.header_offset : info.header_offset + 30]
    start = info.header_offset + 30 + int.from_bytes(header[26:28], "little") + int.from_bytes(header[28:30], "little")
    broken = raw[:start] + b"\xff" * 8 + raw[start + 8 :]
    (tmp_path / "deflate.zip").write_bytes(broken)
    line = reason(verifier, tmp_path / "deflate.zip")
    assert line.startswith("unreadable: member junit.xml is corrupt (") and "invalid" in line.lower(), line
    code, out = verify(capsys, tmp_path / "deflate.zip", tmp_path / "crc.zip", "--trust-list", trust_file)
    assert code == 2 and len(out.splitlines()) == 2 and "Traceback" not in out


def test_bounds(bundles: dict[str, Path], verifier: Verifier, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.evidence import archive as module  # where check 1 and its bounds live

    monkeypatch.setattr(module, "MAX_MEMBERS", 5)
    assert reason(verifier, bundles["a"]) == "invalid: more than 5 members"
    monkeypatch.setattr(module, "MAX_MEMBERS", 100_000)
    bomb = with_member(bundles["a"], tmp_path / "bomb.zip", "suite/zeros.bin", b"\0" * (4 << 20))
    monkeypatch.setattr(module, "MAX_RATIO", 100)
    assert reason(verifier, bomb) == "invalid: member suite/zeros.bin: compression ratio over 100"
    monkeypatch.setattr(module, "MAX_MEMBER_BYTES", 1 << 20)
    assert reason(verifier, bomb) == "invalid: member suite/zeros.bin is larger than 1048576 bytes"
    monkeypatch.setattr(module, "MAX_MEMBER_BYTES", 4 << 30)
    monkeypatch.setattr(module, "MAX_RATIO", 1100)
    monkeypatch.setattr(module, "MAX_TOTAL_BYTES", 1 << 20)
    assert reason(verifier, bomb) == "invalid: members larger than 1048576 bytes in all"
    monkeypatch.setattr(module, "MAX_TOTAL_BYTES", 8 << 30)
    monkeypatch.setattr(module, "MAX_SMALL_BYTES", 100)
    assert reason(verifier, bundles["a"]) == "invalid: member envelope.json is larger than 100 bytes"


# -- check 2: the signer -------------------------------------------------------------------------------


def test_untrusted_signer(bundles: dict[str, Path], verifier: Verifier, tmp_path: Path) -> None:
    forged = rebuild(bundles["a"], tmp_path / "u.zip", resign=STRANGER)
    assert reason(verifier, forged) == f"invalid: unknown key: signed by {keyid(STRANGER.public_key())[:16]}, " \
        "which is not on the trust list"  # fmt: skip
    assert reason(Verifier(verifier.catalog, TrustList.empty()), bundles["a"]).startswith("invalid: unknown key")


def test_signer_not_covering_the_supplier(bundles: dict[str, Path], verifier: Verifier, tmp_path: Path) -> None:
    # A competitor's genuine key signing a run that declares another supplier's product
    competitor = TrustList((entry(STRANGER, "Rival plc", "Rival plc"),)).merged(TRUST)
    forged = forge(bundles["a"], tmp_path / "c.zip", STRANGER)
    line = Verifier(verifier.catalog, competitor).verify(forged).line()
    assert line == "invalid: signer Rival plc may not sign for supplier Example Ltd", line
    # the supplier's own key may not sign for a run with no declared system either
    undeclared = forge(bundles["nosut"], tmp_path / "n.zip", SUPPLIER)
    assert reason(verifier, undeclared) == "invalid: signer Example Ltd may not sign for a run with no declared system"


def test_time_of_signing(bundles: dict[str, Path], catalog: Catalog, tmp_path: Path) -> None:
    finished = json.loads(members(bundles["a"])["results.json"])["finished"]
    signed_at = parse_time(finished, "finished")
    later = (signed_at + dt.timedelta(days=1)).isoformat()
    earlier = (signed_at - dt.timedelta(days=1)).isoformat()
    expired = TrustList((entry(SUPPLIER, "Example Ltd", "Example Ltd", not_after=earlier),))
    line = Verifier(catalog, expired).verify(bundles["a"]).line()
    assert line.startswith(f"invalid: signer Example Ltd: finished {finished} is outside the key's dates"), line
    early = TrustList((entry(SUPPLIER, "Example Ltd", "Example Ltd", not_before=later),))
    assert "outside the key's dates" in Verifier(catalog, early).verify(bundles["a"]).line()
    window = TrustList((entry(SUPPLIER, "Example Ltd", "Example Ltd", not_before=earlier, not_after=later),))
    assert Verifier(catalog, window).verify(bundles["a"]).line() == "valid"

    # A supplier dating its run in the future (to order it after a competitor's) is refused.
    def future(document: dict[str, Any]) -> None:
        document["finished"] = "2099-01-01T00:00:00.000Z"

    forged = forge(bundles["a"], tmp_path / "f.zip", SUPPLIER, future, future)
    line = Verifier(catalog, TRUST).verify(forged).line()
    assert line == "invalid: signer: finished 2099-01-01T00:00:00.000Z lies in the verifier's future", line


# -- check 3: types ------------------------------------------------------------------------------------


def test_payload_and_statement_types(bundles: dict[str, Path], verifier: Verifier, tmp_path: Path) -> None:
    statement = members(bundles["a"])["statement.json"]
    other = json.dumps(envelope(statement, SUPPLIER, "application/json")).encode()
    forged = rebuild(bundles["a"], tmp_path / "p.zip", {"envelope.json": other})
    assert reason(verifier, forged) == "invalid: envelope: payloadType application/json is not " \
        "application/vnd.in-toto+json"  # fmt: skip

    def retype(statement: dict[str, Any]) -> None:
        statement["predicateType"] = "urn:netcode:certification-run:9"

    forged = rebuild(bundles["a"], tmp_path / "t.zip", resign=SUPPLIER, statement_edit=retype)
    assert reason(verifier, forged) == "invalid: statement.json: predicateType urn:netcode:certification-run:9 " \
        "is not urn:netcode:certification-run:1.1"  # fmt: skip
    flipped = rebuild(bundles["a"], tmp_path / "s.zip", {"statement.json": flip(statement)})
    assert reason(verifier, flipped) == "invalid: signed payload differs from statement.json"


def test_a_1_0_bundle_is_read_under_1_1_rules(bundles: dict[str, Path], verifier: Verifier, tmp_path: Path) -> None:
    def older(statement: dict[str, Any]) -> None:
        statement["predicateType"] = "urn:netcode:certification-run:1.0"
        predicate = statement["predicate"]
        for name in ("run_id", "certifying"):
            del predicate[name]
        predicate["suite"]["document_version"] = None
        del predicate["suite"]["document"]

    forged = rebuild(bundles["a"], tmp_path / "old.zip", resign=SUPPLIER, statement_edit=older)
    assert reason(verifier, forged) == (
        "invalid: predicate lacks run_id, suite.document, certifying (a 1.0 bundle read under evidence 1.1)"
    )


# -- check 4: subjects ---------------------------------------------------------------------------------


def test_flipping_one_byte_of_any_member_is_detected(
    bundles: dict[str, Path], verifier: Verifier, tmp_path: Path
) -> None:
    for name, data in members(bundles["a"]).items():
        line = reason(verifier, rebuild(bundles["a"], tmp_path / "t.zip", {name: flip(data)}))
        if name == "statement.json":
            assert line == "invalid: signed payload differs from statement.json"
        elif name == "envelope.json":
            assert line.startswith("invalid: "), line
        else:
            assert line == f"invalid: digest mismatch: {name}", line


def test_added_and_removed_members(bundles: dict[str, Path], verifier: Verifier, tmp_path: Path) -> None:
    added = rebuild(bundles["a"], tmp_path / "add.zip", {"extra.txt": b"x"})
    assert reason(verifier, added) == "invalid: member added: extra.txt is not a subject of the statement"
    removed = rebuild(bundles["a"], tmp_path / "rm.zip", {"junit.xml": None})
    assert reason(verifier, removed) == "invalid: member missing: junit.xml is a subject but not in the bundle"
    swapped = rebuild(bundles["a"], tmp_path / "s.zip", {"results.json": members(bundles["b"])["results.json"]})
    assert reason(verifier, swapped) == "invalid: digest mismatch: results.json"


# -- check 5: predicate and results, JSON types ---------------------------------------------------------


def set_field(path: str, value: Any) -> Any:
    def edit(document: dict[str, Any]) -> None:
        node = document
        *parents, last = path.split(".")
        for part in parents:
            node = node[part]
        node[last] = value

    return edit


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("certified", "yes", "certified is a string (yes), not a boolean"),
        ("certified", 1, "certified is a number (1), not a boolean"),
        ("certifying", "true", "certifying is a string (true), not a boolean"),
        ("summary.passed", True, "summary.passed is a boolean (true), not a count"),
        ("summary.passed", "18", "summary.passed is a string (18), not a count"),
        ("sut", "Example Ltd", "sut is a string, not an object or null"),
        ("sut.supplier", 7, "sut.supplier is a number, not a non-empty string"),
        ("run_id", 12, "run_id is a number (12), not a string"),
        ("target", "http://127.0.0.1/", "target is a string (http://127.0.0.1/), not a list of URLs"),
        ("suite.version", 1.0, "suite.version is a number (1.0), not a string"),
        ("started", "yesterday", 'started is not an RFC 3339 date-time with an offset: "yesterday"'),
        ("started", "2099-01-01T00:00:00Z", "started 2099-01-01T00:00:00Z is after finished "),
    ],
)
def test_wrong_json_types_in_the_predicate(
    bundles: dict[str, Path], verifier: Verifier, tmp_path: Path, path: str, value: Any, expected: str
) -> None:
    forged = forge(bundles["a"], tmp_path / "w.zip", SUPPLIER, predicate_edit=set_field(path, value))
    assert reason(verifier, forged).startswith(f"invalid: predicate: {expected}")


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("certified", "yes", "certified is a string (yes), not a boolean"),
        ("certifying", 0, "certifying is a number (0), not a boolean"),
        ("interrupted", "no", "interrupted is a string (no), not a boolean"),
        ("scenarios", {}, "scenarios is an object ({}), not a list"),
        ("summary.failed", 0.0, "summary.failed is a number (0.0), not a count"),
        ("target", ["http://127.0.0.1/"], "target is a list"),
    ],
)
def test_wrong_json_types_in_results(
    bundles: dict[str, Path], verifier: Verifier, tmp_path: Path, path: str, value: Any, expected: str
) -> None:
    forged = forge(bundles["a"], tmp_path / "w.zip", SUPPLIER, results_edit=set_field(path, value))
    line = reason(verifier, forged)
    assert line.startswith(f"invalid: results.json: {expected}"), line


def test_wrong_json_types_in_scenarios_statement_and_envelope(
    bundles: dict[str, Path], verifier: Verifier, tmp_path: Path
) -> None:
    def level(results: dict[str, Any]) -> None:
        results["scenarios"][0]["level"] = 1

    forged = forge(bundles["a"], tmp_path / "l.zip", SUPPLIER, results_edit=level)
    assert reason(verifier, forged) == "invalid: results.json: scenarios[0].level is a number, not a string"
    not_json = rebuild(bundles["a"], tmp_path / "r.zip", {"results.json": b"[1, 2"}, resign=SUPPLIER)
    assert reason(verifier, not_json) == "invalid: results.json is not JSON"
    a_list = rebuild(bundles["a"], tmp_path / "r2.zip", {"results.json": b"[]"}, resign=SUPPLIER)
    assert reason(verifier, a_list) == "invalid: results.json is not a JSON object"
    payload = {"payloadType": "application/vnd.in-toto+json", "payload": 5, "signatures": []}
    odd = rebuild(bundles["a"], tmp_path / "e.zip", {"envelope.json": json.dumps(payload).encode()})
    assert reason(verifier, odd) == "invalid: envelope: payload is not a string"
    sig = json.loads(members(bundles["a"])["envelope.json"])
    sig["signatures"][0]["keyid"] = ["x"]
    odd = rebuild(bundles["a"], tmp_path / "k.zip", {"envelope.json": json.dumps(sig).encode()})
    assert reason(verifier, odd) == "invalid: envelope: a signature is not an object with a keyid string"

    def subject(statement: dict[str, Any]) -> None:
        statement["subject"][0]["digest"] = {"sha256": 5}

    odd = rebuild(bundles["a"], tmp_path / "s.zip", resign=SUPPLIER, statement_edit=subject)
    assert reason(verifier, odd) == "invalid: statement.json: a subject has no name and sha256 strings"
    deep = b"[" * 100_000 + b"]" * 100_000
    nested = rebuild(bundles["a"], tmp_path / "d.zip", {"results.json": deep}, resign=SUPPLIER)
    assert reason(verifier, nested) == "invalid: results.json is not JSON"


def test_exchange_records_of_the_wrong_type_when_rejudging(
    bundles: dict[str, Path], verifier: Verifier, tmp_path: Path
) -> None:
    lines = members(bundles["a"])["exchanges.jsonl"].splitlines()
    for bad, expected in ((b"[1]", "is not an object"), (b"{nope", "is not JSON")):
        changed = b"\n".join([lines[0], bad, *lines[1:]]) + b"\n"
        forged = rebuild(bundles["a"], tmp_path / "x.zip", {"exchanges.jsonl": changed}, resign=SUPPLIER)
        assert reason(verifier, forged, rejudge=True) == f"invalid: exchanges.jsonl line 2 {expected}"
    record = json.loads(lines[0])
    record["answer" if "answer" in record else "response"] = {"start_line": 200, "headers": "x", "body": 5}
    changed = b"\n".join([json.dumps(record).encode(), *lines[1:]]) + b"\n"
    forged = rebuild(bundles["a"], tmp_path / "y.zip", {"exchanges.jsonl": changed}, resign=SUPPLIER)
    line = reason(verifier, forged, rejudge=True)
    assert line.startswith("invalid: re-judging"), line


def test_predicate_must_agree_with_results(bundles: dict[str, Path], verifier: Verifier, tmp_path: Path) -> None:
    cases = [
        ("summary.passed", 17, "summary"),
        ("run_id", "00000000-0000-4000-8000-000000000000", "run_id"),
        ("sut.product", "Another", "sut"),
        ("target", ["http://elsewhere.invalid/"], "target"),
        ("certifying", False, "certified"),  # not certifying: certified first disagrees in its own field
    ]
    for path, value, what in cases:
        forged = forge(bundles["a"], tmp_path / "p.zip", SUPPLIER, predicate_edit=set_field(path, value))
        line = reason(verifier, forged)
        if what == "certified":
            assert line == "invalid: predicate disagrees with results.json: certifying false != true", line
        else:
            assert line.startswith(f"invalid: predicate disagrees with results.json: {what} "), line


# -- check 6: issued suites ----------------------------------------------------------------------------


def test_a_run_relabelled_as_another_suite(bundles: dict[str, Path], catalog: Catalog, tmp_path: Path) -> None:
    verifier = Verifier(catalog, TRUST)
    relabel = set_field("suite.name", "checks-core")

    def as_checks_core(document: dict[str, Any]) -> None:
        relabel(document)
        document["suite"]["version"] = "1.0"

    # intel-core's genuine run, labelled checks-core@1.0 and re-signed by the lab's own key
    forged = forge(bundles["intel"], tmp_path / "r.zip", LAB, as_checks_core, as_checks_core)
    assert reason(verifier, forged) == "invalid: suite checks-core@1.0: digest differs from the issued suite's"
    issued = catalog.suite("checks-core@1.0")

    def with_digest(predicate: dict[str, Any]) -> None:
        as_checks_core(predicate)
        predicate["suite"]["digest"] = {"sha256": issued.digest}
        predicate["suite"]["document"] = "queries@1.0"

    forged = forge(bundles["intel"], tmp_path / "d.zip", LAB, as_checks_core, with_digest)
    first = json.loads(members(bundles["intel"])["results.json"])["scenarios"][0]["id"]
    assert reason(verifier, forged) == (
        f"invalid: results.json: scenario {first} is not in the issued suite checks-core@1.0"
    )

    def wrong_document(predicate: dict[str, Any]) -> None:
        predicate["suite"]["document"] = "queries@2.0"

    forged = forge(bundles["a"], tmp_path / "doc.zip", SUPPLIER, predicate_edit=wrong_document)
    assert reason(verifier, forged) == (
        "invalid: suite checks-core@1.0: document queries@2.0 is not the issued queries@1.0"
    )


def own_catalog(folder: Path) -> Path:
    """A supplier's own catalog folder: checks-core's data set and one easy scenario, as suite ``mine@1.0``."""
    target = folder / "suites" / "mine" / "1.0"
    (target / "scenarios").mkdir(parents=True)
    source = ROOT / "fixtures/suites/checks-core/1.0"
    manifest = (source / "suite.yaml").read_text(encoding="utf-8").replace("name: checks-core", "name: mine")
    (target / "suite.yaml").write_text(manifest, encoding="utf-8")
    shutil.copy(source / "scenarios/cc-03-person-no-trace.yaml", target / "scenarios")
    return folder


def test_a_suppliers_own_suite_is_not_issued(catalog: Catalog, tmp_path: Path) -> None:
    mine = own_catalog(tmp_path / "mine")
    theirs = read_catalog((catalog.root, mine))
    assert theirs.suite("mine@1.0").digest is None
    bundle = asyncio.run(run_with_evidence(theirs, build_app(catalog), tmp_path / "r", suite="mine", key=SUPPLIER))
    expected = "invalid: suite mine@1.0 is not issued (not in the verifier's register)"
    assert reason(Verifier(catalog, TRUST), bundle) == expected
    # with the supplier's folder added to the verifier's own catalog (--catalog), it is still not issued
    assert reason(Verifier(theirs, TRUST), bundle) == (
        "invalid: suite mine@1.0 is not issued (the register holds no digest for it)"
    )


def test_a_changed_copy_of_the_issued_suite(bundles: dict[str, Path], catalog: Catalog, tmp_path: Path) -> None:
    """The verifier's own folder must still give the register's digest (an edited install issues nothing)."""
    copy = tmp_path / "fixtures"
    shutil.copytree(catalog.root, copy)
    edited = read_catalog((copy,))
    assert edited.suite("checks-core@1.0").digest == catalog.suite("checks-core@1.0").digest
    assert Verifier(edited, TRUST).verify(bundles["a"]).line() == "valid"  # a copy (as the wheel makes) agrees
    scenario = copy / "suites/checks-core/1.0/scenarios/cc-03-person-no-trace.yaml"
    scenario.write_text(scenario.read_text(encoding="utf-8").replace("level: MUST", "level: SHOULD"))
    line = Verifier(read_catalog((copy,)), TRUST).verify(bundles["a"]).line()
    assert line == "invalid: suite checks-core@1.0: the verifier's own folder no longer gives the register's digest"


# -- check 7: verdicts follow, levels from the issued suite ---------------------------------------------


def fail_first(document: dict[str, Any], *, level: str | None = None, keep: bool = True) -> None:
    """Fail the first scenario in results (or the summary alone, for the predicate); certified left true."""
    if "scenarios" in document:
        scenario = document["scenarios"][0]
        scenario["verdict"] = "failed"
        if level is not None:
            scenario["level"] = level
        if not keep:
            document["scenarios"].pop(0)
    document["summary"]["passed"] -= 1
    if keep:
        document["summary"]["failed"] += 1


def test_a_must_relabelled_should(bundles: dict[str, Path], verifier: Verifier, tmp_path: Path) -> None:
    first = json.loads(members(bundles["a"])["results.json"])["scenarios"][0]["id"]
    forged = forge(bundles["a"], tmp_path / "m.zip", SUPPLIER, lambda d: fail_first(d, level="SHOULD"), fail_first)
    assert reason(verifier, forged) == (
        f"invalid: results.json: scenario {first} is SHOULD there, MUST in the issued suite checks-core@1.0"
    )
    # the level left alone, the failure kept, certified still claimed
    forged = forge(bundles["a"], tmp_path / "c.zip", SUPPLIER, fail_first, fail_first)
    assert reason(verifier, forged) == (
        f"invalid: verdicts do not follow: certified is true but rule 9 gives false (MUST scenario {first} failed)"
    )


def test_a_failed_scenario_removed(bundles: dict[str, Path], verifier: Verifier, tmp_path: Path) -> None:
    first = json.loads(members(bundles["a"])["results.json"])["scenarios"][0]["id"]
    forged = forge(
        bundles["a"],
        tmp_path / "r.zip",
        SUPPLIER,
        lambda d: fail_first(d, keep=False),
        lambda d: fail_first(d, keep=False),
    )
    assert reason(verifier, forged) == (
        f"invalid: verdicts do not follow: certified is true but rule 9 gives false (MUST scenario {first} missing)"
    )
    # and from the bundle's own suite/ too: that copy is never read for judging
    name = next(n for n in members(bundles["a"]) if n.startswith("suite/scenarios/"))
    forged = forge(bundles["a"], tmp_path / "s.zip", SUPPLIER, change={name: None})
    assert reason(verifier, forged, rejudge=True) == "valid"


def test_summary_must_follow(bundles: dict[str, Path], verifier: Verifier, tmp_path: Path) -> None:
    def verdict(results: dict[str, Any]) -> None:
        results["scenarios"][0]["verdict"] = "failed"

    forged = forge(bundles["a"], tmp_path / "v.zip", SUPPLIER, results_edit=verdict)
    assert reason(verifier, forged).startswith("invalid: verdicts do not follow: summary ")


def test_certified_only_when_certifying_and_declared(
    bundles: dict[str, Path], verifier: Verifier, tmp_path: Path
) -> None:
    claim = set_field("certified", True)
    forged = forge(bundles["practice"], tmp_path / "p.zip", SUPPLIER, claim, claim)
    assert reason(verifier, forged) == (
        "invalid: verdicts do not follow: certified is true but rule 9 gives false (the run is not certifying)"
    )
    forged = forge(bundles["nosut"], tmp_path / "n.zip", LAB, claim, claim)
    assert reason(verifier, forged) == (
        "invalid: verdicts do not follow: certified is true but rule 9 gives false (no system under test declared)"
    )


def test_genuine_runs_that_do_not_certify_are_valid(bundles: dict[str, Path], verifier: Verifier) -> None:
    for name in ("practice", "nosut"):
        outcome = verifier.verify(bundles[name], rejudge=True)
        assert outcome.line() == "valid", (name, outcome.line())
        assert outcome.bundle is not None and not outcome.bundle.certified and not outcome.bundle.certifies
    practice = verifier.verify(bundles["practice"]).bundle
    assert practice is not None and practice.certifying is False


# -- check 8: re-judging -------------------------------------------------------------------------------


def test_changed_answer_is_caught_by_rejudging(bundles: dict[str, Path], verifier: Verifier, tmp_path: Path) -> None:
    lines = members(bundles["a"])["exchanges.jsonl"].splitlines()
    first = json.loads(lines[0])
    first["answer" if "answer" in first else "response"]["start_line"] = "HTTP/1.1 500 Internal Server Error"
    lines[0] = json.dumps(first).encode()
    changed = b"\n".join(lines) + b"\n"
    forged = rebuild(bundles["a"], tmp_path / "r.zip", {"exchanges.jsonl": changed}, resign=SUPPLIER)
    assert reason(verifier, forged) == "valid"  # signatures and digests hold: only re-judging can see it
    line = reason(verifier, forged, rejudge=True)
    assert line.startswith(f"invalid: re-judging differs: scenario {first['scenario']}"), line


def test_rejudging_needs_every_scenario_of_the_issued_suite(
    bundles: dict[str, Path], verifier: Verifier, tmp_path: Path
) -> None:
    # a passed SHOULD scenario removed: summary and certified still follow, but the run is not whole
    results = json.loads(members(bundles["a"])["results.json"])
    should = next(s for s in results["scenarios"] if s["level"] == "SHOULD")

    def drop(document: dict[str, Any]) -> None:
        if "scenarios" in document:
            document["scenarios"] = [s for s in document["scenarios"] if s["id"] != should["id"]]
        document["summary"]["passed"] -= 1

    forged = forge(bundles["a"], tmp_path / "d.zip", SUPPLIER, drop, drop)
    assert reason(verifier, forged) == "valid"
    assert reason(verifier, forged, rejudge=True) == (
        f"invalid: re-judging: scenario {should['id']} of the issued suite checks-core@1.0 is not in results.json"
    )


def test_the_verifier_judges_with_the_issued_suite_never_the_bundles_copy(
    bundles: dict[str, Path], verifier: Verifier, tmp_path: Path
) -> None:
    """A weaker scenario file inside the bundle changes nothing: re-judging reads the issued suite."""
    content = members(bundles["a"])
    name = next(n for n in content if n.startswith("suite/scenarios/"))
    weaker = b"id: CC-XX\ntitle: nothing\nlevel: SHOULD\nsteps: []\n"
    forged = forge(bundles["a"], tmp_path / "w.zip", SUPPLIER, change={name: weaker})
    assert reason(verifier, forged, rejudge=True) == "valid"
    seen: list[str] = []

    def spy(catalog: Catalog, suite: Any, target: str, records: Any, results: Any) -> list[str]:
        seen.append(suite.directory)
        return []

    Verifier(verifier.catalog, TRUST, rejudger=spy).verify(forged, rejudge=True)
    assert seen == [verifier.catalog.suite("checks-core@1.0").directory]


def test_members_that_overlap(bundles: dict[str, Path], verifier: Verifier, tmp_path: Path) -> None:
    """Two central-directory entries naming the same stretch of data: refused before anything is inflated."""
    raw = bytearray(bundles["a"].read_bytes())
    with zipfile.ZipFile(bundles["a"]) as archive:
        infos = archive.infolist()
    first, second = infos[0], infos[1]
    central = raw.index(b"PK\x01\x02" + raw[raw.index(b"PK\x01\x02") + 4 : raw.index(b"PK\x01\x02") + 8])
    entry = raw.find(second.filename.encode(), central) - 46  # the central entry of the second member
    assert raw[entry : entry + 4] == b"PK\x01\x02"
    raw[entry + 42 : entry + 46] = first.header_offset.to_bytes(4, "little")
    (tmp_path / "o.zip").write_bytes(bytes(raw))
    line = reason(verifier, tmp_path / "o.zip")
    assert line == f"invalid: members {first.filename} and {second.filename} overlap", line
