"""Records the certifying body signs: one DSSE envelope around a JSON object, signed with the body's Ed25519 key.

Withdrawal records, life-cycle records and log checkpoints are all this one shape. Opening one goes through
:func:`harness.evidence.dsse.parse_envelope` (the parser the verifier uses), finds the signature by the pinned
body key, verifies it, and only then compares the payload type (the signature covers it, as in
``specs/evidence.md`` check 3). Every refusal is one :class:`SignedRecordError` naming the record (``what``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harness.evidence.dsse import EnvelopeError, envelope, parse_envelope, signature_holds
from harness.evidence.keys import keyid

__all__ = [
    "MAX_RECORD_CHARS",
    "BodySigned",
    "SignedRecordError",
    "open_body_signed",
    "open_body_signed_text",
    "sign_record",
]

MAX_RECORD_CHARS = 64 << 10
"""The longest record text opened (a record is a few hundred characters; anything far longer is refused unread)."""


class SignedRecordError(ValueError):
    """A body-signed record that is malformed or not signed by the body's key; the message is the reason."""


@dataclass(slots=True, frozen=True)
class BodySigned:
    """The JSON object a record carries and the keyid of the body key that signed it."""

    content: dict[str, Any]
    keyid: str


def sign_record(content: Mapping[str, Any], key: Ed25519PrivateKey, payload_type: str) -> str:
    """The record's text: a DSSE envelope (sorted-key JSON) over ``content`` as sorted-key UTF-8 JSON."""
    raw = json.dumps(dict(content), sort_keys=True, ensure_ascii=False).encode()
    return json.dumps(envelope(raw, key, payload_type), sort_keys=True)


def open_body_signed_text(
    record: str, body_key: Ed25519PublicKey, payload_type: str, what: str = "record"
) -> BodySigned:
    """:func:`open_body_signed` of a record's text, refused unread when over :data:`MAX_RECORD_CHARS`."""
    if len(record) > MAX_RECORD_CHARS:
        raise SignedRecordError(f"{what}: too large")
    try:
        document = json.loads(record)
    except ValueError:  # RecursionError is not one: a record this short cannot nest deep enough
        raise SignedRecordError(f"{what}: not JSON") from None
    return open_body_signed(document, body_key, payload_type, what)


def open_body_signed(
    document: object, body_key: Ed25519PublicKey, payload_type: str, what: str = "record"
) -> BodySigned:
    """The JSON object in a DSSE envelope of ``payload_type`` signed by ``body_key``; SignedRecordError otherwise."""
    if not isinstance(document, dict):
        raise SignedRecordError(f"{what}: not a DSSE envelope of type {payload_type}")
    try:
        parsed = parse_envelope(document)  # the one DSSE reader the verifier uses
    except EnvelopeError as exc:
        raise SignedRecordError(f"{what}: {str(exc).removeprefix('envelope: ')}") from None
    pinned = keyid(body_key)
    by_body = [signature for signer, signature in parsed.signatures if signer == pinned]
    if not by_body:
        others = ", ".join(signer[:16] for signer, _ in parsed.signatures)
        raise SignedRecordError(
            f"{what}: signed by {others or 'no key'}, not by the certifying body's key {pinned[:16]} (pinned)"
        )
    if not signature_holds(body_key, by_body[0], parsed):
        raise SignedRecordError(f"{what}: the signature by the certifying body's key does not verify")
    if parsed.payload_type != payload_type:
        raise SignedRecordError(f"{what}: not a DSSE envelope of type {payload_type}")
    try:
        content = json.loads(parsed.payload)
    except ValueError:
        raise SignedRecordError(f"{what}: payload is not JSON") from None
    if not isinstance(content, dict):
        raise SignedRecordError(f"{what}: payload is not an object")
    return BodySigned(content, pinned)
