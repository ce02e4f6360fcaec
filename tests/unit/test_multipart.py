"""multipart/mixed bodies and the SDS body: binary parts exact, base64 accepted, missing parts refused, bounded."""

from __future__ import annotations

import base64
import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.codecs.multipart import (
    BodyPart,
    MultipartError,
    MultipartFault,
    build_multipart,
    parse_media_type,
    parse_multipart,
    read_entity,
)
from harness.families.esn.body import (
    MCDATA_INFO,
    MCDATA_PAYLOAD,
    MCDATA_SIGNALLING,
    RESOURCE_LISTS,
    build_sds,
    parse_sds,
)

INFO = b'<mcdatainfo xmlns="urn:3gpp:ns:mcdataInfo:1.0"><mcdata-Params/></mcdatainfo>'
SIGNALLING = bytes([1]) + bytes(range(37)) + b"\x81"
NOTIFICATION = bytes([5, 2]) + bytes(range(37))
PAYLOAD = bytes.fromhex("03 01 78 00 03 01 68 69")
LISTS = b'<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists"/>'
CT = "multipart/mixed; boundary=b1"


def body_of(*parts: bytes, boundary: bytes = b"b1") -> bytes:
    """A hand-written body: each part is its header block and content, as given."""
    return b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts) + b"--" + boundary + b"--\r\n"


def refusal(content_type: str, body: bytes) -> MultipartError:
    with pytest.raises(MultipartError) as info:
        parse_sds(content_type, body)
    return info.value


# --------------------------------------------------------------------------- exact binary parts


@pytest.mark.parametrize("tail", [b" ", b"\n", b"\r", b"\r\n", b" \n", b"\t", b"\x00", b"--", b"\r\n-b1", b"\r\n--"])
def test_trailing_octets_of_a_binary_part_are_data(tail: bytes) -> None:
    payload = PAYLOAD[:4] + bytes([3 + len(tail)]) + b"\x02hi" + tail
    body = body_of(
        b"Content-Type: " + MCDATA_INFO.encode() + b"\r\n\r\n" + INFO,
        b"Content-Type: " + MCDATA_SIGNALLING.encode() + b"\r\n\r\n" + SIGNALLING,
        b"Content-Type: " + MCDATA_PAYLOAD.encode() + b"\r\n\r\n" + payload,
    )
    sds = parse_sds(CT, body)
    assert sds.payload == payload
    assert sds.signalling == SIGNALLING
    assert sds.info == INFO


def test_content_that_looks_like_a_delimiter_without_crlf_is_data() -> None:
    content = b"x--b1\r\n--b1z"  # "--b1" not after CRLF, then after CRLF but as prefix of another word
    parts = parse_multipart(CT, body_of(b"Content-Type: application/octet-stream\r\n\r\n" + content[:5]))
    assert parts[0].content == content[:5]


def test_part_offsets_point_at_the_content_in_the_body() -> None:
    content_type, body = build_sds(INFO, SIGNALLING, PAYLOAD, boundary="xyz")
    for part in parse_multipart(content_type, body):
        assert body[part.offset : part.offset + len(part.content)] == part.content


def test_build_sds_then_parse_sds_keeps_every_part() -> None:
    content_type, body = build_sds(INFO, SIGNALLING, PAYLOAD, LISTS)
    assert content_type.startswith("multipart/mixed; boundary=")
    sds = parse_sds(content_type, body)
    assert (sds.info, sds.signalling, sds.payload, sds.resource_lists) == (INFO, SIGNALLING, PAYLOAD, LISTS)
    assert [p.media_type for p in sds.parts] == [MCDATA_INFO, MCDATA_SIGNALLING, MCDATA_PAYLOAD, RESOURCE_LISTS]
    assert [p.index for p in sds.parts] == [1, 2, 3, 4]
    signalling_part = sds.part(MCDATA_SIGNALLING)
    assert signalling_part is not None and signalling_part.header("content-transfer-encoding") == "binary"
    assert not sds.is_notification


# --------------------------------------------------------------------------- transfer encodings


def test_base64_binary_parts_are_accepted_with_line_breaks() -> None:
    content_type, body = build_sds(INFO, SIGNALLING, PAYLOAD + bytes(100), transfer_encoding="base64")
    assert base64.b64encode(SIGNALLING)[:20] in body
    sds = parse_sds(content_type, body)
    assert (sds.signalling, sds.payload) == (SIGNALLING, PAYLOAD + bytes(100))
    part = sds.part(MCDATA_PAYLOAD)
    assert part is not None and part.transfer_encoding == "base64"


