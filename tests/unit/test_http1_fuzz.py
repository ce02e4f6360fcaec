"""The harness's own HTTP/1.1 answer reader (harness/protocols/http1.py), fuzzed with hypothesis.

Whatever bytes a peer sends, in whatever pieces, and however the connection ends, the reader gives a parsed
:class:`Answer` or raises :class:`BadAnswer`: never another exception, never a body past its limit, never a head
past :data:`MAX_HEAD_BYTES`. Answers are built from framing pieces a broken or hostile server sends (chunk sizes
that overflow or lie, conflicting Content-Length, obs-fold, huge headers, truncated bodies), then mutated byte-wise.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.model import BadAnswer
from harness.protocols.http1 import MAX_HEAD_BYTES, Answer, ResponseReader

DEEPER = os.environ.get("HARNESS_FUZZ_EXAMPLES")
FUZZ = settings(
    max_examples=int(DEEPER or 400),
    deadline=None,
    derandomize=not DEEPER,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
BODY_LIMIT = 4096

STATUS_LINES = st.sampled_from(
    [
        b"HTTP/1.1 200 OK\r\n",
        b"HTTP/1.0 200 OK\r\n",
        b"HTTP/1.1 204 No Content\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: upgrade\r\n",
        b"HTTP/1.1 999999999999 Big\r\n",
        b"HTTP/2 200\r\n",
        b"HTTP/1.1 200\r\n",
        b"HTTP/1.1 -1 Negative\r\n",
        b"ICY 200 OK\r\n",
        b"",
    ]
)
HEADERS = st.lists(
    st.sampled_from(
        [
            b"Content-Length: 5\r\n",
            b"Content-Length: 0\r\n",
            b"Content-Length: 999999999999999999999999\r\n",
            b"Content-Length: -1\r\n",
            b"Content-Length: 5, 6\r\n",
            b"Content-Length: 99999\r\n",
            b"Transfer-Encoding: chunked\r\n",
            b"Transfer-Encoding: gzip, chunked\r\n",
            b"Transfer-Encoding: chunked, identity\r\n",
            b"Content-Type: application/json\r\n",
            b"Connection: close\r\n",
            b"Connection: keep-alive\r\n",
            b"X-Folded: first\r\n  second line\r\n",
            b" leading-space: x\r\n",
            b"No-Colon\r\n",
            b"Bad Name: x\r\n",
            b"X-Nul: a\x00b\r\n",
            b"X-Bare-LF: x\n",
            b"X-Huge: " + b"h" * 70_000 + b"\r\n",
            b"X-Big: " + b"b" * 9_000 + b"\r\n",
        ]
    ),
    max_size=6,
)
BODIES = st.lists(
    st.sampled_from(
        [
            b"hello",
            b"5\r\nhello\r\n0\r\n\r\n",
            b"ffffffffffffffffffff\r\nx\r\n",
            b"5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n",
            b"-5\r\nhello\r\n",
            b"3\r\nhello\r\n0\r\n\r\n",
            b"1000\r\n" + b"z" * 5000,
            b"\r\n",
            b"x" * 6000,
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        ]
    ),
    max_size=3,
)


@st.composite
def answers(draw: st.DrawFn) -> bytes:
    data = draw(STATUS_LINES) + b"".join(draw(HEADERS)) + draw(st.sampled_from([b"\r\n", b"\n", b""]))
    data += b"".join(draw(BODIES))
    if draw(st.booleans()):  # mutate: flip, drop or insert bytes
        raw = bytearray(data)
        for _ in range(draw(st.integers(0, 6))):
            if not raw:
                break
            at = draw(st.integers(0, len(raw) - 1))
            action = draw(st.sampled_from(["flip", "drop", "insert"]))
            if action == "flip":
                raw[at] ^= draw(st.integers(1, 255))
            elif action == "drop":
                del raw[at]
            else:
                raw[at:at] = draw(st.sampled_from([b"\r\n", b":", b"\x00", b" ", b"0\r\n\r\n", b"\r\n\r\n"]))
        data = bytes(raw)
    if draw(st.booleans()):  # truncated
        data = data[: draw(st.integers(0, len(data)))]
    return data


def pieces(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(len(data), c) for c in cuts})
    out, last = [], 0
    for point in points:
        out.append(data[last:point])
        last = point
    out.append(data[last:])
    return [p for p in out if p]


@FUZZ
@given(
    data=answers(),
    cuts=st.lists(st.integers(0, 20_000), max_size=5),
    head_only=st.booleans(),
    ending=st.sampled_from([None, ConnectionResetError(104, "reset"), OSError(5, "io")]),
)
def test_the_reader_parses_or_refuses_and_stays_bounded(
    data: bytes, cuts: list[int], head_only: bool, ending: BaseException | None
) -> None:
    reader = ResponseReader("http://peer.test", BODY_LIMIT, head_only)
    answer: Answer | None = None
    try:
        for piece in pieces(data, cuts):
            answer = reader.feed(piece)
            if answer is not None:
                break
        if answer is None:
            answer = reader.end(ending)
    except BadAnswer as exc:
        assert str(exc) and "\n" not in str(exc)  # one line, as a verdict shows it
        return
    assert isinstance(answer, Answer)
    assert len(answer.body) <= BODY_LIMIT
    assert sum(len(n) + len(v) for n, v in answer.headers) <= MAX_HEAD_BYTES
    assert 100 <= answer.status <= 999
    assert answer.start_line.startswith("HTTP/")


@FUZZ
@given(size=st.integers(0, BODY_LIMIT), split=st.integers(1, 64))
def test_a_chunked_body_arrives_whole_in_any_pieces(size: int, split: int) -> None:
    body = bytes(i % 251 for i in range(size))
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i : i + 97]), body[i : i + 97]) for i in range(0, size, 97))
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
    reader = ResponseReader("http://peer.test", BODY_LIMIT, False)
    answer = None
    for at in range(0, len(data), split):
        answer = reader.feed(data[at : at + split]) or answer
    assert answer is not None and answer.body == body and reader.reusable


def test_a_chunked_body_over_the_limit_is_refused() -> None:
    reader = ResponseReader("http://peer.test", 10, False)
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"b\r\n" + b"x" * 11 + b"\r\n0\r\n\r\n"
    try:
        reader.feed(data)
    except BadAnswer as exc:
        assert "limit" in str(exc)
    else:
        raise AssertionError("an 11-byte chunk passed a 10-byte limit")
