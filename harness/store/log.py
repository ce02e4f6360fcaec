"""The register's log in the store: entries (``log_entries``) and the tree's completed subtrees (``log_nodes``).

Appends happen inside the caller's transaction, under the store's write lock, so that indexes are dense
and an entry exists exactly when the act it records was committed. Both tables refuse UPDATE and DELETE
(triggers of migration v0003). Proofs read the O(log n) nodes they need in one query per table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from harness.register.log import (
    KINDS,
    LogEntry,
    NodeReader,
    canonical_json,
    completed_nodes,
    leaf_hash,
    nodes_needed,
)
from harness.store.schema import log_entries, log_nodes

__all__ = ["append", "entries", "log_size", "read_nodes", "with_nodes"]

T = TypeVar("T")


def log_size(connection: Connection) -> int:
    """How many entries the log holds (indexes are dense from 0)."""
    last = connection.execute(sa.select(sa.func.max(log_entries.c.idx))).scalar()
    return 0 if last is None else int(last) + 1


def read_nodes(connection: Connection, wanted: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """The stored hashes of the ``(level, index)`` nodes asked for (level 0: the entries' leaf hashes)."""
    keys = list(dict.fromkeys(wanted))
    found: dict[tuple[int, int], bytes] = {}
    leaves = [index for level, index in keys if level == 0]
    for start in range(0, len(leaves), 500):
        query = sa.select(log_entries.c.idx, log_entries.c.leaf_hash).where(
            log_entries.c.idx.in_(leaves[start : start + 500])
        )
        found.update({(0, int(row.idx)): bytes(row.leaf_hash) for row in connection.execute(query)})
    upper = [key for key in keys if key[0] > 0]
    for start in range(0, len(upper), 500):
        query = sa.select(log_nodes.c.level, log_nodes.c.idx, log_nodes.c.hash).where(
            sa.tuple_(log_nodes.c.level, log_nodes.c.idx).in_(upper[start : start + 500])
        )
        found.update({(int(row.level), int(row.idx)): bytes(row.hash) for row in connection.execute(query)})
    return found


def _reader(nodes: Mapping[tuple[int, int], bytes]) -> NodeReader:
    def node(level: int, index: int) -> bytes:
        try:
            return nodes[(level, index)]
        except KeyError:
            raise LookupError(f"the log's node ({level}, {index}) is missing: the log tables were altered") from None

    return node


def with_nodes(connection: Connection, compute: Callable[[NodeReader], T]) -> T:
    """``compute(node)`` with the nodes it reads fetched first, in one query per table (O(log n) rows)."""
    return compute(_reader(read_nodes(connection, nodes_needed(compute))))


def append(
    connection: Connection, kind: str, at: str, content: Mapping[str, Any], certificate_id: str | None = None
) -> LogEntry:
    """Append one entry (in the caller's transaction, which holds the store's write lock).

    The payload is the canonical JSON of ``content`` with ``kind`` and ``at``, so its leaf hash covers both.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown log entry kind {kind!r}")
    payload = canonical_json({**content, "kind": kind, "at": at})
    index = log_size(connection)
    leaf = leaf_hash(payload)
    connection.execute(
        sa.insert(log_entries),
        [
            {
                "idx": index,
                "kind": kind,
                "at": at,
                "payload": payload,
                "leaf_hash": leaf,
                "certificate_id": certificate_id,
            }
        ],
    )
    made = with_nodes(connection, lambda node: completed_nodes(index, leaf, node))
    if made:
        rows = [{"level": level, "idx": position, "hash": digest} for level, position, digest in made]
        connection.execute(sa.insert(log_nodes), rows)
    return LogEntry(index, kind, at, payload, leaf)


def entries(connection: Connection, start: int, end: int) -> list[LogEntry]:
    """Entries ``start`` to ``end - 1``, in order."""
    query = (
        sa.select(log_entries).where(log_entries.c.idx >= start, log_entries.c.idx < end).order_by(log_entries.c.idx)
    )
    return [
        LogEntry(int(row.idx), str(row.kind), str(row.at), bytes(row.payload), bytes(row.leaf_hash))
        for row in connection.execute(query)
    ]
