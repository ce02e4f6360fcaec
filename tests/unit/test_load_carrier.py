"""The load users' carrier (harness/load/carrier.py) on plain sockets, against a scripted peer on loopback.

In a Locust process its sockets are gevent's; the framing, bounds, retry and errors tested here are the same
code either way (the reader is harness/protocols/http1.py, shared with the HTTP adapter).
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from harness.load.carrier import Carrier
from harness.model import BadAnswer, TransportError
from harness.transport import Request, TransportOptions

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


class Peer:
    """Answers request N of a connection with ``script(head)``, or closes silently when ``drop(N)``."""

    def __init__(self, script: Callable[[bytes], bytes], drop: Callable[[int], bool]) -> None:
        self.script, self.drop = script, drop
        self.heads: list[bytes] = []
        self.connections = 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self._stop = False

    def serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:  # closed by stop()
                return
            self.connections += 1
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        buffer = b""
        with conn, contextlib.suppress(OSError):
            for index in range(100):
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = next(
                    (int(line[15:]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0
                )
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                buffer = buffer[length:]
                self.heads.append(head)
                if self.drop(index):
                    return
                conn.sendall(self.script(head))

    def stop(self) -> None:
        self._stop = True
        self.server.close()


@contextmanager
def peer(script: Callable[[bytes], bytes], drop: Callable[[int], bool] = lambda index: False) -> Iterator[Peer]:
    state = Peer(script, drop)
    thread = threading.Thread(target=state.serve, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stop()
        thread.join(5)


def carrier(url: str, **options: object) -> Carrier:
    return Carrier(url, TransportOptions(**options))  # type: ignore[arg-type]


def test_one_kept_alive_connection_carries_every_exchange_with_the_credentials() -> None:
    with peer(lambda head: OK) as state:
        user = carrier(state.url, headers=(("Authorization", "Bearer t0ken"),))
        for _ in range(10):
            response = user.send(Request("POST", state.url + "/x", (("Content-Type", "application/json"),), b"{}"))
            assert (response.status, response.reason, response.body) == (200, "OK", b"{}")
        user.close()
    assert state.connections == 1
    assert all(b"Authorization: Bearer t0ken" in head and b"Content-Length: 2" in head for head in state.heads)


def test_a_dropped_kept_alive_connection_is_retried_once() -> None:
    with peer(lambda head: OK, drop=lambda index: index == 1) as state:
        user = carrier(state.url)
        for _ in range(3):
            assert user.send(Request("GET", state.url + "/x")).status == 200
        user.close()
    assert state.connections == 3 and len(state.heads) == 5


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", "5000 bytes is over the 1000-byte limit"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"100\r\n" + b"x" * 256 + b"\r\n" * 1, ""),
        (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n", "expands past"),
        (b"HTTP/1.1 two-hundred OK\r\n\r\n", "malformed response"),
    ],
    ids=["declared", "chunked", "gzip-bomb", "malformed"],
)
def test_bounds_and_broken_answers(answer: bytes, message: str) -> None:
    bomb = gzip.compress(b"\0" * 100_000)
    if b"%d" in answer:
        answer = answer % len(bomb) + bomb
    elif b"chunked" in answer:
        answer = answer + (b"100\r\n" + b"x" * 256 + b"\r\n") * 8 + b"0\r\n\r\n"
        message = "passed the 1000-byte limit"
    with peer(lambda head: answer) as state:
        user = carrier(state.url, max_response_bytes=1000, timeout_s=5)
        with pytest.raises(BadAnswer, match=message):
            user.send(Request("GET", state.url + "/"))
        user.close()


def test_no_answer_within_the_timeout_is_a_bad_answer() -> None:
    with peer(lambda head: b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab") as state:
        user = carrier(state.url, timeout_s=0.3)
        started = time.monotonic()
        with pytest.raises(BadAnswer, match=r"no complete answer .* within 0\.3 s"):
            user.send(Request("GET", state.url + "/"))
        assert time.monotonic() - started < 3
        user.close()


def test_other_origins_and_refused_connections_are_transport_errors() -> None:
    with peer(lambda head: OK) as state:
        user = carrier(state.url)
        with pytest.raises(TransportError, match="is not on the load target"):
            user.send(Request("GET", "http://127.0.0.2:9/x"))
        user.close()
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    with pytest.raises(TransportError, match=f"cannot connect to http://127.0.0.1:{port}"):
        carrier(f"http://127.0.0.1:{port}").send(Request("GET", f"http://127.0.0.1:{port}/"))
