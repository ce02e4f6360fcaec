"""Signed checkpoints of the register's log: (tree size, root hash, the store's time), signed by the body's key.

A checkpoint is a DSSE envelope (Ed25519 over DSSE's pre-authentication encoding, the envelope
:mod:`harness.evidence.dsse` signs bundles with) of payload type :data:`CHECKPOINT_PAYLOAD_TYPE`
whose payload is the canonical JSON ``{"at", "root", "size"}`` (``root`` lowercase hex).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harness.evidence.dsse import EnvelopeError, envelope, parse_envelope, signature_holds
from harness.evidence.keys import keyid
from harness.register.log import HASH_SIZE, canonical_json

__all__ = [
    "CHECKPOINT_PAYLOAD_TYPE",
    "Checkpoint",
    "CheckpointError",
    "SignedCheckpoint",
    "open_checkpoint",
    "sign_checkpoint",
]

CHECKPOINT_PAYLOAD_TYPE = "application/vnd.netcode.checkpoint+json"
_MAX_AT = 64


class CheckpointError(ValueError):
    """A checkpoint that is malformed or not signed by the body's key; the message is the reason."""


@dataclass(slots=True, frozen=True)
class Checkpoint:
    """The log's head: ``size`` entries whose Merkle tree hash is ``root``, at the store's time ``at``."""

    size: int
    root: bytes
    at: str

    def payload(self) -> bytes:
        return canonical_json({"at": self.at, "root": self.root.hex(), "size": self.size})


@dataclass(slots=True, frozen=True)
class SignedCheckpoint:
    """A checkpoint and its DSSE envelope (what ``GET /register/v1/log/checkpoint`` serves)."""

    checkpoint: Checkpoint
    envelope: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        """``{"envelope": DSSE}``, the checkpoint endpoint's answer."""
        return {"envelope": self.envelope}


def sign_checkpoint(checkpoint: Checkpoint, key: Ed25519PrivateKey) -> SignedCheckpoint:
    return SignedCheckpoint(checkpoint, envelope(checkpoint.payload(), key, CHECKPOINT_PAYLOAD_TYPE))


def open_checkpoint(document: object, body_key: Ed25519PublicKey) -> Checkpoint:
    """The checkpoint of a DSSE envelope signed by ``body_key``; CheckpointError with the reason otherwise."""
    if not isinstance(document, dict):
        raise CheckpointError("the checkpoint is not a DSSE envelope")
    try:
        parsed = parse_envelope(document)
    except EnvelopeError as exc:
        raise CheckpointError(f"checkpoint {exc}") from None
    pinned = keyid(body_key)
    by_body = [signature for signer, signature in parsed.signatures if signer == pinned]
    if not by_body:
        raise CheckpointError(f"the checkpoint is not signed by the certifying body's key {pinned[:16]}")
    if not signature_holds(body_key, by_body[0], parsed):
        raise CheckpointError("the checkpoint's signature by the certifying body's key does not verify")
    if parsed.payload_type != CHECKPOINT_PAYLOAD_TYPE:
        raise CheckpointError(f"the signed envelope is a {parsed.payload_type[:80]!r}, not a checkpoint")
    try:
        content = json.loads(parsed.payload)
    except ValueError:
        raise CheckpointError("the checkpoint's payload is not JSON") from None
    if not isinstance(content, dict) or set(content) != {"at", "root", "size"}:
        raise CheckpointError("the checkpoint's payload is not an object of exactly size, root and at")
    size, root, at = content["size"], content["root"], content["at"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise CheckpointError("the checkpoint's size is not a non-negative integer")
    if not isinstance(at, str) or not at or len(at) > _MAX_AT:
        raise CheckpointError("the checkpoint's at is not a time")
    if not isinstance(root, str) or len(root) != 2 * HASH_SIZE or root != root.lower():
        raise CheckpointError("the checkpoint's root is not 64 lowercase hex digits")
    try:
        digest = bytes.fromhex(root)
    except ValueError:
        raise CheckpointError("the checkpoint's root is not 64 lowercase hex digits") from None
    return Checkpoint(size, digest, at)
