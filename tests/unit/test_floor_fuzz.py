"""The floor codec fuzzed (hypothesis): decode(encode(p)) == p for every encodable packet; any octets at all are
either a packet or located findings, never a traceback; the validator agrees with the codec.

Like tests/unit/test_mcdata_codec.py, each test counts the examples it really ran, so that a settings change
cannot quietly turn the fuzzing off.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.families.esn.floor import (
    ACK_BIT,
    HEADER_SIZE,
    KNOWN_SUBTYPES,
    RULES,
    Field,
    FloorError,
    Packet,
    decode,
    encode,
    judge,
)

ROUND_TRIP_EXAMPLES = 3_000
RANDOM_EXAMPLES = 6_000
MUTATION_EXAMPLES = 6_000
LOCATION = re.compile(r"^/octet/(0|[1-9][0-9]*)$")


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


OCTETS = st.binary(max_size=40)
FIELD_IDS = st.one_of(st.integers(0, 20), st.sampled_from([99, 102, 108, 116, 191, 192, 200, 255]))
FIELDS = st.builds(Field, FIELD_IDS, OCTETS)
KNOWN = st.builds(
    Packet, st.sampled_from(sorted(KNOWN_SUBTYPES)), st.integers(0, 0xFFFFFFFF), st.lists(FIELDS, max_size=8).map(tuple)
)
UNKNOWN = st.builds(
    Packet,
    st.sampled_from(sorted(set(range(32)) - KNOWN_SUBTYPES)),
    st.integers(0, 0xFFFFFFFF),
    st.just(()),
    st.binary(max_size=40).map(lambda body: body[: len(body) // 4 * 4]),
)
PACKETS = st.one_of(KNOWN, UNKNOWN)


def _check(data: bytes) -> None:
    """Whatever ``data`` is: judged without raising, every finding located inside it; decode agrees."""
    judgement = judge(data)
    for finding in judgement.errors + judgement.warnings:
        match = LOCATION.match(finding.location)
        assert match is not None, finding
        assert int(match[1]) <= len(data), finding
        assert finding.rule in RULES and finding.message
        assert (finding in judgement.errors) == (RULES[finding.rule][0] == "error"), finding
    readable = not (judgement.rules & {"FLR-01", "FLR-02", "FLR-03"})
    try:
        packet = decode(data)
    except FloorError as exc:
        assert not readable, "decode refused what judge read"
        assert exc.rule in {"FLR-01", "FLR-02", "FLR-03"} and 0 <= exc.offset <= len(data)
        assert judgement.packet is None
        return
    assert readable and packet == judgement.packet
    if "FLR-08" not in judgement.warning_rules:  # zero padding: the canonical form, given back octet for octet
        assert encode(packet) == data


def test_round_trip_of_every_encodable_packet() -> None:
    seen = 0

    @fuzz_settings(ROUND_TRIP_EXAMPLES)
    @given(PACKETS, st.integers(0, 1000))
    def run(packet: Packet, cut: int) -> None:
        nonlocal seen
        seen += 1
        data = encode(packet)
        assert len(data) % 4 == 0 and int.from_bytes(data[2:4]) == len(data) // 4 - 1
        assert decode(data) == packet
        assert judge(data).packet == packet
        _check(data[: cut % (len(data) + 1)])  # every prefix too: located, never read past its end

    run()
    assert seen >= ROUND_TRIP_EXAMPLES


def _floor_like(data: bytes) -> bytes:
    """Random octets behind a readable header (else nearly every draw stops at FLR-03): V = 2, PT 204, MCPT and
    the right length, so that the fields themselves get fuzzed."""
    body = data[1:]
    body += bytes(-len(body) % 4)
    size = HEADER_SIZE + len(body)
    return (
        bytes((0x80 | (data[0] & 0x1F) if data else 0x80, 204))
        + (size // 4 - 1).to_bytes(2)
        + data[1:5].ljust(4, b"\x00")
        + b"MCPT"
        + body
    )


def test_random_octets_are_a_packet_or_located_findings() -> None:
    seen = 0

    @fuzz_settings(RANDOM_EXAMPLES)
    @given(st.one_of(st.binary(max_size=120), st.binary(max_size=120).map(_floor_like)))
    def run(data: bytes) -> None:
        nonlocal seen
        seen += 1
        _check(data)

    run()
    assert seen >= RANDOM_EXAMPLES


POOL = [
    bytes.fromhex("80 CC 00 03 00 00 A0 01 4D 43 50 54 00 02 07 00"),
    bytes.fromhex("82 CC 00 09 00 A1 B2 C3 4D 43 50 54 04 10 73 69 70 3A 61 6C 70 68 61 40 65 73 6E 2E 75 6B 00 00")
    + bytes.fromhex("05 02 00 01 08 02 00 07"),
    bytes.fromhex("8A CC 00 04 00 A1 B2 C3 4D 43 50 54 0A 02 00 02 0C 02 14 00"),
    bytes.fromhex("80 CC 00 05 00 00 A0 01 4D 43 50 54 13 07 06 49 3E D5 FF E9 51 00 00 00"),
    bytes.fromhex("83 CC 00 04 00 A1 B2 C3 4D 43 50 54 02 06 00 01 62 75 73 79"),
]
MUTATIONS = st.lists(
    st.tuples(
        st.sampled_from(["truncate", "flip", "insert", "delete", "set"]), st.integers(0, 10_000), st.integers(0, 255)
    ),
    min_size=1,
    max_size=4,
)


def _mutated(data: bytes, mutations: list[tuple[str, int, int]]) -> bytes:
    out = bytearray(data)
    for kind, where, octet in mutations:
        at = where % (len(out) + 1)
        if kind == "truncate":
            del out[at:]
        elif kind == "insert":
            out[at:at] = bytes((octet,))
        elif out and kind == "delete":
            del out[at % len(out)]
        elif out and kind == "flip":
            out[at % len(out)] ^= 1 << (octet % 8)
        elif out:
            out[at % len(out)] = octet
    return bytes(out)


def test_mutations_of_the_spec_s_examples_are_a_packet_or_located_findings() -> None:
    seen = 0

    @fuzz_settings(MUTATION_EXAMPLES)
    @given(st.sampled_from(POOL), MUTATIONS)
    def run(data: bytes, mutations: list[tuple[str, int, int]]) -> None:
        nonlocal seen
        seen += 1
        mutated = _mutated(data, mutations)
        _check(mutated)
        # and with the length octets made right again, so that the fields behind them get judged
        if len(mutated) >= HEADER_SIZE and len(mutated) % 4 == 0:
            _check(mutated[:2] + (len(mutated) // 4 - 1).to_bytes(2) + mutated[4:])

    run()
    assert seen >= MUTATION_EXAMPLES


def test_x_on_a_subtype_without_one_is_never_taken_for_an_acknowledgement() -> None:
    for subtype in range(32):
        packet = Packet(subtype, 1, (), b"") if subtype not in KNOWN_SUBTYPES else Packet(subtype, 1)
        assert packet.ack_requested == (subtype in KNOWN_SUBTYPES and bool(subtype & ACK_BIT))
