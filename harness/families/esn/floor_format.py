"""The format ``mcptt-floor/1.0`` in the catalog: its rule set, validator, ``--explain``, detection, report view.

- The rules FLR-01..10 are registered in the rule set ``mcptt-floor`` (:mod:`harness.families.rules`), each with
  the severity specs/esn.md 1.1 states, so that ``harness rules``, the samples' manifests and the verdicts read
  one table. Each rule's function reports that rule's findings of :func:`harness.families.esn.floor.judge`
  (one judgement per packet, shared by the ten rules).
- :func:`validator` (manifest ``syntax: mcptt-floor``): errors and warnings apart, by the severity of the document
  version the format is judged by.
- :func:`explain` / :func:`body_view`: the decoded field table (``/octet/N``, field, value).
- :func:`detect`: a bare packet is recognised by V = 2, PT = 204 and the name ``MCPT``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

from harness.families.esn.floor import (
    FLOOR_INDICATORS,
    HEADER_SIZE,
    LOCATION_TYPES,
    NAME,
    PT_APP,
    RULES,
    FieldId,
    Judgement,
    ReceivedField,
    judge,
    subtype_name,
)
from harness.families.rules import judge as judge_rules
from harness.families.rules import rule
from harness.model import Finding, Format, Severity
from harness.validation.validator import Syntax, SyntaxValidator, Validation

__all__ = [
    "FLOOR_AWAIT",
    "FLOOR_PACKET",
    "FLOOR_SEND",
    "RULE_SET",
    "SYNTAX",
    "body_view",
    "coordinates",
    "detect",
    "explain",
    "explain_rows",
    "field_rows",
    "validator",
]

RULE_SET = "mcptt-floor"


@functools.lru_cache(maxsize=32)
def _judged(data: bytes) -> Judgement:
    """One judgement per packet, whichever of the ten rules asks (they run one after the other)."""
    return judge(data)


def _rule_function(rule_id: str) -> Callable[[bytes], Iterator[tuple[str, str]]]:
    def findings(data: bytes) -> Iterator[tuple[str, str]]:
        judgement = _judged(bytes(data))
        for finding in judgement.errors + judgement.warnings:
            if finding.rule == rule_id:
                yield finding.location, finding.message

    findings.__name__ = findings.__qualname__ = f"flr_{rule_id[4:]}"
    return findings


for _rule_id, (_severity, _statement) in RULES.items():
    # Every version of esn.md judges a floor packet alike: the format is new in 1.1, and no 1.0 exchange uses it.
    rule(RULE_SET, _rule_id, _statement, history=(("1.0", Severity(_severity)),))(_rule_function(_rule_id))


def _position(finding: Finding) -> int:
    tail = finding.location.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def validator(fmt: Format) -> SyntaxValidator:
    """The validator of a format of syntax ``mcptt-floor``: the rules of its rule set in force, by severity."""
    rule_set = fmt.rule_set or RULE_SET

    def validate(data: bytes) -> Validation:
        errors: list[Finding] = []
        warnings: list[Finding] = []
        for rule_id, location, message, severity in judge_rules(rule_set, bytes(data), fmt.rules_version):
            found = Finding(str(location), rule_id, message)
            (warnings if severity is Severity.WARNING else errors).append(found)
        return Validation(fmt.id, tuple(sorted(errors, key=_position)), None, tuple(sorted(warnings, key=_position)))

    return validate


def explain(fmt: Format, data: bytes) -> list[str]:
    """``harness validate --explain``: the decoded field table, one row per line."""
    return explain_rows(data)


def body_view(data: bytes) -> str:
    """The HTML report's decoded view of a floor packet, beside its hex dump: the same field table."""
    return "\n".join(explain_rows(data))


def explain_rows(data: bytes) -> list[str]:
    """The decoded field table of a packet, one ``/octet/N  field: value`` line per row."""
    return [f"{location:<10} {name}: {value}" for location, name, value in field_rows(data)]


def detect(formats: list[Format], data: bytes) -> Format | None:
    """The ``mcptt-floor`` format of a bare packet: V = 2, PT = 204 and the name ``MCPT`` at octet 8."""
    if len(data) < HEADER_SIZE or data[0] >> 6 != 2 or data[1] != PT_APP or data[8:12] != NAME:
        return None
    return next((fmt for fmt in formats if fmt.syntax == RULE_SET), None)


# --------------------------------------------------------------------------- explaining


def coordinates(value: bytes) -> tuple[float, float]:
    """Degrees of a Location's 6 coordinate octets (TS 23.032 6.1): latitude, bit 23 the sign (1 south) and 23
    bits of magnitude x 90/2^23; longitude, 24-bit two's complement x 360/2^24."""
    raw_latitude, raw_longitude = int.from_bytes(value[:3]), int.from_bytes(value[3:6])
    latitude = (raw_latitude & 0x7FFFFF) * 90 / (1 << 23) * (-1 if raw_latitude & 0x800000 else 1)
    longitude = (raw_longitude - (1 << 24) if raw_longitude & 0x800000 else raw_longitude) * 360 / (1 << 24)
    return latitude, longitude


