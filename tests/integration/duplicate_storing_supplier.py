"""The reference supplier whose intelligence hub stores a report once per attempt that arrives at the same time
(RR-01 broken: check, then write after an await), for ``harness load --duplicate-rate`` tests.

``python -m tests.integration.duplicate_storing_supplier`` serves it on 127.0.0.1 port 0 and prints its URL.
"""

from __future__ import annotations

from harness.catalog import load_catalog
from tests.integration.broken_receivers import build_broken_receiver
from tests.integration.served import run_on_loopback


def main() -> None:
    run_on_loopback(build_broken_receiver(load_catalog(), "duplicate-under-concurrency"))


if __name__ == "__main__":
    main()
