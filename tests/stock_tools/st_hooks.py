"""Schemathesis hooks for ``fixtures/openapi/netcode-v1.yaml`` (loaded by ``tests/stock_tools/schemathesis.toml``).

Schemathesis generates bodies from JSON Schema. Three kinds of body are beyond what a schema can say, and for
each this file does the least that lets every check stay on (docs/decisions-openapi.md):

* **Binary parts** (``application/vnd.3gpp.mcdata-signalling``, ``-payload``): Schemathesis has no serializer
  for them; the ones below put a generated value on the wire as raw octets, as the binding carries them.
* **Positive XML and multipart bodies.** The document declares an XML message as an opaque string
  (``format: binary``, so that no tool wraps it in an element of its own), and an SDS as ordered parts. A
  string schema cannot state "a CAP 1.2 alert valid against the OASIS XSD", nor an object schema the order of
  parts, so what Schemathesis generates as *valid* is random octets. A positive case whose body is not a valid
  message of the operation's format is given one of the catalog's valid samples of that format instead (a
  negative case keeps its random octets: refusing them is what the checks expect). Documented examples that
  are valid messages are sent as they are.
* **Floor packets** (``application/vnd.netcode.mcptt-floor``, ``format: binary``) go as raw octets; a positive
  one that is not a valid packet is one of the catalog's valid samples, and a floor session's participants get
  distinct SSRCs (the server tells them apart by SSRC, which no JSON Schema keyword can require).
* **Rules across members** (IR-02 unique subject ids, IR-03 links name subjects, IR-04 and IR-05 dates against
  ``created``): JSON Schema compares no two values. A positive intelligence report that breaks one of them is
  repaired (ids made unique, links pointed at subjects, dates brought back to ``created``), so that the
  positive-data check still holds the receiver to accepting every report the profile calls valid.
"""

from __future__ import annotations

import copy
import datetime as dt
import email
import hashlib
import json
from pathlib import Path
from typing import Any

import schemathesis
import yaml
from schemathesis import GenerationMode
from schemathesis.transport.requests import REQUESTS_TRANSPORT
from schemathesis.transport.serialization import serialize_xml

from harness.catalog import load_catalog
from harness.families.intel_report.rules import parse_date_time
from harness.validation.validator import validator_for

CATALOG = load_catalog()
BINARY_PARTS = (
    "application/vnd.3gpp.mcdata-signalling",
    "application/vnd.3gpp.mcdata-payload",
    "application/vnd.netcode.mcptt-floor",
)
FLOOR_FORMAT = "mcptt-floor/1.0"
BOUNDARY = "netcode-part-boundary"
DOCUMENT = yaml.safe_load((Path(__file__).parents[2] / "fixtures/openapi/netcode-v1.yaml").read_text(encoding="utf-8"))
FORMATS_BY_OPERATION = {
    ("POST", "/netcode/v1/intel-reports", "xml"): "intel-report-xml/1.0",
    ("POST", "/netcode/v1/alerts", "xml"): "cap/1.2",
    ("POST", "/netcode/v1/distributions", "xml"): "edxl-de/1.0",
    ("POST", "/netcode/v1/esn/emergency-alerts", "xml"): "mcptt-info/1.0",
    ("POST", "/netcode/v1/esn/location-info", "xml"): "mcptt-location-info/1.0",
    ("POST", "/netcode/v1/esn/sds", "multipart"): "mcdata-sds/1.0",
    ("POST", "/netcode/v1/esn/fd", "multipart"): "mcdata-fd/1.0",
}


def _octets(value: Any, media_type: str) -> bytes:
    """A part's octets: bytes as they are; text as UTF-8 for XML, one octet per character for a binary part."""
    if isinstance(value, bytes):
        return value
    data = getattr(value, "data", None)  # schemathesis's Binary wrapper
    if isinstance(data, bytes):
        return data
    text = value if isinstance(value, str) else json.dumps(value)
    if media_type in BINARY_PARTS:
        try:  # text below U+0100 stands for octets (how map_case carries a sample's binary part in a string)
            return text.encode("latin-1")
        except UnicodeEncodeError:
            pass
    return text.encode("utf-8", "surrogatepass")


