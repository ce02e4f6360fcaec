"""The HTTP adapter's own HTTP/1.1 client (adapters/http/wire.py), against a scripted peer on loopback.

Each test's peer reads one request head (and its declared body) and writes exactly the bytes the
test gives it, so framing (lengths, chunks, end of connection, interim answers, HEAD) and every
bound are checked byte for byte.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from adapters.http import HttpTransport, wire
from adapters.http.wire import Client
from harness.catalog import Catalog
from harness.events import Event, ExchangeCompleted
from harness.model import BadAnswer, ConfigurationError, Suite, TargetUnreachable, Verdict
from harness.protocols.http1 import MAX_HEAD_BYTES, encode_request, parse_target
from harness.reporting import Redactor, exchange_record
from harness.runner.engine import Runner
from harness.transport import Attempt, Request, TransportOptions

Script = Callable[[bytes], list[bytes] | bytes]


class Peer:
    """Answers each request with ``script(request head)``; records heads and connections."""

    def __init__(self, script: Script, close_after: bool = False, drop: Callable[[int], bool] | None = None) -> None:
        self.script = script
        self.close_after = close_after
        self.drop = drop or (lambda index: False)  # close silently instead of answering a connection's request
        self.heads: list[bytes] = []
        self.bodies: list[bytes] = []
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            for index in range(1_000):
                head = await reader.readuntil(b"\r\n\r\n")
                self.heads.append(head)
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                self.bodies.append(await reader.readexactly(length))
                if self.drop(index):
                    break
                answer = self.script(head)
                for part in answer if isinstance(answer, list) else [answer]:
                    writer.write(part)
                    await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def peer(
    script: Script, close_after: bool = False, drop: Callable[[int], bool] | None = None
) -> AsyncIterator[tuple[Peer, str]]:
    state = Peer(script, close_after, drop)
    server = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield state, f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


def fixed(answer: bytes | list[bytes]) -> Script:
    return lambda head: answer


OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


async def test_keep_alive_one_connection_for_many_exchanges() -> None:
    client = Client(None, 4, 1 << 20)
    async with peer(fixed(OK)) as (state, url):
        for _ in range(20):
            answer = await client.exchange("GET", url + "/x", [], b"")
            assert (answer.status, answer.reason, answer.body) == (200, "OK", b"{}")
            assert ("Content-Type", "application/json") in answer.headers
        assert state.connections == 1
        client.close()


async def test_concurrent_exchanges_are_bounded_by_the_limit() -> None:
    client = Client(None, 3, 1 << 20)
    async with peer(fixed(OK)) as (state, url):
        answers = await asyncio.gather(*(client.exchange("POST", url + "/x", [], b"{}") for _ in range(30)))
        assert {a.status for a in answers} == {200}
        assert state.connections <= 3
        client.close()


async def test_request_head_is_what_http_1_1_expects() -> None:
    client = Client(None, 1, 1 << 20, user_agent="netcode-harness/test")
    async with peer(fixed(OK)) as (state, url):
        port = url.rsplit(":", 1)[1]
        await client.exchange("POST", url + "/a b/é?q=x y", [("Content-Type", "application/json")], b'{"a":1}')
        await client.exchange("GET", url + "/plain", [("Accept", "application/xml")], b"")
        client.close()
    first, second = state.heads
    assert first.startswith(b"POST /a%20b/%C3%A9?q=x%20y HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{port}\r\n".encode() in first
    for line in (b"Content-Type: application/json", b"Content-Length: 7", b"User-Agent: netcode-harness/test"):
        assert line + b"\r\n" in first
    assert b"Accept-Encoding: gzip, deflate\r\n" in first
    assert state.bodies[0] == b'{"a":1}'
    assert second.startswith(b"GET /plain HTTP/1.1\r\n")
    assert b"Content-Length" not in second  # a GET without a body declares none
    assert b"Accept: application/xml\r\n" in second and b"Accept: */*" not in second


def test_targets_host_line_default_port_and_userinfo() -> None:
    assert parse_target("https://example.test/x").host_header == "example.test"
    assert parse_target("http://example.test:80/").host_header == "example.test"
    assert parse_target("http://[::1]:8080/p").host_header == "[::1]:8080"
    target = parse_target("http://user:p%40ss@127.0.0.1:9/p")
    assert target.auth == f"Basic {base64.b64encode(b'user:p@ss').decode()}"
    assert target.origin == "http://127.0.0.1:9"  # no credentials in messages
    with pytest.raises(ConfigurationError):
        parse_target("ftp://example.test/")


async def test_a_line_break_in_a_header_is_refused_before_sending() -> None:
    client = Client(None, 1, 1 << 20)
    async with peer(fixed(OK)) as (state, url):
        with pytest.raises(ConfigurationError, match="line break"):
            await client.exchange("GET", url + "/", [("X-Evil", "a\r\nInjected: yes")], b"")
        assert state.heads == []
        client.close()


@pytest.mark.parametrize(
    ("answer", "body"),
    [
        (
            [
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                b"3\r\nabc\r\n",
                b"2\r\nde\r\n0\r\nT: x\r\n\r\n",
            ],
            b"abcde",
        ),
        ([b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nxyz"], b"xyz"),
        ([b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhe", b"llo"], b"hello"),
        ([b"HTTP/1.1 204 No Content\r\n\r\n"], b""),
    ],
    ids=["chunked-with-trailer", "interim-100", "split-body", "no-content"],
)
async def test_framings(answer: list[bytes], body: bytes) -> None:
    client = Client(None, 1, 1 << 20)
    async with peer(fixed(answer)) as (state, url):
        got = await client.exchange("GET", url + "/", [], b"")
        assert got.body == body
        assert ("T", "x") not in got.headers  # a trailer is not a header of the answer
        again = await client.exchange("GET", url + "/", [], b"")
        assert again.body == body
        assert state.connections == 1
        client.close()


async def test_body_to_end_of_connection_and_connection_close() -> None:
    client = Client(None, 1, 1 << 20)
    async with peer(fixed(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"), close_after=True) as (
        state,
        url,
    ):
        assert (await client.exchange("GET", url + "/", [], b"")).body == b"until the end"
        assert (await client.exchange("GET", url + "/", [], b"")).body == b"until the end"
        assert state.connections == 2  # not reused: the body ended with the connection
        client.close()


async def test_head_answer_has_no_body_even_with_a_length() -> None:
    client = Client(None, 1, 1 << 20)
    async with peer(fixed(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n")) as (_, url):
        answer = await asyncio.wait_for(client.exchange("HEAD", url + "/", [], b""), 5)
        assert answer.status == 200 and answer.body == b""
        client.close()


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n", "2000 bytes is over the 1000-byte limit"),
        (
            [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"] + [b"100\r\n" + b"x" * 256 + b"\r\n"] * 8,
            "passed",
        ),
        (b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (MAX_HEAD_BYTES + 10) + b"\r\n\r\n", "exceed"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "closed the connection before answering completely"),
        (b"HTTP/1.1 two-hundred OK\r\nContent-Length: 0\r\n\r\n", "malformed response"),
        (b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n", "switched protocols"),
    ],
    ids=["declared-too-long", "chunked-too-long", "head-too-long", "cut-short", "bad-status", "upgrade"],
)
async def test_broken_answers_are_bad_answers(answer: bytes | list[bytes], message: str) -> None:
    client = Client(None, 1, 1000)
    async with peer(fixed(answer), close_after=True) as (_, url):
        with pytest.raises(BadAnswer, match=message):
            await asyncio.wait_for(client.exchange("GET", url + "/", [], b""), 5)
        client.close()


async def test_bytes_after_the_answer_retire_the_connection() -> None:
    client = Client(None, 1, 1 << 20)
    async with peer(fixed([OK + b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"])) as (state, url):
        await client.exchange("GET", url + "/", [], b"")
        await asyncio.sleep(0.05)
        assert (await client.exchange("GET", url + "/", [], b"")).body == b"{}"
        assert state.connections == 2
        client.close()


async def test_refused_connection_is_unreachable() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(TargetUnreachable, match=f"cannot connect to http://127.0.0.1:{port}"):
        await Client(None, 1, 1000).exchange("GET", f"http://127.0.0.1:{port}/", [], b"")


async def test_transport_deadline_and_decoding() -> None:
    import gzip

    packed = gzip.compress(b'{"a": 1}')
    answers: dict[bytes, bytes | list[bytes]] = {
        b"/slow": [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"],
        b"/gzip": b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(packed) + packed,
    }
    async with peer(lambda head: answers[head.split(b" ")[1]]) as (_, url):
        transport = HttpTransport(TransportOptions(timeout_s=0.3, headers=(("Authorization", "Bearer s3cret"),)))
        try:
            response = await transport.send(Request("GET", url + "/gzip"))
            assert response.body == b'{"a": 1}' and response.status == 200
            with pytest.raises(BadAnswer, match=r"no complete answer .* within 0\.3 s"):
                await transport.send(Request("GET", url + "/slow"))
            # The deadline retired that connection; the next exchange gets a fresh one.
            assert (await transport.send(Request("GET", url + "/gzip"))).status == 200
        finally:
            await transport.close()


def test_a_client_moves_to_a_new_event_loop() -> None:
    """The pytest plugin and repeated ``asyncio.run`` calls reuse one transport across loops."""

    async def one(url: str, client: Client) -> int:
        return (await client.exchange("GET", url + "/", [], b"")).status

    async def main(client: Client) -> int:
        async with peer(fixed(OK)) as (_, url):
            return await one(url, client)

    client = Client(None, 2, 1000)
    assert asyncio.run(main(client)) == 200
    assert asyncio.run(main(client)) == 200
    client.close()


async def test_a_dropped_kept_alive_connection_is_retried_once_for_an_idempotent_request() -> None:
    """The peer answers the first request of each connection and drops the connection at the second: a GET goes
    again on a fresh connection, and both sendings are recorded."""
    client = Client(None, 1, 1 << 20)
    async with peer(fixed(OK), drop=lambda index: index == 1) as (state, url):
        for _ in range(3):
            record: list[Attempt] = []
            assert (await client.exchange("GET", url + "/x", [], b"", record)).status == 200
        assert state.connections == 3 and len(state.heads) == 5  # each drop cost one request, sent again
        assert [(a.number, a.status) for a in record] == [(1, None), (2, 200)]
        assert "closed the connection" in record[0].error and record[1].answer_line == "HTTP/1.1 200 OK"
        client.close()


async def test_a_post_on_a_dropped_kept_alive_connection_is_never_sent_twice() -> None:
    """RFC 9112 9.3.1: the peer may have acted on the POST it read before dropping the connection; the harness
    does not send it again, and the one sending is on the record of the failure."""
    transport = HttpTransport(TransportOptions(timeout_s=5))
    async with peer(fixed(OK), drop=lambda index: index == 1) as (state, url):
        await transport.send(Request("POST", url + "/first", (), b"{}"))
        with pytest.raises(BadAnswer, match="closed the connection") as caught:
            await transport.send(Request("POST", url + "/second", (), b'{"n": 2}'))
        await transport.close()
    assert [head.split(b" ")[1] for head in state.heads] == [b"/first", b"/second"]  # sent once
    (attempt,) = caught.value.attempts
    assert attempt.start_line == "POST /second HTTP/1.1" and attempt.body == b'{"n": 2}' and attempt.status is None


async def test_a_post_takes_no_connection_idle_long(monkeypatch: pytest.MonkeyPatch) -> None:
    """A non-idempotent request goes on a fresh connection when the kept one has idled past FRESH_S (a
    server's idle timeout may be dropping it just then); an idempotent one reuses it."""
    client = Client(None, 1, 1 << 20)
    async with peer(fixed(OK)) as (state, url):
        await client.exchange("GET", url + "/", [], b"")
        await client.exchange("GET", url + "/", [], b"")
        assert state.connections == 1
        monkeypatch.setattr(wire, "FRESH_S", 0.0)
        await client.exchange("POST", url + "/", [], b"{}")
        assert state.connections == 2
        client.close()


async def test_the_record_is_the_bytes_the_peer_received() -> None:
    """Every header the transport adds (Host, Accept, Accept-Encoding, User-Agent, Content-Length, the
    credentials) is on the record, in the order sent; the gzip answer is recorded compressed."""
    packed = gzip.compress(b'{"ok": true}')
    answer = b"HTTP/1.1 201 Created\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(packed)
    options = TransportOptions(timeout_s=5, headers=(("Authorization", "Bearer abc"),))
    transport = HttpTransport(options)
    async with peer(fixed(answer + packed)) as (state, url):
        target = url.replace("http://", "http://user:pw@") + "/a b?q=1"
        response = await transport.send(Request("POST", target, (("Content-Type", "application/json"),), b"{}"))
        await transport.close()
    (attempt,) = response.attempts
    assert encode_request(attempt.start_line, list(attempt.headers), attempt.body) == state.heads[0] + state.bodies[0]
    names = [name for name, _ in attempt.headers]
    assert names == [
        "Host",
        "Content-Type",
        "Authorization",
        "Accept",
        "Accept-Encoding",
        "User-Agent",
        "Content-Length",
    ]
    assert attempt.start_line == "POST /a%20b?q=1 HTTP/1.1"
    assert attempt.answer_line == "HTTP/1.1 201 Created" and attempt.answer_body == packed
    assert response.body == b'{"ok": true}'  # what the checks judge: decoded


async def test_a_fresh_connection_closed_unanswered_is_not_retried() -> None:
    client = Client(None, 1, 1 << 20)
    async with peer(fixed(OK), drop=lambda index: True) as (state, url):
        with pytest.raises(BadAnswer, match="closed the connection before answering completely"):
            await client.exchange("POST", url + "/x", [], b"{}")
        assert state.connections == 1 and len(state.heads) == 1
        client.close()


async def test_the_runner_records_every_sending_and_the_step_bindings(catalog: Catalog) -> None:
    """Through the engine: the GET the peer dropped is two events (attempt 1 unanswered, attempt 2 answered,
    with what the step captured); the POST it dropped is one event with no answer, and the step failed."""
    answer = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Id: 42\r\nContent-Length: 9\r\n\r\n{"a": 1}\n'
    steps = [
        {"id": "warm", "request": {"method": "GET", "path": "/warm"}, "expect": {"status": 200}},
        {"id": "get", "request": {"method": "GET", "path": "/g"}, "capture": {"id": "header:X-Id"}},
        {"id": "post", "request": {"method": "POST", "path": "/p", "body": "{}"}, "expect": {"status": 200}},
    ]
    suite = Suite("unit", "1.0", "unit", "", ({"id": "W-1", "title": "t", "level": "MUST", "steps": steps},), "")
    events: list[Event] = []
    transport = HttpTransport(TransportOptions(timeout_s=5, concurrency=1))
    # each connection: the first request answered, the second dropped unanswered
    async with peer(fixed(answer), drop=lambda index: index == 1) as (state, url):
        runner = Runner(catalog, transport, url, [events.append], concurrency=1)
        finished = await runner.run(suite)
        await transport.close()
    exchanges = [e for e in events if isinstance(e, ExchangeCompleted)]
    assert [(e.step, e.attempt, e.status) for e in exchanges] == [
        ("warm", 1, 200),
        ("get", 1, None),
        ("get", 2, 200),
        ("post", 1, None),
    ]
    assert exchanges[2].bindings == {"id": "42"} and exchanges[3].answer is None
    assert [head.split(b" ")[:2] for head in state.heads].count([b"POST", b"/p"]) == 1  # never sent twice
    assert finished.results[0].verdict == Verdict.FAILED


async def test_a_gzip_answer_is_recorded_compressed_with_its_decoded_form_beside(catalog: Catalog) -> None:
    plain = b'{"ok": true}'
    packed = gzip.compress(plain)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
    steps = [{"id": "get", "request": {"method": "GET", "path": "/z"}, "expect": {"status": 200}}]
    suite = Suite("unit", "1.0", "unit", "", ({"id": "Z-1", "title": "t", "level": "MUST", "steps": steps},), "")
    events: list[Event] = []
    transport = HttpTransport(TransportOptions(timeout_s=5))
    async with peer(fixed(head % len(packed) + packed)) as (_, url):
        await Runner(catalog, transport, url, [events.append]).run(suite)
        await transport.close()
    (event,) = [e for e in events if isinstance(e, ExchangeCompleted)]
    assert event.answer is not None and event.answer.body == packed and event.answer.decoded == plain
    record = exchange_record(event, Redactor())
    assert record["answer"]["body_encoding"] == "base64"
    assert base64.b64decode(record["answer"]["body"]) == packed
    assert (record["answer"]["decoded"], record["answer"]["decoded_encoding"]) == (plain.decode(), "text")
    assert ["Content-Encoding", "gzip"] in record["answer"]["headers"]
