"""CAP-01..CAP-12: what the CAP 1.2 text asks beyond its schema (spec ``alerts.md``, versions 1.0 and 1.1).

Each rule declares its severity per version of ``alerts.md``: version 1.0
made CAP-06 and CAP-07 errors, 1.1 makes them warnings (the CAP 1.2 text
forbids neither) and adds CAP-08..CAP-12, errors the CAP 1.2 text does state.

CAP has no JSON model: each rule takes the root of a parsed alert (an lxml
element) and yields ``(xpath, message)``. XPaths use the prefix ``cap`` for
:data:`NS`, start at the alert and carry a 1-based position where an element
has same-named siblings (``/cap:alert/cap:info[2]/cap:area/cap:polygon``).

The rules never raise, whatever the tree: a rule that cannot judge a part
(missing, not a number, not a timestamp) stays silent about it, because the
schema, or another rule, already says what is wrong. An empty element is
CAP-07's alone: CAP-03, CAP-05 and CAP-08..CAP-12 do not judge empty text.
"""

from __future__ import annotations

import binascii
import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation

from lxml import etree

from harness.families.rules import RuleViolation, rule
from harness.model import Severity

__all__ = ["NS", "PREFIX", "RULE_SET", "cap_timestamp", "location"]

RULE_SET = "cap"
NS = "urn:oasis:names:tc:emergency:cap:1.2"
PREFIX = "cap"

# 1.2's timestamp: seconds, a numeric offset, nothing else ("Z" is not CAP).
_TIMESTAMP = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})([+-])([0-9]{2}):([0-9]{2})")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_FORBIDDEN_IN_IDS = re.compile(r"[\s,<&]")
_NEEDS_REFERENCES = ("Update", "Cancel", "Ack", "Error")
_ERROR_THEN_WARNING = (("1.0", Severity.ERROR), ("1.1", Severity.WARNING))
_ERROR_SINCE_1_1 = (("1.1", Severity.ERROR),)

# RFC 3986: a scheme, then only URI characters (unreserved, reserved, "%" HEX HEX); characters beyond ASCII
# are let through as an IRI's (RFC 3987), since xs:anyURI takes IRIs and feeds in other languages use them.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_URI_CHARACTERS = re.compile(r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2}|[^\x00-\x7f\s])*")
_AUTHORITY_SCHEMES = frozenset({"http", "https", "ftp", "ftps", "ws", "wss"})
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")

# Elements the schema allows to be absent, by parent; CAP-07 refuses them present but empty.
_OPTIONAL = {
    "alert": ("source", "restriction", "addresses", "code", "note", "references", "incidents", "info"),
    "info": (
        "language",
        "responseType",
        "audience",
        "eventCode",
        "effective",
        "onset",
        "expires",
        "senderName",
        "headline",
        "description",
        "instruction",
        "web",
        "contact",
        "parameter",
        "resource",
        "area",
    ),
    "resource": ("size", "uri", "derefUri", "digest"),
    "area": ("polygon", "circle", "geocode", "altitude", "ceiling"),
}


def _q(local: str) -> str:
    return f"{{{NS}}}{local}"


def location(element: etree._Element, top: etree._Element, prefixes: dict[str, str] | None = None) -> str:
    """The XPath of ``element`` from ``top`` (included), positions where siblings share its name."""
    prefixes = prefixes if prefixes is not None else {NS: PREFIX}
    steps: list[str] = []
    node: etree._Element | None = element
    while node is not None:
        qname = etree.QName(node)
        known = prefixes.get(qname.namespace or "")
        name = f"{known}:{qname.localname}" if known else f"*[local-name()='{qname.localname}']"
        parent = node.getparent()
        if parent is not None and node is not top:
            same = [sibling for sibling in parent if sibling.tag == node.tag]
            if len(same) > 1:
                name += f"[{same.index(node) + 1}]"
        steps.append(name)
        node = None if node is top else parent
    return "/" + "/".join(reversed(steps))


def _text(element: etree._Element | None) -> str:
    """The string value of ``element`` (its text and its descendants' text, comments aside), or ""."""
    if element is None:
        return ""
    value = element.xpath("string()")
    return value if isinstance(value, str) else ""