def _shown(item: ReceivedField) -> str:
    meaning = item.meaning
    if item.ignored:
        return f"{len(item.value)} octet(s): {item.value[:32].hex(' ')} - {item.ignored}"
    if item.id == FieldId.DURATION:
        return f"{meaning} s"
    if item.id == FieldId.REJECT_CAUSE:
        cause, phrase = meaning
        return f"{cause}" + (f", phrase {phrase.decode('utf-8', 'replace')!r}" if phrase else "")
    if item.id == FieldId.QUEUE_INFO:
        position, priority = meaning
        where = {254: "not queued", 255: "queued, position not disclosed"}.get(position, f"position {position}")
        return f"{where}, priority {priority}"
    if item.id == FieldId.SOURCE:
        return f"{int(meaning)} ({meaning.name.replace('_', ' ').lower()})"
    if item.id == FieldId.MESSAGE_TYPE:
        return f"0x{meaning:02X} ({subtype_name(meaning)})"
    if item.id == FieldId.FLOOR_INDICATOR:
        bits = [name for mask, name in FLOOR_INDICATORS.items() if meaning & mask]
        return f"0x{meaning:04X} ({', '.join(bits) or 'none'})"
    if item.id == FieldId.SSRC:
        return f"0x{meaning:08X}"
    if item.id == FieldId.LOCATION:
        kind, octets = meaning
        shown = f"type {kind} ({LOCATION_TYPES[kind]})" + (f": {octets.hex(' ')}" if octets else "")
        if kind == 6:
            latitude, longitude = coordinates(octets)
            shown += f" ({latitude:.5f}, {longitude:.5f} degrees)"
        return shown
    if item.id == FieldId.PERMISSION_TO_REQUEST:
        return f"{meaning} ({'permitted' if meaning else 'not permitted'})"
    if isinstance(meaning, str):
        return repr(meaning)
    if isinstance(meaning, bytes):
        return f"{len(meaning)} octet(s): {meaning[:32].hex(' ')}" + (" ..." if len(meaning) > 32 else "")
    return str(meaning)


def field_rows(data: bytes) -> list[tuple[str, str, str]]:
    """``(location, field, value)`` rows of a packet for a decoded field table (the HTML report, ``--explain``)."""
    judgement = judge(data)
    packet = judgement.packet
    if packet is None:
        finding = judgement.errors[0]
        return [(finding.location, "not readable", f"{finding.rule}: {finding.message}")]
    rows = [
        ("/octet/0", "subtype", f"{packet.subtype} ({subtype_name(packet.subtype)})"),
        ("/octet/2", "length", f"{int.from_bytes(data[2:4])} (words - 1)"),
        ("/octet/4", "SSRC", f"0x{packet.ssrc:08X}"),
        ("/octet/8", "name", "MCPT"),
    ]
    if packet.body:
        rows.append((f"/octet/{HEADER_SIZE}", "not decoded", f"{len(packet.body)} octet(s)"))
    rows += [(f"/octet/{item.offset}", f"{item.id} {item.name}", _shown(item)) for item in judgement.fields]
    return rows


# -- the scenario language's floor keys (schema fragments; the handlers are in floor_steps) ------------------------

FLOOR_SEND: dict[str, Any] = {
    "description": "Send one floor packet to the SUT's floor control server (POST /netcode/v1/esn/floor/{session}).",
    "type": "object",
    "additionalProperties": False,
    "required": ["session"],
    "properties": {
        "session": {"type": "string", "minLength": 1},
        "sample": {"$ref": "#/$defs/sampleRef"},
        "hex": {"type": "string"},
        "content_type": {"type": "string"},
    },
    "oneOf": [{"required": ["sample"]}, {"required": ["hex"]}],
}
"""``floor_send``: the packet is a catalog sample or hex octets; the step's ``expect`` judges the answer."""

FLOOR_AWAIT: dict[str, Any] = {
    "description": "The first floor packet the SUT sent to a participant after a floor_send step.",
    "type": "object",
    "additionalProperties": False,
    "required": ["participant", "session", "after"],
    "properties": {
        "participant": {"type": "string", "pattern": "^/"},
        "session": {"type": "string", "minLength": 1},
        "after": {"type": "string", "minLength": 1},
        "within_s": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600},
        "expect_none": {"type": "boolean"},
    },
}
"""``floor_await``: ``participant`` is the path below the counterpart the participant is delivered at."""

_FIELD_EXPECTATION: dict[str, Any] = {
    "oneOf": [
        {"type": ["integer", "string"]},
        {"type": "array", "items": {"type": "integer"}},
        {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": {
                "equals": {"type": ["integer", "string", "array"]},
                "present": {"type": "boolean"},
                "optional": {"type": "boolean"},
            },
        },
    ]
}

FLOOR_PACKET: dict[str, Any] = {
    "description": "The floor packet received: FLR-clean, its subtype, fields, SSRC and numbering.",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "subtype": {"$ref": "#/$defs/stringOrList"},
        "ack_requested": {"type": "boolean"},
        "fields": {"type": "object", "additionalProperties": _FIELD_EXPECTATION},
        "keep_as": {"type": "string", "minLength": 1},
        "same_ssrc_as": {"type": "string", "minLength": 1},
        "sequence_after": {"type": "string", "minLength": 1},
    },
}
"""The value of the ``floor_packet`` check."""

SYNTAX = Syntax(validator=validator, explain=explain, detect=detect)
"""The manifest syntax ``mcptt-floor``, declared in the ESN family's ``syntaxes``."""
