"""The MCData codec (TS 24.282 clause 15): byte-exact on the spec's examples, round trips, and a fuzz campaign.

Properties checked on every input the fuzz tests draw (random octets, and valid
messages truncated, bit-flipped, with octets inserted, deleted or overwritten):
``decode`` either returns a message that ``encode`` turns back into exactly the
same octets, or raises :class:`CodecError` (nothing else) whose offset lies
inside the data (``0 <= offset <= len``) and whose rule is one of the codec's.
Decoding a prefix of a message (a memoryview slice of a longer buffer) never
reaches the octets beyond it. The number of fuzz examples run is checked at the
end of each campaign (``FUZZ_EXAMPLES`` in total, 20 000 with the defaults).
"""

from __future__ import annotations

import math
import random
import uuid
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.catalog import Catalog
from harness.families.esn.mcdata import (
    Binary,
    CodecError,
    CodedText,
    ContentType,
    DataPayload,
    Disposition,
    EnhancedStatus,
    Fault,
    FileUrl,
    Hyperlinks,
    Location,
    LocationAltitude,
    LocationTimestamp,
    Message,
    MessageType,
    NotificationType,
    PayloadContent,
    Protected,
    SdsNotification,
    SdsSignalling,
    Text,
    decode,
    encode,
    message_type_name,
)

CONVERSATION = uuid.UUID("8d1e7c5a-3b4f-4c2d-9e6f-1a2b3c4d5e6f")
MESSAGE = uuid.UUID("f47ac10b-58cc-4372-a567-0e02b2c3d479")
DATE_TIME = 1790775600
SPEC_SIGNALLING = bytes.fromhex("01 00 6A BD 11 30") + CONVERSATION.bytes + MESSAGE.bytes + bytes.fromhex("81")
SPEC_TEXT = bytes.fromhex("03 01 78 00 03 01 68 69")
NOTIFICATION_EXAMPLE = bytes.fromhex("05 02 00 6A BD 11 31") + CONVERSATION.bytes + MESSAGE.bytes
LOCATION_EXAMPLE = bytes.fromhex("03 01 78 00 07 05 49 3E D5 FF E9 51")

RANDOM_EXAMPLES = 8_000
MUTATION_EXAMPLES = 9_000
ROUND_TRIP_EXAMPLES = 3_000
FUZZ_EXAMPLES = RANDOM_EXAMPLES + MUTATION_EXAMPLES + ROUND_TRIP_EXAMPLES
FAULTS = {str(fault) for fault in Fault}
T = TypeVar("T")


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --------------------------------------------------------------------------- the spec's examples


def test_the_39_octet_signalling_example_decodes_and_re_encodes_byte_for_byte() -> None:
    assert len(SPEC_SIGNALLING) == 39
    assert SPEC_SIGNALLING[1:6] == (1790775600).to_bytes(5)
    message = decode(SPEC_SIGNALLING)
    assert message == SdsSignalling(DATE_TIME, CONVERSATION, MESSAGE, disposition=Disposition.DELIVERY)
    assert isinstance(message, SdsSignalling)
    assert message.sent_at.isoformat() == "2026-09-30T13:40:00+00:00"
    assert message.disposition is not None and message.disposition.wants_delivery
    assert not message.disposition.wants_read
    assert encode(message) == SPEC_SIGNALLING


def test_the_text_hi_payload_decodes_and_re_encodes_byte_for_byte() -> None:
    message = decode(SPEC_TEXT)
    assert message == DataPayload((Text("hi"),))
    assert encode(message) == SPEC_TEXT
    assert encode(DataPayload((Text("hi"),))) == SPEC_TEXT


def test_the_notification_example_answers_the_signalling_example() -> None:
    sds = decode(SPEC_SIGNALLING)
    assert isinstance(sds, SdsSignalling)
    notification = SdsNotification.answering(sds, NotificationType.DELIVERED, DATE_TIME + 1)
    assert encode(notification) == NOTIFICATION_EXAMPLE
    assert len(NOTIFICATION_EXAMPLE) == 39
    assert decode(NOTIFICATION_EXAMPLE) == notification
    assert (notification.conversation_id, notification.message_id) == (CONVERSATION, MESSAGE)


