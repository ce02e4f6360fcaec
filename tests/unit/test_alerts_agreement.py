"""Our CAP 1.2 and EDXL-DE 1.0 schemas agree with the official ones, and the corpus facts hold.

Both schemas judge every corpus file of their namespace and 3000 seeded, deterministic variants per
format (``tests/alerts_mutations.py``: dropped, reordered, duplicated, emptied, renamed, moved and
re-namespaced elements, bad enumerations and timestamps, foreign elements and attributes, stray text).
The verdicts must be the same on every one. To show the variants have teeth, deliberately careless
copies of our schemas (a default dropped, "Z" allowed, a token turned into a string...) must each
disagree with the official schema on at least one variant.

The counts are printed and recorded as test properties; ``benchmarks/agreement.py`` prints them as JSON.
The corpus facts of spec ``alerts.md`` are asserted through the validator the CLI and the hub use.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from lxml import etree

from harness.catalog import Catalog
from harness.validation.validator import validator_for
from harness.validation.xmlsafe import UnsafeXml, parse_xml
from tests.alerts_mutations import (
    MUTATIONS,
    OFFICIAL_XSD,
    VARIANTS,
    compare,
    corpus_files,
    load_xsd,
    schemas,
    variants,
    verdicts,
)

pytestmark = pytest.mark.corpus  # the official schemas are the oracle: every test here needs the corpus

FORMATS = ("cap/1.2", "edxl-de/1.0")
# What lxml's XMLSchema says of each corpus file with the official schema (SOURCES.md), None: refused unparsed.
CORPUS_VERDICTS = {
    "43b080713727.cap": True,
    "cap_amber_alert_example.xml": True,
    "canada_errors.cap": True,
    "invalid.cap": False,
    "xee.cap": None,
    "EDXL-DE.xml": False,  # an EDXL-DE 2.0 envelope: no declaration for its root in the 1.0 schema
}
CORPUS_CASES = [("edxl-de/1.0" if name == "EDXL-DE.xml" else "cap/1.2", name) for name in CORPUS_VERDICTS]


@pytest.mark.parametrize(("format_id", "name"), CORPUS_CASES, ids=[name for _, name in CORPUS_CASES])
def test_every_corpus_file_gets_the_official_verdict(corpus: Path, format_id: str, name: str) -> None:
    ours, official = schemas(format_id, corpus)
    path = corpus / ("edxl-de" if format_id == "edxl-de/1.0" else "cap") / name
    expected = CORPUS_VERDICTS[name]
    if expected is None:
        with pytest.raises(UnsafeXml, match="DOCTYPE"):
            parse_xml(path.read_bytes())
        assert verdicts(path.read_bytes(), ours, official) == (False, False)
        return
    root = parse_xml(path.read_bytes())
    assert bool(official.validate(root)) is expected
    assert bool(ours.validate(root)) is expected


def test_every_corpus_file_is_covered(corpus: Path) -> None:
    on_disk = {p.name for folder in ("cap", "edxl-de") for p in (corpus / folder).iterdir() if p.suffix != ".xsd"}
    xml_files = {name for name in on_disk if not name.endswith(".json")}
    assert xml_files == set(CORPUS_VERDICTS)


@pytest.mark.parametrize("format_id", FORMATS)
def test_generated_variants_get_the_official_verdict(
    catalog: Catalog,
    corpus: Path,
    format_id: str,
    record_property: pytest.RecordProperty,
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = compare(format_id, corpus)
    record_property(f"{format_id} agreement", json.dumps(result.as_dict()))
    with capsys.disabled():
        print(f"\n{format_id}: {json.dumps(result.as_dict())} (official verdict valid on {result.valid_variants})")
    assert result.variants == VARIANTS >= 500
    assert result.files == len(corpus_files(corpus, format_id)) + len(catalog.format(format_id).samples)
    assert result.disagreements == [], result.disagreements[:10]
    # Both verdicts are common: the comparison is not trivially "everything invalid".
    assert 0.1 * result.variants < result.valid_variants < 0.9 * result.variants


@pytest.mark.parametrize("format_id", FORMATS)
def test_variants_are_deterministic_and_varied(corpus: Path, format_id: str) -> None:
    def digest(seed: int) -> str:
        return hashlib.sha256(b"".join(data for _, data in variants(format_id, 300, seed, corpus))).hexdigest()

    assert digest(1) == digest(1)
    assert digest(1) != digest(2)
    names = [name for name, _ in variants(format_id, corpus=corpus)]
    kinds = {part.split("-")[0] for name in names for part in name.split(":", 2)[2].split("+")}
    assert {m.__name__.strip("_").split("_")[0] for m in MUTATIONS} <= kinds | {"stray"}
    assert len({data for _, data in variants(format_id, corpus=corpus)}) > 0.9 * VARIANTS


# Careless copies of our schemas: (format, text in our XSD, replacement). Each must be caught.
CARELESS = [
    ("cap/1.2", ' default="en-US"', ""),
    ("cap/1.2", '[+\\-][0-9]{2}:[0-9]{2}"', '([+\\-][0-9]{2}:[0-9]{2}|Z)"'),
    (
        "cap/1.2",
        '<xs:any namespace="http://www.w3.org/2000/09/xmldsig#" processContents="lax"\n'
        '              minOccurs="0" maxOccurs="unbounded"/>',
        "",
    ),
    (
        "cap/1.2",
        '<xs:restriction base="xs:string">\n      <xs:enumeration value="Actual"/>',
        '<xs:restriction base="xs:token">\n      <xs:enumeration value="Actual"/>',
    ),
    ("cap/1.2", '<xs:element name="source" type="xs:string" minOccurs="0"/>', ""),
    (
        "cap/1.2",
        '<xs:element name="area" type="cap:Area" minOccurs="0" maxOccurs="unbounded"/>',
        '<xs:element name="area" type="cap:Area" minOccurs="0"/>',
    ),
    (
        "edxl-de/1.0",
        '<xs:restriction base="xs:token">\n      <xs:enumeration value="Actual"/>',
        '<xs:restriction base="xs:string">\n      <xs:enumeration value="Actual"/>',
    ),
    (
        "edxl-de/1.0",
        '<xs:element name="dateTimeSent" type="xs:dateTime"/>',
        '<xs:element name="dateTimeSent" type="xs:string"/>',
    ),
    (
        "edxl-de/1.0",
        '<xs:any namespace="##other" processContents="lax" maxOccurs="unbounded"/>',
        '<xs:any namespace="##any" processContents="lax" maxOccurs="unbounded"/>',
    ),
    (
        "edxl-de/1.0",
        '<xs:element name="language" type="xs:string" minOccurs="0"/>',
        '<xs:element name="language" type="xs:language" minOccurs="0"/>',
    ),
]


@pytest.mark.parametrize(
    ("format_id", "text", "replacement"), CARELESS, ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(CARELESS)]
)
def test_a_careless_schema_is_caught_by_the_variants(
    catalog: Catalog, corpus: Path, format_id: str, text: str, replacement: str
) -> None:
    ours = Path(catalog.format(format_id).schema_path).read_text(encoding="utf-8")
    assert ours.count(text) == 1
    careless = etree.XMLSchema(parse_xml(ours.replace(text, replacement).encode(), max_depth=256))
    official = load_xsd(corpus / OFFICIAL_XSD[format_id])
    caught = [
        name for name, data in variants(format_id, corpus=corpus) if len(set(verdicts(data, careless, official))) > 1
    ]
    assert caught, "the variants do not tell this careless schema from the official one"


def test_the_validator_gives_our_schema_verdict_on_every_cap_variant(catalog: Catalog, corpus: Path) -> None:
    fmt = catalog.format("cap/1.2")
    ours, _ = schemas("cap/1.2", corpus)
    for name, data in variants("cap/1.2", corpus=corpus):
        result = validator_for(fmt).validate(data)
        assert ("schema" in result.rules) == (not bool(ours.validate(parse_xml(data)))), name


# --------------------------------------------------------------------------- the corpus facts, as the validator says


def test_canada_errors_is_schema_valid_and_breaks_cap_04_and_cap_07(catalog: Catalog, corpus: Path) -> None:
    """Under alerts 1.0 CAP-04 and CAP-07 are errors; under 1.1 (current) CAP-07 is a warning, listed apart."""
    data = (corpus / "cap/canada_errors.cap").read_bytes()
    old = validator_for(catalog.at({"alerts": "1.0"}).format("cap/1.2")).validate(data)
    assert old.rules == {"CAP-04", "CAP-07"} and old.warnings == ()
    empties = {
        ("CAP-07", "/cap:alert/cap:restriction"),
        ("CAP-07", "/cap:alert/cap:addresses"),
        ("CAP-07", "/cap:alert/cap:references"),
    }
    assert {(f.rule, f.location) for f in old.findings} == {("CAP-04", "/cap:alert/cap:references"), *empties}
    current = validator_for(catalog.format("cap/1.2")).validate(data)
    assert {(f.rule, f.location) for f in current.findings} == {("CAP-04", "/cap:alert/cap:references")}
    assert {(f.rule, f.location) for f in current.warnings} == empties
    assert not current.valid


def test_invalid_cap_fails_the_schema(catalog: Catalog, corpus: Path) -> None:
    result = validator_for(catalog.format("cap/1.2")).validate((corpus / "cap/invalid.cap").read_bytes())
    assert result.rules == {"schema"}
    assert any("scope" in f.message for f in result.findings)


def test_xee_is_refused_with_one_finding(catalog: Catalog, corpus: Path) -> None:
    result = validator_for(catalog.format("cap/1.2")).validate((corpus / "cap/xee.cap").read_bytes())
    assert [(f.rule, f.location) for f in result.findings] == [("schema", "/")]
    assert "DOCTYPE" in result.findings[0].message


@pytest.mark.parametrize("name", ["43b080713727.cap", "cap_amber_alert_example.xml"])
def test_the_valid_corpus_alerts_are_valid(catalog: Catalog, corpus: Path, name: str) -> None:
    assert validator_for(catalog.format("cap/1.2")).validate((corpus / "cap" / name).read_bytes()).valid


def test_the_edxl_de_2_0_envelope_is_not_a_1_0_envelope(catalog: Catalog, corpus: Path) -> None:
    result = validator_for(catalog.format("edxl-de/1.0")).validate((corpus / "edxl-de/EDXL-DE.xml").read_bytes())
    assert result.rules == {"schema"}
