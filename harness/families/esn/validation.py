"""Validation of the binary MCData formats (syntax ``binary``) and of SDS bodies (syntax ``multipart``).

The ESN family declares both syntaxes (:data:`BINARY`, :data:`MULTIPART`) in its
``FormatFamily.syntaxes``; the validator finds them through the registry.

- ``binary`` (``mcdata-signalling/1.0``, ``mcdata-payload/1.0``): the format's
  schema file (``layout.yaml``) names the message types the part carries; the
  octets are decoded by :mod:`harness.families.esn.mcdata`. Findings carry the
  codec's rule (``MCD-01`` ...), ``MCD-10`` for a protected message (not
  decoded) and ``MCD-11`` for a message type the part does not carry.
- ``multipart`` (``mcdata-sds/1.0``): the data is a MIME entity (a
  ``Content-Type`` header line, an empty line, the body; or a bare body that
  starts with its delimiter line), split by :mod:`harness.codecs.multipart`
  (rules ``MCS-01`` ...); then the mcdata-info part is checked against its XSD
  (rule ``schema``), the binary parts as above, and the resource-lists part for
  its root element (rule ``schema``). Callers that hold the Content-Type apart
  from the body (an HTTP or SIP receiver) use ``sds_validator(fmt).validate(content_type, body)``.

Locations (every one starts with ``/``): ``/octet/N`` for octet N (0-based) of
a binary message; ``/`` for a multipart body as a whole; ``/part/K`` for its
K-th part (1-based), ``/part/K/octet/N`` for an octet of a binary part and
``/part/K`` followed by an XPath (``/part/1/*[local-name()='mcdatainfo']/...``)
for an element of an XML part.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import uuid
from pathlib import Path
from typing import Any

import yaml
from lxml import etree

from harness.codecs.multipart import MultipartError, parse_media_type, parse_multipart, read_entity
from harness.families.esn.body import (
    MCDATA_INFO,
    MCDATA_PAYLOAD,
    MCDATA_SIGNALLING,
    RESOURCE_LISTS,
    parse_body,
)
from harness.families.esn.fd import fd_findings, read_metadata
from harness.families.esn.mcdata import (
    CodecError,
    Fault,
    FdSignalling,
    Located,
    Location,
    LocationAltitude,
    MessageType,
    Protected,
    decode_located,
    message_type_name,
    table_version,
)
from harness.families.esn.rules import fd_request_type_in_1_0
from harness.model import CatalogError, Finding, Format
from harness.profile import MCDATA_INFO_NS
from harness.validation.validator import (
    XPATH_PREFIXES,
    Syntax,
    SyntaxValidator,
    Validation,
    element_xpath,
)
from harness.validation.xmlsafe import UnsafeXml, parse_xml

__all__ = [
    "BINARY",
    "MULTIPART",
    "REQUEST_TYPE_MISMATCH",
    "SdsValidator",
    "detect_entity",
    "detect_message",
    "explain",
    "message_findings",
    "sds_validator",
]

_RESOURCE_LISTS_ROOT = "{urn:ietf:params:xml:ns:resource-lists}resource-lists"


def _description(fmt: Format) -> dict[str, Any]:
    return _layout(fmt.schema_path)


@functools.lru_cache(maxsize=64)
def _layout(schema_path: str) -> dict[str, Any]:
    """A binary format's ``layout.yaml``, read once per process (content detection asks it of every file)."""
    try:
        document = yaml.safe_load(Path(schema_path).read_bytes())
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(f"{schema_path}: cannot read: {exc}".splitlines()[0]) from None
    if not isinstance(document, dict):
        raise CatalogError(f"{schema_path}: not a mapping")
    return document


def _message_types(value: Any, where: str) -> frozenset[int]:
    if not isinstance(value, list) or not value or not all(isinstance(item, int) for item in value):
        raise CatalogError(f"{where}: message_types must be a non-empty list of integers")
    return frozenset(value)


