"""The trust list (``specs/evidence.md``, "Trust list"): which keys may sign evidence, for which suppliers, when.

A JSON file the certifying body publishes::

    {"keys": [{"keyid": HEX, "public_key": PEM, "holder": NAME, "may_sign_for": [SUPPLIER, ...] | ["*"],
               "not_before": RFC3339, "not_after": RFC3339}]}

Nothing is trusted implicitly: the verifier trusts exactly the entries of the lists it is given (no
folder of keys beside the bundles is ever read). A bare ``--trusted-key PREFIX.pub`` is a one-key list
covering ``*`` with no dates.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from harness.evidence.keys import keyid as keyid_of
from harness.evidence.keys import load_public, read_bounded
from harness.model import UsageError

__all__ = [
    "ANY_SUPPLIER",
    "MAX_TRUST_LIST_BYTES",
    "TrustEntry",
    "TrustList",
    "entry_for",
    "parse_time",
]

ANY_SUPPLIER = "*"
MAX_TRUST_LIST_BYTES = 16 << 20
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})\Z")
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")


def parse_time(text: object, what: str) -> dt.datetime:
    """An RFC 3339 date-time with an explicit offset (``Z`` or ``+HH:MM``) as an aware datetime; ValueError else."""
    if not isinstance(text, str) or not _RFC3339.match(text):
        raise ValueError(f"{what} is not an RFC 3339 date-time with an offset: {json.dumps(text)[:80]}")
    normalised = text.upper().replace("Z", "+00:00")
    whole, dot, rest = normalised.partition(".")
    if dot:  # fromisoformat of Python 3.11 takes 3 or 6 fraction digits only: keep at most 6
        digits = re.match(r"\d+", rest)
        assert digits is not None
        fraction = digits.group()[:6].ljust(6, "0")
        normalised = f"{whole}.{fraction}{rest[digits.end() :]}"
    try:
        return dt.datetime.fromisoformat(normalised)
    except ValueError:
        raise ValueError(f"{what} is not a valid date-time: {text}") from None


def _format_time(when: dt.datetime | None) -> str | None:
    if when is None:
        return None
    return when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


@dataclass(slots=True, frozen=True)
class TrustEntry:
    """One key on the list: who holds it, for which suppliers it may sign, and when."""

    keyid: str
    public_key: Ed25519PublicKey = field(compare=False, repr=False)
    holder: str
    may_sign_for: tuple[str, ...]
    not_before: dt.datetime | None = None
    not_after: dt.datetime | None = None

    def covers(self, supplier: str | None) -> bool:
        """Whether the entry may sign for ``supplier``; a run with no declared supplier only under ``*``."""
        if ANY_SUPPLIER in self.may_sign_for:
            return True
        return supplier is not None and supplier in self.may_sign_for

    def within(self, when: dt.datetime) -> bool:
        """Whether ``when`` lies in ``[not_before, not_after]`` (an open end where a date is absent)."""
        if self.not_before is not None and when < self.not_before:
            return False
        return self.not_after is None or when <= self.not_after

    def window(self) -> str:
        """``NOT_BEFORE .. NOT_AFTER`` (``-`` for an open end), for reasons and listings."""
        return f"{_format_time(self.not_before) or '-'} .. {_format_time(self.not_after) or '-'}"

    def as_json(self) -> dict[str, Any]:
        """The entry as the trust list's JSON holds it (dates in UTC, ``Z``)."""
        pem = self.public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        entry: dict[str, Any] = {
            "keyid": self.keyid,
            "public_key": pem.decode("ascii"),
            "holder": self.holder,
            "may_sign_for": list(self.may_sign_for),
        }
        if self.not_before is not None:
            entry["not_before"] = _format_time(self.not_before)
        if self.not_after is not None:
            entry["not_after"] = _format_time(self.not_after)
        return entry


