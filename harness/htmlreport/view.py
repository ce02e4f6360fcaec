"""The data of one run report: the header, scenarios (failures first), their steps and exchanges.

Built from what a run leaves behind, ``results.json`` and the exchange records of
interface 3 (``exchanges.jsonl``), so a live run, a journal and a bundle all give
the same report.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.catalog import Catalog
from harness.documentation import clauses_for
from harness.extensions import scenario_parts
from harness.htmlreport.bodies import diff_ops, message_view
from harness.model import ConfigurationError, not_checked_note, percentile

__all__ = ["MAX_EXCHANGES_LISTED", "MAX_EXCHANGES_WITH_BODIES", "RunHeader", "build_report", "scenario_family"]

MAX_EXCHANGES_WITH_BODIES = 50_000
"""Beyond this many exchanges the report keeps their start lines, status and times only."""
MAX_EXCHANGES_LISTED = 200_000
"""Beyond this many the report only counts them (the evidence bundle keeps every one)."""
_ORDER = {"failed": 0, "error": 1, "manual": 2, "skipped": 3, "passed": 4}


def mapping(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (a report shows what is well-formed)."""
    return value if isinstance(value, dict) else {}


@dataclass(slots=True, frozen=True)
class RunHeader:
    """Who and what the report is about, and how far its evidence can be trusted."""

    sut: str
    signer: str
    verification: str
    """``verified``, ``not verified: <reason>``, or ``unsigned (live run)``."""
    source: str


def scenario_family(scenario: Mapping[str, Any], catalog: Catalog | None) -> str:
    """The message family a scenario exercises: the format family of its first sample, else the format's name."""

    built = {key: part.format for key, part in scenario_parts("message").items() if part.format}

    def samples(value: Any) -> Iterable[str]:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in ("sample", "format") and isinstance(item, str) and "/" in item:
                    yield item
                elif key in built:  # a family's message block (ESN's sds): the format it builds
                    yield built[key]
                else:
                    yield from samples(item)
        elif isinstance(value, list):
            for item in value:
                yield from samples(item)

    for sample in samples(scenario.get("steps")):
        name, _, rest = sample.partition("/")
        version = rest.partition("/")[0]
        if catalog is not None:
            fmt = catalog.formats.get(f"{name}/{version}")
            if fmt is not None and fmt.family:
                return fmt.family
        return name
    return "other"


def _scenario_sources(catalog: Catalog | None, suite: str, version: str) -> dict[str, Mapping[str, Any]]:
    if catalog is None:
        return {}
    try:
        known = catalog.suite(f"{suite}@{version}")
    except ConfigurationError:
        return {}
    return {str(s["id"]): s for s in known.scenarios}


def _exchange_view(record: Mapping[str, Any], with_bodies: bool, redact: Callable[[str], str] | None) -> dict[str, Any]:
    request = record.get("request") if isinstance(record.get("request"), dict) else None
    # evidence 1.1 names the answer "answer"; 1.0 records and live runs' own records said "response"
    answer = record.get("answer", record.get("response"))
    response = answer if isinstance(answer, dict) else None
    view: dict[str, Any] = {
        "step": str(record.get("step", "")),
        "direction": str(record.get("direction", "harness->sut")),
        "transport": str(record.get("transport", "http")),
        "status": record.get("status"),
        "elapsed_ms": round(_number(record.get("elapsed_ms")), 3),
        "sent": str(record.get("sent", "")),
        "answered": str(record.get("answered", "")),
        "line": str((request or {}).get("start_line", "")),
    }
    if redact is not None:
        view["line"] = redact(view["line"])
    if with_bodies:
        view["request"] = message_view(_readable(request), redact)
        view["response"] = message_view(_readable(response), redact)
    return view


def _readable(message: dict[str, Any] | None) -> dict[str, Any] | None:
    """A recorded message as a reader wants to see it: its ``decoded`` body when it crossed the wire compressed."""
    if message is None or "decoded" not in message:
        return message
    return {**message, "body": message["decoded"], "body_encoding": message.get("decoded_encoding", "text")}


def _latency(values: list[float]) -> dict[str, float]:
    """A step's latency: median, 95th percentile (nearest rank) and maximum of its exchanges."""
    if not values:
        return {}
    return {
        "p50": round(percentile(values, 50), 3),
        "p95": round(percentile(values, 95), 3),
        "max": round(max(values), 3),
    }


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if number == number and abs(number) != float("inf") else 0.0


def verdict_badge(verdict: str, level: str) -> str:
    """The badge of a scenario: its verdict, except a failed SHOULD scenario, a ``warning`` (docs/verdicts.md)."""
    return "warning" if verdict == "failed" and level == "SHOULD" else verdict


def _not_checked(failure: Mapping[str, Any]) -> str:
    """The checks a wrong status kept from running, as the console says it ("" when none)."""
    hidden = failure.get("not_checked")
    return not_checked_note(str(failure.get("check", "")), failure.get("actual"), _listed(hidden))


_REASON_CHARS = 200
"""The one-line reason shown in the scenario list is cut here; the whole message is in the scenario's details."""


