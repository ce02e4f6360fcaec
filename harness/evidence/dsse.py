"""DSSE envelopes (Dead Simple Signing Envelope, v1) signed with Ed25519 over the pre-authentication encoding."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harness.evidence.keys import keyid

__all__ = ["PAYLOAD_TYPE", "EnvelopeError", "envelope", "pae", "verify"]

PAYLOAD_TYPE = "application/vnd.in-toto+json"


class EnvelopeError(ValueError):
    """An envelope that is malformed or whose signature does not hold; the message is the reason."""


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


def _b64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise EnvelopeError(f"envelope: {what} is not a string")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise EnvelopeError(f"envelope: {what} is not base64") from None


def verify(document: Mapping[str, Any], trusted: Mapping[str, Ed25519PublicKey]) -> tuple[bytes, str]:
    """The payload and the keyid of the first trusted signature that verifies; EnvelopeError otherwise."""
    payload_type = document.get("payloadType")
    if payload_type != PAYLOAD_TYPE:
        raise EnvelopeError(f"envelope: payloadType {json.dumps(payload_type)} is not {PAYLOAD_TYPE}")
    payload = _b64(document.get("payload"), "payload")
    signatures = document.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise EnvelopeError("envelope: no signatures")
    known = False
    for entry in signatures:
        if not isinstance(entry, dict):
            raise EnvelopeError("envelope: a signature is not an object")
        key = trusted.get(str(entry.get("keyid", "")))
        if key is None:
            continue
        known = True
        try:
            key.verify(_b64(entry.get("sig"), "sig"), pae(PAYLOAD_TYPE, payload))
        except InvalidSignature:
            continue
        return payload, str(entry["keyid"])
    if not known:
        ids = ", ".join(str(e.get("keyid", "?"))[:16] for e in signatures if isinstance(e, dict))
        raise EnvelopeError(f"unknown key: signed by {ids or '?'}, which is not trusted")
    raise EnvelopeError("bad signature: no signature verifies with the trusted key")
