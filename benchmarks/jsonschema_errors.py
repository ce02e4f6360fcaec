"""Item 10 of issue 10: can a library list the errors of an invalid JSON message as the hand walker does?

For every JSON format of the catalog, the messages compared are every invalid sample that is
schema-invalid, plus systematic mutations of every valid sample (each member removed, each leaf given
a value of another type, an unknown member added at each object: the mutations the fuzz tests draw at
random, here all of them). For each message both ways list their errors:

* ours: ``harness.validation.jsonschema.SchemaValidator.errors`` (fastjsonschema, re-walked);
* library: ``jsonschema_rs`` (``validator_for(schema, formats=our date/date-time checks)``,
  ``iter_errors``), with an unexpected member located at the member itself as ours does.

It reports whether the verdicts agree, whether the sets of locations (JSON Pointers) agree, whether the
messages agree, and the median time per invalid message both ways (same run, interleaved rounds).
Run: ``.venv/bin/python benchmarks/jsonschema_errors.py``.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import contextlib

from harness.catalog import load_catalog
from harness.model import Format
from harness.validation.jsonschema import FORMATS, SchemaValidator
from harness.validation.validator import json_pointer

ROUNDS = 5
MAX_MUTANTS_PER_SAMPLE = 400
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))


def _mutants(document: Any, path: tuple[Any, ...] = ()) -> Iterator[Any]:
    """The document with one change each (removal, wrong type, unknown member)."""

    def replaced(value: Any) -> Any:
        copied = copy.deepcopy(document)
        if not path:
            return value
        node = copied
        for token in path[:-1]:
            node = node[token]
        node[path[-1]] = value
        return copied

    node: Any = document
    for token in path:
        node = node[token]
    if isinstance(node, dict):
        yield replaced({**node, "x-unknown-member": 1})
        for key in node:
            without = dict(node)
            del without[key]
            yield replaced(without)
            yield from _mutants(document, path + (key,))
    elif isinstance(node, list):
        yield replaced([])
        for index in range(len(node)):
            yield from _mutants(document, path + (index,))
    else:
        yield replaced(17 if isinstance(node, str) else "seventeen")


def _library_errors(validator: Any, document: Any) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for error in validator.iter_errors(document):
        base = json_pointer(tuple(error.instance_path))
        details = error.kind.as_dict()
        if error.kind.name == "additionalProperties":
            found += [
                (base + "/" + str(name).replace("~", "~0").replace("/", "~1"), error.message)
                for name in details["unexpected"]
            ]
        else:
            found.append((base, error.message))
    return found


def _all_errors(validator: Any, document: Any) -> list[Any]:
    return list(validator.iter_errors(document))


def _fuzzed(fmt: Format) -> list[Any]:
    """JSON documents drawn by the fuzz tests' own strategies (byte mutations and reshapes of the samples)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from tests.unit.test_fuzz_validators import mutated, reshaped, sample_bytes

    drawn: list[Any] = []

    @settings(
        max_examples=FUZZ_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.one_of(mutated(st.sampled_from(sample_bytes(fmt))), reshaped(fmt)))
    def draw(data: bytes) -> None:
        with contextlib.suppress(ValueError, RecursionError):
            drawn.append(json.loads(data))

    draw()
    return drawn


def _median_us(function: Any, documents: list[Any]) -> float:
    rounds = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for document in documents:
            function(document)
        rounds.append((time.perf_counter() - started) / max(1, len(documents)) * 1e6)
    return statistics.median(rounds)


def main() -> None:
    catalog = load_catalog()
    totals = {"messages": 0, "verdicts": 0, "locations": 0, "messages_equal": 0}
    rows = []
    for fmt in sorted((f for f in catalog.formats.values() if f.syntax == "json"), key=lambda f: f.id):
        schema = json.loads(Path(fmt.schema_path).read_bytes())
        ours = SchemaValidator(schema)
        library = jsonschema_rs.validator_for(schema, validate_formats=True, formats=FORMATS)
        documents: list[Any] = []
        for sample in fmt.samples:
            try:
                document = json.loads(Path(sample.path).read_bytes())
            except ValueError:
                continue
            if sample.valid:
                for count, mutant in enumerate(_mutants(document)):
                    if count >= MAX_MUTANTS_PER_SAMPLE:
                        break
                    documents.append(mutant)
            else:
                documents.append(document)
        if FUZZ_EXAMPLES:
            documents += _fuzzed(fmt)
        invalid = [d for d in documents if not ours.is_valid(d) or not library.is_valid(d)]
        same_verdict = sum(1 for d in invalid if ours.is_valid(d) == library.is_valid(d))
        same_locations = same_messages = 0
        example = None
        for document in invalid:
            mine = [(json_pointer(path), message) for path, message in ours.errors(document)]
            theirs = _library_errors(library, document)
            if {p for p, _ in mine} == {p for p, _ in theirs}:
                same_locations += 1
            elif example is None:
                example = (sorted({p for p, _ in mine}), sorted({p for p, _ in theirs}))
            if sorted(mine) == sorted(theirs):
                same_messages += 1
        ours_us = _median_us(ours.errors, invalid)
        lib_us = _median_us(functools.partial(_all_errors, library), invalid)
        rows.append((fmt.id, len(invalid), same_verdict, same_locations, same_messages, ours_us, lib_us, example))
        totals["messages"] += len(invalid)
        totals["verdicts"] += same_verdict
        totals["locations"] += same_locations
        totals["messages_equal"] += same_messages
    print("| format | invalid | same verdict | same locations | same messages | ours µs/msg | jsonschema-rs µs/msg |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for fmt_id, count, verdict, located, worded, ours_us, lib_us, _ in rows:
        print(f"| {fmt_id} | {count} | {verdict} | {located} | {worded} | {ours_us:.1f} | {lib_us:.1f} |")
    print(f"\ntotals: {totals}")
    for fmt_id, *_, example in rows:
        if example:
            print(f"{fmt_id}: first location difference: ours {example[0]} library {example[1]}")


if __name__ == "__main__":
    main()
