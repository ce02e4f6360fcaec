"""The register's Merkle log against RFC 9162 2.1 itself.

``_mth``, ``_path`` and ``_proof`` below are a literal transcription of the RFC's recursive definitions
over lists of entries (2.1.1 MTH, 2.1.3.1 PATH, 2.1.4.1 PROOF/SUBPROOF), sharing no code with
``harness/register/log.py``; the implementation (iterative, over stored nodes) must agree with them for
every tree size 1..70 and every index/size pair, and its verifiers must accept exactly what they prove.
"""

from __future__ import annotations

import hashlib

import pytest

from harness.register.log import (
    EMPTY_ROOT,
    LogFormatError,
    MemoryTree,
    canonical_json,
    consistency_proof,
    entry_from_json,
    inclusion_path,
    leaf_hash,
    nodes_needed,
    verify_consistency,
    verify_inclusion,
)

SIZES = range(1, 71)


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than n (RFC 9162 2.1.1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _mth(d: list[bytes]) -> bytes:
    if len(d) == 0:
        return _sha(b"")
    if len(d) == 1:
        return _sha(b"\x00" + d[0])
    k = _k(len(d))
    return _sha(b"\x01" + _mth(d[:k]) + _mth(d[k:]))


def _path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return _path(m, d[:k]) + [_mth(d[k:])]
    return _path(m - k, d[k:]) + [_mth(d[:k])]


def _subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [_mth(d)]
    k = _k(n)
    if m <= k:
        return _subproof(m, d[:k], b) + [_mth(d[k:])]
    return _subproof(m - k, d[k:], False) + [_mth(d[:k])]


def _proof(m: int, d: list[bytes]) -> list[bytes]:
    return _subproof(m, d, True)


ENTRIES = [f"entry {i}".encode() for i in range(max(SIZES))]


@pytest.fixture(scope="module")
def tree() -> MemoryTree:
    return MemoryTree(ENTRIES)


def test_known_answers_computed_by_hand() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert MemoryTree().root() == EMPTY_ROOT
    a = hashlib.sha256(b"\x00a").digest()
    b = hashlib.sha256(b"\x00b").digest()
    c = hashlib.sha256(b"\x00c").digest()
    assert MemoryTree([b"a"]).root() == a == leaf_hash(b"a")
    ab = hashlib.sha256(b"\x01" + a + b).digest()
    assert MemoryTree([b"a", b"b"]).root() == ab
    # three leaves: k = 2, so the root is H(1 || H(1||a||b) || c): the odd leaf is not paired with itself
    assert MemoryTree([b"a", b"b", b"c"]).root() == hashlib.sha256(b"\x01" + ab + c).digest()
    assert inclusion_path(2, 3, MemoryTree([b"a", b"b", b"c"]).node) == [ab]
    assert consistency_proof(2, 3, MemoryTree([b"a", b"b", b"c"]).node) == [c]


@pytest.mark.parametrize("size", SIZES)
def test_roots_and_paths_agree_with_the_rfc(tree: MemoryTree, size: int) -> None:
    d = ENTRIES[:size]
    root = _mth(d)
    assert tree.root(size) == root
    for m in range(size):
        path = inclusion_path(m, size, tree.node)
        assert path == _path(m, d), (m, size)
        assert verify_inclusion(m, size, leaf_hash(d[m]), path, root)


@pytest.mark.parametrize("second", SIZES)
def test_consistency_proofs_agree_with_the_rfc(tree: MemoryTree, second: int) -> None:
    d = ENTRIES[:second]
    second_root = _mth(d)
    for first in range(1, second):
        proof = consistency_proof(first, second, tree.node)
        assert proof == _proof(first, d), (first, second)
        assert verify_consistency(first, second, _mth(d[:first]), second_root, proof)
    assert consistency_proof(second, second, tree.node) == []
    assert verify_consistency(second, second, second_root, second_root, [])
    assert verify_consistency(0, second, EMPTY_ROOT, second_root, [])


def _tampered(proof: list[bytes]) -> list[list[bytes]]:
    """Every proof a forger could try from a genuine one: each hash flipped, one dropped, one added, swapped."""
    out = []
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([proof[i][0] ^ 1]) + proof[i][1:]
        out.append(flipped)
        out.append(proof[:i] + proof[i + 1 :])
    out.append([*proof, proof[0] if proof else EMPTY_ROOT])
    if len(proof) > 1:
        out.append([proof[1], proof[0], *proof[2:]])
    return out


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 31, 32, 33, 70])
def test_tampered_inclusion_proofs_are_rejected(tree: MemoryTree, size: int) -> None:
    root = tree.root(size)
    for m in range(size):
        leaf = leaf_hash(ENTRIES[m])
        path = inclusion_path(m, size, tree.node)
        for forged in _tampered(path):
            assert not verify_inclusion(m, size, leaf, forged, root), (m, size, forged)
        assert not verify_inclusion(m, size, leaf_hash(b"another entry"), path, root)
        assert not verify_inclusion(size, size, leaf, path, root)
        if size > 1:
            assert not verify_inclusion((m + 1) % size, size, leaf, path, root)


@pytest.mark.parametrize("second", [2, 3, 5, 8, 13, 31, 32, 33, 70])
def test_tampered_consistency_proofs_are_rejected(tree: MemoryTree, second: int) -> None:
    second_root = tree.root(second)
    rewritten = MemoryTree([*ENTRIES[:1], b"rewritten", *ENTRIES[2:second]])
    for first in range(1, second):
        first_root = tree.root(first)
        proof = consistency_proof(first, second, tree.node)
        for forged in _tampered(proof):
            assert not verify_consistency(first, second, first_root, second_root, forged), (first, second)
        # a log rebuilt with entry 1 changed: its genuine proof cannot join the old head to the new root
        if first >= 2:
            other = consistency_proof(first, second, rewritten.node)
            assert not verify_consistency(first, second, first_root, rewritten.root(), other)
        assert not verify_consistency(first, second, first_root, second_root[::-1], proof)
        assert not verify_consistency(second, first, second_root, first_root, proof)
    assert not verify_consistency(second, second, second_root, rewritten.root(), [])


def test_proofs_read_logarithmically_many_nodes() -> None:
    most = max(len(nodes_needed(lambda node, m=m: inclusion_path(m, 10_000, node))) for m in range(0, 10_000, 97))
    assert most <= 2 * 14
    most = max(len(nodes_needed(lambda node, m=m: consistency_proof(m, 10_000, node))) for m in range(1, 10_000, 97))
    assert most <= 2 * 14


def test_entries_are_read_by_their_own_hash() -> None:
    payload = canonical_json({"kind": "registration", "at": "2026-12-05T10:00:00.000Z", "product": "Ex\u00e9/\ud800"})
    assert payload.isascii()
    document = {"index": 3, "payload": payload.decode(), "leaf_hash": leaf_hash(payload).hex()}
    entry = entry_from_json(document)
    assert (entry.index, entry.kind, entry.leaf_hash) == (3, "registration", leaf_hash(payload))
    with pytest.raises(LogFormatError, match="does not hash"):
        entry_from_json({**document, "leaf_hash": leaf_hash(b"other").hex()})
    with pytest.raises(LogFormatError, match="canonical"):
        entry_from_json({**document, "payload": payload.decode().replace(",", ", ")})
    with pytest.raises(LogFormatError, match="kind"):
        entry_from_json({**document, "payload": canonical_json({"kind": "other", "at": "x"}).decode()})