def test_the_location_example_decodes_to_degrees_and_back() -> None:
    message = decode(LOCATION_EXAMPLE)
    assert isinstance(message, DataPayload)
    (location,) = message.payloads
    assert location == Location(0x493ED5, 0xFFE951)
    assert isinstance(location, Location)
    assert location.latitude == pytest.approx(51.5007, abs=1e-5)
    assert location.longitude == pytest.approx(-0.1246, abs=1e-5)
    assert Location.from_degrees(51.5007, -0.1246) == location
    assert encode(message) == LOCATION_EXAMPLE


def test_every_valid_binary_sample_of_the_catalog_re_encodes_byte_for_byte(catalog: Catalog) -> None:
    paths = [
        Path(sample.path)
        for format_id in ("mcdata-signalling/1.0", "mcdata-payload/1.0")
        for sample in catalog.format(format_id).valid_samples
    ]
    assert len(paths) >= 8
    for path in paths:
        data = path.read_bytes()
        assert encode(decode(data)) == data, path.name


@pytest.mark.parametrize(
    ("latitude_raw", "longitude_raw", "latitude", "longitude"),
    [
        (0x000000, 0x000000, 0.0, 0.0),
        (0x7FFFFF, 0x7FFFFF, 90 - 90 / 2**23, 180 - 360 / 2**24),
        (0xFFFFFF, 0x800000, -(90 - 90 / 2**23), -180.0),
        (0x400000, 0xC00000, 45.0, -90.0),
        (0xC00000, 0x400000, -45.0, 90.0),
    ],
)
def test_location_coding_of_sign_magnitude_latitude_and_twos_complement_longitude(
    latitude_raw: int, longitude_raw: int, latitude: float, longitude: float
) -> None:
    location = Location(latitude_raw, longitude_raw)
    assert (location.latitude, location.longitude) == (latitude, longitude)
    assert Location.from_degrees(latitude, longitude) == location


def test_location_edges_are_clamped_or_wrapped_as_ts_23_032_says() -> None:
    assert Location.from_degrees(90.0, 180.0) == Location(0x7FFFFF, 0x800000)
    assert Location.from_degrees(-90.0, -180.0) == Location(0xFFFFFF, 0x800000)
    south_zero = Location(0x800000, 0)
    assert math.copysign(1.0, south_zero.latitude) < 0
    assert Location.from_degrees(south_zero.latitude, 0.0) == south_zero
    for bad in ((90.5, 0.0), (0.0, 180.5), (math.nan, 0.0), (0.0, math.inf)):
        with pytest.raises(CodecError):
            Location.from_degrees(*bad)


def test_altitude_keeps_direction_and_metres() -> None:
    assert LocationAltitude.from_metres(-12) == LocationAltitude(0x800C)
    assert LocationAltitude(0x800C).metres == -12 and LocationAltitude(0x800C).depth
    assert LocationAltitude.from_metres(40000) == LocationAltitude(0x7FFF)
    assert LocationAltitude(0x0064).metres == 100


def test_message_type_names_follow_the_table() -> None:
    assert message_type_name(1) == "SDS SIGNALLING PAYLOAD"
    assert message_type_name(20) == "GROUP EMERGENCY ALERT CANCEL ACK"
    assert message_type_name(4) == "unknown"


# --------------------------------------------------------------------------- refusals, with offsets


def _signalling(tail: bytes = b"") -> bytes:
    return SPEC_SIGNALLING[:38] + tail


