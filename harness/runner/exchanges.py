"""The replay seam: where the runner's exchanges come from.

The runner builds requests and judges answers; it never touches a transport or the counterpart
itself. It asks an :class:`Exchanges` to carry a step's request and to say what the system under
test sent to the counterpart. :class:`LiveExchanges` does that on the wire (a transport per target,
the counterpart reference endpoint) and tells listeners what crossed it; a recorded implementation
(evidence re-judging, ``harness.evidence.rejudge``) answers from a bundle's ``exchanges.jsonl``.
Nobody subclasses the runner to swap one for the other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from harness.events import Event, ExchangeCompleted, WireMessage
from harness.model import HarnessError
from harness.transport import Counterpart, Request, Response, Transport

__all__ = ["Carried", "Exchanges", "LiveExchanges", "ManualAction", "Skipped", "now_rfc3339"]


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ManualAction(HarnessError):
    """The step needs an operator, and the run is unattended: the scenario is ``manual``."""


class Skipped(HarnessError):
    """The scenario needs what the run was not given (a SIP target): the scenario is ``skipped``."""


@dataclass(slots=True, frozen=True)
class Carried:
    """One exchange of a step: the request as it was sent, and the answer to it.

    Live, ``request`` is the request the runner built; recorded, it is the request of the record (its
    fresh identifiers are the recorded run's, which the runner takes over for later steps).
    """

    request: Request
    response: Response


class Exchanges(Protocol):
    """Carries a run's exchanges: live on the wire, or answered from a record."""

    @property
    def counterpart_url(self) -> str:
        """Where the counterpart reference endpoint listens ("" when the run has none)."""
        ...

    def target(self, transport: str | None) -> str:
        """The target of steps carried by ``transport`` (None: the run's own); :class:`Skipped` when the run
        was not given one."""
        ...

    async def hook(self, request: Request) -> Response:
        """A call to one of the SUT's test hooks outside any step (the data set), not part of the evidence."""
        ...

    async def send(self, scenario: str, step: str, request: Request, transport: str | None) -> Carried:
        """Carry ``request`` of step ``step`` of ``scenario``; the request as sent and its answer."""
        ...

    def mark(self) -> int:
        """A position in what the counterpart received so far (see :meth:`received`)."""
        ...

    async def received(
        self, scenario: str, step: str, method: str, path: str, since: int, within_s: float
    ) -> Response | None:
        """What the SUT sent to the counterpart as ``method path`` after ``since`` (for step ``step``), with the
        counterpart's answer as its status; None when nothing came within ``within_s``."""
        ...

    def attended(self, scenario: str, step: str) -> bool:
        """Whether an operator is there to do what a missing test hook would, for this step."""
        ...


class LiveExchanges:
    """Exchanges on the wire: one transport per target, the counterpart; listeners hear every exchange."""

    def __init__(
        self,
        transport: Transport,
        target: str,
        counterpart: Counterpart | None = None,
        extra_targets: Mapping[str, tuple[Transport, str]] | None = None,
        emit: Callable[[Event], None] | None = None,
        unattended: bool = True,
    ) -> None:
        self.transport = transport
        self.target_url = target.rstrip("/")
        self.counterpart = counterpart
        self.extra_targets = dict(extra_targets or {})
        self.emit = emit
        self.unattended = unattended

    @property
    def counterpart_url(self) -> str:
        return self.counterpart.url if self.counterpart is not None else ""

    def carrier(self, transport: str | None) -> tuple[Transport, str]:
        if transport is None:
            return self.transport, self.target_url
        if transport not in self.extra_targets:
            raise Skipped(f"no {transport.upper()} target given (--{transport}-target)")
        return self.extra_targets[transport]

    def target(self, transport: str | None) -> str:
        return self.carrier(transport)[1]

    async def hook(self, request: Request) -> Response:
        return await self.transport.send(request)

    async def send(self, scenario: str, step: str, request: Request, transport: str | None) -> Carried:
        carrier, _ = self.carrier(transport)
        sent = now_rfc3339() if self.emit is not None else ""  # only listeners see when it was sent
        response = await carrier.send(request)
        self._sent(scenario, step, request, response, transport or "http", sent)
        return Carried(request, response)

    def _sent(self, scenario: str, step: str, req: Request, resp: Response, kind: str, sent: str) -> None:
        """Tell listeners about a harness->sut exchange just answered."""
        if self.emit is None:
            return
        version = "SIP/2.0" if kind == "sip" else "HTTP/1.1"
        answer = f"{version} {resp.status} {resp.reason}".rstrip()
        self.emit(
            ExchangeCompleted(
                scenario,
                step,
                req.method,
                req.url,
                resp.status,
                resp.elapsed_ms,
                len(req.body),
                len(resp.body),
                transport=kind,
                request=WireMessage(f"{req.method} {req.url} {version}", req.headers, req.body),
                response=WireMessage(answer, resp.headers, resp.body),
                sent=sent,
                answered=now_rfc3339(),
            )
        )

    def mark(self) -> int:
        return self.counterpart.mark() if self.counterpart is not None else 0

    async def received(
        self, scenario: str, step: str, method: str, path: str, since: int, within_s: float
    ) -> Response | None:
        if self.counterpart is None:
            return None
        arrived = await self.counterpart.wait_for(method, path, since, within_s)
        if arrived is not None and self.emit is not None:
            at = now_rfc3339()
            self.emit(
                ExchangeCompleted(
                    scenario,
                    step,
                    method,
                    arrived.url,
                    arrived.status,
                    arrived.elapsed_ms,
                    len(arrived.body),
                    0,
                    direction="sut->reference",
                    request=WireMessage(f"{method} {arrived.url} HTTP/1.1", arrived.headers, arrived.body),
                    response=WireMessage(f"HTTP/1.1 {arrived.status} {arrived.reason}".rstrip(), (), b""),
                    sent=at,
                    answered=now_rfc3339(),
                )
            )
        return arrived

    def attended(self, scenario: str, step: str) -> bool:
        return not self.unattended
