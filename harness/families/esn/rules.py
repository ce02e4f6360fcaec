"""The rules of the binary and multipart MCData formats, with their severity in each version of esn.md.

The codec (:mod:`harness.families.esn.mcdata`) and the family's validation
(:mod:`harness.families.esn.validation`, :mod:`harness.families.esn.fd`) judge the octets; this module states
the rules (rule set ``mcdata``) so that a rule's life is written once: MCD-03 is an error in 1.0 and withdrawn
from 1.1, MCD-13..16 and MCS-06 are errors from 1.1 on, MCD-17 is a warning from 1.1 on. Their check functions
find nothing on a JSON model (there is none): the validator of a binary or multipart format never runs them,
and :func:`harness.validation.validator.sample_findings` reads their severities.

Rule set ``mcdata-info`` (the mcdata-info XML format): under 1.0 the request types ``one-to-one-fd`` and
``group-fd`` stay refused as ``schema`` (1.1 adds them to the XSD), by a check 1.0 alone states.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from harness.families.rules import ALWAYS_AN_ERROR, History, RuleViolation, rule
from harness.model import Severity
from harness.profile import MCDATA_INFO_NS

__all__ = ["MCDATA_RULES", "fd_request_type_in_1_0"]

_ONLY_1_0: History = (("1.0", Severity.ERROR), ("1.1", None))
_FROM_1_1: History = (("1.1", Severity.ERROR),)
_WARNING_FROM_1_1: History = (("1.1", Severity.WARNING),)

MCDATA_RULES: tuple[tuple[str, str, History], ...] = (
    ("MCD-01", "truncated: the message ends inside a field it must carry", ALWAYS_AN_ERROR),
    ("MCD-02", "a length field runs past the end of the message", ALWAYS_AN_ERROR),
    ("MCD-03", "unknown message type, or one 1.0 does not decode (withdrawn from 1.1: MCD-13)", _ONLY_1_0),
    ("MCD-04", "unknown value of a mandatory field or of a half-octet IE", ALWAYS_AN_ERROR),
    ("MCD-05", "the number of payloads disagrees with the Payload IEs present", ALWAYS_AN_ERROR),
    ("MCD-06", "trailing octets: an octet that starts no IE of the message", ALWAYS_AN_ERROR),
    ("MCD-07", "a TEXT payload (or a sender MCData user ID) that is not UTF-8", ALWAYS_AN_ERROR),
    ("MCD-08", "an optional IE repeated or out of the order of the table", ALWAYS_AN_ERROR),
    ("MCD-09", "a content of the wrong size", ALWAYS_AN_ERROR),
    ("MCD-10", "protected or authenticated: not decoded", ALWAYS_AN_ERROR),
    ("MCD-11", "a message type the body part does not carry", ALWAYS_AN_ERROR),
    ("MCD-12", "a value that does not fit its field (encoding only)", ALWAYS_AN_ERROR),
    ("MCD-13", "unknown message type, or a type 1.1 does not decode (7, 8, 10-13, 17-20)", _FROM_1_1),
    ("MCD-14", "FD SIGNALLING PAYLOAD without a Payload IE", _FROM_1_1),
    ("MCD-15", "FD SIGNALLING PAYLOAD with more than one Payload IE, or one that is not FILEURL", _FROM_1_1),
    ("MCD-16", "FILEURL data not an absolute http or https URI of printable US-ASCII", _FROM_1_1),
    ("MCD-17", "Metadata not UTF-8 or not readable as the profile reads TS 24.282 15.2.17", _WARNING_FROM_1_1),
    ("MCS-01", "not a well-formed multipart/mixed body", ALWAYS_AN_ERROR),
    ("MCS-02", "a required part is missing", ALWAYS_AN_ERROR),
    ("MCS-03", "a foreign, repeated or misplaced part", ALWAYS_AN_ERROR),
    ("MCS-04", "a transfer encoding not accepted or not decodable", ALWAYS_AN_ERROR),
    ("MCS-05", "a limit exceeded", ALWAYS_AN_ERROR),
    ("MCS-06", "a request-type that does not match the body (*-sds with FD signalling, *-fd with SDS)", _FROM_1_1),
)
"""``(id, statement, history)`` of every rule of the binary and multipart MCData formats."""


def _judged_by_the_codec(document: Any) -> Iterable[RuleViolation]:
    return ()


for _id, _statement, _history in MCDATA_RULES:
    rule("mcdata", _id, _statement, _history)(_judged_by_the_codec)

_FD_REQUEST_TYPES = frozenset({"one-to-one-fd", "group-fd"})


@rule("mcdata-info", "schema", "a request-type of esn 1.1 (one-to-one-fd, group-fd) in a 1.0 document", _ONLY_1_0)
def fd_request_type_in_1_0(root: Any) -> Iterator[RuleViolation]:
    """1.0's XSD had no FD request types; 1.1's has, so 1.0 refuses them here, as its XSD did (``schema``)."""
    for position, element in enumerate(
        root.iterfind(f"{{{MCDATA_INFO_NS}}}mcdata-Params/{{{MCDATA_INFO_NS}}}request-type")
    ):
        if (element.text or "").strip() in _FD_REQUEST_TYPES:
            where = "/*[local-name()='mcdatainfo']/*[local-name()='mcdata-Params']/*[local-name()='request-type']"
            yield (
                (where if position == 0 else f"{where}[{position + 1}]"),
                (
                    f"request-type {element.text.strip()!r} is not one of esn 1.0's (one-to-one-sds, group-sds, "
                    "ad-hoc-group-sds)"
                ),
            )


@rule("mcdata-info", "schema", "the document is valid against the mcdata-info XSD", ALWAYS_AN_ERROR)
def _schema_in_every_version(root: Any) -> Iterable[RuleViolation]:
    """States ``schema`` an error in every version (the XSD judges it): the 1.0-only check above shares the id,
    and :func:`harness.validation.validator.sample_findings` reads the severity of an id from its last rule."""
    return ()
