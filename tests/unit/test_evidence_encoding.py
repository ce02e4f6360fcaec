"""The evidence writer's fast paths give exactly the bytes and redaction of the plain ones they replace.

``exchanges.jsonl`` lines and ``results.json`` are written by hand-tuned encoders (issue 21, evidence overhead);
these tests hold them to ``json.dumps`` byte for byte, and the inlined header redaction to :meth:`Redactor.text`.
"""

from __future__ import annotations

import asyncio
import enum
import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.events import Event, ExchangeCompleted
from harness.evidence.bundle import _walk_samples, indented_json, record_line
from harness.reporting import REDACTED, Redactor
from harness.reporting.redaction import _USERINFO, _USERINFO_REDACTED
from harness.runner.exchanges import LiveExchanges, now_rfc3339
from harness.transport import Request, Response

TOKEN = "tok-3c1b8f0e22aa"


class Colour(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    ONE = 1


class Opaque:
    def __str__(self) -> str:
        return 'opaque "thing"\n'


_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["", '"', "\\", "\x00\x1f", "\u2028", "caf\u00e9", "\U0001f600", TOKEN]
)
_scalars = (
    _text
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.booleans()
    | st.none()
    | st.sampled_from([Colour.RED, Level.ONE])
)
_keys = _text | st.integers(-5, 5) | st.floats(allow_nan=False) | st.booleans() | st.none()
_documents = st.recursive(
    _scalars | st.builds(Opaque),
    lambda inner: (
        st.lists(inner, max_size=4) | st.lists(inner, max_size=3).map(tuple) | st.dictionaries(_keys, inner, max_size=4)
    ),
    max_leaves=30,
)
_json_documents = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4), max_leaves=30
)


@settings(max_examples=400, deadline=None)
@given(_documents)
def test_results_json_is_what_json_dumps_writes(document: Any) -> None:
    assert indented_json(document) == json.dumps(document, indent=2, ensure_ascii=False, default=str)


def test_results_json_refuses_what_json_dumps_refuses() -> None:
    for bad in ({(1, 2): "tuple key"}, {frozenset(): 1}):
        for encode in (indented_json, lambda d: json.dumps(d, indent=2, ensure_ascii=False, default=str)):
            try:
                encode(bad)
            except TypeError:
                continue
            raise AssertionError(f"{bad!r} was encoded")


@settings(max_examples=400, deadline=None)
@given(_json_documents)
def test_an_exchange_line_is_what_json_dumps_writes(record: Any) -> None:
    assert record_line({"record": record}) == json.dumps({"record": record}, ensure_ascii=False).encode() + b"\n"


def test_an_exchange_line_refuses_what_is_no_json() -> None:
    try:
        record_line({"x": Opaque()})
    except TypeError:
        return
    raise AssertionError("an object that is no JSON was written")


def _naive_samples(node: Any) -> set[str]:
    if isinstance(node, dict):
        found: set[str] = set()
        for key, value in node.items():
            found |= {value} if key == "sample" and isinstance(value, str) else _naive_samples(value)
        return found
    if isinstance(node, list):
        return set().union(*(_naive_samples(item) for item in node)) if node else set()
    return set()


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.sampled_from(["a/b/valid/x.json", "c/d/e/f.xml", 3, None]),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["sample", "steps", "k"]), inner),
        max_leaves=25,
    )
)
def test_the_sample_walk_finds_every_reference(node: Any) -> None:
    shared = [node, {"steps": [node, {"sample": "z/z/valid/shared.json"}]}]
    scenarios = [{"id": i, "steps": shared} for i in range(3)] + [node]  # shared containers are walked once
    assert _walk_samples(scenarios) == _naive_samples(scenarios)


_header_names = st.sampled_from(
    ["Host", "Authorization", "Cookie", "Set-Cookie", "X-Api-Key", "X-Tenant", "Location", "Referer", "x-\x1bevil"]
)
_header_values = st.sampled_from(
    [
        TOKEN,
        f"Bearer {TOKEN}",
        "http://bob:pw12345678@h.example/x?token=zzz&a=1",
        "/next?api_key=k&page=2",
        "a=b&c=d",
        "1",
        "plain",
        f"prefix {TOKEN} suffix",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_header_names, _header_values), max_size=8), st.booleans())
def test_recorded_headers_are_redacted_as_any_text(headers: list[tuple[str, str]], own_pattern: bool) -> None:
    """The record's inlined header redaction is :meth:`Redactor.text` for every header that is no credential."""
    redact = Redactor([TOKEN], names=["X-Tenant"])
    pattern = redact.pattern_for(headers) if own_pattern else None
    expected = [
        [name.replace("\x1b", "\\x1b"), REDACTED if redact.secret_name(name) else redact.text(value, pattern)]
        for name, value in headers
    ]
    recorded = redact.record_headers(headers, pattern)
    assert recorded == expected
    assert all(TOKEN not in value for _, value in recorded)
    assert redact.headers(headers, pattern) == [tuple(pair) for pair in expected]


_LOOK_AROUND_USERINFO = re.compile(r"(?<=://)[^/?#@\s\"'<>\\]++(?=@)")  # the pattern as first written


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=":/@a?#= \"'<>\\&x\n", max_size=40))
def test_user_information_is_found_as_by_look_around(text: str) -> None:
    """The literal-prefix pattern replaces exactly what the look-behind/look-ahead one did."""
    assert _USERINFO.sub(_USERINFO_REDACTED, text) == _LOOK_AROUND_USERINFO.sub(REDACTED, text)


def test_user_information_in_a_long_text() -> None:
    text = "a http://u:p@h/x ://@ b ftp://k@h:// c://x://y@z " * 50
    assert Redactor().text(text) == _LOOK_AROUND_USERINFO.sub(REDACTED, text)
    assert "u:p" not in Redactor().text(text)


def test_a_transport_without_attempts_is_recorded_with_its_send_time() -> None:
    """The send time is read before sending and formatted only when the transport recorded no attempt."""

    class Plain:
        async def send(self, request: Request) -> Response:
            await asyncio.sleep(0.002)
            return Response(201, "Created", (("Content-Type", "application/json"),), b"{}", 2.0)

    heard: list[Event] = []
    live = LiveExchanges(Plain(), "http://127.0.0.1:9", emit=heard.append)  # type: ignore[arg-type]
    before = now_rfc3339()
    asyncio.run(live.send("S-1", "submit", Request("POST", "http://127.0.0.1:9/x?id=1", (), b"{}"), None))
    live.judged("S-1", "submit", {"id": "1"})
    (event,) = heard
    assert isinstance(event, ExchangeCompleted)
    rfc3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
    assert rfc3339.fullmatch(event.sent) and rfc3339.fullmatch(event.answered)
    assert before <= event.sent < event.answered  # 2 ms apart: the send time is not the answer's
    assert event.request is not None and event.request.start_line == "POST /x?id=1 HTTP/1.1"
    assert dict(event.bindings) == {"id": "1"}