@pytest.mark.parametrize(
    ("hex_or_bytes", "offset", "rule"),
    [
        (b"", 0, Fault.TRUNCATED),
        (SPEC_SIGNALLING[:1], 1, Fault.TRUNCATED),
        (SPEC_SIGNALLING[:5], 1, Fault.TRUNCATED),
        (SPEC_SIGNALLING[:20], 6, Fault.TRUNCATED),
        (SPEC_SIGNALLING[:37], 22, Fault.TRUNCATED),
        (_signalling(b"\x21" + bytes(15)), 39, Fault.TRUNCATED),
        (_signalling(b"\x22"), 39, Fault.TRUNCATED),
        (_signalling(b"\x7d\x00"), 39, Fault.TRUNCATED),
        (_signalling(b"\x7d\x00\x05abcd"), 39, Fault.LENGTH_PAST_END),
        (b"\x04" + SPEC_SIGNALLING[1:], 0, Fault.UNKNOWN_MESSAGE_TYPE),
        (b"\x3f", 0, Fault.UNKNOWN_MESSAGE_TYPE),
        (b"\x11" + bytes(10), 0, Fault.UNKNOWN_MESSAGE_TYPE),  # GROUP EMERGENCY ALERT: known, not decoded
        (_signalling(b"\x80"), 38, Fault.UNKNOWN_VALUE),
        (_signalling(b"\x8f"), 38, Fault.UNKNOWN_VALUE),
        (b"\x05\x00" + NOTIFICATION_EXAMPLE[2:], 1, Fault.UNKNOWN_VALUE),
        (b"\x05\x06" + NOTIFICATION_EXAMPLE[2:], 1, Fault.UNKNOWN_VALUE),
        (NOTIFICATION_EXAMPLE[:38], 23, Fault.TRUNCATED),
        (NOTIFICATION_EXAMPLE + b"\x81", 39, Fault.TRAILING_OCTETS),
        (NOTIFICATION_EXAMPLE + b"\x7d\x00\x00\x22\x01", 42, Fault.IE_ORDER),
        (SPEC_SIGNALLING + b"\x00", 39, Fault.TRAILING_OCTETS),
        (SPEC_SIGNALLING + b"\x21" + bytes(16), 39, Fault.IE_ORDER),
        (SPEC_SIGNALLING + b"\x83", 39, Fault.IE_ORDER),
        ("03", 1, Fault.TRUNCATED),
        ("03 00", 1, Fault.UNKNOWN_VALUE),
        ("03 01", 1, Fault.PAYLOAD_COUNT),
        ("03 01 78", 3, Fault.TRUNCATED),
        ("03 01 78 00 04 01 68 69", 3, Fault.LENGTH_PAST_END),
        ("03 01 78 ff ff 01", 3, Fault.LENGTH_PAST_END),
        ("03 01 78 00 00", 3, Fault.CONTENT_SIZE),
        ("03 01 78 00 03 07 68 69", 5, Fault.UNKNOWN_VALUE),
        ("03 01 78 00 03 0b 68 69", 5, Fault.UNKNOWN_VALUE),
        ("03 01 78 00 03 00 68 69", 5, Fault.UNKNOWN_VALUE),
        ("03 02 78 00 03 01 68 69", 1, Fault.PAYLOAD_COUNT),
        ("03 01 78 00 03 01 68 69 78 00 01 02", 1, Fault.PAYLOAD_COUNT),
        ("03 01 78 00 03 01 68 69 20", 8, Fault.TRAILING_OCTETS),
        ("03 01 78 00 04 01 68 c3 28", 7, Fault.NOT_UTF8),
        ("03 01 78 00 04 01 ed a0 80", 6, Fault.NOT_UTF8),  # an encoded surrogate is not UTF-8
        ("03 01 78 00 03 01 c0 af", 6, Fault.NOT_UTF8),  # nor is an overlong form
        ("03 01 78 00 06 05 00 00 00 00 00", 6, Fault.CONTENT_SIZE),
        ("03 01 78 00 02 06 00", 6, Fault.CONTENT_SIZE),
        ("03 01 78 00 04 08 00 00 00", 6, Fault.CONTENT_SIZE),
    ],
)
@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_refusals_name_the_octet_and_the_rule(
    hex_or_bytes: bytes | str, offset: int, rule: Fault, version: str
) -> None:
    """The same refusals under both tables, but for the rule of a type not decoded: MCD-03 in 1.0, MCD-13 in 1.1."""
    data = bytes.fromhex(hex_or_bytes) if isinstance(hex_or_bytes, str) else hex_or_bytes
    if version == "1.1" and rule is Fault.UNKNOWN_MESSAGE_TYPE:
        rule = Fault.NOT_DECODED_1_1
    with pytest.raises(CodecError) as info:
        decode(data, version)
    assert (info.value.offset, info.value.rule) == (offset, rule), info.value
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith(f"octet {offset}: ")
    assert 0 <= info.value.offset <= len(data)


