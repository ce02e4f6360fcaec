"""A dishonest supplier at the register's store: keep a withdrawn certificate, let a role-limited run stand for a
whole one, or block a whole one with it (docs/attacks.md). Registrations are the verifier's valid, re-judged
outcomes (the verifier's own checks of roles are in tests/integration/test_roles.py); what is attacked here is
what the store makes of them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.certification.matrix import CellStatus, standing
from harness.certification.withdrawal import sign_withdrawal
from harness.evidence.verified import Outcome, OutcomeKind, ScenarioVerdict, Signer, SutRef, VerifiedBundle
from harness.store import Registration, Store, open_store

SUPPLIER = Signer("2" * 64, "Example Ltd")
PRODUCT = SutRef("Example Ltd", "ForceRMS", "4.2")
LIFE = {("checks-core", "1.0"): "current"}


def _outcome(data: bytes, run: str, roles: tuple[str, ...] = (), certified: bool = True) -> Outcome:
    verdict = "passed" if certified else "failed"
    bundle = VerifiedBundle(
        Path(f"{run}.zip"), hashlib.sha256(data).hexdigest(), run, SUPPLIER, "checks-core", "1.0",
        "queries@1.0", "current", PRODUCT, True, certified, "2026-12-01T10:00:00.000Z", "2026-12-01T10:00:01.000Z",
        {verdict: 1}, (ScenarioVerdict("CC-01", "MUST", verdict),), (), True, {}, {}, roles=roles,
    )  # fmt: skip
    return Outcome(bundle.path, OutcomeKind.VALID, "", bundle)


def _submit(store: Store, run: str, roles: tuple[str, ...] = (), certified: bool = True) -> Registration:
    data = f"bundle of {run}".encode()
    return store.register(_outcome(data, run, roles, certified), "Example Ltd", data)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = open_store(f"sqlite:///{tmp_path / 'register.db'}")
    return opened


@pytest.fixture
def body(store: Store) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    store.pin_body_key(pem)
    return key


def _withdraw(store: Store, ident: str, body: Ed25519PrivateKey) -> None:
    certificate = store.certificate(ident)
    store.withdraw(ident, sign_withdrawal(certificate, "field fault", store.clock(), body))


def test_re_sending_the_bytes_of_a_withdrawn_certificate_issues_nothing(store: Store, body: Ed25519PrivateKey) -> None:
    first = _submit(store, "run-1")
    assert first.issued and first.certificate is not None
    _withdraw(store, first.certificate, body)
    again = _submit(store, "run-1")
    assert not again.issued and again.certificate is None and "registered already" in again.line
    (certificate,) = store.evidence().certificates
    assert certificate.withdrawal is not None and certificate.withdrawal.reason == "field fault"
    store.close()


def test_a_role_limited_run_neither_replaces_nor_blocks_a_whole_certificate(
    store: Store, body: Ed25519PrivateKey
) -> None:
    whole = _submit(store, "run-whole")
    assert whole.issued
    limited = _submit(store, "run-responder", ("responder",))
    assert not limited.issued and f"certificate {whole.certificate} stands already" in limited.line
    (certificate,) = store.evidence().certificates
    assert certificate.roles == () and certificate.withdrawal is None
    store.close()


def test_a_role_limited_certificate_never_speaks_for_the_other_role_nor_blocks_a_whole_run(
    store: Store, body: Ed25519PrivateKey
) -> None:
    limited = _submit(store, "run-responder", ("responder",))
    assert limited.issued and "(roles: responder)" in limited.line
    cells = standing(store.evidence(), LIFE, role="requester")
    assert (PRODUCT, "checks-core", "1.0") not in cells  # never run as a requester: no "yes" for asking
    assert standing(store.evidence(), LIFE, role="responder")[(PRODUCT, "checks-core", "1.0")][0] is (
        CellStatus.CERTIFIED
    )
    whole = _submit(store, "run-whole")
    assert whole.issued and "stands already" not in whole.line  # the narrower certificate does not stand for it
    assert sorted(c.roles for c in store.evidence().certificates) == [(), ("responder",)]
    store.close()


def test_a_role_limited_pass_after_a_withdrawal_shows_the_withdrawal_beside_it(
    store: Store, body: Ed25519PrivateKey
) -> None:
    """Withdrawn whole, then a responder-only pass (a new run: docs/decisions-store.md 5 lets it issue). The new
    certificate covers the responder only; the requester side stays withdrawn, never certified."""
    whole = _submit(store, "run-whole")
    assert whole.certificate is not None
    _withdraw(store, whole.certificate, body)
    limited = _submit(store, "run-responder", ("responder",))
    assert limited.issued
    requester = standing(store.evidence(), LIFE, role="requester")[(PRODUCT, "checks-core", "1.0")]
    assert requester[0] is CellStatus.WITHDRAWN
    responder = standing(store.evidence(), LIFE, role="responder")[(PRODUCT, "checks-core", "1.0")]
    assert responder[0] is CellStatus.CERTIFIED and responder[1] is not None and responder[1].roles == ("responder",)
    store.close()


def test_a_failing_run_of_the_certified_role_is_listed_beside_it(store: Store, body: Ed25519PrivateKey) -> None:
    """A later failing run does not withdraw (specs/evidence.md) but cannot be hidden either: it is a regression."""
    limited = _submit(store, "run-responder", ("responder",))
    assert limited.issued
    failing = _submit(store, "run-responder-2", ("responder",), certified=False)
    assert failing.accepted and not failing.issued
    (certificate,) = store.evidence().certificates
    assert [run.run_id for run in certificate.regressions] == ["run-responder-2"]
    store.close()
