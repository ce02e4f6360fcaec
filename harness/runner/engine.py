"""The runner: replays a suite's scenarios against a target and emits events.

It knows nothing about who listens: reporters subscribe as listeners.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urljoin

from harness.catalog import Catalog
from harness.events import ExchangeCompleted, Listener, RunFinished, RunStarted, ScenarioFinished, Summary
from harness.model import (
    CheckFailure,
    ConfigurationError,
    HarnessError,
    Level,
    ScenarioResult,
    Suite,
    TransportError,
    Verdict,
)
from harness.runner.checks import CHECKS, CheckContext
from harness.runner.context import Message, ScenarioContext, is_missing, resolve_pointer
from harness.transport import Request, Transport
from harness.validation.validator import validator_for

__all__ = ["Runner", "now_rfc3339"]


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class StepError(HarnessError):
    """A step could not be carried out; the scenario ends with verdict ``error``."""


class Runner:
    """Runs scenarios of a suite against ``target`` through ``transport``."""

    def __init__(
        self,
        catalog: Catalog,
        transport: Transport,
        target: str,
        listeners: Iterable[Listener] = (),
        concurrency: int = 4,
    ) -> None:
        self.catalog = catalog
        self.transport = transport
        self.target = target.rstrip("/")
        self.listeners = list(listeners)
        self.concurrency = max(1, concurrency)

    def emit(self, event: Any) -> None:
        for listener in self.listeners:
            listener(event)

    async def run(self, suite: Suite) -> RunFinished:
        started = now_rfc3339()
        self.emit(RunStarted(suite.name, suite.version, self.target, started, len(suite.scenarios)))
        gate = asyncio.Semaphore(self.concurrency)
        results: dict[str, ScenarioResult] = {}

        async def guarded(scenario: dict[str, Any]) -> None:
            async with gate:
                result = await self.run_scenario(scenario)
            results[result.id] = result
            self.emit(ScenarioFinished(result))

        parallel = [s for s in suite.scenarios if not s.get("serial")]
        serial = [s for s in suite.scenarios if s.get("serial")]
        await asyncio.gather(*(guarded(s) for s in parallel))
        for scenario in serial:
            await guarded(scenario)
        ordered = tuple(results[str(s["id"])] for s in suite.scenarios)
        summary = Summary()
        for result in ordered:
            summary.add(result.verdict)
        finished = RunFinished(suite.name, suite.version, self.target, started, now_rfc3339(), summary, ordered)
        self.emit(finished)
        return finished

    async def run_scenario(self, scenario: dict[str, Any]) -> ScenarioResult:
        ctx = ScenarioContext(self.catalog, self.target)
        started = time.perf_counter()
        failures: list[CheckFailure] = []
        latencies: list[float] = []
        verdict = Verdict.PASSED
        for index, step in enumerate(scenario["steps"]):
            name = str(step.get("id", f"step-{index + 1}"))
            try:
                step_failures = await self._run_step(scenario, name, step, ctx, latencies)
            except TransportError as exc:
                failures.append(CheckFailure(name, "exchange", "an HTTP answer", None, str(exc)))
                verdict = Verdict.ERROR
                break
            except HarnessError as exc:
                failures.append(CheckFailure(name, "suite", "a runnable step", None, str(exc)))
                verdict = Verdict.ERROR
                break
            if step_failures:
                failures.extend(step_failures)
                verdict = Verdict.FAILED
                break  # later steps build on this one
        return ScenarioResult(
            id=str(scenario["id"]),
            title=str(scenario["title"]),
            level=Level(scenario["level"]),
            verdict=verdict,
            duration_ms=(time.perf_counter() - started) * 1000,
            failures=tuple(failures),
            exchanges=len(latencies),
            latencies_ms=tuple(latencies),
        )

    def build_request(self, step: dict[str, Any], ctx: ScenarioContext) -> tuple[Request, Message | None]:
        spec = step.get("request")
        if not isinstance(spec, dict):
            raise ConfigurationError("a step needs a 'request' mapping")
        method = str(spec.get("method", "GET")).upper()
        url = urljoin(self.target + "/", str(ctx.expand(spec.get("path", "/"))).lstrip("/"))
        headers: dict[str, str] = {}
        message: Message | None = None
        body = b""
        if "message" in spec:
            message = ctx.build_message(spec["message"])
            body = message.body
            headers["Content-Type"] = message.content_type
            self._check_outgoing(spec["message"], message)
        elif "body" in spec:
            body = str(ctx.expand(spec["body"])).encode()
        for name, value in (spec.get("headers") or {}).items():
            if value is None:
                headers.pop(name, None)
            else:
                headers[name] = str(ctx.expand(value))
        return Request(method, url, tuple(headers.items()), body), message

    @staticmethod
    def _check_outgoing(spec: dict[str, Any], message: Message) -> None:
        """Every message the harness sends is validated; a suite that claims wrongly is a suite bug."""
        if message.format is None:
            return
        claimed = spec.get("valid")
        if claimed is None and message.sample is not None and not spec.get("set") and not spec.get("remove"):
            claimed = message.sample.valid
        if claimed is None:
            return
        validator = validator_for(message.format)
        # A JSON message's model is exactly its bytes parsed (or the bytes are the model dumped):
        # validating the model gives the same verdict without parsing again.
        as_model = message.format.syntax == "json" and message.model is not None
        if as_model and len(message.body) <= message.format.max_bytes:
            validation = validator.validate_model(message.model)
        else:
            validation = validator.validate(message.body)
        if validation.valid != bool(claimed):
            detail = "; ".join(f"{f.rule} {f.location}: {f.message}" for f in validation.findings[:3])
            raise ConfigurationError(
                f"suite bug: the message meant to be {'valid' if claimed else 'invalid'} is not "
                f"({detail or 'no finding'})"
            )

    async def _run_step(
        self, scenario: dict[str, Any], name: str, step: dict[str, Any], ctx: ScenarioContext, latencies: list[float]
    ) -> list[CheckFailure]:
        request, message = self.build_request(step, ctx)
        if message is not None:
            ctx.sent[name] = message
        response = await self.transport.send(request)
        latencies.append(response.elapsed_ms)
        self.emit(
            ExchangeCompleted(
                str(scenario["id"]),
                name,
                request.method,
                request.url,
                response.status,
                response.elapsed_ms,
                len(request.body),
                len(response.body),
            )
        )
        check_ctx = CheckContext(response, ctx, message)
        failures: list[CheckFailure] = []
        for key, expected in (step.get("expect") or {}).items():
            function = CHECKS.get(key)
            if function is None:
                raise ConfigurationError(f"unknown check {key!r} in scenario {scenario['id']}")
            for mismatch in function(expected, check_ctx):
                failures.append(
                    CheckFailure(name, f"{key}: {mismatch.field}", mismatch.expected, mismatch.actual, mismatch.message)
                )
        if not failures:
            self._capture(step.get("capture") or {}, check_ctx, ctx, name, failures)
        return failures

    @staticmethod
    def _capture(
        spec: dict[str, str], check_ctx: CheckContext, ctx: ScenarioContext, step: str, failures: list[CheckFailure]
    ) -> None:
        for variable, source in spec.items():
            if source.startswith("header:"):
                value: Any = check_ctx.response.header(source[len("header:") :])
            else:
                document, _ = check_ctx.json()
                value = resolve_pointer(document, source)
                value = None if is_missing(value) else value
            if value is None:
                failures.append(
                    CheckFailure(step, f"capture {variable}", f"a value at {source}", None, "nothing to capture")
                )
            else:
                ctx.captures[variable] = value
