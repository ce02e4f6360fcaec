"""Every command that prints what a bundle holds escapes its control characters (issue 21, item 9).

Tried as a dishonest supplier would: genuine runs of its product declared under a name holding a terminal
escape (ESC [ 2 J clears the screen) and a carriage return (overwrites the line), one of them re-signed with
its own key after putting the same bytes into a failure's message and answer, a file name holding them too,
and a lab on the trust list whose holder name holds them. No raw control byte reaches stdout or stderr of
``verify``, ``report --html``, ``runs``, ``certificates``, ``matrix``, ``can-exchange``, ``catalogue build``
or ``diff``, and the text is still there, escaped (``\\x1b[2J\\x0d``), or as the same JSON value.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.catalog import Catalog
from harness.cli import main
from harness.endpoints import build_app
from harness.evidence import TrustEntry, TrustList
from harness.evidence.bundle import Sut
from harness.evidence.keys import keyid
from harness.reporting import printable, printable_json
from tests.integration.broken_suppliers import build_broken
from tests.integration.evidence_helpers import flip, forge, members, rebuild, run_with_evidence

HOSTILE = "\x1b[2J\r"
SHOWN = "\\x1b[2J\\x0d"
EVIL = Sut(f"Evil{HOSTILE}Ltd", f"Force{HOSTILE}RMS", "4.2")
MESSAGE = f"the SUT said {HOSTILE}[1/1] PASS forged"
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""What must never reach a terminal: C0 (but tab and line feed, which end our own lines), DEL, C1,
line separators and bidirectional controls."""


def _hostile_failures(results: dict[str, Any]) -> None:
    for scenario in results["scenarios"]:
        for failure in scenario["failures"]:
            failure["message"] = MESSAGE
            failure["actual"] = f"500{HOSTILE}"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, catalog: Catalog) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("hostile")
    key = Ed25519PrivateKey.generate()

    async def runs() -> tuple[Path, Path]:
        broken = build_broken(catalog, "missing-location")
        return (
            await run_with_evidence(catalog, build_app(catalog), folder / "pass", "intel-core", key, EVIL),
            await run_with_evidence(catalog, broken, folder / "fail", "intel-core", key, EVIL),
        )

    passed, failing = asyncio.run(runs())
    forged = forge(failing, folder / f"fail{HOSTILE}.evidence.zip", key, results_edit=_hostile_failures)
    results = json.loads(members(failing)["results.json"])
    _hostile_failures(results)  # not re-signed: the digests no longer match (invalid)
    bad = rebuild(failing, folder / f"bad{HOSTILE}.evidence.zip", {"results.json": json.dumps(results).encode()})
    corrupt = folder / f"corrupt{HOSTILE}.evidence.zip"
    corrupt.write_bytes(flip(passed.read_bytes()))  # not a readable ZIP (unreadable)
    trust = folder / "trust.json"
    TrustList((TrustEntry(keyid(key.public_key()), key.public_key(), f"Lab{HOSTILE}plc", ("*",)),)).save(trust)
    return {"pass": passed, "fail": forged, "bad": bad, "corrupt": corrupt, "trust": trust, "folder": folder}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _clean(output: str, *shown: str) -> None:
    found = RAW.search(output)
    assert found is None, f"raw {found.group()!r} in {output!r}"
    for text in shown:
        assert text in output, f"{text!r} not in {output!r}"


def test_the_helpers_escape_what_a_terminal_obeys() -> None:
    assert printable(f"a{HOSTILE}b\u202eZ\u2028\x9b\x7f\tc") == "a\\x1b[2J\\x0db\\u202eZ\\u2028\\x9b\\x7f\tc"
    value = {"name": f"Evil{HOSTILE}\x7f\x9b\u202e é"}
    for options in ({}, {"ensure_ascii": False}):
        text = printable_json(value, **options)
        assert RAW.search(text) is None and json.loads(text) == value  # the same value for a JSON reader


def test_the_forged_bundle_verifies_and_holds_the_bytes(world: dict[str, Any]) -> None:
    """The premise: the hostile bytes are in a bundle the harness accepts (they are not refused on the way in)."""
    results = json.loads(members(world["fail"])["results.json"])
    assert MESSAGE in [f["message"] for s in results["scenarios"] for f in s["failures"]]
    assert results["sut"]["supplier"] == EVIL.supplier


