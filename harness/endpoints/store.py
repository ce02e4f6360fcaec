"""Where the reference roles keep what a later request can refer to: in memory, or shared by several processes.

A role asks its :class:`Stores` for each store it needs (a name, a capacity, a codec for its values) and gets a
bounded, ordered mapping: a new key goes last and, past the capacity, the oldest entries are evicted; assigning to a
key already held keeps its place (as an ``OrderedDict`` does); :meth:`Store.put_last` moves it last.

- :class:`MemoryStores` (the default): ``OrderedDict`` stores, as fast as before; ``transaction()`` does nothing
  (a handler's synchronous code is never interleaved with another's in one event loop).
- :class:`SqliteStores` (``harness serve --processes N``): every process opens the same SQLite database (WAL mode,
  one connection per process, a busy timeout); values are stored as bytes by the store's codec; every write is a
  transaction, and ``transaction()`` makes a read-check-write sequence one ``BEGIN IMMEDIATE`` transaction, so two
  processes receiving the same message decide as one process would.

:func:`stores` gives the process's stores: the ones :func:`share_state` installed, else fresh in-memory ones.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import json
import os
import sqlite3
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

__all__ = [
    "BUSY_TIMEOUT_MS",
    "JSON",
    "Codec",
    "MemoryStore",
    "MemoryStores",
    "SqliteStore",
    "SqliteStores",
    "Store",
    "Stores",
    "create_database",
    "share_state",
    "stores",
]

K = TypeVar("K")
V = TypeVar("V")

BUSY_TIMEOUT_MS = 10_000
"""How long a process waits for another's write transaction before failing (they last microseconds)."""

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS entries (store TEXT NOT NULL, key TEXT NOT NULL, pos INTEGER NOT NULL,"
    " stamp INTEGER NOT NULL, value BLOB NOT NULL, PRIMARY KEY (store, key)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS entries_order ON entries (store, pos)",
    "CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO counter (id, value) VALUES (1, 0)",
    # Entries per store, kept by triggers: a store's size is read on every insert (eviction), and COUNT(*) over
    # a store of 1,000 entries cost more than the rest of the insert.
    "CREATE TABLE IF NOT EXISTS sizes (store TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TRIGGER IF NOT EXISTS entries_added AFTER INSERT ON entries BEGIN"
    " INSERT INTO sizes (store, n) VALUES (NEW.store, 1) ON CONFLICT (store) DO UPDATE SET n = n + 1; END",
    "CREATE TRIGGER IF NOT EXISTS entries_removed AFTER DELETE ON entries BEGIN"
    " UPDATE sizes SET n = n - 1 WHERE store = OLD.store; END",
)


@dataclass(slots=True, frozen=True)
class Codec(Generic[V]):
    """How a store's values become bytes and back (used only by :class:`SqliteStore`)."""

    encode: Callable[[V], bytes]
    decode: Callable[[bytes], V]


JSON: Codec[Any] = Codec(lambda value: json.dumps(value, ensure_ascii=False).encode(), json.loads)
"""Values that are JSON documents (dicts, lists, strings, numbers, booleans)."""


class Store(Protocol[K, V]):
    """A bounded, ordered mapping (the part of ``MutableMapping`` the roles use, and :meth:`put_last`)."""

    capacity: int

    def get(self, key: K, /) -> V | None: ...

    def __getitem__(self, key: K) -> V: ...

    def __setitem__(self, key: K, value: V) -> None: ...

    def __delitem__(self, key: K) -> None: ...

    def __contains__(self, key: object) -> bool: ...

    def __iter__(self) -> Iterator[K]: ...

    def __len__(self) -> int: ...

    def clear(self) -> None: ...

    def put_last(self, key: K, value: V) -> None: ...


class Stores(Protocol):
    """What hands a role its stores, and makes a sequence of reads and writes atomic."""

    def store(self, name: str, capacity: int, codec: Codec[V], cached: bool = False) -> Store[Any, V]: ...

    def transaction(self) -> contextlib.AbstractContextManager[None]: ...


class MemoryStore(collections.OrderedDict[K, V]):
    """An ``OrderedDict`` that keeps at most ``capacity`` entries, evicting the oldest."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        while len(self) > self.capacity:
            self.popitem(last=False)

    def put_last(self, key: K, value: V) -> None:
        self[key] = value
        self.move_to_end(key)


class MemoryStores:
    """Stores of one process (the default)."""

    def store(self, name: str, capacity: int, codec: Codec[V], cached: bool = False) -> Store[Any, V]:
        return MemoryStore(capacity)

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


def create_database(path: Path) -> None:
    """Create the shared database (WAL mode, the schema) before any process opens it."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        for statement in _SCHEMA:
            connection.execute(statement)
    finally:
        connection.close()


