"""``harness load --duplicate-rate`` (RR-01 under load): a fraction of the messages sent again at the same time on
another connection, each retrieved after the load; the reference stores every one once, the receiver that
stores duplicates fails with RR-01 and the count of duplicates."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.served import serve_process
from tests.integration.test_load import HARNESS, harness, load_json

# IC-01 (a JSON report, then retrieved) and IC-02 (an XML one): every exchange that submits is a message.
LOAD = ("--scenario", "IC-01", "--scenario", "IC-02", "--users", "4", "--spawn-rate", "50", "--quiet")


@pytest.fixture(scope="module")
def reference() -> Iterator[str]:
    with serve_process([*HARNESS, "serve", "--host", "127.0.0.1", "--port", "0"]) as url:
        yield url


@pytest.fixture(scope="module")
def duplicating() -> Iterator[str]:
    with serve_process([sys.executable, "-m", "tests.integration.duplicate_storing_supplier"]) as url:
        yield url


def test_reference_stores_every_duplicate_once(reference: str, tmp_path: Path) -> None:
    result = harness(
        "load", "--suite", "intel-core", "--target", reference, *LOAD, "--exchanges", "400",
        "--duplicate-rate", "0.1", "--reports", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    document = load_json(tmp_path)
    duplicates = document["duplicates"]
    messages = duplicates["messages"]
    submitted = sum(
        step["count"] for step in document["steps"] if step["method"] == "POST" and "(again)" not in step["step"]
    )
    # a tenth of the messages went twice (the choice is exact, spread evenly)
    assert duplicates["rate"] == 0.1
    assert duplicates["sent_twice"] == len(messages) == int(submitted * 0.1)
    assert messages and all(m["stored_once"] and m["retrieved"] == 200 and m["same_answer"] for m in messages)
    assert duplicates["stored_once"] == len(messages) and duplicates["stored_twice"] == 0
    assert (document["failures"], document["errors"]) == (0, 0)


def test_duplicate_storing_receiver_fails_on_rr01_with_the_count(duplicating: str, tmp_path: Path) -> None:
    result = harness(
        "load", "--suite", "intel-core", "--target", duplicating, *LOAD, "--exchanges", "200",
        "--duplicate-rate", "0.1", "--reports", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    document = load_json(tmp_path)
    duplicates = document["duplicates"]
    assert duplicates["sent_twice"] > 0
    assert duplicates["stored_twice"] == duplicates["sent_twice"]  # every pair was accepted twice
    assert duplicates["stored_once"] == 0
    by_key = {(entry["check"], entry["rule"]): entry for entry in document["by_check"]}
    assert by_key["RR-01", "stored twice"]["count"] == duplicates["stored_twice"]
    assert "RR-01" in result.stdout