@pytest.mark.parametrize("first", [0x41, 0x81, 0xC1, 0x43, 0x45, 0x51])
def test_protected_or_authenticated_messages_are_kept_not_decoded(first: int) -> None:
    data = bytes([first]) + bytes(range(40))
    message = decode(data)
    assert isinstance(message, Protected)
    assert message.message_type == first & 0x3F
    assert message.protected == bool(first & 0x40)
    assert message.authenticated == bool(first & 0x80)
    assert encode(message) == data


def test_a_protected_message_of_an_unknown_type_is_still_refused() -> None:
    with pytest.raises(CodecError) as info:
        decode(b"\x44" + bytes(40), "1.0")
    assert info.value.rule == Fault.UNKNOWN_MESSAGE_TYPE
    with pytest.raises(CodecError) as info:
        decode(b"\x44" + bytes(40))
    assert info.value.rule == Fault.NOT_DECODED_1_1


def test_decode_accepts_bytearray_and_memoryview_and_refuses_other_types() -> None:
    assert decode(bytearray(SPEC_TEXT)) == decode(memoryview(SPEC_TEXT)) == decode(SPEC_TEXT)
    with pytest.raises(CodecError):
        decode("03 01 78 00 03 01 68 69")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "message",
    [
        SdsSignalling(1 << 40, CONVERSATION, MESSAGE),
        SdsSignalling(-1, CONVERSATION, MESSAGE),
        SdsSignalling(DATE_TIME, "not a uuid", MESSAGE),  # type: ignore[arg-type]
        SdsSignalling(DATE_TIME, CONVERSATION, MESSAGE, application_id=256),
        SdsSignalling(DATE_TIME, CONVERSATION, MESSAGE, disposition=4),  # type: ignore[arg-type]
        SdsSignalling(DATE_TIME, CONVERSATION, MESSAGE, extended_application_id=bytes(65536)),
        SdsNotification(6, DATE_TIME, CONVERSATION, MESSAGE),  # type: ignore[arg-type]
        DataPayload(()),
        DataPayload((Text("x"),) * 256),
        DataPayload((Text("\ud800"),)),
        DataPayload((Location(1 << 24, 0),)),
        DataPayload((EnhancedStatus(1 << 16),)),
        DataPayload((LocationAltitude(-1),)),
        DataPayload((Binary(bytes(65535)),)),
        DataPayload((Binary("text"),)),  # type: ignore[arg-type]
    ],
)
def test_values_that_do_not_fit_their_field_are_refused_by_encode(message: Message) -> None:
    with pytest.raises(CodecError) as info:
        encode(message)
    assert info.value.rule == Fault.NOT_ENCODABLE


def test_encode_refuses_what_is_not_a_message() -> None:
    with pytest.raises(CodecError):
        encode(Text("hi"))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- strategies

