"""The check only queries need: ``dataset_answer`` (the answer the certification data set gives for the query sent)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from harness.families.queries.rules import expected_person_result, expected_vehicle_result
from harness.model import ConfigurationError
from harness.runner.checks import CheckContext, Mismatch, check, json_object

__all__ = ["answer_follows_dataset"]

_UNORDERED = ("warningMarkers", "markers")


def _canonical(record: Any) -> str:
    """A record as compared: marker lists are sets, key order never matters."""
    if isinstance(record, dict):
        record = {k: sorted(v) if k in _UNORDERED and isinstance(v, list) else v for k, v in record.items()}
    return json.dumps(record, sort_keys=True, ensure_ascii=False)


@check("dataset_answer")
def answer_follows_dataset(expected: str, ctx: CheckContext) -> Iterator[Mismatch]:
    """The answer is what the certification data set and the matching rules give for the query sent."""
    if ctx.scenario.dataset is None or ctx.sent is None or ctx.sent.model is None:
        raise ConfigurationError("'dataset_answer' needs the suite's data set and a query sent by this step")
    if expected == "person":
        want = expected_person_result(ctx.scenario.dataset, ctx.sent.model)
    elif expected == "vehicle":
        want = expected_vehicle_result(ctx.scenario.dataset, ctx.sent.model)
    else:
        raise ConfigurationError(f"dataset_answer is 'person' or 'vehicle', not {expected!r}")
    got, errors = json_object(ctx, "an answer")
    if got is None:
        yield from errors
        return
    for member in ("queryId", "profile", "status"):
        if got.get(member) != want[member]:
            yield Mismatch(f"body /{member}", want[member], got.get(member), f"{member} differs")
    if expected == "person":
        yield from _same_records(want["matches"], got.get("matches"))
    elif _canonical(want["vehicle"]) != _canonical(got.get("vehicle")):
        yield Mismatch("body /vehicle", want["vehicle"], got.get("vehicle"), "vehicle differs from the data set")


def _same_records(want: list[Any], got: Any) -> Iterator[Mismatch]:
    if not isinstance(got, list):
        yield Mismatch("body /matches", want, got, "matches is not an array")
        return
    expected_keys = sorted(_canonical(record) for record in want)
    actual_keys = sorted(_canonical(record) for record in got)
    missing = [json.loads(k) for k in expected_keys if expected_keys.count(k) > actual_keys.count(k)]
    unexpected = [json.loads(k) for k in actual_keys if actual_keys.count(k) > expected_keys.count(k)]
    if missing:
        yield Mismatch("body /matches", missing, None, f"{len(missing)} record(s) of the data set not returned")
    if unexpected:
        yield Mismatch("body /matches", None, unexpected, f"{len(unexpected)} record(s) returned that do not match")
