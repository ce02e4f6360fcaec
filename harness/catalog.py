"""The catalog: formats and suites read from catalog folders, once, and immutable after.

The bundled catalog is ``harness/_catalog`` in an installed wheel (copied from the
checkout's ``fixtures/`` at build time, setup.py) and the checkout's ``fixtures/``
itself in an editable install. ``$HARNESS_FIXTURES`` (``os.pathsep``-separated) and
``harness ... --catalog DIR`` add folders of the same layout (suites written elsewhere).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.documents import (
    DOCUMENTS_FILE,
    LIFECYCLE_FILE,
    current_version_of,
    document_versions,
    formats_at,
    load_documents,
    read_yaml,
    with_life_cycle,
)
from harness.extensions import syntax_names
from harness.model import CatalogError, ConfigurationError, Format, Sample, Scenario, Suite, SuiteStatus
from harness.scenarios import Problem, SampleIndex, parse_scenario, schema_problems

__all__ = [
    "Catalog",
    "Problem",
    "bundled_fixtures",
    "catalog_folders",
    "catalog_problems",
    "default_fixtures",
    "document_versions",
    "load_catalog",
    "read_catalog",
    "schemas_folder",
    "use_folders",
]

_SUITE_REF = re.compile(r"^(?P<name>[a-z0-9][a-z0-9-]*)(?:@(?P<version>[0-9][0-9A-Za-z.-]*))?\Z")


def bundled_fixtures() -> Path:
    """The catalog shipped with the harness: ``harness/_catalog`` in a wheel, else the checkout's ``fixtures/``;
    ``$HARNESS_CATALOG`` names a whole catalog folder to use instead (a pinned or changed copy of it)."""
    replaced = os.environ.get("HARNESS_CATALOG")
    if replaced:
        return Path(replaced)
    package = Path(str(importlib.resources.files("harness")))
    bundled = package / "_catalog"
    return bundled if bundled.is_dir() else package.parent / "fixtures"


def default_fixtures() -> Path:
    """The bundled catalog folder (see :func:`catalog_folders` for the added ones)."""
    return bundled_fixtures()


_added: tuple[Path, ...] = ()


def use_folders(folders: Sequence[Path]) -> None:
    """Add catalog folders (``--catalog DIR``) to every later :func:`load_catalog` without a root."""
    global _added
    _added = tuple(folders)


def catalog_folders() -> tuple[Path, ...]:
    """The bundled catalog, then ``$HARNESS_FIXTURES``'s folders, then those of :func:`use_folders`; no repeats."""
    configured = tuple(Path(part) for part in os.environ.get("HARNESS_FIXTURES", "").split(os.pathsep) if part)
    folders: list[Path] = []
    for folder in (bundled_fixtures(), *configured, *_added):
        if folder.resolve() not in {known.resolve() for known in folders}:
            folders.append(folder)
    return tuple(folders)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise CatalogError(f"{path}: cannot read: {exc}".splitlines()[0]) from None


def _version_key(version: str) -> tuple[tuple[int, str], ...]:
    return tuple((int(part), "") if part.isdigit() else (-1, part) for part in version.split("."))


@dataclass(slots=True, frozen=True)
class Catalog:
    root: Path
    """The first (bundled) catalog folder."""
    formats: dict[str, Format]
    suites: dict[str, dict[str, Suite]]
    datasets: dict[str, Path]
    """``name@version`` -> the data set's folder (``dataset.json``, ``schema.json``)."""
    roots: tuple[Path, ...] = ()
    """Every catalog folder read, bundled first."""
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
            view = dataclasses.replace(self, formats=formats_at(self.formats, wanted), in_force=key, _views={})
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

    def origin(self, suite: Suite) -> Path:
        """The catalog folder ``suite`` was read from."""
        directory = Path(suite.directory)
        return next((root for root in self.roots if directory.is_relative_to(root)), directory)

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
    manifest = read_yaml(directory / "format.yaml")
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
    if fmt.syntax not in {"json", "xml"} and fmt.syntax not in syntax_names():  # others: a family declares them
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
        manifest = read_yaml(invalid / "manifest.yaml") if (invalid / "manifest.yaml").is_file() else {}
        if not isinstance(manifest, dict):
            raise CatalogError(f"{invalid / 'manifest.yaml'}: not a mapping of sample names to rules")
        for path in sorted(invalid.iterdir()):
            if path.name == "manifest.yaml" or not path.is_file():
                continue
            rules = manifest.get(path.name)
            if not rules:
                raise CatalogError(f"{path}: invalid sample declares no rule in manifest.yaml")
            if isinstance(rules, dict):  # {document version: [rules it breaks there]}
                if not all(isinstance(listed, list) for listed in rules.values()):
                    raise CatalogError(f"{path}: manifest.yaml maps a version to something other than a rule list")
                by_version = tuple((str(v), tuple(str(r) for r in listed)) for v, listed in rules.items())
                every = tuple(dict.fromkeys(rule for _, listed in by_version for rule in listed))
                samples.append(Sample(str(path), False, every, by_version))
            else:
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
    manifest = read_yaml(manifest_path)
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
        scenario = parse_scenario(path, read_yaml(path), schemas / "scenario.schema.json", index, check_names, report)
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


