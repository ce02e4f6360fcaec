"""What one exchange of intel-core's submit scenario (IC-01) costs the harness, part by part, with no I/O.

Each part is timed alone (best of --repeat runs of --number calls, so a busy machine inflates it least):
building the message from the catalog sample with a fresh reportId, validating it before sending (schema,
then rules IR-01..07), and judging an answer (status, media type, Location, members, timestamp). The raw
baseline, measured in the same run, is what any client pays for the same message without the harness: a
fresh id put into the prepared bytes (``bytes.replace``) and the answer parsed with ``json.loads``.

Prints a table, or with --json one line: {"parts_us": {...}, "harness_us", "raw_us", "ratio"}.
"""

from __future__ import annotations

import argparse
import json
import timeit
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.catalog import load_catalog
from harness.families.rules import judge as judge_rules
from harness.runner import steps
from harness.runner.context import ScenarioContext
from harness.transport import Response
from harness.validation.validator import validator_for

TARGET = "http://127.0.0.1:8080"


def best_us(function: Callable[[], Any], number: int, repeat: int) -> float:
    return min(timeit.repeat(function, number=number, repeat=repeat)) / number * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    catalog = load_catalog()
    suite = catalog.suite("intel-core")
    step = next(s for s in suite.scenarios if s["id"] == "IC-01")["steps"][0]
    spec = step["request"]["message"]
    fmt = catalog.format("intel-report/1.0")
    validator = validator_for(fmt)
    sample = Path(fmt.directory, "samples/valid/full.json").read_bytes()
    original = json.loads(sample)["reportId"].encode()
    model = json.loads(sample)

    ctx = ScenarioContext(catalog, TARGET)
    request, message = steps.build_request(step, ctx, TARGET)
    report_id = ctx.uuids["report"]
    answer = json.dumps({"reportId": report_id, "status": "accepted", "receivedAt": "2026-11-29T06:00:00Z"}).encode()
    headers = (("Content-Type", "application/json"), ("Location", f"/netcode/v1/intel-reports/{report_id}"))
    response = Response(202, "Accepted", headers, answer, 1.0, request.url)
    assert not steps.judge("IC-01", "submit", step, response, ctx, message)

    def judged() -> None:
        fresh = ScenarioContext(catalog, TARGET)
        fresh.uuids["report"] = report_id
        steps.judge("IC-01", "submit", step, response, fresh, message)

    n, r = args.number, args.repeat
    parts = {
        "build message (fresh id, serialised)": best_us(
            lambda: ScenarioContext(catalog, TARGET).build_message(spec), n, r
        ),
        "validate before sending: schema": best_us(lambda: validator._json.errors(model), n, r),
        "validate before sending: rules": best_us(lambda: list(judge_rules(fmt.rule_set or "", model, "1.0")), n, r),
        "judge the answer (5 checks)": best_us(judged, n, r),
    }
    whole = best_us(lambda: (steps.build_request(step, ScenarioContext(catalog, TARGET), TARGET), judged()), n, r)
    raw = best_us(lambda: (sample.replace(original, str(uuid.uuid4()).encode()), json.loads(answer)), n, r)
    result = {
        "parts_us": {name: round(value, 1) for name, value in parts.items()},
        "harness_us": round(whole, 1),
        "raw_us": round(raw, 1),
        "ratio": round(whole / raw, 1),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for name, value in result["parts_us"].items():
            print(f"{name:>40}: {value:7.1f} µs")
        print(f"{'whole exchange (build + validate + judge)':>40}: {result['harness_us']:7.1f} µs")
        print(f"{'raw (fresh id into bytes, parse answer)':>40}: {result['raw_us']:7.1f} µs  x{result['ratio']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
