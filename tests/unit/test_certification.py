"""Matrix, can-exchange and catalogue over three products' evidence, and a tampered bundle that never gets in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.catalog import Catalog
from harness.certification import (
    Answer,
    CellStatus,
    Certifies,
    Product,
    Reason,
    SuiteVersion,
    VerifiedRunRecord,
    can_exchange,
    compatibility_matrix,
    suite_versions,
)
from harness.certification.bundles import Ed25519BundleReader
from harness.certification.catalogue import CATALOGUE_PAYLOAD_TYPE, build_catalogue
from harness.certification.dsse import load_trusted_keys, verify_envelope
from harness.certification.store import open_store
from harness.cli import main
from tests.bundles import results_for, write_bundle, write_key

FULL = ("acme", "rms", "2.1")
FAILS_CHECKS = ("beta", "cad", "1.0")
ALERTS_ONLY = ("gamma", "alerter", "3")


def _all_pass(catalog: Catalog, suite: str) -> dict[str, tuple[str, str]]:
    return {str(s["id"]): (str(s["level"]), "passed") for s in catalog.suite(suite).scenarios}


VERSIONS = {"alerts-core": ("1.0", "1.1"), "checks-core": ("1.0",), "esn-core": ("1.0",), "intel-core": ("1.0",)}


@pytest.fixture
def store(tmp_path: Path, catalog: Catalog) -> dict[str, Any]:
    """Three products' bundles in a store folder, one tampered bundle and one signed by a stranger."""
    key, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    _, public = write_key(tmp_path / "signer.pem", key)
    folder = tmp_path / "store"
    paths: dict[str, Path] = {}
    for suite, versions in VERSIONS.items():
        for version in versions:
            ref = f"{suite}@{version}"
            passed = _all_pass(catalog, ref)
            paths[f"full-{ref}"] = write_bundle(folder, key, FULL, results_for(suite, version, passed))
            verdicts = dict(passed)
            if suite == "checks-core":
                verdicts["CC-03"] = ("MUST", "failed")
            paths[f"beta-{ref}"] = write_bundle(folder, key, FAILS_CHECKS, results_for(suite, version, verdicts))
    paths["gamma-alerts"] = write_bundle(
        folder, key, ALERTS_ONLY, results_for("alerts-core", "1.0", _all_pass(catalog, "alerts-core@1.0"))
    )

    def forge(members: dict[str, bytes]) -> None:
        # A failed run turned into a pass after signing: results.json no longer matches its digest.
        members["results.json"] = json.dumps(
            results_for("checks-core", "1.0", _all_pass(catalog, "checks-core"))
        ).encode()

    failing = _all_pass(catalog, "checks-core") | {"CC-01": ("MUST", "failed")}
    paths["tampered"] = write_bundle(folder, key, ALERTS_ONLY, results_for("checks-core", "1.0", failing), tamper=forge)
    paths["stranger"] = write_bundle(
        folder, stranger, ALERTS_ONLY, results_for("esn-core", "1.0", _all_pass(catalog, "esn-core"))
    )
    return {"folder": folder, "public": public, "key": key, "paths": paths}


def test_matrix_says_what_the_evidence_supports(store: dict[str, Any], catalog: Catalog) -> None:
    suites = suite_versions(catalog)
    contents = open_store(str(store["folder"]), [store["public"]], suites)
    products, _, cells = compatibility_matrix(contents.records, suites)
    assert [p.ref for p in products] == ["acme/rms@2.1", "beta/cad@1.0", "gamma/alerter@3"]
    status = {(c.product.ref, c.suite): c.status for c in cells if c.version == "1.0"}
    current = {(c.product.ref, c.suite): c.status for c in cells if c.suite == "alerts-core" and c.version == "1.1"}
    # alerts-core@1.0 is superseded by 1.1: a certificate under it stays valid and says so.
    assert {s for (p, _), s in status.items() if p == "acme/rms@2.1"} == {CellStatus.CERTIFIED, CellStatus.SUPERSEDED}
    assert current[("acme/rms@2.1", "alerts-core")] is CellStatus.CERTIFIED
    assert status[("beta/cad@1.0", "checks-core")] is CellStatus.NOT_CERTIFIED
    assert status[("beta/cad@1.0", "intel-core")] is CellStatus.CERTIFIED
    assert status[("gamma/alerter@3", "alerts-core")] is CellStatus.SUPERSEDED
    assert current[("gamma/alerter@3", "alerts-core")] is CellStatus.NEVER_RUN
    # The tampered checks-core pass and the stranger's esn-core pass count for nothing.
    assert status[("gamma/alerter@3", "checks-core")] is CellStatus.NEVER_RUN
    assert status[("gamma/alerter@3", "esn-core")] is CellStatus.NEVER_RUN
    reasons = {b.path: b.problem for b in contents.bundles if not b.verified}
    assert "digest does not match" in reasons[store["paths"]["tampered"]]
    assert "no trusted key" in reasons[store["paths"]["stranger"]]