OCTET = st.integers(0, 255)
contents: st.SearchStrategy[PayloadContent] = st.one_of(
    st.builds(Text, st.text(max_size=40)),
    st.builds(Binary, st.binary(max_size=40)),
    st.builds(Hyperlinks, st.binary(max_size=40)),
    st.builds(FileUrl, st.binary(max_size=40)),
    st.builds(Location, st.integers(0, (1 << 24) - 1), st.integers(0, (1 << 24) - 1)),
    st.builds(EnhancedStatus, st.integers(0, 0xFFFF)),
    st.builds(LocationAltitude, st.integers(0, 0xFFFF)),
    st.builds(LocationTimestamp, st.binary(max_size=12)),
    st.builds(CodedText, st.binary(max_size=40)),
)
date_times = st.integers(0, (1 << 40) - 1)
optional_octets = st.none() | st.binary(max_size=40)
signalling_messages = st.builds(
    SdsSignalling,
    date_times,
    st.uuids(),
    st.uuids(),
    st.none() | st.uuids(),
    st.none() | OCTET,
    st.none() | st.sampled_from(Disposition),
    optional_octets,
)
notification_messages = st.builds(
    SdsNotification,
    st.sampled_from(NotificationType),
    date_times,
    st.uuids(),
    st.uuids(),
    st.none() | OCTET,
    optional_octets,
)
payload_messages = st.builds(DataPayload, st.lists(contents, min_size=1, max_size=5).map(tuple))
protected_messages = st.builds(
    lambda kind, flags, tail: Protected(kind, bool(flags & 0x40), bool(flags & 0x80), bytes([kind | flags]) + tail),
    st.sampled_from([int(t) for t in MessageType]),
    st.sampled_from([0x40, 0x80, 0xC0]),
    st.binary(max_size=40),
)
messages: st.SearchStrategy[Message] = st.one_of(
    signalling_messages, notification_messages, payload_messages, protected_messages
)


@given(contents)
def test_every_content_type_has_its_class(content: PayloadContent) -> None:
    assert content.content_type in set(ContentType)
    (decoded,) = _decoded_payloads(encode(DataPayload((content,))))
    assert decoded == content


def _decoded_payloads(data: bytes) -> tuple[PayloadContent, ...]:
    message = decode(data)
    assert isinstance(message, DataPayload)
    return message.payloads


@given(st.integers(0, (1 << 24) - 1), st.integers(0, (1 << 24) - 1))
def test_degrees_derived_from_raw_values_code_back_to_the_same_raw_values(latitude: int, longitude: int) -> None:
    location = Location(latitude, longitude)
    assert -90 < location.latitude < 90 and -180 <= location.longitude < 180
    assert Location.from_degrees(location.latitude, location.longitude) == location


@given(st.floats(-90, 90), st.floats(-180, 180))
def test_degrees_code_within_one_step_of_the_value(latitude: float, longitude: float) -> None:
    location = Location.from_degrees(latitude, longitude)
    assert abs(location.latitude - latitude) <= 90 / 2**23 + 1e-12
    gap = abs(location.longitude - longitude)
    assert min(gap, 360 - gap) <= 360 / 2**24 + 1e-12


# --------------------------------------------------------------------------- round trips and fuzzing


def _check(data: bytes) -> None:
    """Accepted data re-encodes to itself; refused data names an offset inside it and a known rule."""
    try:
        message = decode(data)
    except CodecError as exc:
        assert 0 <= exc.offset <= len(data), (exc, data.hex())
        assert str(exc.rule) in FAULTS
        assert exc.rule != Fault.NOT_ENCODABLE
        return
    assert encode(message) == data, data.hex()


def test_round_trip_fuzz_of_every_message_kind_and_content_type() -> None:
    seen = 0

    @fuzz_settings(ROUND_TRIP_EXAMPLES)
    @given(messages, st.integers(0, 1000))
    def run(message: Message, cut: int) -> None:
        nonlocal seen
        seen += 1
        data = encode(message)
        decoded = decode(data)
        assert decoded == message
        assert encode(decoded) == data
        # A prefix decoded through a memoryview of the whole buffer: never reads past the prefix.
        end = cut % (len(data) + 1)
        view = memoryview(data)[:end]
        try:
            prefix = decode(view)
        except CodecError as exc:
            assert 0 <= exc.offset <= end
        else:
            assert encode(prefix) == data[:end]

    run()
    assert seen >= ROUND_TRIP_EXAMPLES


