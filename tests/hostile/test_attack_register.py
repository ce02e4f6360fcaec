"""A dishonest supplier at the register's store: keep a withdrawn certificate, let a role-limited run stand for a
whole one, or block a whole one with it (docs/attacks.md). Registrations are the verifier's valid, re-judged
outcomes (the verifier's own checks of roles are in tests/integration/test_roles.py); what is attacked here is
what the store makes of them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.catalog import Catalog
from harness.certification.matrix import CellStatus, standing
from harness.certification.withdrawal import sign_withdrawal
from harness.cli import main
from harness.endpoints import build_app
from harness.evidence import Verifier
from harness.evidence.keys import keyid
from harness.evidence.trust import TrustEntry, TrustList
from harness.evidence.verified import Outcome, OutcomeKind, ScenarioVerdict, Signer, SutRef, VerifiedBundle
from harness.model import ConfigurationError
from harness.store import Registration, Store, open_store
from tests.integration.evidence_helpers import forge, run_with_evidence

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
    """Withdrawn whole, then a responder-only pass of the same product version: a withdrawal binds the product
    version (docs/decisions-store.md 5), so nothing is issued for either role and both stay withdrawn."""
    whole = _submit(store, "run-whole")
    assert whole.certificate is not None
    _withdraw(store, whole.certificate, body)
    limited = _submit(store, "run-responder", ("responder",))
    assert limited.accepted and not limited.issued and limited.certificate is None
    assert f"certificate {whole.certificate}" in limited.line and "withdrawal binds the product version" in limited.line
    for role in ("requester", "responder"):
        cell = standing(store.evidence(), LIFE, role=role)[(PRODUCT, "checks-core", "1.0")]
        assert cell[0] is CellStatus.WITHDRAWN, role
    store.close()


def test_other_evidence_of_a_withdrawn_product_version_issues_nothing(store: Store, body: Ed25519PrivateKey) -> None:
    """The attack of docs/attacks.md: a supplier whose certificate was withdrawn submits another passing bundle of
    the same product version (held back, or the old exchanges re-signed under a new run id). Nothing is issued; a
    new product version certifies as usual."""
    whole = _submit(store, "run-whole")
    assert whole.certificate is not None
    _withdraw(store, whole.certificate, body)
    again = _submit(store, "run-held-back")
    assert again.accepted and not again.issued and "withdrawal binds the product version" in again.line
    assert [c.id for c in store.evidence().certificates] == [whole.certificate]
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


@pytest.fixture(scope="module")
def lab_bundle(catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Ed25519PrivateKey]:
    """A real, passing run of checks-core signed by a lab key (the reference supplier on loopback)."""
    key = Ed25519PrivateKey.generate()
    folder = tmp_path_factory.mktemp("lab")
    return asyncio.run(run_with_evidence(catalog, build_app(catalog), folder, key=key)), key


def test_a_lab_whose_key_expired_cannot_back_date_its_way_into_the_register(
    catalog: Catalog, lab_bundle: tuple[Path, Ed25519PrivateKey], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The key's entry ended yesterday; the lab re-signs a run with ``finished`` inside its old dates. Offline,
    ``finished`` is all a verifier has (docs/decisions-evidence.md 1); a register has its own clock, and a key
    outside its dates at that clock registers nothing (docs/attacks.md)."""
    bundle, key = lab_bundle
    now = dt.datetime.now(dt.UTC)
    entry = TrustEntry(
        keyid(key.public_key()), key.public_key(), "Lapsed Lab", ("*",), now - dt.timedelta(days=30),
        now - dt.timedelta(days=1),
    )  # fmt: skip
    trust_file = tmp_path / "trust.json"
    TrustList((entry,)).save(trust_file)
    back = now - dt.timedelta(days=2)

    def back_dated(document: dict[str, Any]) -> None:
        for name, moment in (("started", back - dt.timedelta(minutes=1)), ("finished", back)):
            if name in document:
                document[name] = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    forged = forge(bundle, tmp_path / "back-dated.zip", key, results_edit=back_dated, predicate_edit=back_dated)
    assert Verifier(catalog, TrustList((entry,))).verify(forged, rejudge=True).line() == "valid"  # offline: the claim
    registering = Verifier(catalog, TrustList((entry,)), registering=True).verify(forged, rejudge=True)
    assert registering.line().startswith("invalid: signer Lapsed Lab: the key's dates ended"), registering.line()
    store = f"sqlite:///{tmp_path / 'store.db'}"
    code = main(["runs", "import", "--store", store, "--trust-list", str(trust_file), str(forged)])
    out = capsys.readouterr()
    assert code == 1 and "the key's dates ended" in out.out + out.err
    opened = open_store(store)
    try:
        assert opened.evidence().certificates == ()
    finally:
        opened.close()


def test_naming_every_role_is_a_whole_run_and_a_role_less_scenario_is_never_skipped(catalog: Catalog) -> None:
    """A run naming every role must run every scenario (it is a whole run: covers nothing less); a suite with a
    scenario of no role cannot be run by role at all, so no role-limited run skips a MUST scenario of no role."""
    for versions in catalog.suites.values():
        for suite in versions.values():
            if not suite.roles:
                continue
            whole = suite.limited_to(suite.roles)
            assert whole.covers == () and [s.id for s in whole.typed] == [s.id for s in suite.typed]
            orphans = [s for s in suite.scenarios if not suite.role_of(s)]
            if orphans and len(suite.roles) > 1:
                with pytest.raises(ConfigurationError, match="has no role, so it cannot run by role"):
                    suite.limited_to(suite.roles[:1])
