"""One reference endpoint served by several processes on one port (``harness serve --processes N``).

Each process is a ``harness serve --reuse-port`` of its own, bound with ``SO_REUSEPORT``: the kernel
spreads connections over them, so a system under test acting as a client can be load-tested against
the reference. What a later request can refer to (the roles' stores: reports, alerts, distributions,
incidents, the loaded data set, ESN groups and location configurations) is shared: the parent creates
a private folder (mode 0700) holding one SQLite database in WAL mode, each process opens it
(``--shared-state``, internal) and the folder is removed when the parent stops. Each process keeps
its own (bounded) recorder: the control API of one process lists what that process received
(docs/decisions-load.md).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from harness.endpoints.store import create_database
from harness.model import UsageError

__all__ = ["serve_processes"]

READY_TIMEOUT_S = 60.0


def _reserve(host: str, port: int) -> socket.socket:
    """A socket bound (not listening) to ``host:port`` with SO_REUSEPORT: it fixes the port for port 0."""
    if not hasattr(socket, "SO_REUSEPORT"):
        raise UsageError("--processes needs SO_REUSEPORT, which this platform lacks")
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot bind {host}:{port}: {exc.strerror}") from None
    return sock


def serve_processes(serve_args: Sequence[str], host: str, port: int, processes: int) -> int:
    """Run ``processes`` copies of ``harness serve SERVE_ARGS --reuse-port`` on ``host:port`` until Ctrl-C
    or SIGTERM; print one ready line once every copy listens."""
    reserved = _reserve(host, port)
    port = int(reserved.getsockname()[1])
    folder = Path(tempfile.mkdtemp(prefix="harness-serve-"))  # mode 0700: the state of the processes only
    try:
        database = folder / "state.sqlite3"
        create_database(database)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        reserved.close()
        raise
    command = [sys.executable, "-m", "harness.cli", "serve", *serve_args, "--host", host, "--port", str(port)]
    command += ["--shared-state", str(database)]
    children: list[subprocess.Popen[str]] = []
    stop = False

    def terminate(*_: object) -> None:
        nonlocal stop
        stop = True

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        url = ""
        for _ in range(processes):
            child = subprocess.Popen([*command, "--reuse-port"], stdout=subprocess.PIPE, text=True)  # noqa: S603
            children.append(child)
        deadline = time.monotonic() + READY_TIMEOUT_S
        for child in children:
            assert child.stdout is not None
            line = child.stdout.readline()
            if " on " not in line or time.monotonic() > deadline:
                raise UsageError("a serving process did not start (see its message above)")
            url = line.split(" on ", 1)[1].split()[0]
        reserved.close()
        print(f"reference endpoints listening on {url} ({processes} processes; Ctrl-C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while not stop and all(child.poll() is None for child in children):
                time.sleep(0.2)
        failed = [child.returncode for child in children if child.poll() is not None and child.returncode != 0]
        if failed and not stop:
            raise UsageError(f"a serving process ended with exit code {failed[0]}")
    finally:
        signal.signal(signal.SIGTERM, previous)
        reserved.close()
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            if child.stdout is not None:
                child.stdout.close()
        shutil.rmtree(folder, ignore_errors=True)
    print("stopped", file=sys.stderr)
    return 0