def test_can_exchange_three_states_with_typed_reasons(store: dict[str, Any], catalog: Catalog) -> None:
    suites = suite_versions(catalog)
    records = open_store(str(store["folder"]), [store["public"]], suites).records
    overall, answers = can_exchange(Product(*FULL), Product(*FAILS_CHECKS), records, suites)
    assert overall is Answer.NO
    by = {(a.exchange, a.direction): a for a in answers}
    refused = by[("person-check", "acme/rms@2.1 -> beta/cad@1.0")]
    assert (refused.answer, refused.reason) == (Answer.NO, Reason.RECEIVER_FAILED)
    assert "CC-03" in " ".join(refused.evidence)
    back = by[("person-check", "beta/cad@1.0 -> acme/rms@2.1")]
    assert (back.answer, back.reason) == (Answer.NO, Reason.SENDER_FAILED)
    intel = by[("intel-report", "acme/rms@2.1 -> beta/cad@1.0")]
    assert (intel.answer, intel.reason) == (Answer.UNKNOWN, Reason.SENDER_UNKNOWN)
    assert intel.detail == "receiver certified, sender not certifiable"
    overall, answers = can_exchange(Product(*FULL), Product(*ALERTS_ONLY), records, suites)
    assert overall is Answer.UNKNOWN
    cap = {(a.exchange, a.direction): a for a in answers}[("person-check", "acme/rms@2.1 -> gamma/alerter@3")]
    assert (cap.answer, cap.reason, cap.detail) == (
        Answer.UNKNOWN,
        Reason.RECEIVER_UNKNOWN,
        "responder never run, requester certified",
    )


def _record(product: Product, suite: str, certified: bool, finished: str = "2026-01-01T00:00:00Z") -> VerifiedRunRecord:
    return VerifiedRunRecord(product, suite, "1.0", certified, "current", f"{product.ref}-{suite}", (), True, finished)


def test_yes_needs_both_sides_on_compatible_documents_and_latest_evidence_wins() -> None:
    a, b = Product("a", "x", "1"), Product("b", "y", "1")
    suites = [
        SuiteVersion(
            "q",
            "1.0",
            "",
            "current",
            (Certifies("check", "requester", "queries.md@1.0"), Certifies("check", "responder", "queries.md@1.0")),
        ),
    ]
    overall, answers = can_exchange(a, b, [_record(a, "q", True), _record(b, "q", True)], suites)
    assert overall is Answer.YES and {x.reason for x in answers} == {Reason.BOTH_CERTIFIED}
    newer_failure = _record(b, "q", False, "2026-02-01T00:00:00Z")
    overall, _ = can_exchange(a, b, [_record(a, "q", True), _record(b, "q", True), newer_failure], suites)
    assert overall is Answer.NO
    unverified = VerifiedRunRecord(b, "q", "1.0", True, "current", "forged", (), False, "2027-01-01T00:00:00Z")
    overall, _ = can_exchange(a, b, [_record(a, "q", True), unverified], suites)
    assert overall is Answer.UNKNOWN
    split = [
        SuiteVersion("q", "1.0", "", "current", (Certifies("check", "requester", "queries.md@1.0"),)),
        SuiteVersion("r", "1.0", "", "current", (Certifies("check", "responder", "queries.md@2.0"),)),
    ]
    _, answers = can_exchange(a, b, [_record(a, "q", True), _record(b, "r", True)], split)
    first = next(x for x in answers if x.direction == "a/x@1 -> b/y@1")
    assert (first.answer, first.reason) == (Answer.NO, Reason.INCOMPATIBLE_DOCUMENTS)


def test_lapsed_and_superseded_follow_the_suite_life() -> None:
    a = Product("a", "x", "1")
    suites = [SuiteVersion("q", "1.0", "", "retired", ()), SuiteVersion("q", "2.0", "", "superseded", ())]
    records = [_record(a, "q", True), VerifiedRunRecord(a, "q", "2.0", True, "x", "b", (), True)]
    _, _, cells = compatibility_matrix(records, suites)
    assert [c.status for c in cells] == [CellStatus.LAPSED, CellStatus.SUPERSEDED]


