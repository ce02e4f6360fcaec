"""The catalog: formats and suites read from ``fixtures/``, once, and immutable after."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.model import CatalogError, ConfigurationError, Format, Sample, Scenario, Suite, SuiteStatus
from harness.scenarios import Problem, SampleIndex, parse_scenario, schema_problems

__all__ = [
    "Catalog",
    "Problem",
    "catalog_problems",
    "default_fixtures",
    "document_versions",
    "load_catalog",
    "schemas_folder",
]

_SUITE_REF = re.compile(r"^(?P<name>[a-z0-9][a-z0-9-]*)(?:@(?P<version>[0-9][0-9A-Za-z.-]*))?\Z")
_DOCUMENT_REF = re.compile(r"^(?P<document>[a-z0-9][a-z0-9-]*)[@=](?P<version>[0-9][0-9A-Za-z.-]*)\Z")
DOCUMENTS_FILE = "documents.yaml"
"""The documents of the profile and the life of their versions (``fixtures/documents.yaml``)."""
LIFECYCLE_FILE = "suites/lifecycle.yaml"
"""The register of suite versions: the status of each and the document version it certifies."""


def default_fixtures() -> Path:
    """``$HARNESS_FIXTURES``, else the ``fixtures/`` folder beside the package."""
    configured = os.environ.get("HARNESS_FIXTURES")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parent.parent / "fixtures"


def _read_yaml(path: Path) -> Any:
    try:
        with path.open("rb") as handle:
            return yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(f"{path}: cannot read: {exc}".splitlines()[0]) from None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise CatalogError(f"{path}: cannot read: {exc}".splitlines()[0]) from None


def _version_key(version: str) -> tuple[tuple[int, str], ...]:
    return tuple((int(part), "") if part.isdigit() else (-1, part) for part in version.split("."))


def document_versions(text: str) -> tuple[str, str]:
    """``alerts=1.0`` or ``alerts@1.0`` as ``("alerts", "1.0")`` (UsageError-free: ConfigurationError)."""
    match = _DOCUMENT_REF.match(text.strip())
    if match is None:
        raise ConfigurationError(f"bad document version {text!r}: expected DOCUMENT=VERSION (alerts=1.0)")
    return match["document"], match["version"]


@dataclass(slots=True, frozen=True)
class Catalog:
    root: Path
    formats: dict[str, Format]
    suites: dict[str, dict[str, Suite]]
    datasets: dict[str, Path]
    """``name@version`` -> the data set's folder (``dataset.json``, ``schema.json``)."""
    documents: dict[str, dict[str, SuiteStatus]] = field(default_factory=dict)
    """Document of the profile -> its versions and their status (``current``, ``superseded``, ``retired``)."""
    in_force: tuple[tuple[str, str], ...] = ()
    """The document versions whose rules this catalog's formats apply (the current ones unless asked otherwise)."""
    _views: dict[tuple[tuple[str, str], ...], Catalog] = field(default_factory=dict, compare=False, repr=False)

    def current_version(self, document: str) -> str:
        versions = self.documents.get(document)
        if not versions:
            raise ConfigurationError(f"unknown document {document!r} (known: {', '.join(sorted(self.documents))})")
        current = [v for v, status in versions.items() if status is SuiteStatus.CURRENT]
        if not current:
            raise ConfigurationError(f"document {document!r} has no current version")
        return current[0]

    def at(self, versions: Mapping[str, str]) -> Catalog:
        """This catalog as ``versions`` of the documents see it: their formats judged by those versions' rules.

        ``{"alerts": "1.0"}`` gives formats (and the formats that embed them) whose validators apply
        alerts 1.0's rule set; formats of other documents stay at their current version. Views are cached.
        """
        wanted = dict(self.in_force)
        for document, version in versions.items():
            known = self.documents.get(document)
            if known is None:
                raise ConfigurationError(f"unknown document {document!r} (known: {', '.join(sorted(self.documents))})")
            if version not in known:
                raise ConfigurationError(
                    f"document {document!r} has no version {version!r} (known: {', '.join(sorted(known))})"
                )
            wanted[document] = version
        key = tuple(sorted(wanted.items()))
        if key == self.in_force:
            return self
        view = self._views.get(key)
        if view is None:
            view = dataclasses.replace(self, formats=_formats_at(self.formats, wanted), in_force=key, _views={})
            self._views[key] = view
        return view

    def for_suite(self, suite: Suite) -> Catalog:
        """The catalog as the document versions ``suite`` certifies see it."""
        return self.at(dict(suite.certifies))

    def format(self, format_id: str) -> Format:
        try:
            return self.formats[format_id]
        except KeyError:
            known = ", ".join(sorted(self.formats))
            raise ConfigurationError(f"unknown format {format_id!r} (known: {known})") from None

    def suite(self, ref: str) -> Suite:
        """The suite ``name`` (its current version) or ``name@version``."""
        match = _SUITE_REF.match(ref)
        if not match:
            raise ConfigurationError(f"bad suite reference {ref!r}: expected NAME or NAME@VERSION")
        versions = self.suites.get(match["name"])
        if not versions:
            known = ", ".join(sorted(self.suites)) or "none"
            raise ConfigurationError(f"unknown suite {match['name']!r} (known: {known})")
        current = [v for v, suite in versions.items() if suite.status is SuiteStatus.CURRENT]
        if not match["version"] and not current:
            listed = ", ".join(f"{v} ({versions[v].status})" for v in sorted(versions, key=_version_key))
            raise ConfigurationError(f"suite {match['name']!r} has no current version: name one of {listed}")
        version = match["version"] or current[0]
        if version not in versions:
            raise ConfigurationError(
                f"suite {match['name']!r} has no version {version!r} (known: {', '.join(sorted(versions))})"
            )
        return versions[version]

    def dataset(self, ref: str) -> dict[str, Any]:
        """The certification data set ``name@version`` as a (fresh) JSON document."""
        folder = self.datasets.get(ref)
        if folder is None:
            known = ", ".join(sorted(self.datasets)) or "none"
            raise ConfigurationError(f"unknown data set {ref!r} (known: {known})")
        document: dict[str, Any] = _read_json(folder / "dataset.json")
        return document

    def dataset_schema(self, ref: str) -> dict[str, Any]:
        self.dataset(ref)
        schema: dict[str, Any] = _read_json(self.datasets[ref] / "schema.json")
        return schema

    def latest_suites(self) -> list[Suite]:
        return [versions[max(versions, key=_version_key)] for _, versions in sorted(self.suites.items())]

    def current_suites(self) -> list[Suite]:
        """The current version of every suite that has one (what ``harness demo`` certifies)."""
        return [
            suite
            for _, versions in sorted(self.suites.items())
            for suite in versions.values()
            if suite.status is SuiteStatus.CURRENT
        ]

    def formats_of_family(self, family: str) -> list[Format]:
        return [fmt for fmt in self.formats.values() if fmt.family == family]


