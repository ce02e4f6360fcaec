"""Recordings as HAR 1.2 files (issue 23): streamed to disk as exchanges come, read back bounded.

The writer takes :class:`~harness.recording.exchange.RecordedExchange` values (from the proxy, or from a run's
transport), redacts their credentials as ``specs/evidence.md`` (Credentials) says with the one
:class:`~harness.reporting.redaction.Redactor`, masks personal data when given a
:class:`~harness.recording.masking.Masker`, and appends one HAR entry per exchange. Nothing is held in memory
but the entry being written: the file is valid JSON once :meth:`HarWriter.close` ran. It stops recording (and
says so in the log's ``_netcode`` member) at ``max_exchanges`` entries or ``max_bytes`` bytes.

Bodies are text when they are UTF-8, else base64 with ``"encoding": "base64"`` (HAR 1.2 ``content.encoding``;
the request's ``postData`` carries the same member, see ``docs/recordings.md``). Header values are the wire's
Latin-1 decoded characters, as the exchange holds them.

The reader (:func:`read_har`) refuses a file over its size bound before reading it, parses with the
project's safe JSON parser (depth bounded) and gives every entry back as a ``RecordedExchange``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import harness
from harness.model import UsageError
from harness.recording.exchange import Header, RecordedExchange
from harness.reporting.redaction import Redactor
from harness.validation.jsonsafe import UnsafeJson, parse_json

if TYPE_CHECKING:
    from harness.recording.masking import Masker

__all__ = ["MAX_HAR_BYTES", "HarRecording", "HarWriter", "UnreadableHar", "entry_of", "personal_masker", "read_har"]

MAX_HAR_BYTES = 512 << 20
"""The largest HAR file :func:`read_har` reads (the default of the proxy's ``--max-bytes`` is below it)."""
DEFAULT_MAX_EXCHANGES = 1_000_000
_TRAILER = 512
"""Bytes kept free for the end of the file (the log's ``_netcode``), so that a closed file is within ``max_bytes``."""
DEFAULT_MAX_BYTES = 256 << 20


class UnreadableHar(UsageError):
    """A recording that cannot be read: not a file, too large, not JSON, not HAR 1.2 (one line, exit 2)."""


def _body(body: bytes) -> tuple[str, str | None]:
    """(text, encoding): the text when ``body`` is UTF-8, else its base64 and ``base64``."""
    try:
        return body.decode("utf-8"), None
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), "base64"


def _mime(headers: tuple[Header, ...]) -> str:
    return next((value for name, value in headers if name.lower() == "content-type"), "")


def _pairs(headers: tuple[Header, ...]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in headers]


def entry_of(exchange: RecordedExchange) -> dict[str, Any]:
    """The HAR 1.2 entry of one exchange (no redaction, no masking: the writer does those first)."""
    request: dict[str, Any] = {
        "method": exchange.method,
        "url": exchange.url,
        "httpVersion": exchange.http_version,
        "cookies": [],
        "headers": _pairs(exchange.request_headers),
        "queryString": [{"name": k, "value": v} for k, v in parse_qsl(urlsplit(exchange.url).query, True)],
        "headersSize": -1,
        "bodySize": len(exchange.request_body),
    }
    if exchange.request_body:
        text, encoding = _body(exchange.request_body)
        request["postData"] = {"mimeType": _mime(exchange.request_headers), "text": text}
        if encoding:
            request["postData"]["encoding"] = encoding
    content: dict[str, Any] = {"size": len(exchange.answer_body), "mimeType": _mime(exchange.answer_headers)}
    if exchange.answer_body:
        text, encoding = _body(exchange.answer_body)
        content["text"] = text
        if encoding:
            content["encoding"] = encoding
    elapsed = max(float(exchange.elapsed_ms), 0.0)
    return {
        "startedDateTime": exchange.started,
        "time": elapsed,
        "request": request,
        "response": {
            "status": exchange.answer_status,
            "statusText": exchange.answer_reason,
            "httpVersion": exchange.answer_http_version or exchange.http_version,
            "cookies": [],
            "headers": _pairs(exchange.answer_headers),
            "content": content,
            "redirectURL": exchange.header("Location", answer=True) or "",
            "headersSize": -1,
            "bodySize": len(exchange.answer_body) if exchange.answer_status else -1,
        },
        "cache": {},
        "timings": {"send": 0, "wait": elapsed, "receive": 0},
        "_origin": exchange.origin,
        **({"_requestDropped": exchange.request_dropped} if exchange.request_dropped else {}),
        **({"_answerDropped": exchange.answer_dropped} if exchange.answer_dropped else {}),
        **({"_requestComplete": False} if not exchange.request_complete else {}),
    }


