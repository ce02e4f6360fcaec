"""The two renditions of ``netcode.intel-report/1.0``: JSON model <-> XML.

The JSON rendition is the model: a ``dict`` shaped like the JSON document
(``fixtures/formats/intel-report/1.0/schema.json``). The XML rendition
(``fixtures/formats/intel-report-xml/1.0/schema.xsd``) carries the same
information in namespace :data:`NS`; this module converts between the two and
says when two documents carry "the same content".

What the spec leaves to us, decided here:

* ``extensions`` never travel between renditions (the spec says so): they are
  dropped by :func:`to_xml` and by :func:`from_xml`, and ignored by
  :func:`content_of`.
* JSON ``givenNames: []`` / ``aliases: []`` have no XML form (the elements just
  repeat zero times), so an empty array equals an absent one; the same holds for
  ``links`` (``<links/>`` and no ``links`` element are both read back, as ``[]``
  and as absent, and compare equal).
* Text is significant: it is written and read back byte for byte, never trimmed
  (leading and trailing spaces, tabs and newlines included). Only the values
  whose XSD type collapses whitespace (numbers, dates) are trimmed when read.
* Dates and date-times keep their lexical form; ``Z`` and ``+00:00`` are two
  different contents (only numbers compare by value, as the spec says).
* Numbers: ``lat``/``lon`` are written with ``repr`` (floats) or ``str``
  (integers) and read back as ``int`` when the lexical form is an integer,
  ``float`` otherwise; :func:`content_of` turns them into floats so that ``52``
  and ``52.0`` are one latitude.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from lxml import etree

from harness.families.renditions import Family

__all__ = ["NS", "PROFILE", "RENDITION", "content_of", "from_xml", "to_xml", "xpath"]

NS = "urn:netcode:intel-report:1.0"
PROFILE = "netcode.intel-report/1.0"

_INTEGER = re.compile(r"[+-]?[0-9]+")
_ROOT = "/ir:intelReport"
_TOP_ELEMENTS = ("reportId", "created", "classification", "text", "reviewBy", "extensions")
_ORIGINATOR = ("force", "system", "officerId")
_GRADING = ("source", "intelligence", "handling", "conditions")
_SUBJECT_ELEMENTS = ("familyName", "dateOfBirth", "vrm", "description", "address", "occurred")
_SUBJECT_ATTRIBUTES = ("id", "objectType")
_REPEATED = {"givenNames": "givenName", "aliases": "alias"}
_LINK_ATTRIBUTES = ("from", "to", "relation")
_EMPTY_MEANS_ABSENT = ("givenNames", "aliases", "links")


def _q(local: str) -> str:
    """The Clark name ``{NS}local`` of an element of the profile."""
    return f"{{{NS}}}{local}"


# --------------------------------------------------------------------------- JSON -> XML


def _number(value: Any) -> str:
    """The XML lexical form of a JSON number: ``repr`` of a float, ``str`` of an int."""
    if isinstance(value, bool):
        raise TypeError(f"a number was expected, not {value!r}")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (int, Decimal)):
        return str(value)
    raise TypeError(f"a number was expected, not {value!r}")


def _add(parent: etree._Element, local: str, text: str | None = None) -> etree._Element:
    """Append a profile element ``local`` to ``parent``, with ``text`` if given."""
    element = etree.SubElement(parent, _q(local))
    if text is not None:
        element.text = text
    return element


def _add_if(parent: etree._Element, source: dict[str, Any], member: str) -> None:
    """Append element ``member`` holding ``source[member]`` when the member is present."""
    if member in source:
        _add(parent, member, str(source[member]))


def _subject_to_xml(parent: etree._Element, subject: dict[str, Any]) -> None:
    """Append the XML form of one subject (its element name is the JSON ``type``)."""
    kind = str(subject["type"])
    element = _add(parent, kind)
    element.set("id", str(subject["id"]))
    if kind == "person":
        _add(element, "familyName", str(subject["familyName"]))
        for name in subject.get("givenNames", []):
            _add(element, "givenName", str(name))
        _add_if(element, subject, "dateOfBirth")
        for alias in subject.get("aliases", []):
            _add(element, "alias", str(alias))
    elif kind == "object":
        element.set("objectType", str(subject["objectType"]))
        _add_if(element, subject, "vrm")
        _add_if(element, subject, "description")
    elif kind == "location":
        _add_if(element, subject, "address")
        if "point" in subject:
            point = _add(element, "point")
            point.set("lat", _number(subject["point"]["lat"]))
            point.set("lon", _number(subject["point"]["lon"]))
    elif kind == "event":
        _add(element, "occurred", str(subject["occurred"]))
        _add_if(element, subject, "description")
    else:
        raise ValueError(f"unknown subject type {kind!r}")


def to_xml(doc: dict[str, Any], *, prefix: str | None = None) -> bytes:
    """Render a JSON-model report as UTF-8 XML bytes, with an XML declaration.

    ``extensions`` are dropped (they are not carried between renditions).
    ``prefix=None`` puts the profile namespace as the default namespace; a
    prefix such as ``"ir"`` writes ``ir:``-prefixed elements instead. The model
    is assumed to be valid against the JSON schema; text is written unchanged.
    """
    nsmap: dict[str | None, str] = {prefix: NS}
    root = etree.Element(_q("intelReport"), nsmap=nsmap)  # type: ignore[arg-type]
    root.set("profile", str(doc.get("profile", PROFILE)))
    _add(root, "reportId", str(doc["reportId"]))
    _add(root, "created", str(doc["created"]))

    originator = _add(root, "originator")
    for member in _ORIGINATOR:
        _add_if(originator, doc["originator"], member)

    _add(root, "classification", str(doc["classification"]))

    grading_in = doc["grading"]
    grading = _add(root, "grading")
    _add(grading, "source", str(grading_in["source"]))
    _add(grading, "intelligence", str(int(grading_in["intelligence"])))
    _add(grading, "handling", str(grading_in["handling"]))
    _add_if(grading, grading_in, "conditions")

    subjects = _add(root, "subjects")
    for subject in doc["subjects"]:
        _subject_to_xml(subjects, subject)

    if "links" in doc:
        links = _add(root, "links")
        for link_in in doc["links"]:
            link = _add(links, "link")
            for member in _LINK_ATTRIBUTES:
                link.set(member, str(link_in[member]))

    _add(root, "text", str(doc["text"]))
    _add_if(root, doc, "reviewBy")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# --------------------------------------------------------------------------- XML -> JSON


def _text(element: etree._Element) -> str:
    """The string value of a text-only element, exactly (comments and PIs skipped, nothing trimmed)."""
    parts = [element.text or ""]
    parts.extend(child.tail or "" for child in element)
    return "".join(parts)


def _child(parent: etree._Element, local: str) -> etree._Element | None:
    """The first child element ``{NS}local`` of ``parent``, or None."""
    return parent.find(_q(local))


def _children(parent: etree._Element, local: str) -> list[etree._Element]:
    """All child elements ``{NS}local`` of ``parent``, in document order."""
    return list(parent.iterchildren(_q(local)))


def _required_text(parent: etree._Element, local: str) -> str:
    """The text of the required child ``local``; raise ValueError when it is missing."""
    element = _child(parent, local)
    if element is None:
        raise ValueError(f"element {local!r} is missing")
    return _text(element)


def _copy_text(parent: etree._Element, local: str, target: dict[str, Any], *, trim: bool = False) -> None:
    """Set ``target[local]`` to the text of child ``local`` when that child exists."""
    element = _child(parent, local)
    if element is not None:
        value = _text(element)
        target[local] = value.strip() if trim else value


def _parse_number(lexical: str) -> int | float:
    """An XML number as a JSON number: ``int`` when the lexical form is an integer, else ``float``."""
    value = lexical.strip()
    if _INTEGER.fullmatch(value):
        return int(value)
    return float(value)


def _required_attribute(element: etree._Element, name: str) -> str:
    """The value of a required attribute; raise ValueError when it is missing."""
    value = element.get(name)
    if value is None:
        raise ValueError(f"attribute {name!r} is missing")
    return value


def _subject_from_xml(element: etree._Element) -> dict[str, Any]:
    """The JSON model of one subject element."""
    kind = etree.QName(element).localname
    subject: dict[str, Any] = {"id": _required_attribute(element, "id"), "type": kind}
    if kind == "person":
        subject["familyName"] = _required_text(element, "familyName")
        given = [_text(e) for e in _children(element, "givenName")]
        if given:
            subject["givenNames"] = given
        _copy_text(element, "dateOfBirth", subject, trim=True)
        aliases = [_text(e) for e in _children(element, "alias")]
        if aliases:
            subject["aliases"] = aliases
    elif kind == "object":
        subject["objectType"] = _required_attribute(element, "objectType")
        _copy_text(element, "vrm", subject)
        _copy_text(element, "description", subject)
    elif kind == "location":
        _copy_text(element, "address", subject)
        point = _child(element, "point")
        if point is not None:
            subject["point"] = {
                "lat": _parse_number(_required_attribute(point, "lat")),
                "lon": _parse_number(_required_attribute(point, "lon")),
            }
    elif kind == "event":
        subject["occurred"] = _required_text(element, "occurred").strip()
        _copy_text(element, "description", subject)
    else:
        raise ValueError(f"unknown subject element {kind!r}")
    return subject


def from_xml(root: etree._Element) -> dict[str, Any]:
    """Convert an XML-rendition element tree into the JSON model.

    The tree is assumed to be valid against the XSD (a missing required part
    raises ValueError). Names are matched by namespace, so any prefix (or the
    default namespace) works. The ``extensions`` element is not converted.
    ``givenNames`` and ``aliases`` appear only when at least one such element
    exists; ``links`` appears (possibly empty) when the ``links`` element does.
    """
    if root.tag != _q("intelReport"):
        raise ValueError(f"root element is {root.tag!r}, not {_q('intelReport')!r}")
    doc: dict[str, Any] = {
        "reportId": _required_text(root, "reportId"),
        "profile": root.get("profile", PROFILE),
        "created": _required_text(root, "created").strip(),
    }

    originator_el = _child(root, "originator")
    if originator_el is None:
        raise ValueError("element 'originator' is missing")
    originator: dict[str, Any] = {}
    for member in _ORIGINATOR:
        _copy_text(originator_el, member, originator)
    doc["originator"] = originator

    doc["classification"] = _required_text(root, "classification")

    grading_el = _child(root, "grading")
    if grading_el is None:
        raise ValueError("element 'grading' is missing")
    grading: dict[str, Any] = {
        "source": _required_text(grading_el, "source"),
        "intelligence": int(_required_text(grading_el, "intelligence").strip()),
        "handling": _required_text(grading_el, "handling"),
    }
    _copy_text(grading_el, "conditions", grading)
    doc["grading"] = grading

    subjects_el = _child(root, "subjects")
    if subjects_el is None:
        raise ValueError("element 'subjects' is missing")
    doc["subjects"] = [
        _subject_from_xml(child) for child in subjects_el.iterchildren(etree.Element) if _in_profile(child)
    ]

    links_el = _child(root, "links")
    if links_el is not None:
        doc["links"] = [
            {member: _required_attribute(link, member) for member in _LINK_ATTRIBUTES}
            for link in _children(links_el, "link")
        ]

    doc["text"] = _required_text(root, "text")
    _copy_text(root, "reviewBy", doc, trim=True)
    return doc


def _in_profile(element: etree._Element) -> bool:
    """Whether ``element`` is an element in the profile's namespace."""
    return isinstance(element.tag, str) and etree.QName(element).namespace == NS