class SqliteStores:
    """Stores in one SQLite database that several processes open; one connection per process (and instance)."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise FileNotFoundError(path)
        self.connection = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        self.connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        self.connection.execute("PRAGMA synchronous=OFF")  # a throwaway database in a temporary folder: no fsync
        self._depth = 0
        # Writers queue on an advisory lock beside the database: a waiting process wakes the moment the writer
        # before it commits. SQLite's own busy handler would poll, sleeping 1, 2, 5, 10 ... ms between tries:
        # under load most writes then waited milliseconds for a lock held a fraction of one.
        self._lock = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)

    def store(self, name: str, capacity: int, codec: Codec[V], cached: bool = False) -> Store[Any, V]:
        return SqliteStore(self, name, capacity, codec, cached)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One ``BEGIN IMMEDIATE`` transaction (the write lock, taken first); nested calls join the outer one.

        Never ``await`` inside: the transaction belongs to the process's one connection.
        """
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        try:
            self.connection.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self.connection.execute("ROLLBACK")
                raise
            self._depth = 0
            self.connection.execute("COMMIT")
        finally:
            fcntl.flock(self._lock, fcntl.LOCK_UN)

    def next_stamp(self) -> int:
        """A number never given before (within a transaction): the position of a new entry, the version of a value."""
        row = self.connection.execute("UPDATE counter SET value = value + 1 WHERE id = 1 RETURNING value").fetchone()
        return int(row[0])

    def close(self) -> None:
        self.connection.close()
        os.close(self._lock)


def _key(key: object) -> str:
    return json.dumps(key, ensure_ascii=False)


def _unkey(text: str) -> Any:
    key = json.loads(text)
    return tuple(key) if isinstance(key, list) else key


class SqliteStore(MutableMapping[K, V]):
    """One store of :class:`SqliteStores`: keys (strings or tuples of strings) as JSON, values by ``codec``.

    With ``cached`` a value is decoded once per version (a large value read often, such as a data set).
    """

    def __init__(self, db: SqliteStores, name: str, capacity: int, codec: Codec[V], cached: bool = False) -> None:
        self.db, self.name, self.capacity, self.codec = db, name, capacity, codec
        self.cached = cached
        self._cache: dict[str, tuple[int, V]] = {}

    def __getitem__(self, key: K) -> V:
        text = _key(key)
        execute = self.db.connection.execute
        if self.cached:
            row = execute("SELECT stamp FROM entries WHERE store = ? AND key = ?", (self.name, text)).fetchone()
            if row is None:
                raise KeyError(key)
            held = self._cache.get(text)
            if held is not None and held[0] == row[0]:
                return held[1]
        row = execute("SELECT stamp, value FROM entries WHERE store = ? AND key = ?", (self.name, text)).fetchone()
        if row is None:
            raise KeyError(key)
        value = self.codec.decode(row[1])
        if self.cached:
            self._cache = {text: (int(row[0]), value)}
        return value

    def __contains__(self, key: object) -> bool:
        found = self.db.connection.execute(
            "SELECT 1 FROM entries WHERE store = ? AND key = ?", (self.name, _key(key))
        ).fetchone()
        return found is not None

    def __setitem__(self, key: K, value: V) -> None:
        text, data = _key(key), self.codec.encode(value)
        with self.db.transaction():
            stamp = self.db.next_stamp()
            updated = self.db.connection.execute(
                "UPDATE entries SET value = ?, stamp = ? WHERE store = ? AND key = ?", (data, stamp, self.name, text)
            )
            if updated.rowcount == 0:
                self._insert(text, data, stamp)

    def put_last(self, key: K, value: V) -> None:
        text, data = _key(key), self.codec.encode(value)
        with self.db.transaction():
            stamp = self.db.next_stamp()
            self.db.connection.execute("DELETE FROM entries WHERE store = ? AND key = ?", (self.name, text))
            self._insert(text, data, stamp)

    def _insert(self, text: str, data: bytes, stamp: int) -> None:
        execute = self.db.connection.execute
        execute(
            "INSERT INTO entries (store, key, pos, stamp, value) VALUES (?, ?, ?, ?, ?)",
            (self.name, text, stamp, stamp, data),
        )
        (count,) = execute("SELECT n FROM sizes WHERE store = ?", (self.name,)).fetchone()
        if count > self.capacity:  # the oldest go, as many as are too many
            execute(
                "DELETE FROM entries WHERE store = ? AND pos IN "
                "(SELECT pos FROM entries WHERE store = ? ORDER BY pos LIMIT ?)",
                (self.name, self.name, count - self.capacity),
            )

    def __delitem__(self, key: K) -> None:
        with self.db.transaction():
            deleted = self.db.connection.execute(
                "DELETE FROM entries WHERE store = ? AND key = ?", (self.name, _key(key))
            )
        if deleted.rowcount == 0:
            raise KeyError(key)

    def __iter__(self) -> Iterator[K]:
        rows = self.db.connection.execute("SELECT key FROM entries WHERE store = ? ORDER BY pos", (self.name,))
        return iter([_unkey(text) for (text,) in rows.fetchall()])

    def __len__(self) -> int:
        row = self.db.connection.execute("SELECT n FROM sizes WHERE store = ?", (self.name,)).fetchone()
        return int(row[0]) if row else 0

    def clear(self) -> None:
        with self.db.transaction():
            self.db.connection.execute("DELETE FROM entries WHERE store = ?", (self.name,))


_installed: Stores | None = None


def share_state(path: Path) -> SqliteStores:
    """From now on, roles built in this process keep their state in the database at ``path`` (shared)."""
    global _installed
    shared = SqliteStores(path)
    _installed = shared
    return shared


def stores() -> Stores:
    """The stores a role built now uses: the shared ones :func:`share_state` installed, else new in-memory ones."""
    return _installed if _installed is not None else MemoryStores()
