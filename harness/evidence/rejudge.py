"""Re-judging: the recorded answers of a bundle judged again with this harness's checks.

The runner replays each scenario of the suite it is given (the verifier's *issued* suite) with every
exchange answered from the record through the runner's one replay seam (:class:`RecordedExchanges`,
an :class:`harness.runner.exchanges.Exchanges`), and must reach the verdicts ``results.json`` states.

Streaming: the records are read once into a temporary file with the line offsets of each scenario, then
parsed back one scenario at a time while it is judged, so a bundle of any size is re-judged in the memory
of its largest scenario.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import dataclasses
import json
import tempfile
import zlib
from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any
from urllib.parse import urlsplit

from harness.catalog import Catalog
from harness.model import HarnessError, ScenarioResult, Suite, TransportError
from harness.profile import DATASET_HOOK, TRIGGER_HOOK
from harness.runner.engine import Runner, iter_typed
from harness.runner.exchanges import Carried, Skipped
from harness.transport import Request, Response, decoded_body

__all__ = ["NotRecorded", "RecordedExchanges", "Unanswered", "rejudge"]

MAX_BODY_BYTES = 16 << 20
"""A recorded body expands (Content-Encoding) at most to what the live transport accepts."""
_UNKNOWN_COUNTERPART = "http://127.0.0.1:9"


class NotRecorded(HarnessError):
    """The record holds no usable exchange for a step: the step cannot be judged (its scenario is ``error``)."""


class Unanswered(TransportError):
    """The last attempt of a step is recorded without a complete answer (the live run raised a transport
    error, or a bad answer: the record does not say which)."""


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise NotRecorded(f"exchanges.jsonl: {what} is not a string")
    return value


def _message(record: Any, what: str) -> tuple[str, tuple[tuple[str, str], ...], bytes]:
    """(start line, headers, body bytes as they crossed the wire) of a recorded request or answer."""
    if not isinstance(record, dict):
        raise NotRecorded(f"exchanges.jsonl: no {what}")
    line = _text(record.get("start_line", ""), f"the {what}'s start line")
    pairs = record.get("headers", [])
    if not isinstance(pairs, list):
        raise NotRecorded(f"exchanges.jsonl: the {what}'s headers are not a list")
    headers: list[tuple[str, str]] = []
    for pair in pairs:
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(part, str) for part in pair)):
            raise NotRecorded(f"exchanges.jsonl: a header of the {what} is not [name, value]")
        headers.append((pair[0], pair[1]))
    body = _text(record.get("body", ""), f"the {what}'s body")
    encoding = record.get("body_encoding", "text")
    if encoding == "base64":
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise NotRecorded(f"exchanges.jsonl: the {what}'s base64 body is not base64") from None
    elif encoding == "text":
        raw = body.encode()
    else:
        raise NotRecorded(f"exchanges.jsonl: unknown body_encoding {encoding!r}")
    return line, tuple(headers), raw


def _elapsed(record: Mapping[str, Any]) -> float:
    value = record.get("elapsed_ms")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _answer(record: Mapping[str, Any], url: str) -> Response:
    """The recorded answer as the live runner judged it.

    A 1.1 record keeps a compressed body as it crossed the wire and marks it with ``decoded`` (the
    transport decoded it): it is decoded here again, from the wire bytes, with the live transport's
    function and bound, never taken from ``decoded``. Without that mark (a 1.0 record, which stored the
    decoded body beside its ``Content-Encoding``), the body is judged as recorded.
    """
    message = record.get("answer", record.get("response"))
    line, headers, raw = _message(message, "answer")
    if line.startswith(("HTTP/", "SIP/")):  # "HTTP/1.1 200 OK"; bundles of the first runner said "200 OK"
        line = line.partition(" ")[2]
    status, _, reason = line.partition(" ")
    if not status.isdigit():
        raise NotRecorded(f"exchanges.jsonl: no status in the answer's start line {line[:40]!r}")
    transport_decoded = isinstance(message, dict) and "decoded" in message
    # BadAnswer, as live, for a body that does not decode
    body = decoded_body(headers, raw, MAX_BODY_BYTES) if transport_decoded else raw
    answered = record.get("answered")
    when = answered if isinstance(answered, str) else None  # judged by the clock it was answered at
    return Response(int(status), reason, headers, body, _elapsed(record), url, answered_at=when)


def _request(record: Mapping[str, Any]) -> Request:
    """The recorded request: its method and target from the start line (absolute or origin form)."""
    line, headers, raw = _message(record.get("request"), "request")
    method, _, rest = line.partition(" ")
    target = rest.rsplit(" ", 1)[0] if rest.endswith(("HTTP/1.1", "HTTP/1.0", "HTTP/2", "SIP/2.0")) else rest
    return Request(method, target, headers, raw)


def _attempt(record: Mapping[str, Any]) -> int:
    value = record.get("attempt", 1)
    return value if isinstance(value, int) and not isinstance(value, bool) else 1


class _Spool:
    """The records written once to a temporary file (each compressed), with each scenario's offsets: read back
    one scenario at a time."""

    def __init__(self, recorded: Iterable[Mapping[str, Any]]) -> None:
        # Closed by close() (the owner's finally), or here when reading the records fails.
        self.file: IO[bytes] = tempfile.TemporaryFile(prefix="harness-rejudge-")  # noqa: SIM115
        self.lines: dict[str, array[int]] = defaultdict(lambda: array("q"))
        """Per scenario, the offset and length of each of its records, in pairs (compact: a bundle of a
        long run has hundreds of thousands)."""
        self.counterpart = ""
        self.carriers: dict[str, str] = {}
        position = 0
        try:
            for record in recorded:
                if not isinstance(record, Mapping):
                    continue
                self._learn(record)
                # Each record compressed on its own: the spool's disk use stays near the bundle's size.
                line = zlib.compress(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode(), 1)
                self.file.write(line)
                self.lines[str(record.get("scenario"))].extend((position, len(line)))
                position += len(line)
        except BaseException:
            self.file.close()
            raise
        self.counterpart = self.counterpart or _UNKNOWN_COUNTERPART

    def _learn(self, record: Mapping[str, Any]) -> None:
        """The recorded run's counterpart URL and the targets of its other transports (SIP), from the records."""
        request = record.get("request")
        line = request.get("start_line") if isinstance(request, dict) else None
        if not isinstance(line, str):
            return
        parts = line.split(" ")
        url = parts[1] if len(parts) > 1 else ""
        kind = record.get("transport", "http")
        if isinstance(kind, str) and kind != "http" and kind not in self.carriers:
            self.carriers[kind] = url
        if self.counterpart:
            return
        if record.get("direction") == "sut->reference":
            split = urlsplit(url)
            if split.scheme and split.netloc:
                self.counterpart = f"{split.scheme}://{split.netloc}"
        elif TRIGGER_HOOK in url and isinstance(request, dict) and request.get("body_encoding", "text") == "text":
            try:
                command = json.loads(str(request.get("body", "")))
            except (ValueError, RecursionError):
                return
            if isinstance(command, dict) and isinstance(command.get("to"), str):
                self.counterpart = command["to"]

    def records(self, scenario: str) -> Iterator[dict[str, Any]]:
        pairs = self.lines.get(scenario, array("q"))
        for index in range(0, len(pairs), 2):
            offset, length = pairs[index], pairs[index + 1]
            self.file.seek(offset)
            record = json.loads(zlib.decompress(self.file.read(length)))
            if isinstance(record, dict):
                yield record

    def close(self) -> None:
        self.file.close()


