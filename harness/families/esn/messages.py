"""The XML bodies and SDS answers of the ESN exchanges (specs/esn.md), as the reference endpoints build and read them.

Reading is lenient (a value that is missing reads as None: validation has already
judged the document); writing builds element trees with lxml, never pastes
received text into markup. Shared by :mod:`harness.endpoints.esn_gateway` and the
SIP adapter's reference side. Choices are numbered in docs/decisions-esn-exchange.md.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from lxml import etree

from harness.families.esn.body import build_sds
from harness.families.esn.mcdata import Disposition, NotificationType, SdsNotification, SdsSignalling, encode
from harness.profile import MCDATA_INFO_NS
from harness.validation.xmlsafe import UnsafeXml, parse_xml

__all__ = [
    "LOCATION_INFO",
    "LOCATION_NS",
    "MCDATA_INFO_NS",
    "MCPTT_INFO",
    "MCPTT_INFO_NS",
    "LocationInfo",
    "McdataParams",
    "McpttParams",
    "alert_acknowledgement",
    "location_configuration",
    "location_report",
    "location_request",
    "mcdata_info",
    "notification_sds",
    "notification_types",
    "read_location",
    "read_mcdata_info",
    "read_mcptt_info",
]

MCPTT_INFO_NS = "urn:3gpp:ns:mcpttInfo:1.0"
LOCATION_NS = "urn:3gpp:ns:mcpttLocationInfo:1.0"
MCPTT_INFO = "application/vnd.3gpp.mcptt-info+xml"
LOCATION_INFO = "application/vnd.3gpp.mcptt-location-info+xml"


def _root(data: bytes) -> etree._Element | None:
    try:
        return parse_xml(data)
    except UnsafeXml:
        return None


def _child(parent: etree._Element | None, namespace: str, name: str) -> etree._Element | None:
    return None if parent is None else parent.find(f"{{{namespace}}}{name}")


def _wrapped(params: etree._Element | None, namespace: str, name: str, wrapper: str) -> str | None:
    """The text of ``<name><wrapper>text</wrapper></name>`` (trimmed), or None."""
    inner = _child(_child(params, namespace, name), namespace, wrapper)
    return None if inner is None else (inner.text or "").strip() or None


def _boolean(params: etree._Element | None, namespace: str, name: str) -> bool | None:
    element = _child(params, namespace, name)
    if element is None:
        return None
    return {"true": True, "false": False}.get((element.text or "").strip())


def _serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _element(namespace: str, name: str) -> etree._Element:
    nsmap: dict[str | None, str] = {None: namespace}
    return etree.Element(f"{{{namespace}}}{name}", nsmap=nsmap)  # type: ignore[arg-type]


def _add_uri(params: etree._Element, namespace: str, name: str, wrapper: str, uri: str | None) -> None:
    if uri:
        holder = etree.SubElement(params, f"{{{namespace}}}{name}")
        etree.SubElement(holder, f"{{{namespace}}}{wrapper}").text = uri


# --------------------------------------------------------------------------- mcdata-info and SDS


@dataclass(slots=True, frozen=True)
class McdataParams:
    """What an mcdata-info document says about who sends an SDS to whom."""

    request_type: str | None = None
    request_uri: str | None = None
    calling_user: str | None = None
    calling_group: str | None = None

    @property
    def is_group(self) -> bool:
        return self.request_type in ("group-sds", "ad-hoc-group-sds")


def read_mcdata_info(data: bytes) -> McdataParams:
    params = _child(_root(data), MCDATA_INFO_NS, "mcdata-Params")
    request_type = _child(params, MCDATA_INFO_NS, "request-type")
    return McdataParams(
        request_type=None if request_type is None else (request_type.text or "").strip() or None,
        request_uri=_wrapped(params, MCDATA_INFO_NS, "mcdata-request-uri", "mcdataURI"),
        calling_user=_wrapped(params, MCDATA_INFO_NS, "mcdata-calling-user-id", "mcdataURI"),
        calling_group=_wrapped(params, MCDATA_INFO_NS, "mcdata-calling-group-id", "mcdataURI"),
    )


def mcdata_info(params: McdataParams) -> bytes:
    """An mcdata-info document carrying ``params`` (absent values are left out)."""
    root = _element(MCDATA_INFO_NS, "mcdatainfo")
    holder = etree.SubElement(root, f"{{{MCDATA_INFO_NS}}}mcdata-Params")
    if params.request_type:
        etree.SubElement(holder, f"{{{MCDATA_INFO_NS}}}request-type").text = params.request_type
    _add_uri(holder, MCDATA_INFO_NS, "mcdata-request-uri", "mcdataURI", params.request_uri)
    _add_uri(holder, MCDATA_INFO_NS, "mcdata-calling-user-id", "mcdataURI", params.calling_user)
    _add_uri(holder, MCDATA_INFO_NS, "mcdata-calling-group-id", "mcdataURI", params.calling_group)
    return _serialise(root)


def notification_types(disposition: Disposition | None) -> list[NotificationType]:
    """What a recipient that delivers and reads at once answers: one notification, or none when none was asked."""
    if disposition is None:
        return []
    return {
        Disposition.DELIVERY: [NotificationType.DELIVERED],
        Disposition.READ: [NotificationType.READ],
        Disposition.DELIVERY_AND_READ: [NotificationType.DELIVERED_AND_READ],
    }[disposition]


def notification_sds(
    original: McdataParams, sds: SdsSignalling, kind: NotificationType, date_time: int | None = None
) -> tuple[str, bytes]:
    """``(Content-Type, body)`` of the SDS NOTIFICATION answering ``sds``: mcdata-info + signalling, no payload.

    It goes back to the sender (request URI = the original's calling user), from
    the recipient (calling user = the original's request URI).
    """
    info = mcdata_info(
        McdataParams(
            request_type="one-to-one-sds",
            request_uri=original.calling_user or original.request_uri,
            calling_user=original.request_uri if not original.is_group else None,
            calling_group=original.request_uri if original.is_group else None,
        )
    )
    now = int(time.time()) if date_time is None else date_time
    signalling = encode(SdsNotification.answering(sds, kind, now))
    return build_sds(info, signalling)


# --------------------------------------------------------------------------- mcptt-info (emergency alerts)


@dataclass(slots=True, frozen=True)
class McpttParams:
    """What an mcptt-info document says about an emergency alert."""

    request_uri: str | None = None
    calling_user: str | None = None
    calling_group: str | None = None
    emergency: bool | None = None
    alert: bool | None = None
    alert_received: bool | None = None


def read_mcptt_info(data: bytes) -> McpttParams:
    params = _child(_root(data), MCPTT_INFO_NS, "mcptt-Params")
    return McpttParams(
        request_uri=_wrapped(params, MCPTT_INFO_NS, "mcptt-request-uri", "mcpttURI"),
        calling_user=_wrapped(params, MCPTT_INFO_NS, "mcptt-calling-user-id", "mcpttURI"),
        calling_group=_wrapped(params, MCPTT_INFO_NS, "mcptt-calling-group-id", "mcpttURI"),
        emergency=_boolean(params, MCPTT_INFO_NS, "emergency-ind"),
        alert=_boolean(params, MCPTT_INFO_NS, "alert-ind"),
        alert_received=_boolean(params, MCPTT_INFO_NS, "alert-ind-rcvd"),
    )


def alert_acknowledgement(alert: McpttParams) -> bytes:
    """The mcptt-info answering an alert or a cancel: ``alert-ind-rcvd`` true, back to the alerting user,
    naming the group the alert was for (its request URI, else its calling group)."""
    root = _element(MCPTT_INFO_NS, "mcpttinfo")
    params = etree.SubElement(root, f"{{{MCPTT_INFO_NS}}}mcptt-Params")
    _add_uri(params, MCPTT_INFO_NS, "mcptt-request-uri", "mcpttURI", alert.calling_user)
    _add_uri(params, MCPTT_INFO_NS, "mcptt-calling-group-id", "mcpttURI", alert.request_uri or alert.calling_group)
    etree.SubElement(params, f"{{{MCPTT_INFO_NS}}}alert-ind-rcvd").text = "true"
    return _serialise(root)


# --------------------------------------------------------------------------- location-info


@dataclass(slots=True, frozen=True)
class LocationInfo:
    """A location-info document: which of Configuration, Request, Report it holds, and its ids."""

    kind: str | None
    trigger_ids: tuple[str, ...] = ()
    request_id: str | None = None
    report_type: str | None = None


def read_location(data: bytes) -> LocationInfo:
    root = _root(data)
    if root is None or root.tag != f"{{{LOCATION_NS}}}location-info":
        return LocationInfo(None)
    child = next((c for c in root if isinstance(c.tag, str) and c.tag.startswith(f"{{{LOCATION_NS}}}")), None)
    if child is None:
        return LocationInfo(None)
    kind = etree.QName(child).localname
    if kind == "Configuration":
        criteria = _child(child, LOCATION_NS, "TriggeringCriteria")
        ids = tuple(str(t.get("TriggerId", "")).strip() for t in (criteria if criteria is not None else ()))
        return LocationInfo(kind, tuple(i for i in ids if i))
    if kind == "Request":
        request_id = _child(child, LOCATION_NS, "RequestId")
        return LocationInfo(kind, (), None if request_id is None else (request_id.text or "").strip() or None)
    ids = tuple((t.text or "").strip() for t in child.findall(f"{{{LOCATION_NS}}}TriggerId"))
    return LocationInfo(kind, ids, None, child.get("ReportType"))


def location_configuration(trigger_id: str, period_s: int = 30) -> bytes:
    """A Configuration with one periodic trigger ``trigger_id``."""
    root = _element(LOCATION_NS, "location-info")
    configuration = etree.SubElement(root, f"{{{LOCATION_NS}}}Configuration")
    criteria = etree.SubElement(configuration, f"{{{LOCATION_NS}}}TriggeringCriteria")
    periodic = etree.SubElement(criteria, f"{{{LOCATION_NS}}}PeriodicReport", TriggerId=trigger_id)
    periodic.text = str(period_s)
    return _serialise(root)


def location_request(request_id: str | None = None) -> bytes:
    root = _element(LOCATION_NS, "location-info")
    request = etree.SubElement(root, f"{{{LOCATION_NS}}}Request")
    etree.SubElement(request, f"{{{LOCATION_NS}}}RequestId").text = request_id or str(uuid.uuid4())
    return _serialise(root)


def location_report(
    trigger_ids: tuple[str, ...], latitude_raw: int, longitude_raw: int, report_id: str | None = None
) -> bytes:
    """A NonEmergency Report naming ``trigger_ids`` with the coordinate (24-bit TS 23.032 values)."""
    root = _element(LOCATION_NS, "location-info")
    report = etree.SubElement(root, f"{{{LOCATION_NS}}}Report", ReportType="NonEmergency")
    if report_id:
        report.set("ReportId", report_id)
    for trigger_id in trigger_ids:
        etree.SubElement(report, f"{{{LOCATION_NS}}}TriggerId").text = trigger_id
    current = etree.SubElement(report, f"{{{LOCATION_NS}}}CurrentLocation")
    coordinate = etree.SubElement(current, f"{{{LOCATION_NS}}}CurrentCoordinate")
    for name, value in (("longitude", longitude_raw), ("latitude", latitude_raw)):
        axis = etree.SubElement(coordinate, f"{{{LOCATION_NS}}}{name}")
        etree.SubElement(axis, f"{{{LOCATION_NS}}}threebytes").text = str(value)
    return _serialise(root)
