"""The register's log as the store serves it: entries, signed checkpoints and RFC 9162 proofs."""

from __future__ import annotations

import builtins

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Connection

from harness.evidence.keys import keyid as public_keyid
from harness.model import UsageError
from harness.register.checkpoint import Checkpoint, SignedCheckpoint, sign_checkpoint
from harness.register.log import LogEntry, consistency_proof, inclusion_path, root_hash
from harness.store import log as ledger
from harness.store.base import NO_BODY_KEY, StoreBase, store_clock
from harness.store.schema import log_entries

__all__ = ["LogMixin"]


class LogMixin(StoreBase):
    """Reading the register's log: every registration, refusal, withdrawal and life-cycle change."""

    def log_size(self) -> int:
        """How many entries the register's log holds."""
        with self.engine.connect() as connection:
            return ledger.log_size(connection)

    def log_entry(self, index: int) -> LogEntry:
        """Entry ``index`` of the log; UsageError when there is none."""
        with self.engine.connect() as connection:
            found = ledger.entries(connection, index, index + 1) if index >= 0 else []
        if not found:
            raise UsageError(f"no log entry {index}")
        return found[0]

    def log_entries(self, start: int, end: int) -> builtins.list[LogEntry]:
        """Entries ``start`` to ``end - 1`` (at most 1,000 at a time), in order."""
        if start < 0 or end < start:
            raise UsageError(f"no log entries {start} to {end}")
        with self.engine.connect() as connection:
            return ledger.entries(connection, start, min(end, start + 1000))

    def log_indexes(self, kind: str = "registration") -> dict[str, int]:
        """Certificate id -> index of the entry that issued it (``registration``) or withdrew it (``withdrawal``)."""
        query = sa.select(log_entries.c.certificate_id, log_entries.c.idx).where(
            log_entries.c.kind == kind, log_entries.c.certificate_id.is_not(None)
        )
        with self.engine.connect() as connection:
            return {str(row.certificate_id): int(row.idx) for row in connection.execute(query)}

    def checkpoint(self, signer_key: Ed25519PrivateKey) -> SignedCheckpoint:
        """The log's head now (size, root, the store's clock), signed with the certifying body's key.

        Refused unless ``signer_key`` is the body key pinned in this store: a checkpoint is the body's word.
        """
        pinned = self.body_key()
        ident = public_keyid(signer_key.public_key())
        if pinned is None:
            raise UsageError(NO_BODY_KEY)
        if pinned[0] != ident:
            raise UsageError(
                f"the checkpoint key {ident[:16]} is not the body key pinned in this store ({pinned[0][:16]})"
            )
        with self.engine.connect() as connection:
            size = ledger.log_size(connection)
            root = ledger.with_nodes(connection, lambda node: root_hash(size, node))
            at = store_clock(connection)
        return sign_checkpoint(Checkpoint(size, root, at), signer_key)

    def _proof_size(self, connection: Connection, size: int) -> None:
        held = ledger.log_size(connection)
        if size > held:
            raise UsageError(f"the log holds {held} entries, not {size}")

    def inclusion_proof(self, index: int, size: int) -> builtins.list[bytes]:
        """PATH(index, D[size]) of RFC 9162 (2.1.3.1): the hashes proving entry ``index`` in the tree of ``size``."""
        if not 0 <= index < size:
            raise UsageError(f"no entry {index} in a log of {size} entries")
        with self.engine.connect() as connection:
            self._proof_size(connection, size)
            return ledger.with_nodes(connection, lambda node: inclusion_path(index, size, node))

    def consistency_proof(self, first: int, second: int) -> builtins.list[bytes]:
        """PROOF(first, D[second]) of RFC 9162 (2.1.4.1): the tree of ``first`` entries is a prefix of ``second``'s."""
        if not 0 <= first <= second:
            raise UsageError(f"no consistency proof from {first} to {second} entries")
        with self.engine.connect() as connection:
            self._proof_size(connection, second)
            return ledger.with_nodes(connection, lambda node: consistency_proof(first, second, node))
