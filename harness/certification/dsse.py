"""DSSE envelopes signed with Ed25519: keys, key ids, signing and verifying.

``keyid`` is the lowercase hex SHA-256 of the raw 32-byte public key
(``specs/evidence.md``). Keys are PEM files (PKCS#8 private, SubjectPublicKeyInfo public).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harness.model import UsageError

__all__ = ["keyid", "load_private_key", "load_trusted_keys", "pae", "sign_envelope", "verify_envelope"]


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what the signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def keyid(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{what} {path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{what} {path}: cannot read ({exc.strerror})") from None


def load_trusted_keys(paths: Iterable[Path]) -> dict[str, Ed25519PublicKey]:
    """keyid -> public key, from PEM files (a private key file gives its public half)."""
    keys: dict[str, Ed25519PublicKey] = {}
    for path in paths:
        data = _read(path, "--trusted-key")
        public: object
        try:
            public = serialization.load_pem_public_key(data)
        except ValueError:
            try:
                public = serialization.load_pem_private_key(data, password=None).public_key()
            except (ValueError, TypeError):
                raise UsageError(f"--trusted-key {path}: not a PEM Ed25519 key") from None
        if not isinstance(public, Ed25519PublicKey):
            raise UsageError(f"--trusted-key {path}: not an Ed25519 key")
        keys[keyid(public)] = public
    return keys


def load_private_key(path: Path) -> Ed25519PrivateKey:
    data = _read(path, "signing key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise UsageError(f"signing key {path}: not an unencrypted PEM Ed25519 private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError(f"signing key {path}: not an Ed25519 key")
    return key


def sign_envelope(payload: bytes, payload_type: str, key: Ed25519PrivateKey) -> dict[str, Any]:
    return {
        "payloadType": payload_type,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [
            {"keyid": keyid(key.public_key()), "sig": base64.b64encode(key.sign(pae(payload_type, payload))).decode()}
        ],
    }


def verify_envelope(envelope: Any, trusted: Mapping[str, Ed25519PublicKey]) -> tuple[bytes, str]:
    """The payload and the keyid of the first trusted signature that verifies; ValueError with the reason."""
    if not isinstance(envelope, dict) or not isinstance(envelope.get("payloadType"), str):
        raise ValueError("envelope is not a DSSE envelope")
    try:
        payload = base64.b64decode(str(envelope.get("payload", "")), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("envelope payload is not base64") from None
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise ValueError("envelope has no signature")
    message = pae(envelope["payloadType"], payload)
    untrusted: list[str] = []
    for signature in signatures:
        if not isinstance(signature, dict):
            continue
        kid = str(signature.get("keyid", ""))
        key = trusted.get(kid)
        if key is None:
            untrusted.append(kid[:16] or "(none)")
            continue
        try:
            key.verify(base64.b64decode(str(signature.get("sig", "")), validate=True), message)
        except (InvalidSignature, binascii.Error, ValueError):
            raise ValueError(f"signature by {kid[:16]} does not verify") from None
        return payload, kid
    raise ValueError(f"signed by no trusted key (keyid {', '.join(untrusted) or 'none'})")
