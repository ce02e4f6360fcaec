"""HTTP facts shared by the reference endpoints and the runner's checks: media types, negotiation, Retry-After."""

from __future__ import annotations

import datetime as dt
import email.utils
from dataclasses import dataclass

__all__ = ["MediaRange", "media_type", "negotiate", "parse_accept", "parse_retry_after"]


def media_type(content_type: str | None) -> str:
    """The bare, lower-case media type of a Content-Type value (parameters dropped)."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


@dataclass(slots=True, frozen=True)
class MediaRange:
    type: str
    quality: float
    order: int

    def matches(self, candidate: str) -> bool:
        if self.type == "*/*":
            return True
        if self.type.endswith("/*"):
            return candidate.startswith(self.type[:-1])
        return self.type == candidate

    @property
    def specificity(self) -> int:
        return 0 if self.type == "*/*" else 1 if self.type.endswith("/*") else 2


def parse_accept(header: str | None) -> list[MediaRange]:
    """The ranges of an Accept header; a missing or empty header accepts anything."""
    if not header or not header.strip():
        return [MediaRange("*/*", 1.0, 0)]
    ranges: list[MediaRange] = []
    for order, part in enumerate(header.split(",")):
        fields = [f.strip() for f in part.split(";")]
        if not fields[0]:
            continue
        quality = 1.0
        for param in fields[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
                quality = max(0.0, min(1.0, quality)) if quality == quality else 0.0  # NaN counts as 0
        ranges.append(MediaRange(fields[0].lower(), quality, order))
    return ranges


def negotiate(header: str | None, offers: dict[str, str]) -> str | None:
    """Pick a key of ``offers`` (media type -> what it serves) for an Accept header.

    Each offered type gets the quality of the most specific range matching it;
    the highest quality wins, ties go to the offer listed first. None when
    nothing acceptable is offered.
    """
    ranges = parse_accept(header)
    best: tuple[float, int] | None = None
    chosen: str | None = None
    for position, offer in enumerate(offers):
        matching = [r for r in ranges if r.matches(offer)]
        if not matching:
            continue
        top = max(matching, key=lambda r: (r.specificity, -r.order))
        if top.quality <= 0:
            continue
        score = (top.quality, -position)
        if best is None or score > best:
            best, chosen = score, offer
    return chosen


def parse_retry_after(value: str) -> int | dt.datetime | None:
    """A ``Retry-After`` value (RFC 9110 10.2.3): delta-seconds as an int, an HTTP-date as an aware datetime, or
    None when it is neither (a date without a zone included: it names no instant)."""
    value = value.strip()
    if value.isascii() and value.isdigit():  # ASCII: "²".isdigit() holds, yet it is no delta-seconds
        return int(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo is not None else None
