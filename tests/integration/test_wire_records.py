"""The exchanges a run records are the bytes that crossed the wire, captured on the server's side.

A recording proxy on loopback sits between ``harness run`` and the reference supplier: every request the
bundle's ``exchanges.jsonl`` records, re-encoded from its start line, headers and body, is found byte for byte
in what the proxy read from the harness, and every answer's body is the one the supplier sent.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from harness.catalog import Catalog
from harness.endpoints import ReferenceServer, build_app
from harness.protocols.http1 import encode_request
from tests.hostile.runs import harness_run


class Recorder:
    """A TCP proxy on 127.0.0.1 that keeps every byte each side sent, per connection."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.sent: list[bytearray] = []  # harness -> supplier, one per connection
        self.answered: list[bytearray] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        sent, answered = bytearray(), bytearray()
        self.sent.append(sent)
        self.answered.append(answered)

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter, kept: bytearray) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await source.read(65536):
                    kept += data
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pump(reader, up_writer, sent), pump(up_reader, writer, answered))


@contextlib.asynccontextmanager
async def recording(upstream: str) -> AsyncIterator[tuple[Recorder, str]]:
    recorder = Recorder(int(upstream.rsplit(":", 1)[1]))
    server = await asyncio.start_server(recorder.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield recorder, f"http://127.0.0.1:{port}"
    finally:
        server.close()


def _body(message: dict[str, Any]) -> bytes:
    body = message["body"]
    return base64.b64decode(body) if message["body_encoding"] == "base64" else body.encode()


async def test_recorded_requests_are_the_bytes_the_server_received(tmp_path: Path, catalog: Catalog) -> None:
    async with ReferenceServer(build_app(catalog)) as upstream, recording(upstream) as (recorder, url):
        store = {"HARNESS_STORE": f"sqlite:///{tmp_path / 'store.db'}"}
        code, out, err = await harness_run(url, "--concurrency", "2", reports=tmp_path / "r", env=store)
    assert code == 0, out + err
    (bundle,) = (tmp_path / "r").glob("*.evidence.zip")
    with zipfile.ZipFile(bundle) as archive:
        records = [json.loads(line) for line in archive.read("exchanges.jsonl").splitlines()]
    outbound = [r for r in records if r["direction"] == "harness->sut"]
    assert outbound and all(r["attempt"] == 1 for r in outbound)
    wire = b"".join(bytes(each) for each in recorder.sent)
    answers = b"".join(bytes(each) for each in recorder.answered)
    for record in outbound:
        request = record["request"]
        sent = encode_request(request["start_line"], [tuple(h) for h in request["headers"]], _body(request))
        assert sent in wire, f"{record['scenario']} {record['step']}: {request['start_line']} not as sent"
        answer = record["answer"]
        head = f"{answer['start_line']}\r\n".encode() + b"".join(
            f"{name}: {value}\r\n".encode() for name, value in answer["headers"]
        )
        assert head + b"\r\n" + _body(answer) in answers, f"{record['scenario']} {record['step']}: answer differs"
    # every request the server read is on the record: as many start lines went out as were recorded
    assert wire.count(b" HTTP/1.1\r\nHost: ") == len(outbound)
