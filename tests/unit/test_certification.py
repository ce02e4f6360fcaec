"""Matrix, can-exchange, the catalogue and withdrawal records over the store's certificates, built by hand.

Each value here is what the store hands over after the one verifier passed a bundle; the integration
tests (tests/integration/test_store.py) make the same values from real, signed runs.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.catalog import Catalog
from harness.certification import (
    Answer,
    CellStatus,
    Certificate,
    CertificateStatus,
    Certifies,
    Evidence,
    FailedRun,
    Reason,
    Refusal,
    SuiteVersion,
    Withdrawal,
    can_exchange,
    certificate_status,
    compatibility_matrix,
    parse_product,
    suite_versions,
)
from harness.certification.catalogue import CATALOGUE_PAYLOAD_TYPE, build_catalogue
from harness.certification.matrix import per_exchange
from harness.certification.withdrawal import WithdrawalError, check_withdrawal, sign_withdrawal
from harness.evidence.dsse import pae
from harness.evidence.keys import keyid
from harness.evidence.verified import Signer, SutRef
from harness.model import UsageError

LAB = Signer("a" * 64, "Accredited Lab Ltd")
A, B = SutRef("Example Ltd", "ForceRMS", "4.2"), SutRef("b", "y", "1")
Q = [
    SuiteVersion(
        "q",
        "1.0",
        "",
        "current",
        (Certifies("check", "requester", "queries.md@1.0"), Certifies("check", "responder", "queries.md@1.0")),
    )
]


def _cert(
    product: SutRef,
    suite: str = "q",
    version: str = "1.0",
    issued: str = "2026-01-01T00:00:00.000Z",
    withdrawal: Withdrawal | None = None,
    regressions: tuple[FailedRun, ...] = (),
) -> Certificate:
    sha = hashlib.sha256(f"{product.ref}{suite}{version}{issued}".encode()).hexdigest()
    return Certificate(
        sha[:16], product, suite, version, "queries@1.0", f"run-{sha[:8]}", sha, LAB, issued, withdrawal, regressions
    )


def _failed(product: SutRef, suite: str = "q", registered: str = "2026-02-01T00:00:00.000Z") -> FailedRun:
    sha = hashlib.sha256(f"{product.ref}{suite}{registered}".encode()).hexdigest()
    return FailedRun(f"fail-{sha[:8]}", product, suite, "1.0", registered, ("CC-03",), LAB, sha)


def test_one_spelling_of_a_product_with_spaces() -> None:
    assert parse_product("Example Ltd/ForceRMS@4.2") == A
    assert parse_product(" Example Ltd/Force RMS/Lite@4.2 ") == SutRef("Example Ltd", "Force RMS/Lite", "4.2")
    assert A.ref == "Example Ltd/ForceRMS@4.2"
    for bad in ("acme/rms", "acme@1", "/rms@1", "acme/@1", "acme/rms@", "acme/r\x1bms@1"):
        with pytest.raises(UsageError, match="SUPPLIER/PRODUCT@VERSION"):
            parse_product(bad)


def test_status_follows_the_suite_life_or_the_signed_withdrawal() -> None:
    held = _cert(A)
    assert certificate_status(held, "current") is CertificateStatus.CURRENT
    assert certificate_status(held, "superseded") is CertificateStatus.SUPERSEDED
    assert certificate_status(held, "retired") is CertificateStatus.LAPSED
    assert certificate_status(held, None) is CertificateStatus.LAPSED  # a version the register no longer knows
    withdrawn = _cert(A, withdrawal=Withdrawal("fraud", "2026-03-01T00:00:00.000Z", "b" * 64))
    assert certificate_status(withdrawn, "current") is CertificateStatus.WITHDRAWN


def test_matrix_cells_come_from_certificates_and_a_regression_never_withdraws() -> None:
    suites = [
        SuiteVersion("q", "1.0", "", "retired", ()),
        SuiteVersion("q", "2.0", "", "superseded", ()),
        SuiteVersion("r", "1.0", "", "current", ()),
        SuiteVersion("s", "1.0", "", "current", ()),
    ]
    regression = _failed(A, "r")
    evidence = Evidence(
        certificates=(
            _cert(A, "q", "1.0"),
            _cert(A, "q", "2.0"),
            _cert(A, "r", "1.0", regressions=(regression,)),
            _cert(B, "r", "1.0", withdrawal=Withdrawal("misconduct", "2026-03-01T00:00:00.000Z", "b" * 64)),
        ),
        failures=(regression, _failed(B, "s")),
    )
    products, columns, cells = compatibility_matrix(evidence, suites)
    assert products == [A, B] and [c.ref for c in columns] == ["q@1.0", "q@2.0", "r@1.0", "s@1.0"]
    status = {(c.product, c.suite, c.version): c for c in cells}
    assert status[(A, "q", "1.0")].status is CellStatus.LAPSED
    assert status[(A, "q", "2.0")].status is CellStatus.SUPERSEDED
    held = status[(A, "r", "1.0")]
    assert held.status is CellStatus.CERTIFIED and held.regressions == (regression,)  # shown beside, certificate stands
    assert status[(A, "s", "1.0")].status is CellStatus.NEVER_RUN
    assert status[(B, "r", "1.0")].status is CellStatus.WITHDRAWN
    assert status[(B, "s", "1.0")].status is CellStatus.NOT_CERTIFIED
    assert status[(B, "s", "1.0")].run_id == evidence.failures[1].run_id
    assert held.as_dict()["regressions"] == [
        {"run": regression.run_id, "registered": regression.registered, "failed": ["CC-03"]}
    ]
    # Dates from the store's clock: issued is the certificate's, last run the latest registration of any run.
    assert (held.issued, held.last_run) == ("2026-01-01T00:00:00.000Z", regression.registered)
    failing = status[(B, "s", "1.0")]
    assert (failing.issued, failing.last_run) == (None, evidence.failures[1].registered)
    assert (status[(A, "s", "1.0")].issued, status[(A, "s", "1.0")].last_run) == (None, None)
    assert held.as_dict()["last_run"] == regression.registered


def test_a_live_certificate_wins_over_a_withdrawn_one_of_the_same_suite_version() -> None:
    withdrawn = _cert(
        A, issued="2026-01-01T00:00:00.000Z", withdrawal=Withdrawal("x", "2026-01-02T00:00:00.000Z", "b" * 64)
    )
    again = _cert(A, issued="2026-02-01T00:00:00.000Z")
    for order in ((withdrawn, again), (again, withdrawn)):
        _, _, cells = compatibility_matrix(Evidence(certificates=order), Q)
        assert [(c.status, c.certificate) for c in cells] == [(CellStatus.CERTIFIED, again)]


def test_can_exchange_yes_no_unknown_on_certificates() -> None:
    overall, answers = can_exchange(A, B, Evidence(certificates=(_cert(A), _cert(B))), Q)
    assert overall is Answer.YES and {x.reason for x in answers} == {Reason.BOTH_CERTIFIED}
    # B's later failing run is a regression beside its certificate: the answer stays yes, and says so.
    failing = _failed(B)
    overall, answers = can_exchange(A, B, Evidence((_cert(A), _cert(B, regressions=(failing,))), (failing,)), Q)
    assert overall is Answer.YES and any("regression: run fail-" in " ".join(x.evidence) for x in answers)
    overall, answers = can_exchange(A, B, Evidence((_cert(A),), (failing,)), Q)
    assert overall is Answer.NO
    refused = next(x for x in answers if x.direction == f"{A.ref} -> {B.ref}")
    assert (refused.reason, "CC-03" in " ".join(refused.evidence)) == (Reason.RECEIVER_FAILED, True)
    withdrawn = _cert(B, withdrawal=Withdrawal("misconduct", "2026-03-01T00:00:00.000Z", "b" * 64))
    overall, answers = can_exchange(A, B, Evidence((_cert(A), withdrawn)), Q)
    assert overall is Answer.NO and any("withdrawn: misconduct" in " ".join(x.evidence) for x in answers)
    overall, _ = can_exchange(A, B, Evidence((_cert(A),)), Q)
    assert overall is Answer.UNKNOWN
    split = [
        SuiteVersion("q", "1.0", "", "current", (Certifies("check", "requester", "queries.md@1.0"),)),
        SuiteVersion("r", "1.0", "", "current", (Certifies("check", "responder", "queries.md@2.0"),)),
    ]
    _, answers = can_exchange(A, B, Evidence((_cert(A, "q"), _cert(B, "r"))), split)
    first = next(x for x in answers if x.direction == f"{A.ref} -> {B.ref}")
    assert (first.answer, first.reason) == (Answer.NO, Reason.INCOMPATIBLE_DOCUMENTS)


def test_directions_no_suite_certifies_are_listed_apart_and_never_decide() -> None:
    one_sided = [
        *Q,
        SuiteVersion("r", "1.0", "", "current", (Certifies("alert", "receiver", "alerts.md@1.0"),)),
    ]
    both = Evidence(certificates=(_cert(A), _cert(B), _cert(A, "r"), _cert(B, "r")))
    overall, answers = can_exchange(A, B, both, one_sided)
    apart = [x for x in answers if x.answer is Answer.NOT_COVERED]
    assert overall is Answer.YES  # every covered direction (check, both ways) is yes
    assert {(x.exchange, x.reason) for x in apart} == {("alert", Reason.NO_SUITE_CERTIFIES)} and len(apart) == 2
    assert all("no suite certifies the sender side" in x.detail for x in apart)
    assert per_exchange(answers) == {"alert": Answer.NOT_COVERED, "check": Answer.YES}
    # A refusal on a covered direction still says no; nothing covered at all is unknown, never yes.
    failing = _failed(B)
    overall, answers = can_exchange(A, B, Evidence((_cert(A), _cert(A, "r"), _cert(B, "r")), (failing,)), one_sided)
    assert overall is Answer.NO and per_exchange(answers)["check"] is Answer.NO
    overall, answers = can_exchange(A, B, both, one_sided[1:])
    assert overall is Answer.UNKNOWN and {x.answer for x in answers} == {Answer.NOT_COVERED}
    overall, answers = can_exchange(A, A, both, one_sided)  # with itself: each direction once
    assert overall is Answer.YES and [(x.exchange, x.answer) for x in answers] == [
        ("alert", Answer.NOT_COVERED),
        ("check", Answer.YES),
    ]


def test_catalogue_publishes_the_registered_bytes_and_signs_the_feed(tmp_path: Path, catalog: Catalog) -> None:
    suites = suite_versions(catalog)
    data = {"good": b"bundle bytes as registered"}
    sha = hashlib.sha256(data["good"]).hexdigest()
    certificate = Certificate(
        "c0ffee0000000001", A, "checks-core", "1.0", "queries@1.0", "run-1", sha, LAB, "2026-01-01T00:00:00.000Z"
    )
    evidence = Evidence((certificate,), (), (Refusal("/in/bad.evidence.zip", "unreadable: not a ZIP file"),))
    key = Ed25519PrivateKey.generate()
    built = build_catalogue(tmp_path / "site", evidence, suites, lambda c: data["good"], key)
    feed = json.loads((tmp_path / "site" / "catalogue.json").read_text())
    (entry,) = feed["products"]
    assert (entry["supplier"], entry["product"], entry["version"]) == ("Example Ltd", "ForceRMS", "4.2")
    (held,) = entry["certificates"]
    assert (held["id"], held["status"], held["sha256"], held["signer"]["holder"]) == (
        certificate.id,
        "certified",
        sha,
        "Accredited Lab Ltd",
    )
    assert (tmp_path / "site" / held["bundle"]).read_bytes() == data["good"]
    assert feed["rejected"] == [{"bundle": "bad.evidence.zip", "reason": "unreadable: not a ZIP file"}]
    envelope = json.loads((tmp_path / "site" / "catalogue.json.dsse").read_text())
    payload = base64.b64decode(envelope["payload"])
    assert payload == (tmp_path / "site" / "catalogue.json").read_bytes()
    assert envelope["payloadType"] == CATALOGUE_PAYLOAD_TYPE and built.signed_by == keyid(key.public_key())
    key.public_key().verify(base64.b64decode(envelope["signatures"][0]["sig"]), pae(CATALOGUE_PAYLOAD_TYPE, payload))
    assert "Example Ltd" in (tmp_path / "site" / "index.html").read_text()
    # Bytes other than the registered ones are never published.
    with pytest.raises(UsageError, match="differs from the one registered"):
        build_catalogue(tmp_path / "other", evidence, suites, lambda c: b"something else")


def test_a_withdrawal_record_holds_only_with_the_body_key_and_for_its_certificate() -> None:
    body, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    held = _cert(A)
    record = sign_withdrawal(held, "  supplier\tmisrepresented the product ", "2026-05-01T00:00:00.000Z", body)
    checked = check_withdrawal(record, body.public_key(), held)
    assert (checked.reason, checked.at, checked.keyid) == (
        "supplier misrepresented the product",
        "2026-05-01T00:00:00.000Z",
        keyid(body.public_key()),
    )
    with pytest.raises(WithdrawalError, match="not by the certifying body's key"):
        check_withdrawal(sign_withdrawal(held, "x", "t", stranger), body.public_key(), held)
    with pytest.raises(WithdrawalError, match="withdraws certificate"):
        check_withdrawal(record, body.public_key(), _cert(B))
    document = json.loads(record)
    document["payload"] = base64.b64encode(base64.b64decode(document["payload"]).replace(b"misrep", b"MISREP")).decode()
    with pytest.raises(WithdrawalError, match="does not verify"):
        check_withdrawal(json.dumps(document), body.public_key(), held)
    with pytest.raises(WithdrawalError, match="needs a reason"):
        sign_withdrawal(held, " \n ", "t", body)
    for broken in ("not json", "[]", json.dumps({"payloadType": "application/vnd.in-toto+json"})):
        with pytest.raises(WithdrawalError):
            check_withdrawal(broken, body.public_key(), held)
