"""MCData under esn.md 1.1: the spec's 1.1 examples (catalog samples written from the spec) decode to the fields
the spec states and encode back to the same octets; the IE table follows the document version; MCD-13..17,
MCS-06 and the 1.0-only refusal of the FD request types, located."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from harness.catalog import Catalog
from harness.families.esn.body import build_fd, parse_fd
from harness.families.esn.fd import file_url_problem, read_metadata
from harness.families.esn.mcdata import (
    CodecError,
    Disposition,
    Fault,
    FdNetworkNotification,
    FdNetworkNotificationType,
    FdNotification,
    FdNotificationType,
    FdSignalling,
    FileUrl,
    NotificationType,
    SdsNotification,
    SdsSignalling,
    decode,
    decode_located,
    encode,
)
from harness.families.esn.validation import sds_validator
from harness.validation.validator import detect_format, explain, validator_for
from tests.conftest import ROOT

SIGNALLING = ROOT / "fixtures" / "formats" / "mcdata-signalling" / "1.0" / "samples"
FD_BODIES = ROOT / "fixtures" / "formats" / "mcdata-fd" / "1.0" / "samples"
CONVERSATION = uuid.UUID("0c6f7a52-1d2e-4b3a-9f10-6a5b4c3d2e1f")
MESSAGE = uuid.UUID("5e4d3c2b-1a09-4f8e-8d7c-6b5a49382716")
URL = b"http://127.0.0.1:8088/files/7f3c"
METADATA = b'file-selector:name:"plan.pdf" size:2048 type:application/pdf'


def _octets(text: str) -> bytes:
    return bytes.fromhex(text)


# --------------------------------------------------------------------------- the spec's 1.1 examples

SPEC_EXAMPLES = {
    # "SDS NOTIFICATION (complete)": 41 octets, delivered, for an SDS addressed to application 1.
    "valid/spec-1.1-sds-notification-delivered-application-1.bin": (
        _octets("05 02 00 6A BD 11 6D 0C 6F 7A 52 1D 2E 4B 3A 9F 10 6A 5B 4C 3D 2E 1F")
        + _octets("5E 4D 3C 2B 1A 09 4F 8E 8D 7C 6B 5A 49 38 27 16 22 01"),
        SdsNotification(NotificationType.DELIVERED, 0x006ABD116D, CONVERSATION, MESSAGE, application_id=1),
    ),
    # "FD SIGNALLING PAYLOAD": 139 octets, completion requested, mandatory download, URL of 32 characters,
    # 60 octets of metadata.
    "invalid/spec-1.1-fd-signalling.bin": (
        _octets("02 00 6A BD 11 6C 0C 6F 7A 52 1D 2E 4B 3A 9F 10 6A 5B 4C 3D 2E 1F")
        + _octets("5E 4D 3C 2B 1A 09 4F 8E 8D 7C 6B 5A 49 38 27 16 91 A1 78 00 21 04")
        + URL
        + _octets("79 00 3C")
        + METADATA,
        FdSignalling(
            0x006ABD116C,
            CONVERSATION,
            MESSAGE,
            completion_requested=True,
            mandatory_download=True,
            payloads=(FileUrl(URL),),
            metadata=METADATA,
        ),
    ),
    # "FD NOTIFICATION": 39 octets, completed, the two ids of the FD SIGNALLING example.
    "invalid/spec-1.1-fd-notification-completed.bin": (
        _octets("06 03 00 6A BD 11 6E 0C 6F 7A 52 1D 2E 4B 3A 9F 10 6A 5B 4C 3D 2E 1F")
        + _octets("5E 4D 3C 2B 1A 09 4F 8E 8D 7C 6B 5A 49 38 27 16"),
        FdNotification(FdNotificationType.COMPLETED, 0x006ABD116E, CONVERSATION, MESSAGE),
    ),
}


@pytest.mark.parametrize("name", sorted(SPEC_EXAMPLES))
def test_every_example_of_the_1_1_section_is_a_catalog_sample_that_decodes_to_its_fields(name: str) -> None:
    octets, fields = SPEC_EXAMPLES[name]
    sample = (SIGNALLING / name).read_bytes()
    assert sample == octets  # the catalog's sample is the spec's octets
    assert decode(sample) == fields
    assert encode(fields) == sample


def test_the_spec_example_sizes_are_those_the_spec_states() -> None:
    sizes = {name: len(octets) for name, (octets, _) in SPEC_EXAMPLES.items()}
    assert sorted(sizes.values()) == [39, 41, 139]


def test_the_fd_example_carries_what_its_text_says(catalog: Catalog) -> None:
    located = decode_located((SIGNALLING / "invalid" / "spec-1.1-fd-signalling.bin").read_bytes())
    message = located.message
    assert isinstance(message, FdSignalling)
    assert message.file_url == URL and len(URL) == 32
    assert located.offsets("payloads") == (40,) and located.offsets("metadata") == (76,)
    assert located.offsets("completion_requested") == (38,) and located.offsets("mandatory_download") == (39,)
    metadata, problems = read_metadata(METADATA)
    assert problems == []
    assert (metadata.name, metadata.size, metadata.type) == ("plan.pdf", 2048, "application/pdf")
    fmt = catalog.format("mcdata-signalling/1.0")
    verdict = validator_for(fmt).validate((SIGNALLING / "invalid" / "spec-1.1-fd-signalling.bin").read_bytes())
    assert verdict.valid and verdict.warnings == ()


# --------------------------------------------------------------------------- the table follows the version


def test_fd_messages_and_the_new_ies_are_1_0_refusals_and_1_1_messages() -> None:
    fd, _ = SPEC_EXAMPLES["invalid/spec-1.1-fd-signalling.bin"]
    with pytest.raises(CodecError) as info:
        decode(fd, "1.0")
    assert (info.value.offset, info.value.rule) == (0, Fault.UNKNOWN_MESSAGE_TYPE)
    sds = encode(SdsSignalling(1, CONVERSATION, MESSAGE, sender="sip:alpha@esn.uk", user_location=b"\x01"))
    with pytest.raises(CodecError) as info:
        decode(sds, "1.0")
    assert (info.value.offset, info.value.rule) == (38, Fault.TRAILING_OCTETS)
    assert (
        decode(sds, "1.1")
        == decode(sds)
        == SdsSignalling(1, CONVERSATION, MESSAGE, sender="sip:alpha@esn.uk", user_location=b"\x01")
    )


@pytest.mark.parametrize("kind", [7, 8, 10, 11, 12, 13, 17, 18, 19, 20, 4, 63])
def test_types_1_1_does_not_decode_are_mcd_13(kind: int) -> None:
    with pytest.raises(CodecError) as info:
        decode(bytes([kind]) + bytes(40))
    assert (info.value.offset, info.value.rule) == (0, Fault.NOT_DECODED_1_1)
    with pytest.raises(CodecError) as info:
        decode(bytes([kind]) + bytes(40), "1.0")
    assert info.value.rule == Fault.UNKNOWN_MESSAGE_TYPE


@pytest.mark.parametrize(
    ("data", "offset", "rule"),
    [
        (_octets("02") + bytes(37) + _octets("92"), 38, Fault.UNKNOWN_VALUE),  # FD disposition other than 1
        (_octets("02") + bytes(37) + _octets("A2"), 38, Fault.UNKNOWN_VALUE),  # mandatory download other than 1
        (_octets("02") + bytes(37) + _octets("A1 91"), 39, Fault.IE_ORDER),
        (_octets("02") + bytes(37) + _octets("79 00 00 78 00 01 04"), 41, Fault.IE_ORDER),
        (_octets("02") + bytes(37) + _octets("79 00 00 79 00 00"), 41, Fault.IE_ORDER),
        (_octets("02") + bytes(37) + _octets("78 00 00"), 39, Fault.CONTENT_SIZE),
        (_octets("02") + bytes(37) + _octets("81"), 38, Fault.TRAILING_OCTETS),  # the SDS request is no FD IE
        (_octets("06 05") + bytes(37), 1, Fault.UNKNOWN_VALUE),
        (_octets("09 03") + bytes(37), 1, Fault.UNKNOWN_VALUE),
        (_octets("09 01") + bytes(37) + _octets("51 00 00"), 39, Fault.TRAILING_OCTETS),  # no sender in FD NETWORK
        (_octets("06 01") + bytes(37) + _octets("51 00 02 C3 28"), 42, Fault.NOT_UTF8),
        (_octets("06 01") + bytes(37) + _octets("51 00 05 61"), 40, Fault.LENGTH_PAST_END),
        (_octets("05 02") + bytes(37) + _octets("51 00 00 7D 00 00"), 42, Fault.IE_ORDER),
        (_octets("01") + bytes(37) + _octets("51 00 00 7E 00 00"), 41, Fault.IE_ORDER),
    ],
)
def test_1_1_refusals_name_the_octet_and_the_rule(data: bytes, offset: int, rule: Fault) -> None:
    with pytest.raises(CodecError) as info:
        decode(data)
    assert (info.value.offset, info.value.rule) == (offset, rule), info.value


def test_notifications_answer_and_echo_the_message_they_answer() -> None:
    sds = SdsSignalling(
        5,
        CONVERSATION,
        MESSAGE,
        application_id=1,
        disposition=Disposition.DELIVERY,
        extended_application_id=b"\x02urn:app",
    )
    echoed = SdsNotification.echoing(sds, NotificationType.DELIVERED, 9)
    assert (echoed.application_id, echoed.extended_application_id) == (1, b"\x02urn:app")
    assert SdsNotification.answering(sds, NotificationType.DELIVERED, 9).extended_application_id is None  # 1.0
    fd = FdSignalling(5, CONVERSATION, MESSAGE, extended_application_id=b"\x01x", payloads=(FileUrl(URL),))
    answer = FdNotification.answering(fd, FdNotificationType.ACCEPTED, 6)
    assert (answer.conversation_id, answer.message_id, answer.extended_application_id) == (
        CONVERSATION,
        MESSAGE,
        b"\x01x",
    )
    assert decode(encode(answer)) == answer
    network = FdNetworkNotification(FdNetworkNotificationType.FILE_DELETED, 7, CONVERSATION, MESSAGE, 3)
    assert decode(encode(network)) == network


# --------------------------------------------------------------------------- the rules of validation


def _invalid(name: str) -> bytes:
    return (SIGNALLING / "invalid" / name).read_bytes()


@pytest.mark.parametrize(
    ("name", "errors", "warnings"),
    [
        ("mcd-14-fd-without-payload.bin", [("/octet/0", "MCD-14")], []),
        ("mcd-15-fd-text-payload.bin", [("/octet/41", "MCD-15")], []),  # the content-type octet
        ("mcd-15-fd-two-payloads.bin", [("/octet/74", "MCD-15")], []),  # the second 78
        ("mcd-16-fd-url-not-http.bin", [("/octet/42", "MCD-16")], []),  # the URL's first octet
        ("mcd-16-fd-url-with-space.bin", [("/octet/42", "MCD-16")], []),
        ("mcd-17-metadata-bare-selector.bin", [], [("/octet/74", "MCD-17")]),
        ("mcd-17-metadata-size-not-decimal.bin", [], [("/octet/74", "MCD-17")]),
    ],
)
def test_the_fd_rules_are_located(
    catalog: Catalog, name: str, errors: list[tuple[str, str]], warnings: list[tuple[str, str]]
) -> None:
    verdict = validator_for(catalog.format("mcdata-signalling/1.0")).validate(_invalid(name))
    assert [(f.location, f.rule) for f in verdict.findings] == errors
    assert [(f.location, f.rule) for f in verdict.warnings] == warnings
    at_1_0 = validator_for(catalog.at({"esn": "1.0"}).format("mcdata-signalling/1.0")).validate(_invalid(name))
    assert [(f.location, f.rule) for f in at_1_0.findings] == [("/octet/0", "MCD-03")]
    assert at_1_0.warnings == ()


@pytest.mark.parametrize(
    ("url", "bad"),
    [
        (URL, False),
        (b"https://files.esn.example/x?y=1", False),
        (b"HTTP://h/p", False),
        (b"/files/7f3c", True),
        (b"http:///files", True),
        (b"mailto:a@b", True),
        (b"http://h/\xc3\xa9", True),
        (b"http://h/a\tb", True),
        (b"", True),
    ],
)
def test_file_urls(url: bytes, bad: bool) -> None:
    assert (file_url_problem(url) is not None) is bad


@pytest.mark.parametrize(
    ("metadata", "problems"),
    [
        (METADATA, 0),
        (
            METADATA + b'\r\nfile-date:creation:"Mon, 30 Sep 2026 13:40:00 +0000"\r\nfile-availability:Tue, 1 Oct 2026 '
            b"13:40:00 +0000\r\nfile-description:the plan of the day",
            0,
        ),
        (METADATA + b"\nfile-description:a\nfile-date:x", 1),  # out of order
        (METADATA + b" file-selector:size:1", 1),  # repeated
        (b"file-selector:size:12 type:text/plain file-colour:blue", 1),  # unknown keyword
        (b'name:"a.txt" size:3', 1),  # bare selector list
        (b"file-selector:size:-3", 1),
        (b"\xff\xfe", 1),
    ],
)
def test_metadata_is_read_as_the_profile_reads_it(metadata: bytes, problems: int) -> None:
    read, found = read_metadata(metadata)
    assert len(found) == problems, found
    if not problems:
        assert read.size == 2048 and read.type == "application/pdf"


# --------------------------------------------------------------------------- bodies


def _info(request_type: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><mcdatainfo xmlns="urn:3gpp:ns:mcdataInfo:1.0"><mcdata-Params>'
        f"<request-type>{request_type}</request-type></mcdata-Params></mcdatainfo>"
    ).encode()


def test_mcs_06_locates_a_request_type_that_does_not_match_the_body(catalog: Catalog) -> None:
    fd, _ = SPEC_EXAMPLES["invalid/spec-1.1-fd-signalling.bin"]
    validator = sds_validator(catalog.format("mcdata-fd/1.0"))
    assert validator.validate(*build_fd(_info("one-to-one-fd"), fd)).valid
    assert validator.validate(*build_fd(_info("group-fd"), fd)).valid
    verdict = validator.validate(*build_fd(_info("group-sds"), fd))
    assert [(f.location, f.rule) for f in verdict.findings] == [("/part/1", "MCS-06")]
    sds_body = sds_validator(catalog.format("mcdata-sds/1.0"))
    signalling = (SIGNALLING / "valid" / "sds-delivery-requested.bin").read_bytes()
    from harness.families.esn.body import build_sds

    verdict = sds_body.validate(*build_sds(_info("one-to-one-fd"), signalling, _octets("03 01 78 00 03 01 68 69")))
    assert [(f.location, f.rule) for f in verdict.findings] == [("/part/1", "MCS-06")]
    at_1_0 = sds_validator(catalog.at({"esn": "1.0"}).format("mcdata-sds/1.0"))
    verdict = at_1_0.validate(*build_sds(_info("one-to-one-fd"), signalling, _octets("03 01 78 00 03 01 68 69")))
    assert [f.rule for f in verdict.findings] == ["schema"]
    assert verdict.findings[0].location.startswith("/part/1/")


def test_the_fd_request_types_are_1_0_schema_refusals_of_mcdata_info(catalog: Catalog) -> None:
    for request_type in ("one-to-one-fd", "group-fd"):
        info = _info(request_type)
        assert validator_for(catalog.format("mcdata-info/1.0")).validate(info).valid
        verdict = validator_for(catalog.at({"esn": "1.0"}).format("mcdata-info/1.0")).validate(info)
        assert [f.rule for f in verdict.findings] == ["schema"]
        assert verdict.findings[0].location.endswith("*[local-name()='request-type']")
    assert validator_for(catalog.at({"esn": "1.0"}).format("mcdata-info/1.0")).validate(_info("group-sds")).valid


def test_an_fd_body_has_no_payload_part_and_is_told_from_an_sds_by_its_signalling(catalog: Catalog) -> None:
    formats = list(catalog.formats.values())
    for name in ("spec-1.1-fd-one-to-one.multipart", "group-fd-base64.multipart"):
        assert getattr(detect_format(formats, (FD_BODIES / "valid" / name).read_bytes()), "id", None) == "mcdata-fd/1.0"
    sds = ROOT / "fixtures" / "formats" / "mcdata-sds" / "1.0" / "samples" / "valid" / "one-to-one-text.multipart"
    assert getattr(detect_format(formats, sds.read_bytes()), "id", None) == "mcdata-sds/1.0"
    fd, _ = SPEC_EXAMPLES["invalid/spec-1.1-fd-signalling.bin"]
    content_type, body = build_fd(_info("one-to-one-fd"), fd)
    assert parse_fd(content_type, body).signalling == fd


def test_explain_shows_the_fd_fields_with_their_octets_and_the_metadata_read(catalog: Catalog) -> None:
    lines = explain(catalog.format("mcdata-signalling/1.0"), _invalid("spec-1.1-fd-signalling.bin"))
    assert lines[0] == "message type: 2 (FD SIGNALLING PAYLOAD)"
    assert "completion requested: True  @ octet 38" in lines
    assert lines[lines.index("payload 1: FILEURL (4)") + 1] == "  at octet 40"
    assert any(line.startswith("metadata read: name 'plan.pdf', size 2048, type 'application/pdf'") for line in lines)
    bare = explain(catalog.format("mcdata-signalling/1.0"), _invalid("mcd-17-metadata-bare-selector.bin"))
    assert any(line.startswith("metadata not readable (MCD-17): ") for line in bare)
    at_1_0 = explain(catalog.at({"esn": "1.0"}).format("mcdata-signalling/1.0"), _invalid("spec-1.1-fd-signalling.bin"))
    assert at_1_0[0].startswith("not decodable: octet 0:") and "esn 1.0" in at_1_0[0]


def test_the_fd_body_samples_exist_for_every_structural_rule() -> None:
    manifest = (FD_BODIES / "invalid" / "manifest.yaml").read_text()
    for rule in ("MCS-02", "MCS-03", "MCS-06", "MCD-11", "MCD-14"):
        assert f"[{rule}]" in manifest
    assert Path(FD_BODIES / "valid" / "spec-1.1-fd-one-to-one.multipart").is_file()


def test_a_hostile_fd_message_gives_a_bounded_verdict(catalog: Catalog) -> None:
    """Thousands of Payload IEs are one MCD-15 (at the second); a Metadata repeating an item is at most
    MAX_PROBLEMS warnings: a problem document never grows with what an attacker repeats."""
    from harness.families.esn.fd import MAX_PROBLEMS

    validator = validator_for(catalog.format("mcdata-signalling/1.0"))
    many = encode(FdSignalling(1, CONVERSATION, MESSAGE, payloads=tuple(FileUrl(URL) for _ in range(1500))))
    verdict = validator.validate(many)
    assert [(f.location, f.rule) for f in verdict.findings] == [("/octet/74", "MCD-15")]
    assert "1500 Payload IEs" in verdict.findings[0].message
    repeated = b"file-selector:" + b"size:1 " * 5000
    fd = FdSignalling(1, CONVERSATION, MESSAGE, payloads=(FileUrl(URL),), metadata=repeated)
    verdict = validator.validate(encode(fd))
    assert verdict.valid and len(verdict.warnings) == MAX_PROBLEMS
    assert verdict.warnings[-1].message.endswith("(reading stopped)")
