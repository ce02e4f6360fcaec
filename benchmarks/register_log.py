"""The register's log at N entries (SQLite): proofs and checkpoints from stored nodes, as one JSON line.

Each figure is a median over R requests, and a ratio against two baselines measured in the same run:
reading one log row by its index (the floor of any request), and rehashing every entry to get the root
(what a log without stored nodes would do per request).

    python benchmarks/register_log.py [--entries N] [--requests R] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.register.log import LogEntry, MemoryTree
from harness.store import Store, open_store
from harness.store.log import append


def _median_ms(action: Callable[[], object], times: int) -> float:
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        action()
        spent.append(time.perf_counter() - started)
    return statistics.median(spent) * 1000


def _fill(store: Store, entries: int) -> None:
    for start in range(0, entries, 500):  # 500 appends a transaction: only the setup is batched
        with store.engine.begin() as connection:
            for n in range(start, min(start + 500, entries)):
                append(connection, "registration", "2026-12-05T10:00:00.000Z", {"n": n, "certificate": f"{n:016x}"})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="one JSON line (the default prints it too)")
    args = parser.parse_args()
    n, requests = max(2, args.entries), max(1, args.requests)
    picks = random.Random(9162)
    with tempfile.TemporaryDirectory(prefix="harness-register-log-") as folder:
        store = open_store(f"sqlite:///{Path(folder) / 'log.db'}")
        try:
            key = Ed25519PrivateKey.generate()
            store.pin_body_key(
                key.public_key().public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            )
            started = time.perf_counter()
            _fill(store, n)
            fill_s = time.perf_counter() - started
            row = _median_ms(lambda: store.log_entry(picks.randrange(n)), requests)
            rehash = _median_ms(lambda: MemoryTree([e.payload for e in _all(store, n)]).root(), 3)
            inclusion = _median_ms(lambda: store.inclusion_proof(picks.randrange(n), n), requests)
            consistency = _median_ms(lambda: store.consistency_proof(picks.randrange(1, n), n), requests)
            checkpoint = _median_ms(lambda: store.checkpoint(key), requests)
        finally:
            store.close()
    figures = {"inclusion_proof": inclusion, "consistency_proof": consistency, "checkpoint": checkpoint}
    report = {
        "entries": n,
        "requests": requests,
        "fill_seconds": round(fill_s, 3),
        "baseline_row_read_ms": round(row, 4),
        "baseline_rehash_all_ms": round(rehash, 3),
        **{f"{name}_ms": round(value, 4) for name, value in figures.items()},
        **{f"{name}_per_row_read": round(value / row, 2) for name, value in figures.items()},
        **{f"{name}_per_rehash_all": round(value / rehash, 4) for name, value in figures.items()},
    }
    print(json.dumps(report))
    return 0


def _all(store: Store, n: int) -> list[LogEntry]:
    found: list[LogEntry] = []
    for start in range(0, n, 1000):
        found.extend(store.log_entries(start, start + 1000))
    return found


if __name__ == "__main__":
    raise SystemExit(main())
