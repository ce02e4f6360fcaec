"""DSSE envelopes (Dead Simple Signing Envelope, v1) signed with Ed25519 over the pre-authentication encoding."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harness.evidence.keys import keyid

__all__ = ["PAYLOAD_TYPE", "Envelope", "EnvelopeError", "envelope", "pae", "parse_envelope", "signature_holds"]

PAYLOAD_TYPE = "application/vnd.in-toto+json"
MAX_SIGNATURES = 16
"""An envelope with more signatures than this is refused (each costs a verification)."""


class EnvelopeError(ValueError):
    """An envelope that is malformed; the message is the reason."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """``"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body``, lengths as ASCII decimal of the byte counts."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def envelope(payload: bytes, key: Ed25519PrivateKey, payload_type: str = PAYLOAD_TYPE) -> dict[str, Any]:
    signature = key.sign(pae(payload_type, payload))
    return {
        "payloadType": payload_type,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": [{"keyid": keyid(key.public_key()), "sig": base64.b64encode(signature).decode("ascii")}],
    }


@dataclass(slots=True, frozen=True)
class Envelope:
    """A parsed envelope: its declared payload type, the payload bytes and ``(keyid, signature)`` pairs."""

    payload_type: str
    payload: bytes
    signatures: tuple[tuple[str, bytes], ...]


def _b64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise EnvelopeError(f"envelope: {what} is not a string")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise EnvelopeError(f"envelope: {what} is not base64") from None


def parse_envelope(document: Mapping[str, Any]) -> Envelope:
    """The envelope's parts, with the JSON types DSSE gives them; EnvelopeError otherwise.

    The payload type is not compared here: the signature covers it (PAE), so it is checked after the
    signature (evidence.md, check 3), and a re-signed envelope of another type gets that reason.
    """
    payload_type = document.get("payloadType")
    if not isinstance(payload_type, str):
        raise EnvelopeError("envelope: payloadType is not a string")
    payload = _b64(document.get("payload"), "payload")
    signatures = document.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise EnvelopeError("envelope: no signatures")
    if len(signatures) > MAX_SIGNATURES:
        raise EnvelopeError(f"envelope: more than {MAX_SIGNATURES} signatures")
    pairs: list[tuple[str, bytes]] = []
    for entry in signatures:
        if not isinstance(entry, dict) or not isinstance(entry.get("keyid"), str):
            raise EnvelopeError("envelope: a signature is not an object with a keyid string")
        pairs.append((entry["keyid"], _b64(entry.get("sig"), "sig")))
    return Envelope(payload_type, payload, tuple(pairs))


def signature_holds(key: Ed25519PublicKey, signature: bytes, parsed: Envelope) -> bool:
    """Whether ``signature`` is ``key``'s Ed25519 signature over the envelope's PAE."""
    try:
        key.verify(signature, pae(parsed.payload_type, parsed.payload))
    except InvalidSignature:
        return False
    return True
