"""Hypothesis against the MCData codec of esn 1.1 (issue 26, item 5): every kind of message, every IE.

- Round trip: ``decode(encode(x)) == x`` for every message 1.1 decodes (SDS and FD signalling, DATA PAYLOAD,
  the three notifications, protected), and ``encode(decode(d)) == d`` back; the fields located by
  ``decode_located`` start inside the message, in increasing order, each at the octet its value has.
- Never a traceback: random octets, and valid 1.1 messages mutated (truncated, bit-flipped, octets inserted,
  deleted, overwritten), under the tables of 1.0 and of 1.1, either decode to a message that re-encodes to
  the same octets or raise :class:`CodecError` with an offset inside the data and a rule of the codec; the
  format's validator (and an FD body's) gives a verdict, located, for every one of them.

The number of examples run is checked at the end of each campaign.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.catalog import load_catalog
from harness.families.esn.body import build_fd
from harness.families.esn.mcdata import (
    Binary,
    CodecError,
    DataPayload,
    Disposition,
    Fault,
    FdNetworkNotification,
    FdNetworkNotificationType,
    FdNotification,
    FdNotificationType,
    FdSignalling,
    FileUrl,
    Location,
    Message,
    MessageType,
    NotificationType,
    PayloadContent,
    Protected,
    SdsNotification,
    SdsSignalling,
    Text,
    decode,
    decode_located,
    encode,
)
from harness.families.esn.validation import sds_validator
from harness.validation.validator import validator_for

ROUND_TRIP_EXAMPLES = 2_500
RANDOM_EXAMPLES = 3_000
MUTATION_EXAMPLES = 4_000
FAULTS = {str(fault) for fault in Fault}
VERSIONS = ("1.0", "1.1")


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


OCTET = st.integers(0, 255)
date_times = st.integers(0, (1 << 40) - 1)
octets = st.binary(max_size=40)
optional_octets = st.none() | octets
optional_text = st.none() | st.text(max_size=30)
contents: st.SearchStrategy[PayloadContent] = st.one_of(
    st.builds(Text, st.text(max_size=30)),
    st.builds(Binary, octets),
    st.builds(FileUrl, octets),
    st.builds(Location, st.integers(0, (1 << 24) - 1), st.integers(0, (1 << 24) - 1)),
)
sds_signalling = st.builds(
    SdsSignalling,
    date_times,
    st.uuids(),
    st.uuids(),
    st.none() | st.uuids(),
    st.none() | OCTET,
    st.none() | st.sampled_from(Disposition),
    optional_octets,
    optional_octets,
    optional_text,
)
fd_signalling = st.builds(
    FdSignalling,
    date_times,
    st.uuids(),
    st.uuids(),
    st.none() | st.uuids(),
    st.none() | OCTET,
    st.booleans(),
    st.booleans(),
    st.lists(contents, max_size=3).map(tuple),
    optional_octets,
    optional_octets,
    optional_text,
)
sds_notifications = st.builds(
    SdsNotification,
    st.sampled_from(NotificationType),
    date_times,
    st.uuids(),
    st.uuids(),
    st.none() | OCTET,
    optional_octets,
    optional_text,
)
fd_notifications = st.builds(
    FdNotification,
    st.sampled_from(FdNotificationType),
    date_times,
    st.uuids(),
    st.uuids(),
    st.none() | OCTET,
    optional_octets,
    optional_text,
)
network_notifications = st.builds(
    FdNetworkNotification,
    st.sampled_from(FdNetworkNotificationType),
    date_times,
    st.uuids(),
    st.uuids(),
    st.none() | OCTET,
    optional_octets,
)
payloads = st.builds(DataPayload, st.lists(contents, min_size=1, max_size=4).map(tuple))
protected = st.builds(
    lambda kind, flags, tail: Protected(kind, bool(flags & 0x40), bool(flags & 0x80), bytes([kind | flags]) + tail),
    st.sampled_from([int(t) for t in MessageType]),
    st.sampled_from([0x40, 0x80, 0xC0]),
    octets,
)
messages: st.SearchStrategy[Message] = st.one_of(
    sds_signalling, fd_signalling, sds_notifications, fd_notifications, network_notifications, payloads, protected
)
CATALOG = load_catalog()
SIGNALLING = {v: validator_for(CATALOG.at({"esn": v}).format("mcdata-signalling/1.0")) for v in VERSIONS}
FD_BODY = sds_validator(CATALOG.format("mcdata-fd/1.0"))
INFO = (
    b'<?xml version="1.0" encoding="UTF-8"?><mcdatainfo xmlns="urn:3gpp:ns:mcdataInfo:1.0"><mcdata-Params>'
    b"<request-type>one-to-one-fd</request-type></mcdata-Params></mcdatainfo>"
)


def _located_in_order(data: bytes, version: str) -> None:
    located = decode_located(data, version)
    offsets = [offset for _, offset in located.fields]
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
    assert all(0 <= offset < len(data) for offset in offsets)


def _check(data: bytes, version: str) -> Any:
    """``data`` decodes to a message re-encoding to ``data``, or is refused inside it; the validator judges it."""
    verdict = SIGNALLING[version].validate(data)
    assert all(f.location.startswith("/octet/") for f in verdict.findings + verdict.warnings)
    assert all(0 <= int(f.location.rsplit("/", 1)[1]) <= len(data) for f in verdict.findings + verdict.warnings)
    try:
        message = decode(data, version)
    except CodecError as exc:
        assert 0 <= exc.offset <= len(data), (exc, data.hex())
        assert str(exc.rule) in FAULTS and exc.rule != Fault.NOT_ENCODABLE
        assert not verdict.valid
        return None
    assert encode(message) == data, data.hex()
    _located_in_order(data, version)
    return message


def test_round_trip_of_every_1_1_message() -> None:
    seen = 0

    @fuzz_settings(ROUND_TRIP_EXAMPLES)
    @given(messages)
    def run(message: Message) -> None:
        nonlocal seen
        seen += 1
        data = encode(message)
        assert decode(data) == message
        assert encode(decode(data)) == data
        if not isinstance(message, Protected):
            _located_in_order(data, "1.1")
        try:  # 1.0's table: the same message when it holds nothing 1.1 added, else a located refusal
            older = decode(data, "1.0")
        except CodecError as exc:
            assert exc.rule in (Fault.UNKNOWN_MESSAGE_TYPE, Fault.TRAILING_OCTETS) and exc.offset < len(data)
        else:
            assert older == message
        if isinstance(message, FdSignalling | FdNotification | FdNetworkNotification):
            body = FD_BODY.validate(*build_fd(INFO, data))
            assert all(f.location.startswith("/part/2/octet/") for f in body.findings + body.warnings)

    run()
    assert seen >= ROUND_TRIP_EXAMPLES


def test_random_octets_decode_or_are_refused_inside_them_under_both_tables() -> None:
    seen = 0

    @fuzz_settings(RANDOM_EXAMPLES)
    @given(st.binary(min_size=1, max_size=160), st.sampled_from(VERSIONS))
    def run(data: bytes, version: str) -> None:
        nonlocal seen
        seen += 1
        _check(bytes([(1, 2, 5, 6, 9)[data[0] % 5]]) + data[1:], version)  # a type 1.1 decodes, most of the time
        _check(data, version)

    run()
    assert seen >= RANDOM_EXAMPLES


def _mutate(data: bytes, steps: list[tuple[str, int, int]]) -> bytes:
    buffer = bytearray(data)
    for operation, where, octet in steps:
        at = where % (len(buffer) + 1)
        if operation == "truncate":
            del buffer[at:]
        elif operation == "insert":
            buffer.insert(at, octet)
        elif buffer and operation == "flip":
            buffer[at % len(buffer)] ^= 1 << (octet % 8)
        elif buffer and operation == "delete":
            del buffer[at % len(buffer)]
        elif buffer:
            buffer[at % len(buffer)] = octet
    return bytes(buffer)


MUTATIONS = st.lists(
    st.tuples(st.sampled_from(["truncate", "flip", "insert", "delete", "set"]), st.integers(0, 10_000), OCTET),
    min_size=1,
    max_size=4,
)


def test_mutated_1_1_messages_decode_or_are_refused_and_fd_bodies_are_judged() -> None:
    seen = 0

    @fuzz_settings(MUTATION_EXAMPLES)
    @given(
        st.one_of(sds_signalling, fd_signalling, fd_notifications, network_notifications),
        MUTATIONS,
        st.sampled_from(VERSIONS),
    )
    def run(message: Message, steps: list[tuple[str, int, int]], version: str) -> None:
        nonlocal seen
        seen += 1
        data = _mutate(encode(message), steps)
        _check(data, version)
        if data:
            body = FD_BODY.validate(*build_fd(INFO, data))
            assert all(f.location.startswith("/part/") for f in body.findings + body.warnings)

    run()
    assert seen >= MUTATION_EXAMPLES
