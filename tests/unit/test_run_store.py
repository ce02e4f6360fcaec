"""The run store's registration rules, fed the verifier's values by hand (no bundle is opened here).

Registering is the certifying body's act, on its own clock: a certificate is issued only for a valid,
re-judged bundle that certifies; a run id belongs to one bundle; every attempt is kept; a later failing
run is a regression beside the certificate; only a record signed by the pinned body key withdraws.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.certification.withdrawal import sign_withdrawal
from harness.evidence.verified import Outcome, OutcomeKind, ScenarioVerdict, Signer, SutRef, VerifiedBundle
from harness.model import UsageError
from harness.store import Store, WithdrawalRefused, open_store

PRODUCT = SutRef("Example Ltd", "ForceRMS", "4.2")
LAB = Signer("1" * 64, "Accredited Lab Ltd")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'runs.db'}")
    yield opened
    opened.close()


def _bundle(data: bytes, run_id: str, passed: bool = True, **changes: object) -> VerifiedBundle:
    verdict = "passed" if passed else "failed"
    bundle = VerifiedBundle(
        path=Path(f"/in/{run_id}.evidence.zip"),
        sha256=hashlib.sha256(data).hexdigest(),
        run_id=run_id,
        signer=LAB,
        suite="checks-core",
        suite_version="1.0",
        document="queries@1.0",
        suite_status="current",
        sut=PRODUCT,
        certifying=True,
        certified=passed,
        started="2030-01-01T00:00:00.000Z",
        finished="2030-01-01T00:00:01.000Z",  # the supplier's clock: orders nothing
        summary={"passed": 1 if passed else 0, "failed": 0 if passed else 1, "errors": 0, "skipped": 0, "manual": 0},
        scenarios=(ScenarioVerdict("CC-03", "MUST", verdict),),
        targets=("http://127.0.0.1:9",),
        rejudged=True,
        results={"scenarios": [{"id": "CC-03", "latency_ms": {"count": 1, "p50": 2.0, "p95": 3.0, "max": 4.0}}]},
        predicate={},
    )
    return replace(bundle, **changes)  # type: ignore[arg-type]


def _valid(bundle: VerifiedBundle) -> Outcome:
    return Outcome(bundle.path, OutcomeKind.VALID, "", bundle)


def test_a_certifying_bundle_issues_one_certificate_on_the_store_clock(store: Store) -> None:
    data = b"bundle one"
    done = store.register(_valid(_bundle(data, "run-1")), "/in/run-1.evidence.zip", data)
    assert done.accepted and done.certificate and "certificate" in done.line and "issued" in done.line
    (held,) = store.evidence().certificates
    assert (held.id, held.product, held.run_id, held.signer) == (done.certificate, PRODUCT, "run-1", LAB)
    assert held.issued > "2026" and held.issued != "2030-01-01T00:00:01.000Z"
    assert store.bundle_bytes(held.bundle_sha256) == data
    # A second certifying run of the same product and suite version: registered, no second certificate.
    again = store.register(_valid(_bundle(b"bundle two", "run-2")), "two", b"bundle two")
    assert again.accepted and again.certificate == held.id and "stands already" in again.line
    assert len(store.evidence().certificates) == 1
    run = store.get("run-1")
    assert run["verification"] == "registered" and run["scenarios"][0]["latency_p95_ms"] == 3.0


def test_a_run_id_belongs_to_one_bundle(store: Store) -> None:
    assert store.register(_valid(_bundle(b"genuine", "run-1", passed=False)), "a", b"genuine").accepted
    same = store.register(_valid(_bundle(b"genuine", "run-1", passed=False)), "a again", b"genuine")
    assert same.accepted and "registered already" in same.line
    other = store.register(_valid(_bundle(b"a different pass", "run-1")), "b", b"a different pass")
    assert not other.accepted and "registered already with another bundle" in other.line
    assert store.evidence().certificates == ()
    assert store.get("run-1")["certified"] is False  # the failing original was not replaced


@pytest.mark.parametrize(
    ("changes", "data", "reason"),
    [
        ({"rejudged": False}, b"verified bytes", "needs a re-judged bundle"),
        ({}, b"other bytes", "changed after it was verified"),
        ({}, None, "over 64 MiB"),
    ],
)
def test_refusals_are_kept_with_their_reason(
    store: Store, changes: dict[str, object], data: bytes | None, reason: str
) -> None:
    bundle = _bundle(b"verified bytes", "run-1", **changes)
    done = store.register(_valid(bundle), "/in/x.zip", data)
    assert not done.accepted and reason in done.line
    (attempt,) = store.registrations()
    assert (attempt["accepted"], attempt["source"], attempt["line"]) == (False, "/in/x.zip", "valid")
    assert reason in attempt["result"] and store.evidence().refusals[0].reason == attempt["result"]
    assert store.evidence().certificates == () and store.list() == []


def test_an_invalid_outcome_is_a_refusal_with_the_verifier_line(store: Store) -> None:
    outcome = Outcome(Path("/in/bad.zip"), OutcomeKind.UNREADABLE, "not a ZIP file")
    done = store.register(outcome, "/in/bad.zip", None)
    assert (done.accepted, done.line) == (False, "unreadable: not a ZIP file")
    assert [(r.source, r.reason) for r in store.evidence().refusals] == [("/in/bad.zip", "unreadable: not a ZIP file")]


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"signer": None}, "unsigned"),
        ({"certifying": False, "certified": False}, "not-certifying"),
        ({"sut": None}, "no system under test"),
    ],
)
def test_valid_bundles_that_do_not_certify_issue_nothing(store: Store, changes: dict[str, object], why: str) -> None:
    done = store.register(_valid(_bundle(b"x", "run-1", **changes)), "x", b"x")
    assert done.accepted and done.certificate is None and why in done.line
    evidence = store.evidence()
    assert evidence.certificates == () and evidence.failures == ()


def test_a_later_failing_run_is_a_regression_never_a_withdrawal(store: Store) -> None:
    store.register(_valid(_bundle(b"pass", "run-1")), "pass", b"pass")
    # The failure claims an earlier 'finished' than the pass: the supplier's clock orders nothing.
    failing = _bundle(b"fail", "run-2", passed=False, finished="2001-01-01T00:00:00.000Z")
    assert store.register(_valid(failing), "fail", b"fail").accepted
    (held,) = store.evidence().certificates
    assert held.withdrawal is None and [r.run_id for r in held.regressions] == ["run-2"]
    assert held.regressions[0].failed == ("CC-03",)


def test_withdrawal_needs_the_pinned_body_key(store: Store, tmp_path: Path) -> None:
    done = store.register(_valid(_bundle(b"pass", "run-1")), "pass", b"pass")
    assert done.certificate is not None
    certificate = store.certificate(done.certificate[:6])
    body, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    with pytest.raises(WithdrawalRefused, match="no certifying body key is pinned"):
        store.withdraw(certificate.id, sign_withdrawal(certificate, "x", store.clock(), body))
    pem = body.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert store.pin_body_key(pem)[1] is True and store.pin_body_key(pem)[1] is False
    other = stranger.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(UsageError, match="pinned already"):
        store.pin_body_key(other)
    with pytest.raises(WithdrawalRefused, match="not by the certifying body's key"):
        store.withdraw(certificate.id, sign_withdrawal(certificate, "forged", store.clock(), stranger))
    assert store.evidence().certificates[0].withdrawal is None
    withdrawal = store.withdraw(certificate.id, sign_withdrawal(certificate, "misconduct", store.clock(), body))
    assert withdrawal.reason == "misconduct"
    assert store.evidence().certificates[0].withdrawal == withdrawal
    with pytest.raises(WithdrawalRefused, match="withdrawn already"):
        store.withdraw(certificate.id, sign_withdrawal(certificate, "again", store.clock(), body))
    # Withdrawn, the product version stays withdrawn: a new passing run of it is registered, never certified
    # (a withdrawal binds the product version: docs/decisions-store.md 5).
    again = store.register(_valid(_bundle(b"pass again", "run-3")), "again", b"pass again")
    assert again.accepted and again.certificate is None and "withdrawal binds the product version" in again.line


def test_harness_run_records_a_run_but_never_a_certificate(store: Store) -> None:
    from harness.store import RunRecord

    store.record(RunRecord(_bundle(b"own", "run-1"), "recorded", "run"))
    assert store.get("run-1")["verification"] == "recorded" and store.evidence().certificates == ()
    with pytest.raises(UsageError, match="held already with another bundle"):
        store.record(RunRecord(_bundle(b"another", "run-1"), "recorded", "run"))
    # Registering the very bytes the run recorded upgrades the run and issues the certificate.
    done = store.register(_valid(_bundle(b"own", "run-1")), "own", b"own")
    assert done.certificate is not None and store.get("run-1")["verification"] == "registered"
    refused = store.register(_valid(_bundle(b"another", "run-1")), "x", b"another")
    assert not refused.accepted
