"""Redaction by position (specs/evidence.md, Credentials), and the console's escaping of what a SUT sent."""

from __future__ import annotations

import base64
import io
import json

import pytest

from harness.events import ExchangeCompleted, ScenarioFinished, WireMessage
from harness.model import BadAnswer, CheckFailure, Level, ScenarioResult, Verdict
from harness.reporting import REDACTED, ConsoleReporter, Redactor, exchange_record, printable
from harness.transport import TransportOptions

TOKEN = "eyJhbGciOi.very-secret.0123456789"


def test_a_short_value_is_never_searched_as_a_substring() -> None:
    redact = Redactor(headers=[("X-Api-Version", "1"), ("X-Api-Key", "abc")])
    document = json.dumps({"version": 1, "ids": ["1", "abc1"], "text": "abc"})
    assert redact(document) == document  # neither "1" (no credential) nor "abc" (a short one) moves
    start, headers, body, _ = redact.message("GET / HTTP/1.1", [("X-Api-Key", "abc"), ("X-Api-Version", "1")], b"abc1")
    assert headers == [("X-Api-Key", REDACTED), ("X-Api-Version", "1")]  # by position, whatever its length
    assert body == b"abc1" and start == "GET / HTTP/1.1"


def test_authorization_credentials_without_the_scheme_word_and_basic_passwords() -> None:
    basic = base64.b64encode(b"alice:longpassword1").decode()
    redact = Redactor(headers=[("Authorization", f"Bearer {TOKEN}"), ("Proxy-Authorization", f"Basic {basic}")])
    echoed = f'{{"seen": "{TOKEN}", "again": "Bearer {TOKEN}", "pw": "longpassword1", "b": "{basic}"}}'
    cleaned = redact(echoed)
    for secret in (TOKEN, "longpassword1", basic):
        assert secret not in cleaned
    assert cleaned.count(REDACTED) == 4


def test_url_user_information_and_credential_query_parameters_where_they_stand() -> None:
    redact = Redactor(urls=["http://u:longpassword1@127.0.0.1:9/netcode"])
    text = "cannot reach http://u:longpassword1@127.0.0.1:9/x?api_key=k1&page=2&access_token=t&v=1 (longpassword1)"
    assert redact(text) == (
        f"cannot reach http://{REDACTED}@127.0.0.1:9/x?api_key={REDACTED}&page=2&access_token={REDACTED}&v=1"
        f" ({REDACTED})"
    )
    start, _, _, _ = redact.message("GET /x?token=abc&id=7 HTTP/1.1", [], b"")
    assert start == f"GET /x?token={REDACTED}&id=7 HTTP/1.1"


def test_a_credential_the_sut_sets_is_redacted_across_its_exchange() -> None:
    """A Set-Cookie value (unknown to the operator) is replaced in the header, and where its exchange echoes it."""
    event = ExchangeCompleted(
        "S-1", "login", "POST", "http://h/login", 200, 1.0, 2, 30,
        request=WireMessage("POST /login HTTP/1.1", (("Host", "h"),), b"{}"),
        answer=WireMessage(
            "HTTP/1.1 200 OK", (("Set-Cookie", "sid=s3ss10n-value-42; Path=/"),), b'{"sid": "s3ss10n-value-42"}'
        ),
    )  # fmt: skip
    record = exchange_record(event, Redactor())
    assert record["answer"]["headers"] == [["Set-Cookie", REDACTED]]
    assert record["answer"]["body"] == f'{{"sid": "{REDACTED}"}}'
    assert record["attempt"] == 1 and record["request"]["headers"] == [["Host", "h"]]


def test_a_binary_body_moves_only_the_credential_bytes() -> None:
    redact = Redactor(headers=[("X-Auth-Token", TOKEN)])
    body = b"\xff\x00" + TOKEN.encode() + b"\xfe"
    assert redact.body(body) == b"\xff\x00" + REDACTED.encode() + b"\xfe"


def test_a_json_escaped_credential_is_found_in_a_json_document() -> None:
    secret = 'pa"ss\\word-long'
    redact = Redactor([secret])
    assert secret not in json.loads(redact(json.dumps({"echo": secret})))["echo"]


def test_marked_secrets_and_the_run_redactor() -> None:
    options = TransportOptions(
        headers=(("X-Tenant", "tenant-secret-77"), ("X-Api-Version", "1")),
        secret_names=("X-Tenant",),
        key_password="key-password-123",
    )
    redact = Redactor.for_run(options, ["https://bob:hunter2hunter2@example.test/"])
    assert redact.headers([("x-tenant", "tenant-secret-77"), ("X-Api-Version", "1")]) == [
        ("x-tenant", REDACTED),
        ("X-Api-Version", "1"),
    ]
    cleaned = redact("tenant-secret-77 key-password-123 hunter2hunter2 1")
    assert cleaned == f"{REDACTED} {REDACTED} {REDACTED} 1"


def test_the_console_escapes_control_characters_from_the_sut() -> None:
    assert printable("a\x1b[2J\x07b\r\nc\x9b31m\td") == "a\\x1b[2J\\x07b\\x0d\\x0ac\\x9b31m\td"
    stream = io.StringIO()
    console = ConsoleReporter(stream)
    console.total = 1
    failure = CheckFailure("s\x1b]0;owned\x07", "status", 200, "\x1b[31m500", "the SUT said\r[1/1] PASS forged")
    result = ScenarioResult("T-1", "title \x1b[8m", Level.MUST, Verdict.FAILED, 1.0, (failure,))
    console(ScenarioFinished(result))
    printed = stream.getvalue()
    assert "\x1b" not in printed and "\r" not in printed and "\x07" not in printed
    assert printed.count("\n") == 2  # the scenario's line and its failure's: none forged


def test_an_error_line_quoting_a_sut_or_bundle_is_escaped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import harness.cli
    import harness.cli.run

    def fails(args: object) -> int:
        raise BadAnswer("the SUT said \x1b]52;c;cGF5bG9hZA==\x07 and \x1b[2J")

    monkeypatch.setattr(harness.cli.run, "_cmd_run", fails)
    code = harness.cli.main(["run", "--suite", "intel-core", "--target", "http://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code != 0 and "\x1b" not in err and "\x07" not in err
    assert err == "harness: the SUT said \\x1b]52;c;cGF5bG9hZA==\\x07 and \\x1b[2J\n"


@pytest.mark.parametrize(
    "body",
    [
        "?" + "key" * 100_000 + "&=",
        "?" * 100_000 + "token" * 20_000 + "#=",
        "://" * 100_000 + "a" * 100_000 + "?a=b",
        "&" * 100_000 + "api_key=" * 50_000,
    ],
    ids=["keywords-without-equals", "question-marks", "schemes-without-at", "empty-keys"],
)
def test_hostile_bodies_are_redacted_in_one_pass(body: str) -> None:
    """A SUT's body built against the position patterns (runs of ``?``, ``://``, keywords with no ``=``):
    each scan ends at the next delimiter, so this finishes (a backtracking pattern took 69 s on 8 KB)."""
    cleaned = Redactor()(body)
    assert cleaned[:50_000] == body[:50_000]  # nothing before a credential moved
