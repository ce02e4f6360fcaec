"""Reading a CAP 1.2 alert's header: what the alert hub answers from and what the ``cap_answer`` check judges."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from harness.profile import CAP_NS

__all__ = ["CAP_TOKEN", "CapHeader", "read_header"]

CAP_TOKEN = re.compile(r"[^\s,<&]+")
"""What one part of a CAP ``references`` or ``addresses`` list may be."""
_CAP_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d")


@dataclass(slots=True, frozen=True)
class CapHeader:
    """What a CAP alert's header says: the triple that references it, and to whom it goes.

    ``None`` where the element is missing; an empty element reads as ``""``.
    """

    identifier: str | None
    sender: str | None
    sent: str | None
    status: str | None
    scope: str | None
    restriction: str | None
    addresses: str | None
    msg_type: str | None = None
    references: str | None = None
    note: str | None = None

    @property
    def reference(self) -> str | None:
        """``sender,identifier,sent``, when each part can stand in a CAP ``references`` list."""
        if not (self.sender and self.identifier and self.sent):
            return None
        usable = (
            CAP_TOKEN.fullmatch(self.sender) and CAP_TOKEN.fullmatch(self.identifier) and _CAP_TIME.fullmatch(self.sent)
        )
        return f"{self.sender},{self.identifier},{self.sent}" if usable else None

    @property
    def triple(self) -> str:
        """``sender,identifier,sent`` as written (missing parts empty), whether or not a list could carry it."""
        return f"{self.sender or ''},{self.identifier or ''},{self.sent or ''}"


def read_header(root: etree._Element) -> CapHeader | None:
    """The header of a CAP 1.2 ``alert``, or None for another root."""
    if root.tag != f"{{{CAP_NS}}}alert":
        return None

    def text(name: str) -> str | None:
        element = root.find(f"{{{CAP_NS}}}{name}")
        return None if element is None else (element.text or "").strip()

    return CapHeader(
        identifier=text("identifier"),
        sender=text("sender"),
        sent=text("sent"),
        status=text("status"),
        scope=text("scope"),
        restriction=text("restriction"),
        addresses=text("addresses"),
        msg_type=text("msgType"),
        references=text("references"),
        note=text("note"),
    )