def message_verdict(
    data: bytes, allowed: frozenset[int], media_type: str, where: str = "", version: str | None = None
) -> tuple[list[Finding], list[Finding]]:
    """The errors and warnings of ``data`` as a message of ``allowed`` types for ``media_type``.

    ``where`` prefixes the ``/octet/N`` locations (``/part/2`` inside a multipart body); ``version`` is the
    version of esn.md whose tables and rules apply (None: the latest).
    """
    try:
        located = decode_located(data, version)
    except CodecError as exc:
        return [Finding(f"{where}/octet/{exc.offset}", str(exc.rule), exc.message)], []
    message = located.message
    kind = data[0] & 0x3F
    if kind not in allowed:
        expected = ", ".join(f"{t} ({message_type_name(t)})" for t in sorted(allowed))
        message_text = f"message type {kind} ({message_type_name(kind)}) is not carried as {media_type}: {expected}"
        return [Finding(f"{where}/octet/0", str(Fault.WRONG_PART), message_text)], []
    if isinstance(message, Protected):
        flags = " and ".join(
            n for n, on in (("protected", message.protected), ("authenticated", message.authenticated)) if on
        )
        text = f"{message_type_name(kind)} is {flags} (first octet 0x{data[0]:02X}): protected, not decoded"
        return [Finding(f"{where}/octet/0", str(Fault.PROTECTED), text)], []
    errors, warnings = fd_findings(located)
    return (
        [Finding(f"{where}/octet/{at}", rule, text) for at, rule, text in errors],
        [Finding(f"{where}/octet/{at}", rule, text) for at, rule, text in warnings],
    )


def message_findings(
    data: bytes, allowed: frozenset[int], media_type: str, where: str = "", version: str | None = None
) -> list[Finding]:
    """Why ``data`` is not a message of ``allowed`` types for ``media_type`` (its errors); empty when it is one."""
    return message_verdict(data, allowed, media_type, where, version)[0]


def binary_validator(fmt: Format) -> SyntaxValidator:
    """The validator of a binary MCData format whose ``layout.yaml`` lists its message types."""
    description = _description(fmt)
    if description.get("codec") != "mcdata":
        raise CatalogError(f"{fmt.schema_path}: unknown codec {description.get('codec')!r} (known: mcdata)")
    allowed = _message_types(description.get("message_types"), fmt.schema_path)
    version = fmt.rules_version

    def validate(data: bytes) -> Validation:
        errors, warnings = message_verdict(data, allowed, fmt.media_type, "", version)
        return Validation(fmt.id, tuple(errors), None, tuple(warnings))

    return validate


class SdsValidator:
    """The validator of an MCData body (an SDS, or an FD body), its parts described by the format's ``parts.yaml``
    (``body: fd`` for an FD body; an SDS otherwise)."""

    def __init__(self, fmt: Format) -> None:
        self.format = fmt
        self.version = fmt.rules_version
        description = _description(fmt)
        self.kind = str(description.get("body", "sds"))
        if self.kind not in ("sds", "fd"):
            raise CatalogError(f"{fmt.schema_path}: body {self.kind!r} is not sds or fd")
        parts = description.get("parts")
        if not isinstance(parts, list) or not all(isinstance(part, dict) for part in parts):
            raise CatalogError(f"{fmt.schema_path}: 'parts' must be a list of mappings")
        by_type = {str(part.get("media_type")): part for part in parts}
        try:
            self._signalling = _message_types(by_type[MCDATA_SIGNALLING].get("message_types"), fmt.schema_path)
            payload = by_type.get(MCDATA_PAYLOAD)
            self._payload = (
                _message_types(payload.get("message_types"), fmt.schema_path) if payload is not None else frozenset()
            )
            xsd_path = Path(fmt.schema_path).parent / str(by_type[MCDATA_INFO]["schema"])
        except KeyError as exc:
            raise CatalogError(f"{fmt.schema_path}: the part {exc} is not described") from None
        try:
            self._info_schema = etree.XMLSchema(parse_xml(xsd_path.read_bytes(), max_depth=256))
        except (OSError, UnsafeXml, etree.XMLSchemaParseError) as exc:
            raise CatalogError(f"{xsd_path}: unusable XSD: {exc}") from None

    def __call__(self, data: bytes) -> Validation:
        """Validate a stored MIME entity (Content-Type header, empty line, body)."""
        try:
            content_type, body = read_entity(data)
        except MultipartError as exc:
            return Validation(self.format.id, (Finding(exc.location, str(exc.rule), exc.message),))
        return self.validate(content_type, body)

    def validate(self, content_type: str, body: bytes) -> Validation:
        """Validate a body received with its ``content_type`` (which names the boundary)."""
        try:
            sds = parse_body(self.kind, content_type, body)
        except MultipartError as exc:
            return Validation(self.format.id, (Finding(exc.location, str(exc.rule), exc.message),))
        findings: list[Finding] = []
        warnings: list[Finding] = []
        for part in sds.parts:
            where = f"/part/{part.index}"
            if part.media_type == MCDATA_INFO:
                findings += self._info_findings(part.content, where, sds.signalling)
            elif part.media_type in (MCDATA_SIGNALLING, MCDATA_PAYLOAD):
                allowed = self._signalling if part.media_type == MCDATA_SIGNALLING else self._payload
                errors, advised = message_verdict(part.content, allowed, part.media_type, where, self.version)
                findings += errors
                warnings += advised
            elif part.media_type == RESOURCE_LISTS:
                findings += _resource_lists_findings(part.content, where)
        return Validation(self.format.id, tuple(findings), None, tuple(warnings))

    def _info_findings(self, data: bytes, where: str, signalling: bytes) -> list[Finding]:
        try:
            root = parse_xml(data)
        except UnsafeXml as exc:
            return [Finding(where, "schema", str(exc))]
        if not self._info_schema.validate(root):
            return [
                Finding(where + _xpath(root, entry.path), "schema", entry.message)
                for entry in self._info_schema.error_log  # type: ignore[attr-defined]
            ]
        if table_version(self.version) == "1.0":  # 1.0 knew no FD request types: its XSD refused them
            return [Finding(where + str(path), "schema", text) for path, text in fd_request_type_in_1_0(root)]
        return _request_type_findings(root, where, signalling)


