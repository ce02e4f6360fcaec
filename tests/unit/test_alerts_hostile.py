"""Hostile XML sent as a CAP alert or an EDXL-DE envelope is refused, or judged, without resolving anything.

A DOCTYPE (with entities, external subsets, parameter entities), an entity declaration and XInclude are
refused before anything is expanded or fetched; ``xsi:schemaLocation`` is allowed, as the schemas allow
it, and never followed. Billion laughs and quadratic blowup are refused within bounded memory
(:mod:`tracemalloc`); peak memory and time are printed and recorded as test properties, never asserted
against the clock. Nothing may connect to the network: loopback servers bound here see no connection.
"""

from __future__ import annotations

import socket
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lxml import etree

from harness.catalog import Catalog
from harness.model import Format
from harness.validation.validator import Validation, detect_format, validator_for
from harness.validation.xmlsafe import parse_xml
from tests.alerts_mutations import load_xsd

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
DE_NS = "urn:oasis:names:tc:emergency:EDXL:DE:1.0"
MB = 1 << 20

ALERT_BODY = (
    "<identifier>kent-01</identifier><sender>alerts@kent.police.uk</sender>"
    "<sent>2026-05-01T12:00:00+01:00</sent><status>Test</status><msgType>Alert</msgType><scope>Public</scope>"
)
ENVELOPE_HEAD = (
    "<distributionID>d-1</distributionID><senderID>de@kent.police.uk</senderID>"
    "<dateTimeSent>2026-05-01T12:00:00+01:00</dateTimeSent><distributionStatus>Test</distributionStatus>"
    "<distributionType>Report</distributionType><combinedConfidentiality>OFFICIAL</combinedConfidentiality>"
)


def alert(body: str = ALERT_BODY, attributes: str = "", prolog: str = "") -> bytes:
    return f'<?xml version="1.0"?>\n{prolog}<alert xmlns="{CAP_NS}" {attributes}>{body}</alert>'.encode()


def envelope(embedded: bytes, prolog: str = "", attributes: str = "") -> bytes:
    return (
        (
            f'<?xml version="1.0"?>\n{prolog}<EDXLDistribution xmlns="{DE_NS}" {attributes}>{ENVELOPE_HEAD}'
            "<contentObject><xmlContent><embeddedXMLContent>"
        ).encode()
        + embedded.split(b"?>", 1)[-1]
        + b"</embeddedXMLContent></xmlContent></contentObject></EDXLDistribution>"
    )


def billion_laughs(root: str) -> bytes:
    levels = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)]
    return f'<?xml version="1.0"?>\n<!DOCTYPE {root} [{"".join(levels)}]>\n<{root}>&lol9;</{root}>'.encode()


def quadratic_blowup(root: str, entity_size: int = 100_000, references: int = 1000) -> bytes:
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE {root} [<!ENTITY a "{"x" * entity_size}">]>\n'
        f"<{root}>{'&a;' * references}</{root}>"
    ).encode()


def utf16_without_bom(data: bytes) -> bytes:
    text = data.decode("utf-8").replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
    return text.encode("utf-16-le")


@pytest.fixture
def cap(catalog: Catalog) -> Format:
    return catalog.format("cap/1.2")


@pytest.fixture
def edxl(catalog: Catalog) -> Format:
    return catalog.format("edxl-de/1.0")


