"""The ``mcptt-floor/1.0`` codec (harness/families/esn/floor.py) against specs/esn.md 1.1, "MCPTT floor control".

Every example of the spec's floor section is a catalog sample (written from the spec): each decodes to the
fields the spec states and encodes back to the same octets. Each rule FLR-01..10 is located where the spec
says; legacy field IDs are never decoded as their modern twins; the two reject-cause tables are kept apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.catalog import Catalog
from harness.families.esn.floor import (
    ACK_BIT,
    DENY_CAUSES,
    FLOOR_INDICATORS,
    KNOWN_SUBTYPES,
    LEGACY_FIELD_IDS,
    REVOKE_CAUSES,
    RULES,
    Field,
    FieldId,
    FloorError,
    Packet,
    Source,
    Subtype,
    decode,
    encode,
    judge,
)
from harness.families.esn.floor_format import coordinates, explain_rows

FORMAT = "mcptt-floor/1.0"
SERVER, A = 0x00A1B2C3, 0x0000A001

# The spec's examples table: sample -> (octets as printed in the spec, what they mean).
EXAMPLES: dict[str, tuple[str, dict[str | FieldId, Any]]] = {
    "floor-request-priority-7.bin": (
        "80 CC 00 03 00 00 A0 01 4D 43 50 54 00 02 07 00",
        {"subtype": Subtype.FLOOR_REQUEST, "ssrc": A, FieldId.FLOOR_PRIORITY: 7, "size": 16},
    ),
    "floor-granted-30s-priority-7.bin": (
        "81 CC 00 04 00 A1 B2 C3 4D 43 50 54 01 02 00 1E 00 02 07 00",
        {"subtype": Subtype.FLOOR_GRANTED, "ssrc": SERVER, FieldId.DURATION: 30, FieldId.FLOOR_PRIORITY: 7, "size": 20},
    ),
    "floor-granted-ack-required.bin": (
        "91 CC 00 04 00 A1 B2 C3 4D 43 50 54 01 02 00 1E 00 02 07 00",
        {"subtype": Subtype.FLOOR_GRANTED | ACK_BIT, "ssrc": SERVER, FieldId.DURATION: 30, "ack": True, "size": 20},
    ),
    "floor-taken-alpha-sequence-7.bin": (
        "82 CC 00 09 00 A1 B2 C3 4D 43 50 54 04 10 73 69 70 3A 61 6C 70 68 61 40 65 73 6E 2E 75 6B 00 00"
        " 05 02 00 01 08 02 00 07",
        {
            "subtype": Subtype.FLOOR_TAKEN,
            "ssrc": SERVER,
            FieldId.GRANTED_PARTY_IDENTITY: "sip:alpha@esn.uk",
            FieldId.PERMISSION_TO_REQUEST: 1,
            FieldId.MESSAGE_SEQUENCE_NUMBER: 7,
            "size": 40,
        },
    ),
    "floor-idle-sequence-8.bin": (
        "85 CC 00 03 00 A1 B2 C3 4D 43 50 54 08 02 00 08",
        {"subtype": Subtype.FLOOR_IDLE, "ssrc": SERVER, FieldId.MESSAGE_SEQUENCE_NUMBER: 8, "size": 16},
    ),
    "floor-deny-cause-1-busy.bin": (
        "83 CC 00 04 00 A1 B2 C3 4D 43 50 54 02 06 00 01 62 75 73 79",
        {"subtype": Subtype.FLOOR_DENY, "ssrc": SERVER, FieldId.REJECT_CAUSE: (1, b"busy"), "size": 20},
    ),
    "floor-release-ack-required.bin": (
        "94 CC 00 02 00 00 A0 01 4D 43 50 54",
        {"subtype": Subtype.FLOOR_RELEASE | ACK_BIT, "ssrc": A, "ack": True, "size": 12},
    ),
    "floor-ack-for-release.bin": (
        "8A CC 00 04 00 A1 B2 C3 4D 43 50 54 0A 02 00 02 0C 02 14 00",
        {
            "subtype": Subtype.FLOOR_ACK,
            "ssrc": SERVER,
            FieldId.SOURCE: Source.CONTROLLING_FUNCTION,
            FieldId.MESSAGE_TYPE: 0x14,
            "size": 20,
        },
    ),
    "floor-request-location-coordinates.bin": (
        "80 CC 00 05 00 00 A0 01 4D 43 50 54 13 07 06 49 3E D5 FF E9 51 00 00 00",
        {"subtype": Subtype.FLOOR_REQUEST, "ssrc": A, FieldId.LOCATION: (6, bytes.fromhex("49 3E D5 FF E9 51"))},
    ),
}


def _sample(catalog: Catalog, name: str) -> bytes:
    fmt = catalog.format(FORMAT)
    found = [s for s in fmt.samples if Path(s.path).name == name]
    assert found, f"no sample {name} in {FORMAT}"
    return Path(found[0].path).read_bytes()


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_example_of_the_spec_is_a_sample_that_decodes_to_its_fields_and_back(catalog: Catalog, name: str) -> None:
    printed, meaning = EXAMPLES[name]
    data = _sample(catalog, name)
    assert data == bytes.fromhex(printed), "the sample is not the spec's example"
    judgement = judge(data)
    assert judgement.errors == () and judgement.warnings == ()
    packet = decode(data)
    assert packet.subtype == meaning["subtype"]
    assert packet.ssrc == meaning["ssrc"]
    assert packet.ack_requested == meaning.get("ack", False)
    for key, value in meaning.items():
        if isinstance(key, FieldId):
            assert judgement.value(key) == value, FieldId(key).name
    assert len(data) == meaning.get("size", len(data))
    assert encode(packet) == data


def test_the_location_example_reads_as_coordinates() -> None:
    latitude, longitude = coordinates(bytes.fromhex("49 3E D5 FF E9 51"))
    assert latitude == pytest.approx(51.5007, abs=1e-4)
    assert longitude == pytest.approx(-0.1246, abs=1e-4)


def test_explain_gives_one_located_row_per_field(catalog: Catalog) -> None:
    lines = explain_rows(_sample(catalog, "floor-taken-alpha-sequence-7.bin"))
    assert lines[0].startswith("/octet/0") and "Floor Taken" in lines[0]
    assert any(line.startswith("/octet/12") and "'sip:alpha@esn.uk'" in line for line in lines)
    assert any(line.startswith("/octet/36") and "Message Sequence Number: 7" in line for line in lines)


# --------------------------------------------------------------------------- the tables of the spec


def test_the_subtype_table_and_its_x_bits() -> None:
    with_x = {1, 2, 3, 4, 5, 9}
    assert {int(s) for s in Subtype} == {0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 15}
    assert {s & ~ACK_BIT for s in KNOWN_SUBTYPES if s & ACK_BIT} == with_x
    for unknown in (7, 11, 12, 13, 14, 16, 22, 23, 24, 26, 31):
        assert unknown not in KNOWN_SUBTYPES


def test_reject_causes_and_floor_indicators_are_the_spec_s() -> None:
    assert set(DENY_CAUSES) == {1, 2, 3, 4, 5, 6, 7, 255}
    assert set(REVOKE_CAUSES) == {1, 2, 3, 4, 6, 255}
    assert sorted(FLOOR_INDICATORS) == [0x0080 << n for n in range(9)]
    assert {rule: severity for rule, (severity, _) in RULES.items()} == {
        "FLR-01": "error",
        "FLR-02": "error",
        "FLR-03": "error",
        "FLR-04": "warning",
        "FLR-05": "warning",
        "FLR-06": "warning",
        "FLR-07": "warning",
        "FLR-08": "warning",
        "FLR-09": "warning",
        "FLR-10": "error",
    }


def _packet(subtype: int, *fields: tuple[int, bytes], ssrc: int = A) -> bytes:
    return encode(Packet(subtype, ssrc, tuple(Field(i, v) for i, v in fields)))


def test_the_same_cause_number_is_judged_by_the_message_s_own_table() -> None:
    deny_5 = judge(_packet(Subtype.FLOOR_DENY, (FieldId.REJECT_CAUSE, b"\x00\x05"), ssrc=SERVER))
    revoke_5 = judge(_packet(Subtype.FLOOR_REVOKE, (FieldId.REJECT_CAUSE, b"\x00\x05"), ssrc=SERVER))
    assert deny_5.valid and deny_5.warnings == () and deny_5.value(FieldId.REJECT_CAUSE) == (5, b"")
    assert revoke_5.warning_rules == {"FLR-09"} and revoke_5.rules == {"FLR-10"}
    revoke_7 = judge(_packet(Subtype.FLOOR_REVOKE, (FieldId.REJECT_CAUSE, b"\x00\x07"), ssrc=SERVER))
    assert revoke_7.warning_rules == {"FLR-09"}, "revoke cause 7 is of a later release: unknown in 1.1"


@pytest.mark.parametrize(("legacy", "modern"), sorted(LEGACY_FIELD_IDS.items()))
def test_a_legacy_field_id_is_an_unknown_field_never_its_modern_twin(legacy: int, modern: int) -> None:
    value = {FieldId.SSRC: b"\x00\x00\xa0\x01\x00\x00"}.get(FieldId(modern), b"\x00\x07")
    judgement = judge(_packet(Subtype.FLOOR_REQUEST, (legacy, value)))
    assert judgement.valid
    assert [(f.location, f.rule) for f in judgement.warnings] == [("/octet/12", "FLR-05")]
    assert judgement.value(modern) is None
    assert "legacy" in judgement.warnings[0].message


def test_floor_granted_may_repeat_its_queued_sets_but_nothing_else() -> None:
    queued = [(FieldId.SSRC, bytes(6)), (FieldId.QUEUED_USER_ID, b"sip:b@x"), (FieldId.QUEUE_INFO, b"\x01\x00")]
    granted = judge(_packet(Subtype.FLOOR_GRANTED, (FieldId.DURATION, b"\x00\x1e"), *queued, *queued, ssrc=SERVER))
    assert granted.valid and granted.warnings == ()
    twice = judge(_packet(Subtype.FLOOR_GRANTED, (1, b"\x00\x1e"), (1, b"\x00\x05"), ssrc=SERVER))
    assert twice.warning_rules == {"FLR-07"} and twice.value(FieldId.DURATION) == 30, "the first is used"


def test_a_message_type_outside_the_table_is_flr_09_and_a_required_field_then_missing() -> None:
    ack = _packet(Subtype.FLOOR_ACK, (FieldId.SOURCE, b"\x00\x02"), (FieldId.MESSAGE_TYPE, b"\x1a\x00"), ssrc=SERVER)
    judgement = judge(ack)
    assert judgement.warning_rules == {"FLR-09"} and judgement.rules == {"FLR-10"}
    assert judgement.warnings[0].location == "/octet/16"


@pytest.mark.parametrize(
    ("hex_octets", "rule", "location"),
    [
        ("80 CC 00 03 00 00 A0 01 4D 43 50 54 00 06 07 00", "FLR-01", "/octet/13"),  # a field running past the end
        ("80 CC 00 04 00 00 A0 01 4D 43 50 54 00 02 07 00", "FLR-02", "/octet/2"),  # a wrong length
        ("80 CC 00 03 00 00 A0 01 4D 43 50 58 00 02 07 00", "FLR-03", "/octet/8"),  # name MCPX
        ("80 CD 00 03 00 00 A0 01 4D 43 50 54 00 02 07 00", "FLR-03", "/octet/1"),  # PT 205
        ("40 CC 00 03 00 00 A0 01 4D 43 50 54 00 02 07 00", "FLR-03", "/octet/0"),  # V = 1
        ("80 CC 00 03 00 00 A0 01 4D 43 50 54 00 02 07 00 00 00 00 00", "FLR-02", "/octet/2"),  # octets after
        ("80 CC 00 03 00 00 A0 01 4D 43 50 54 C8 00", "FLR-02", "/octet/2"),  # not whole words
        ("80 CC 00 03 00 00 A0 01 4D 43 50 54 C8 00 09 00", "FLR-01", "/octet/13"),  # a wide length past the end
        ("80 CC 00 02 00 00 A0 01 4D 43 50", "FLR-01", "/octet/8"),  # the name cut short
        ("", "FLR-01", "/octet/0"),
    ],
)
def test_errors_are_located_where_the_spec_says(hex_octets: str, rule: str, location: str) -> None:
    data = bytes.fromhex(hex_octets)
    judgement = judge(data)
    assert judgement.packet is None
    assert (judgement.errors[0].rule, judgement.errors[0].location) == (rule, location)
    with pytest.raises(FloorError) as raised:
        decode(data)
    assert (raised.value.rule, f"/octet/{raised.value.offset}") == (rule, location)
    assert raised.value.offset <= len(data)


def test_an_unknown_subtype_is_kept_whole_and_given_back() -> None:
    data = bytes.fromhex("8C CC 00 03 00 00 A0 01 4D 43 50 54 01 02 03 04")
    packet = decode(data)
    assert packet.kind is None and packet.body == bytes.fromhex("01 02 03 04") and packet.fields == ()
    assert encode(packet) == data
    assert judge(data).warning_rules == {"FLR-04"} and judge(data).valid


def test_encode_refuses_what_does_not_fit() -> None:
    for packet in (
        Packet(32, A),
        Packet(0, 1 << 32),
        Packet(0, A, (Field(256, b""),)),
        Packet(0, A, (Field(6, bytes(256)),)),
        Packet(0, A, (), b"\x00\x00\x00\x00"),
        Packet(12, A, (Field(0, b"\x00\x00"),)),
        Packet(12, A, (), b"\x00"),
    ):
        with pytest.raises(FloorError) as raised:
            encode(packet)
        assert raised.value.rule == "encode"
    wide = encode(Packet(0, A, (Field(200, bytes(300)),)))
    assert wide[12:15] == bytes((200, 0x01, 0x2C)) and len(wide) % 4 == 0