@pytest.mark.parametrize("encoding", ["binary", "8bit", "7bit", "BINARY", " Base64 "])
def test_the_accepted_transfer_encodings(encoding: str) -> None:
    content = base64.b64encode(PAYLOAD) if "64" in encoding else PAYLOAD
    body = body_of(b"Content-Type: a/b\r\nContent-Transfer-Encoding: " + encoding.encode() + b"\r\n\r\n" + content)
    assert parse_multipart(CT, body)[0].content == PAYLOAD


@pytest.mark.parametrize(
    ("encoding", "content"),
    [("base64", b"AwF4AAMBaGk*"), ("base64", b"AwF4AAMBaGk"), ("quoted-printable", b"hi"), ("x-gzip", b"hi")],
)
def test_bad_or_unknown_transfer_encodings_are_refused_naming_the_part(encoding: str, content: bytes) -> None:
    body = body_of(
        b"Content-Type: a/b\r\n\r\nok", b"Content-Transfer-Encoding: " + encoding.encode() + b"\r\n\r\n" + content
    )
    with pytest.raises(MultipartError) as info:
        parse_multipart(CT, body)
    assert (info.value.rule, info.value.location) == (MultipartFault.TRANSFER_ENCODING, "/part/2")
    assert str(info.value).startswith("part 2: ")


# --------------------------------------------------------------------------- the SDS's parts


def test_an_sds_missing_its_payload_is_refused() -> None:
    _, body = build_multipart([BodyPart(MCDATA_INFO, INFO), BodyPart(MCDATA_SIGNALLING, SIGNALLING)], boundary="b1")
    error = refusal(CT, body)
    assert (error.rule, error.location) == (MultipartFault.MISSING_PART, "/")
    assert MCDATA_PAYLOAD in error.message


@pytest.mark.parametrize("missing", [MCDATA_INFO, MCDATA_SIGNALLING])
def test_an_sds_missing_its_info_or_signalling_is_refused(missing: str) -> None:
    parts = [
        BodyPart(t, c) for t, c in ((MCDATA_INFO, INFO), (MCDATA_SIGNALLING, SIGNALLING), (MCDATA_PAYLOAD, PAYLOAD))
    ]
    _, body = build_multipart([p for p in parts if p.content_type != missing], boundary="b1")
    error = refusal(CT, body)
    assert error.rule == MultipartFault.MISSING_PART and missing in error.message


def test_a_notification_goes_without_a_payload_part() -> None:
    content_type, body = build_sds(INFO, NOTIFICATION)
    sds = parse_sds(content_type, body)
    assert sds.payload is None and sds.is_notification
    with pytest.raises(MultipartError):
        build_sds(INFO, SIGNALLING)


@pytest.mark.parametrize(
    ("parts", "index"),
    [
        ([(MCDATA_INFO, INFO), (MCDATA_PAYLOAD, PAYLOAD), (MCDATA_SIGNALLING, SIGNALLING)], 2),
        ([(MCDATA_SIGNALLING, SIGNALLING), (MCDATA_INFO, INFO), (MCDATA_PAYLOAD, PAYLOAD)], 1),
        ([(MCDATA_INFO, INFO), (MCDATA_SIGNALLING, SIGNALLING), (MCDATA_PAYLOAD, PAYLOAD), ("text/plain", b"x")], 4),
        ([(MCDATA_INFO, INFO), (MCDATA_INFO, INFO), (MCDATA_SIGNALLING, SIGNALLING), (MCDATA_PAYLOAD, PAYLOAD)], 2),
    ],
    ids=["payload-before-signalling", "signalling-first", "foreign-part", "repeated-part"],
)
def test_foreign_repeated_or_misplaced_parts_are_refused(parts: list[tuple[str, bytes]], index: int) -> None:
    _, body = build_multipart([BodyPart(t, c) for t, c in parts], boundary="b1")
    error = refusal(CT, body)
    assert (error.rule, error.location) == (MultipartFault.UNEXPECTED_PART, f"/part/{index}")