@dataclasses.dataclass(slots=True)
class _Scenario:
    """One scenario's records: the last attempt of each harness->sut step, and what reached the counterpart."""

    id: str
    sent: dict[str, dict[str, Any]]
    arrived: dict[str, dict[str, Any]]
    attempts: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)
    """Every ``sut->reference`` record of each step, in record order (a delivery's attempts)."""


class RecordedExchanges:
    """The runner's exchanges answered from a bundle's records (the replay seam's recorded side).

    A step's answer is the answer to the LAST attempt recorded for it (a request the transport sent again is
    recorded once per attempt; the step was judged on the last). Scenarios are read back one at a time.
    """

    def __init__(self, recorded: Iterable[Mapping[str, Any]]) -> None:
        self._spool = _Spool(recorded)
        self._current: _Scenario | None = None
        self.unanswered: set[str] = set()
        """Scenarios that ended on a step whose last attempt has no answer (see :func:`rejudge`)."""

    def close(self) -> None:
        self._spool.close()

    def _scenario(self, scenario: str) -> _Scenario:
        if self._current is None or self._current.id != scenario:
            sent: dict[str, dict[str, Any]] = {}
            arrived: dict[str, dict[str, Any]] = {}
            attempts: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for record in self._spool.records(scenario):
                step = str(record.get("step"))
                if record.get("direction") == "sut->reference":
                    arrived.setdefault(step, record)
                    attempts[step].append(record)
                elif step not in sent or _attempt(record) >= _attempt(sent[step]):
                    sent[step] = record
            self._current = _Scenario(scenario, sent, arrived, dict(attempts))
        return self._current

    @property
    def counterpart_url(self) -> str:
        return self._spool.counterpart

    def target(self, transport: str | None) -> str:
        if transport is None:
            return ""  # the run's own target: the runner's
        if transport not in self._spool.carriers:
            raise Skipped(f"no {transport.upper()} exchange recorded")
        return self._spool.carriers[transport]

    async def hook(self, request: Request) -> Response:
        # Test hooks outside a step (the data set) are not evidence: answered as a conforming SUT would.
        status = 204 if request.url.endswith(DATASET_HOOK) else 404
        return Response(status, "", (), b"", 0.0, request.url)

    async def send(self, scenario: str, step: str, request: Request, transport: str | None) -> Carried:
        record = self._scenario(scenario).sent.get(step)
        if record is None:
            raise NotRecorded(f"scenario {scenario} step {step}: no recorded answer to judge")
        if record.get("answer", record.get("response")) is None:
            self.unanswered.add(scenario)
            raise Unanswered(f"step {step}: no answer recorded for its last attempt")
        # A body that does not decode is BadAnswer here as on the wire: the step fails the same way.
        return Carried(_request(record), _answer(record, request.url))

    def mark(self) -> int:
        return 0

    async def received(
        self, scenario: str, step: str, method: str, path: str, since: int, within_s: float
    ) -> Response | None:
        record = self._scenario(scenario).arrived.get(step)
        if record is None:
            return None
        arrived = _request(record)
        status = record.get("status")
        code = status if isinstance(status, int) and not isinstance(status, bool) else 0
        # Judged as recorded: the record holds the body the counterpart handed the live runner.
        return Response(code, "", arrived.headers, arrived.body, _elapsed(record), arrived.url)

    def attended(self, scenario: str, step: str) -> bool:
        # A missing hook and yet an arrival recorded: an operator did what the hook would have.
        return step in self._scenario(scenario).arrived

    def judged(self, scenario: str, step: str, bindings: Mapping[str, Any]) -> None:
        return None  # nothing to record: this is the record

    async def control(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        return None  # the fault plan acted when the run was live: its effects are the recorded attempts

    async def attempts(self, scenario: str, step: str, path: str) -> list[dict[str, Any]]:
        # Every attempt the run recorded for the step, whatever its path said: the record is the step's evidence.
        return list(self._scenario(scenario).attempts.get(step, ()))

    def ended(self, scenario: str) -> None:
        return None


def _difference(result: ScenarioResult, before: str | None, unanswered: bool) -> str | None:
    if unanswered and result.verdict == "error" and before in ("error", "failed"):
        return None  # no complete answer: live, an error or a bad answer (failed); neither passes
    if before == str(result.verdict):
        return None
    why = f" ({result.failures[0].check}: {result.failures[0].message})" if result.failures else ""
    return f"scenario {result.id}: results say {before}, the recorded answers give {result.verdict}{why}"


async def _judge_all(
    runner: Runner, suite: Suite, stated: Mapping[str, str], exchanges: RecordedExchanges
) -> list[str]:
    """Each scenario judged from the record in turn; only the differences are kept (a bundle of a long run
    has hundreds of thousands of scenarios, and their results are not needed once compared)."""
    await runner.prepare(suite)
    differences = []
    for scenario in iter_typed(suite):
        result = await runner.run_scenario(scenario)
        line = _difference(result, stated.get(result.id), result.id in exchanges.unanswered)
        if line is not None:
            differences.append(line)
    return differences


def _run(runner: Runner, suite: Suite, stated: Mapping[str, str], exchanges: RecordedExchanges) -> list[str]:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_judge_all(runner, suite, stated, exchanges))
    # called from async code (the pytest plugin, a benchmark): a loop of its own in a thread
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _judge_all(runner, suite, stated, exchanges)).result()