def _children(parent: etree._Element, local: str) -> list[etree._Element]:
    return list(parent.iterchildren(_q(local)))


def _alert(root: object) -> etree._Element | None:
    """``root`` when it is a CAP 1.2 alert element, else None (nothing to judge)."""
    if isinstance(root, etree._Element) and root.tag == _q("alert"):
        return root
    return None


def cap_timestamp(text: str) -> dt.datetime | None:
    """The instant a CAP timestamp (``2003-06-17T14:57:00-07:00``) names, or None when ``text`` is not one.

    Accepts what the schema's type accepts: real dates, hours 00-23 (24:00:00 as the end of the day),
    offsets up to 14:00.
    """
    match = _TIMESTAMP.fullmatch(text.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, sign, off_hour, off_minute = match.groups()
    if int(off_hour) * 60 + int(off_minute) > 14 * 60 or int(off_minute) > 59:
        return None
    offset = dt.timedelta(hours=int(off_hour), minutes=int(off_minute)) * (-1 if sign == "-" else 1)
    end_of_day = (hour, minute, second) == ("24", "00", "00")
    try:
        stamp = dt.datetime(
            int(year),
            int(month),
            int(day),
            0 if end_of_day else int(hour),
            int(minute),
            int(second),
            tzinfo=dt.timezone(offset),
        )
    except (ValueError, OverflowError):
        return None
    return stamp + dt.timedelta(days=1) if end_of_day else stamp


def _number(text: str) -> Decimal | None:
    if not _NUMBER.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _point(text: str) -> tuple[Decimal, Decimal] | None:
    """``lat,lon`` as two numbers, or None."""
    parts = text.split(",")
    if len(parts) != 2:
        return None
    lat, lon = _number(parts[0]), _number(parts[1])
    return (lat, lon) if lat is not None and lon is not None else None


def _out_of_range(point: tuple[Decimal, Decimal]) -> bool:
    return not (-90 <= point[0] <= 90 and -180 <= point[1] <= 180)


@rule(RULE_SET, "CAP-01", "identifier and sender contain no spaces, commas, < or &")
def identifier_and_sender_characters(root: object) -> Iterator[RuleViolation]:
    alert = _alert(root)
    if alert is None:
        return
    for local in ("identifier", "sender"):
        for element in _children(alert, local):
            value = _text(element)
            if not value:
                yield location(element, alert), f"{local} is empty"
            elif _FORBIDDEN_IN_IDS.search(value):
                yield location(element, alert), f"{local} {value[:80]!r} contains a space, comma, '<' or '&'"


@rule(RULE_SET, "CAP-02", "scope Restricted has a restriction, scope Private has addresses")
def scope_needs_its_audience(root: object) -> Iterator[RuleViolation]:
    alert = _alert(root)
    if alert is None:
        return
    scope = alert.find(_q("scope"))
    needed = {"Restricted": "restriction", "Private": "addresses"}.get(_text(scope))
    if scope is None or needed is None:
        return
    present = alert.find(_q(needed))
    if present is None:
        yield location(scope, alert), f"scope {_text(scope)} requires a non-empty {needed}"
    elif not _text(present).strip():
        yield location(present, alert), f"scope {_text(scope)} requires a non-empty {needed}"


@rule(RULE_SET, "CAP-03", "references is a space-separated list of sender,identifier,sent")
def references_are_triples(root: object) -> Iterator[RuleViolation]:
    alert = _alert(root)
    if alert is None:
        return
    for element in _children(alert, "references"):
        for reference in _text(element).split():
            parts = reference.split(",")
            if len(parts) != 3 or not parts[0] or not parts[1]:
                yield location(element, alert), f"{reference[:120]!r} is not sender,identifier,sent"
            elif cap_timestamp(parts[2]) is None:
                yield location(element, alert), f"{reference[:120]!r}: {parts[2][:40]!r} is not a CAP timestamp"


@rule(RULE_SET, "CAP-04", "msgType Update, Cancel, Ack and Error carry references")
def replies_carry_references(root: object) -> Iterator[RuleViolation]:
    alert = _alert(root)
    if alert is None:
        return
    msg_type = alert.find(_q("msgType"))
    if msg_type is None or _text(msg_type) not in _NEEDS_REFERENCES:
        return
    references = alert.find(_q("references"))
    if references is None:
        yield location(msg_type, alert), f"msgType {_text(msg_type)} must carry references"
    elif not _text(references).strip():
        yield location(references, alert), f"msgType {_text(msg_type)} must carry references; they are empty"


def _polygon_problem(text: str) -> str | None:
    pairs = text.split()
    points = [_point(pair) for pair in pairs]
    bad = next((pair for pair, point in zip(pairs, points, strict=True) if point is None), None)
    if bad is not None:
        return f"{bad[:60]!r} is not a lat,lon pair"
    checked = [point for point in points if point is not None]
    if any(_out_of_range(point) for point in checked):
        return "a latitude is outside ±90 or a longitude outside ±180"
    if len(checked) < 4:
        return f"a polygon needs at least 4 pairs, this one has {len(checked)}"
    if checked[0] != checked[-1]:
        return "the first and last pairs of a polygon must be the same"
    return None


def _circle_problem(text: str) -> str | None:
    parts = text.split()
    point = _point(parts[0]) if len(parts) == 2 else None
    radius = _number(parts[1]) if len(parts) == 2 else None
    if point is None or radius is None:
        return f"{text.strip()[:80]!r} is not 'lat,lon radius'"
    if _out_of_range(point):
        return "the centre's latitude is outside ±90 or its longitude outside ±180"
    if radius < 0:
        return "the radius is negative"
    return None


@rule(RULE_SET, "CAP-05", "polygons are closed rings of at least 4 pairs, circles are 'lat,lon radius', in range")
def geometry_is_well_formed(root: object) -> Iterator[RuleViolation]:
    alert = _alert(root)
    if alert is None:
        return
    for info in _children(alert, "info"):
        for area in _children(info, "area"):
            for local, check in (("polygon", _polygon_problem), ("circle", _circle_problem)):
                for element in _children(area, local):
                    text = _text(element)
                    problem = check(text) if text.strip() else None
                    if problem is not None:
                        yield location(element, alert), problem


@rule(RULE_SET, "CAP-06", "expires is after effective, or after sent when there is no effective", _ERROR_THEN_WARNING)
def expires_after_start(root: object) -> Iterator[RuleViolation]:
    alert = _alert(root)
    if alert is None:
        return
    sent = cap_timestamp(_text(alert.find(_q("sent"))))
    for info in _children(alert, "info"):
        expires_element = info.find(_q("expires"))
        expires = cap_timestamp(_text(expires_element))
        effective_element = info.find(_q("effective"))
        start, named = (
            (sent, "sent") if effective_element is None else (cap_timestamp(_text(effective_element)), "effective")
        )
        if expires_element is not None and expires is not None and start is not None and expires <= start:
            yield location(expires_element, alert), f"expires {_text(expires_element)} is not after {named}"


@rule(RULE_SET, "CAP-07", "no optional element is present but empty", _ERROR_THEN_WARNING)
def no_empty_optional_element(root: object) -> Iterator[RuleViolation]:
    alert = _alert(root)
    if alert is None:
        return
    for element in alert.iter(*(_q(parent) for parent in _OPTIONAL)):
        for local in _OPTIONAL[etree.QName(element).localname]:
            for child in _children(element, local):
                has_elements = any(isinstance(grandchild.tag, str) for grandchild in child)
                if not has_elements and not _text(child).strip():
                    yield location(child, alert), f"{local} is present but empty"


def _areas(alert: etree._Element) -> Iterator[etree._Element]:
    for info in _children(alert, "info"):
        yield from _children(info, "area")


@rule(RULE_SET, "CAP-08", "ceiling is present only together with altitude", _ERROR_SINCE_1_1)
def ceiling_needs_altitude(root: object) -> Iterator[RuleViolation]:
    alert = _alert(root)
    if alert is None:
        return
    for area in _areas(alert):
        ceilings = _children(area, "ceiling")
        if ceilings and not _children(area, "altitude"):
            yield location(ceilings[0], alert), "ceiling may only be used in combination with altitude"


@rule(RULE_SET, "CAP-09", "altitude is not greater than ceiling", _ERROR_SINCE_1_1)
def altitude_not_above_ceiling(root: object) -> Iterator[RuleViolation]:
    alert = _alert(root)
    if alert is None:
        return
    for area in _areas(alert):
        altitude, ceiling = area.find(_q("altitude")), area.find(_q("ceiling"))
        if altitude is None or ceiling is None:
            continue
        low, high = _number(_text(altitude).strip()), _number(_text(ceiling).strip())
        if low is not None and high is not None and low > high:
            yield location(altitude, alert), f"altitude {low} is above ceiling {high} (altitude is the lower bound)"


def uri_problem(text: str, relative_allowed: bool) -> str | None:
    """Why ``text`` is not an absolute URI (or, when ``relative_allowed``, a relative reference), or None."""
    value = text.strip()  # xs:anyURI collapses surrounding whitespace
    allowed = _URI_CHARACTERS.match(value)
    if allowed is None or allowed.end() != len(value):
        bad = value[allowed.end() if allowed else 0]
        return f"{value[:80]!r} is not a URI: {bad!r} must be %-escaped"
    scheme = _SCHEME.match(value)
    if scheme is None:
        return None if relative_allowed else f"{value[:80]!r} is not an absolute URI (it has no scheme)"
    rest = value[scheme.end() :]
    if not rest:
        return f"{value[:80]!r} names a scheme and nothing else"
    if scheme.group().lower()[:-1] in _AUTHORITY_SCHEMES and not re.match(r"//[^/?#]", rest):
        return f"{value[:80]!r} is not a full URI: a {scheme.group()[:-1]} URI names a host (//host/...)"
    return None


@rule(RULE_SET, "CAP-10", "web is a full absolute URI", _ERROR_SINCE_1_1)
def web_is_absolute(root: object) -> Iterator[RuleViolation]:
    alert = _alert(root)
    if alert is None:
        return
    for info in _children(alert, "info"):
        for element in _children(info, "web"):
            text = _text(element)
            problem = uri_problem(text, relative_allowed=False) if text.strip() else None
            if problem is not None:
                yield location(element, alert), f"web: {problem}"


@rule(RULE_SET, "CAP-11", "a resource's uri is absolute, or relative only beside a derefUri", _ERROR_SINCE_1_1)
def resource_uri_resolvable(root: object) -> Iterator[RuleViolation]:
    alert = _alert(root)
    if alert is None:
        return
    for info in _children(alert, "info"):
        for resource in _children(info, "resource"):
            has_content = any(_text(deref).strip() for deref in _children(resource, "derefUri"))
            for element in _children(resource, "uri"):
                text = _text(element)
                if not text.strip():
                    continue
                problem = uri_problem(text, relative_allowed=has_content)
                if problem is not None:
                    why = "" if has_content or _SCHEME.match(text.strip()) else " and the resource carries no derefUri"
                    yield location(element, alert), f"uri: {problem}{why}"


def _base64_problem(text: str) -> str | None:
    compact = "".join(text.split())  # whitespace between groups (line breaks, RFC 2045) is allowed
    if not _BASE64.fullmatch(compact):
        bad = next((c for c in compact if not (c.isascii() and (c.isalnum() or c in "+/="))), None)
        if bad is not None:
            return f"derefUri holds {bad!r}, which is not in the base-64 alphabet (RFC 2045)"
        return f"derefUri is not base-64: {len(compact)} characters, or padding out of place"
    try:
        binascii.a2b_base64(compact.encode(), strict_mode=True)
    except binascii.Error as exc:
        return f"derefUri is not base-64: {exc}"
    return None


@rule(RULE_SET, "CAP-12", "derefUri is base-64 data", _ERROR_SINCE_1_1)
def deref_uri_is_base64(root: object) -> Iterator[RuleViolation]:
    alert = _alert(root)
    if alert is None:
        return
    for info in _children(alert, "info"):
        for resource in _children(info, "resource"):
            for element in _children(resource, "derefUri"):
                text = _text(element)
                problem = _base64_problem(text) if text.strip() else None
                if problem is not None:
                    yield location(element, alert), problem