@pytest.fixture
def listener() -> Iterator[tuple[str, socket.socket]]:
    """A loopback server nobody should connect to, and its base URL."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        yield f"http://127.0.0.1:{server.getsockname()[1]}", server


def assert_no_connection(server: socket.socket) -> None:
    with pytest.raises(BlockingIOError):
        server.accept()


def refused(validation: Validation, why: str) -> None:
    """One schema finding at the document, saying ``why``, and nothing of a resolved resource in it."""
    assert [(f.rule, f.location) for f in validation.findings] == [("schema", "/")]
    message = validation.findings[0].message
    assert why in message and "\n" not in message and "root:" not in message


# --------------------------------------------------------------------------- xee.cap and its kind


@pytest.mark.corpus
def test_xee_cap_is_refused_for_its_doctype(cap: Format, corpus: Path) -> None:
    refused(validator_for(cap).validate((corpus / "cap/xee.cap").read_bytes()), "DOCTYPE")


@pytest.mark.corpus
def test_xee_cap_is_refused_whatever_format_is_asked(catalog: Catalog, corpus: Path) -> None:
    data = (corpus / "cap/xee.cap").read_bytes()
    detected = detect_format(list(catalog.formats.values()), data)
    assert detected is not None and detected.id == "cap/1.2"
    for format_id in ("cap/1.2", "edxl-de/1.0", "intel-report-xml/1.0"):
        refused(validator_for(catalog.format(format_id)).validate(data), "DOCTYPE")


@pytest.mark.corpus
def test_xee_cap_without_its_doctype_is_still_refused_for_its_xinclude(cap: Format, corpus: Path) -> None:
    text = (corpus / "cap/xee.cap").read_text(encoding="utf-8")
    without = text[: text.index("<!DOCTYPE")] + text[text.index("]>") + 2 :]
    without = without.replace("&xxe;", "")
    refused(validator_for(cap).validate(without.encode()), "XInclude")


def _hostile(url: str) -> dict[str, bytes]:
    return {
        "external-entity": alert(
            ALERT_BODY.replace("kent-01", "&xxe;"), prolog=f'<!DOCTYPE alert [<!ENTITY xxe SYSTEM "{url}/x">]>\n'
        ),
        "external-dtd": alert(prolog=f'<!DOCTYPE alert SYSTEM "{url}/a.dtd">\n'),
        "public-dtd": alert(prolog=f'<!DOCTYPE alert PUBLIC "-//A//EN" "{url}/b.dtd">\n'),
        "parameter-entity": alert(
            prolog=f'<!DOCTYPE alert [<!ENTITY % p SYSTEM "{url}/p"> %p; <!ENTITY % f SYSTEM "file:///etc/passwd">]>\n'
        ),
        "local-file-entity": alert(
            ALERT_BODY.replace("kent-01", "&f;"), prolog='<!DOCTYPE alert [<!ENTITY f SYSTEM "file:///etc/passwd">]>\n'
        ),
        "internal-entity": alert(ALERT_BODY.replace("kent-01", "&e;"), prolog='<!DOCTYPE alert [<!ENTITY e "x">]>\n'),
        "bare-doctype": alert(prolog="<!DOCTYPE alert>\n"),
        "envelope-doctype": envelope(alert(), prolog=f'<!DOCTYPE EDXLDistribution SYSTEM "{url}/de.dtd">\n'),
        "xinclude-in-alert": alert(
            ALERT_BODY + f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{url}/i" parse="text"/>'
        ),
        "xinclude-in-embedded-alert": envelope(
            alert(
                ALERT_BODY.replace(
                    "</scope>", f'</scope><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{url}/j"/>'
                )
            )
        ),
        "undefined-entity": alert(ALERT_BODY.replace("kent-01", "&xxe;")),
        "utf16-doctype": alert(prolog=f'<!DOCTYPE alert SYSTEM "{url}/u.dtd">\n')
        .decode()
        .replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
        .encode("utf-16-le"),
    }


HOSTILE = list(_hostile("http://127.0.0.1:9"))
REASONS = {
    "xinclude-in-alert": "XInclude",
    "xinclude-in-embedded-alert": "XInclude",
    "undefined-entity": "not well-formed",
    # UTF-16 without a BOM hides the DOCTYPE from the byte search; the parser refuses to fetch its DTD.
    "utf16-doctype": "not well-formed",
}


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("format_id", ["cap/1.2", "edxl-de/1.0"])
def test_hostile_documents_are_refused_without_fetching(
    catalog: Catalog, listener: tuple[str, socket.socket], name: str, format_id: str
) -> None:
    url, server = listener
    data = _hostile(url)[name]
    result = validator_for(catalog.format(format_id)).validate(data)
    refused(result, REASONS.get(name, "DOCTYPE"))
    assert_no_connection(server)


# --------------------------------------------------------------------------- xsi:schemaLocation: allowed, not followed


def _dsig_schema(tmp_path: Path) -> Path:
    """An XSD that, were it loaded, would make any ``ds:Signature`` of our samples invalid."""
    path = tmp_path / "dsig.xsd"
    path.write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="http://www.w3.org/2000/09/xmldsig#"'
        ' elementFormDefault="qualified"><xs:element name="Signature"><xs:complexType><xs:sequence>'
        '<xs:element name="Only" type="xs:int"/></xs:sequence></xs:complexType></xs:element></xs:schema>',
        encoding="utf-8",
    )
    return path


def test_schema_location_hints_are_allowed_and_never_followed(
    cap: Format, edxl: Format, listener: tuple[str, socket.socket], tmp_path: Path
) -> None:
    url, server = listener
    dsig = _dsig_schema(tmp_path)
    hints = (
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="{CAP_NS} {url}/cap.xsd http://www.w3.org/2000/09/xmldsig# {dsig.as_uri()}"'
    )
    signed = alert(ALERT_BODY + '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><Garbage/></Signature>', hints)
    assert validator_for(cap).validate(signed).valid
    assert validator_for(edxl).validate(envelope(signed, attributes=hints.replace(CAP_NS, DE_NS))).valid
    no_namespace = alert(
        attributes=f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="{url}/n.xsd"'
    )
    assert validator_for(cap).validate(no_namespace).valid
    assert_no_connection(server)
    # Control: had the hint been followed, the signature would have been judged, and found invalid.
    ours = Path(cap.schema_path).resolve().as_uri()
    both = etree.XMLSchema(
        parse_xml(
            (
                '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
                f'<xs:import namespace="{CAP_NS}" schemaLocation="{ours}"/>'
                f'<xs:import namespace="http://www.w3.org/2000/09/xmldsig#" schemaLocation="{dsig.as_uri()}"/>'
                "</xs:schema>"
            ).encode()
        )
    )
    assert not both.validate(parse_xml(signed))


@pytest.mark.corpus
def test_the_official_schemas_are_read_without_network(listener: tuple[str, socket.socket], corpus: Path) -> None:
    _, server = listener
    for name in ("cap/CAP-v1.2.xsd", "edxl-de/edxlde-1_0.xsd"):
        assert isinstance(load_xsd(corpus / name), etree.XMLSchema)
    assert_no_connection(server)


# --------------------------------------------------------------------------- expansion attacks: bounded memory


def _measure(validator_format: Format, data: bytes) -> tuple[Validation, int, float]:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = validator_for(validator_format).validate(data)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak, elapsed


# name -> (document, what the refusal says)
EXPANSIONS: dict[str, tuple[Callable[[], bytes], str]] = {
    "billion-laughs-alert": (lambda: billion_laughs("alert"), "DOCTYPE"),
    "quadratic-blowup-alert": (lambda: quadratic_blowup("alert"), "DOCTYPE"),
    "billion-laughs-envelope": (lambda: billion_laughs("EDXLDistribution"), "DOCTYPE"),
    "quadratic-blowup-envelope": (lambda: quadratic_blowup("EDXLDistribution"), "DOCTYPE"),
    # UTF-16 without a BOM hides the DOCTYPE from the byte search: libxml2 parses it, without substituting
    # entities, and its amplification guard stops it.
    "billion-laughs-utf16": (lambda: utf16_without_bom(billion_laughs("alert")), "amplification"),
    "quadratic-blowup-utf16": (lambda: utf16_without_bom(quadratic_blowup("alert")), "amplification"),
}


@pytest.mark.parametrize("name", sorted(EXPANSIONS))
@pytest.mark.parametrize("format_id", ["cap/1.2", "edxl-de/1.0"])
def test_expansion_attacks_are_refused_within_bounded_memory(
    catalog: Catalog,
    record_property: pytest.RecordProperty,
    capsys: pytest.CaptureFixture[str],
    name: str,
    format_id: str,
) -> None:
    validator_for(catalog.format(format_id))  # compiled outside the measurement
    make, why = EXPANSIONS[name]
    data = make()
    result, peak, elapsed = _measure(catalog.format(format_id), data)
    refused(result, why)
    record_property("peak_bytes", peak)
    record_property("seconds", round(elapsed, 6))
    with capsys.disabled():
        print(f"\n{name} as {format_id}: {len(data)} bytes in, peak {peak / MB:.3f} MiB, {elapsed * 1000:.3f} ms")
    assert peak < 2 * MB + 2 * len(data)


def test_an_oversized_envelope_is_refused_unparsed(edxl: Format) -> None:
    data = envelope(alert(ALERT_BODY + "<note>" + "x" * (1 << 20) + "</note>"))
    result, peak, _ = _measure(edxl, data)
    assert [(f.rule, f.location) for f in result.findings] == [("schema", "/")]
    assert "over the limit" in result.findings[0].message
    assert peak < MB


def test_deep_nesting_inside_an_embedded_alert_is_refused(edxl: Format) -> None:
    deep = "<x:e xmlns:x='urn:example'>" * 70 + "</x:e>" * 70
    refused(validator_for(edxl).validate(envelope(alert(ALERT_BODY + deep))), "nested deeper")
