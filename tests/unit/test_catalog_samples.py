"""Every sample of the catalog validates as its folder and manifest declare; broken catalogs are refused.

Valid samples have no findings in any version of their document; each invalid
sample breaks exactly the rules that ``samples/invalid/manifest.yaml`` lists,
as errors or warnings by their severity in each version (a rule that a version
does not state is not broken there); every rule IR-01..IR-07 has an
invalid sample in both renditions; every finding carries a message and a
location of the right kind (a JSON Pointer for JSON, an XPath for XML that
names a node of the sample). A fixtures tree with a bad manifest, an
undeclared invalid sample or an incomplete scenario raises CatalogError, and
suite references resolve or fail with a one-line ConfigurationError.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lxml import etree

from harness.catalog import Catalog, default_fixtures, load_catalog, read_catalog
from harness.model import CatalogError, ConfigurationError, Format, Sample
from harness.validation.validator import Validation, sample_findings, validator_for

NAMESPACES = {
    "ir": "urn:netcode:intel-report:1.0",
    "cap": "urn:oasis:names:tc:emergency:cap:1.2",
    "de": "urn:oasis:names:tc:emergency:EDXL:DE:1.0",
}
INTEL_FORMATS = ("intel-report/1.0", "intel-report-xml/1.0")
IR_RULES = tuple(f"IR-0{n}" for n in range(1, 8))


def _all_samples() -> list[tuple[Format, Sample]]:
    """Every sample, once per version of its format's document (once when the format has no document)."""
    catalog = load_catalog()
    pairs: list[tuple[Format, Sample]] = []
    for format_id, fmt in catalog.formats.items():
        versions = sorted(catalog.documents.get(fmt.document or "", {})) or [None]
        for version in versions:
            judged = catalog.at({fmt.document: version}).format(format_id) if fmt.document and version else fmt
            pairs += [(judged, sample) for sample in judged.samples]
    return pairs


def _ids(pairs: list[tuple[Format, Sample]]) -> list[str]:
    return [
        f"{fmt.id}{'@' + fmt.document + '-' + fmt.rules_version if fmt.document and fmt.rules_version else ''}:"
        f"{Path(sample.path).name}"
        for fmt, sample in pairs
    ]


SAMPLES = _all_samples()
INVALID_SAMPLES = [(fmt, sample) for fmt, sample in SAMPLES if any(sample_findings(fmt, sample))]


def _validate(fmt: Format, sample: Sample) -> Validation:
    return validator_for(fmt).validate(Path(sample.path).read_bytes())


# --------------------------------------------------------------------------- samples


def test_the_catalog_holds_both_intel_report_formats_with_samples(catalog: Catalog) -> None:
    for format_id in INTEL_FORMATS:
        fmt = catalog.format(format_id)
        assert fmt.valid_samples, format_id
        assert fmt.invalid_samples, format_id


@pytest.mark.parametrize(("fmt", "sample"), SAMPLES, ids=_ids(SAMPLES))
def test_sample_validates_as_declared(fmt: Format, sample: Sample) -> None:
    result = _validate(fmt, sample)
    assert result.format_id == fmt.id
    if sample.valid:
        assert result.findings == result.warnings == (), [f.as_dict() for f in result.findings + result.warnings]
        assert result.valid
    else:
        errors, warnings = sample_findings(fmt, sample)
        assert result.rules == set(errors), [f.as_dict() for f in result.findings]
        assert result.warning_rules == set(warnings), [f.as_dict() for f in result.warnings]
        assert result.valid == (not errors)


@pytest.mark.parametrize("format_id", INTEL_FORMATS)
@pytest.mark.parametrize("rule_id", IR_RULES)
def test_every_rule_has_an_invalid_sample_in_both_renditions(catalog: Catalog, format_id: str, rule_id: str) -> None:
    fmt = catalog.format(format_id)
    assert any(rule_id in sample.rules for sample in fmt.invalid_samples), f"{format_id} has no sample for {rule_id}"


@pytest.mark.parametrize(("fmt", "sample"), INVALID_SAMPLES, ids=_ids(INVALID_SAMPLES))
def test_findings_have_a_message_and_a_location_of_the_right_kind(fmt: Format, sample: Sample) -> None:
    result = _validate(fmt, sample)
    assert result.findings or result.warnings
    for finding in result.findings + result.warnings:
        assert isinstance(finding.message, str) and finding.message.strip(), finding
        assert isinstance(finding.rule, str) and finding.rule, finding
        if fmt.syntax == "json":
            assert finding.location == "" or finding.location.startswith("/"), finding
        else:
            assert finding.location.startswith("/"), finding


XML_RULE_SAMPLES = [
    (fmt, sample)
    for fmt, sample in INVALID_SAMPLES
    if fmt.syntax == "xml" and any(rule != "schema" for rule in sum(sample_findings(fmt, sample), ()))
]


@pytest.mark.parametrize(("fmt", "sample"), XML_RULE_SAMPLES, ids=_ids(XML_RULE_SAMPLES))
def test_xpaths_of_rule_findings_name_nodes_of_the_xml_sample(fmt: Format, sample: Sample) -> None:
    data = Path(sample.path).read_bytes()
    tree = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, no_network=True)).getroottree()
    result = validator_for(fmt).validate(data)
    rule_findings = [finding for finding in result.findings + result.warnings if finding.rule != "schema"]
    assert rule_findings
    for finding in rule_findings:
        nodes = tree.xpath(finding.location, namespaces=NAMESPACES)
        assert isinstance(nodes, list) and len(nodes) >= 1, finding


