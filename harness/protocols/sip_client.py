"""The SIP client side: send one request over UDP or TCP and wait for its final response (RFC 3261 clause 17.1.2).

Over UDP the request is retransmitted (timer A: 500 ms, doubling up to 4 s)
until a response with the request's Via branch arrives; provisional (1xx)
responses are skipped. Everything is bounded by one deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass

from harness.protocols.sip import MAX_DATAGRAM, SipMessage, SipSyntaxError, new_branch, parse_message, split_stream

__all__ = ["SipTarget", "exchange", "parse_sip_uri"]

T1, T2 = 0.5, 4.0
_URI = re.compile(r"sips?:(?:[^@;>?]*@)?(\[[0-9A-Fa-f:.]+\]|[^:;>?]+)(?::(\d{1,5}))?([^>?]*)")


@dataclass(slots=True, frozen=True)
class SipTarget:
    """Where a SIP URI sends a request: host, port (5060 when absent) and transport (``udp`` or ``tcp``)."""

    host: str
    port: int
    transport: str


def parse_sip_uri(uri: str) -> SipTarget:
    """``sip:user@127.0.0.1:5070;transport=tcp`` -> SipTarget("127.0.0.1", 5070, "tcp"); ValueError otherwise."""
    match = _URI.search(uri.strip().strip("<>"))
    if match is None:
        raise ValueError(f"not a SIP URI: {uri!r}")
    port = int(match[2] or 5060)
    if not 0 < port < 65536:
        raise ValueError(f"bad port in {uri!r}")
    params = {p.split("=", 1)[0].lower(): p.split("=", 1)[-1].lower() for p in match[3].split(";") if p}
    transport = params.get("transport", "udp")
    if transport not in ("udp", "tcp"):
        raise ValueError(f"transport {transport!r} is not udp or tcp")
    return SipTarget(match[1].strip("[]"), port, transport)


def _with_via(request: SipMessage, transport: str, local: tuple[str, int], branch: str) -> SipMessage:
    via = ("Via", f"SIP/2.0/{transport.upper()} {local[0]}:{local[1]};branch={branch};rport")
    others = tuple((name, value) for name, value in request.headers if name.lower() != "via")
    return SipMessage(request.method, request.uri, None, "", (via, *others), request.body)


def _answers(response: SipMessage, branch: str) -> bool:
    via = response.header("Via") or ""
    return f"branch={branch}" in via.replace(" ", "")


class _UdpClient(asyncio.DatagramProtocol):
    def __init__(self, branch: str, final: asyncio.Future[SipMessage]) -> None:
        self.branch = branch
        self.final = final

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            response = parse_message(data)
        except SipSyntaxError as exc:
            if not self.final.done():
                self.final.set_exception(exc)
            return
        final = response.status is not None and response.status >= 200 and _answers(response, self.branch)
        if final and not self.final.done():
            self.final.set_result(response)

    def error_received(self, exc: Exception) -> None:
        if not self.final.done():
            self.final.set_exception(exc)


async def _udp(target: SipTarget, request: SipMessage, timeout_s: float, sent: list[SipMessage]) -> SipMessage:
    loop = asyncio.get_running_loop()
    final: asyncio.Future[SipMessage] = loop.create_future()
    branch = new_branch()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _UdpClient(branch, final), remote_addr=(target.host, target.port)
    )
    try:
        local = transport.get_extra_info("sockname")
        message = _with_via(request, "udp", (local[0], local[1]), branch)
        data = message.encode()
        if len(data) > MAX_DATAGRAM:
            raise SipSyntaxError(f"a {len(data)}-octet request does not fit a UDP datagram")
        async with asyncio.timeout(timeout_s):
            interval = T1
            while True:
                transport.sendto(data)
                sent.append(message)
                with contextlib.suppress(TimeoutError):
                    return await asyncio.wait_for(asyncio.shield(final), interval)
                interval = min(interval * 2, T2)
    finally:
        transport.close()


async def _tcp(target: SipTarget, request: SipMessage, timeout_s: float, sent: list[SipMessage]) -> SipMessage:
    async with asyncio.timeout(timeout_s):
        reader, writer = await asyncio.open_connection(target.host, target.port)
        try:
            local = writer.get_extra_info("sockname")
            branch = new_branch()
            message = _with_via(request, "tcp", (local[0], local[1]), branch)
            writer.write(message.encode())
            sent.append(message)
            await writer.drain()
            buffer = bytearray()
            while True:
                while (framed := split_stream(buffer)) is not None:
                    response = parse_message(framed, stream=True)
                    if response.status is not None and response.status >= 200 and _answers(response, branch):
                        return response
                chunk = await reader.read(65536)
                if not chunk:
                    raise ConnectionResetError("the peer closed the connection before a final response")
                buffer += chunk
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def exchange(
    target: SipTarget, request: SipMessage, timeout_s: float = 10.0, sent: list[SipMessage] | None = None
) -> SipMessage:
    """Send ``request`` (its Via is written here) and return the final response. Each transmission, as sent
    (with its Via; over UDP, each retransmission), is appended to ``sent``.

    Raises TimeoutError, ConnectionRefusedError (and other OSError) and :class:`SipSyntaxError` for a
    malformed response.
    """
    record: list[SipMessage] = [] if sent is None else sent
    if target.transport == "tcp":
        return await _tcp(target, request, timeout_s, record)
    return await _udp(target, request, timeout_s, record)
