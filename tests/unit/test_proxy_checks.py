"""The checks of one exchange, on exchanges built by hand: what a dishonest supplier could try, and the bounds."""

from __future__ import annotations

import json
from pathlib import Path

from harness.catalog import Catalog
from harness.proxy.checks import ExchangeChecker, ProxyFinding, kind_of, kinds_for
from harness.recording.exchange import RecordedExchange
from harness.reporting.redaction import Redactor

ROOT = Path(__file__).resolve().parents[2]
REPORT = json.loads((ROOT / "fixtures/formats/intel-report/1.0/samples/valid/minimal.json").read_bytes())
JSON_TYPE = "application/vnd.netcode.intel-report+json"


def _submit(report: dict[str, object], status: int, answer: object, **answer_headers: str) -> RecordedExchange:
    body = json.dumps(report).encode()
    answer_body = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
    headers = tuple((name.replace("_", "-"), value) for name, value in answer_headers.items())
    return RecordedExchange(
        started="2026-12-05T10:00:00.000Z",
        origin="http://127.0.0.1:1",
        method="POST",
        target="/netcode/v1/intel-reports",
        http_version="HTTP/1.1",
        request_headers=(("Content-Type", JSON_TYPE), ("Content-Length", str(len(body)))),
        request_body=body,
        answer_status=status,
        answer_reason="",
        answer_http_version="HTTP/1.1",
        answer_headers=headers,
        answer_body=answer_body,
        elapsed_ms=1.0,
    )


def _ack(report_id: str, received: str = "2026-12-05T10:00:00Z") -> dict[str, str]:
    return {"reportId": report_id, "status": "accepted", "receivedAt": received}


def _accepted(report: dict[str, object], received: str = "2026-12-05T10:00:00Z") -> RecordedExchange:
    report_id = str(report["reportId"])
    location = f"/netcode/v1/intel-reports/{report_id}"
    return _submit(report, 202, _ack(report_id, received), Content_Type="application/json", Location=location)


def _rules(found: list[ProxyFinding]) -> set[str]:
    return {finding.rule for finding in found if finding.severity == "error"}


def test_a_conforming_submission_and_its_identical_resend_have_no_finding(catalog: Catalog) -> None:
    checker = ExchangeChecker(catalog)
    assert checker.check(_accepted(REPORT)) == []
    assert checker.check(_accepted(REPORT)) == []


def test_idempotency_same_id_same_content_other_answer_and_reuse_without_409(catalog: Catalog) -> None:
    checker = ExchangeChecker(catalog)
    checker.check(_accepted(REPORT))
    assert _rules(checker.check(_accepted(REPORT, "2026-12-05T11:11:11Z"))) == {"BR-5"}  # a fresh ack
    other = {**REPORT, "text": "other content under the same reportId"}
    assert "BR-5" in _rules(checker.check(_accepted(other)))  # re-used id, other content, accepted
    conflict = _submit(
        other,
        409,
        {"type": "urn:netcode:problems/conflict", "title": "Conflict", "status": 409},
        Content_Type="application/problem+json",
    )
    assert checker.check(conflict) == []


def test_the_idempotency_memory_is_bounded(catalog: Catalog) -> None:
    checker = ExchangeChecker(catalog, remember=2)
    ids = [f"0b6c9d1e-2f3a-4b5c-8d7e-9f0a1b2c3d4{n}" for n in range(4)]
    for report_id in ids:
        checker.check(_accepted({**REPORT, "reportId": report_id}))
    assert len(checker._ids) == 2  # the oldest were forgotten
    # A re-send of a forgotten id is judged afresh (no finding can be made on what is not remembered).
    assert checker.check(_accepted({**REPORT, "reportId": ids[0]}, "2026-12-05T12:00:00Z")) == []


def test_problem_documents_are_judged_whatever_the_parameters_of_their_media_type(catalog: Catalog) -> None:
    checker = ExchangeChecker(catalog)
    invalid = {**REPORT, "unknownMember": 1}
    good = {
        "type": "urn:netcode:problems/invalid-message",
        "title": "Invalid",
        "status": 400,
        "errors": [{"location": "/unknownMember", "rule": "schema", "message": "unknown member"}],
    }
    assert checker.check(_submit(invalid, 400, good, Content_Type="application/problem+json; charset=utf-8")) == []
    plain = checker.check(_submit(invalid, 400, good, Content_Type="application/json"))
    assert _rules(plain) == {"BR-3"}
    lying = checker.check(_submit(invalid, 400, {**good, "status": 200}, Content_Type="application/problem+json"))
    assert _rules(lying) == {"BR-3"}
    unnamed = {**good, "errors": [{"location": "/", "rule": "IR-99", "message": "no"}]}
    assert _rules(checker.check(_submit(invalid, 400, unnamed, Content_Type="application/problem+json"))) == {"BR-3"}


def test_an_invalid_message_accepted_names_the_rule_it_breaks(catalog: Catalog) -> None:
    checker = ExchangeChecker(catalog)
    found = checker.check(_accepted({**REPORT, "unknownMember": 1}))
    assert _rules(found) == {"schema"} and all(f.side == "request" for f in found)


def test_an_answer_status_outside_the_table_and_a_status_the_table_allows(catalog: Catalog) -> None:
    checker = ExchangeChecker(catalog)
    report_id = str(REPORT["reportId"])
    wrong = _submit(REPORT, 200, _ack(report_id), Content_Type="application/json", Location="/x")
    assert "EX-STATUS" in _rules(checker.check(wrong))