def personal_masker(key: str | bytes) -> Masker:
    """The masker of ``--mask-personal`` keyed with ``key`` (``HARNESS_MASK_KEY``'s value; never written)."""
    from harness.recording.masking import Masker

    return Masker(key.encode("utf-8") if isinstance(key, str) else key)


class HarWriter:
    """Streams exchanges into a HAR 1.2 file at ``path``: one entry per :meth:`add`, valid JSON after
    :meth:`close` (also a context manager). Bounded: at ``max_exchanges`` entries or ``max_bytes`` bytes of
    entries it records no more, and counts what it left out. Credentials are always redacted (``redactor``:
    the run's, with the operator's secrets; by default one that knows the credential header names); personal
    data is masked when a ``masker`` is given."""

    def __init__(
        self,
        path: Path | str,
        max_exchanges: int | None = None,
        max_bytes: int | None = None,
        masker: Masker | None = None,
        *,
        redactor: Redactor | None = None,
    ) -> None:
        max_exchanges = DEFAULT_MAX_EXCHANGES if max_exchanges is None else max_exchanges
        max_bytes = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
        if max_exchanges < 1 or max_bytes < 1:
            raise UsageError("a recording's --max-exchanges and --max-bytes must be at least 1")
        self.path = Path(path)
        self.max_exchanges = max_exchanges
        self.max_bytes = max_bytes
        self.masker = masker
        self.redactor = redactor or Redactor()
        self.recorded = 0
        self.dropped = 0
        self.unmaskable = 0
        self.written = 0
        try:
            self._file: IO[bytes] | None = self.path.open("wb")
        except OSError as exc:
            raise UsageError(f"cannot write the recording {self.path}: {exc.strerror or exc}") from None
        head = {"version": "1.2", "creator": {"name": "netcode-harness", "version": harness.__version__}}
        self._write(b'{"log": ' + json.dumps(head)[:-1].encode() + b', "entries": [\n')

    def _write(self, data: bytes) -> None:
        assert self._file is not None
        self._file.write(data)
        self.written += len(data)

    def add(self, exchange: RecordedExchange) -> bool:
        """Record ``exchange`` (redacted, then masked); False when a bound left it out (or the writer is closed)."""
        if self._file is None:
            return False
        if self.recorded >= self.max_exchanges:
            self.dropped += 1
            return False
        exchange = exchange.redacted(self.redactor)
        if self.masker is not None:
            try:
                exchange = self.masker.mask(exchange)
            except Exception:  # whatever a hostile body does to a parser: an exchange is never recorded unmasked
                self.unmaskable += 1
                self.dropped += 1
                return False
        data = json.dumps(entry_of(exchange), ensure_ascii=False).encode()
        if self.written + len(data) + 2 + _TRAILER > self.max_bytes:
            self.dropped += 1
            return False
        self._write((b",\n" if self.recorded else b"") + data)
        self.recorded += 1
        return True

    def flush(self) -> None:
        """Hand what is buffered to the file (before a fork, so that only the checking process writes it after)."""
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        """End the entries and the log (with what was left out, and whether it was masked); idempotent."""
        if self._file is None:
            return
        netcode: dict[str, Any] = {
            "masked": self.masker is not None,
            "recorded": self.recorded,
            "dropped": self.dropped,
        }
        if self.masker is not None:
            netcode["masking"] = {
                **self.masker.describe(),
                "unmaskable": self.unmaskable,
                "rechecked": self._recheck(),
            }
        self._write(b'\n], "_netcode": ' + json.dumps(netcode).encode() + b"}}\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None

    def _recheck(self) -> int:
        """The second pass of a masked recording: every entry written so far read back, one at a time, and
        the values the masker knows now (all of the recording's) replaced where they still stand in text (a
        name in free text before it first stood in a personal field). The file is rewritten beside itself
        and put in place; the number of entries that changed."""
        assert self._file is not None and self.masker is not None
        self._file.flush()
        self._file.close()
        self._file = None
        rewritten = self.path.with_name(self.path.name + ".recheck")
        changed = 0
        try:
            with self.path.open("rb") as source, rewritten.open("wb") as target:
                target.write(source.readline())  # the log's head, up to "entries": [
                for number, line in enumerate(source, 1):  # one entry a line, each but the last followed by ","
                    entry = line.rstrip(b"\n")
                    separator = b",\n" if entry.endswith(b",") else b""
                    exchange = _exchange(json.loads(entry.removesuffix(b",")), number)
                    again = self.masker.recheck(exchange)
                    if again is not exchange:
                        changed += 1
                        line = json.dumps(entry_of(again), ensure_ascii=False).encode() + separator
                    target.write(line)
            os.replace(rewritten, self.path)
            self._file = self.path.open("ab")
        except (OSError, ValueError, UnreadableHar) as exc:
            rewritten.unlink(missing_ok=True)
            raise UsageError(f"cannot re-check the recording {self.path}: {exc}") from None
        return changed

    def __enter__(self) -> HarWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


@dataclass(slots=True, frozen=True)
class HarRecording:
    """A recording read back: its exchanges in order, and what its log says of itself."""

    exchanges: tuple[RecordedExchange, ...]
    masked: bool
    dropped: int


def _field(value: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(value, dict) or key not in value or not isinstance(value[key], kind):
        raise UnreadableHar(f"{where}: no {key!r} of the right type")
    return value[key]


def _headers(message: dict[str, Any], where: str) -> tuple[Header, ...]:
    pairs = _field(message, "headers", list, where)
    headers: list[Header] = []
    for pair in pairs:
        name = _field(pair, "name", str, f"{where} header")
        headers.append((name, _field(pair, "value", str, f"{where} header {name!r}")))
    return tuple(headers)


def _bytes(holder: dict[str, Any] | None, where: str) -> bytes:
    if not holder or "text" not in holder:
        return b""
    text: str = _field(holder, "text", str, where)
    if holder.get("encoding") == "base64":
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise UnreadableHar(f"{where}: base64 text that is not base64") from None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from \ud800 in the JSON
        raise UnreadableHar(f"{where}: text that is not Unicode") from None


def _exchange(entry: Any, number: int) -> RecordedExchange:
    where = f"entry {number}"
    request = _field(entry, "request", dict, where)
    response = _field(entry, "response", dict, where)
    url = _field(request, "url", str, f"{where} request")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UnreadableHar(f"{where}: request url is not an absolute http(s) URL")
    target = parts._replace(scheme="", netloc="").geturl() or "/"
    post = request.get("postData")
    content = response.get("content")
    elapsed = entry.get("time", 0)
    status = _field(response, "status", int, f"{where} response")
    return RecordedExchange(
        started=str(entry.get("startedDateTime", "")),
        origin=f"{parts.scheme}://{parts.netloc}",
        method=_field(request, "method", str, f"{where} request"),
        target=target,
        http_version=str(request.get("httpVersion", "HTTP/1.1")),
        request_headers=_headers(request, f"{where} request"),
        request_body=_bytes(post if isinstance(post, dict) else None, f"{where} request postData"),
        answer_status=status,
        answer_reason=str(response.get("statusText", "")),
        answer_http_version=str(response.get("httpVersion", "HTTP/1.1")),
        answer_headers=_headers(response, f"{where} response"),
        answer_body=_bytes(content if isinstance(content, dict) else None, f"{where} response content"),
        elapsed_ms=float(elapsed) if isinstance(elapsed, int | float) and not isinstance(elapsed, bool) else 0.0,
        request_dropped=_count(entry.get("_requestDropped")),
        answer_dropped=_count(entry.get("_answerDropped")),
        request_complete=entry.get("_requestComplete") is not False,
    )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def read_har(path: Path | str, max_bytes: int = MAX_HAR_BYTES) -> HarRecording:
    """The exchanges of the HAR 1.2 file at ``path``, in order; :class:`UnreadableHar` (one line) when it is not
    a readable HAR 1.2 file within ``max_bytes``."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise UnreadableHar(f"{path}: cannot read the recording: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise UnreadableHar(f"{path}: the recording is larger than {max_bytes} bytes")
    try:
        document = parse_json(data)
    except UnsafeJson as exc:
        raise UnreadableHar(f"{path}: not a HAR file ({exc})") from None
    log = document.get("log") if isinstance(document, dict) else None
    if not isinstance(log, dict) or log.get("version") not in ("1.2", "1.1"):
        raise UnreadableHar(f"{path}: not a HAR 1.2 file (no log with version 1.2)")
    entries = log.get("entries")
    if not isinstance(entries, list):
        raise UnreadableHar(f"{path}: not a HAR 1.2 file (no entries)")
    try:
        exchanges = tuple(_exchange(entry, number) for number, entry in enumerate(entries, 1))
    except UnreadableHar as exc:
        raise UnreadableHar(f"{path}: {exc}") from None
    netcode = log.get("_netcode")
    netcode = netcode if isinstance(netcode, dict) else {}
    dropped = netcode.get("dropped", 0)
    return HarRecording(
        exchanges,
        masked=netcode.get("masked") is True,
        dropped=dropped if isinstance(dropped, int) and not isinstance(dropped, bool) else 0,
    )
