"""The proxy session: checks off the forwarding path, drops counted instead of waiting, recordings redacted."""

from __future__ import annotations

import threading
from typing import Any

from harness.catalog import Catalog
from harness.proxy.checks import ExchangeChecker, ProxyFinding
from harness.proxy.session import ProxySession
from harness.recording.exchange import RecordedExchange
from harness.reporting.redaction import Redactor

SECRET = "Bearer do-not-record-me-1234"


def _exchange(number: int) -> RecordedExchange:
    return RecordedExchange(
        started="2026-12-05T10:00:00.000Z",
        origin="http://127.0.0.1:1",
        method="GET",
        target=f"/netcode/v1/intel-reports/{number}",
        http_version="HTTP/1.1",
        request_headers=(("Authorization", SECRET),),
        request_body=b"",
        answer_status=404,
        answer_reason="Not Found",
        answer_http_version="HTTP/1.1",
        answer_headers=(("Content-Type", "text/plain"),),
        answer_body=b"echo " + SECRET.encode(),
        elapsed_ms=1.0,
    )


class _Recorder:
    def __init__(self) -> None:
        self.added: list[RecordedExchange] = []
        self.closed = False

    def add(self, exchange: RecordedExchange) -> None:
        self.added.append(exchange)

    def close(self) -> None:
        self.closed = True


class _Blocking(ExchangeChecker):
    def __init__(self, catalog: Catalog, gate: threading.Event) -> None:
        super().__init__(catalog)
        self.gate = gate

    def check(self, exchange: RecordedExchange) -> list[ProxyFinding]:
        self.gate.wait(10)
        return super().check(exchange)


def test_findings_are_printed_and_recorded_exchanges_carry_no_credential(catalog: Catalog) -> None:
    lines: list[str] = []
    recorder = _Recorder()
    session = ProxySession(ExchangeChecker(catalog), Redactor(), print_line=lines.append, recorder=recorder)
    session.submit(_exchange(1))
    session.finish()
    assert recorder.closed and len(recorder.added) == 1
    recorded = recorder.added[0]
    assert SECRET not in repr(recorded) and SECRET.encode() not in recorded.answer_body
    assert session.findings.errors == 1 and lines and lines[0].startswith("ERROR BR-3 #1 intel-report retrieve")
    assert all(SECRET not in line for line in lines)
    kept: Any = session.findings.kept[0]["exchange"]
    assert SECRET not in repr(kept)


def test_a_checker_that_falls_behind_drops_and_counts_never_blocks(catalog: Catalog) -> None:
    gate = threading.Event()
    session = ProxySession(_Blocking(catalog, gate), Redactor(), print_line=lambda line: None, queue_size=2)
    for number in range(10):
        session.submit(_exchange(number))  # returns at once even though the checker is stuck
    assert session.dropped >= 7
    gate.set()
    session.finish()
    assert session.findings.exchanges + session.dropped == 10