@REQUESTS_TRANSPORT.serializer("multipart/form-data", "multipart/mixed")
def multipart_in_document_order(ctx: Any, value: Any) -> dict[str, Any]:
    """``multipart/mixed`` in the order the document lists the parts (its ``encoding``), each with its media type.

    Schemathesis's own serializer writes the parts in the order of the generated object's keys, labels them
    ``form-data`` and sends a binary part given as text in UTF-8; an SDS is an ordered sequence of parts
    (TS 24.282) whose binary parts are raw octets.
    """
    if isinstance(value, bytes):
        return {"data": value}
    operation = DOCUMENT["paths"].get(ctx.case.path, {}).get(ctx.case.method.lower(), {})
    encodings = operation.get("requestBody", {}).get("content", {}).get("multipart/mixed", {}).get("encoding", {})
    fields = value if isinstance(value, dict) else {"body": value}
    names = [(name, encoding["contentType"]) for name, encoding in encodings.items() if name in fields]
    names += [(name, "application/octet-stream") for name in fields if name not in encodings]
    body = b"".join(
        f"--{BOUNDARY}\r\nContent-Type: {media_type}\r\n\r\n".encode() + _octets(fields[name], media_type) + b"\r\n"
        for name, media_type in names
    )
    return {
        "data": body + f"--{BOUNDARY}--\r\n".encode(),
        "headers": {"Content-Type": f"multipart/mixed; boundary={BOUNDARY}"},
    }


@schemathesis.serializer("application/vnd.netcode.mcptt-floor")
def raw_octets(ctx: Any, value: Any) -> bytes:
    """A floor packet (``format: binary``) goes as raw octets, as the binding carries it."""
    return _octets(value, "application/vnd.netcode.mcptt-floor")


@schemathesis.serializer("application/xml", "text/xml")
def xml_text(ctx: Any, value: Any) -> bytes:
    """An XML message given as text goes as UTF-8, the encoding it declares (``requests`` would send ISO-8859-1).

    Anything else (a value generated for a negative case) goes as Schemathesis's own XML serializer writes it.
    """
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, bytes):
        return value
    data: bytes = serialize_xml(ctx.case, value)["data"]
    return data


def _acceptable(path: str, body: Any) -> bool:
    """Whether a valid message is one the operation takes: emergency-alerts takes an alert or a cancel, not the
    acknowledgement that answers them (an mcptt-info all the same); an SDS or FD body, not a notification (under
    esn.md 1.1 a notification answering nothing the system sent is refused, DSP-01)."""
    if path in ("/netcode/v1/esn/sds", "/netcode/v1/esn/fd") and isinstance(body, bytes):
        content_type, entity = _entity(body)
        signalling = _sds_parts(content_type, entity).get("signalling", "")
        return not signalling or ord(signalling[0]) & 0x3F not in (5, 6, 9)
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    return path != "/netcode/v1/esn/emergency-alerts" or "<alert-ind>" in text


def _pick(choices: list[Any], seed: Any) -> Any:
    """One of ``choices``, the same one for the same generated value (runs are deterministic)."""
    digest = hashlib.sha256(repr(seed).encode("utf-8", "surrogatepass")).digest()
    return choices[int.from_bytes(digest[:4], "big") % len(choices)]


def _valid_samples(format_id: str) -> list[bytes]:
    return [Path(sample.path).read_bytes() for sample in CATALOG.format(format_id).valid_samples]


def _sample(format_id: str, name: str) -> bytes:
    (path,) = [sample.path for sample in CATALOG.format(format_id).valid_samples if Path(sample.path).name == name]
    return Path(path).read_bytes()


def _is_valid(format_id: str, data: Any) -> bool:
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if not isinstance(data, bytes):
        return False
    return validator_for(CATALOG.format(format_id)).validate(data).valid


def _entity(data: bytes) -> tuple[str, bytes]:
    """A stored MIME entity (``Content-Type:`` header line, empty line, body) as (Content-Type, body)."""
    if data.startswith(b"--"):  # no header: the boundary is the first line's
        boundary = data[2:].split(b"\r\n", 1)[0].strip().decode("latin-1")
        return f"multipart/mixed; boundary={boundary}", data
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-type":
            return value.strip(), body
    raise ValueError("a stored SDS without a Content-Type line")


SDS_PART_NAMES = {
    "application/vnd.3gpp.mcdata-info+xml": "mcdata-info",
    "application/vnd.3gpp.mcdata-signalling": "signalling",
    "application/vnd.3gpp.mcdata-payload": "payload",
    "application/resource-lists+xml": "recipients",
}


def _sds_parts(content_type: str, body: bytes) -> dict[str, str]:
    """A stored SDS as the document's ``SdsParts`` object, in wire order; binary parts as text below U+0100."""
    message = email.message_from_bytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    parts: dict[str, str] = {}
    for part in message.get_payload():
        data = part.get_payload(decode=True)
        name = SDS_PART_NAMES[part.get_content_type()]
        parts[name] = data.decode("utf-8") if name in ("mcdata-info", "recipients") else data.decode("latin-1")
    return parts


def _emergency_alert_with_location() -> dict[str, str]:
    """The mcptt-info alert and a location-info Report of ReportType Emergency, in that order."""
    info = _sample("mcptt-info/1.0", "emergency-alert.xml")
    report = _sample("mcptt-location-info/1.0", "report-emergency.xml")
    return {"mcptt-info": info.decode("utf-8"), "location-info": report.decode("utf-8")}