def _entry(raw: object, where: str) -> TrustEntry:
    if not isinstance(raw, dict):
        raise UsageError(f"{where}: not an object")
    unknown = sorted(set(raw) - {"keyid", "public_key", "holder", "may_sign_for", "not_before", "not_after"})
    if unknown:
        raise UsageError(f"{where}: unknown member {unknown[0]!r}")
    ident, pem, holder, suppliers = raw.get("keyid"), raw.get("public_key"), raw.get("holder"), raw.get("may_sign_for")
    if not isinstance(ident, str) or not _HEX64.match(ident):
        raise UsageError(f"{where}: keyid must be 64 lowercase hex digits")
    if not isinstance(pem, str):
        raise UsageError(f"{where}: public_key must be a PEM string")
    try:
        key = serialization.load_pem_public_key(pem.encode("utf-8"))
    except (ValueError, UnsupportedAlgorithm, UnicodeEncodeError):
        raise UsageError(f"{where}: public_key is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise UsageError(f"{where}: public_key is not an Ed25519 key")
    if keyid_of(key) != ident:
        raise UsageError(
            f"{where}: keyid {ident[:16]}... is not the SHA-256 of its public_key ({keyid_of(key)[:16]}...)"
        )
    if not isinstance(holder, str) or not holder.strip():
        raise UsageError(f"{where}: holder must be a non-empty string")
    if not isinstance(suppliers, list) or not suppliers or not all(isinstance(s, str) and s.strip() for s in suppliers):
        raise UsageError(f'{where}: may_sign_for must be a non-empty list of supplier names (or ["*"])')
    try:
        not_before = parse_time(raw["not_before"], "not_before") if raw.get("not_before") is not None else None
        not_after = parse_time(raw["not_after"], "not_after") if raw.get("not_after") is not None else None
    except ValueError as exc:
        raise UsageError(f"{where}: {exc}") from None
    if not_before is not None and not_after is not None and not_after < not_before:
        raise UsageError(f"{where}: not_after lies before not_before")
    return TrustEntry(ident, key, holder, tuple(suppliers), not_before, not_after)


@dataclass(slots=True, frozen=True)
class TrustList:
    """Keys trusted to sign evidence; several entries may share a keyid (different suppliers or dates)."""

    entries: tuple[TrustEntry, ...] = ()

    @classmethod
    def empty(cls) -> TrustList:
        """Nothing trusted: a signed bundle is invalid (unknown key)."""
        return cls(())

    @classmethod
    def load(cls, path: Path) -> TrustList:
        """The spec's JSON file at ``path``; a UsageError of one line when it is unreadable or malformed."""
        data = read_bounded(path, "trust list", MAX_TRUST_LIST_BYTES)
        try:
            document = json.loads(data)
        except (ValueError, RecursionError):
            raise UsageError(f"{path}: the trust list is not JSON") from None
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise UsageError(f'{path}: a trust list is an object {{"keys": [...]}}')
        return cls(tuple(_entry(raw, f"{path}: keys[{n}]") for n, raw in enumerate(document["keys"])))

    @classmethod
    def single(cls, public_key_path: Path) -> TrustList:
        """A bare ``--trusted-key PREFIX.pub``: one key covering every supplier (``*``), with no dates."""
        key = load_public(public_key_path)
        holder = public_key_path.name.removesuffix(".pub")
        return cls((TrustEntry(keyid_of(key), key, holder or "trusted key", (ANY_SUPPLIER,)),))

    def merged(self, other: TrustList) -> TrustList:
        """Both lists' entries (a key on either is trusted as that list says)."""
        return TrustList(self.entries + tuple(e for e in other.entries if e not in self.entries))

    def with_entry(self, entry: TrustEntry) -> TrustList:
        """This list and ``entry`` after its entries."""
        return TrustList((*self.entries, entry))

    def for_keyid(self, ident: str) -> tuple[TrustEntry, ...]:
        """Every entry of the key ``ident`` (lowercase hex SHA-256 of the raw public key)."""
        return tuple(entry for entry in self.entries if entry.keyid == ident)

    def __iter__(self) -> Iterator[TrustEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def as_json(self) -> dict[str, Any]:
        """The spec's JSON document of the list."""
        return {"keys": [entry.as_json() for entry in self.entries]}

    def save(self, path: Path) -> None:
        """Write the list to ``path`` atomically (a reader never sees half a list)."""
        text = json.dumps(self.as_json(), indent=2, ensure_ascii=False) + "\n"
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(text, encoding="utf-8")
            temporary.replace(path)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise UsageError(f"{path}: cannot write the trust list ({exc.strerror or exc})") from None


def entry_for(
    public_key_path: Path,
    holder: str,
    may_sign_for: Iterable[str],
    not_before: str | None = None,
    not_after: str | None = None,
) -> TrustEntry:
    """A new entry for the key at ``public_key_path`` (``harness keys trust-list add``); UsageError when bad."""
    key = load_public(public_key_path)
    raw: Mapping[str, Any] = {
        "keyid": keyid_of(key),
        "public_key": key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii"),
        "holder": holder,
        "may_sign_for": list(may_sign_for),
        "not_before": not_before,
        "not_after": not_after,
    }
    entry = _entry(dict(raw), str(public_key_path))
    return replace(entry, public_key=key)
