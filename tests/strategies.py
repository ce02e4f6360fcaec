"""Hypothesis strategies shared by the tests.

:func:`intel_reports` draws ``netcode.intel-report/1.0`` documents in the JSON
model that are valid against ``fixtures/formats/intel-report/1.0/schema.json``
and that the XML rendition can carry:

* text uses only XML-legal characters (no C0/C1 controls other than tab, line
  feed and carriage return, no surrogates, no U+FFFE/U+FFFF), and leans on
  spaces at either end and on ``<&>"'``;
* date-times have an upper-case ``T``, seconds 00-59 and an offset ``Z`` or
  ``±hh:mm`` within ±14:00, and years are 0001-9999 (xs:dateTime and xs:date
  cannot carry the rest of what RFC 3339 allows).

The IR rules are not respected on purpose (ids may repeat, links may dangle,
``conditions`` is independent of ``handling``): the documents are schema-valid,
not necessarily rule-valid.
"""

from __future__ import annotations

import datetime as dt
import string
from typing import Any

from hypothesis import strategies as st

__all__ = [
    "date_times",
    "dates",
    "intel_reports",
    "subject_ids",
    "subjects",
    "xml_text",
]

_SPECIAL = " <&>\"'\t\n\r]]>"
_XML_CHARACTERS = st.one_of(
    st.characters(
        blacklist_categories=("Cs", "Cc"),
        blacklist_characters="\ufffe\uffff",
    ),
    st.sampled_from(_SPECIAL),
)


@st.composite
def xml_text(draw: st.DrawFn, min_size: int = 1, max_size: int = 40, limit: int | None = None) -> str:
    """A string of XML-legal characters, ``min_size``..``max_size`` long.

    Now and then the string is exactly ``limit`` characters long (the schema's
    maximum), to reach the length bounds; sometimes it is padded with spaces.
    """
    if limit is not None and draw(st.integers(0, 9)) == 0:
        return draw(_XML_CHARACTERS) * limit
    text = draw(st.text(_XML_CHARACTERS, min_size=min_size, max_size=max_size))
    if draw(st.booleans()):
        padded = " " + text + " "
        if limit is None or len(padded) <= limit:
            text = padded
    return text


def _text(min_size: int, limit: int, max_size: int = 40) -> st.SearchStrategy[str]:
    """Text for a member of ``min_size``..``limit`` characters."""
    return xml_text(min_size=min_size, max_size=min(max_size, limit), limit=limit)


def dates() -> st.SearchStrategy[str]:
    """An RFC 3339 full-date, year 0001-9999."""
    return st.dates(min_value=dt.date(1, 1, 1)).map(lambda d: f"{d.year:04d}-{d.month:02d}-{d.day:02d}")


@st.composite
def date_times(draw: st.DrawFn) -> str:
    """An RFC 3339 date-time that xs:dateTime accepts too."""
    moment = draw(st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59)))
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    if draw(st.booleans()):
        text += "." + draw(st.text(string.digits, min_size=1, max_size=9))
    if draw(st.booleans()):
        return text + "Z"
    minutes = draw(st.integers(-14 * 60, 14 * 60))
    sign = "-" if minutes < 0 or (minutes == 0 and draw(st.booleans())) else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{text}{sign}{hours:02d}:{mins:02d}"


def subject_ids() -> st.SearchStrategy[str]:
    """A subject id, ``^[A-Za-z0-9_-]{1,32}$``."""
    return st.from_regex(r"[A-Za-z0-9_-]{1,32}", fullmatch=True)


def _coordinate(bound: int) -> st.SearchStrategy[int | float]:
    """A latitude (bound 90) or longitude (bound 180), as an int or a float."""
    return st.one_of(
        st.integers(-bound, bound),
        st.floats(-bound, bound, allow_nan=False, allow_infinity=False),
        st.sampled_from([float(bound), float(-bound), -0.0, 0.0, 53.7997, -1.5492]),
    )


_VRMS = st.one_of(
    st.sampled_from(["AB12 CDE", "AB12CDE", "A123 BCD", "ABC 123D", "1234 AB", "ABC1", "ab12 cde", ""]),
    xml_text(min_size=0, max_size=10),
)


def subjects(ids: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """One subject of any type, with any of its optional members."""
    ident = ids if ids is not None else subject_ids()
    person = st.fixed_dictionaries(
        {"id": ident, "type": st.just("person"), "familyName": _text(1, 100)},
        optional={
            "givenNames": st.lists(_text(1, 100, 12), max_size=5),
            "dateOfBirth": dates(),
            "aliases": st.lists(xml_text(min_size=0, max_size=12), max_size=4),
        },
    )
    thing = st.fixed_dictionaries(
        {
            "id": ident,
            "type": st.just("object"),
            "objectType": st.sampled_from(["vehicle", "weapon", "phone", "other"]),
        },
        optional={"vrm": _VRMS, "description": _text(1, 500)},
    )
    location = st.fixed_dictionaries(
        {"id": ident, "type": st.just("location")},
        optional={
            "address": _text(1, 300),
            "point": st.fixed_dictionaries({"lat": _coordinate(90), "lon": _coordinate(180)}),
        },
    )
    event = st.fixed_dictionaries(
        {"id": ident, "type": st.just("event"), "occurred": date_times()},
        optional={"description": _text(1, 500)},
    )
    return st.one_of(person, thing, location, event)


_JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=10)
)
_EXTENSIONS = st.dictionaries(
    st.from_regex(r"[a-z0-9-]+(\.[a-z0-9-]+)+", fullmatch=True),
    st.recursive(
        _JSON_SCALARS,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=5,
    ),
    max_size=3,
)


@st.composite
def intel_reports(draw: st.DrawFn, max_subjects: int = 8, max_links: int = 8) -> dict[str, Any]:
    """A JSON-model intel report, valid against schema.json (see the module docstring)."""
    report_subjects = draw(st.lists(subjects(), min_size=1, max_size=max_subjects))
    known_ids = [s["id"] for s in report_subjects]
    link_ends = st.one_of(st.sampled_from(known_ids), subject_ids())
    doc = draw(
        st.fixed_dictionaries(
            {
                "reportId": st.uuids().map(str),
                "profile": st.just("netcode.intel-report/1.0"),
                "created": date_times(),
                "originator": st.fixed_dictionaries(
                    {"force": st.from_regex(r"[a-z][a-z0-9-]{1,62}", fullmatch=True), "system": _text(1, 64)},
                    optional={"officerId": _text(1, 32)},
                ),
                "classification": st.sampled_from(["OFFICIAL", "OFFICIAL-SENSITIVE", "SECRET", "TOP SECRET"]),
                "grading": st.fixed_dictionaries(
                    {
                        "source": st.sampled_from(["A", "B", "C"]),
                        "intelligence": st.integers(1, 5),
                        "handling": st.sampled_from(["P", "C"]),
                    },
                    optional={"conditions": _text(1, 1000)},
                ),
                "subjects": st.just(report_subjects),
                "text": _text(1, 8000, 80),
            },
            optional={
                "links": st.lists(
                    st.fixed_dictionaries({"from": link_ends, "to": link_ends, "relation": _text(1, 64)}),
                    max_size=max_links,
                ),
                "reviewBy": dates(),
                "extensions": _EXTENSIONS,
            },
        )
    )
    return doc