def _load_format(directory: Path) -> tuple[Format, tuple[str, ...]]:
    """The format of ``directory``, and the ids of the formats it embeds (resolved once all are read)."""
    manifest = _read_yaml(directory / "format.yaml")
    if not isinstance(manifest, dict):
        raise CatalogError(f"{directory / 'format.yaml'}: not a mapping")
    try:
        format_id = str(manifest["id"])
        schema_path = directory / str(manifest["schema"])
        samples = _load_samples(directory / "samples")
        detect = manifest.get("detect") or {}
        embedded = manifest.get("embedded") or {}
        embedded_ids = tuple(str(i) for i in embedded.get("formats", ())) if embedded else ()
        fmt = Format(
            id=format_id,
            title=str(manifest.get("title", format_id)),
            syntax=str(manifest["syntax"]),
            media_types=tuple(str(m) for m in manifest["media_types"]),
            schema_path=str(schema_path),
            rule_set=manifest.get("rules"),
            family=manifest.get("family"),
            detect=tuple((str(k), str(v)) for k, v in detect.items()),
            max_bytes=int(manifest.get("max_bytes", 1 << 20)),
            samples=samples,
            directory=str(directory),
            embedded_in=str(embedded["in"]) if embedded else None,
            document=str(manifest["document"]) if manifest.get("document") else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CatalogError(f"{directory / 'format.yaml'}: bad manifest ({exc})") from None
    if fmt.syntax not in {"json", "xml", "binary", "multipart"}:
        raise CatalogError(f"{directory}: unknown syntax {fmt.syntax!r}")
    if not schema_path.is_file():
        raise CatalogError(f"{directory}: schema {schema_path.name} is missing")
    if fmt.embedded_in is not None and (fmt.syntax != "xml" or not fmt.embedded_in.startswith("{") or not embedded_ids):
        raise CatalogError(f"{directory}: 'embedded' needs an XML format, 'in' as {{namespace}}element and formats")
    return fmt, embedded_ids


def _resolve_embedded(fmt: Format, ids: tuple[str, ...], formats: dict[str, Format]) -> Format:
    """``fmt`` with the formats it embeds: known XML formats with a detect root, embedding nothing themselves."""
    embedded: list[Format] = []
    for format_id in ids:
        inner = formats.get(format_id)
        if inner is None or inner.syntax != "xml" or "root" not in dict(inner.detect) or inner.embedded_in:
            raise CatalogError(f"{fmt.directory}: cannot embed {format_id!r} (an XML format with a detect root)")
        embedded.append(inner)
    return dataclasses.replace(fmt, embedded=tuple(embedded))


def _load_samples(directory: Path) -> tuple[Sample, ...]:
    samples: list[Sample] = []
    valid = directory / "valid"
    if valid.is_dir():
        samples += [Sample(str(p), True) for p in sorted(valid.iterdir()) if p.is_file()]
    invalid = directory / "invalid"
    if invalid.is_dir():
        manifest = _read_yaml(invalid / "manifest.yaml") if (invalid / "manifest.yaml").is_file() else {}
        if not isinstance(manifest, dict):
            raise CatalogError(f"{invalid / 'manifest.yaml'}: not a mapping of sample names to rules")
        for path in sorted(invalid.iterdir()):
            if path.name == "manifest.yaml" or not path.is_file():
                continue
            rules = manifest.get(path.name)
            if not rules:
                raise CatalogError(f"{path}: invalid sample declares no rule in manifest.yaml")
            samples.append(Sample(str(path), False, tuple(str(r) for r in rules)))
    return tuple(samples)


def schemas_folder(root: Path) -> Path:
    """The JSON Schemas of scenario files and suite manifests: ``root/schemas``, else the harness's own."""
    own = root / "schemas"
    return own if (own / "scenario.schema.json").is_file() else default_fixtures() / "schemas"


def _load_suite(
    directory: Path, index: SampleIndex, check_names: Set[str] | None, report: Callable[[Problem], None]
) -> Suite | None:
    """The suite of ``directory``, or None when a file of it has problems (each reported)."""
    schemas = schemas_folder(directory.parent.parent.parent)
    manifest_path = directory / "suite.yaml"
    manifest = _read_yaml(manifest_path)
    problems = schema_problems(schemas / "suite.schema.json", manifest, str(manifest_path))
    if not isinstance(manifest, dict):
        problems = problems or [Problem(str(manifest_path), "", "not a mapping")]
    elif directory.name != str(manifest.get("version")) or directory.parent.name != str(manifest.get("name")):
        problems.append(Problem(str(manifest_path), "", "name and version must match the folder SUITE/VERSION"))
    for each in problems:
        report(each)
    typed: list[Scenario] = []
    seen: dict[str, str] = {}
    failed = bool(problems)
    for path in sorted((directory / "scenarios").glob("*.yaml")):
        scenario = parse_scenario(path, _read_yaml(path), schemas / "scenario.schema.json", index, check_names, report)
        if scenario is None:
            failed = True
            continue
        if scenario.id in seen:
            report(Problem(str(path), "/id", f"duplicate scenario id {scenario.id!r} (also in {seen[scenario.id]})"))
            failed = True
        seen[scenario.id] = str(path)
        typed.append(scenario)
    if not typed and not failed:
        report(Problem(str(directory / "scenarios"), "", "suite has no scenarios"))
    if failed or not typed or not isinstance(manifest, dict):
        return None
    return Suite(
        name=str(manifest["name"]),
        version=str(manifest["version"]),
        title=str(manifest.get("title", manifest["name"])),
        description=str(manifest.get("description", "")),
        scenarios=tuple(scenario.raw for scenario in typed),
        directory=str(directory),
        dataset=manifest.get("dataset"),
        counterpart=bool(manifest.get("counterpart", False)),
        typed=tuple(typed),
    )


def catalog_problems(root: Path | None = None, check_names: Set[str] | None = None) -> list[Problem]:
    """Every problem of the catalog under ``root`` (empty when it loads): what ``harness suites --check`` prints."""
    problems: list[Problem] = []
    try:
        _load(root or default_fixtures(), frozenset(check_names) if check_names is not None else None, problems)
    except CatalogError as exc:  # a format that cannot be read stops the load: one line, as load_catalog says it
        problems.append(Problem(*_split(str(exc))))
    return problems


def _split(message: str) -> tuple[str, str, str]:
    file, _, rest = message.partition(": ")
    return (file, "", rest) if rest else ("", "", message)


@functools.lru_cache(maxsize=8)
def load_catalog(root: Path | None = None, check_names: frozenset[str] | None = None) -> Catalog:
    """Load every format and suite under ``root`` (default :func:`default_fixtures`).

    Every scenario is typed and checked (harness/scenarios.py); ``check_names`` are the checks a step's
    ``expect`` may name (the runner's registry: the catalog does not import the runner), None to leave
    check names to the run. The first problem found is raised as a :class:`CatalogError` naming file and key.
    """
    problems: list[Problem] = []
    catalog = _load(root or default_fixtures(), check_names, problems)
    if problems:
        more = f" (and {len(problems) - 1} more: harness suites --check lists them)" if len(problems) > 1 else ""
        raise CatalogError(f"{problems[0]}{more}")
    return catalog


def _load(root: Path, check_names: frozenset[str] | None, problems: list[Problem]) -> Catalog:
    if not root.is_dir():
        raise ConfigurationError(f"fixtures folder {root} not found (set HARNESS_FIXTURES)")
    formats: dict[str, Format] = {}
    embeds: dict[str, tuple[str, ...]] = {}
    for manifest in sorted(root.glob("formats/*/*/format.yaml")):
        fmt, embedded_ids = _load_format(manifest.parent)
        if fmt.id in formats:
            raise CatalogError(f"{manifest}: format {fmt.id} defined twice")
        formats[fmt.id] = fmt
        embeds[fmt.id] = embedded_ids
    for format_id, embedded_ids in embeds.items():
        if embedded_ids:
            formats[format_id] = _resolve_embedded(formats[format_id], embedded_ids, formats)
    datasets = {
        f"{path.parent.parent.name}@{path.parent.name}": path.parent
        for path in sorted(root.glob("datasets/*/*/dataset.json"))
    }
    index = SampleIndex(
        formats=frozenset(formats),
        samples=frozenset(
            f"{fmt.id}/{'valid' if sample.valid else 'invalid'}/{Path(sample.path).name}"
            for fmt in formats.values()
            for sample in fmt.samples
        ),
    )
    suites: dict[str, dict[str, Suite]] = {}
    for manifest in sorted(root.glob("suites/*/*/suite.yaml")):
        suite = _load_suite(manifest.parent, index, check_names, problems.append)
        if suite is None:
            continue
        if suite.dataset and suite.dataset not in datasets:
            problems.append(Problem(str(manifest), "/dataset", f"unknown data set {suite.dataset!r}"))
        suites.setdefault(suite.name, {})[suite.version] = suite
    documents = _load_documents(root / DOCUMENTS_FILE)
    for fmt in formats.values():
        # Without documents.yaml (a partial fixtures tree) every format applies its latest rules.
        if fmt.document is not None and documents and fmt.document not in documents:
            raise CatalogError(f"{fmt.directory}: document {fmt.document!r} is not in {DOCUMENTS_FILE}")
    suites = _with_life_cycle(root / LIFECYCLE_FILE, suites, documents)
    in_force = {name: current for name, versions in documents.items() if (current := _current(versions)) is not None}
    return Catalog(
        root=root,
        formats=_formats_at(formats, in_force),
        suites=suites,
        datasets=datasets,
        documents=documents,
        in_force=tuple(sorted(in_force.items())),
    )


def _current(versions: dict[str, SuiteStatus]) -> str | None:
    return next((v for v, status in versions.items() if status is SuiteStatus.CURRENT), None)


def _status(value: Any, where: str) -> SuiteStatus:
    try:
        return SuiteStatus(str(value))
    except ValueError:
        raise CatalogError(f"{where}: status must be current, superseded or retired, not {value!r}") from None


def _load_documents(path: Path) -> dict[str, dict[str, SuiteStatus]]:
    """``documents.yaml``: ``{document: {versions: {version: status}}}``; at most one current version each.

    A fixtures tree without the file has no documents: its formats apply their latest rules."""
    if not path.is_file():
        return {}
    register = _read_yaml(path)
    if not isinstance(register, dict):
        raise CatalogError(f"{path}: not a mapping of documents")
    documents: dict[str, dict[str, SuiteStatus]] = {}
    for name, entry in register.items():
        versions = entry.get("versions") if isinstance(entry, dict) else None
        if not isinstance(versions, dict) or not versions:
            raise CatalogError(f"{path}: document {name!r} lists no versions")
        documents[str(name)] = {str(v): _status(status, f"{path}: {name}@{v}") for v, status in versions.items()}
        if sum(status is SuiteStatus.CURRENT for status in documents[str(name)].values()) > 1:
            raise CatalogError(f"{path}: document {name!r} has more than one current version")
    return documents


def _with_life_cycle(
    path: Path, suites: dict[str, dict[str, Suite]], documents: dict[str, dict[str, SuiteStatus]]
) -> dict[str, dict[str, Suite]]:
    """Each suite version with its status and the document version it certifies, from the register at ``path``.

    Without a register (a fixtures tree of suites only) every suite version is current and certifies nothing;
    with one, every suite version is in it, at most one version of a suite is current, and the document version
    certified exists and is not older in its life than the suite (a current suite certifies a current version).
    """
    if not path.is_file():
        return suites
    register = _read_yaml(path)
    if not isinstance(register, dict):
        raise CatalogError(f"{path}: not a mapping of suites to versions")
    rank = {SuiteStatus.CURRENT: 0, SuiteStatus.SUPERSEDED: 1, SuiteStatus.RETIRED: 2}
    placed: dict[str, dict[str, Suite]] = {}
    for name, versions in suites.items():
        entries = register.get(name)
        for version, suite in versions.items():
            entry = entries.get(version) if isinstance(entries, dict) else None
            if not isinstance(entry, dict) or "status" not in entry or "certifies" not in entry:
                raise CatalogError(f"{path}: {name}@{version} needs an entry {{status: ..., certifies: DOC@VERSION}}")
            status = _status(entry["status"], f"{path}: {name}@{version}")
            try:
                document, certified = document_versions(str(entry["certifies"]))
            except ConfigurationError as exc:
                raise CatalogError(f"{path}: {name}@{version}: {exc}") from None
            document_status = documents.get(document, {}).get(certified)
            if document_status is None:
                raise CatalogError(f"{path}: {name}@{version} certifies {document}@{certified}, not a document version")
            if rank[status] < rank[document_status]:
                raise CatalogError(
                    f"{path}: {name}@{version} is {status} but certifies {document}@{certified}, {document_status}"
                )
            placed.setdefault(name, {})[version] = dataclasses.replace(
                suite, status=status, certifies=((document, certified),)
            )
        if sum(s.status is SuiteStatus.CURRENT for s in placed[name].values()) > 1:
            raise CatalogError(f"{path}: suite {name!r} has more than one current version")
    for name, entries in register.items():
        for version in entries if isinstance(entries, dict) else ():
            if not (path.parent / str(name) / str(version) / "suite.yaml").is_file():
                raise CatalogError(f"{path}: {name}@{version} has no folder suites/{name}/{version}/")
    return placed


def _formats_at(formats: dict[str, Format], versions: Mapping[str, str]) -> dict[str, Format]:
    """``formats`` judged by ``versions`` of their documents; formats embedding a re-versioned one follow it."""
    moved = {
        format_id: (
            dataclasses.replace(fmt, rules_version=versions[fmt.document])
            if fmt.document is not None and fmt.document in versions and fmt.rules_version != versions[fmt.document]
            else fmt
        )
        for format_id, fmt in formats.items()
    }
    for format_id, fmt in moved.items():
        if fmt.embedded and any(moved[inner.id] is not inner for inner in fmt.embedded):
            moved[format_id] = dataclasses.replace(fmt, embedded=tuple(moved[inner.id] for inner in fmt.embedded))
    return moved
