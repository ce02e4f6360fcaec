"""Re-judging: the recorded answers of a bundle judged again with this harness's checks.

The verifier calls :func:`rejudge` with its own catalog and the ISSUED suite version (never the
bundle's ``suite/`` copy, which is for reading only); the runner replays each scenario, one at a
time, with every exchange answered from the record instead of the network, and must reach the
verdicts ``results.json`` states. It is one function over the
recorded exchanges (:func:`rejudge`), so it moves onto the sans-I/O step functions unchanged.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import json
import re
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from typing import Any

from harness.catalog import Catalog
from harness.evidence.verify import Invalid
from harness.model import HarnessError, Suite
from harness.profile import DATASET_HOOK, TRIGGER_HOOK
from harness.protocols.http1 import parse_target
from harness.runner.context import Message, ScenarioContext
from harness.runner.engine import Runner
from harness.transport import Request, Response

__all__ = ["rejudge"]

_Key = tuple[str, str]


def _response(record: Mapping[str, Any] | None, elapsed_ms: float, url: str) -> Response | None:
    if not isinstance(record, dict):
        return None
    line = str(record.get("start_line", ""))
    if line.startswith(("HTTP/", "SIP/")):  # main's engine records "HTTP/1.1 200 OK"; older bundles "200 OK"
        line = line.partition(" ")[2]
    status, _, reason = line.partition(" ")
    decoded = "decoded" in record  # a compressed body is recorded as it came; judged as decoded
    body = record.get("decoded" if decoded else "body", "")
    encoding = record.get("decoded_encoding" if decoded else "body_encoding")
    try:
        raw = base64.b64decode(body, validate=True) if encoding == "base64" else str(body).encode()
    except (binascii.Error, ValueError):
        raise Invalid("exchanges.jsonl: a base64 body is not base64") from None
    headers = tuple((str(h[0]), str(h[1])) for h in record.get("headers", []) if isinstance(h, list) and len(h) == 2)
    return Response(int(status) if status.isdigit() else 0, reason, headers, raw, elapsed_ms, url)


class _ReplayTransport:
    """Answers the hooks a replay still calls directly (data set, trigger) as a conforming SUT would."""

    async def send(self, request: Request) -> Response:
        status = 202 if request.url.endswith(TRIGGER_HOOK) else 204 if request.url.endswith(DATASET_HOOK) else 404
        return Response(status, "", (), b"", 0.0, request.url)

    async def probe(self, base_url: str) -> None:
        return None

    async def close(self) -> None:
        return None


class _ReplayCounterpart:
    url = "http://127.0.0.1:9/"

    def mark(self) -> int:
        return 0

    async def wait_for(self, method: str, path: str, since: int, timeout_s: float) -> Response | None:
        return None  # what arrived is taken from the record in ``_ReplayRunner._awaited``


class _ReplayRunner(Runner):
    def __init__(self, catalog: Catalog, suite: Suite, target: str, recorded: Iterable[Mapping[str, Any]]) -> None:
        counterpart = _ReplayCounterpart() if suite.counterpart else None
        super().__init__(catalog, _ReplayTransport(), target, (), 1, counterpart, unattended=True)
        recorded = list(recorded)
        carried = {str(r.get("transport")) for r in recorded} - {"http"}
        self.extra_targets = {name: (_ReplayTransport(), f"{name}:replay@127.0.0.1") for name in carried}
        self.answers: dict[_Key, deque[tuple[Response, tuple[str, Response] | None]]] = defaultdict(deque)
        self.arrivals: dict[_Key, deque[Response]] = defaultdict(deque)
        for record in recorded:
            key = (str(record.get("scenario")), str(record.get("step")).split("#")[0])
            elapsed = float(record.get("elapsed_ms") or 0.0)
            if record.get("direction") == "sut->reference":
                arrived = _response(record.get("request"), elapsed, "")
                if arrived is not None:
                    status = record.get("status")
                    self.arrivals[key].append(
                        Response(int(status or 0), "", arrived.headers, arrived.body, elapsed, str(record.get("step")))
                    )
            else:
                answer = _response(record.get("answer", record.get("response")), elapsed, "")  # 1.0: "response"
                if answer is not None:
                    sent = _response(record.get("request"), 0.0, "")
                    start = str((record.get("request") or {}).get("start_line", ""))
                    start = re.sub(r" (HTTP/\d\.\d|SIP/2\.0)$", "", start)  # main's engine appends the version
                    self.answers[key].append((answer, None if sent is None else (start, sent)))

    async def _exchange(
        self, scenario: dict[str, Any], name: str, step: dict[str, Any], ctx: ScenarioContext, latencies: list[float]
    ) -> tuple[Response, Message | None]:
        request, message = self.build_request(step, ctx)
        self.carrier(step.get("request"))
        queue = self.answers.get((str(scenario["id"]), name.split("#")[0]))
        if not queue:
            raise Invalid(f"scenario {scenario['id']} step {name}: no recorded answer to judge")
        response, sent = queue.popleft()
        if sent is not None:
            message = _as_recorded(request, message, sent, ctx)
        if message is not None:
            ctx.sent[name] = message
        latencies.append(response.elapsed_ms)
        return Response(response.status, response.reason, response.headers, response.body, response.elapsed_ms,
                        request.url), message  # fmt: skip

    def _awaited(
        self,
        scenario: dict[str, Any],
        name: str,
        step: dict[str, Any],
        ctx: ScenarioContext,
        received: Response | None,
        what: str,
        within: float,
    ) -> Any:
        queue = self.arrivals.get((str(scenario["id"]), name.split("#")[0]))
        recorded = queue.popleft() if queue else None
        return super()._awaited(scenario, name, step, ctx, recorded, what, within)


def _request_target(url: str) -> str:
    """What the start line of a request to ``url`` names: the origin-form path and query for HTTP (as the
    harness's client writes it), the URI itself otherwise."""
    try:
        return parse_target(url).path
    except HarnessError:
        return url


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")


def _as_recorded(
    request: Request, message: Message | None, sent: tuple[str, Response], ctx: ScenarioContext
) -> Message | None:
    """The message as it was sent in the recorded run, and the run's fresh identifiers taken over into ``ctx``.

    A replay builds the request again; its fresh identifiers (``${uuid:NAME}``) differ from the
    recorded ones but sit at the same offsets, so each is read off the recorded request there.
    """
    built = f"{request.method} {_request_target(request.url)}\n".encode() + request.body
    start_line, wire = sent
    body = wire.body
    recorded = f"{start_line}\n".encode() + body
    taken: dict[str, str] = {}
    for name, value in list(ctx.uuids.items()):
        offset = built.find(value.encode())
        if offset >= 0:
            candidate = recorded[offset : offset + len(value)].decode("latin-1")
            if _UUID.match(candidate):
                ctx.uuids[name] = taken[value] = candidate
    if message is None:
        return None
    model = message.model
    if model is not None:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            model = parsed
        else:  # a model rendered from XML: the fresh identifiers swapped for the recorded ones
            text = json.dumps(model)
            for fresh, old in taken.items():
                text = text.replace(fresh, old)
            model = json.loads(text)
    content_type = wire.header("Content-Type") or message.content_type
    return Message(message.format, body, content_type, model, message.sample)


def rejudge(
    catalog: Catalog, suite: Suite, target: str, recorded: Iterable[Mapping[str, Any]], results: Mapping[str, Any]
) -> list[str]:
    """Every scenario whose verdict, judged again from ``recorded``, differs from ``results`` (one line each)."""
    runner = _ReplayRunner(catalog, suite, target, recorded)
    stated = {str(s.get("id")): str(s.get("verdict")) for s in results.get("scenarios", []) if isinstance(s, dict)}
    run = suite if not results.get("interrupted") else _only(suite, stated)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        finished = asyncio.run(runner.run(run))
    else:  # called from async code (the pytest plugin, a benchmark): a loop of its own in a thread
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            finished = pool.submit(asyncio.run, runner.run(run)).result()
    differences = []
    for result in finished.results:
        before = stated.get(result.id)
        if before != str(result.verdict):
            why = f" ({result.failures[0].check}: {result.failures[0].message})" if result.failures else ""
            differences.append(f"scenario {result.id}: results say {before}, the recorded answers give "
                               f"{result.verdict}{why}")  # fmt: skip
    return differences


def _only(suite: Suite, stated: Mapping[str, str]) -> Suite:
    from dataclasses import replace

    return replace(suite, scenarios=tuple(s for s in suite.scenarios if str(s["id"]) in stated))
