"""The reference side of SDS over SIP: a small SIP server on loopback, UDP and TCP on the same port.

It answers a MESSAGE carrying an SDS (``multipart/mixed``, validated with the
harness's own ``mcdata-sds/1.0`` validator) with ``202 Accepted``, or ``400 Bad
Request`` whose ``Warning`` names the first finding (rule, part and octet); and
when the SDS requests a disposition it sends the SDS NOTIFICATION back as a
MESSAGE to the request's ``Contact`` (without an IMS core, the calling user's
URI routes nowhere). ``OPTIONS`` is answered ``200``; other methods ``405``.
Every request received is kept (bounded) with the status it was answered.

Playing esn.md 1.1, an SDS NOTIFICATION is judged against what the server sent or relayed
(:mod:`harness.endpoints.correlation`; it sends no SDS of its own, so every one is uncorrelated): ``403
Forbidden`` with ``Warning: 399 <host> "216 unable to correlate the disposition notification"`` ([282] 12.2.3
step 5), another DSP refusal ``403`` with a Warning naming the rule (**profile**); and the notifications it sends
echo both application ids.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import time
from dataclasses import dataclass
from typing import cast

from harness.catalog import Catalog
from harness.endpoints.correlation import Correlator
from harness.endpoints.store import MemoryStore
from harness.families.esn.body import build_sds, parse_sds
from harness.families.esn.mcdata import CodecError, SdsNotification, SdsSignalling, decode, encode, table_version
from harness.families.esn.messages import notification_sds, notification_types, read_mcdata_info
from harness.families.esn.validation import sds_validator
from harness.http import media_type
from harness.protocols.sip import ACCEPT_CONTACT, SipMessage, SipSyntaxError, new_tag, parse_message, split_stream
from harness.protocols.sip_client import SipTarget, exchange, parse_sip_uri

__all__ = ["ACCEPT_CONTACT", "Received", "SipServer"]

_ECHOED = ("Via", "From", "To", "Call-ID", "CSeq")


@dataclass(slots=True, frozen=True)
class Received:
    """A request the server received, how it came, and the status it answered."""

    message: SipMessage
    transport: str
    peer: tuple[str, int]
    status: int | None


class _UdpServer(asyncio.DatagramProtocol):
    def __init__(self, server: SipServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            message = parse_message(data)
        except SipSyntaxError:
            return  # RFC 3261 clause 18.3: a malformed datagram is discarded
        response = self.server.handle(message, "udp", addr)
        if response is not None and self.transport is not None:
            self.transport.sendto(response.encode(), addr)


class SipServer:
    """Receives SDS MESSAGEs on ``host`` (UDP and TCP, one port) and answers as the profile says."""

    def __init__(self, catalog: Catalog, host: str = "127.0.0.1", port: int = 0, timeout_s: float = 5.0) -> None:
        fmt = catalog.format("mcdata-sds/1.0")
        self.validator = sds_validator(fmt)
        self.version = table_version(fmt.rules_version)
        self.correlator = Correlator(MemoryStore(10_000))
        """esn.md 1.1: the SDSs sent or relayed, that notifications answer (the server sends none of its own)."""
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self.received: collections.deque[Received] = collections.deque(maxlen=10_000)
        self.notified: collections.deque[tuple[SipTarget, int | str]] = collections.deque(maxlen=1000)
        self._arrived = asyncio.Event()
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        """Listen on UDP and TCP (the same port number); returns the port."""
        loop = asyncio.get_running_loop()
        for _ in range(20):
            tcp = await asyncio.start_server(self._connection, self.host, self.port)
            port = int(tcp.sockets[0].getsockname()[1])
            try:
                udp, _ = await loop.create_datagram_endpoint(lambda: _UdpServer(self), local_addr=(self.host, port))
            except OSError:
                tcp.close()
                await tcp.wait_closed()
                if self.port:
                    raise
                continue
            self._tcp, self._udp, self.port = tcp, udp, port
            return port
        raise OSError("no port free for both UDP and TCP")

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def __aenter__(self) -> SipServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def uri(self, user: str = "gateway", transport: str = "udp") -> str:
        return f"sip:{user}@{self.host}:{self.port};transport={transport}"

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        buffer = bytearray()
        try:
            while True:
                while (framed := split_stream(buffer)) is not None:
                    response = self.handle(parse_message(framed, stream=True), "tcp", (peer[0], peer[1]))
                    if response is not None:
                        writer.write(response.encode())
                        await writer.drain()
                chunk = await asyncio.wait_for(reader.read(65536), 60)
                if not chunk:
                    break
                buffer += chunk
        except (SipSyntaxError, TimeoutError, OSError):
            pass  # a broken stream cannot be resynchronised: the connection is closed
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def _spawn(self, work: asyncio.Task[None]) -> None:
        self._tasks.add(work)
        work.add_done_callback(self._tasks.discard)

    # -- decisions ---------------------------------------------------------------------

    def handle(self, message: SipMessage, transport: str, peer: tuple[str, int]) -> SipMessage | None:
        """The response to a request (None for ACK and for responses, which the server does not expect)."""
        if not message.is_request or message.method == "ACK":
            return None
        status, extra = self.answer(message)
        self.received.append(Received(message, transport, peer, status))
        self._arrived.set()
        self._arrived = asyncio.Event()
        return self.response(message, status, extra)

    def answer(self, message: SipMessage) -> tuple[int, list[tuple[str, str]]]:
        if message.method == "OPTIONS":
            return 200, [("Allow", "MESSAGE, OPTIONS")]
        if message.method != "MESSAGE":
            return 405, [("Allow", "MESSAGE, OPTIONS")]
        content_type = message.header("Content-Type") or ""
        if media_type(content_type) != "multipart/mixed":
            return 415, [("Accept", "multipart/mixed")]
        validation = self.validator.validate(content_type, message.body)
        if not validation.valid:
            first = validation.findings[0]
            text = f"{first.rule} {first.location}: {first.message}".replace('"', "'")[:200]
            return 400, [("Warning", f'399 {self.host} "{text}"')]
        refusal = self.correlation_refusal(content_type, message.body)
        if refusal is not None:
            return 403, [("Warning", f'399 {self.host} "{refusal}"')]
        self.after_accepting(message, content_type)
        return 202, []

    def correlation_refusal(self, content_type: str, body: bytes) -> str | None:
        """esn.md 1.1: why an SDS NOTIFICATION is refused (DSP-01..05), as a Warning's text; None to accept it."""
        if self.version == "1.0":
            return None
        try:
            sds = parse_sds(content_type, body)
            notification = decode(sds.signalling, self.version)
        except (ValueError, CodecError):
            return None
        if not isinstance(notification, SdsNotification):
            return None
        judged = self.correlator.judge(notification, sds.signalling)
        if judged.accepted:
            return None
        if judged.status == 404:
            return "216 unable to correlate the disposition notification"
        first = judged.errors[0]
        return f"{first.rule} {first.location}: {first.message}".replace('"', "'")[:200]

    def after_accepting(self, message: SipMessage, content_type: str) -> None:
        """Send the requested disposition notifications to the MESSAGE's Contact."""
        sds = parse_sds(content_type, message.body)
        signalling = decode(sds.signalling)
        contact = message.header("Contact")
        if not isinstance(signalling, SdsSignalling) or not contact:
            return
        try:
            target = parse_sip_uri(contact)
        except ValueError:
            return
        info = read_mcdata_info(sds.info)
        for kind in notification_types(signalling.disposition):
            notification_type, body = notification_sds(info, signalling, kind)
            if self.version != "1.0":  # 1.1: both application ids echoed, octet for octet
                echoed = encode(SdsNotification.echoing(signalling, kind, int(time.time())))
                notification_type, body = build_sds(parse_sds(notification_type, body).info, echoed)
            self._spawn(asyncio.create_task(self._notify(target, contact, notification_type, body)))

    async def _notify(self, target: SipTarget, contact: str, content_type: str, body: bytes) -> None:
        uri = contact.strip().strip("<>").split(">")[0]
        request = SipMessage.request(
            "MESSAGE",
            uri,
            [
                ("Max-Forwards", "70"),
                ("From", f"<sip:gateway@{self.host}:{self.port}>;tag={new_tag()}"),
                ("To", f"<{uri}>"),
                ("Call-ID", f"{new_tag()}@{self.host}"),
                ("CSeq", "1 MESSAGE"),
                ("Accept-Contact", ACCEPT_CONTACT),
                ("Content-Type", content_type),
            ],
            body,
        )
        try:
            answer = await exchange(target, request, self.timeout_s)
            self.notified.append((target, answer.status or 0))
        except (OSError, TimeoutError, SipSyntaxError) as exc:
            self.notified.append((target, str(exc) or type(exc).__name__))

    def response(self, request: SipMessage, status: int, extra: list[tuple[str, str]]) -> SipMessage:
        headers: list[tuple[str, str]] = []
        for name in _ECHOED:
            for value in request.header_values(name):
                if name == "To" and ";tag=" not in value.replace(" ", ""):
                    value = f"{value};tag={new_tag()}"
                headers.append((name, value))
        return SipMessage.response(status, headers + extra)

    async def wait_for(self, count: int, timeout_s: float) -> list[Received]:
        """The requests received so far, once there are ``count`` of them (or what there is after ``timeout_s``)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while len(self.received) < count:
                    await self._arrived.wait()
        return list(self.received)


def free_port(host: str = "127.0.0.1") -> int:
    """A port number free for UDP on ``host`` at the time of asking (for a peer that must be told one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port
