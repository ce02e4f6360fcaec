"""A deliberately hostile HTTP peer on loopback: each path answers in one broken way.

Raw asyncio, not aiohttp: the point is to send what no HTTP library would.
Every loop is bounded in bytes and time.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import zlib
from collections.abc import Awaitable, Callable

Writer = asyncio.StreamWriter
MiB = 1 << 20

BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode() for i in range(1, 10)
    )
    + b']><intelReport xmlns="urn:netcode:intel-report:1.0">&lol9;</intelReport>'
)
QUADRATIC = (
    b'<?xml version="1.0"?><!DOCTYPE q [<!ENTITY a "' + b"a" * 100_000 + b'">]>'
    b'<intelReport xmlns="urn:netcode:intel-report:1.0">' + b"&a;" * 1000 + b"</intelReport>"
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<intelReport xmlns="urn:netcode:intel-report:1.0">&x;</intelReport>'
)
DOCTYPE_ONLY = b'<?xml version="1.0"?><!DOCTYPE intelReport><intelReport xmlns="urn:netcode:intel-report:1.0"/>'


def _head(status: str, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _answer(
    writer: Writer, body: bytes, content_type: str = "application/json", status: str = "202 Accepted", **extra: str
) -> None:
    headers = {"Content-Type": content_type, "Content-Length": str(len(body)), "Connection": "close", **extra}
    writer.write(_head(status, {k.replace("_", "-"): v for k, v in headers.items() if v}) + body)
    await writer.drain()


async def huge_declared(writer: Writer) -> None:
    writer.write(_head("202 Accepted", {"Content-Type": "application/json", "Content-Length": str(100 * MiB)}))
    for _ in range(100):  # at most 100 MiB, stops as soon as the client hangs up
        writer.write(b"0" * MiB)
        await writer.drain()


async def huge_chunked(writer: Writer) -> None:
    writer.write(_head("202 Accepted", {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}))
    chunk = b"%x\r\n" % MiB + b" " * MiB + b"\r\n"
    for _ in range(100):
        writer.write(chunk)
        await writer.drain()


def _bomb(wbits: int, expanded: int = 200 * MiB) -> bytes:
    """``expanded`` zero bytes compressed, made 1 MiB at a time (built once, at import)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = b"\0" * MiB
    parts = [packer.compress(zeros) for _ in range(expanded // MiB)]
    return b"".join(parts) + packer.flush()


GZIP_BOMB = _bomb(31)
DEFLATE_BOMB = _bomb(15)


async def gzip_bomb(writer: Writer) -> None:
    await _answer(writer, GZIP_BOMB, Content_Encoding="gzip")


async def deflate_bomb(writer: Writer) -> None:
    await _answer(writer, DEFLATE_BOMB, Content_Encoding="deflate")


async def trickle(writer: Writer) -> None:
    writer.write(_head("202 Accepted", {"Content-Type": "application/json", "Content-Length": "600"}))
    for _ in range(600):  # one byte a second: ten minutes at most, the client gives up long before
        writer.write(b" ")
        await writer.drain()
        await asyncio.sleep(1)


async def reset_mid_body(writer: Writer) -> None:
    writer.write(_head("202 Accepted", {"Content-Type": "application/json", "Content-Length": "1000"}) + b'{"rep')
    await writer.drain()
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with RST
    writer.transport.abort()


async def never_answers(writer: Writer) -> None:
    await asyncio.sleep(600)


async def invalid_utf8(writer: Writer) -> None:
    await _answer(writer, b'{"reportId": "\xff\xfe", "status": "accepted"}')


async def deep_json(writer: Writer) -> None:
    await _answer(writer, b"[" * 100_000 + b"]" * 100_000)


async def duplicate_keys(writer: Writer) -> None:
    await _answer(writer, b'{"status": "accepted", "status": "rejected", "reportId": "x", "receivedAt": "x"}')


async def doctype(writer: Writer) -> None:
    await _answer(writer, DOCTYPE_ONLY, "application/vnd.netcode.intel-report+xml", "200 OK")


async def external_entity(writer: Writer) -> None:
    await _answer(writer, EXTERNAL_ENTITY, "application/vnd.netcode.intel-report+xml", "200 OK")


async def billion_laughs(writer: Writer) -> None:
    await _answer(writer, BILLION_LAUGHS, "application/vnd.netcode.intel-report+xml", "200 OK")


async def quadratic_blowup(writer: Writer) -> None:
    await _answer(writer, QUADRATIC, "application/vnd.netcode.intel-report+xml", "200 OK")


async def wrong_content_type(writer: Writer) -> None:
    await _answer(writer, json.dumps({"status": "accepted"}).encode(), "text/html")


async def missing_content_type(writer: Writer) -> None:
    await _answer(writer, json.dumps({"status": "accepted"}).encode(), "")


async def redirect(writer: Writer) -> None:
    await _answer(writer, b"", "", "302 Found", Location="http://127.0.0.1:9/elsewhere")


async def malformed_status_line(writer: Writer) -> None:
    writer.write(b"HTTP/1.1 two-hundred OK\r\nContent-Length: 0\r\n\r\n")
    await writer.drain()


async def malformed_header(writer: Writer) -> None:
    writer.write(b"HTTP/1.1 202 Accepted\r\nThis is not a header\r\nContent-Length: 0\r\n\r\n")
    await writer.drain()


CASES: dict[str, Callable[[Writer], Awaitable[None]]] = {
    name: function
    for name, function in list(globals().items())
    if callable(function)
    and getattr(function, "__module__", None) == __name__
    and not name.startswith("_")
    and name not in ("serve", "HostilePeer")
}
XML_CASES = {"doctype", "external_entity", "billion_laughs", "quadratic_blowup"}


class HostilePeer:
    """``async with HostilePeer() as url``: GET/POST ``url + "/" + case`` gets that case's answer."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def _handle(self, reader: asyncio.StreamReader, writer: Writer) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            path = head.split(b" ", 2)[1].decode().lstrip("/").split("/")[0]
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            await asyncio.wait_for(reader.readexactly(min(length, 2 * MiB)), 10)
            await CASES[path](writer)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, KeyError, ValueError, IndexError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> str:
        async def handle(reader: asyncio.StreamReader, writer: Writer) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._tasks.add(task)
            try:
                await self._handle(reader, writer)
            except asyncio.CancelledError:
                pass  # the peer is shutting down
            finally:
                self._tasks.discard(task)

        self._server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