def _esn(path: str, status: int) -> RecordedExchange:
    problem = {"type": "urn:netcode:problems/not-found", "title": "Not found", "status": status}
    return RecordedExchange(
        started="2026-12-05T10:00:00.000Z",
        origin="http://127.0.0.1:1",
        method="POST",
        target=path,
        http_version="HTTP/1.1",
        request_headers=(("Content-Type", "multipart/mixed; boundary=b"),),
        request_body=b"--b--\r\n",
        answer_status=status,
        answer_reason="",
        answer_http_version="HTTP/1.1",
        answer_headers=(("Content-Type", "application/problem+json"),),
        answer_body=json.dumps(problem).encode(),
        elapsed_ms=1.0,
    )


def test_esn_tables_follow_the_esn_version_the_proxy_judges_by(catalog: Catalog) -> None:
    # esn.md 1.1: an uncorrelated notification is 404 (DSP-01), one breaking its record's rules 409 (DSP-02..05),
    # on /esn/sds and /esn/fd alike; 1.0 answers an SDS 202, 400, 413 or 415 only and has no FD, files or floor.
    current, old = ExchangeChecker(catalog), ExchangeChecker(catalog.at({"esn": "1.0"}))
    for status in (404, 409):
        assert "EX-STATUS" not in _rules(current.check(_esn("/netcode/v1/esn/sds", status)))
        assert "EX-STATUS" not in _rules(current.check(_esn("/netcode/v1/esn/fd", status)))
        assert "EX-STATUS" in _rules(old.check(_esn("/netcode/v1/esn/sds", status)))
    assert "EX-STATUS" in _rules(current.check(_esn("/netcode/v1/esn/sds", 410)))
    old_kinds = kinds_for(catalog.at({"esn": "1.0"}))
    for method, path in (
        ("POST", "/netcode/v1/esn/fd"),
        ("POST", "/netcode/v1/esn/floor/s1"),
        ("GET", "/netcode/v1/esn/files/f1"),
    ):
        assert kind_of(method, path) is not None and kind_of(method, path, old_kinds) is None


def test_only_exchanges_of_the_tables_are_judged() -> None:
    assert kind_of("PUT", "/netcode/v1/_test/dataset") is None
    assert kind_of("GET", "/_harness/health") is None
    found = kind_of("POST", "http://host:1/netcode/v1/alerts")  # absolute-form target
    assert found is not None and found.name == "cap alert"
    retrieve = kind_of("GET", "/netcode/v1/intel-reports/abc?x=1")
    assert retrieve is not None and retrieve.name == "intel-report retrieve"


def test_recorded_exchanges_are_redacted_by_position_and_verbatim() -> None:
    token = "Bearer abcdefghijklmnop"
    exchange = _accepted(REPORT)
    exchange = RecordedExchange(
        **{
            **{name: getattr(exchange, name) for name in exchange.__slots__},  # type: ignore[attr-defined]
            "request_headers": (("Authorization", token), *exchange.request_headers),
            "request_body": b'{"echo": "abcdefghijklmnop"}',
            "target": "/netcode/v1/intel-reports?api_key=12345678",
        }
    )
    shown = exchange.redacted(Redactor())
    assert shown.request_headers[0] == ("Authorization", "[redacted]")
    assert b"abcdefghijklmnop" not in shown.request_body and "12345678" not in shown.target
    assert shown.url == "http://127.0.0.1:1/netcode/v1/intel-reports?api_key=[redacted]"


def test_location_relative_or_absolute_on_the_upstream_or_the_host_the_client_named(catalog: Catalog) -> None:
    report_id = str(REPORT["reportId"])
    path = f"/netcode/v1/intel-reports/{report_id}"
    for location, conforming in (
        (path, True),
        (f"http://127.0.0.1:1{path}", True),  # the upstream itself
        (f"http://proxy.example:8080{path}", True),  # the Host the client addressed (the proxy)
        (f"http://elsewhere.example{path}", False),
        ("/netcode/v1/intel-reports/another-id", False),
        (f"{path}?x=1", False),
    ):
        exchange = _submit(REPORT, 202, _ack(report_id), Content_Type="application/json", Location=location)
        exchange = RecordedExchange(
            **{
                **{name: getattr(exchange, name) for name in exchange.__slots__},  # type: ignore[attr-defined]
                "request_headers": (("Host", "proxy.example:8080"), *exchange.request_headers),
            }
        )
        found = _rules(ExchangeChecker(catalog).check(exchange))
        assert (found == set()) is conforming, (location, found)


def test_load_shedding_needs_retry_after_and_a_well_formed_message_never_gets_500(catalog: Catalog) -> None:
    """resilience.md RR-03: 429/503 with Retry-After is allowed on every exchange (the message is not judged);
    without it, or a 500 for a valid message, is a finding under RR-03."""
    checker = ExchangeChecker(catalog)
    problem = {"type": "urn:netcode:problems/overloaded", "title": "Busy", "status": 503}
    shed = _submit(REPORT, 503, problem, Content_Type="application/problem+json", Retry_After="2")
    assert checker.check(shed) == []
    assert _rules(checker.check(_submit({**REPORT, "x": 1}, 429, b"", Retry_After="1"))) == set()
    bare = _submit(REPORT, 503, b"busy", Content_Type="text/plain")
    assert _rules(checker.check(bare)) == {"RR-03"}
    crashed = _submit(REPORT, 500, problem | {"status": 500}, Content_Type="application/problem+json")
    assert "RR-03" in _rules(checker.check(crashed))