def rejudge(
    catalog: Catalog, suite: Suite, target: str, recorded: Iterable[Mapping[str, Any]], results: Mapping[str, Any]
) -> list[str]:
    """Every scenario whose verdict, judged again from ``recorded``, differs from ``results`` (one line each).

    ``suite`` is the suite to judge by (the verifier's issued one); every scenario of it is judged, and one
    that ``results`` does not state is a difference. ``recorded`` is read once, as a stream.
    """
    listed = results.get("scenarios")
    listed = listed if isinstance(listed, list) else []
    stated = {str(s.get("id")): str(s.get("verdict")) for s in listed if isinstance(s, dict)}
    exchanges = RecordedExchanges(recorded)
    try:
        # Re-judging gives verdicts and certifies nothing itself (the verifier applies rule 9 to them):
        # a retired suite version is judged like any other.
        runner = Runner(catalog, None, target, concurrency=1, certifying=False, exchanges=exchanges)
        run = suite if results.get("interrupted") is not True else _only(suite, stated)
        return _run(runner, run, stated, exchanges)
    except HarnessError as exc:  # the suite itself cannot run (a data set it names is missing, ...)
        return [f"the suite cannot be re-judged: {exc}"]
    finally:
        exchanges.close()


def _only(suite: Suite, stated: Mapping[str, str]) -> Suite:
    """An interrupted run: only the scenarios it finished are judged (it certifies nothing anyway)."""
    return dataclasses.replace(
        suite,
        scenarios=tuple(s for s in suite.scenarios if str(s.get("id")) in stated),
        typed=tuple(s for s in suite.typed if s.id in stated),
    )
