"""The MCData bodies of ``specs/esn.md``: which parts an SDS carries, in which order ("Carrying an SDS").

Public API::

    parse_sds(content_type: str, body: bytes) -> Sds
    parse_fd(content_type: str, body: bytes) -> Sds         # an FD body (esn 1.1): info + signalling only
    build_fd(info: bytes, signalling: bytes, resource_lists: bytes | None = None, *, transfer_encoding="binary",
             boundary=None) -> tuple[str, bytes]
    build_sds(info: bytes, signalling: bytes, payload: bytes | None = None, resource_lists: bytes | None = None,
              *, transfer_encoding: str = "binary", boundary: str | None = None) -> tuple[str, bytes]

The SDS body: the mcdata-info part, the mcdata-signalling part and the
mcdata-payload part, in that order, and optionally a resource-lists part
anywhere; the payload part may be absent when the signalling part holds an SDS
NOTIFICATION (message type 5). A missing part, a repeated part, a part of any
other type and parts out of order are refused (:class:`MultipartError`, rules
``MCS-02``/``MCS-03``). The FD body (esn 1.1, "The FD body"): the mcdata-info part then the
mcdata-signalling part, a resource-lists part anywhere; a payload part is refused (MCS-03: FD over HTTP
carries the file's URL in the signalling, [282] 6.2.2.2), a missing info or signalling part is MCS-02.
The multipart syntax itself is :mod:`harness.codecs.multipart`.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.codecs.multipart import (
    BodyPart,
    MultipartError,
    MultipartFault,
    Part,
    build_multipart,
    parse_media_type,
    parse_multipart,
)
from harness.families.esn.mcdata_content import MessageType

__all__ = [
    "MCDATA_INFO",
    "MCDATA_PAYLOAD",
    "MCDATA_SIGNALLING",
    "RESOURCE_LISTS",
    "Sds",
    "build_fd",
    "build_sds",
    "parse_body",
    "parse_fd",
    "parse_sds",
]

MCDATA_INFO = "application/vnd.3gpp.mcdata-info+xml"
MCDATA_SIGNALLING = "application/vnd.3gpp.mcdata-signalling"
MCDATA_PAYLOAD = "application/vnd.3gpp.mcdata-payload"
RESOURCE_LISTS = "application/resource-lists+xml"
_SDS_ORDER = (MCDATA_INFO, MCDATA_SIGNALLING, MCDATA_PAYLOAD)
_SDS_TYPES = frozenset((*_SDS_ORDER, RESOURCE_LISTS))


@dataclass(slots=True, frozen=True)
class Sds:
    """The parts of an SDS body; ``payload`` is None only for an SDS NOTIFICATION without a payload part."""

    info: bytes
    signalling: bytes
    payload: bytes | None
    resource_lists: bytes | None
    parts: tuple[Part, ...]

    @property
    def is_notification(self) -> bool:
        """Whether the signalling part holds an SDS NOTIFICATION (protected or not)."""
        return _is_notification(self.signalling)

    def part(self, media_type: str) -> Part | None:
        """The part of ``media_type`` (one of the ``MCDATA_*`` / ``RESOURCE_LISTS`` constants), or None."""
        return next((part for part in self.parts if part.media_type == media_type), None)


def _is_notification(signalling: bytes) -> bool:
    return bool(signalling) and signalling[0] & 0x3F == MessageType.SDS_NOTIFICATION


def parse_sds(content_type: str, body: bytes) -> Sds:
    """The SDS in ``body``; refused (:class:`MultipartError`) when a part is missing, repeated, foreign or misplaced."""
    media, _ = parse_media_type(content_type)
    if media != "multipart/mixed":
        raise MultipartError(f"an SDS is carried as multipart/mixed, not {media}")
    parts = parse_multipart(content_type, body)
    seen: dict[str, Part] = {}
    for part in parts:
        if part.media_type not in _SDS_TYPES:
            raise MultipartError(
                f"{part.media_type} is not a part of an SDS", rule=MultipartFault.UNEXPECTED_PART, part=part.index
            )
        if part.media_type in seen:
            raise MultipartError(
                f"a second {part.media_type} part", rule=MultipartFault.UNEXPECTED_PART, part=part.index
            )
        seen[part.media_type] = part
    for required in (MCDATA_INFO, MCDATA_SIGNALLING):
        if required not in seen:
            raise MultipartError(f"the {required} part is missing", rule=MultipartFault.MISSING_PART)
    signalling = seen[MCDATA_SIGNALLING].content
    if MCDATA_PAYLOAD not in seen and not _is_notification(signalling):
        raise MultipartError(
            f"the {MCDATA_PAYLOAD} part is missing (only an SDS NOTIFICATION goes without one)",
            rule=MultipartFault.MISSING_PART,
        )
    ordered = [part for part in parts if part.media_type in _SDS_ORDER]
    for part, expected in zip(ordered, [t for t in _SDS_ORDER if t in seen], strict=True):
        if part.media_type != expected:
            raise MultipartError(
                f"{part.media_type} out of order (the order is mcdata-info, mcdata-signalling, mcdata-payload)",
                rule=MultipartFault.UNEXPECTED_PART,
                part=part.index,
            )
    payload = seen.get(MCDATA_PAYLOAD)
    lists = seen.get(RESOURCE_LISTS)
    return Sds(
        info=seen[MCDATA_INFO].content,
        signalling=signalling,
        payload=payload.content if payload else None,
        resource_lists=lists.content if lists else None,
        parts=parts,
    )


def build_sds(
    info: bytes,
    signalling: bytes,
    payload: bytes | None = None,
    resource_lists: bytes | None = None,
    *,
    transfer_encoding: str = "binary",
    boundary: str | None = None,
) -> tuple[str, bytes]:
    """``(Content-Type, body)`` of an SDS: info, signalling, payload (and resource-lists) parts, in that order.

    ``transfer_encoding`` applies to the two binary parts (``binary`` or ``base64``);
    the XML parts are written as they are, without the header.
    """
    if payload is None and not _is_notification(signalling):
        raise MultipartError(f"an SDS needs the {MCDATA_PAYLOAD} part (only an SDS NOTIFICATION goes without one)")
    parts = [BodyPart(MCDATA_INFO, info), BodyPart(MCDATA_SIGNALLING, signalling, transfer_encoding)]
    if payload is not None:
        parts.append(BodyPart(MCDATA_PAYLOAD, payload, transfer_encoding))
    if resource_lists is not None:
        parts.append(BodyPart(RESOURCE_LISTS, resource_lists))
    return build_multipart(parts, boundary=boundary)


_FD_ORDER = (MCDATA_INFO, MCDATA_SIGNALLING)


def parse_fd(content_type: str, body: bytes) -> Sds:
    """The FD body in ``body`` (info + signalling, no payload part); refused as :func:`parse_sds` refuses."""
    media, _ = parse_media_type(content_type)
    if media != "multipart/mixed":
        raise MultipartError(f"an FD body is carried as multipart/mixed, not {media}")
    parts = parse_multipart(content_type, body)
    seen: dict[str, Part] = {}
    for part in parts:
        if part.media_type == MCDATA_PAYLOAD:
            raise MultipartError(
                "an FD body over HTTP has no payload part (the file's URL is in the signalling)",
                rule=MultipartFault.UNEXPECTED_PART,
                part=part.index,
            )
        if part.media_type not in _SDS_TYPES:
            raise MultipartError(
                f"{part.media_type} is not a part of an FD body", rule=MultipartFault.UNEXPECTED_PART, part=part.index
            )
        if part.media_type in seen:
            raise MultipartError(
                f"a second {part.media_type} part", rule=MultipartFault.UNEXPECTED_PART, part=part.index
            )
        seen[part.media_type] = part
    for required in _FD_ORDER:
        if required not in seen:
            raise MultipartError(f"the {required} part is missing", rule=MultipartFault.MISSING_PART)
    if seen[MCDATA_SIGNALLING].index < seen[MCDATA_INFO].index:
        raise MultipartError(
            f"{MCDATA_INFO} out of order (the order is mcdata-info, mcdata-signalling)",
            rule=MultipartFault.UNEXPECTED_PART,
            part=seen[MCDATA_INFO].index,
        )
    lists = seen.get(RESOURCE_LISTS)
    return Sds(
        info=seen[MCDATA_INFO].content,
        signalling=seen[MCDATA_SIGNALLING].content,
        payload=None,
        resource_lists=lists.content if lists else None,
        parts=parts,
    )


def parse_body(kind: str, content_type: str, body: bytes) -> Sds:
    """The body of ``kind`` (``sds`` or ``fd``, as a format's ``parts.yaml`` names it)."""
    return parse_fd(content_type, body) if kind == "fd" else parse_sds(content_type, body)


def build_fd(
    info: bytes,
    signalling: bytes,
    resource_lists: bytes | None = None,
    *,
    transfer_encoding: str = "binary",
    boundary: str | None = None,
) -> tuple[str, bytes]:
    """``(Content-Type, body)`` of an FD body (or an FD NOTIFICATION's): info then signalling (then resource-lists)."""
    parts = [BodyPart(MCDATA_INFO, info), BodyPart(MCDATA_SIGNALLING, signalling, transfer_encoding)]
    if resource_lists is not None:
        parts.append(BodyPart(RESOURCE_LISTS, resource_lists))
    return build_multipart(parts, boundary=boundary)
