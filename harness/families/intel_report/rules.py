"""IR-01..IR-07: the intelligence report's rules beyond the schema (spec `intel-report.md`)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

from harness.families.rules import RuleViolation, rule

__all__ = ["RULE_SET", "VRM_STYLES", "created_date", "parse_date_time", "vrm_is_valid"]

RULE_SET = "intel-report"

VRM_STYLES = (
    re.compile(r"^[A-Z]{2}[0-9]{2} ?[A-Z]{3}\Z"),  # current
    re.compile(r"^[A-Z][0-9]{1,3} ?[A-Z]{3}\Z"),  # prefix
    re.compile(r"^[A-Z]{3} ?[0-9]{1,3}[A-Z]\Z"),  # suffix
    re.compile(r"^[0-9]{1,4} ?[A-Z]{1,3}\Z"),  # dateless
    re.compile(r"^[A-Z]{1,3} ?[0-9]{1,4}\Z"),  # dateless, reversed
)
EVENT_SKEW = dt.timedelta(minutes=5)


def vrm_is_valid(vrm: str) -> bool:
    return any(style.match(vrm) for style in VRM_STYLES)


def parse_date_time(value: Any) -> dt.datetime | None:
    """An RFC 3339 date-time with offset, or None when it is not one (the schema says so)."""
    if not isinstance(value, str):
        return None
    text = value.upper().replace("Z", "+00:00")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _parse_date(value: Any) -> dt.date | None:
    if not isinstance(value, str) or len(value) != 10:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def created_date(document: dict[str, Any]) -> dt.date | None:
    """The calendar date of ``created`` in its own offset (the date its author wrote)."""
    created = parse_date_time(document.get("created"))
    return created.date() if created else None


def _subjects(document: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    subjects = document.get("subjects")
    if isinstance(subjects, list):
        for index, subject in enumerate(subjects):
            if isinstance(subject, dict):
                yield index, subject


@rule(RULE_SET, "IR-01", "conditions present and non-empty when handling is C, absent when P")
def conditions_follow_handling(document: dict[str, Any]) -> Iterator[RuleViolation]:
    grading = document.get("grading")
    if not isinstance(grading, dict):
        return
    handling = grading.get("handling")
    conditions = grading.get("conditions")
    if handling == "C" and (not isinstance(conditions, str) or not conditions):
        yield (
            ("grading",) if conditions is None else ("grading", "conditions"),
            ("handling code C requires non-empty grading.conditions"),
        )
    elif handling == "P" and conditions is not None:
        yield ("grading", "conditions"), "handling code P must not carry grading.conditions"


@rule(RULE_SET, "IR-02", "subject ids are unique within the report")
def subject_ids_unique(document: dict[str, Any]) -> Iterator[RuleViolation]:
    seen: dict[str, int] = {}
    for index, subject in _subjects(document):
        subject_id = subject.get("id")
        if not isinstance(subject_id, str):
            continue
        if subject_id in seen:
            yield ("subjects", index, "id"), f"subject id {subject_id!r} already used by subject {seen[subject_id]}"
        else:
            seen[subject_id] = index


@rule(RULE_SET, "IR-03", "links name subjects of the report, and from differs from to")
def links_name_subjects(document: dict[str, Any]) -> Iterator[RuleViolation]:
    links = document.get("links")
    if not isinstance(links, list):
        return
    ids = {subject.get("id") for _, subject in _subjects(document)}
    for index, link in enumerate(links):
        if not isinstance(link, dict):
            continue
        for end in ("from", "to"):
            target = link.get(end)
            if isinstance(target, str) and target not in ids:
                yield ("links", index, end), f"link {end} {target!r} names no subject of the report"
        if link.get("from") is not None and link.get("from") == link.get("to"):
            yield ("links", index, "to"), f"link from and to are both {link.get('to')!r}"


@rule(RULE_SET, "IR-04", "dateOfBirth not after created's date; occurred not after created + 5 minutes")
def dates_not_in_future(document: dict[str, Any]) -> Iterator[RuleViolation]:
    created = parse_date_time(document.get("created"))
    if created is None:
        return
    for index, subject in _subjects(document):
        if subject.get("type") == "person":
            born = _parse_date(subject.get("dateOfBirth"))
            if born is not None and born > created.date():
                yield (
                    ("subjects", index, "dateOfBirth"),
                    f"date of birth {born} is after the report's date {created.date()}",
                )
        elif subject.get("type") == "event":
            occurred = parse_date_time(subject.get("occurred"))
            if occurred is not None and occurred - EVENT_SKEW > created:
                yield (
                    ("subjects", index, "occurred"),
                    (
                        f"event occurred {subject['occurred']} is more than 5 minutes after created "
                        f"{document['created']}"
                    ),
                )


@rule(RULE_SET, "IR-05", "reviewBy not before created's date")
def review_not_before_created(document: dict[str, Any]) -> Iterator[RuleViolation]:
    review = _parse_date(document.get("reviewBy"))
    created = created_date(document)
    if review is not None and created is not None and review < created:
        yield ("reviewBy",), f"reviewBy {review} is before the report's date {created}"


@rule(RULE_SET, "IR-06", "a vehicle has a vrm; a vrm is an upper-case UK registration mark")
def vehicles_have_valid_vrm(document: dict[str, Any]) -> Iterator[RuleViolation]:
    for index, subject in _subjects(document):
        if subject.get("type") != "object":
            continue
        vrm = subject.get("vrm")
        if vrm is None:
            if subject.get("objectType") == "vehicle":
                yield ("subjects", index), "a vehicle must have a vrm"
        elif not isinstance(vrm, str) or not vrm_is_valid(vrm):
            yield ("subjects", index, "vrm"), f"vrm {vrm!r} is not an upper-case UK registration mark in a DVLA style"


@rule(RULE_SET, "IR-07", "a location has an address, a point, or both")
def location_is_placed(document: dict[str, Any]) -> Iterator[RuleViolation]:
    for index, subject in _subjects(document):
        if subject.get("type") == "location" and "address" not in subject and "point" not in subject:
            yield ("subjects", index), "a location must have an address, a point, or both"
