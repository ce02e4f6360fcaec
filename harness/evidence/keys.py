"""Ed25519 signing keys: generated, written as PEM (private key encrypted), loaded, named by keyid."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harness.model import UsageError

__all__ = [
    "DEFAULT_PASSWORD_ENV",
    "generate",
    "keyid",
    "load_private",
    "load_public",
    "password_from_env",
    "read_bounded",
]

DEFAULT_PASSWORD_ENV = "HARNESS_KEY_PASSWORD"  # noqa: S105 (the name of a variable, not a password)
MAX_KEY_BYTES = 64 << 10


def keyid(public: Ed25519PublicKey) -> str:
    """Lowercase hex SHA-256 of the raw 32-byte public key."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def password_from_env(variable: str, required: bool) -> bytes | None:
    """The password held by environment variable ``variable``; never taken from the command line."""
    value = os.environ.get(variable)
    if value is None or value == "":
        if required:
            raise UsageError(f"{variable} is not set (the key's password is read from it)")
        return None
    return value.encode()


def generate(prefix: Path, password: bytes | None) -> str:
    """Write PREFIX.key (PKCS#8 PEM, encrypted when a password is given) and PREFIX.pub; return the keyid."""
    private = Ed25519PrivateKey.generate()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    key_pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    pub_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key_path, pub_path = Path(f"{prefix}.key"), Path(f"{prefix}.pub")
    for path in (key_path, pub_path):
        if path.exists():
            raise UsageError(f"{path} exists; not overwriting a key")
    try:
        key_path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(key_pem)
        pub_path.write_bytes(pub_pem)
    except OSError as exc:
        raise UsageError(f"cannot write the key pair at {prefix}: {exc.strerror}") from None
    return keyid(private.public_key())


def read_bounded(path: Path, what: str, limit: int = MAX_KEY_BYTES) -> bytes:
    """The bytes of ``path``, at most ``limit`` of them (never more is read); one-line UsageError otherwise."""
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise UsageError(f"{path}: a {what} over {limit} bytes")
    return data


def load_private(path: Path, password: bytes | None) -> Ed25519PrivateKey:
    """The Ed25519 private key at ``path``; wrong password or wrong kind of key is a usage error."""
    data = read_bounded(path, "signing key")
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except TypeError:
        if password is None:
            raise UsageError(f"{path}: the key is encrypted; give its password through the environment") from None
        raise UsageError(f"{path}: the key is not encrypted but a password was given") from None
    except (ValueError, UnsupportedAlgorithm):
        raise UsageError(f"{path}: not a PEM private key, or the password is wrong") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError(f"{path}: not an Ed25519 key")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    data = read_bounded(path, "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise UsageError(f"{path}: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise UsageError(f"{path}: not an Ed25519 public key")
    return key
