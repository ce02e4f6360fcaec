"""Exchange records as evidence 1.1 keeps them (``exchanges.jsonl``), redacted by position on the way out.

Split out of :mod:`harness.reporting`, which re-exports every public name.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from harness.events import ExchangeCompleted, WireMessage
from harness.reporting.redaction import Redactor

__all__ = ["body_record", "exchange_record", "wire_record"]


def body_record(body: bytes) -> tuple[str, str]:
    """(body, encoding) as ``exchanges.jsonl`` holds it: the text when the bytes are UTF-8, else base64."""
    try:
        return body.decode("utf-8"), "text"
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), "base64"


def wire_record(
    message: WireMessage | None,
    redact: Redactor,
    also: Iterable[tuple[str, str]] = (),
    pattern: re.Pattern[str] | None = None,
) -> dict[str, Any] | None:
    """A request or answer as ``exchanges.jsonl`` records it (evidence 1.1), redacted: start line, every
    header, the body as it crossed the wire, and ``decoded`` when its Content-Encoding was undone. ``pattern``:
    the exchange's verbatim search (:meth:`Redactor.pattern_for`), else made from ``message`` and ``also``."""
    if message is None:
        return None
    if pattern is None:
        pattern = redact.pattern_for(message.headers, also)
    text, encoding = redact.body_record(message.body, pattern)
    record: dict[str, Any] = {
        "start_line": redact.text(message.start_line, pattern),
        "headers": redact.record_headers(message.headers, pattern),
        "body": text,
        "body_encoding": encoding,
    }
    if message.decoded is not None:
        record["decoded"], record["decoded_encoding"] = redact.body_record(message.decoded, pattern)
    return record


def exchange_record(event: ExchangeCompleted, redact: Redactor, keep_messages: bool = True) -> dict[str, Any]:
    """One line of ``exchanges.jsonl``, redacted: what the evidence bundle and the HTML report both record.
    Without ``keep_messages`` the messages keep only their start lines."""
    request, answer = event.request, event.answer
    if request is None:
        request = WireMessage(f"{event.method} {event.url}", (), b"")
    if not keep_messages:
        request = WireMessage(request.start_line, (), b"")
        answer = None if answer is None else WireMessage(answer.start_line, (), b"")
    pattern = redact.pattern_for(request.headers, answer.headers if answer else ())  # one for the exchange
    return {
        "scenario": event.scenario,
        "step": event.step,
        "attempt": event.attempt,
        "direction": event.direction,
        "transport": event.transport,
        "request": wire_record(request, redact, pattern=pattern),
        "answer": wire_record(answer, redact, pattern=pattern),
        "sent": event.sent,
        "answered": event.answered,
        "elapsed_ms": round(event.elapsed_ms, 3),
        "status": event.status,
        "bindings": _bindings(event.bindings, redact),
    }


def _bindings(bindings: Mapping[str, Any], redact: Redactor) -> dict[str, Any]:
    if not bindings:
        return {}
    redacted: dict[str, Any] = json.loads(redact(json.dumps(dict(bindings), ensure_ascii=False, default=str)))
    return redacted
