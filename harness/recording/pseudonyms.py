"""Keyed, format-keeping pseudonyms of single values: the derivation :class:`~harness.recording.masking.Masker`
applies to each personal field (which fields are personal, and where values recur, is the masker's part).

Every symbol drawn comes from HMAC-SHA256 under the masking key of the value's kind, the draw's round and the
value normalised as the checks compare it; see :mod:`harness.recording.masking` for what each kind keeps.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation

__all__ = ["COORDINATE_KINDS", "MAX_SHIFT", "MIN_SHIFT", "coordinate_number", "format_kept", "keyed_stream"]

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGITS = "0123456789"


def keyed_stream(key: bytes, kind: str, normalized: str, round_: int) -> Iterator[int]:
    """The endless byte stream HMAC-SHA256 under ``key`` derives for one value of one kind (and one draw)."""
    counter = 0
    while True:
        message = f"{kind}\x00{round_}\x00{counter}\x00{normalized}".encode()
        yield from hmac.new(key, message, hashlib.sha256).digest()
        counter += 1


def format_kept(key: bytes, kind: str, value: str, round_: int, later: bool = False) -> str:
    """Draw ``round_`` of the keyed, format-keeping pseudonym of ``value`` (stripped) as a field of ``kind``.

    ``later``: a date moves later rather than earlier (see :meth:`~harness.recording.masking.Masker.mask`).
    """
    if kind in COORDINATE_KINDS:
        moved = _moved_coordinate(kind, value, keyed_stream(key, kind, _coordinate_key(value), round_))
        if moved is not None:
            return moved
    if kind == "date":
        days = next(iter(keyed_stream(key, kind, value, round_))) + 1
        moved = _moved_date(value, days if later else -days)
        if moved is not None:
            return moved
    if kind == "vrm":
        normalized = value.replace(" ", "").upper()
    elif kind in ("name", "text", "address"):
        normalized = value.casefold()
    else:
        normalized = value.upper()
    stream = keyed_stream(key, kind, normalized, round_)
    keep = _kept_prefix(value) if kind == "phone" else 0
    out: list[str] = []
    for index, char in enumerate(value):
        if index < keep:
            out.append(char)
        elif char.isdigit():
            out.append(_DIGITS[next(stream) % 10])
        elif char.isalpha():
            letter = _LETTERS[next(stream) % 26]
            out.append(letter if char.isupper() or (not char.islower() and kind == "vrm") else letter.lower())
        else:
            out.append(char)
    return "".join(out)


def _moved_date(value: str, days: int) -> str | None:
    """``value`` (a full-date) ``days`` days later (earlier when negative); None when it is not a full-date."""
    if len(value) != 10:
        return None
    try:
        date = dt.date.fromisoformat(value)
    except ValueError:
        return None
    try:
        return (date + dt.timedelta(days=days)).isoformat()
    except OverflowError:
        return (date - dt.timedelta(days=days)).isoformat()


COORDINATE_KINDS = frozenset({"latitude", "longitude"})
_COORDINATE_BOUND = {"latitude": Decimal(90), "longitude": Decimal(180)}
MIN_SHIFT, MAX_SHIFT = Decimal("0.05"), Decimal("0.5")
"""A coordinate moves by 0.05 to 0.5 degrees (about 5 to 55 km of latitude), keyed: far enough that the
address it geolocated cannot be read back, near enough that the point stays in the region a lab's systems
serve (a force area, a geofence) and relationships between points of one recording survive."""


def _coordinate_key(value: str) -> str:
    """A coordinate keyed by its number (``52``, ``52.0`` and ``52.00`` are one latitude, intel-report.md)."""
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        return value
    return format(number.normalize(), "f") if number.is_finite() else value


def _moved_coordinate(kind: str, value: str, stream: Iterator[int]) -> str | None:
    """``value`` (a decimal number of degrees) moved by a keyed 0.05 to 0.5 degrees (at least one unit of its
    last decimal), its decimal places kept, inside -90..90 (latitude) or -180..180 (longitude), or further out
    when it was out (a message invalid for it stays so); None when it is no finite number."""
    text = value.strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    bound = _COORDINATE_BOUND[kind]
    if not number.is_finite():
        return None
    if "e" in text.lower():
        text = format(number, "f")  # 1e-05, as a JSON float may be written
    beyond = abs(number) > bound  # no place on Earth (an invalid message): it moves away, staying invalid
    places = len(text.partition(".")[2]) if "." in text else 0
    significant = max(-number.normalize().as_tuple().exponent, 0)  # type: ignore[operator]
    unit = Decimal(1).scaleb(-significant)  # the normalised number's last decimal: 52.0 and 52 move alike
    low, high = max(MIN_SHIFT, unit), max(MAX_SHIFT, unit)
    steps = int((high - low) / unit)
    draw = int.from_bytes(bytes(next(stream) for _ in range(4)), "big")
    shift = low + unit * (draw % (steps + 1))
    down = bool(draw & 1 << 31)
    directions = ((1 if number > 0 else -1),) if beyond else ((-1, 1) if down else (1, -1))
    for sign in directions:  # the drawn direction, the other one where it leaves the range
        step = shift
        moved = number + sign * step
        while significant and moved.normalize().as_tuple().exponent != -significant:
            # Its last decimal stays non-zero: a JSON float drops a trailing 0, and the renditions made one from
            # the other's number would differ (50.848 in JSON, 50.8480 in the XML recorded).
            step += unit
            moved = number + sign * step
        if beyond or abs(moved) <= bound:
            break
    return format(moved.quantize(Decimal(1).scaleb(-places)), "f")  # a multiple of unit: exact at its places


def coordinate_number(masked: str, original: int | float) -> int | float:
    """A masked coordinate as the JSON number type of the original (an integer stays an integer)."""
    number = Decimal(masked)
    return int(number) if isinstance(original, int) else float(number)


def _kept_prefix(value: str) -> int:
    """How much of a phone number stays: ``+`` and a two-digit country code, or a leading trunk ``0``."""
    if value.startswith("+"):
        return 3
    return 1 if value.startswith("0") else 0
