"""Withdrawal records: the certifying body's signed act that withdraws a certificate (``specs/evidence.md``).

A record is a DSSE envelope (Ed25519 over DSSE's pre-authentication encoding, the same
envelope :mod:`harness.evidence.dsse` signs bundles with) whose payload names the certificate,
the bundle behind it, the reason and the time. The store accepts a record only when it verifies
with the body key pinned in that store, and names exactly the certificate it is stored against.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harness.certification.records import Certificate
from harness.evidence.signed import SignedRecordError, open_body_signed_text, sign_record

__all__ = [
    "WITHDRAWAL_PAYLOAD_TYPE",
    "WithdrawalError",
    "WithdrawalRecord",
    "check_withdrawal",
    "public_key_from_pem",
    "sign_withdrawal",
]

WITHDRAWAL_PAYLOAD_TYPE = "application/vnd.netcode.withdrawal+json"
_MAX_REASON = 2000


class WithdrawalError(ValueError):
    """A withdrawal record that is malformed, signed by another key, or for another certificate."""


@dataclass(slots=True, frozen=True)
class WithdrawalRecord:
    certificate: str
    bundle_sha256: str
    reason: str
    at: str
    keyid: str


def public_key_from_pem(pem: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; WithdrawalError otherwise."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm):
        raise WithdrawalError("not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise WithdrawalError("not an Ed25519 public key")
    return key


def _clean_reason(reason: str) -> str:
    text = " ".join(reason.split())
    if not text:
        raise WithdrawalError("a withdrawal needs a reason")
    if len(text) > _MAX_REASON or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise WithdrawalError(f"the reason must be one line of at most {_MAX_REASON} printable characters")
    return text


def sign_withdrawal(certificate: Certificate, reason: str, at: str, key: Ed25519PrivateKey) -> str:
    """The signed record (JSON text of a DSSE envelope) withdrawing ``certificate`` for ``reason`` at ``at``."""
    payload = {
        "certificate": certificate.id,
        "bundle_sha256": certificate.bundle_sha256,
        "product": certificate.product.ref,
        "suite": certificate.suite_ref,
        "reason": _clean_reason(reason),
        "withdrawn": at,
    }
    return sign_record(payload, key, WITHDRAWAL_PAYLOAD_TYPE)


def check_withdrawal(record: str, body_key: Ed25519PublicKey, certificate: Certificate) -> WithdrawalRecord:
    """The record's content when it is signed by ``body_key`` and names ``certificate``; WithdrawalError otherwise."""
    try:
        opened = open_body_signed_text(record, body_key, WITHDRAWAL_PAYLOAD_TYPE)
    except SignedRecordError as exc:
        raise WithdrawalError(str(exc)) from None
    content, pinned = opened.content, opened.keyid
    fields = {name: content.get(name) for name in ("certificate", "bundle_sha256", "reason", "withdrawn")}
    if not all(isinstance(value, str) for value in fields.values()):
        raise WithdrawalError("record: certificate, bundle_sha256, reason and withdrawn must be strings")
    if (fields["certificate"], fields["bundle_sha256"]) != (certificate.id, certificate.bundle_sha256):
        raise WithdrawalError(f"record: it withdraws certificate {fields['certificate']}, not {certificate.id}")
    return WithdrawalRecord(
        str(fields["certificate"]),
        str(fields["bundle_sha256"]),
        _clean_reason(str(fields["reason"])),
        str(fields["withdrawn"]),
        pinned,
    )