def _repair_report(report: dict[str, Any]) -> None:
    """Bring a schema-valid report within IR-02..IR-05, changing nothing that already is."""
    subjects = [subject for subject in report.get("subjects", []) if isinstance(subject, dict)]
    seen: set[str] = set()
    for index, subject in enumerate(subjects):  # IR-02
        candidate, suffix = subject.get("id"), 0
        while not isinstance(candidate, str) or candidate in seen:
            candidate, suffix = f"s{index}-{suffix}", suffix + 1
        subject["id"] = candidate
        seen.add(candidate)
    ids = [subject["id"] for subject in subjects]
    links = report.get("links")
    if isinstance(links, list):  # IR-03
        for link in links:
            if link.get("from") not in seen or link.get("to") not in seen or link.get("from") == link.get("to"):
                link["from"], link["to"] = (ids[0], ids[1]) if len(ids) > 1 else (None, None)
        report["links"] = [link for link in links if link.get("from") is not None]
    created = parse_date_time(report.get("created"))
    if created is None:
        return
    today = created.date().isoformat()
    for subject in subjects:  # IR-04
        if subject.get("type") == "person" and str(subject.get("dateOfBirth", "")) > today:
            subject["dateOfBirth"] = today
        occurred = parse_date_time(subject.get("occurred")) if subject.get("type") == "event" else None
        if occurred is not None and occurred - dt.timedelta(minutes=5) > created:
            subject["occurred"] = report["created"]
    if isinstance(report.get("reviewBy"), str) and report["reviewBy"] < today:  # IR-05
        report["reviewBy"] = today


def _repair_floor_session(session: dict[str, Any]) -> None:
    """Participants' SSRCs made distinct (the server tells participants apart by SSRC; JSON Schema compares no
    two values): a repeated one becomes the next SSRC nobody in the session uses."""
    participants = session.get("participants")
    if not isinstance(participants, list):
        return
    used: set[int] = set()
    for participant in participants:
        ssrc = participant.get("ssrc") if isinstance(participant, dict) else None
        if not isinstance(ssrc, int) or isinstance(ssrc, bool):
            continue
        while ssrc in used:
            ssrc = (ssrc + 1) % (1 << 32)
        participant["ssrc"] = ssrc
        used.add(ssrc)


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    """A positive case of the Coverage, Fuzzing and Stateful phases made a valid message (see the module)."""
    meta = case.meta
    if meta is None or meta.generation.mode != GenerationMode.POSITIVE:
        return case
    return _valid_message(case)


@schemathesis.hook
def before_add_examples(context: Any, examples: list[Any]) -> None:
    """The Examples phase's cases (documented examples, or filled in where there are none) made valid messages."""
    for case in examples:
        _valid_message(case)


def _valid_message(case: Any) -> Any:
    if case.media_type is None:
        return case
    media_type = case.media_type.lower()
    if case.path == "/netcode/v1/intel-reports" and media_type.endswith("+json") and isinstance(case.body, dict):
        # A copy: cases of one phase share parts of their bodies (a coverage variant keeps its template's `links`),
        # and a repair made for one case must not change another after its own repair.
        report = copy.deepcopy(case.body)
        _repair_report(report)
        if report != case.body:
            case.body = report
        return case
    if case.path == "/netcode/v1/esn/emergency-alerts" and media_type.startswith("multipart/"):
        case.body = _emergency_alert_with_location()
        return case
    if case.path == "/netcode/v1/_test/floor-sessions/{session}" and isinstance(case.body, dict):
        session = copy.deepcopy(case.body)  # a copy, as for a report: cases share parts of their bodies
        _repair_floor_session(session)
        if session != case.body:
            case.body = session
        return case
    if case.path == "/netcode/v1/esn/floor/{session}":
        negative = case.meta is not None and case.meta.generation.mode != GenerationMode.POSITIVE
        if not negative and not _is_valid(FLOOR_FORMAT, _octets(case.body, media_type)):  # a negative one stays
            # Text of one character per octet (as a binary part's sample is carried): a string to Schemathesis's
            # re-check of the changed body, which counts bytes as schema-violating; raw_octets sends the octets.
            case.body = _pick(_valid_samples(FLOOR_FORMAT), repr(case.body)).decode("latin-1")
        return case
    kind = "multipart" if media_type.startswith("multipart/") else "xml" if media_type.endswith("xml") else ""
    format_id = FORMATS_BY_OPERATION.get((case.method.upper(), case.path, kind))
    if format_id is None:
        return case
    if kind == "xml":
        if not _is_valid(format_id, case.body) or not _acceptable(case.path, case.body):
            choices = [sample for sample in _valid_samples(format_id) if _acceptable(case.path, sample)]
            case.body = _pick(choices, case.body).decode("utf-8")
    else:
        choices = [sample for sample in _valid_samples(format_id) if _acceptable(case.path, sample)]
        case.body = _sds_parts(*_entity(_pick(choices, case.body)))
    return case
