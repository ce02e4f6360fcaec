"""The register's append-only log: a Merkle tree over its entries as RFC 9162 (Certificate Transparency 2.0) 2.1 has it.

Pure: hashes, proofs and their verification, the entry value and its JSON. The store keeps the entries
and the tree's complete subtrees (``harness/store/log.py``) and hands this module a *node reader*:
``node(level, index)`` is the hash of the perfect subtree of ``2**level`` leaves starting at leaf
``index * 2**level``. Every subtree RFC 9162's recursion visits starts at a multiple of its own size
rounded up to a power of two, so any MTH(D[a:b]) it needs is a fold of O(log n) such nodes: a proof
reads O(log n) stored hashes, never the whole log. :func:`nodes_needed` lists them first so that the
store fetches them in one query.

Written here rather than taken from PyPI: no maintained package computes proofs over a store's node
table (they hold the whole tree in memory), and the algorithms are short enough to test against the
RFC's own definitions (``tests/unit/test_register_log.py``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "KINDS",
    "LogEntry",
    "LogFormatError",
    "MemoryTree",
    "NodeReader",
    "canonical_json",
    "completed_nodes",
    "consistency_json",
    "consistency_proof",
    "entry_from_json",
    "inclusion_json",
    "inclusion_path",
    "leaf_hash",
    "node_hash",
    "nodes_needed",
    "proof_from_json",
    "root_hash",
    "subtree_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}): the hash of an empty log (SHA-256 of no bytes)."""
KINDS = ("registration", "refusal", "withdrawal", "lifecycle")
"""What an entry records: a registration (a certificate issued, or a valid bundle registered without one),
a refused submission, a withdrawal, a suite version's life-cycle change."""

NodeReader = Callable[[int, int], bytes]
"""``node(level, index)``: the hash of the perfect subtree of ``2**level`` leaves from leaf ``index << level``."""


class LogFormatError(ValueError):
    """A log document (entry, proof) that is malformed; the message is the reason."""


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _largest_power_below(n: int) -> int:
    """k: the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_hash(start: int, end: int, node: NodeReader) -> bytes:
    """MTH(D[start:end]) for a range RFC 9162's recursion produces (``start`` aligned to the range's size)."""
    size = end - start
    if size <= 0:
        return EMPTY_ROOT
    if size & (size - 1) == 0:  # a perfect subtree: one stored node
        level = size.bit_length() - 1
        return node(level, start >> level)
    k = _largest_power_below(size)
    return node_hash(subtree_hash(start, start + k, node), subtree_hash(start + k, end, node))


def root_hash(size: int, node: NodeReader) -> bytes:
    """MTH(D[size]): the root of the first ``size`` entries."""
    return subtree_hash(0, size, node)


def inclusion_path(index: int, size: int, node: NodeReader) -> list[bytes]:
    """PATH(index, D[size]) of RFC 9162 2.1.3.1: the audit path of entry ``index`` in the tree of ``size`` entries."""
    if not 0 <= index < size:
        raise ValueError(f"no entry {index} in a log of {size} entries")
    path: list[bytes] = []
    start, end, m = 0, size, index
    while end - start > 1:  # walk down; each level's sibling is appended, then reversed (PATH lists leaf first)
        k = _largest_power_below(end - start)
        if m < k:
            path.append(subtree_hash(start + k, end, node))
            end = start + k
        else:
            path.append(subtree_hash(start, start + k, node))
            start, m = start + k, m - k
    path.reverse()
    return path


def consistency_proof(first: int, second: int, node: NodeReader) -> list[bytes]:
    """PROOF(first, D[second]) of RFC 9162 2.1.4.1 (empty when ``first`` is 0 or equal to ``second``)."""
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from {first} to {second} entries")
    if first in (0, second):
        return []
    proof: list[bytes] = []
    start, end, m, whole = 0, second, first, True
    while m != end - start:  # SUBPROOF(m, D[start:end], whole), walked down; RFC order is innermost first
        k = _largest_power_below(end - start)
        if m <= k:
            proof.append(subtree_hash(start + k, end, node))
            end = start + k
        else:
            proof.append(subtree_hash(start, start + k, node))
            start, m, whole = start + k, m - k, False
    if not whole:
        proof.append(subtree_hash(start, end, node))
    proof.reverse()
    return proof


def nodes_needed(compute: Callable[[NodeReader], object]) -> list[tuple[int, int]]:
    """The ``(level, index)`` nodes ``compute`` reads, in order of first use (so a store fetches them at once)."""
    seen: dict[tuple[int, int], None] = {}

    def record(level: int, index: int) -> bytes:
        seen[(level, index)] = None
        return EMPTY_ROOT  # any 32 bytes: which nodes are read does not depend on their values

    compute(record)
    return list(seen)


def completed_nodes(index: int, leaf: bytes, node: NodeReader) -> list[tuple[int, int, bytes]]:
    """The perfect subtrees above level 0 that appending leaf ``index`` (hash ``leaf``) completes.

    ``node`` reads the left siblings, which exist already (the log is append-only).
    """
    made: list[tuple[int, int, bytes]] = []
    level, position, current = 0, index, leaf
    while position & 1:
        current = node_hash(node(level, position - 1), current)
        level, position = level + 1, position >> 1
        made.append((level, position, current))
    return made


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 2.1.3.2: whether ``proof`` shows the leaf hash ``leaf`` at ``index`` of the tree ``(size, root)``."""
    if not 0 <= index < size or any(len(p) != HASH_SIZE for p in proof):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 2.1.4.2: whether ``proof`` shows the tree ``(first, first_root)`` is a prefix of ``(second, ...)``.

    Outside the RFC's 0 < first < second: equal sizes need equal roots and an empty proof; an empty
    first tree (its root must be :data:`EMPTY_ROOT`) is a prefix of every tree, with an empty proof.
    """
    if not 0 <= first <= second or any(len(p) != HASH_SIZE for p in proof):
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof and first_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0


class MemoryTree:
    """A log held in memory (its leaf hashes and completed nodes): for auditors and tests."""

    def __init__(self, leaves: Sequence[bytes] = ()) -> None:
        self._nodes: dict[tuple[int, int], bytes] = {}
        self.size = 0
        for data in leaves:
            self.append(data)

    def append(self, data: bytes) -> int:
        """Append one entry's bytes; its index."""
        index, leaf = self.size, leaf_hash(data)
        self._nodes[(0, index)] = leaf
        for level, position, digest in completed_nodes(index, leaf, self.node):
            self._nodes[(level, position)] = digest
        self.size += 1
        return index

    def node(self, level: int, index: int) -> bytes:
        return self._nodes[(level, index)]

    def root(self, size: int | None = None) -> bytes:
        return root_hash(self.size if size is None else size, self.node)