def _first_reason(verdict: str, failures: list[dict[str, Any]], result: Mapping[str, Any]) -> str:
    """The first cause of a failed (or erroneous) scenario, one line, for the list: its first failure's message."""
    if verdict not in ("failed", "error"):
        return ""
    if failures:
        first = failures[0]
        text = first["message"] or f"check {first['check']} failed"
        text = f"{first['step']}: {text}" if first["step"] else text
    else:
        text = str(result.get("error") or result.get("message") or result.get("reason") or "")
    line = " ".join(text.split())
    return line if len(line) <= _REASON_CHARS else line[: _REASON_CHARS - 1] + "…"


def _step_of(step: str) -> str:
    """``send#3`` (the third of a repeated step) belongs to step ``send``."""
    return step.split("#", 1)[0]


def build_report(
    results: Mapping[str, Any],
    exchanges: Iterable[Mapping[str, Any]],
    header: RunHeader,
    catalog: Catalog | None,
    spec_base: str = "",
    redact: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """Everything the template and the page's script need, as JSON-able values.

    Each scenario carries its own exchanges (``x``; its steps index into them), so
    the page embeds one JSON block per scenario and parses only the one opened.
    """
    suite = mapping(results.get("suite"))
    name, version = str(suite.get("name", "?")), str(suite.get("version", "?"))
    sources = _scenario_sources(catalog, name, version)
    scenarios: list[dict[str, Any]] = []
    index: dict[str, dict[str, Any]] = {}
    listed = results.get("scenarios")
    for result in listed if isinstance(listed, list) else []:
        if not isinstance(result, dict):
            continue  # an unverified bundle may hold anything: show what is well-formed
        sid = str(result.get("id"))
        source = sources.get(sid, {})
        steps = [str(step.get("id")) for step in source.get("steps") or [] if isinstance(step, dict)]
        spec = str(source.get("spec", ""))
        entry: dict[str, Any] = {
            "id": sid,
            "title": str(result.get("title", "")),
            "level": str(result.get("level", "")),
            "verdict": str(result.get("verdict", "")),
            "badge": verdict_badge(str(result.get("verdict", "")), str(result.get("level", ""))),
            "duration_ms": _number(result.get("duration_ms")),
            "family": scenario_family(source, catalog) if source else "other",
            "spec": spec,
            "spec_href": f"{spec_base}{spec.split()[0]}" if spec and spec_base else "",
            "clauses": clauses_for(spec) if spec else [],  # the text itself: no link needs a network
            "failures": [
                {
                    "step": str(f.get("step", "")),
                    "check": str(f.get("check", "")),
                    "message": str(f.get("message", "")),
                    "not_checked": _not_checked(f),
                    "diff": diff_ops(f.get("expected"), f.get("actual")),
                }
                for f in _listed(result.get("failures"))
                if isinstance(f, dict)
            ],
            "reason": "",
            "steps": {step: [] for step in steps},
            "latency": mapping(result.get("latency_ms")),
            "x": [],
            "unlisted": 0,
        }
        entry["reason"] = _first_reason(entry["verdict"], entry["failures"], result)
        if redact is not None:
            entry = json.loads(redact(json.dumps(entry, ensure_ascii=False, default=str)))
        scenarios.append(entry)
        index[sid] = entry
    total = 0
    for count, record in enumerate(exchanges):
        owner = index.get(str(record.get("scenario")))
        if owner is None:
            continue
        if total >= MAX_EXCHANGES_LISTED:
            owner["unlisted"] += 1
            total += 1
            continue
        view = _exchange_view(record, count < MAX_EXCHANGES_WITH_BODIES, redact)
        owner["steps"].setdefault(_step_of(view["step"]), []).append(len(owner["x"]))
        owner["x"].append(view)
        total += 1
    scenarios.sort(key=lambda s: (_ORDER.get(s["verdict"], 5), s["level"] != "MUST", s["id"]))
    for entry in scenarios:
        entry["steps"] = [
            {
                "id": step,
                "exchanges": ids,
                "latency_ms": _latency([entry["x"][i]["elapsed_ms"] for i in ids]),
            }
            for step, ids in entry["steps"].items()
        ]
        entry["exchange_count"] = sum(len(step["exchanges"]) for step in entry["steps"]) + entry["unlisted"]
    summary = mapping(results.get("summary"))
    return {
        "title": f"{name}@{version}",
        "suite": name,
        "version": version,
        "target": str(results.get("target", "")),
        "started": str(results.get("started", "")),
        "finished": str(results.get("finished", "")),
        "certified": bool(results.get("certified")),
        "interrupted": bool(results.get("interrupted")),
        "summary": {
            **{key: int(_number(summary.get(key))) for key in ("passed", "failed", "errors", "skipped", "manual")},
            # MUST and SHOULD failures apart (binding rule 9: SHOULD failures are warnings), from the scenarios
            "must_failed": sum(1 for s in scenarios if s["verdict"] == "failed" and s["level"] != "SHOULD"),
            "should_failed": sum(1 for s in scenarios if s["badge"] == "warning"),
        },
        "header": {
            "sut": header.sut,
            "signer": header.signer,
            "verification": header.verification,
            "source": header.source,
        },
        "families": sorted({s["family"] for s in scenarios}),
        "scenarios": scenarios,
        "exchange_total": total,
    }
