"""The register's log in the store: entries (``log_entries``) and the tree's completed subtrees (``log_nodes``).

Appends happen inside the caller's transaction, under the store's write lock, so that indexes are dense
and an entry exists exactly when the act it records was committed. Both tables refuse UPDATE and DELETE
(triggers of migration v0003). Proofs read the O(log n) nodes they need in one query per table.
"""

from __future__ import annotations

import hashlib
import json
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

__all__ = [
    "append",
    "backfill",
    "entries",
    "log_size",
    "read_nodes",
    "registration_content",
    "with_nodes",
    "withdrawal_content",
]

T = TypeVar("T")


def log_size(connection: Connection) -> int:
    """How many entries the log holds (indexes are dense from 0)."""
    last = connection.execute(sa.select(sa.func.max(log_entries.c.idx))).scalar()
    return 0 if last is None else int(last) + 1


def read_nodes(connection: Connection, wanted: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """The stored hashes of the ``(level, index)`` nodes asked for (level 0: the entries' leaf hashes).

    Plain SQL with bound parameters (a proof's O(log n) keys): each key is a primary-key lookup. Not a row-value
    IN, which SQLite answers by scanning the table, and not SQLAlchemy expressions, whose building costs more
    than the lookups themselves.
    """
    keys = list(dict.fromkeys(wanted))
    found: dict[tuple[int, int], bytes] = {}
    leaves = [index for level, index in keys if level == 0]
    upper = [key for key in keys if key[0] > 0]
    for start in range(0, len(leaves), 200):
        indexes = leaves[start : start + 200]
        marks = ", ".join(f":i{n}" for n in range(len(indexes)))  # placeholders only: values are bound
        query = sa.text(f"SELECT idx, leaf_hash FROM log_entries WHERE idx IN ({marks})")  # noqa: S608
        rows = connection.execute(query, {f"i{n}": index for n, index in enumerate(indexes)})
        found.update({(0, int(row.idx)): bytes(row.leaf_hash) for row in rows})
    for start in range(0, len(upper), 200):
        chunk = upper[start : start + 200]
        terms = " OR ".join(f"(level = :l{n} AND idx = :i{n})" for n in range(len(chunk)))
        query = sa.text(f"SELECT level, idx, hash FROM log_nodes WHERE {terms}")  # noqa: S608
        values = {f"l{n}": level for n, (level, _) in enumerate(chunk)} | {
            f"i{n}": index for n, (_, index) in enumerate(chunk)
        }
        found.update({(int(row.level), int(row.idx)): bytes(row.hash) for row in connection.execute(query, values)})
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


def registration_content(
    attempt: Mapping[str, Any],
    verifier_line: str,
    result_line: str,
    accepted: bool,
    issued: bool,
    certificate: str | None,
) -> dict[str, Any]:
    """What the log records of one registration attempt (a ``registrations`` row): what an auditor needs.

    Never a secret, and not the submitter's ``source`` (a local path or an organisation's label): the log is public.
    """
    product = None
    if attempt.get("sut_product") is not None:
        product = f"{attempt['sut_supplier']}/{attempt['sut_product']}@{attempt['sut_version']}"
    suite = f"{attempt['suite']}@{attempt['suite_version']}" if attempt.get("suite") is not None else None
    content = {
        "outcome": ("issued" if issued else "registered") if accepted else "refused",
        "result": result_line,
        "verifier": verifier_line,
        "certificate": certificate,
        "run_id": attempt.get("run_id"),
        "bundle_sha256": attempt.get("sha256"),
        "product": product,
        "suite": suite,
        "signer": attempt.get("signer_keyid"),
        "certified": attempt.get("certified"),
    }
    if attempt.get("roles"):  # a role-limited run (harness run --role): the roles its certificate covers
        content["roles"] = json.loads(str(attempt["roles"]))
    return content


def withdrawal_content(
    certificate: str,
    bundle_sha256: str,
    product: str,
    suite: str,
    reason: str,
    withdrawn: str,
    signer: str,
    record: str,
) -> dict[str, Any]:
    """What the log records of a withdrawal: the certificate, the body's reason and the digest of its signed record."""
    return {
        "certificate": certificate,
        "bundle_sha256": bundle_sha256,
        "product": product,
        "suite": suite,
        "reason": reason,
        "withdrawn": withdrawn,
        "signer": signer,
        "record_sha256": hashlib.sha256(record.encode()).hexdigest(),
    }


def backfill(connection: Connection) -> int:
    """Log what a store held before it had a log (migration v0003): every registration attempt and withdrawal.

    In the order of the store's own clock (a withdrawal after the registration it concerns), each entry dated
    with its act's time and marked ``"backfilled": true``: it was logged when the store was upgraded, not when
    the act happened, and an auditor can tell. Returns how many entries were appended.
    """
    if log_size(connection) != 0:
        return 0
    issued_by = {
        str(row.id): str(row.bundle_sha256)
        for row in connection.execute(sa.text("SELECT id, bundle_sha256 FROM certificates"))
    }
    acts: list[tuple[str, int, int, str, dict[str, Any]]] = []
    for row in connection.execute(sa.text("SELECT * FROM registrations")):
        acts.append((str(row.at), 0, int(row.id), "registration", dict(row._mapping)))
    query = sa.text(
        "SELECT w.certificate_id, w.reason, w.at, w.keyid, w.record, c.bundle_sha256, c.sut_supplier, c.sut_product,"
        " c.sut_version, c.suite, c.suite_version FROM withdrawals w JOIN certificates c ON c.id = w.certificate_id"
    )
    for position, row in enumerate(connection.execute(query)):
        acts.append((str(row.at), 1, position, "withdrawal", dict(row._mapping)))
    acts.sort(key=lambda act: act[:3])
    for at, _, _, what, held in acts:
        if what == "registration":
            certificate = held["certificate_id"]
            issued = certificate is not None and issued_by.get(str(certificate)) == held["sha256"]
            content = registration_content(
                held, str(held["line"]), str(held["result"]), bool(held["accepted"]), issued, certificate
            )
            kind = "registration" if held["accepted"] else "refusal"
            append(connection, kind, at, {**content, "backfilled": True}, certificate if issued else None)
        else:
            content = withdrawal_content(
                str(held["certificate_id"]),
                str(held["bundle_sha256"]),
                f"{held['sut_supplier']}/{held['sut_product']}@{held['sut_version']}",
                f"{held['suite']}@{held['suite_version']}",
                str(held["reason"]),
                at,
                str(held["keyid"]),
                str(held["record"]),
            )
            append(connection, "withdrawal", at, {**content, "backfilled": True}, str(held["certificate_id"]))
    return len(acts)