def test_random_octets_only_ever_decode_or_raise_codec_error() -> None:
    seen = 0

    @fuzz_settings(RANDOM_EXAMPLES)
    @given(st.one_of(st.binary(max_size=200), st.binary(min_size=1, max_size=200).map(_with_known_type)))
    def run(data: bytes) -> None:
        nonlocal seen
        seen += 1
        _check(data)

    run()
    assert seen >= RANDOM_EXAMPLES


def _with_known_type(data: bytes) -> bytes:
    """Random octets behind a first octet of type 1, 3 or 5 (else nearly every draw stops at octet 0)."""
    return bytes([(1, 3, 5)[data[0] % 3]]) + data[1:]


MUTATIONS = st.lists(
    st.tuples(st.sampled_from(["truncate", "flip", "insert", "delete", "set"]), st.integers(0, 10_000), OCTET),
    min_size=1,
    max_size=4,
)


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


def _pool(size: int, seed: int = 24282) -> list[bytes]:
    """Valid messages of every kind, with every optional IE and every content type, drawn from a seeded generator.

    Drawing the originals from a fixed pool (rather than building each with Hypothesis) keeps the
    mutation campaign's cost in the decoder, where the examples are meant to go.
    """
    rng = random.Random(seed)

    def maybe(value: T) -> T | None:
        return value if rng.random() < 0.5 else None

    def content() -> PayloadContent:
        blob = rng.randbytes(rng.randrange(0, 24))
        return rng.choice(
            [
                Text("".join(rng.choice("hi é☕\n\U0001f6a8") for _ in range(rng.randrange(12)))),
                Binary(blob),
                Hyperlinks(blob),
                FileUrl(blob),
                Location(rng.randrange(1 << 24), rng.randrange(1 << 24)),
                EnhancedStatus(rng.randrange(1 << 16)),
                LocationAltitude(rng.randrange(1 << 16)),
                LocationTimestamp(blob[:6]),
                CodedText(blob),
            ]
        )

    pool = [SPEC_SIGNALLING, SPEC_TEXT, NOTIFICATION_EXAMPLE, LOCATION_EXAMPLE]
    while len(pool) < size:
        ids = (rng.randrange(1 << 40), uuid.UUID(int=rng.getrandbits(128)), uuid.UUID(int=rng.getrandbits(128)))
        message: Message = rng.choice(
            [
                SdsSignalling(
                    *ids,
                    maybe(uuid.UUID(int=rng.getrandbits(128))),
                    maybe(rng.randrange(256)),
                    maybe(rng.choice(list(Disposition))),
                    maybe(rng.randbytes(rng.randrange(8))),
                ),
                SdsNotification(rng.choice(list(NotificationType)), *ids, maybe(rng.randrange(256)), maybe(b"\x01app")),
                DataPayload(tuple(content() for _ in range(rng.randrange(1, 5)))),
            ]
        )
        pool.append(encode(message))
    return pool


POOL = _pool(400)


def test_the_mutation_pool_holds_every_kind_and_content_type() -> None:
    kinds = {data[0] for data in POOL}
    assert kinds == {1, 3, 5}
    types = {content.content_type for data in POOL if data[0] == 3 for content in _decoded_payloads(data)}
    assert types == set(ContentType)


def test_mutated_valid_messages_only_ever_decode_or_raise_codec_error() -> None:
    seen = 0

    @fuzz_settings(MUTATION_EXAMPLES)
    @given(st.sampled_from(POOL), MUTATIONS)
    def run(data: bytes, steps: list[tuple[str, int, int]]) -> None:
        nonlocal seen
        seen += 1
        _check(_mutate(data, steps))

    run()
    assert seen >= MUTATION_EXAMPLES


def test_every_prefix_of_the_spec_examples_is_a_message_or_refused_inside_the_prefix() -> None:
    for example in (SPEC_SIGNALLING, SPEC_TEXT, NOTIFICATION_EXAMPLE, LOCATION_EXAMPLE):
        buffer = memoryview(example + b"\x81\x81\x81")  # octets past the end that must never be read
        for end in range(len(example)):
            try:
                message = decode(buffer[:end])
            except CodecError as exc:
                assert exc.offset <= end
            else:
                assert encode(message) == example[:end]
