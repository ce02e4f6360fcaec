"""Reference alert hub: CAP 1.2 alerts, EDXL-DE 1.0 distributions and EMSI incidents (spec `alerts.md`).

Every answer the hub writes is built as an element tree (CAP, EDXL-DE) or a
JSON document (EMSI), never by pasting received text into markup. Choices
where the spec is silent are numbered in docs/decisions-alerts-exchange.md.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from lxml import etree

from harness.catalog import Catalog
from harness.endpoints.common import BODY, BodyTooLarge, json_response, problem, read_body
from harness.endpoints.store import Codec, Store, Stores, stores
from harness.families.cap.message import CAP_TOKEN, CapHeader, read_header
from harness.families.edxl.rules import first_refused, marking_permitted
from harness.http import media_type
from harness.model import Finding, Format
from harness.profile import ALERTS_PATH, CAP_MEDIA_TYPE, CAP_NS, DE_NS, DISTRIBUTIONS_PATH, INCIDENTS_PATH
from harness.validation.validator import Validation, validator_for
from harness.validation.xmlsafe import UnsafeXml, parse_xml

__all__ = [
    "ALERTS_PATH",
    "CAP_NS",
    "DE_NS",
    "DISTRIBUTIONS_PATH",
    "INCIDENTS_PATH",
    "AlertHub",
    "CapHeader",
    "Held",
    "Incident",
]

CAP_STATUSES = frozenset({"Actual", "Exercise", "System", "Test", "Draft"})
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def now_with_offset() -> str:
    """Now, to the second, with a numeric offset (CAP and EDXL-DE timestamps never end in ``Z``)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


@dataclass(slots=True, frozen=True)
class Held:
    """A message the hub accepted: its content (canonical form) and the answer it got, kept byte for byte."""

    content: bytes
    answer: bytes


@dataclass(slots=True, frozen=True)
class Incident:
    """An incident the hub holds, by EMSI ``EVENT.ID``: the latest ALERT or UPDATE, open or closed."""

    event_id: str
    state: str
    message: dict[str, Any]
    message_id: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.event_id, "state": self.state, "messageId": self.message_id, "message": self.message}


def _held_bytes(held: Held) -> bytes:
    return b"%d\n" % len(held.content) + held.content + held.answer


def _held(data: bytes) -> Held:
    size, rest = data.split(b"\n", 1)
    return Held(rest[: int(size)], rest[int(size) :])


def _incident(data: bytes) -> Incident:
    fields = json.loads(data)
    return Incident(fields["id"], fields["state"], fields["message"], fields["messageId"])


HELD = Codec(_held_bytes, _held)
INCIDENTS = Codec(lambda incident: json.dumps(incident.as_dict(), ensure_ascii=False).encode(), _incident)
"""How the hub's stores keep their values when shared (``harness serve --processes``)."""


def _text(parent: etree._Element, namespace: str, name: str) -> str | None:
    element = parent.find(f"{{{namespace}}}{name}")
    return None if element is None else (element.text or "").strip()


def _xml_text(value: str) -> str:
    """Text that lxml can store (characters XML cannot carry become U+FFFD)."""
    return _NOT_XML_CHAR.sub("\ufffd", value)


def _document(namespace: str, root_name: str, fields: Iterable[tuple[str, str]]) -> bytes:
    nsmap: dict[str | None, str] = {None: namespace}
    root = etree.Element(f"{{{namespace}}}{root_name}", nsmap=nsmap)  # type: ignore[arg-type]
    for name, value in fields:
        etree.SubElement(root, f"{{{namespace}}}{name}").text = _xml_text(value)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def canonical(root: etree._Element) -> bytes:
    """The content of a document as compared for idempotency: C14N 2.0, no comments, text trimmed."""
    text: bytes = etree.tostring(root, method="c14n2", strip_text=True, with_comments=False)  # type: ignore[call-overload]
    return text