REQUEST_TYPE_MISMATCH = "MCS-06"
"""esn 1.1: the mcdata-info request-type does not match the body (the multipart rule ids MCS-01..05 are the
multipart codec's; this one is judged here)."""
_SDS_TYPES = frozenset((MessageType.SDS_SIGNALLING_PAYLOAD, MessageType.SDS_NOTIFICATION))
_FD_TYPES = frozenset(
    (MessageType.FD_SIGNALLING_PAYLOAD, MessageType.FD_NOTIFICATION, MessageType.FD_NETWORK_NOTIFICATION)
)


def _request_type_findings(root: etree._Element, where: str, signalling: bytes) -> list[Finding]:
    """MCS-06 (esn 1.1): an ``*-sds`` request-type with FD signalling, or an ``*-fd`` one with SDS signalling.

    Located at the mcdata-info part; nothing when the request-type is absent or the signalling's type is
    neither (another rule already refuses that signalling).
    """
    found = root.find(f"{{{MCDATA_INFO_NS}}}mcdata-Params/{{{MCDATA_INFO_NS}}}request-type")
    request_type = "" if found is None else (found.text or "").strip()
    kind = signalling[0] & 0x3F if signalling else -1
    if request_type.endswith("-sds") and kind in _FD_TYPES:
        body = "FD"
    elif request_type.endswith("-fd") and kind in _SDS_TYPES:
        body = "SDS"
    else:
        return []
    text = (
        f"request-type {request_type!r} does not match the body: its signalling is {body} ({message_type_name(kind)})"
    )
    return [Finding(where, REQUEST_TYPE_MISMATCH, text)]


def _xpath(root: etree._Element, libxml_path: str | None) -> str:
    if not libxml_path:
        return ""
    try:
        found = root.getroottree().xpath(libxml_path)
    except etree.XPathError:
        return ""
    if isinstance(found, list) and found and isinstance(found[0], etree._Element):
        return element_xpath(found[0], None, "", XPATH_PREFIXES)
    return ""


def _resource_lists_findings(data: bytes, where: str) -> list[Finding]:
    try:
        root = parse_xml(data)
    except UnsafeXml as exc:
        return [Finding(where, "schema", str(exc))]
    if root.tag != _RESOURCE_LISTS_ROOT:
        return [Finding(where, "schema", f"the root element is {root.tag}, not {_RESOURCE_LISTS_ROOT} (RFC 4826)")]
    return []


@functools.lru_cache(maxsize=16)
def sds_validator(fmt: Format) -> SdsValidator:
    """The compiled validator of the multipart format ``fmt`` (compiled once per process)."""
    return SdsValidator(fmt)


