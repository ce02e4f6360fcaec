"""Recordings (issue 23): the HAR writer and reader, personal-data masking, the scenario writer."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from harness.catalog import Catalog
from harness.extensions import personal_fields as declared_fields
from harness.extensions import volatile_octets_of
from harness.model import UsageError
from harness.recording.exchange import RecordedExchange
from harness.recording.har import HarWriter, UnreadableHar, personal_masker, read_har
from harness.recording.masking import KEY_VARIABLE, Masker, PersonalFields, personal_fields
from harness.recording.scenario_writer import suite_documents, volatile_fields
from harness.runner.checks import CheckContext, evaluate
from harness.runner.context import ScenarioContext
from harness.runner.steps import judge
from harness.transport import Response

KEY = b"sixteen or more bytes of key"
VRM_STYLES = [
    r"^[A-Z]{2}[0-9]{2} ?[A-Z]{3}$",
    r"^[A-Z][0-9]{1,3} ?[A-Z]{3}$",
    r"^[A-Z]{3} ?[0-9]{1,3}[A-Z]$",
    r"^[0-9]{1,4} ?[A-Z]{1,3}$",
    r"^[A-Z]{1,3} ?[0-9]{1,4}$",
]


def _exchange(
    body: bytes = b'{"a": 1}',
    answer: bytes = b'{"ok": true}',
    target: str = "/netcode/v1/queries/person",
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),),
    answer_headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),),
    status: int = 200,
) -> RecordedExchange:
    return RecordedExchange(
        started="2026-12-05T10:00:00.000Z",
        origin="http://127.0.0.1:8080",
        method="POST",
        target=target,
        http_version="HTTP/1.1",
        request_headers=(*headers, ("Content-Length", str(len(body)))),
        request_body=body,
        answer_status=status,
        answer_reason="OK",
        answer_http_version="HTTP/1.1",
        answer_headers=answer_headers,
        answer_body=answer,
        elapsed_ms=3.5,
    )


# -- the HAR file ---------------------------------------------------------------------------------------------


def test_a_recording_reads_back_as_written_text_and_binary(tmp_path: Path) -> None:
    binary = bytes(range(256))
    exchanges = [_exchange(), _exchange(body=binary, answer=b"\xff\x00answer", target="/x?y=1")]
    with HarWriter(tmp_path / "r.har") as writer:
        for exchange in exchanges:
            assert writer.add(exchange)
    document = json.loads((tmp_path / "r.har").read_text())
    entries = document["log"]["entries"]
    assert document["log"]["version"] == "1.2" and len(entries) == 2
    assert entries[1]["request"]["postData"]["encoding"] == "base64"
    assert base64.b64decode(entries[1]["response"]["content"]["text"]) == b"\xff\x00answer"
    assert entries[1]["request"]["queryString"] == [{"name": "y", "value": "1"}]
    assert read_har(tmp_path / "r.har").exchanges == tuple(exchanges)


def test_entries_are_on_disk_as_they_come(tmp_path: Path) -> None:
    writer = HarWriter(tmp_path / "r.har")
    writer.add(_exchange(body=b'{"first": "exchange"}'))
    writer._file.flush()  # type: ignore[union-attr]  # what a reader of the open file sees
    assert b'{\\"first\\": \\"exchange\\"}' in (tmp_path / "r.har").read_bytes()
    writer.close()
    writer.close()  # idempotent
    assert not writer.add(_exchange())
    json.loads((tmp_path / "r.har").read_text())


def test_bounds_stop_the_recording_and_say_so(tmp_path: Path) -> None:
    with HarWriter(tmp_path / "n.har", max_exchanges=2) as writer:
        assert [writer.add(_exchange()) for _ in range(4)] == [True, True, False, False]
    log = json.loads((tmp_path / "n.har").read_text())["log"]
    assert len(log["entries"]) == 2 and log["_netcode"]["dropped"] == 2
    with HarWriter(tmp_path / "b.har", max_bytes=3000) as writer:
        added = [writer.add(_exchange(body=b'{"pad": "' + b"x" * 500 + b'"}')) for _ in range(10)]
    assert 1 <= added.count(True) < 10
    assert (tmp_path / "b.har").stat().st_size <= 3000
    assert read_har(tmp_path / "b.har").dropped == added.count(False)
    with pytest.raises(UsageError):
        HarWriter(tmp_path / "z.har", max_exchanges=0)


def test_the_proxy_calls_the_writer_positionally_with_unset_bounds(tmp_path: Path) -> None:
    with HarWriter(tmp_path / "p.har", None, None, personal_masker(KEY.decode())) as writer:
        assert writer.add(_exchange())
    assert read_har(tmp_path / "p.har").masked


def test_credentials_are_redacted_where_they_stand_and_verbatim(tmp_path: Path) -> None:
    token = "Bearer s3cr3t-token-value"
    exchange = _exchange(
        body=b'{"echo": "s3cr3t-token-value"}',
        target="/netcode/v1/x?api_key=abcdefgh12345&q=1",
        headers=(("Authorization", token), ("X-Api-Key", "k3y-value-long"), ("Content-Type", "application/json")),
        answer_headers=(("Set-Cookie", "session=cookie-value-123; Path=/"),),
        answer=b"you sent k3y-value-long",
    )
    with HarWriter(tmp_path / "c.har") as writer:
        writer.add(exchange)
    text = (tmp_path / "c.har").read_text()
    for secret in ("s3cr3t-token-value", "k3y-value-long", "cookie-value-123", "abcdefgh12345"):
        assert secret not in text
    assert "[redacted]" in text


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"not json", "not a HAR file"),
        (b'{"log": {"version": "2.0", "entries": []}}', "HAR 1.2"),
        (b'{"log": {"version": "1.2"}}', "no entries"),
        (b'{"log": {"version": "1.2", "entries": [{"request": {}, "response": {}}]}}', "entry 1"),
        (b"[" * 10000 + b"]" * 10000, "not a HAR file"),
    ],
)
def test_a_bad_recording_is_one_line(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.har"
    path.write_bytes(content)
    with pytest.raises(UnreadableHar, match=reason) as raised:
        read_har(path)
    assert "\n" not in str(raised.value) and raised.value.exit_code == 2


def test_a_recording_over_the_size_bound_is_refused_before_parsing(tmp_path: Path) -> None:
    with HarWriter(tmp_path / "r.har") as writer:
        writer.add(_exchange())
    with pytest.raises(UnreadableHar, match="larger than 100 bytes"):
        read_har(tmp_path / "r.har", max_bytes=100)


# -- masking --------------------------------------------------------------------------------------------------

FIELDS = PersonalFields(
    pointers=(
        (("criteria", "familyName"), "name"),
        (("matches", "*", "familyName"), "name"),
        (("matches", "*", "dateOfBirth"), "date"),
        (("vrm",), "vrm"),
        (("phone",), "phone"),
        (("postcode",), "postcode"),
    ),
    elements={"{urn:x}contact": "text"},
)


def _masker(key: bytes = KEY) -> Masker:
    return Masker(key, FIELDS, judge=lambda body: None)


def test_pseudonyms_are_consistent_keyed_and_keep_the_format() -> None:
    masker = _masker()
    assert masker.pseudonym("name", "SMITH") == masker.pseudonym("name", "SMITH") != "SMITH"
    assert masker.pseudonym("name", "smith") == masker.pseudonym("name", "SMITH").lower()  # matched alike
    assert masker.pseudonym("name", "  SMITH ").strip() == masker.pseudonym("name", "SMITH")
    assert _masker(b"another key of sixteen bytes").pseudonym("name", "SMITH") != masker.pseudonym("name", "SMITH")
    assert re.fullmatch(r"[A-Z]'[A-Z]{5}", masker.pseudonym("name", "O'BRIEN"))
    assert re.fullmatch(r"[A-Z]{5}-[A-Z]{5}", masker.pseudonym("name", "SMITH-JONES"))
    for vrm in ("AB12 CDE", "AB12CDE", "A123 BCD", "ABC 123D", "1234 AB", "AB 1234"):
        masked = masker.pseudonym("vrm", vrm)
        assert masked != vrm and [bool(re.fullmatch(s, masked)) for s in VRM_STYLES] == [
            bool(re.fullmatch(s, vrm)) for s in VRM_STYLES
        ]
    assert masker.pseudonym("vrm", "ab12 cde") == masker.pseudonym("vrm", "AB12CDE")[:4].lower() + " " + (
        masker.pseudonym("vrm", "AB12CDE")[4:].lower()
    )
    date = masker.pseudonym("date", "1980-01-01")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", date) and "1979-01-01" <= date < "1980-01-01"
    phone = masker.pseudonym("phone", "+44 20 7946 0000")
    assert re.fullmatch(r"\+44 \d{2} \d{4} \d{4}", phone) and phone != "+44 20 7946 0000"
    assert re.fullmatch(r"0\d{4} \d{6}", masker.pseudonym("phone", "01632 960000"))
    assert re.fullmatch(r"[A-Z]{2}\d \d[A-Z]{2}", masker.pseudonym("postcode", "LS1 1AA"))
    assert "sixteen" not in repr(masker) and "sixteen" not in json.dumps(masker.describe())


def test_a_message_is_masked_field_by_field_and_its_known_values_everywhere() -> None:
    masker = _masker()
    query = b'{"criteria": {"familyName": "Smith"}, "vrm": "AB12 CDE", "note": "ask Smith about AB12 CDE"}'
    answer = json.dumps(
        {"matches": [{"familyName": "SMITH", "dateOfBirth": "1980-01-01"}], "detail": "SMITH born 1980-01-01"}
    ).encode()
    masked = masker.mask(_exchange(body=query, answer=answer))
    request, result = json.loads(masked.request_body), json.loads(masked.answer_body)
    name = masker.pseudonym("name", "SMITH")
    assert request["criteria"]["familyName"] == name.title() and result["matches"][0]["familyName"] == name
    assert request["vrm"] == masker.pseudonym("vrm", "AB12 CDE")
    assert request["note"] == f"ask {name.title()} about {request['vrm']}"
    assert result["detail"] == f"{name} born {result['matches'][0]['dateOfBirth']}"
    assert masked.header("Content-Length") == str(len(masked.request_body))
    for value in (b"Smith", b"SMITH", b"AB12 CDE", b"1980-01-01"):
        assert value not in masked.request_body + masked.answer_body


def test_xml_elements_are_masked_wherever_they_stand_and_other_bytes_stay() -> None:
    masker = _masker()
    alert = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<a xmlns="urn:x"><info><contact>Call 01632 960000</contact></info></a>'
    )
    masked = masker.mask(_exchange(body=alert, answer=b"<r xmlns='urn:y'>nothing personal</r>"))
    assert b"01632 960000" not in masked.request_body and b"Call" not in masked.request_body
    assert re.search(rb"<contact>[A-Za-z]{4} \d{5} \d{6}</contact>", masked.request_body)
    assert masked.answer_body == b"<r xmlns='urn:y'>nothing personal</r>"
    unchanged = b'{"nothing":  "personal"}'
    assert masker.mask(_exchange(body=unchanged)).request_body == unchanged  # bytes kept when nothing is masked


def test_a_location_point_moves_keyed_and_stays_a_point_in_both_renditions() -> None:
    masker = Masker(KEY)
    seen = set()
    for value in ("53.7997", "-1.5492", "51.2787", "1.0789", "89.99", "-179.95", "52", "0.1"):
        kind = "longitude" if value in ("-1.5492", "1.0789", "-179.95") else "latitude"
        moved = masker.pseudonym(kind, value)
        seen.add(moved)
        shift = abs(Decimal(moved) - Decimal(value))
        assert len(moved.partition(".")[2]) == len(value.partition(".")[2])  # its decimal places kept
        assert Decimal("0.05") <= shift <= Decimal("0.5") or (shift == 1 and "." not in value)
        assert abs(Decimal(moved)) <= (90 if kind == "latitude" else 180)
        assert masker.pseudonym(kind, value) == moved  # consistent
    assert len(seen) == 8
    assert masker.pseudonym("latitude", "52.0") == masker.pseudonym("latitude", "52") + ".0"  # one latitude
    assert abs(Decimal(masker.pseudonym("latitude", "91"))) > 90  # an invalid point stays invalid
    assert Decimal(masker.pseudonym("longitude", "-180.5")) < -180
    assert Decimal("0.05") <= abs(Decimal(masker.pseudonym("latitude", "1e-05"))) <= Decimal("0.51")  # a float
    other = Masker(b"another key of the lab, 32 bytes")
    assert [other.pseudonym("latitude", v) for v in ("53.7997", "51.2787")] != [
        masker.pseudonym("latitude", v) for v in ("53.7997", "51.2787")
    ]  # keyed: without the key the shift cannot be recomputed

    report = {"subjects": [{"id": "l1", "type": "location", "point": {"lat": 53.7997, "lon": -1.5492}}]}
    xml = (
        b'<report xmlns="urn:netcode:intel-report:1.0"><subjects>'
        b'<location id="l1"><point lat="53.7997" lon="-1.5492"/></location></subjects></report>'
    )
    masked_json = json.loads(masker.mask(_exchange(body=json.dumps(report).encode())).request_body)
    masked_xml = masker.mask(_exchange(body=xml, headers=(("Content-Type", "application/xml"),))).request_body
    point = masked_json["subjects"][0]["point"]
    assert isinstance(point["lat"], float) and point["lat"] != 53.7997 and point["lon"] != -1.5492
    assert f'<point lat="{point["lat"]}" lon="{point["lon"]}"/>'.encode() in masked_xml  # the same point


def test_known_values_are_replaced_as_whole_words_only() -> None:
    masker = _masker()
    masker.mask(_exchange(body=b'{"criteria": {"familyName": "1 High Street"}, "vrm": "AB12 CDE"}'))
    street, mark = masker.pseudonym("name", "1 High Street"), masker.pseudonym("vrm", "AB12 CDE")
    text = "at 1 high street, not 21 High Streets; ab12 cde then AB12 CDEF and xAB12 CDE"
    assert masker.verbatim(text) == (
        f"at {masker.pseudonym('name', '1 high street')}, not 21 High Streets; "
        f"{masker.pseudonym('vrm', 'ab12 cde')} then AB12 CDEF and xAB12 CDE"
    )
    assert street.lower() == masker.pseudonym("name", "1 high street").lower() and mark != "AB12 CDE"


def test_an_exchange_that_cannot_be_masked_is_left_out_never_recorded_plain(tmp_path: Path) -> None:
    class Failing(Masker):
        def mask(self, exchange: RecordedExchange) -> RecordedExchange:
            raise RecursionError("a hostile body")

    with HarWriter(tmp_path / "f.har", masker=Failing(KEY, FIELDS, judge=lambda body: None)) as writer:
        assert not writer.add(_exchange(body=b'{"criteria": {"familyName": "SMITH"}}'))
    assert b"SMITH" not in (tmp_path / "f.har").read_bytes()
    assert json.loads((tmp_path / "f.har").read_text())["log"]["_netcode"]["masking"]["unmaskable"] == 1


def test_a_value_seen_in_free_text_before_its_field_is_masked_at_close(tmp_path: Path) -> None:
    """The second pass: a name first quoted in free text (a query's error text, an XML note), and only later
    in a personal field, is replaced in the earlier entries when the recording closes."""
    earlier_json = _exchange(body=b'{"note": "seen with Ashworth-Blake at the docks"}')
    earlier_xml = _exchange(body=b"<note>Mr Ashworth-Blake</note>", headers=(("Content-Type", "application/xml"),))
    earlier_text = _exchange(body=b"free text: ashworth-blake", headers=(("Content-Type", "text/plain"),))
    later = _exchange(body=b'{"criteria": {"familyName": "Ashworth-Blake"}}')
    path = tmp_path / "two-pass.har"
    masker = Masker(KEY, FIELDS, judge=lambda body: None)
    with HarWriter(path, masker=masker) as writer:
        for exchange in (earlier_json, earlier_xml, earlier_text, later):
            assert writer.add(exchange)
        assert masker.verbatim("Ashworth-Blake") != "Ashworth-Blake"  # known only from the fourth on
    text = path.read_text()
    assert "Ashworth" not in text and "ashworth" not in text
    log = json.loads(text)["log"]
    assert log["_netcode"]["masking"]["rechecked"] == 3 and log["_netcode"]["recorded"] == 4
    entries = read_har(path).exchanges
    assert len(entries) == 4
    masked_name = json.loads(entries[3].request_body)["criteria"]["familyName"]
    assert masked_name in json.loads(entries[0].request_body)["note"]  # the same pseudonym: relationships survive
    assert masked_name.encode() in entries[1].request_body and masked_name.lower().encode() in entries[2].request_body
    assert entries[1].header("Content-Length") == str(len(entries[1].request_body))
    assert not list(tmp_path.glob("*.recheck"))


def test_the_key_comes_from_the_environment_or_the_command_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    with pytest.raises(UsageError, match=KEY_VARIABLE):
        Masker.from_environment()
    monkeypatch.setenv(KEY_VARIABLE, "short")
    with pytest.raises(UsageError, match="at least 16"):
        Masker.from_environment()


def test_every_family_declares_its_personal_fields_in_the_registry() -> None:
    fields = personal_fields()
    assert fields.kind_at(("subjects", "3", "vrm")) == "vrm"
    assert fields.kind_at(("criteria", "familyName")) == "name"
    assert fields.kind_at(("persons", "0", "dateOfBirth")) == "date"
    assert fields.elements["{urn:oasis:names:tc:emergency:cap:1.2}contact"] == "text"
    assert fields.elements["{urn:netcode:intel-report:1.0}familyName"] == "name"
    assert fields.kind_at(("EVENT", "EGEO", "0", "POSITION", "NAME")) == "address"
    # The registry's query by format (harness.extensions.personal_fields) sees the same declarations.
    assert [(f.location, f.kind) for f in declared_fields("cap/1.2")] == [
        ("{urn:oasis:names:tc:emergency:cap:1.2}contact", "text")
    ]


# -- the scenario writer --------------------------------------------------------------------------------------

ID_A = "0b0c4f1e-5a7d-4d8e-9f10-111213141516"
ID_B = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"


def test_exchanges_sharing_an_id_are_one_scenario_with_fresh_ids(catalog: Catalog) -> None:
    submit = _exchange(
        body=json.dumps({"reportId": ID_A}).encode(),
        target="/netcode/v1/intel-reports",
        answer=json.dumps({"reportId": ID_A, "status": "accepted", "receivedAt": "2026-12-05T10:00:00Z"}).encode(),
        answer_headers=(("Content-Type", "application/json"), ("Location", f"/netcode/v1/intel-reports/{ID_A}")),
        status=202,
    )
    other = _exchange(body=json.dumps({"queryId": ID_B}).encode(), answer=b'{"matches": [1, 2]}')
    again = _exchange(body=b"", target=f"/netcode/v1/intel-reports/{ID_A}", answer=b"{}")
    _, scenarios, _, left = suite_documents([submit, other, again], catalog, "s", ignore=["/matches/1"])
    assert left == ()
    assert [[step["id"] for step in s["steps"]] for s in scenarios] == [["x00001", "x00003"], ["x00002"]]
    first, retrieve = scenarios[0]["steps"]
    assert first["request"]["body"] == '{"reportId": "${uuid:id1}"}'
    assert retrieve["request"]["path"] == "/netcode/v1/intel-reports/${uuid:id1}"
    assert first["expect"]["json"] == {"/reportId": "${uuid:id1}", "/status": "accepted"}  # receivedAt volatile
    assert first["expect"]["headers"] == {"Location": {"path": "/netcode/v1/intel-reports/${uuid:id1}"}}
    assert first["expect"]["status"] == 202 and first["expect"]["media_type"] == "application/json"
    assert scenarios[1]["steps"][0]["expect"]["json"] == {"/matches/0": 1, "/matches/2": {"present": False}}
    _, kept, _, _ = suite_documents([submit], catalog, "s", fresh_ids=False)
    assert ID_A in kept[0]["steps"][0]["request"]["body"]


def test_what_cannot_be_a_step_is_left_out_with_its_reason(catalog: Catalog) -> None:
    exchanges = [
        _exchange(body=b"\xff\xfe binary ${uuid:a}"),  # binary: a step's body_base64, no template expanded in it
        _exchange(body=b'{"x": "${uuid:a}"}'),
        _exchange(status=0, answer=b""),
        _exchange(target="/netcode/v1/_test/trigger"),  # a hook that makes the target send: a step (decision 18)
        _exchange(body=b"", target=f"/netcode/v1/_test/deliveries/{ID_A}"),  # a hook that reads: left out
        _exchange(body=b"", target=f"/netcode/v1/esn/files/{ID_B}", answer=b"file"),  # minted elsewhere
        _exchange(body=b"", target=f"/netcode/v1/esn/files/{ID_B}", answer=b"", status=404),  # an unknown id: a step
        _exchange(body=b'{"persons": [], "vehicles": []}', target="/netcode/v1/_test/dataset"),
    ]
    for index in (4, 5, 6):
        exchanges[index] = dataclasses.replace(exchanges[index], method="GET")
    exchanges[-1] = dataclasses.replace(exchanges[-1], method="PUT")
    _, scenarios, dataset, left = suite_documents(exchanges, catalog, "s")
    assert dataset == {"persons": [], "vehicles": []}
    assert sorted(step["id"] for scenario in scenarios for step in scenario["steps"]) == ["x00001", "x00004", "x00007"]
    assert [item.number for item in left] == [2, 3, 5, 6]
    assert "${" in left[0].reason and "no answer" in left[1].reason and "a test hook reading" in left[2].reason
    assert "minted" in left[3].reason


def test_an_id_the_target_minted_is_captured_and_named_by_later_requests(catalog: Catalog) -> None:
    """A Location naming an id no request named (POST /esn/files answered 201): the replayed target mints its own,
    so the step captures it and later requests of the conversation name the capture (decision 18)."""
    location = f"http://127.0.0.1:8080/netcode/v1/esn/files/{ID_B}"
    upload = _exchange(
        body=b"octets", target="/netcode/v1/esn/files", answer=b"", status=201, answer_headers=(("Location", location),)
    )
    fetch = dataclasses.replace(
        _exchange(body=b"", target=f"/netcode/v1/esn/files/{ID_B}", answer=b"octets"), method="GET"
    )
    for fresh in (True, False):
        _, scenarios, _, left = suite_documents([upload, fetch], catalog, "s", fresh_ids=fresh)
        assert not left and len(scenarios) == 1  # the Location joins the upload and the fetch in one conversation
        first, second = scenarios[0]["steps"]
        assert first["capture"] == {"minted1": "uuid:header:Location"}
        pattern = first["expect"]["headers"]["Location"]["path_pattern"]
        assert re.fullmatch(pattern, f"/netcode/v1/esn/files/{ID_A}") and not re.fullmatch(pattern, "/netcode/v1/x")
        assert second["request"]["path"] == "/netcode/v1/esn/files/${capture:minted1}"


def _notification(kind: int, date: int, conversation: uuid.UUID, message: uuid.UUID) -> bytes:
    """An SDS NOTIFICATION (esn.md): type 0x05, notification type, date and time (5 octets), the two ids."""
    return bytes([0x05, kind]) + date.to_bytes(5, "big") + conversation.bytes + message.bytes


def test_a_binary_exchange_is_a_step_sent_and_compared_octet_for_octet(catalog: Catalog) -> None:
    conversation, message = uuid.UUID(ID_A), uuid.UUID(ID_B)
    sds = b"\x01" + (1790775600).to_bytes(5, "big") + conversation.bytes + message.bytes + b"\x00\xff"
    answer = _notification(2, 1790775601, conversation, message)
    binary = _exchange(
        body=sds + f" {ID_A}".encode(),  # a textual id inside a binary body: it is sent as recorded
        answer=answer,
        target=f"/netcode/v1/esn/sds?c={ID_A}",
        headers=(("Content-Type", "application/vnd.3gpp.mcdata-signalling"),),
        answer_headers=(("Content-Type", "application/vnd.3gpp.mcdata-signalling"),),
    )
    _, scenarios, _, left = suite_documents([binary], catalog, "s")
    assert left == ()
    [step] = scenarios[0]["steps"]
    assert base64.b64decode(step["request"]["body_base64"]) == binary.request_body
    assert step["request"]["path"].endswith(ID_A)  # pinned by the binary body: not a fresh id
    # The answer octet for octet, but for the notification's date and time (octets 2-6, declared by the ESN
    # family: esn.md gives it as the sender's clock).
    assert step["expect"]["body"] == {"octets": base64.b64encode(answer).decode(), "ignore_octets": ["2-6"]}
    assert step["expect"]["format"] == "mcdata-signalling/1.0"
    assert volatile_octets_of("mcdata-signalling/1.0", sds) == ((1, 5),)
    assert volatile_octets_of("mcdata-signalling/1.0", b"\x03\x01") == ()  # a payload: no date
    assert volatile_octets_of("cap/1.2", answer) == ()

    def judged(body: bytes) -> list[str]:
        response = Response(200, "OK", (), body, 1.0)
        context = CheckContext(response, ScenarioContext(catalog, "http://127.0.0.1:9"), None)
        return [failure.check for failure in evaluate({"body": step["expect"]["body"]}, context, "x00001")]

    assert judged(answer) == []
    assert judged(_notification(2, 1790779999, conversation, message)) == []  # another clock: no change
    other_id = _notification(2, 1790775601, conversation, uuid.UUID(int=7))
    assert judged(other_id) == ["body: body /octet/23"]  # the Message ID answered changed
    assert judged(_notification(3, 1790775601, conversation, message)) == ["body: body /octet/1"]  # READ now
    assert judged(answer + b"\x00") == ["body: body"]  # one octet more


def test_ignore_takes_pointers_and_element_names_only() -> None:
    pointers, elements = volatile_fields(["/a/*/b", "{urn:x}sent"])
    assert ("a", "*", "b") in pointers and ("receivedAt",) in pointers and "{urn:x}sent" in elements
    with pytest.raises(UsageError, match="--ignore"):
        volatile_fields(["receivedAt"])


# -- the commands ---------------------------------------------------------------------------------------------


def _recording(tmp_path: Path) -> Path:
    path = tmp_path / "one.har"
    with HarWriter(path) as writer:
        writer.add(_exchange(body=json.dumps({"queryId": ID_A}).encode(), answer=b'{"status": "no-trace"}'))
    return path


def test_scenarios_from_recording_refuses_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    recording = _recording(tmp_path)
    out = tmp_path / "cat"
    assert main(["scenarios", "from-recording", str(recording), "--out", str(out), "--suite", "Bad Name"]) == 2
    assert main(["scenarios", "from-recording", str(recording), "--out", str(out), "--suite", "intel-core"]) == 2
    assert main(["scenarios", "from-recording", str(tmp_path / "no.har"), "--out", str(out), "--suite", "s"]) == 2
    assert main(["scenarios", "from-recording", str(recording), "--out", str(out), "--suite", "lab"]) == 0
    assert main(["scenarios", "from-recording", str(recording), "--out", str(out), "--suite", "lab"]) == 2  # not empty
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert [line.split(":")[0] for line in captured.err.splitlines()] == ["harness"] * 4
    assert "wrote lab@1.0" in captured.out
    scenario = (out / "suites/lab/1.0/scenarios/rec-0001.yaml").read_text()
    assert "${uuid:id1}" in scenario and ID_A not in scenario


def test_replay_refuses_a_missing_key_of_its_options(tmp_path: Path) -> None:
    from harness.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["replay", str(_recording(tmp_path))])  # no --target
    assert exit_.value.code == 2
    assert main(["replay", str(_recording(tmp_path)), "--target", "http://127.0.0.1:9", "--ignore", "bad"]) == 2
    # The run's signing options, refused with one line before any connection (the target here is unreachable).
    replay = ["replay", str(_recording(tmp_path)), "--target", "http://127.0.0.1:9"]
    assert main([*replay, "--sign-key", str(tmp_path / "missing.key")]) == 2
    assert main([*replay, "--sut", "no product"]) == 2
    assert main([*replay, "--sut-supplier", "A Lab"]) == 2


def test_a_minted_location_is_checked_by_pattern_and_its_one_uuid_captured(catalog: Catalog) -> None:
    pattern = "^/netcode/v1/esn/files/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    step = {
        "expect": {"status": 201, "headers": {"Location": {"path_pattern": pattern}}},
        "capture": {"minted1": "uuid:header:Location"},
    }

    def answer(location: str) -> Response:
        return Response(201, "", (("Location", location),), b"", 1.0)

    ctx = ScenarioContext(catalog, "http://127.0.0.1:9")
    assert judge("R-1", "x1", step, answer(f"http://127.0.0.1:9/netcode/v1/esn/files/{ID_A}"), ctx, None) == []
    assert ctx.captures["minted1"] == ID_A and ctx.expand("/f/${capture:minted1}") == f"/f/{ID_A}"
    for wrong in (f"http://elsewhere:9/netcode/v1/esn/files/{ID_A}", "/netcode/v1/esn/files/not-an-id"):
        other = ScenarioContext(catalog, "http://127.0.0.1:9")
        assert [f.check for f in judge("R-1", "x1", step, answer(wrong), other, None)] == ["headers: header Location"]
        assert "minted1" not in other.captures
    two = {"expect": {"status": 201}, "capture": {"minted1": "uuid:header:Location"}}
    other = ScenarioContext(catalog, "http://127.0.0.1:9")
    failures = judge("R-1", "x1", two, answer(f"/a/{ID_A}/b/{ID_B}"), other, None)  # two ids: which one is unknown
    assert [f.check for f in failures] == ["capture minted1"] and "minted1" not in other.captures
