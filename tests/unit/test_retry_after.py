"""The one reader of ``Retry-After`` (the reference sender waits by it; the sender timeline judges by it)."""

from __future__ import annotations

import datetime as dt

import pytest

from harness.http import parse_retry_after


def test_delta_seconds_and_an_http_date_are_read() -> None:
    assert parse_retry_after(" 120 ") == 120
    assert parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT") == dt.datetime(1994, 11, 6, 8, 49, 37, tzinfo=dt.UTC)


@pytest.mark.parametrize("value", ["", "soon", "-5", "1.5", "²", "٣", "Sun, 06 Nov 1994 08:49:37", "Sun, 32 Nov 1994"])
def test_what_is_neither_is_none_never_an_error(value: str) -> None:
    assert parse_retry_after(value) is None