def multipart_validator(fmt: Format) -> SyntaxValidator:
    return sds_validator(fmt)


_ENTITY_STARTS = (b"content-type:", b"mime-version:", b"--")


def detect_entity(formats: list[Format], data: bytes) -> Format | None:
    """The multipart format of a stored entity: its Content-Type and a part type named in ``detect``.

    Only data that starts like a MIME entity (``Content-Type:``, ``MIME-Version:``
    or a delimiter line) is considered; binary MCData messages are never
    detected (name them with ``--format``).
    """
    if not data[:16].lower().startswith(_ENTITY_STARTS):
        return None
    try:
        content_type, body = read_entity(data)
        media, _ = parse_media_type(content_type)
    except MultipartError:
        return None
    head = body[:65536].lower()
    candidates: list[Format] = []
    for fmt in formats:
        detect = dict(fmt.detect)
        if fmt.syntax != "multipart" or detect.get("content-type") != media:
            continue
        if "part" not in detect or detect["part"].lower().encode() in head:
            candidates.append(fmt)
    if len(candidates) > 1:  # an SDS and an FD body look alike: the signalling part's message type tells them apart
        kind = _signalling_type(content_type, body) or MessageType.SDS_SIGNALLING_PAYLOAD  # unreadable: an SDS
        for fmt in candidates:
            try:
                signalling = _body_signalling_types(fmt.schema_path)
            except CatalogError:
                continue
            if kind in signalling:
                return fmt
    return candidates[0] if candidates else None


def _signalling_type(content_type: str, body: bytes) -> int | None:
    try:
        parts = parse_multipart(content_type, body)
    except MultipartError:
        return None
    signalling = next((part.content for part in parts if part.media_type == MCDATA_SIGNALLING), b"")
    return signalling[0] & 0x3F if signalling else None


@functools.lru_cache(maxsize=16)
def _body_signalling_types(schema_path: str) -> frozenset[int]:
    parts = _layout(schema_path).get("parts")
    for part in parts if isinstance(parts, list) else ():
        if isinstance(part, dict) and part.get("media_type") == MCDATA_SIGNALLING:
            return _message_types(part.get("message_types"), schema_path)
    return frozenset()


# -- recognition by content and --explain ------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _mandatory_sizes(schema_path: str) -> dict[int, int]:
    """Message type -> octets of its mandatory part, from the fields of the format's ``layout.yaml``."""
    sizes: dict[int, int] = {}
    messages = _layout(schema_path).get("messages")
    for kind, message in (messages or {}).items() if isinstance(messages, dict) else ():
        fields = message.get("fields") if isinstance(message, dict) else None
        ends = [f["offset"] + f.get("size", 0) for f in fields or () if isinstance(f, dict) and "offset" in f]
        if isinstance(kind, int) and ends:
            sizes[kind] = max(ends)
    return sizes


def detect_message(formats: list[Format], data: bytes) -> Format | None:
    """The binary MCData format of a bare message (a ``.bin`` file), by its first octet.

    Recognised only when the first octet is an unprotected message type (bits ``0x40`` and ``0x80`` clear) that
    the format's ``layout.yaml`` lists, and the data is at least as long as that type's mandatory part: a text
    file starting with ``A`` (``0x41``) is not taken for a protected SDS, nor a 3-octet file for a signalling
    message. A protected message, or a truncated one, is validated with ``--format`` named
    (docs/decisions-users.md).
    """
    if not data or data[0] & 0xC0:
        return None
    kind = data[0] & 0x3F
    for fmt in formats:
        if fmt.syntax != "binary":
            continue
        try:
            description = _description(fmt)
            allowed = _message_types(description.get("message_types"), fmt.schema_path)
        except CatalogError:
            continue  # a broken layout is reported when the format is used, not while guessing
        minimum = _mandatory_sizes(fmt.schema_path).get(kind)
        if kind in allowed and minimum is not None and len(data) >= minimum:
            return fmt
    return None