# --------------------------------------------------------------------------- content


def _as_float(value: Any) -> Any:
    """A JSON number as a float (bools and non-numbers are returned unchanged)."""
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return float(value)
    return value


def _subject_content(subject: Any) -> Any:
    """The normal form of one subject."""
    if not isinstance(subject, dict):
        return subject
    out: dict[str, Any] = {}
    for key, value in subject.items():
        if key in _EMPTY_MEANS_ABSENT and value == []:
            continue
        if key == "point" and isinstance(value, dict):
            out[key] = {k: _as_float(v) for k, v in value.items()}
        elif isinstance(value, list):
            out[key] = list(value)
        else:
            out[key] = value
    return out


def content_of(doc: dict[str, Any]) -> dict[str, Any]:
    """The normal form of a JSON-model report, for comparing content.

    Drops ``extensions`` and empty ``givenNames``/``aliases``/``links`` arrays;
    turns ``lat``/``lon`` into floats and an integral ``intelligence`` into an
    int, so that numbers compare by value. Two renditions carry the same
    content iff the ``content_of`` of their models are equal. The input is not
    modified.
    """
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key == "extensions":
            continue
        if key in _EMPTY_MEANS_ABSENT and value == []:
            continue
        if key == "subjects" and isinstance(value, list):
            out[key] = [_subject_content(subject) for subject in value]
        elif key == "links" and isinstance(value, list):
            out[key] = [dict(link) if isinstance(link, dict) else link for link in value]
        elif key == "grading" and isinstance(value, dict):
            grading = dict(value)
            level = grading.get("intelligence")
            if isinstance(level, (int, float, Decimal)) and not isinstance(level, bool) and level == int(level):
                grading["intelligence"] = int(level)
            out[key] = grading
        elif isinstance(value, dict):
            out[key] = dict(value)
        else:
            out[key] = value
    return out


