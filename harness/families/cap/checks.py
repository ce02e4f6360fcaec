"""The check only CAP needs: ``cap_answer`` (an Ack or Error about the alert a step sent)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from lxml import etree

from harness.families.cap.message import CapHeader, read_header
from harness.model import ConfigurationError
from harness.profile import CAP_FORMAT, CAP_NS
from harness.runner.checks import CheckContext, Mismatch, check, declared_rules, validate_as, xml_root
from harness.validation.xmlsafe import UnsafeXml, parse_xml

__all__ = ["cap_answer", "cap_header"]

SKEW_S = 300.0
"""Clock skew a receiver tolerates (binding rule 6): an Ack's ``sent`` is "now" within it."""


def cap_header(root: etree._Element) -> CapHeader | None:
    """The header of a CAP 1.2 ``alert`` as this check compares it (missing elements as empty text, but
    ``references``), or None for another root."""
    header = read_header(root)
    if header is None:
        return None
    return replace(
        header,
        identifier=header.identifier or "",
        sender=header.sender or "",
        sent=header.sent or "",
        status=header.status or "",
        scope=header.scope or "",
        restriction=header.restriction or "",
        addresses=header.addresses or "",
        msg_type=header.msg_type or "",
        note=header.note or "",
    )


def _sent_header(ctx: CheckContext, step: str) -> CapHeader:
    original = ctx.scenario.sent.get(step)
    header = None
    if original is not None:
        try:
            header = cap_header(parse_xml(original.body))
        except UnsafeXml:
            header = None
    if header is None or not (header.sender and header.identifier and header.sent):
        raise ConfigurationError(f"'original: {step}' needs a CAP alert (sender, identifier, sent) sent by {step}")
    return header


def _cap_findings(ctx: CheckContext, answer: CapHeader) -> Iterator[Mismatch]:
    """The answer must itself be valid CAP 1.2; an Error may lack ``references`` (original unreadable)."""
    validation = validate_as(ctx.scenario.catalog.format(CAP_FORMAT), ctx)
    for finding in validation.findings[:20]:
        if finding.rule == "CAP-04" and answer.msg_type == "Error" and answer.references is None:
            continue
        where = f"body {finding.location or '/'}"
        yield Mismatch(where, f"valid {CAP_FORMAT} ({finding.rule})", finding.message, "the answer is not valid CAP")


def _is_now(sent: str, now: dt.datetime) -> bool:
    try:
        moment = dt.datetime.fromisoformat(sent)
    except ValueError:
        return False
    if moment.tzinfo is None:
        return False
    return abs((now - moment).total_seconds()) <= SKEW_S


@check("cap_answer")
def cap_answer(expected: dict[str, Any], ctx: CheckContext) -> Iterator[Mismatch]:
    """A CAP answer (Ack or Error): valid CAP, the ``msgType`` wanted, about the message ``original`` sent.

    ``original: STEP`` wants ``references`` to name exactly that message (``sender,identifier,sent``);
    for an Ack also a new identifier, ``sent`` now, and the original's status, scope, restriction and
    addresses. ``note_rules`` (a list, or ``from_sample``) are rule ids the Error's ``note`` must name.
    """
    root, error = xml_root(ctx, "body")
    answer = cap_header(root) if root is not None else None
    if answer is None:
        yield error or Mismatch("body", f"{{{CAP_NS}}}alert", root.tag if root is not None else None, "not CAP")
        return
    yield from _cap_findings(ctx, answer)
    wanted_type = expected.get("msgType")
    if wanted_type and answer.msg_type != wanted_type:
        yield Mismatch("body msgType", wanted_type, answer.msg_type, f"a {wanted_type} was expected")
    if "original" in expected:
        yield from _refers_to(_sent_header(ctx, str(expected["original"])), answer, ctx.now())
    if "note_rules" in expected:
        rules = declared_rules(expected["note_rules"], ctx)
        missing = [rule for rule in rules if not re.search(rf"(?<![\w-]){re.escape(rule)}(?![\w-])", answer.note or "")]
        if missing:
            yield Mismatch("body note", rules, answer.note, f"the note does not name {', '.join(missing)}")


def _refers_to(original: CapHeader, answer: CapHeader, now: dt.datetime) -> Iterator[Mismatch]:
    references = (answer.references or "").split()
    if references != [original.triple]:
        yield Mismatch("body references", original.triple, answer.references, "references must name the original")
    if answer.msg_type != "Ack":
        return
    if (answer.sender, answer.identifier) == (original.sender, original.identifier):
        yield Mismatch("body identifier", "a new identifier", answer.identifier, "the Ack re-uses the original's id")
    if not _is_now(answer.sent or "", now):
        yield Mismatch("body sent", f"now (within {SKEW_S:g} s)", answer.sent, "the Ack is not sent now")
    for field, want, got in (
        ("status", original.status, answer.status),
        ("scope", original.scope, answer.scope),
        ("restriction", original.restriction, answer.restriction),
        ("addresses", original.addresses, answer.addresses),
    ):
        if want != got:
            yield Mismatch(f"body {field}", want or None, got or None, f"the Ack's {field} is not the original's")