def test_verify_and_report_escape_names_paths_and_reasons(
    world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trust = ("--trust-list", str(world["trust"]))
    bundles = (str(world["pass"]), str(world["fail"]), str(world["bad"]), str(world["corrupt"]))
    code, output = _run(capsys, "verify", *bundles, *trust, "--rejudge")
    assert code == 2  # one unreadable, one invalid, two valid
    _clean(output, f"fail{SHOWN}.evidence.zip: valid (signed by Lab{SHOWN}plc", f"Evil{SHOWN}Ltd/Force{SHOWN}RMS@4.2")
    _clean(output, f"bad{SHOWN}.evidence.zip: invalid: ", f"corrupt{SHOWN}.evidence.zip: unreadable: ")
    assert len(output.splitlines()) == 4
    code, output = _run(capsys, "verify", *bundles, *trust, "--json")
    _clean(output)
    document = json.loads(output)
    assert document["bundles"][1]["sut"]["supplier"] == EVIL.supplier and document["bundles"][1]["valid"]

    code, output = _run(capsys, "report", "--html", str(tmp_path / "fail.html"), str(world["fail"]), *trust)
    assert code == 1  # verified, but a MUST scenario failed
    _clean(output, "intel-core@1.0: ", f"Lab{SHOWN}plc")
    code, output = _run(capsys, "report", "--html", str(tmp_path / "bad.html"), str(world["bad"]), *trust)
    assert code == 1
    _clean(output, f"bad{SHOWN}.evidence.zip: NOT VERIFIED: invalid: ")
    code, output = _run(capsys, "report", "--html", str(tmp_path / "corrupt.html"), str(world["corrupt"]), *trust)
    assert code == 2  # no bundle at all: no page
    _clean(output, f"corrupt{SHOWN}.evidence.zip: unreadable: ")


def test_store_commands_escape_what_was_registered(
    world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = ("--store", url)
    trust = ("--trust-list", str(world["trust"]))
    bundles = (str(world["pass"]), str(world["fail"]), str(world["bad"]), str(world["corrupt"]))
    code, output = _run(capsys, "runs", "import", *store, *trust, *bundles)
    assert code == 1  # the invalid and the unreadable copies are refused
    _clean(output, f"fail{SHOWN}.evidence.zip: ", f"bad{SHOWN}.evidence.zip: ", f"corrupt{SHOWN}.evidence.zip: ")

    code, output = _run(capsys, "runs", "list", *store)
    assert code == 0 and len(output.splitlines()) == 2
    _clean(output, f"Evil{SHOWN}Ltd/Force{SHOWN}RMS@4.2")
    code, output = _run(capsys, "runs", "list", *store, "--json")
    _clean(output)
    assert {row["sut_supplier"] for row in json.loads(output)} == {EVIL.supplier}

    failed_run = str(json.loads(members(world["fail"])["statement.json"])["predicate"]["run_id"])
    code, output = _run(capsys, "runs", "show", failed_run, *store)
    assert code == 0
    _clean(output, f"the SUT said {SHOWN}[1/1] PASS forged", f"Evil{SHOWN}Ltd")
    assert not any(line.startswith("[1/1] PASS") for line in output.splitlines())  # no forged line
    code, output = _run(capsys, "runs", "show", failed_run, *store, "--json")
    _clean(output)
    shown = json.loads(output)
    assert MESSAGE in [f["message"] for s in shown["scenarios"] for f in s["failures"]]  # the text, not lost
    code, output = _run(capsys, "runs", "registrations", *store)
    assert code == 0
    _clean(output, f"fail{SHOWN}.evidence.zip", f"bad{SHOWN}.evidence.zip")

    code, output = _run(capsys, "certificates", "list", *store)
    assert code == 0
    _clean(output, f"Evil{SHOWN}Ltd/Force{SHOWN}RMS@4.2", "regression: run ")
    code, output = _run(capsys, "certificates", "list", *store, "--json")
    _clean(output)
    assert json.loads(output)["certificates"][0]["product"] == f"{EVIL.supplier}/{EVIL.product}@4.2"

    code, output = _run(capsys, "matrix", *store)
    assert code == 0
    _clean(output, f"Evil{SHOWN}Ltd/Force{SHOWN}RMS@4.2", f"regression: Evil{SHOWN}Ltd")
    code, output = _run(capsys, "matrix", *store, "--json")
    _clean(output)
    assert json.loads(output)["products"][0]["supplier"] == EVIL.supplier

    # A product cannot be typed with control characters; asking about another lists the known ones, escaped.
    code, output = _run(capsys, "can-exchange", "No Such/Thing@1", "Other Ltd/X@1", *store)
    assert code == 2
    _clean(output, "Evil\\x1b[2J")
    code, output = _run(capsys, "can-exchange", "No Such/Thing@1", "Other Ltd/X@1", *store, "--json")
    assert code == 2
    _clean(output, "Evil\\x1b[2J")

    code, output = _run(capsys, "catalogue", "build", "--out", str(tmp_path / "site"), *store, *trust)
    assert code == 0
    _clean(output)


def test_catalogue_refusals_and_diff_escape_what_a_bundle_holds(
    world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trust = ("--trust-list", str(world["trust"]))
    code, output = _run(
        capsys,
        "catalogue", "build", "--out", str(tmp_path / "site"), *trust,
        str(world["pass"]), str(world["fail"]), str(world["bad"]), str(world["corrupt"]),
    )  # fmt: skip
    assert code == 0
    left_out = f"left out {world['folder']}/"
    _clean(output, *(f"{left_out}{name}{SHOWN}.evidence.zip: " for name in ("fail", "bad", "corrupt")))

    code, output = _run(capsys, "diff", str(world["pass"]), str(world["fail"]), *trust)
    assert code == 1  # newly failing
    _clean(output, f"fail{SHOWN}.evidence.zip", '"500\\u001b[2J\\r"')  # values shown as JSON, escaped by it
    code, output = _run(capsys, "diff", str(world["pass"]), str(world["fail"]), *trust, "--json")
    assert code == 1
    _clean(output)
    document = json.loads(output)
    actual = [check["actual"] for entry in document["newly_failing"] for check in entry.get("checks_after", [])]
    assert f"500{HOSTILE}" in actual
