"""Watching one direction of an HTTP/1.1 connection: the bytes are cut into messages beside the forwarding, never
in its way.

The proxy writes every byte it reads to the other side first and only then shows it to a :class:`MessageCutter`.
A cutter never raises into the forwarding (a message it cannot frame makes it stop watching that connection:
:attr:`MessageCutter.blind`), never holds more than one head (:data:`MAX_HEAD_BYTES`) and ``body_limit`` bytes of a
body (the rest is counted, not kept), and never copies the bytes it is shown more than once. Framing follows
RFC 9112 section 6: chunked (trailers read and dropped), Content-Length, or, for an answer, the end of the
connection; a HEAD answer, 1xx, 204 and 304 have no body; an upgrade (101, or 2xx to CONNECT) ends what can be
watched.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = ["MAX_HEAD_BYTES", "UPGRADED", "MessageCutter", "SeenMessage"]

UPGRADED = "the connection was upgraded"
"""The reason a cutter stops watching after a 101 or a CONNECT tunnel (not a fault of either side)."""

MAX_HEAD_BYTES = 64 * 1024
"""Start line and headers together; a longer head makes the cutter stop watching (the bytes still flow)."""

_METHOD = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_REQUEST_LINE = re.compile(_METHOD + r" [^ ]+ HTTP/1\.[01]\Z")
_STATUS_LINE = re.compile(r"HTTP/1\.[01] [1-9][0-9][0-9] ?")
_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILERS, _UNTIL_CLOSE, _BLIND = range(8)


@dataclass(slots=True)
class SeenMessage:
    """One request or answer as watched: start line parts, headers (Latin-1, as received), the body kept (after
    transfer decoding) and how many body bytes were not kept. Mutable while its body arrives."""

    start: tuple[str, str, str]
    headers: tuple[tuple[str, str], ...]
    began: float
    """``time.perf_counter()`` when its head was complete."""
    began_wall: float
    """``time.time()`` at the same moment (a float: the date is made only for the exchanges that need it)."""
    body: bytearray = field(default_factory=bytearray)
    dropped: int = 0
    complete: bool = False
    ended: float = 0.0

    @property
    def began_at(self) -> datetime:
        """When its head was complete, as an aware UTC date."""
        return datetime.fromtimestamp(self.began_wall, UTC)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None


class MessageCutter:
    """Cuts one direction's bytes into :class:`SeenMessage`\\ s.

    ``on_head`` is called when a message's head is complete, ``on_message`` when the whole message is. For answers
    (``answers=True``), ``method_of`` tells the method of the request the next answer belongs to (HEAD and CONNECT
    change the framing).
    """

    __slots__ = (
        "_answers",
        "_buffer",
        "_current",
        "_left",
        "_limit",
        "_method_of",
        "_on_head",
        "_on_message",
        "_state",
        "blind",
        "fault",
        "reason",
    )

    def __init__(
        self,
        *,
        answers: bool,
        on_message: Callable[[SeenMessage], None],
        on_head: Callable[[SeenMessage], None] | None = None,
        method_of: Callable[[], str] | None = None,
        body_limit: int = 1 << 20,
    ) -> None:
        self._answers = answers
        self._on_message = on_message
        self._on_head = on_head
        self._method_of = method_of or (lambda: "GET")
        self._limit = body_limit
        self._buffer = bytearray()
        self._state = _HEAD
        self._current: SeenMessage | None = None
        self._left = 0
        self.blind = False
        self.fault = False
        """Whether it stopped watching because the bytes break HTTP/1.1 framing (not an upgrade, not a bound)."""
        self.reason = ""

    def feed(self, data: bytes) -> None:
        """Watch ``data`` (already forwarded). Never raises."""
        if self.blind:
            return
        try:
            self._feed(data)
        except Exception as exc:  # a cutter that breaks must never break the forwarding
            self._go_blind(f"cannot follow the framing: {exc}")

    def end(self) -> None:
        """The connection ended: an answer read until close is complete; a message cut short in its framing
        (a head without its end, a body short of its length or its last chunk) stops the watching as a fault."""
        if self.blind:
            return
        if self._state == _UNTIL_CLOSE and self._current is not None:
            self._finish()
        elif self._current is not None or self._buffer.strip(b"\r\n"):
            self._go_blind("the connection closed in the middle of a message")

    def stop(self, reason: str, *, fault: bool = False) -> None:
        """Stop watching (the bytes still flow); ``reason`` says why, ``fault`` whether the peer broke framing."""
        if not self.blind:
            self._go_blind(reason, fault=fault)

    def _go_blind(self, reason: str, *, fault: bool = True) -> None:
        self.blind, self.reason, self.fault = True, reason, fault
        self._buffer.clear()
        self._state = _BLIND

    def _feed(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        while buffer and not self.blind:
            state = self._state
            if state == _HEAD:
                if not self._head():
                    return
            elif state == _LENGTH:
                take = min(self._left, len(buffer))
                self._keep(buffer, take)
                self._left -= take
                if self._left == 0:
                    self._finish()
            elif state == _UNTIL_CLOSE:
                self._keep(buffer, len(buffer))
            elif state == _CHUNK_SIZE:
                end = buffer.find(b"\r\n")
                if end < 0:
                    if len(buffer) > 4096:
                        self._go_blind("chunk size line too long")
                    return
                size_text = bytes(buffer[:end]).split(b";", 1)[0].strip()
                del buffer[: end + 2]
                size = int(size_text, 16)
                if size < 0:
                    raise ValueError("negative chunk size")
                if size == 0:
                    self._state = _TRAILERS
                else:
                    self._left, self._state = size, _CHUNK_DATA
            elif state == _CHUNK_DATA:
                take = min(self._left, len(buffer))
                self._keep(buffer, take)
                self._left -= take
                if self._left == 0:
                    self._state, self._left = _CHUNK_END, 2
            elif state == _CHUNK_END:
                take = min(self._left, len(buffer))
                del buffer[:take]
                self._left -= take
                if self._left == 0:
                    self._state = _CHUNK_SIZE
            elif state == _TRAILERS:
                end = buffer.find(b"\r\n")
                if end < 0:
                    if len(buffer) > MAX_HEAD_BYTES:
                        self._go_blind("trailers too long")
                    return
                del buffer[: end + 2]
                if end == 0:
                    self._finish()
            else:
                buffer.clear()
                return

    def _keep(self, buffer: bytearray, take: int) -> None:
        message = self._current
        assert message is not None
        room = self._limit - len(message.body)
        if room > 0:
            message.body += buffer[: min(room, take)]
        if take > room:
            message.dropped += take - max(room, 0)
        del buffer[:take]

    def _head(self) -> bool:
        buffer = self._buffer
        while buffer[:2] == b"\r\n":  # RFC 9112 2.2: empty lines before a request line are ignored
            del buffer[:2]
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > MAX_HEAD_BYTES:
                self._go_blind(f"a head longer than {MAX_HEAD_BYTES} bytes")
            return False
        head = bytes(buffer[:end]).decode("latin-1")
        del buffer[: end + 4]
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        start = (parts[0], parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else "")
        if not (_STATUS_LINE if self._answers else _REQUEST_LINE).match(lines[0]):
            self._go_blind(f"not an HTTP/1.1 start line: {lines[0][:80]!r}")
            return False
        headers: list[tuple[str, str]] = []
        coding: str | None = None  # the framing headers' first values, found in the same pass (no second lookup)
        length_text: str | None = None
        folded = False
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and headers:  # obsolete line folding: part of the previous value
                folded = True
                name, value = headers[-1]
                headers[-1] = (name, value + " " + line.strip())
                continue
            name, sep, value = line.partition(":")
            if not sep:
                self._go_blind(f"a header line without a colon: {line[:80]!r}")
                return False
            value = value.strip(" \t")
            headers.append((name, value))
            if len(name) in (14, 17):  # only Content-Length and Transfer-Encoding are lowered and compared
                lowered = name.lower()
                if lowered == "content-length" and length_text is None:
                    length_text = value
                elif lowered == "transfer-encoding" and coding is None:
                    coding = value
        message = SeenMessage(start, tuple(headers), time.perf_counter(), time.time())
        self._current = message
        if self._on_head is not None:
            self._on_head(message)
        if folded:
            # a folded framing header is rare: read it back as folded (the first value, as header() gives it)
            coding, length_text = message.header("Transfer-Encoding"), message.header("Content-Length")
        self._frame(message, (coding or "").lower(), length_text)
        return True

    def _frame(self, message: SeenMessage, coding: str, length_text: str | None) -> None:
        if self._answers:
            status = int(message.start[1])
            method = self._method_of()
            if status == 101 or (method == "CONNECT" and 200 <= status < 300):
                self._finish()
                self._go_blind(UPGRADED, fault=False)
                return
            if 100 <= status < 200 or status in (204, 304) or method == "HEAD":
                self._finish()
                return
        if coding:
            if coding.rsplit(",", 1)[-1].strip() == "chunked":
                self._state = _CHUNK_SIZE
            elif self._answers:
                self._state = _UNTIL_CLOSE
            else:
                self._go_blind("a request body with a transfer coding other than chunked")
            return
        if length_text is not None:
            length = int(length_text.split(",")[0].strip())
            if length < 0:
                raise ValueError("negative Content-Length")
            if length == 0:
                self._finish()
            else:
                self._left, self._state = length, _LENGTH
            return
        if self._answers:
            self._state = _UNTIL_CLOSE
        else:
            self._finish()

    def _finish(self) -> None:
        message = self._current
        assert message is not None
        message.complete, message.ended = True, time.perf_counter()
        self._current = None
        self._state = _HEAD
        self._on_message(message)
