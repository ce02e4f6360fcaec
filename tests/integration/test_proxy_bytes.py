"""The proxy is byte-exact: what the client sends is what the upstream receives, what the upstream sends is what
the client receives (hash compare), whatever the framing: pipelined requests, chunked bodies with extensions and
trailers, header names in odd case, a HEAD answer, bytes split at awkward places; and it still checks them."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

from harness.catalog import Catalog
from harness.protocols.http1 import parse_target
from harness.proxy.checks import ExchangeChecker
from harness.proxy.server import ProxyServer
from harness.proxy.session import ProxySession
from harness.reporting.redaction import Redactor

ROOT = Path(__file__).resolve().parents[2]
REPORT = (ROOT / "fixtures/formats/intel-report/1.0/samples/valid/minimal.json").read_bytes()
REPORT_ID = json.loads(REPORT)["reportId"]


def _chunked(data: bytes, size: int) -> bytes:
    out = b""
    for start in range(0, len(data), size):
        piece = data[start : start + size]
        out += f"{len(piece):x};ext=1\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\nX-Trailer: yes\r\n\r\n"


ACK = json.dumps({"reportId": REPORT_ID, "status": "accepted", "receivedAt": "2026-12-05T10:00:00Z"}).encode()
INVALID_QUERY = json.dumps(
    {
        "queryId": "6f1c1c1e-9a52-4a3e-8a41-0d6c6b0b7a11",
        "profile": "netcode.person-query/1.0",
        "requestedBy": {"force": "met", "officerId": "PC123"},
        "criteria": {"familyName": "SMITH"},
    }
).encode()
RESULT = json.dumps(
    {
        "queryId": "6f1c1c1e-9a52-4a3e-8a41-0d6c6b0b7a11",
        "profile": "netcode.person-result/1.0",
        "status": "no-trace",
        "matches": [],
    }
).encode()

REQUESTS = (
    b"\r\n"  # an empty line before a request line (RFC 9112 2.2)
    b"POST /netcode/v1/intel-reports HTTP/1.1\r\nhost: upstream\r\n"
    b"content-TYPE: application/vnd.netcode.intel-report+json\r\n"
    b"transfer-encoding: chunked\r\nX-Odd:   spaced value  \r\n\r\n" + _chunked(REPORT, 37)
    + b"GET /netcode/v1/intel-reports/"
    + REPORT_ID.encode()
    + b" HTTP/1.1\r\nHost: upstream\r\nACCEPT: application/json\r\n\r\n"
    b"HEAD /somewhere/else HTTP/1.1\r\nHost: upstream\r\n\r\n"
    b"POST /netcode/v1/queries/person HTTP/1.1\r\nHost: upstream\r\nContent-Type: application/json\r\n"
    b"Content-Length: " + str(len(INVALID_QUERY)).encode() + b"\r\n\r\n" + INVALID_QUERY
)  # fmt: skip
ANSWERS = (
    b"HTTP/1.1 100 Continue\r\n\r\n"
    b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\nLOCATION: /netcode/v1/intel-reports/"
    + REPORT_ID.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunked(ACK, 5)
    + b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.netcode.intel-report+json\r\nContent-Length: "
    + str(len(REPORT)).encode() + b"\r\n\r\n" + REPORT
    + b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"  # a HEAD answer: no body follows
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: " + str(len(RESULT)).encode()
    + b"\r\n\r\n" + RESULT
)  # fmt: skip


def _pieces(data: bytes, sizes: tuple[int, ...]) -> list[bytes]:
    out, at, turn = [], 0, 0
    while at < len(data):
        size = sizes[turn % len(sizes)]
        out.append(data[at : at + size])
        at, turn = at + size, turn + 1
    return out


async def test_bytes_arrive_unchanged_at_both_ends_and_are_checked(catalog: Catalog) -> None:
    received = bytearray()

    async def upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while len(received) < len(REQUESTS):
            data = await reader.read(65536)
            if not data:
                break
            received.extend(data)
        for piece in _pieces(ANSWERS, (1, 7, 64, 3, 500)):
            writer.write(piece)
            await writer.drain()
        await reader.read()  # until the client closes
        writer.close()

    server = await asyncio.start_server(upstream, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    lines: list[str] = []
    session = ProxySession(ExchangeChecker(catalog), Redactor(), print_line=lines.append)
    proxy = ProxyServer(parse_target(f"http://127.0.0.1:{port}"), session.submit)
    host, proxy_port = await proxy.start("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection(host, proxy_port)
        for piece in _pieces(REQUESTS, (5, 1, 300, 2)):
            writer.write(piece)
            await writer.drain()
        got = await asyncio.wait_for(reader.readexactly(len(ANSWERS)), 10)
        writer.close()
    finally:
        await proxy.close()
        server.close()
        session.finish()
    assert hashlib.sha256(received).hexdigest() == hashlib.sha256(REQUESTS).hexdigest()
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(ANSWERS).hexdigest()
    findings = session.findings
    assert findings.exchanges == 4  # the 100 Continue is no exchange of its own
    assert dict(findings.by_rule) == {"PQ-01": 1}, lines  # the invalid query accepted; the rest conforms
    kept = findings.kept[0]["exchange"]
    assert kept.request_body == REPORT and kept.answer_body == ACK  # de-chunked for the checks
    assert ("X-Odd", "spaced value") in kept.request_headers and kept.answer_status == 202
    assert findings.kept[2]["exchange"].method == "HEAD" and findings.kept[2]["exchange"].answer_body == b""


async def test_an_unframable_stream_is_still_forwarded_unchanged(catalog: Catalog) -> None:
    """Bytes that are not HTTP/1.1 make the proxy stop watching that connection, never stop forwarding it."""
    received = bytearray()
    garbage = b"\x16\x03\x01 not http at all\r\n\r\n" + bytes(range(256)) * 10
    answer = b"NOT HTTP EITHER" + bytes(range(256))

    async def upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while len(received) < len(garbage):
            data = await reader.read(65536)
            if not data:
                break
            received.extend(data)
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(upstream, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    notes: list[str] = []
    session = ProxySession(ExchangeChecker(catalog), Redactor(), print_line=notes.append)
    proxy = ProxyServer(
        parse_target(f"http://127.0.0.1:{port}"),
        session.submit,
        on_problem=notes.append,
        on_unframed=session.unframed,
    )
    host, proxy_port = await proxy.start("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection(host, proxy_port)
        writer.write(garbage)
        await writer.drain()
        got = await asyncio.wait_for(reader.read(), 10)
        writer.close()
    finally:
        await proxy.close()
        server.close()
        session.finish()
    assert bytes(received) == garbage and got == answer
    assert proxy.counters.unwatched >= 1 and any("not watched" in note for note in notes)
    # Traffic that could not be checked never passes for traffic without findings (a supplier gains nothing).
    assert session.findings.by_rule["BR-1"] >= 1 and session.findings.errors >= 1


async def test_an_answer_to_no_request_is_forwarded_and_is_a_finding(catalog: Catalog) -> None:
    unsolicited = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"

    async def upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(unsolicited)
        await writer.drain()
        await reader.read()
        writer.close()

    server = await asyncio.start_server(upstream, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    session = ProxySession(ExchangeChecker(catalog), Redactor(), print_line=lambda line: None)
    proxy = ProxyServer(parse_target(f"http://127.0.0.1:{port}"), session.submit, on_unframed=session.unframed)
    host, proxy_port = await proxy.start("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection(host, proxy_port)
        got = await asyncio.wait_for(reader.readexactly(len(unsolicited)), 10)
        writer.close()
    finally:
        await proxy.close()
        server.close()
        session.finish()
    assert got == unsolicited
    assert session.findings.by_rule == {"BR-1": 1} and session.findings.exchanges == 0


async def test_pipelining_without_end_is_forwarded_unwatched_and_is_no_finding(catalog: Catalog) -> None:
    requests = b"GET /netcode/v1/intel-reports/x HTTP/1.1\r\nHost: h\r\n\r\n" * 300
    received = bytearray()

    async def upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while len(received) < len(requests):
            data = await reader.read(65536)
            if not data:
                break
            received.extend(data)
        writer.close()

    server = await asyncio.start_server(upstream, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    session = ProxySession(ExchangeChecker(catalog), Redactor(), print_line=lambda line: None)
    proxy = ProxyServer(parse_target(f"http://127.0.0.1:{port}"), session.submit, on_unframed=session.unframed)
    host, proxy_port = await proxy.start("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection(host, proxy_port)
        writer.write(requests)
        await writer.drain()
        await asyncio.wait_for(reader.read(), 10)  # the upstream closes without answering
        writer.close()
    finally:
        await proxy.close()
        server.close()
        session.finish()
    assert bytes(received) == requests
    assert proxy.counters.unwatched == 1 and session.findings.errors == 0