def test_xml_rule_samples_cover_every_rule() -> None:
    covered = {rule for _, sample in XML_RULE_SAMPLES for rule in sample.rules}
    assert set(IR_RULES) <= covered


# --------------------------------------------------------------------------- broken fixtures trees


@pytest.fixture
def fixtures_copy(tmp_path: Path) -> Path:
    root = tmp_path / "fixtures"
    shutil.copytree(default_fixtures(), root)
    return root


def _load(root: Path) -> Catalog:
    return read_catalog((root,))


def test_an_unchanged_copy_of_the_fixtures_loads(fixtures_copy: Path) -> None:
    catalog = _load(fixtures_copy)
    assert set(INTEL_FORMATS) <= set(catalog.formats)
    assert catalog.suite("intel-core").name == "intel-core"


JSON_FORMAT_YAML = Path("formats/intel-report/1.0/format.yaml")


@pytest.mark.parametrize(
    "text",
    [
        "id: [unclosed\n",  # not YAML
        "- just\n- a list\n",  # not a mapping
        "title: no id, no syntax, no schema\n",  # required keys missing
        (
            "id: intel-report/1.0\nsyntax: yaml\nmedia_types: [a/b]\nschema: schema.json\n"  # unknown syntax
        ),
        "id: intel-report/1.0\nsyntax: json\nmedia_types: [a/b]\nschema: missing.json\n",  # schema missing
        "id: intel-report/1.0\nsyntax: json\nmedia_types: [a/b]\nschema: schema.json\nmax_bytes: lots\n",
    ],
    ids=["not-yaml", "not-mapping", "keys-missing", "unknown-syntax", "schema-missing", "bad-max-bytes"],
)
def test_a_bad_format_yaml_raises_catalog_error(fixtures_copy: Path, text: str) -> None:
    (fixtures_copy / JSON_FORMAT_YAML).write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError):
        _load(fixtures_copy)


def test_an_invalid_sample_missing_from_the_manifest_raises_catalog_error(fixtures_copy: Path) -> None:
    invalid = fixtures_copy / "formats/intel-report/1.0/samples/invalid"
    (invalid / "undeclared.json").write_text("{}", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"undeclared\.json"):
        _load(fixtures_copy)


def test_an_invalid_sample_with_an_empty_rule_list_raises_catalog_error(fixtures_copy: Path) -> None:
    manifest = fixtures_copy / "formats/intel-report/1.0/samples/invalid/manifest.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8") + "extra.json: []\n", encoding="utf-8")
    (manifest.parent / "extra.json").write_text("{}", encoding="utf-8")
    with pytest.raises(CatalogError):
        _load(fixtures_copy)


@pytest.mark.parametrize("text", ["", "- a\n- b\n"], ids=["empty", "list"])
def test_a_manifest_that_is_not_a_mapping_raises_catalog_error(fixtures_copy: Path, text: str) -> None:
    manifest = fixtures_copy / "formats/intel-report/1.0/samples/invalid/manifest.yaml"
    manifest.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError):
        _load(fixtures_copy)


def test_a_scenario_without_level_raises_catalog_error(fixtures_copy: Path) -> None:
    scenario = fixtures_copy / "suites/intel-core/1.0/scenarios/ic-01-submit-json.yaml"
    lines = scenario.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith("level:")]
    assert len(kept) == len(lines) - 1
    scenario.write_text("".join(kept), encoding="utf-8")
    with pytest.raises(CatalogError, match="level"):
        _load(fixtures_copy)


def test_a_scenario_with_an_unknown_level_raises_catalog_error(fixtures_copy: Path) -> None:
    scenario = fixtures_copy / "suites/intel-core/1.0/scenarios/ic-01-submit-json.yaml"
    scenario.write_text(scenario.read_text(encoding="utf-8").replace("level: MUST", "level: MAY"), encoding="utf-8")
    with pytest.raises(CatalogError, match="level"):
        _load(fixtures_copy)


def test_a_suite_yaml_without_name_raises_catalog_error(fixtures_copy: Path) -> None:
    (fixtures_copy / "suites/intel-core/1.0/suite.yaml").write_text('version: "1.0"\n', encoding="utf-8")
    with pytest.raises(CatalogError):
        _load(fixtures_copy)


# --------------------------------------------------------------------------- suite references


@pytest.mark.parametrize("ref", ["intel-core", "intel-core@1.0"])
def test_suite_references_resolve(catalog: Catalog, ref: str) -> None:
    suite = catalog.suite(ref)
    assert suite.name == "intel-core"
    assert suite.version == "1.0"
    assert suite.ref == "intel-core@1.0"
    assert suite.scenarios


@pytest.mark.parametrize("ref", ["nope", "intel-core@9", "Bad Ref"])
def test_bad_suite_references_raise_a_one_line_configuration_error(catalog: Catalog, ref: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        catalog.suite(ref)
    message = str(info.value)
    assert message.strip()
    assert "\n" not in message
    assert not isinstance(info.value, CatalogError)


def test_unknown_format_raises_configuration_error(catalog: Catalog) -> None:
    with pytest.raises(ConfigurationError) as info:
        catalog.format("intel-report/9.9")
    assert "\n" not in str(info.value)
