"""``harness register audit URL --checkpoint FILE``: check that the register's log was only ever appended to.

1. Fetch ``GET URL/register/v1/log/checkpoint`` and verify its signature with the certifying body's key
   (``--body-key PUB`` on first use; afterwards the key pinned in FILE).
2. Check it is consistent with the checkpoint saved in FILE last time
   (``GET /register/v1/log/consistency?first=M&second=N``, RFC 9162 2.1.4.2).
3. List the certificates (``GET /register/v1/catalogue``) and check the inclusion of the log entry that issued
   each (``GET /register/v1/log/inclusion?index=N&size=M``, RFC 9162 2.1.3.2), the leaf hash computed here
   from the entry served with the proof, and that the entry names that certificate.
4. Save the new checkpoint in FILE (only when every check passed).

Exit 0 consistent, 1 the first inconsistency (one line), 2 usage (bad URL, unreadable FILE, no key),
3 the register unreachable. Nothing the register serves is trusted before it is checked; everything it
serves is read within bounds.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from harness.evidence.keys import keyid, load_public, read_bounded
from harness.model import HarnessError, TargetUnreachable, UsageError
from harness.register.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from harness.register.log import (
    LogEntry,
    LogFormatError,
    entry_from_json,
    proof_from_json,
    verify_consistency,
    verify_inclusion,
)
from harness.reporting.redaction import printable

if TYPE_CHECKING:  # the client is loaded by the audit itself: parsing ``harness register ...`` loads no aiohttp
    import aiohttp

__all__ = ["SAVED_FORMAT", "AuditResult", "Inconsistent", "add_audit_parser", "audit", "audit_async"]

SAVED_FORMAT = "netcode-register-checkpoint/1"
_MAX_SMALL = 1 << 20
_MAX_CATALOGUE = 256 << 20
_MAX_SAVED = 64 << 20
_PREFIX = "/register/v1"


class Inconsistent(HarnessError):
    """The register's log or catalogue does not hold up; the message is the first reason."""

    exit_code = 1


@dataclass(slots=True, frozen=True)
class AuditResult:
    """A passed audit: the new checkpoint, the saved one it extends (if any), how many certificates were checked."""

    checkpoint: Checkpoint
    previous: Checkpoint | None
    certificates: int

    def line(self) -> str:
        grown = (
            "first checkpoint saved"
            if self.previous is None
            else f"consistent with the saved checkpoint of {self.previous.size} entries"
        )
        return (
            f"consistent: {self.checkpoint.size} entries, root {self.checkpoint.root.hex()[:16]}, "
            f"signed at {self.checkpoint.at}, {grown}; {self.certificates} certificates included"
        )


@dataclass(slots=True)
class _Ledger:
    """What the auditor learnt from the entries it has read and proven: certificate id -> entry index."""

    issued: dict[str, int]
    withdrawn: dict[str, int]
    life: dict[str, list[Any]]
    """``SUITE@VERSION`` -> [status, index of the entry that published it]."""

    def as_json(self) -> dict[str, Any]:
        return {"issued": self.issued, "withdrawn": self.withdrawn, "life": self.life}

    @staticmethod
    def from_json(value: object) -> _Ledger | None:
        """None for a file saved without it (every entry is then read again)."""
        if not isinstance(value, dict):
            return None
        issued, withdrawn, life = value.get("issued"), value.get("withdrawn"), value.get("life")
        if not isinstance(issued, dict) or not isinstance(withdrawn, dict) or not isinstance(life, dict):
            return None
        for held in (issued, withdrawn):
            if not all(isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in held.items()):
                return None
        for stage in life.values():
            if not (isinstance(stage, list) and len(stage) == 2 and isinstance(stage[0], str)):
                return None
            if not isinstance(stage[1], int) or isinstance(stage[1], bool):
                return None
        return _Ledger(dict(issued), dict(withdrawn), dict(life))

    def learn(self, entry: LogEntry) -> None:
        """One more proven entry, in index order; Inconsistent when the log contradicts itself."""
        content = entry.content()
        certificate = content.get("certificate")
        if entry.kind == "registration" and content.get("outcome") == "issued" and isinstance(certificate, str):
            if certificate in self.issued:
                raise Inconsistent(
                    f"log entry {entry.index} issues certificate {certificate}, "
                    f"issued already by entry {self.issued[certificate]}"
                )
            self.issued[certificate] = entry.index
        elif entry.kind == "withdrawal" and isinstance(certificate, str):
            if certificate not in self.issued:
                raise Inconsistent(
                    f"log entry {entry.index} withdraws certificate {certificate}, which no entry issued"
                )
            if certificate in self.withdrawn:
                raise Inconsistent(
                    f"log entry {entry.index} withdraws certificate {certificate} again "
                    f"(entry {self.withdrawn[certificate]})"
                )
            self.withdrawn[certificate] = entry.index
        elif entry.kind == "lifecycle":
            suite, version, status = content.get("suite"), content.get("version"), content.get("status")
            if isinstance(suite, str) and isinstance(version, str) and status in ("superseded", "retired"):
                held = self.life.get(f"{suite}@{version}")
                if held is not None and (held[0] == "retired" or held[0] == status):
                    raise Inconsistent(
                        f"log entry {entry.index} makes {suite}@{version} {status} after entry {held[1]} "
                        f"made it {held[0]} (a life only moves forward)"
                    )
                self.life[f"{suite}@{version}"] = [status, entry.index]