def test_catalogue_only_from_verified_bundles_and_signed(
    store: dict[str, Any], catalog: Catalog, tmp_path: Path
) -> None:
    suites = suite_versions(catalog)
    contents = open_store(str(store["folder"]), [store["public"]], suites)
    catalogue_key = Ed25519PrivateKey.generate()
    out = tmp_path / "site"
    built = build_catalogue(out, contents, suites, catalogue_key)
    feed = json.loads((out / "catalogue.json").read_text())
    gamma = next(p for p in feed["products"] if p["product"] == "alerter")
    assert [(c["suite"], c["version"], c["status"]) for c in gamma["certificates"]] == [
        ("alerts-core", "1.0", "superseded")
    ]
    beta = next(p for p in feed["products"] if p["product"] == "cad")
    assert sorted(f"{c['suite']}@{c['version']}" for c in beta["certificates"]) == [
        "alerts-core@1.0",
        "alerts-core@1.1",
        "esn-core@1.0",
        "intel-core@1.0",
    ]
    rejected = {r["bundle"] for r in feed["rejected"]}
    assert rejected == {store["paths"]["tampered"].name, store["paths"]["stranger"].name}
    copied = {p.name.split("-", 1)[1] for p in (out / "bundles").iterdir()}
    assert store["paths"]["tampered"].name not in copied and len(copied) == 10  # 5 + 4 + 1 certificates
    envelope = json.loads((out / "catalogue.json.dsse").read_text())
    payload, signer = verify_envelope(envelope, load_trusted_keys([_public(tmp_path, catalogue_key)]))
    assert payload == (out / "catalogue.json").read_bytes() and signer == built.signed_by
    assert envelope["payloadType"] == CATALOGUE_PAYLOAD_TYPE
    for product in feed["products"]:
        for certificate in product["certificates"]:
            assert Ed25519BundleReader(load_trusted_keys([store["public"]])).open(out / certificate["bundle"]).verified
    assert "gamma" in (out / "index.html").read_text()


def _public(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    return write_key(tmp_path / "catalogue.pem", key)[1]


def test_commands_follow_the_contract(
    store: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    trust = ["--store", str(store["folder"]), "--trusted-key", str(store["public"])]
    assert main(["matrix", "--json", *trust]) == 0
    document = json.loads(capsys.readouterr().out)
    assert set(document) == {"products", "suites", "cells"}
    assert set(document["cells"][0]) == {"product", "suite", "version", "status", "bundle"}
    assert main(["can-exchange", "acme/rms@2.1", "beta/cad@1.0", "--json", *trust]) == 1
    answer = json.loads(capsys.readouterr().out)
    assert answer["answer"] == "no"
    assert {"exchange", "direction", "answer", "reason"} <= set(answer["exchanges"][0])
    assert main(["can-exchange", "acme/rms", "beta/cad@1.0", *trust]) == 2
    assert "bad product" in capsys.readouterr().err
    out = tmp_path / "cat"
    assert (
        main(
            [
                "catalogue",
                "build",
                "--out",
                str(out),
                "--trusted-key",
                str(store["public"]),
                "--store",
                str(store["folder"]),
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "left out" in captured.err and "digest does not match" in captured.err
    assert (
        main(
            [
                "catalogue",
                "build",
                "--out",
                str(out),
                "--trusted-key",
                str(tmp_path / "nope.pem"),
                str(store["paths"]["tampered"]),
            ]
        )
        == 2
    )
    assert "nope.pem: no such file" in capsys.readouterr().err
    assert main(["matrix", "--store", str(tmp_path / "missing")]) == 2


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda m: m.pop("envelope.json"), "unsigned bundle"),
        (lambda m: m.update({"junit.xml": b"<changed/>"}), "member junit.xml: digest does not match"),
        (lambda m: m.update({"extra.txt": b"x"}), "member extra.txt is not listed"),
        (lambda m: m.pop("junit.xml"), "subject junit.xml is missing"),
        (lambda m: m.update({"statement.json": m["statement.json"] + b" "}), "signed payload differs"),
    ],
)
def test_every_kind_of_tampering_is_named(tmp_path: Path, catalog: Catalog, tamper: Any, reason: str) -> None:
    key = Ed25519PrivateKey.generate()
    _, public = write_key(tmp_path / "k.pem", key)
    path = write_bundle(
        tmp_path, key, FULL, results_for("intel-core", "1.0", _all_pass(catalog, "intel-core")), tamper=tamper
    )
    opened = Ed25519BundleReader(load_trusted_keys([public])).open(path)
    assert not opened.verified and reason in opened.problem


def test_signed_lies_about_the_verdict_do_not_verify(tmp_path: Path, catalog: Catalog) -> None:
    """A bundle signed over results whose 'certified' does not follow from its verdicts is invalid."""
    key = Ed25519PrivateKey.generate()
    _, public = write_key(tmp_path / "k.pem", key)
    results = results_for("intel-core", "1.0", _all_pass(catalog, "intel-core") | {"IC-01": ("MUST", "failed")})
    results["certified"] = True
    path = write_bundle(tmp_path, key, FULL, results)
    opened = Ed25519BundleReader(load_trusted_keys([public])).open(path)
    assert not opened.verified and "'certified' does not follow" in opened.problem
    results = results_for("intel-core", "1.0", _all_pass(catalog, "intel-core"))
    results["summary"]["passed"] += 1
    opened = Ed25519BundleReader(load_trusted_keys([public])).open(write_bundle(tmp_path, key, FULL, results))
    assert not opened.verified and "summary does not follow" in opened.problem
