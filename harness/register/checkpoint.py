"""Signed checkpoints of the register's log: (tree size, root hash, the store's time), signed by the body's key.

A checkpoint is a DSSE envelope (Ed25519 over DSSE's pre-authentication encoding, the envelope
:mod:`harness.evidence.dsse` signs bundles with) of payload type :data:`CHECKPOINT_PAYLOAD_TYPE`
whose payload is the canonical JSON ``{"at", "root", "size"}`` (``root`` lowercase hex).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harness.evidence.dsse import envelope
from harness.evidence.signed import SignedRecordError, open_body_signed
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
    try:
        content = open_body_signed(document, body_key, CHECKPOINT_PAYLOAD_TYPE, "checkpoint").content
    except SignedRecordError as exc:
        raise CheckpointError(str(exc)) from None
    if set(content) != {"at", "root", "size"}:
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