def _shown(name: str, value: Any) -> str:
    if isinstance(value, enum.Enum):
        return f"{value.value} ({value.name.replace('_', ' ').lower()})"
    if isinstance(value, bytes):
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
        if text and text.isprintable():  # a FILEURL or HYPERLINKS reads better as the text it is
            return f"{len(value)} octets: {text!r}"
        return f"{len(value)} octets: {value[:64].hex(' ')}" + (" ..." if len(value) > 64 else "")
    if isinstance(value, uuid.UUID):
        return str(value)
    if name == "date_time" and isinstance(value, int):
        try:
            moment = dt.datetime.fromtimestamp(value, dt.UTC).isoformat().replace("+00:00", "Z")
        except (OverflowError, OSError, ValueError):
            moment = "beyond the calendar"
        return f"{value} ({moment})"
    return repr(value) if isinstance(value, str) else str(value)


def _fields(value: Any, indent: str, located: Located | None = None) -> list[str]:
    """One line per field; ``located`` adds the octet where each field of the message starts."""

    def octet(name: str, number: int = 0) -> int | None:
        offsets = located.offsets(name) if located is not None else ()
        return offsets[number] if number < len(offsets) else None

    def at(name: str) -> str:
        return "" if (where := octet(name)) is None else f"  @ octet {where}"

    lines: list[str] = []
    for field in dataclasses.fields(value):
        item = getattr(value, field.name)
        if item is None or item is False or item == ():
            continue
        if isinstance(item, tuple):
            for number, member in enumerate(item, 1):
                kind = getattr(member, "content_type", None)
                title = f"{kind.name.replace('_', ' ')} ({kind.value})" if kind is not None else type(member).__name__
                lines.append(f"{indent}{field.name.rstrip('s')} {number}: {title}")
                if (where := octet(field.name, number - 1)) is not None:
                    lines.append(f"{indent}  at octet {where}")
                lines += _fields(member, indent + "  ")
            continue
        lines.append(f"{indent}{field.name.replace('_', ' ')}: {_shown(field.name, item)}{at(field.name)}")
    if isinstance(value, Location):
        lines.append(f"{indent}degrees: {value.latitude:.6f}, {value.longitude:.6f}")
    if isinstance(value, LocationAltitude):
        lines.append(f"{indent}metres: {value.metres} ({'depth' if value.depth else 'height'})")
    if isinstance(value, FdSignalling) and value.metadata is not None:
        metadata, problems = read_metadata(bytes(value.metadata))
        read = [f"{name} {item!r}" for name, item in dataclasses.asdict(metadata).items() if item is not None]
        lines.append(f"{indent}metadata read: {', '.join(read) or 'nothing'}")
        lines += [f"{indent}metadata not readable (MCD-17): {problem}" for problem in problems]
    return lines


def _explain_octets(data: bytes, version: str | None) -> list[str]:
    try:
        located = decode_located(data, version)
    except CodecError as exc:
        return [f"not decodable: {exc}"]
    message = located.message
    if isinstance(message, Protected):
        kind = message.message_type
        return [f"message type: {kind} ({message_type_name(kind)}), protected, not decoded"]
    kind = data[0] & 0x3F
    return [f"message type: {kind} ({message_type_name(kind)})", *_fields(message, "", located)]


def explain(fmt: Format, data: bytes) -> list[str]:
    """The decoded fields of a binary MCData message (or of each binary part of an SDS body), one per line,
    for ``harness validate --explain``; empty for the text formats (their content is its own explanation)."""
    if fmt.syntax == "binary":
        return _explain_octets(data, fmt.rules_version)
    if fmt.syntax == "multipart":
        try:
            content_type, body = read_entity(data)
            parts = parse_multipart(content_type, body)
        except (MultipartError, ValueError) as exc:
            return [f"not a readable multipart body: {exc}"]
        lines: list[str] = []
        for number, part in enumerate(parts, 1):
            lines.append(f"part {number}: {part.media_type} ({len(part.content)} octets)")
            if part.media_type in (MCDATA_SIGNALLING, MCDATA_PAYLOAD):
                lines += ["  " + line for line in _explain_octets(part.content, fmt.rules_version)]
        return lines
    return []


BINARY = Syntax(validator=binary_validator, explain=explain, detect=detect_message)
"""The ``binary`` syntax: one MCData message, its types named by the format's ``layout.yaml``."""
MULTIPART = Syntax(validator=multipart_validator, explain=explain, detect=detect_entity)
"""The ``multipart`` syntax: an MCData body (a stored MIME entity), its parts named by ``parts.yaml``."""
