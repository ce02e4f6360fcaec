"""Recordings of real traffic (issue 23): the exchange the proxy hands over, and (``har``) its HAR 1.2 writer."""

from __future__ import annotations

from harness.recording.exchange import Header, RecordedExchange, rfc3339

__all__ = ["Header", "RecordedExchange", "rfc3339"]