# --------------------------------------------------------------------------- locations


def _index(step: str | int) -> int | None:
    """A 0-based array index as a 1-based XPath position, or None if ``step`` is no index."""
    if isinstance(step, int) and not isinstance(step, bool) and step >= 0:
        return step + 1
    return None


def _subject_xpath(base: str, rest: tuple[str | int, ...]) -> str:
    """The XPath of a location inside the subject element at ``base``."""
    if not rest:
        return base
    member = rest[0]
    if member in _SUBJECT_ATTRIBUTES:
        return f"{base}/@{member}"
    if member in _SUBJECT_ELEMENTS:
        return f"{base}/ir:{member}"
    if isinstance(member, str) and member in _REPEATED:
        position = _index(rest[1]) if len(rest) > 1 else None
        # The array itself has no element of its own: its nearest node is the subject.
        return base if position is None else f"{base}/ir:{_REPEATED[member]}[{position}]"
    if member == "point":
        point = f"{base}/ir:point"
        if len(rest) > 1 and rest[1] in ("lat", "lon"):
            return f"{point}/@{rest[1]}"
        return point
    return base  # "type" (the subject element itself) and unknown members


def xpath(path: tuple[str | int, ...]) -> str:
    """The XPath 1.0 expression of a JSON-model location in the XML rendition.

    ``path`` is a tuple of member names and 0-based array indices, as in
    ``("subjects", 2, "dateOfBirth")``; the result uses 1-based positions, as in
    ``/ir:intelReport/ir:subjects/*[3]/ir:dateOfBirth``. The prefix ``ir`` is
    bound to :data:`NS` (evaluate with ``namespaces={"ir": NS}``); it names the
    namespace, not the prefix used in any document. A subject's ``id`` and
    ``objectType``, ``point``'s ``lat``/``lon`` and a link's ``from``/``to``/
    ``relation`` are attributes; a subject's ``type`` is the subject element
    itself; ``profile`` is ``/ir:intelReport/@profile``. A member the XML has
    no node for (unknown, or an array such as ``givenNames`` as a whole) maps
    to its nearest known ancestor.
    """
    if not path:
        return _ROOT
    head, rest = path[0], path[1:]
    if head == "profile":
        return f"{_ROOT}/@profile"
    if head in _TOP_ELEMENTS:
        return f"{_ROOT}/ir:{head}"
    if head in ("originator", "grading"):
        base = f"{_ROOT}/ir:{head}"
        known = _ORIGINATOR if head == "originator" else _GRADING
        if rest and rest[0] in known:
            return f"{base}/ir:{rest[0]}"
        return base
    if head == "links":
        base = f"{_ROOT}/ir:links"
        position = _index(rest[0]) if rest else None
        if position is None:
            return base
        link = f"{base}/ir:link[{position}]"
        if len(rest) > 1 and rest[1] in _LINK_ATTRIBUTES:
            return f"{link}/@{rest[1]}"
        return link
    if head == "subjects":
        base = f"{_ROOT}/ir:subjects"
        position = _index(rest[0]) if rest else None
        if position is None:
            return base
        return _subject_xpath(f"{base}/*[{position}]", rest[1:])
    return _ROOT


RENDITION = Family(
    name="intel-report",
    namespace=NS,
    prefix="ir",
    from_xml=from_xml,
    to_xml=to_xml,
    xpath=xpath,
    content_of=content_of,
)
"""The intelligence report's one content model as JSON and XML (declared in the family's ``renditions``)."""