class AlertHub:
    """The reference implementation of the alert, distribution and incident exchanges.

    Each decision is a method, so that tests can build deliberately broken
    variants by overriding one of them. The hub plays the version of ``alerts.md``
    that its catalog is at (``catalog.at({"alerts": "1.0"})`` plays 1.0; the
    default catalog, the current version): the rules, and their severities, that
    judge what it receives are that version's. Warnings never refuse an alert;
    the Ack lists them in its ``note``, an Error lists them after the errors.
    """

    sender = "alert-hub@reference.netcode"
    """The hub's own CAP ``sender`` and EDXL-DE ``senderID``."""

    def __init__(self, catalog: Catalog, capacity: int = 1_000, shared: Stores | None = None) -> None:
        self.cap = catalog.format("cap/1.2")
        self.edxl = catalog.format("edxl-de/1.0")
        self.emsi = catalog.format("emsi/1.0")
        self.capacity = capacity
        self.stores = shared if shared is not None else stores()
        self.alerts: Store[tuple[str, str], Held] = self.stores.store("alert-hub/alerts", capacity, HELD)
        self.distributions: Store[tuple[str, str], Held] = self.stores.store("alert-hub/distributions", capacity, HELD)
        self.incident_messages: Store[str, Held] = self.stores.store("alert-hub/incident-messages", capacity, HELD)
        self.incidents: Store[str, Incident] = self.stores.store("alert-hub/incidents", capacity, INCIDENTS)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(ALERTS_PATH, self.receive_alert),
            web.post(DISTRIBUTIONS_PATH, self.receive_distribution),
            web.post(INCIDENTS_PATH, self.receive_incident),
            web.get(INCIDENTS_PATH + "/{event_id}", self.incident),
        ]

    def reset(self) -> None:
        for store in (self.alerts, self.distributions, self.incident_messages, self.incidents):
            store.clear()

    def _keep(self, store: Store[Any, Any], key: Any, value: Any) -> None:
        store[key] = value  # past the capacity, the oldest go

    async def _read(self, request: web.Request, fmt: Format, *aliases: str) -> bytes | web.Response:
        """The body, or the refusal: 415 for a media type not accepted, 413 past 1 MiB (never read whole)."""
        accepted = (*fmt.media_types, *(a for a in aliases if a not in fmt.media_types))
        if media_type(request.headers.get("Content-Type")) not in accepted:
            return problem(
                415, "unsupported-media-type", f"send one of: {', '.join(accepted)}", Accept_Post=", ".join(accepted)
            )
        try:
            body = await read_body(request)
        except BodyTooLarge:
            return problem(413, "too-large", "bodies are limited to 1 MiB", Connection="close")
        request[BODY] = body
        return body

    # -- CAP alerts -----------------------------------------------------------------------

    async def receive_alert(self, request: web.Request) -> web.StreamResponse:
        body = await self._read(request, self.cap, CAP_MEDIA_TYPE, "application/xml")
        if isinstance(body, web.Response):
            return body
        validation = self.validate_alert(body)
        try:
            root: etree._Element | None = parse_xml(body)
        except UnsafeXml:
            root = None  # a DOCTYPE, or not XML: nothing in it is read, let alone resolved
        original = self.read_alert(root) if root is not None else None
        if not validation.valid or root is None or original is None:
            return self.cap_answer(400, self.error_alert(original, validation.findings, validation.warnings))
        return self.accept_alert(original, canonical(root), validation.warnings)

    @property
    def plays(self) -> str | None:
        """The version of ``alerts.md`` the hub plays (None: the latest rules)."""
        return self.cap.rules_version

    def validate_alert(self, body: bytes) -> Validation:
        return validator_for(self.cap).validate(body)

    def read_alert(self, root: etree._Element) -> CapHeader | None:
        return read_header(root)

    def accept_alert(self, original: CapHeader, content: bytes, warnings: Iterable[Finding] = ()) -> web.StreamResponse:
        assert original.sender and original.identifier
        key = (original.sender, original.identifier)
        with self.stores.transaction():  # of two processes receiving the same alert, the first acknowledges it
            held = self.alerts.get(key)
            if held is not None:
                if self.same_content(held.content, content):
                    return self.cap_answer(202, held.answer)
                clash = Finding(
                    "/cap:alert/cap:identifier", "conflict", "identifier already used with different content"
                )
                return self.cap_answer(409, self.error_alert(original, [clash]))
            ack = self.ack_alert(original, warnings)
            self._keep(self.alerts, key, Held(content, ack))
        return self.cap_answer(202, ack)

    def same_content(self, first: bytes, second: bytes) -> bool:
        return first == second

    def ack_alert(self, original: CapHeader, warnings: Iterable[Finding] = ()) -> bytes:
        """A CAP Ack: new identifier, the hub as sender, sent now, the original's status and scope, referencing it.

        The original's warnings, if any, are listed in the Ack's ``note``.
        """
        assert original.reference and original.status and original.scope
        addressing = self._addressing(original) or [("scope", original.scope)]
        fields = [*self._cap_header("Ack", original.status), *addressing]
        advised = _listed(warnings)
        if advised:
            fields.append(("note", f"{WARNINGS_HEADING}\n{advised}"))
        fields.append(("references", original.reference))
        return _document(CAP_NS, "alert", fields)

    def error_alert(
        self, original: CapHeader | None, findings: Iterable[Finding], warnings: Iterable[Finding] = ()
    ) -> bytes:
        """A CAP Error whose note names every finding, then the warnings apart; it references the original when
        that can be read."""
        status = original.status if original and original.status in CAP_STATUSES else "Actual"
        fields = [*self._cap_header("Error", status or "Actual"), *self._error_addressing(original)]
        note = _listed(findings) or "schema: not a CAP alert"
        advised = _listed(warnings)
        if advised:
            note += f"\n{WARNINGS_HEADING}\n{advised}"
        fields.append(("note", note))
        if original is not None and original.reference:
            fields.append(("references", original.reference))
        return _document(CAP_NS, "alert", fields)

    def _cap_header(self, msg_type: str, status: str) -> list[tuple[str, str]]:
        return [
            ("identifier", f"urn:uuid:{uuid.uuid4()}"),
            ("sender", self.sender),
            ("sent", now_with_offset()),
            ("status", status),
            ("msgType", msg_type),
        ]

    @staticmethod
    def _addressing(original: CapHeader) -> list[tuple[str, str]]:
        """The original's scope with its restriction and addresses, when they are consistent (CAP-02)."""
        optional = (("restriction", original.restriction), ("addresses", original.addresses))
        fields = [(name, value) for name, value in optional if value]
        consistent = {"Public": True, "Restricted": bool(original.restriction), "Private": bool(original.addresses)}
        return [("scope", original.scope or ""), *fields] if consistent.get(original.scope or "") else []

    def _error_addressing(self, original: CapHeader | None) -> list[tuple[str, str]]:
        """An Error goes where the original went; failing that, privately to its sender; failing that, Public."""
        if original is not None:
            mirrored = self._addressing(original)
            if mirrored:
                return mirrored
            if original.sender and CAP_TOKEN.fullmatch(original.sender):
                return [("scope", "Private"), ("addresses", original.sender)]
        return [("scope", "Public")]

    def cap_answer(self, status: int, alert: bytes) -> web.StreamResponse:
        return web.Response(body=alert, status=status, headers={"Content-Type": CAP_MEDIA_TYPE})

    # -- EDXL-DE distributions ------------------------------------------------------------

    async def receive_distribution(self, request: web.Request) -> web.StreamResponse:
        body = await self._read(request, self.edxl, "application/xml")
        if isinstance(body, web.Response):
            return body
        try:
            root: etree._Element | None = parse_xml(body)
        except UnsafeXml:
            root = None
        if root is not None:
            refused = self.classification_refused(root)
            if refused is not None:
                return problem(422, "classification-not-permitted", _not_permitted(refused))
        validation = self.validate_distribution(body)
        if not validation.valid or root is None:
            findings = validation.findings or (Finding("/", "schema", "not an EDXL-DE distribution"),)
            detail = f"{len(findings)} finding(s)"
            return problem(400, "invalid-message", detail, findings, warnings=validation.warnings)
        return self.accept_distribution(root)

    def validate_distribution(self, body: bytes) -> Validation:
        return validator_for(self.edxl).validate(body)

    def classification_refused(self, root: etree._Element) -> str | None:
        """The first marking of the envelope or of a content that may not travel, or None."""
        refused = first_refused(root)
        return None if refused is None else refused.text

    def accept_distribution(self, root: etree._Element) -> web.StreamResponse:
        reference = ",".join(_text(root, DE_NS, name) or "" for name in ("distributionID", "senderID", "dateTimeSent"))
        key = (_text(root, DE_NS, "senderID") or "", _text(root, DE_NS, "distributionID") or "")
        content = canonical(root)
        with self.stores.transaction():
            held = self.distributions.get(key)
            if held is not None:
                if self.same_content(held.content, content):
                    return self.distribution_answer(held.answer)
                return problem(409, "conflict", f"distributionID {key[1]} was first sent with different content")
            ack = self.ack_distribution(root, reference)
            self._keep(self.distributions, key, Held(content, ack))
        return self.distribution_answer(ack)

    def ack_distribution(self, root: etree._Element, reference: str) -> bytes:
        """An EDXL-DE Ack; ``distributionReference`` is ``distributionID,senderID,dateTimeSent`` of the original."""
        fields = [
            ("distributionID", f"urn:uuid:{uuid.uuid4()}"),
            ("senderID", self.sender),
            ("dateTimeSent", now_with_offset()),
            ("distributionStatus", _text(root, DE_NS, "distributionStatus") or "Actual"),
            ("distributionType", "Ack"),
            ("combinedConfidentiality", _text(root, DE_NS, "combinedConfidentiality") or "OFFICIAL"),
            ("distributionReference", reference),
        ]
        return _document(DE_NS, "EDXLDistribution", fields)

    def distribution_answer(self, ack: bytes) -> web.StreamResponse:
        return web.Response(body=ack, status=202, headers={"Content-Type": "application/xml"})

    # -- EMSI incidents -------------------------------------------------------------------

    async def receive_incident(self, request: web.Request) -> web.StreamResponse:
        body = await self._read(request, self.emsi, "application/json")
        if isinstance(body, web.Response):
            return body
        validation = self.validate_incident(body)
        if not validation.valid or validation.model is None:
            return problem(400, "invalid-message", f"{len(validation.findings)} finding(s)", validation.findings)
        document = validation.model
        marking = str(document["CONTEXT"].get("SECLASS", ""))
        if not self.incident_permitted(marking):
            return problem(422, "classification-not-permitted", _not_permitted(marking))
        message_id = str(document["CONTEXT"]["ID"])
        content = json.dumps(document, sort_keys=True, ensure_ascii=False).encode()
        with self.stores.transaction():  # the message and the incident it changes, as one process would
            held = self.incident_messages.get(message_id)
            if held is not None:
                if self.same_content(held.content, content):
                    return self.incident_answer(held.answer)
                return problem(409, "conflict", f"CONTEXT.ID {message_id} was first sent with different content")
            refusal = self.apply_incident(message_id, document)
            if refusal is not None:
                return refusal
            ack = json.dumps(self.ack_incident(document), ensure_ascii=False).encode()
            self._keep(self.incident_messages, message_id, Held(content, ack))
        return self.incident_answer(ack)

    def validate_incident(self, body: bytes) -> Validation:
        return validator_for(self.emsi).validate(body)

    def incident_permitted(self, seclass: str) -> bool:
        """EMSI ``SECLASS`` read as a GSC tier: CONFID, SECRET and TOPSRT may not travel (RESTRC may)."""
        return marking_permitted(seclass)

    def apply_incident(self, message_id: str, document: dict[str, Any]) -> web.Response | None:
        """ALERT opens an incident, UPDATE replaces an open one, CANCEL closes it; ACK and ERROR change nothing."""
        msg_type, event_id = str(document["CONTEXT"]["MSGTYPE"]), str(document["EVENT"]["ID"])
        held = self.incidents.get(event_id)
        if msg_type == "ALERT":
            if held is not None:
                return problem(409, "conflict", f"incident {event_id} is already held: send an UPDATE")
            self._keep(self.incidents, event_id, Incident(event_id, "open", document, message_id))
        elif msg_type in ("UPDATE", "CANCEL"):
            if held is None:
                return problem(404, "not-found", f"no incident {event_id} is held: send an ALERT first")
            if held.state == "closed":
                return problem(409, "conflict", f"incident {event_id} was cancelled")
            if msg_type == "UPDATE":
                self.incidents[event_id] = Incident(event_id, "open", document, message_id)
            else:
                self.incidents[event_id] = Incident(event_id, "closed", held.message, message_id)
        return None

    def ack_incident(self, document: dict[str, Any]) -> dict[str, Any]:
        """An EMSI ACK: a new CONTEXT.ID, linked to the original's CONTEXT.ID, about the same EVENT."""
        context = document["CONTEXT"]
        ack_context: dict[str, Any] = {
            "ID": str(uuid.uuid4()),
            "MODE": context["MODE"],
            "MSGTYPE": "ACK",
            "CREATION": now_with_offset(),
            "LINK": [{"ID": context["ID"], "LINK_ROLE": "ADDSTO"}],
        }
        if "SECLASS" in context:
            ack_context["SECLASS"] = context["SECLASS"]
        return {"CONTEXT": ack_context, "EVENT": {"ID": document["EVENT"]["ID"]}}

    def incident_answer(self, ack: bytes) -> web.StreamResponse:
        return web.Response(body=ack, status=202, headers={"Content-Type": self.emsi.media_type})

    async def incident(self, request: web.Request) -> web.StreamResponse:
        held = self.incidents.get(request.match_info["event_id"])
        if held is None:
            return problem(404, "not-found", f"no incident {request.match_info['event_id']}")
        return json_response(held.as_dict())


WARNINGS_HEADING = "warnings (not reasons to refuse):"
"""The line of a CAP note after which the findings listed are warnings, not errors (binding rule 10)."""


def _listed(findings: Iterable[Finding]) -> str:
    return "\n".join(f"{f.rule} at {f.location or '/'}: {f.message}" for f in findings)


def _not_permitted(marking: str) -> str:
    return f"the marking {marking!r} is above OFFICIAL-SENSITIVE or unreadable: it may not travel over the network code"
