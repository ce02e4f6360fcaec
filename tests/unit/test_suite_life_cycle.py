"""Document versions and the life cycle of suite versions, as the catalog reads them.

``fixtures/documents.yaml`` gives each document's versions and their status;
``fixtures/suites/lifecycle.yaml`` gives each suite version's status and the
document version it certifies. A suite named without a version is its current
version; a catalog seen ``at`` a document version judges that document's
formats (and the formats embedding them) by that version's rules. Broken
registers are catalog errors, one line each.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from harness.catalog import Catalog, default_fixtures, document_versions, read_catalog
from harness.events import RunFinished, RunNote
from harness.model import CatalogError, ConfigurationError, SuiteStatus
from harness.runner.engine import Runner
from harness.runner.life_cycle import life_cycle_notice, refuse_retired

FIXTURES = default_fixtures()


def test_alerts_core_versions_and_what_they_certify(catalog: Catalog) -> None:
    old, new = catalog.suite("alerts-core@1.0"), catalog.suite("alerts-core@1.1")
    assert (old.status, old.certifies) == (SuiteStatus.SUPERSEDED, (("alerts", "1.0"),))
    assert (new.status, new.certifies) == (SuiteStatus.CURRENT, (("alerts", "1.1"),))
    assert catalog.suite("alerts-core") is new
    assert [s.ref for s in catalog.current_suites()] == [
        "alerts-core@1.1",
        "checks-core@1.0",
        "esn-core@1.1",
        "intel-core@1.0",
    ]
    assert catalog.documents["alerts"] == {"1.0": SuiteStatus.SUPERSEDED, "1.1": SuiteStatus.CURRENT}


def test_alerts_core_1_0_is_byte_for_byte_as_issued() -> None:
    """The 1.0 folder is frozen: its status lives in the register, not in its files."""
    folder = FIXTURES / "suites/alerts-core/1.0"
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.yaml")):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    assert digest.hexdigest() == "1a38ff5f6ae83b534943c44938ce27a34f894cb64098676f145b5b30548870d5"


def test_a_catalog_at_a_document_version_judges_its_formats_and_their_envelopes(catalog: Catalog) -> None:
    assert catalog.format("cap/1.2").rules_version == "1.1"
    old = catalog.at({"alerts": "1.0"})
    assert old.format("cap/1.2").rules_version == "1.0"
    assert old.format("edxl-de/1.0").embedded[0] is old.format("cap/1.2")
    assert old.format("intel-report/1.0") is catalog.format("intel-report/1.0")
    assert catalog.at({"alerts": "1.0"}) is old and old.at({"alerts": "1.1"}).format("cap/1.2").rules_version == "1.1"
    assert catalog.at({}) is catalog
    assert catalog.for_suite(catalog.suite("alerts-core@1.0")) is old


@pytest.mark.parametrize(
    ("versions", "needle"),
    [({"alerts": "2.0"}, "has no version '2.0'"), ({"weather": "1.0"}, "unknown document 'weather'")],
)
def test_unknown_document_versions_are_one_line_errors(catalog: Catalog, versions: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigurationError, match=needle):
        catalog.at(versions)


@pytest.mark.parametrize("text", ["alerts", "alerts=", "=1.0", "alerts=one", "Alerts=1.0"])
def test_bad_document_version_texts(text: str) -> None:
    with pytest.raises(ConfigurationError, match="expected DOCUMENT=VERSION"):
        document_versions(text)


def test_document_version_texts() -> None:
    assert document_versions("alerts=1.0") == document_versions(" alerts@1.0 ") == ("alerts", "1.0")


# -- broken registers -------------------------------------------------------------------------------


@pytest.fixture
def fixtures_copy(tmp_path: Path) -> Path:
    root = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, root)
    return root


def _load(root: Path) -> Catalog:
    return read_catalog((root,))


def _register(root: Path, alerts_core: str) -> None:
    path = root / "suites/lifecycle.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("alerts-core:")
    end = text.index("checks-core:")
    path.write_text(text[:start] + alerts_core + text[end:], encoding="utf-8")


@pytest.mark.parametrize(
    ("entries", "needle"),
    [
        ('alerts-core:\n  "1.1": {status: current, certifies: alerts@1.1}\n', "alerts-core@1.0 needs an entry"),
        (
            'alerts-core:\n  "1.0": {status: current, certifies: alerts@1.0}\n'
            '  "1.1": {status: current, certifies: alerts@1.1}\n',
            "is current but certifies alerts@1.0, superseded",
        ),
        (
            'alerts-core:\n  "1.0": {status: superseded, certifies: alerts@1.0}\n'
            '  "1.1": {status: current, certifies: alerts@1.1}\n  "1.2": {status: current, certifies: alerts@1.1}\n',
            "alerts-core@1.2 has no folder",
        ),
        (
            'alerts-core:\n  "1.0": {status: withdrawn, certifies: alerts@1.0}\n'
            '  "1.1": {status: current, certifies: alerts@1.1}\n',
            "status must be current, superseded or retired",
        ),
        (
            'alerts-core:\n  "1.0": {status: superseded, certifies: alerts@0.9}\n'
            '  "1.1": {status: current, certifies: alerts@1.1}\n',
            "certifies alerts@0.9, not a document version",
        ),
    ],
)
def test_a_broken_register_is_a_catalog_error(fixtures_copy: Path, entries: str, needle: str) -> None:
    _register(fixtures_copy, entries)
    with pytest.raises(CatalogError, match=needle):
        _load(fixtures_copy)


def test_two_current_versions_of_a_document_are_a_catalog_error(fixtures_copy: Path) -> None:
    path = fixtures_copy / "documents.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace('"1.0": superseded', '"1.0": current'), encoding="utf-8")
    with pytest.raises(CatalogError, match="more than one current version"):
        _load(fixtures_copy)


def test_a_format_of_an_unknown_document_is_a_catalog_error(fixtures_copy: Path) -> None:
    path = fixtures_copy / "formats/cap/1.2/format.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("document: alerts", "document: weather"), "utf-8")
    with pytest.raises(CatalogError, match=r"document .weather. is not in documents\.yaml"):
        _load(fixtures_copy)


def test_a_suite_without_a_current_version_must_be_named_with_one(fixtures_copy: Path) -> None:
    _register(
        fixtures_copy,
        'alerts-core:\n  "1.0": {status: retired, certifies: alerts@1.0}\n'
        '  "1.1": {status: superseded, certifies: alerts@1.1}\n',
    )
    catalog = _load(fixtures_copy)
    with pytest.raises(ConfigurationError, match=r"no current version: name one of 1.0 \(retired\), 1.1"):
        catalog.suite("alerts-core")
    assert catalog.suite("alerts-core@1.0").status is SuiteStatus.RETIRED
    assert "alerts-core" not in {s.name for s in catalog.current_suites()}


# -- what a run says about the life cycle ------------------------------------------------------------


def test_a_retired_suite_refuses_to_certify_unless_the_run_is_marked_not_certifying(fixtures_copy: Path) -> None:
    _register(
        fixtures_copy,
        'alerts-core:\n  "1.0": {status: retired, certifies: alerts@1.0}\n'
        '  "1.1": {status: current, certifies: alerts@1.1}\n',
    )
    catalog = _load(fixtures_copy)
    retired = catalog.suite("alerts-core@1.0")
    with pytest.raises(ConfigurationError, match=r"alerts-core@1\.0 is retired .* --not-certifying") as raised:
        refuse_retired(retired, certifying=True)
    assert raised.value.exit_code == 2 and "\n" not in str(raised.value)
    refuse_retired(retired, certifying=False)
    refuse_retired(catalog.suite("alerts-core@1.1"), certifying=True)
    assert "marked as not certifying" in str(life_cycle_notice(catalog, retired, certifying=False))


def test_notices(catalog: Catalog) -> None:
    assert life_cycle_notice(catalog, catalog.suite("alerts-core@1.1")) is None
    notice = life_cycle_notice(catalog, catalog.suite("alerts-core@1.0"))
    assert notice is not None and "superseded" in notice and "alerts-core@1.1" in notice and "stay valid" in notice


async def test_a_superseded_run_says_so_and_a_not_certifying_run_never_certifies(catalog: Catalog) -> None:
    from adapters.http import HttpTransport
    from harness.endpoints import ReferenceServer, build_app
    from harness.transport import TransportOptions

    playing = catalog.at({"alerts": "1.0"})
    events: list[object] = []
    async with ReferenceServer(build_app(playing)) as url:
        for certifying in (True, False):
            transport = HttpTransport(TransportOptions(timeout_s=5.0))
            try:
                runner = Runner(catalog, transport, url, [events.append], certifying=certifying)
                run = await runner.run(catalog.suite("alerts-core@1.0"))
            finally:
                await transport.close()
            assert run.extra["status"] == "superseded" and run.extra["certifies"] == "alerts@1.0"
            assert run.certified is certifying and run.certifying is certifying
    notes = [event.message for event in events if isinstance(event, RunNote)]
    assert any("alerts-core@1.0 is superseded" in note for note in notes)
    assert sum(isinstance(event, RunFinished) for event in events) == 2