def test_resource_lists_may_come_anywhere_after_the_info_part() -> None:
    parts = [(MCDATA_INFO, INFO), (RESOURCE_LISTS, LISTS), (MCDATA_SIGNALLING, SIGNALLING), (MCDATA_PAYLOAD, PAYLOAD)]
    _, body = build_multipart([BodyPart(t, c) for t, c in parts], boundary="b1")
    assert parse_sds(CT, body).resource_lists == LISTS


def test_an_sds_is_multipart_mixed() -> None:
    _, body = build_sds(INFO, SIGNALLING, PAYLOAD, boundary="b1")
    error = refusal("multipart/related; boundary=b1", body)
    assert error.rule == MultipartFault.MALFORMED


# --------------------------------------------------------------------------- structure and bounds


@pytest.mark.parametrize(
    ("content_type", "body", "needle"),
    [
        ("multipart/mixed", body_of(b"\r\nx"), "no boundary"),
        ("text/plain; boundary=b1", body_of(b"\r\nx"), "not multipart"),
        ('multipart/mixed; boundary="' + "b" * 71 + '"', b"", "boundary"),
        ("multipart/mixed; boundary=b1", b"--b2\r\n\r\nx\r\n--b2--", "no delimiter"),
        ("multipart/mixed; boundary=b1", b"--b1\n\nx\n--b1--\n", "CRLF"),
        ("multipart/mixed; boundary=b1", b"--b1junk\r\n\r\nx\r\n--b1--", "not followed by CRLF"),
        ("multipart/mixed; boundary=b1", b"--b1\r\n\r\nx\r\n--b1\r\n\r\ny", "close delimiter"),
        ("multipart/mixed; boundary=b1", b"--b1--\r\n", "no body part"),
        ("multipart/mixed; boundary=b1", body_of(b"no colon here\r\n\r\nx"), "header line"),
        ("multipart/mixed; boundary=b1", body_of(b"Content-Type: a/b"), "empty line"),
        ("multipart/mixed; boundary=b1", body_of(b"Content-Type: a/b\r\nContent-Type: c/d\r\n\r\nx"), "twice"),
        ("multipart/mixed; boundary=b1", body_of(b"Content-Type: nonsense\r\n\r\nx"), "type/subtype"),
        ('multipart/mixed; boundary="b1', b"", "unterminated"),
        ("multipart/mixed; boundary=b1; boundary=b2", b"", "repeated"),
        ("multipart/mixed boundary=b1", b"", "';' expected"),
    ],
)
def test_malformed_bodies_are_refused_with_a_clear_message(content_type: str, body: bytes, needle: str) -> None:
    with pytest.raises(MultipartError) as info:
        parse_multipart(content_type, body)
    assert needle in str(info.value), str(info.value)
    assert info.value.location.startswith("/")


def test_preamble_epilogue_padding_folding_and_lf_header_lines_are_accepted() -> None:
    body = (
        b"preamble\r\n--b1 \t\r\nContent-Type: application/vnd.3gpp.mcdata-info+xml;\n charset=UTF-8\n\n"
        + INFO
        + b"\r\n--b1\r\n\r\nno headers: text/plain\r\n--b1--  \r\nepilogue"
    )
    first, second = parse_multipart('multipart/mixed; boundary="b1"', body)
    assert first.media_type == MCDATA_INFO and dict(first.parameters) == {"charset": "UTF-8"}
    assert first.content == INFO
    assert (second.media_type, second.content, second.transfer_encoding) == (
        "text/plain",
        b"no headers: text/plain",
        "7bit",
    )


def test_limits_on_parts_size_and_headers() -> None:
    many = body_of(*[b"\r\nx"] * 5)
    assert len(parse_multipart(CT, many, max_parts=5)) == 5
    for call in (
        lambda: parse_multipart(CT, many, max_parts=4),
        lambda: parse_multipart(CT, many, max_bytes=len(many) - 1),
        lambda: parse_multipart(CT, body_of(b"X-Long: " + b"a" * 9000 + b"\r\n\r\nx")),
        lambda: parse_multipart(CT, body_of(b"".join(b"X-%d: y\r\n" % i for i in range(40)) + b"\r\nx")),
    ):
        with pytest.raises(MultipartError) as info:
            call()
        assert info.value.rule == MultipartFault.TOO_LARGE


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("multipart/mixed;boundary=b1", ("multipart/mixed", {"boundary": "b1"})),
        ('Multipart/Mixed; Boundary="a b:c"', ("multipart/mixed", {"boundary": "a b:c"})),
        ('a/b; x="q\\"uote"; y=z;', ("a/b", {"x": 'q"uote', "y": "z"})),
        ("  application/vnd.3gpp.mcdata-signalling  ", ("application/vnd.3gpp.mcdata-signalling", {})),
    ],
)
def test_media_types_are_parsed(value: str, expected: tuple[str, dict[str, str]]) -> None:
    assert parse_media_type(value) == expected


