"""The roles' stores: the in-memory one and the SQLite one shared by ``harness serve --processes`` behave alike
(bounded, oldest evicted first, an assignment keeps a key's place), and two processes writing at once lose nothing."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from harness.endpoints.alert_hub import HELD, INCIDENTS, Held, Incident
from harness.endpoints.esn_gateway import MEMBERS, Member
from harness.endpoints.intel_hub import REPORTS, StoredReport
from harness.endpoints.store import JSON, MemoryStores, SqliteStores, Store, create_database

WRITES = 400


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "state.sqlite3"
    create_database(path)
    return path


@pytest.fixture(params=["memory", "sqlite"])
def make(request: pytest.FixtureRequest, database: Path) -> Any:
    shared = MemoryStores() if request.param == "memory" else SqliteStores(database)
    return lambda name, capacity: shared.store(name, capacity, JSON)


def test_a_store_keeps_its_capacity_and_evicts_the_oldest_first(make: Any) -> None:
    store: Store[str, int] = make("numbers", 3)
    for number in range(10):
        store[f"k{number}"] = number
    assert list(store) == ["k7", "k8", "k9"] and len(store) == 3
    assert store.get("k6") is None and store.get("k9") == 9 and "k7" in store and "k1" not in store
    store["k7"] = 70  # an assignment keeps the key's place: k7 is still the oldest
    store["k10"] = 10
    assert list(store) == ["k8", "k9", "k10"]
    store.put_last("k8", 80)  # put_last moves it last
    store["k11"] = 11
    assert list(store) == ["k10", "k8", "k11"] and store["k8"] == 80
    store.clear()
    assert len(store) == 0 and list(store) == []


def test_stores_of_one_database_are_apart_and_keys_may_be_tuples(database: Path) -> None:
    shared = SqliteStores(database)
    first: Store[tuple[str, str], int] = shared.store("first", 2, JSON)
    second: Store[tuple[str, str], int] = shared.store("second", 2, JSON)
    first[("a", "b")] = 1
    second[("a", "b")] = 2
    assert (first[("a", "b")], second[("a", "b")]) == (1, 2) and list(first) == [("a", "b")]
    with pytest.raises(KeyError):
        first[("b", "a")]


def test_a_transaction_that_fails_writes_nothing(database: Path) -> None:
    shared = SqliteStores(database)
    store: Store[str, int] = shared.store("numbers", 10, JSON)
    with pytest.raises(RuntimeError), shared.transaction():
        store["kept"] = 1
        with shared.transaction():
            store["also"] = 2
        raise RuntimeError
    assert len(store) == 0
    with shared.transaction():
        store["kept"] = 1
    assert SqliteStores(database).store("numbers", 10, JSON)["kept"] == 1


def test_values_come_back_as_they_went(database: Path) -> None:
    shared = SqliteStores(database)
    report = StoredReport("intel-report/1.0", b"\x00{}\xff", "application/json", {"a": [1]}, {"b": {}}, {"c": "d"})
    held = Held(b"12\n<content/>", b"\n\nanswer\x00")
    incident = Incident("e-1", "closed", {"CONTEXT": {"ID": "m"}}, "m-2")
    members = (Member("sip:a", "http://127.0.0.1:1", True), Member("sip:b", "http://[::1]:2", False))
    for codec, value in ((REPORTS, report), (HELD, held), (INCIDENTS, incident), (MEMBERS, members)):
        store: Store[str, Any] = shared.store("values", 10, codec)
        store["one"] = value
        assert SqliteStores(database).store("values", 10, codec)["one"] == value


def test_a_cached_value_is_read_again_once_another_process_changed_it(database: Path) -> None:
    reader: Store[str, Any] = SqliteStores(database).store("dataset", 1, JSON, cached=True)
    writer: Store[str, Any] = SqliteStores(database).store("dataset", 1, JSON)
    writer["dataset"] = {"version": 1}
    assert reader["dataset"] == {"version": 1} and reader["dataset"] is reader["dataset"]
    writer.clear()
    assert reader.get("dataset") is None
    writer["dataset"] = {"version": 2}
    assert reader["dataset"] == {"version": 2}


def _write(database: str, prefix: str, ready: Any) -> None:
    shared = SqliteStores(Path(database))
    store: Store[str, Any] = shared.store("concurrent", 10 * WRITES, JSON)
    counter: Store[str, int] = shared.store("counter", 1, JSON)
    ready.wait(30)
    for number in range(WRITES):
        store[f"{prefix}-{number}"] = {"by": prefix, "number": number}
        with shared.transaction():  # a read-modify-write: no increment may be lost
            counter["n"] = (counter.get("n") or 0) + 1


def test_two_processes_writing_at_once_lose_nothing(database: Path) -> None:
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(2)
    writers = [context.Process(target=_write, args=(str(database), prefix, ready)) for prefix in ("a", "b")]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(120)
    assert [writer.exitcode for writer in writers] == [0, 0]
    shared = SqliteStores(database)
    store: Store[str, Any] = shared.store("concurrent", 10 * WRITES, JSON)
    assert len(store) == 2 * WRITES
    assert all(store[f"{p}-{n}"] == {"by": p, "number": n} for p in ("a", "b") for n in range(WRITES))
    assert shared.store("counter", 1, JSON)["n"] == 2 * WRITES
    mode = sqlite3.connect(database).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_a_capacity_is_kept_when_two_processes_fill_the_store(database: Path) -> None:
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(2)
    writers = [context.Process(target=_fill, args=(str(database), prefix, ready)) for prefix in ("a", "b")]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(120)
    assert [writer.exitcode for writer in writers] == [0, 0]
    store: Store[str, Any] = SqliteStores(database).store("bounded", 50, JSON)
    assert len(store) == 50
    kept = list(store)
    assert set(kept) <= {f"{p}-{n}" for p in ("a", "b") for n in range(WRITES)}
    for prefix in ("a", "b"):  # of each writer, the newest are kept, in the order written
        mine = [int(key.split("-")[1]) for key in kept if key.startswith(prefix)]
        assert mine == sorted(mine) and (not mine or mine[-1] == WRITES - 1)


def _fill(database: str, prefix: str, ready: Any) -> None:
    store: Store[str, Any] = SqliteStores(Path(database)).store("bounded", 50, JSON)
    ready.wait(30)
    for number in range(WRITES):
        store[f"{prefix}-{number}"] = number
