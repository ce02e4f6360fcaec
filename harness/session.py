"""One run session: everything a run needs, assembled in one place.

The CLI, the test fixtures and the benchmarks build runs only through :class:`RunSession`
(a pytest plugin or a load mode can too)::

    session = (
        RunSession(catalog, "intel-core")
        .with_target("http://127.0.0.1:8080")
        .with_target("sip:gw@127.0.0.1:5060;transport=udp", name="sip")
        .with_reporters(Path("reports"), junit=Path("junit.xml"))
        .with_options(concurrency=4, timeout_s=10.0)
    )
    async with session:
        finished = await session.run()

Entering the session loads and probes the transports, starts the counterpart reference
endpoint when the suite needs one, and builds the reporters; leaving it closes them all.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Self

from harness.catalog import Catalog
from harness.events import Listener, RunFinished
from harness.model import ConfigurationError, Suite
from harness.reporting import Redactor
from harness.reporting.registry import GuardedReporter, ReporterContext, load_named_reporters
from harness.runner.engine import Runner
from harness.transport import Counterpart, Transport, TransportOptions, load_transport, without_userinfo

__all__ = ["CounterpartUnavailable", "RunSession"]

MAIN = "http"
"""The name of the run's own target: every step without ``transport:`` goes there."""


def _listener_name(listener: Listener) -> str:
    return str(getattr(listener, "__qualname__", None) or type(listener).__qualname__)


class CounterpartUnavailable(ConfigurationError):
    """The counterpart reference endpoint could not listen where it was asked to."""


@dataclasses.dataclass(slots=True)
class _Target:
    url: str
    transport: Transport | None
    """Given by the caller (kept open on exit), or None: loaded from ``harness.adapters`` by name."""