def test_build_refuses_a_boundary_inside_the_content_and_header_injection() -> None:
    with pytest.raises(MultipartError):
        build_multipart([BodyPart("a/b", b"x\r\n--b1\r\n")], boundary="b1")
    with pytest.raises(MultipartError):
        build_multipart([BodyPart("a/b\r\nX-Injected: 1", b"x")])
    with pytest.raises(MultipartError):
        build_multipart([])
    content_type, body = build_multipart([BodyPart("a/b", b"--netcode-")], boundary="with space")
    assert content_type == 'multipart/mixed; boundary="with space"'
    assert parse_multipart(content_type, body)[0].content == b"--netcode-"


@pytest.mark.parametrize(
    "data",
    [
        b"Content-Type: multipart/mixed; boundary=b1\r\n\r\n" + body_of(b"\r\nx"),
        b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b1\n\n" + body_of(b"\r\nx"),
        body_of(b"\r\nx"),
    ],
    ids=["crlf-header", "lf-header", "bare-body"],
)
def test_read_entity_splits_a_stored_sample(data: bytes) -> None:
    content_type, body = read_entity(data)
    assert parse_multipart(content_type, body)[0].content == b"x"


@pytest.mark.parametrize("data", [b"X-Other: 1\r\n\r\n--b1", b"--\x01bad\r\n", b"Content-Type: a/b\r\n"])
def test_read_entity_refuses_what_names_no_content_type(data: bytes) -> None:
    with pytest.raises(MultipartError):
        read_entity(data)


# --------------------------------------------------------------------------- hypothesis

MEDIA_TYPES = st.sampled_from([MCDATA_INFO, MCDATA_SIGNALLING, MCDATA_PAYLOAD, "application/octet-stream", "a/b; x=1"])
ENCODINGS = st.sampled_from([None, "binary", "8bit", "base64"])
CONTENTS = st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from([b"\r", b"\n", b"\r\n", b" ", b"-", b"--", b"\x00", b"x"]), max_size=30).map(b"".join),
)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.lists(st.tuples(MEDIA_TYPES, CONTENTS, ENCODINGS), min_size=1, max_size=6))
def test_build_then_parse_gives_back_every_part_exactly(parts: list[tuple[str, bytes, str | None]]) -> None:
    content_type, body = build_multipart([BodyPart(t, c, e) for t, c, e in parts])
    parsed = parse_multipart(content_type, body)
    assert [(p.content, p.media_type) for p in parsed] == [(c, t.split(";")[0]) for t, c, _ in parts]


@FUZZ
@given(CONTENTS, CONTENTS, st.sampled_from([1, 5]), st.booleans(), st.sampled_from(["binary", "base64"]))
def test_build_sds_then_parse_sds_round_trips(
    signalling_tail: bytes, payload: bytes, kind: int, with_lists: bool, encoding: str
) -> None:
    signalling = bytes([kind]) + signalling_tail
    lists = LISTS if with_lists else None
    content_type, body = build_sds(INFO, signalling, payload, lists, transfer_encoding=encoding)
    sds = parse_sds(content_type, body)
    assert (sds.info, sds.signalling, sds.payload, sds.resource_lists) == (INFO, signalling, payload, lists)


@FUZZ
@given(st.binary(max_size=400), st.sampled_from([CT, 'multipart/mixed; boundary="b 1"', "multipart/mixed"]))
def test_arbitrary_bodies_only_ever_parse_or_raise_multipart_error(body: bytes, content_type: str) -> None:
    for data in (body, b"--b1\r\n" + body, body_of(body)):
        try:
            parse_sds(content_type, data)
        except MultipartError as exc:
            assert exc.location.startswith("/") and exc.message


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_stored_entities_only_ever_split_or_raise_multipart_error(data: bytes) -> None:
    for candidate in (data, b"Content-Type: " + data, b"--" + data):
        with contextlib.suppress(MultipartError):
            read_entity(candidate)