def canonical_json(value: Mapping[str, Any]) -> bytes:
    """The one byte form of an entry's payload: sorted keys, no spaces, ASCII (``\\u`` escapes), no floats.

    ASCII so that any string a bundle declared (even a lone surrogate) has exactly one encoding.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


@dataclass(slots=True, frozen=True)
class LogEntry:
    """One entry of the log: its index, kind, the store's time, the exact payload bytes and their leaf hash.

    ``payload`` is canonical JSON holding ``kind`` and ``at`` itself, so the leaf hash covers them.
    """

    index: int
    kind: str
    at: str
    payload: bytes
    leaf_hash: bytes

    def content(self) -> dict[str, Any]:
        """The payload as a JSON object."""
        value = json.loads(self.payload)
        if not isinstance(value, dict):
            raise LogFormatError(f"entry {self.index}: the payload is not a JSON object")
        return value

    def as_json(self) -> dict[str, Any]:
        """``{"index", "kind", "at", "payload": the canonical JSON text, "leaf_hash": hex}``."""
        return {
            "index": self.index,
            "kind": self.kind,
            "at": self.at,
            "payload": self.payload.decode("ascii"),
            "leaf_hash": self.leaf_hash.hex(),
        }


def _hex_hash(value: object, what: str) -> bytes:
    if not isinstance(value, str) or len(value) != 2 * HASH_SIZE:
        raise LogFormatError(f"{what} is not {2 * HASH_SIZE} hex digits")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise LogFormatError(f"{what} is not {2 * HASH_SIZE} hex digits") from None


def _count(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise LogFormatError(f"{what} is not a non-negative integer")
    return value


def entry_from_json(document: object) -> LogEntry:
    """An entry as :meth:`LogEntry.as_json` writes it, its leaf hash computed here from the payload bytes.

    The served ``leaf_hash`` is never taken on trust: a payload that does not hash to it is refused.
    """
    if not isinstance(document, dict):
        raise LogFormatError("the entry is not a JSON object")
    index = _count(document.get("index"), "the entry's index")
    text = document.get("payload")
    if not isinstance(text, str):
        raise LogFormatError(f"entry {index}: the payload is not a string")
    try:
        payload = text.encode("ascii")
    except UnicodeEncodeError:
        raise LogFormatError(f"entry {index}: the payload is not canonical JSON (not ASCII)") from None
    try:
        content = json.loads(payload)
    except ValueError:
        raise LogFormatError(f"entry {index}: the payload is not JSON") from None
    if not isinstance(content, dict) or canonical_json(content) != payload:
        raise LogFormatError(f"entry {index}: the payload is not canonical JSON of an object")
    kind, at = content.get("kind"), content.get("at")
    if kind not in KINDS or not isinstance(at, str):
        raise LogFormatError(f"entry {index}: the payload's kind or at is missing or unknown")
    leaf = leaf_hash(payload)
    served = document.get("leaf_hash")
    if served is not None and _hex_hash(served, f"entry {index}: leaf_hash") != leaf:
        raise LogFormatError(f"entry {index}: its payload does not hash to the leaf hash served with it")
    return LogEntry(index, str(kind), at, payload, leaf)


def proof_from_json(document: object, what: str) -> list[bytes]:
    """The ``proof`` array of a proof document, as hashes."""
    if not isinstance(document, dict) or not isinstance(document.get("proof"), list):
        raise LogFormatError(f"the {what} proof is not an object with a proof array")
    proof: list[bytes] = document["proof"]
    if len(proof) > 128:  # a proof of a log of 2**64 entries has fewer than 130 hashes
        raise LogFormatError(f"the {what} proof is too long")
    return [_hex_hash(item, f"a hash of the {what} proof") for item in proof]


def inclusion_json(entry: LogEntry, size: int, proof: Sequence[bytes]) -> dict[str, Any]:
    """``GET /register/v1/log/inclusion?index=N&size=M``: the entry, its leaf hash and PATH(N, D[M])."""
    return {
        "index": entry.index,
        "size": size,
        "leaf_hash": entry.leaf_hash.hex(),
        "proof": [p.hex() for p in proof],
        "entry": entry.as_json(),
    }


def consistency_json(first: int, second: int, proof: Sequence[bytes]) -> dict[str, Any]:
    """``GET /register/v1/log/consistency?first=M&second=N``: PROOF(M, D[N])."""
    return {"first": first, "second": second, "proof": [p.hex() for p in proof]}