@dataclass(slots=True, frozen=True)
class _Saved:
    key: Ed25519PublicKey
    pem: bytes
    envelope: dict[str, Any]
    checkpoint: Checkpoint
    ledger: _Ledger | None


def _public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _read_saved(path: Path) -> _Saved | None:
    if not path.exists():
        return None
    data = read_bounded(path, "saved checkpoint", _MAX_SAVED)
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        raise UsageError(f"{path}: not a saved checkpoint (not JSON)") from None
    if not isinstance(document, dict) or document.get("format") != SAVED_FORMAT:
        raise UsageError(f"{path}: not a saved checkpoint ({SAVED_FORMAT})")
    pem = document.get("body_key")
    if not isinstance(pem, str):
        raise UsageError(f"{path}: the saved checkpoint pins no body key")
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError:
        raise UsageError(f"{path}: the pinned body key is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise UsageError(f"{path}: the pinned body key is not an Ed25519 key")
    envelope = document.get("envelope")
    try:
        checkpoint = open_checkpoint(envelope, key)
    except CheckpointError as exc:
        raise UsageError(f"{path}: the saved checkpoint does not verify ({exc})") from None
    assert isinstance(envelope, dict)  # open_checkpoint refuses anything else
    return _Saved(key, pem.encode(), envelope, checkpoint, _Ledger.from_json(document.get("certificates")))


def _save(path: Path, url: str, key: Ed25519PublicKey, envelope: dict[str, Any], ledger: _Ledger) -> None:
    """Write FILE atomically (a crash leaves the old checkpoint or the new one, never half of one)."""
    document = {
        "format": SAVED_FORMAT,
        "register": url,
        "body_key": _public_pem(key).decode(),
        "body_keyid": keyid(key),
        "envelope": envelope,
        "certificates": ledger.as_json(),
    }
    raw = json.dumps(document, indent=2, sort_keys=True).encode() + b"\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(handle, "wb") as out:
            out.write(raw)
        os.replace(temporary, path)
    except OSError as exc:
        raise UsageError(f"{path}: cannot save the checkpoint ({exc.strerror or exc})") from None


class _Register:
    """The register's log API over one HTTP session; every answer read within a bound."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session, self.base = session, base

    async def get(self, path: str, what: str, limit: int = _MAX_SMALL, **params: int) -> Any:
        import aiohttp

        url = self.base + _PREFIX + path
        try:
            async with self.session.get(url, params=params or None, allow_redirects=False) as answer:
                declared = answer.content_length
                if declared is not None and declared > limit:
                    raise Inconsistent(f"the {what} is over {limit} bytes")
                body = await answer.content.read(limit + 1)
                if len(body) > limit:
                    raise Inconsistent(f"the {what} is over {limit} bytes")
                if answer.status != 200:
                    raise Inconsistent(f"the register answered {answer.status} for the {what}")
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise TargetUnreachable(f"register unreachable at {self.base}: {exc.__class__.__name__}") from None
        except aiohttp.ClientError as exc:
            raise Inconsistent(f"the register's answer for the {what} is not HTTP ({exc.__class__.__name__})") from None
        try:
            return json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
            raise Inconsistent(f"the {what} is not JSON (or nested too deep)") from None


def _certificates(catalogue: object) -> list[dict[str, Any]]:
    """Every certificate the catalogue lists (``products[].certificates[]``)."""
    if not isinstance(catalogue, dict) or not isinstance(catalogue.get("products"), list):
        raise Inconsistent("the catalogue is not an object with a products array")
    found: list[dict[str, Any]] = []
    for product in catalogue["products"]:
        if not isinstance(product, dict) or not isinstance(product.get("certificates"), list):
            raise Inconsistent("a catalogue product is not an object with a certificates array")
        for certificate in product["certificates"]:
            if not isinstance(certificate, dict) or not isinstance(certificate.get("id"), str):
                raise Inconsistent("a catalogue certificate has no id")
            found.append(certificate)
    return found


def _index(value: object, ident: str, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise Inconsistent(f"certificate {ident} has no {field} in the catalogue (every certificate is logged)")
    return value


async def _proven_entry(register: _Register, checkpoint: Checkpoint, index: int, what: str) -> LogEntry:
    """Entry ``index`` as served with its inclusion proof, the proof verified against the signed root."""
    proof_of = f"inclusion proof of entry {index}"
    document = await register.get("/log/inclusion", proof_of, index=index, size=checkpoint.size)
    try:
        proof = proof_from_json(document, "inclusion")
        entry = entry_from_json(document.get("entry"))
    except LogFormatError as exc:
        raise Inconsistent(f"{what}: {exc}") from None
    if entry.index != index:
        raise Inconsistent(f"{what}: the register served entry {entry.index} for entry {index}")
    if not verify_inclusion(index, checkpoint.size, entry.leaf_hash, proof, checkpoint.root):
        raise Inconsistent(
            f"{what}: log entry {index} is not included in the signed checkpoint "
            f"of {checkpoint.size} entries (the log was rewritten)"
        )
    return entry


async def _included(
    register: _Register, checkpoint: Checkpoint, index: int, kind: str, certificate: dict[str, Any]
) -> None:
    """Entry ``index`` is in the tree of the checkpoint and records ``kind`` of this certificate."""
    ident = certificate["id"]
    if index >= checkpoint.size:
        raise Inconsistent(
            f"certificate {ident}: its {kind} entry {index} is beyond the checkpoint's {checkpoint.size} entries"
        )
    entry = await _proven_entry(register, checkpoint, index, f"certificate {ident}")
    content = entry.content()
    if entry.kind != kind or content.get("certificate") != ident:
        raise Inconsistent(f"certificate {ident}: log entry {index} is not its {kind} (it records {entry.kind})")
    if kind == "registration" and content.get("outcome") != "issued":
        raise Inconsistent(f"certificate {ident}: log entry {index} did not issue it")
    sha256 = certificate.get("sha256")
    if sha256 is not None and content.get("bundle_sha256") != sha256:
        raise Inconsistent(f"certificate {ident}: the catalogue's bundle is not the one log entry {index} registered")


async def audit_async(
    url: str, checkpoint_path: Path, body_key: Path | None = None, *, concurrency: int = 8, timeout: float = 30.0
) -> AuditResult:
    """The audit (see the module); raises :class:`Inconsistent` (1), UsageError (2) or TargetUnreachable (3)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise UsageError(f"bad register URL {url!r}: expected http(s)://HOST[:PORT][/PATH]")
    if parts.username or parts.password:
        raise UsageError("the register URL must carry no credentials")
    base = url.rstrip("/")
    saved = _read_saved(checkpoint_path)
    given = load_public(body_key) if body_key is not None else None
    if saved is None and given is None:
        raise UsageError(f"{checkpoint_path} does not exist yet: give --body-key PUB on first use (it is pinned there)")
    if saved is not None and given is not None and keyid(given) != keyid(saved.key):
        raise UsageError(
            f"--body-key {keyid(given)[:16]} is not the key pinned in {checkpoint_path} ({keyid(saved.key)[:16]})"
        )
    key = saved.key if saved is not None else given
    assert key is not None
    import aiohttp

    limits = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(timeout=limits, connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        register = _Register(session, base)
        # the catalogue first, then the checkpoint: everything the catalogue reflects is then inside the signed tree,
        # and a certificate issued in between is neither "beyond the checkpoint" nor "missing from the catalogue"
        catalogue = await register.get("/catalogue", "catalogue", _MAX_CATALOGUE)
        served = await register.get("/log/checkpoint", "checkpoint")
        envelope = served.get("envelope") if isinstance(served, dict) else None
        try:
            checkpoint = open_checkpoint(envelope, key)
        except CheckpointError as exc:
            raise Inconsistent(str(exc)) from None
        assert isinstance(envelope, dict)
        previous = saved.checkpoint if saved is not None else None
        if previous is not None:
            await _consistent(register, previous, checkpoint)
        gate = asyncio.Semaphore(concurrency)
        # every entry the auditor has not read yet, each proven in the new tree: what the log says was issued
        ledger = saved.ledger if saved is not None and saved.ledger is not None else None
        start = previous.size if previous is not None and ledger is not None else 0
        ledger = ledger if ledger is not None else _Ledger({}, {}, {})

        async def entry(index: int) -> LogEntry:
            async with gate:
                return await _proven_entry(register, checkpoint, index, f"log entry {index}")

        for first in range(start, checkpoint.size, 1000):  # in slices: a long log is never all in flight
            batch = range(first, min(first + 1000, checkpoint.size))
            read = await asyncio.gather(*(entry(i) for i in batch), return_exceptions=True)
            for proven in read:  # in index order: the first failure is the reason, the same on every run
                if isinstance(proven, BaseException):
                    raise proven
                ledger.learn(proven)
        listed = _certificates(catalogue)
        _complete(listed, ledger, _reflected(catalogue, previous, checkpoint))
        checks: list[tuple[int, str, dict[str, Any]]] = []
        for certificate in listed:
            ident = certificate["id"]
            checks.append((_index(certificate.get("log_index"), ident, "log_index"), "registration", certificate))
            withdrawn = certificate.get("withdrawn")
            if isinstance(withdrawn, dict) and "log_index" in withdrawn:
                index = _index(withdrawn["log_index"], ident, "withdrawal log_index")
                checks.append((index, "withdrawal", certificate))

        async def one(index: int, kind: str, certificate: dict[str, Any]) -> None:
            async with gate:
                await _included(register, checkpoint, index, kind, certificate)

        # every check runs; the first failure in catalogue order is the reason (the same one on every run)
        outcomes = await asyncio.gather(*(one(*check) for check in checks), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
    _save(checkpoint_path, base, key, envelope, ledger)
    return AuditResult(checkpoint, previous, len(listed))


def _reflected(catalogue: object, previous: Checkpoint | None, checkpoint: Checkpoint) -> int:
    """The log size the catalogue says it reflects (``log_size``), between the last audited checkpoint and this one.

    The catalogue is read before the checkpoint, so it can never honestly reflect more entries than the checkpoint
    signs; and it must reflect at least what the last audit saw, or a register could keep showing a stale catalogue
    (a withdrawn certificate still live) for ever.
    """
    size = catalogue.get("log_size") if isinstance(catalogue, dict) else None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise Inconsistent("the catalogue does not say which log size it reflects (log_size)")
    if size > checkpoint.size:
        raise Inconsistent(
            f"the catalogue reflects {size} log entries, more than the {checkpoint.size} the later checkpoint signs"
        )
    if previous is not None and size < previous.size:
        raise Inconsistent(
            f"the catalogue reflects {size} log entries, fewer than the {previous.size} of the last audited checkpoint"
        )
    return size


def _complete(listed: list[dict[str, Any]], ledger: _Ledger, reflected: int) -> None:
    """The catalogue hides no live certificate the log issued, and shows none live that the log withdrew.

    Only entries below ``reflected`` (the log size the catalogue was read at) are held against it: an entry appended
    after the catalogue was read shows in the next audit. A withdrawn certificate may be left out (a later certificate
    of the same product and suite version stands).
    """
    shown = {c["id"]: c for c in listed}
    for ident, index in ledger.issued.items():
        if index >= reflected:
            continue
        certificate = shown.get(ident)
        withdrawal = ledger.withdrawn.get(ident)
        if withdrawal is not None and withdrawal >= reflected:
            withdrawal = None
        if certificate is None:
            if withdrawal is None:
                raise Inconsistent(f"certificate {ident}, issued by log entry {index}, is missing from the catalogue")
            continue
        if withdrawal is not None and not certificate.get("withdrawn"):
            raise Inconsistent(
                f"certificate {ident} is withdrawn by log entry {withdrawal}, but the catalogue shows it live"
            )
    for ident, certificate in shown.items():
        if ident not in ledger.issued:
            raise Inconsistent(f"the catalogue lists certificate {ident}, which no log entry issued")
        if certificate.get("withdrawn") and ident not in ledger.withdrawn:
            raise Inconsistent(f"the catalogue shows certificate {ident} withdrawn, but the log holds no withdrawal")
        # a version the body retired (superseded) through the log never shows its certificates live (current)
        ref = f"{certificate.get('suite')}@{certificate.get('version')}"
        stage, status = ledger.life.get(ref), certificate.get("status")
        if (
            stage is not None
            and stage[1] < reflected
            and (
                (stage[0] == "retired" and status not in ("lapsed", "withdrawn"))
                or (stage[0] == "superseded" and status in ("current", "certified"))
            )
        ):
            raise Inconsistent(
                f"the catalogue shows certificate {ident} {str(status)[:40]}, but log entry {stage[1]} made "
                f"{ref} {stage[0]}"
            )


def _instant(at: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return None


async def _consistent(register: _Register, previous: Checkpoint, checkpoint: Checkpoint) -> None:
    now, then = _instant(checkpoint.at), _instant(previous.at)
    if now is None or (then is not None and now < then):
        # the body's clock only moves forward: an older checkpoint signed later is a register showing a past state
        raise Inconsistent(f"the signed checkpoint's time {checkpoint.at[:40]} is before the saved one's {previous.at}")
    if checkpoint.size < previous.size:
        raise Inconsistent(
            f"the log shrank: the signed checkpoint has {checkpoint.size} entries, the saved one {previous.size}"
        )
    if checkpoint.size == previous.size:
        if checkpoint.root != previous.root:
            raise Inconsistent(f"two signed checkpoints of {checkpoint.size} entries with different roots")
        return
    if previous.size == 0:
        return
    document = await register.get("/log/consistency", "consistency proof", first=previous.size, second=checkpoint.size)
    try:
        proof = proof_from_json(document, "consistency")
    except LogFormatError as exc:
        raise Inconsistent(str(exc)) from None
    if not verify_consistency(previous.size, checkpoint.size, previous.root, checkpoint.root, proof):
        raise Inconsistent(
            f"the signed checkpoint of {checkpoint.size} entries is not consistent with the saved one of "
            f"{previous.size} entries (the log was rewritten)"
        )


def audit(url: str, checkpoint_path: Path, body_key: Path | None = None, *, timeout: float = 30.0) -> int:
    """Run the audit and print its one line; the exit code (0 consistent, 1 inconsistent, 2 usage, 3 unreachable)."""
    try:
        result = asyncio.run(audit_async(url, checkpoint_path, body_key, timeout=timeout))
    except Inconsistent as exc:
        print(printable(f"inconsistent: {exc}"))
        return exc.exit_code
    except HarnessError as exc:
        print(printable(f"harness: {exc}"), file=sys.stderr)
        return exc.exit_code
    print(printable(result.line()))
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    return audit(args.url, args.checkpoint, args.body_key, timeout=args.timeout)


def add_audit_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``audit`` to the ``harness register`` sub-commands (``subparsers`` of the ``register`` parser)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "audit",
        help="check that the register's log is consistent with the checkpoint saved last time",
        description=(
            "Fetch the register's signed checkpoint, check it extends the one saved in FILE (RFC 9162 consistency), "
            "check every listed certificate's log entry is included, then save the new checkpoint. "
            "Exit 0 consistent, 1 inconsistent (the first reason), 2 usage, 3 unreachable."
        ),
    )
    parser.add_argument("url", help="the register's base URL, e.g. https://register.example")
    parser.add_argument("--checkpoint", type=Path, required=True, metavar="FILE", help="the saved checkpoint")
    parser.add_argument(
        "--body-key",
        type=Path,
        metavar="PUB",
        help="the certifying body's public key (PEM): needed on first use, then pinned in FILE",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds allowed for each request (default 30)")
    parser.set_defaults(func=_cmd_audit)
    return parser
