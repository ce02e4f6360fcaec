"""Reference endpoints in containers: build the image, start roles through testcontainers, wait, always remove.

The image (``Dockerfile``) holds the harness; each container serves one role
(``harness serve``). :class:`ReferenceContainers` starts the chosen roles with
host networking, bound to loopback, waits until each answers
``GET /_harness/health`` (:class:`HealthAnswers`, a testcontainers readiness
strategy) and removes every container it started when it stops, also after a
failure or an interrupt. testcontainers' reaper container (Ryuk) is never used:
it would have to be pulled from a registry, and clean-up is done here instead.
See docs/containers.md.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

import docker  # type: ignore[import-untyped]
from testcontainers.core.config import testcontainers_config
from testcontainers.core.container import DockerContainer
from testcontainers.core.exceptions import ContainerStartException
from testcontainers.core.waiting_utils import WaitStrategy, WaitStrategyTarget

from harness.documentation import doc_path
from harness.endpoints import ROLE_PORTS
from harness.model import ConfigurationError, HarnessError
from harness.profile import HEALTH_PATH

__all__ = [
    "HEALTH_PATH",
    "IMAGE",
    "LABEL",
    "WHEELHOUSE",
    "BuiltImage",
    "ContainerError",
    "EngineUnavailable",
    "HealthAnswers",
    "ReferenceContainers",
    "RunningEndpoint",
    "build_image",
    "compose_command",
    "docker_client",
    "engine_problem",
    "free_port",
    "prepare_wheels",
    "source_checkout",
]

IMAGE = "netcode-harness:latest"
LABEL = "org.netcode.harness.run"
"""Label on every container this module starts; its value names one :class:`ReferenceContainers`."""
WHEELHOUSE = Path("build/wheels")
"""Where :func:`prepare_wheels` puts wheels, relative to the build context; the Dockerfile installs from there."""
_GONE = ("exited", "dead", "removing")


class EngineUnavailable(ConfigurationError):
    """No Docker engine answers (exit code 2): containers cannot run here, the in-process default still can."""


class ContainerError(HarnessError):
    """The image could not be built or found, or a container did not become ready (exit code 2)."""


# -- the engine ---------------------------------------------------------------------------


def _os_reason(exc: BaseException) -> str:
    """The operating system's word for why a connection failed, found anywhere in the exception's chain."""
    pending: list[Any] = [exc]
    seen: set[int] = set()
    while pending and len(seen) < 32:
        current = pending.pop(0)
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        pending.extend([current.__cause__, current.__context__, getattr(current, "reason", None), *current.args])
    return "it did not answer"


def docker_client(timeout_s: float = 60.0) -> Any:
    """A client of the engine that ``DOCKER_HOST`` (else the default socket) names; close it after use.

    Raises :class:`EngineUnavailable`, with one line saying where and why, when none answers.
    """
    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        _knock(where, min(timeout_s, 10.0))
        client = docker.from_env(timeout=timeout_s)
    except (docker.errors.DockerException, OSError) as exc:
        raise EngineUnavailable(
            f"no Docker engine reachable at {where} ({_os_reason(exc)}): start one, "
            f"or leave out --containers to run the reference endpoints in-process ({doc_path('containers.md')})"
        ) from None
    return client


def _knock(where: str, timeout_s: float) -> None:
    """Connect to the engine's socket and close it again: raises OSError when nothing listens there.

    docker-py leaves the socket of a failed first connection open (a ResourceWarning
    later); knocking first keeps that from happening when no engine runs.
    """
    parts = urlsplit(where)
    if parts.scheme in ("unix", "http+unix"):
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(timeout_s)
            sock.connect(parts.path)
    elif parts.scheme in ("tcp", "http", "https") and parts.hostname:
        default = 2376 if os.environ.get("DOCKER_TLS_VERIFY") else 2375
        with socket.create_connection((parts.hostname, parts.port or default), timeout=timeout_s):
            pass


def engine_problem() -> str | None:
    """Why no container can run here (one line), or None when an engine answers."""
    try:
        docker_client().close()
    except EngineUnavailable as exc:
        return str(exc)
    return None


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (another process may take it before it is used)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def compose_command() -> list[str]:
    """``docker compose`` (v2) when the Docker CLI has it, else ``docker-compose`` (v1, Debian's 1.29)."""
    for command in (["docker", "compose"], ["docker-compose"]):
        program = shutil.which(command[0])
        if program is None:
            continue
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            found = subprocess.run([program, *command[1:], "version"], capture_output=True, timeout=30, check=False)  # noqa: S603
            if found.returncode == 0:
                return [program, *command[1:]]
    raise ConfigurationError("neither `docker compose` nor `docker-compose` is installed")


# -- the image ------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class BuiltImage:
    """An image built from the repository: its tag, id, size on the engine and build time."""

    tag: str
    id: str
    size_bytes: int
    seconds: float


def source_checkout() -> Path:
    """The repository this harness runs from (a ``Dockerfile`` beside the package), for building the image."""
    root = Path(__file__).resolve().parent.parent
    if not (root / "Dockerfile").is_file():
        raise ConfigurationError(f"no Dockerfile in {root}: building the image needs a source checkout")
    return root


def prepare_wheels(context: Path) -> Path:
    """Fill ``context/build/wheels`` with wheels of every dependency and of the build backend.

    The image build then installs every wheel there with ``--no-index`` and
    needs no network. The wheels are this Python's, for this machine: the
    image's Python (3.11) and architecture must be the same. Does nothing when
    the wheelhouse already holds this exact requirement list; otherwise it is
    emptied and filled anew.
    """
    project = tomllib.loads((context / "pyproject.toml").read_text(encoding="utf-8"))
    requirements = [*project["project"]["dependencies"], *project["build-system"]["requires"]]
    wheels = context / WHEELHOUSE
    stamp = wheels / ".requirements"
    wanted = "\n".join([f"python {sys.version_info.major}.{sys.version_info.minor}", *requirements]) + "\n"
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == wanted:
        return wheels
    shutil.rmtree(wheels, ignore_errors=True)  # the image installs every wheel there: no stale versions
    wheels.mkdir(parents=True)
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--wheel-dir"]
    done = subprocess.run([*command, str(wheels), *requirements], capture_output=True, text=True, timeout=900)  # noqa: S603
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ContainerError(f"cannot build the wheels for the image: {last}")
    stamp.write_text(wanted, encoding="utf-8")
    return wheels


def build_image(context: Path, tag: str = IMAGE, base_image: str | None = None) -> BuiltImage:
    """Build the image from ``context`` (wheels first, :func:`prepare_wheels`), with no network in the build.

    ``base_image`` is the ``BASE_IMAGE`` build argument (default: the Dockerfile's).
    """
    client = docker_client(timeout_s=900.0)  # a build step may print nothing for minutes
    try:
        began = time.monotonic()
        image, _ = client.images.build(
            path=str(context),
            tag=tag,
            buildargs={"BASE_IMAGE": base_image} if base_image else {},
            network_mode="none",
            rm=True,
            forcerm=True,
            pull=False,
        )
        seconds = time.monotonic() - began
        return BuiltImage(tag, str(image.id), int(image.attrs["Size"]), seconds)
    except docker.errors.BuildError as exc:
        raise ContainerError(f"docker build of {tag} failed: {str(exc.msg).strip()}") from None
    except docker.errors.APIError as exc:
        raise ContainerError(f"docker build of {tag} failed: {exc.explanation or exc}") from None
    finally:
        client.close()


# -- readiness --------------------------------------------------------------------------


class HealthAnswers(WaitStrategy):
    """Ready when ``GET <url>/_harness/health`` answers 200.

    Fails at once when the container stops (its last log line says why), else
    after the startup timeout; a connection refused meanwhile is transient.
    """

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url.rstrip("/") + HEALTH_PATH
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
        self.with_poll_interval(0.1)

    def answers(self) -> bool:
        try:
            with self._opener.open(self.url, timeout=2) as response:
                return int(response.status) == 200
        except OSError:  # refused, reset, timed out, or an HTTP error status
            return False

    def wait_until_ready(self, container: WaitStrategyTarget) -> None:
        deadline = time.monotonic() + self._startup_timeout
        while not self.answers():
            container.reload()
            if container.status in _GONE:
                raise ContainerError(f"container stopped before {self.url} answered: {_last_line(container)}")
            if time.monotonic() >= deadline:
                raise ContainerError(f"{self.url} did not answer within {self._startup_timeout:g} s")
            time.sleep(self._poll_interval)


def _last_line(container: WaitStrategyTarget) -> str:
    stdout, stderr = container.get_logs()
    lines = (stderr or stdout).decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else "no output"


# -- the containers -------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class RunningEndpoint:
    """One role served by a container, and where to reach it."""

    role: str
    url: str
    container_id: str
    ready_s: float
    """Seconds from asking the engine for the container to its first healthy answer."""


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back while containers are removed, so clean-up is not cut short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class ReferenceContainers:
    """Reference roles in containers of ``image``; ``with`` starts them and always removes them.

    Host networking and a bind to ``host`` (loopback by default): each endpoint
    is at ``http://HOST:PORT``, on the documented port of its role unless
    :meth:`with_free_ports` or :meth:`with_ports` says otherwise.
    """

    def __init__(
        self,
        image: str = IMAGE,
        roles: Sequence[str] = tuple(ROLE_PORTS),
        *,
        host: str = "127.0.0.1",
        timeout_s: float = 60.0,
    ) -> None:
        unknown = [role for role in roles if role not in ROLE_PORTS]
        if unknown or not roles:
            raise ConfigurationError(f"unknown role {(unknown or [''])[0]!r} (known: {', '.join(ROLE_PORTS)})")
        self.image = image
        self.roles = tuple(dict.fromkeys(roles))
        self.host = host
        self.timeout_s = timeout_s
        self.ports = {role: ROLE_PORTS[role] for role in self.roles}
        self.run_id = uuid.uuid4().hex[:12]
        self.endpoints: dict[str, RunningEndpoint] = {}
        self._containers: list[DockerContainer] = []

    def with_ports(self, **ports: int) -> Self:
        """Serve roles on these ports (keyword: the role with ``-`` written ``_``)."""
        for name, port in ports.items():
            role = name.replace("_", "-")
            if role not in self.ports:
                raise ConfigurationError(f"no role {role!r} to put on port {port} (roles: {', '.join(self.roles)})")
            self.ports[role] = port
        return self

    def with_free_ports(self) -> Self:
        """Serve every role on a port that is free now, instead of its documented one."""
        self.ports = {role: free_port(self.host) for role in self.roles}
        return self

    @property
    def urls(self) -> dict[str, str]:
        """Role -> base URL of every endpoint that is up."""
        return {role: endpoint.url for role, endpoint in self.endpoints.items()}

    def start(self) -> dict[str, str]:
        """Start every role and wait until each is ready; on any failure or interrupt, remove them all."""
        client = docker_client()
        try:
            client.images.get(self.image)
        except docker.errors.ImageNotFound:
            raise ContainerError(
                f"image {self.image} not found: build it with `harness up --containers --build` "
                f"or `docker build` ({doc_path('containers.md')})"
            ) from None
        finally:
            client.close()
        testcontainers_config.ryuk_disabled = True  # its image cannot be pulled; stop() removes what we start
        try:
            for role in self.roles:
                self._start(role)
        except BaseException:
            self.stop()
            raise
        return self.urls

    def _start(self, role: str) -> None:
        port = self.ports[role]
        url = f"http://{f'[{self.host}]' if ':' in self.host else self.host}:{port}"
        container = (
            DockerContainer(self.image)
            .with_envs(HARNESS_ROLE=role, HARNESS_HOST=self.host, HARNESS_PORT=str(port))
            .with_kwargs(network_mode="host", labels={LABEL: self.run_id, f"{LABEL}.role": role})
            .waiting_for(HealthAnswers(url).with_startup_timeout(math.ceil(self.timeout_s)))
        )
        self._containers.append(container)  # before it exists: a half-started container is removed too
        began = time.monotonic()
        container.start()
        ready = time.monotonic() - began
        self.endpoints[role] = RunningEndpoint(role, url, container.get_container_id(), ready)

    def stopped_role(self) -> str | None:
        """The first role whose container is no longer running, if any."""
        for role, container in zip(self.roles, self._containers, strict=False):
            container.reload()
            if container.status in _GONE:
                return role
        return None

    def stop(self) -> int:
        """Remove every container started here (also ones left half-started); returns how many there were."""
        with _signals_held():
            removed = 0
            for container in reversed(self._containers):
                removed += _remove(container)
            self._containers.clear()
            self.endpoints.clear()
            with contextlib.suppress(EngineUnavailable, docker.errors.DockerException, OSError):
                client = docker_client()
                try:
                    for leftover in client.containers.list(all=True, filters={"label": f"{LABEL}={self.run_id}"}):
                        leftover.remove(force=True)
                        removed += 1
                finally:
                    client.close()
            return removed

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _remove(container: DockerContainer) -> bool:
    """Remove one container (force) and close its client; True when there was a container to remove."""
    try:
        container.get_container_id()
    except ContainerStartException:
        container.get_docker_client().client.close()
        return False
    try:
        container.stop()
    except (docker.errors.DockerException, OSError):
        container.get_docker_client().client.close()
        return False
    return True