class RunSession:
    """Builder and async context manager for one run of one suite (or a subset of its scenarios)."""

    def __init__(self, catalog: Catalog, suite: Suite | str) -> None:
        self.catalog = catalog
        self.suite = catalog.suite(suite) if isinstance(suite, str) else suite
        self._targets: dict[str, _Target] = {}
        self._listen: tuple[str, int] | None = ("127.0.0.1", 0)
        self._counterpart_given: Counterpart | None = None
        self._reports: Path | None = None
        self._reporter_options: dict[str, Any] = {}
        self._reporter_names: tuple[str, ...] | None = None
        self._listeners: list[Listener] = []
        self._concurrency = 4
        self._timeout_s = 10.0
        self._unattended = True
        self._certifying = True
        self._operator_timeout_s = 300.0
        self._credentials = TransportOptions()
        self._scenario_ids: tuple[str, ...] | None = None
        self._roles: tuple[str, ...] = ()
        self._settled = False
        # prepared on entry
        self._open: list[Transport] = []
        self._server: Any = None
        self.counterpart: Counterpart | None = None
        self.runner: Runner | None = None
        self.reporters: list[GuardedReporter] = []
        """Every listener of the run (registry reporters, then explicit listeners), each guarded: one that
        raises is reported and silenced, and the run and the others go on."""
        self.redact = Redactor()

    # -- building ------------------------------------------------------------------------------------
    def with_target(self, url: str, name: str = MAIN, transport: Transport | None = None) -> Self:
        """The target for steps carried by transport ``name`` (``http`` is the run's own target); with
        ``transport``, that transport is used (and left open) instead of loading the adapter ``name``."""
        self._targets[name] = _Target(url, transport)
        return self

    def with_transport(self, transport: Transport, url: str = "http://sut.invalid", name: str = MAIN) -> Self:
        """A ready transport (an in-memory one, for instance) for target ``name``."""
        return self.with_target(url, name, transport)

    def with_counterpart(self, host: str = "127.0.0.1", port: int = 0) -> Self:
        """Where the counterpart reference endpoint listens, if the suite needs one (loopback by default)."""
        self._listen = (host, port)
        return self

    def with_counterpart_endpoint(self, counterpart: Counterpart | None) -> Self:
        """A counterpart already running (or None for none at all) instead of one the session starts."""
        self._counterpart_given, self._listen = counterpart, None
        return self

    def with_reporters(self, reports: Path, only: Iterable[str] | None = None, **options: Any) -> Self:
        """Reporters from the ``harness.reporters`` registry writing under ``reports``; ``options`` are
        run-level settings they read (``junit``, ``console``, ``sut``, ``sign_key``, ...)."""
        self._reports = reports
        self._reporter_names = tuple(only) if only is not None else None
        self._reporter_options.update(options)
        return self

    def with_listener(self, *listeners: Listener) -> Self:
        """Explicit listeners, after the registry's reporters."""
        self._listeners.extend(listeners)
        return self

    def with_options(
        self,
        *,
        concurrency: int | None = None,
        timeout_s: float | None = None,
        unattended: bool | None = None,
        operator_timeout_s: float | None = None,
        credentials: TransportOptions | None = None,
        certifying: bool | None = None,
    ) -> Self:
        """Run options; ``credentials`` are the HTTP target's TLS files and headers (secrets: redacted);
        ``certifying=False`` marks the run as not certifying (the only way to run a retired suite version)."""
        if certifying is not None:
            self._certifying = certifying
        if concurrency is not None:
            self._concurrency = max(1, concurrency)
        if timeout_s is not None:
            self._timeout_s = timeout_s
        if unattended is not None:
            self._unattended = unattended
        if operator_timeout_s is not None:
            self._operator_timeout_s = operator_timeout_s
        if credentials is not None:
            self._credentials = credentials
        return self

    def with_scenarios(self, ids: Iterable[str]) -> Self:
        """Run only these scenarios of the suite (in the suite's order)."""
        self._scenario_ids = tuple(ids)
        return self

    def with_roles(self, roles: Iterable[str]) -> Self:
        """Run only the scenarios of these roles of the suite (``harness run --role``): the run, its results,
        evidence and certificate cover these roles only."""
        self._roles = tuple(roles)
        self.suite.limited_to(self._roles)  # a role the suite does not certify: refused now (exit 2)
        return self

    # -- prepared ------------------------------------------------------------------------------------
    @property
    def target(self) -> str:
        if MAIN not in self._targets:
            raise ConfigurationError("the run has no target (with_target)")
        return self._targets[MAIN].url

    @property
    def transport(self) -> Transport:
        """The run's own transport, once the session is entered."""
        if self.runner is None or self.runner.transport is None:
            raise ConfigurationError("the session is not entered")
        return self.runner.transport

    def selected(self) -> Suite:
        """The suite, limited to the chosen roles, or its chosen scenarios."""
        if self._scenario_ids is None:
            return self.suite.limited_to(self._roles) if self._roles else self.suite
        if self._roles:
            raise ConfigurationError("choose scenarios or roles, not both")
        known = {str(s["id"]) for s in self.suite.scenarios}
        unknown = [i for i in self._scenario_ids if i not in known]
        if unknown:
            raise ConfigurationError(f"{self.suite.name} has no scenario {', '.join(unknown)}")
        wanted = set(self._scenario_ids)
        return dataclasses.replace(self.suite, scenarios=tuple(s for s in self.suite.scenarios if s["id"] in wanted))

    async def __aenter__(self) -> Self:
        try:
            await self._prepare()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _transport(self, name: str, given: _Target) -> Transport:
        if given.transport is not None:
            return given.transport
        # HTTP credentials (headers, TLS files) are not for other transports: only the time-out goes along.
        options = (
            dataclasses.replace(self._credentials, timeout_s=self._timeout_s, concurrency=self._concurrency)
            if name == MAIN
            else TransportOptions(timeout_s=self._timeout_s)
        )
        transport = load_transport(name, options)
        self._open.append(transport)
        await transport.probe(given.url)
        return transport

    def _settle(self) -> None:
        """The run's credentials and redactor, once: a target's user information goes as the credential it is
        (Authorization: Basic), never as part of the target URL that results, reports and evidence name."""
        if self._settled:
            return
        urls = [given.url for given in self._targets.values()]
        given_main = self._targets.get(MAIN) or _Target(self.target, None)
        url, basic = without_userinfo(given_main.url)
        if basic and not any(name.lower() == "authorization" for name, _ in self._credentials.headers):
            headers = (*self._credentials.headers, ("Authorization", basic))
            self._credentials = dataclasses.replace(self._credentials, headers=headers)
        self._targets[MAIN] = _Target(url, given_main.transport)
        self.redact = Redactor.for_run(self._credentials, urls)
        self._settled = True

    async def _prepare(self) -> None:
        suite = self.selected()
        self._settle()
        main = await self._transport(MAIN, self._targets[MAIN])
        extra = {
            name: (await self._transport(name, given), given.url)
            for name, given in self._targets.items()
            if name != MAIN
        }
        self.counterpart = self._counterpart_given
        if suite.counterpart and self._listen is not None:
            from harness.endpoints import RecorderCounterpart, ReferenceServer, build_app

            app = build_app(self.catalog.for_suite(suite))  # plays the document version the suite certifies
            self._server = ReferenceServer(app, *self._listen)
            try:
                url = await self._server.start()
            except OSError as exc:
                self._server = None
                where = f"{self._listen[0]}:{self._listen[1]}"
                raise CounterpartUnavailable(
                    f"cannot listen on {where} for the reference endpoint: {exc.strerror}"
                ) from None
            self.counterpart = RecorderCounterpart(app, url)
        listeners: list[Listener] = list(self.open_reporters())
        self.runner = Runner(
            self.catalog,
            main,
            self.target,
            listeners,
            self._concurrency,
            self.counterpart,
            unattended=self._unattended,
            operator_timeout_s=self._operator_timeout_s,
            extra_targets=extra,
            certifying=self._certifying,
        )

    def open_reporters(self) -> list[GuardedReporter]:
        """The run's listeners (the registry's reporters, then explicit listeners), each guarded.

        Entering the session builds them; a caller that feeds a run's events itself (the pytest plugin
        joining xdist workers' results) builds them alone, with no transport or counterpart.
        """
        if self.reporters:
            return self.reporters
        if MAIN in self._targets:
            self._settle()
        named: list[tuple[str, Listener]] = []
        if self._reports is not None:
            options = dict(self._reporter_options)
            options.setdefault("run_id", str(uuid.uuid4()))  # one run id for results.json and the bundle alike
            context = ReporterContext(self._reports, self.redact, self.catalog, self.selected(), options)
            named = load_named_reporters(context, self._reporter_names)
        named += [(_listener_name(listener), listener) for listener in self._listeners]
        self.reporters = [GuardedReporter(name, listener, self.redact) for name, listener in named]
        return self.reporters

    def close_reporters(self) -> None:
        """Close every reporter (a failing one is reported, and the others are closed all the same)."""
        reporters, self.reporters = self.reporters, []
        for reporter in reporters:
            reporter.close()

    @property
    def reporter_failures(self) -> list[str]:
        """One line per reporter that failed during the run (each already printed on standard error)."""
        return [reporter.failure for reporter in self.reporters if reporter.failure is not None]

    async def run(self) -> RunFinished:
        """Run the (selected) suite; the session must be entered."""
        if self.runner is None:
            raise ConfigurationError("the session is not entered (async with session: ...)")
        return await self.runner.run(self.selected())

    async def close(self) -> None:
        """Close what the session opened (transports it loaded, the counterpart it started, reporters)."""
        self.close_reporters()
        opened, self._open = self._open, []
        for transport in opened:
            await transport.close()
        if self._server is not None:
            server, self._server = self._server, None
            await server.stop()