def _roots(root: Path | None) -> tuple[Path, ...]:
    return (root,) if root is not None else catalog_folders()


def _names(check_names: Set[str] | None) -> frozenset[str] | None:
    return frozenset(check_names) if check_names is not None else None


def catalog_problems(root: Path | None = None, check_names: Set[str] | None = None) -> list[Problem]:
    """Every problem of the catalog under ``root`` (default :func:`catalog_folders`), empty when it loads.

    What ``harness suites --check`` prints.
    """
    problems: list[Problem] = []
    try:
        _load(_roots(root), _names(check_names), problems)
    except CatalogError as exc:  # a format that cannot be read stops the load: one line, as load_catalog says it
        problems.append(Problem(*_split(str(exc))))
    return problems


def _split(message: str) -> tuple[str, str, str]:
    file, _, rest = message.partition(": ")
    return (file, "", rest) if rest else ("", "", message)


def load_catalog(root: Path | None = None, check_names: Set[str] | None = None) -> Catalog:
    """Every format, suite and data set of ``root``, or of :func:`catalog_folders` when no root is given.

    Every scenario is typed and checked (harness/scenarios.py); ``check_names`` are the checks a step's
    ``expect`` may name (the runner's registry: the catalog does not import the runner), None to leave
    check names to the run. The first problem found is raised as a :class:`CatalogError` naming file and key.
    Each set of folders is read once (:func:`read_catalog` reads afresh).
    """
    return _read_cached(_roots(root), _names(check_names))


def read_catalog(roots: tuple[Path, ...], check_names: Set[str] | None = None) -> Catalog:
    """The catalog of ``roots`` read afresh; raises the first problem as :func:`load_catalog` does."""
    problems: list[Problem] = []
    catalog = _load(roots, _names(check_names), problems)
    if problems:
        more = f" (and {len(problems) - 1} more: harness suites --check lists them)" if len(problems) > 1 else ""
        raise CatalogError(f"{problems[0]}{more}")
    return catalog


def _load(roots: tuple[Path, ...], check_names: frozenset[str] | None, problems: list[Problem]) -> Catalog:
    if not roots:
        raise ConfigurationError("no catalog folder")
    for root in roots:
        if not root.is_dir():
            raise ConfigurationError(f"catalog folder {root} not found")
    formats: dict[str, Format] = {}
    embeds: dict[str, tuple[str, ...]] = {}
    for manifest in (m for root in roots for m in sorted(root.glob("formats/*/*/format.yaml"))):
        fmt, embedded_ids = _load_format(manifest.parent)
        if fmt.id in formats:
            raise CatalogError(f"{manifest}: format {fmt.id} defined twice (also in {formats[fmt.id].directory})")
        formats[fmt.id] = fmt
        embeds[fmt.id] = embedded_ids
    for format_id, embedded_ids in embeds.items():
        if embedded_ids:
            formats[format_id] = _resolve_embedded(formats[format_id], embedded_ids, formats)
    datasets: dict[str, Path] = {}
    for root in roots:
        for path in sorted(root.glob("datasets/*/*/dataset.json")):
            ref = f"{path.parent.parent.name}@{path.parent.name}"
            if ref in datasets:
                raise CatalogError(f"{path}: data set {ref} defined twice (also in {datasets[ref]})")
            datasets[ref] = path.parent
    index = SampleIndex(
        formats=frozenset(formats),
        samples=frozenset(
            f"{fmt.id}/{'valid' if sample.valid else 'invalid'}/{Path(sample.path).name}"
            for fmt in formats.values()
            for sample in fmt.samples
        ),
    )
    suites: dict[str, dict[str, Suite]] = {}
    for root in roots:
        for manifest in sorted(root.glob("suites/*/*/suite.yaml")):
            suite = _load_suite(manifest.parent, index, check_names, problems.append)
            if suite is None:
                continue
            earlier = suites.get(suite.name, {}).get(suite.version)
            if earlier is not None:
                problems.append(
                    Problem(str(manifest), "", f"suite {suite.ref} defined twice (also in {earlier.directory})")
                )
                continue
            if suite.dataset and suite.dataset not in datasets:
                problems.append(Problem(str(manifest), "/dataset", f"unknown data set {suite.dataset!r}"))
            suites.setdefault(suite.name, {})[suite.version] = suite
    # The profile's documents and the register of suite versions are the bundled catalog's (the first folder);
    # suites of an added folder that the register does not name stay current and certify no document version.
    root = roots[0]
    documents = load_documents(root / DOCUMENTS_FILE)
    for fmt in formats.values():
        # Without documents.yaml (a partial fixtures tree) every format applies its latest rules.
        if fmt.document is not None and documents and fmt.document not in documents:
            raise CatalogError(f"{fmt.directory}: document {fmt.document!r} is not in {DOCUMENTS_FILE}")
    suites = with_life_cycle(root / LIFECYCLE_FILE, suites, documents)
    in_force = {
        name: current for name, versions in documents.items() if (current := current_version_of(versions)) is not None
    }
    return Catalog(
        root=root,
        formats=formats_at(formats, in_force),
        suites=suites,
        datasets=datasets,
        roots=roots,
        documents=documents,
        in_force=tuple(sorted(in_force.items())),
    )


_read_cached = functools.lru_cache(maxsize=8)(read_catalog)
