"""Signed life-cycle records: the certifying body's act that supersedes or retires a suite version.

A record is a DSSE envelope (Ed25519 over DSSE's pre-authentication encoding, read with the one DSSE
parser the verifier uses) of payload type :data:`LIFECYCLE_PAYLOAD_TYPE` whose payload is
``{"suite": NAME, "version": VERSION, "status": "superseded"|"retired", "published": RFC3339}``.
The register accepts one only when it verifies with the body key pinned in its store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harness.evidence.dsse import EnvelopeError, envelope, parse_envelope, signature_holds
from harness.evidence.keys import keyid

__all__ = [
    "LIFECYCLE_PAYLOAD_TYPE",
    "STATUSES",
    "LifecycleError",
    "LifecycleRecord",
    "check_lifecycle",
    "sign_lifecycle",
]

LIFECYCLE_PAYLOAD_TYPE = "application/vnd.netcode.lifecycle+json"
STATUSES = ("superseded", "retired")
"""What the body publishes: a version only moves forward (a new version is a new folder, never a publish)."""
_MAX_RECORD = 64 << 10
_MAX_NAME = 200


class LifecycleError(ValueError):
    """A life-cycle record that is malformed or not signed by the body's key."""


@dataclass(slots=True, frozen=True)
class LifecycleRecord:
    suite: str
    version: str
    status: str
    published: str
    keyid: str


def _checked(suite: object, version: object, status: object, published: object) -> tuple[str, str, str, str]:
    values = (suite, version, status, published)
    if not all(isinstance(v, str) and v and len(v) <= _MAX_NAME and v.isprintable() for v in values):
        raise LifecycleError("record: suite, version, status and published must be short printable strings")
    if status not in STATUSES:
        raise LifecycleError(f"record: status {status!r} is not one of {', '.join(STATUSES)}")
    return str(suite), str(version), str(status), str(published)


def sign_lifecycle(suite: str, version: str, status: str, at: str, key: Ed25519PrivateKey) -> str:
    """The signed record (JSON text of a DSSE envelope) moving ``suite@version`` to ``status``."""
    suite, version, status, at = _checked(suite, version, status, at)
    payload = {"suite": suite, "version": version, "status": status, "published": at}
    raw = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
    return json.dumps(envelope(raw, key, LIFECYCLE_PAYLOAD_TYPE), sort_keys=True)


def check_lifecycle(record: str, body_key: Ed25519PublicKey) -> LifecycleRecord:
    """The record's content when ``body_key`` signed it; LifecycleError (one line) otherwise."""
    if len(record) > _MAX_RECORD:
        raise LifecycleError("record: too large")
    try:
        document = json.loads(record)
    except (ValueError, RecursionError):
        raise LifecycleError("record: not JSON") from None
    if not isinstance(document, dict):
        raise LifecycleError(f"record: not a DSSE envelope of type {LIFECYCLE_PAYLOAD_TYPE}")
    try:
        parsed = parse_envelope(document)
    except EnvelopeError as exc:
        raise LifecycleError(f"record: {str(exc).removeprefix('envelope: ')}") from None
    if parsed.payload_type != LIFECYCLE_PAYLOAD_TYPE:
        raise LifecycleError(f"record: not a DSSE envelope of type {LIFECYCLE_PAYLOAD_TYPE}")
    pinned = keyid(body_key)
    by_body = [signature for signer, signature in parsed.signatures if signer == pinned]
    if not by_body or not signature_holds(body_key, by_body[0], parsed):
        raise LifecycleError(f"record: not signed by the certifying body's key {pinned[:16]} (pinned)")
    try:
        content = json.loads(parsed.payload)
    except (ValueError, RecursionError):
        raise LifecycleError("record: payload is not JSON") from None
    if not isinstance(content, dict):
        raise LifecycleError("record: payload is not an object")
    suite, version, status, at = _checked(
        content.get("suite"), content.get("version"), content.get("status"), content.get("published")
    )
    return LifecycleRecord(suite, version, status, at, pinned)
