"""The message cutter: HTTP/1.1 framing watched beside the forwarding, bounded, never raising."""

from __future__ import annotations

from harness.proxy.wire import MAX_HEAD_BYTES, UPGRADED, MessageCutter, SeenMessage

CHUNKED = (
    b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
    b"3;name=value\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer-One: 1\r\n\r\n"
)
PLAIN = b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n"


def _cut(data: bytes, *, answers: bool = False, method: str = "GET", limit: int = 1 << 20) -> list[SeenMessage]:
    seen: list[SeenMessage] = []
    cutter = MessageCutter(answers=answers, on_message=seen.append, method_of=lambda: method, body_limit=limit)
    cutter.feed(data)
    cutter.end()
    return seen


def test_a_chunked_request_then_another_split_at_every_byte_give_the_same_messages() -> None:
    whole = _cut(CHUNKED + PLAIN)
    assert [m.start for m in whole] == [("POST", "/a", "HTTP/1.1"), ("GET", "/b", "HTTP/1.1")]
    assert bytes(whole[0].body) == b"abc0123456789abcdef" and whole[1].body == b""
    for cut in range(1, len(CHUNKED) + len(PLAIN)):
        seen: list[SeenMessage] = []
        cutter = MessageCutter(answers=False, on_message=seen.append)
        data = CHUNKED + PLAIN
        cutter.feed(data[:cut])
        cutter.feed(data[cut:])
        assert [(m.start, bytes(m.body)) for m in seen] == [(m.start, bytes(m.body)) for m in whole], cut


def test_headers_keep_their_case_order_and_repeats() -> None:
    (message,) = _cut(b"GET / HTTP/1.1\r\nX-A: 1\r\nx-a: 2\r\nHOST: h\r\n\r\n")
    assert message.headers == (("X-A", "1"), ("x-a", "2"), ("HOST", "h"))


def test_answers_without_bodies_and_until_close() -> None:
    head = _cut(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", answers=True, method="HEAD")
    assert len(head) == 1 and head[0].body == b""
    interim = _cut(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", answers=True)
    assert [m.start[1] for m in interim] == ["100", "204"]
    closed = _cut(b"HTTP/1.1 200 OK\r\n\r\nuntil the end", answers=True)
    assert bytes(closed[0].body) == b"until the end" and closed[0].complete


def test_a_body_over_the_limit_is_counted_not_kept() -> None:
    body = b"x" * 5000
    (message,) = _cut(b"POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n" + body, limit=1000)
    assert len(message.body) == 1000 and message.dropped == 4000 and message.complete


def test_what_cannot_be_framed_stops_the_watching_without_raising() -> None:
    for data in (
        b"\x16\x03\x01\x02\x00 binary\r\n\r\n",  # TLS bytes on a plain port
        b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * MAX_HEAD_BYTES,
    ):
        seen: list[SeenMessage] = []
        cutter = MessageCutter(answers=False, on_message=seen.append)
        cutter.feed(data)
        cutter.feed(b"more bytes after")  # ignored once blind
        assert cutter.blind and cutter.reason and seen == []


def test_an_upgrade_ends_the_watching_as_no_fault() -> None:
    seen: list[SeenMessage] = []
    cutter = MessageCutter(answers=True, on_message=seen.append)
    cutter.feed(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello")
    assert cutter.blind and cutter.reason == UPGRADED and len(seen) == 1


def test_a_message_cut_short_by_the_end_of_the_connection_is_a_fault() -> None:
    for data in (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", b"HTTP/1.1 200 OK\r\nContent-Le"):
        seen: list[SeenMessage] = []
        cutter = MessageCutter(answers=True, on_message=seen.append)
        cutter.feed(data)
        cutter.end()
        assert cutter.blind and cutter.fault and seen == []
    whole = MessageCutter(answers=True, on_message=lambda message: None)
    whole.feed(b"HTTP/1.1 204 No Content\r\n\r\n")
    whole.end()
    assert not whole.blind
