"""The catalog: formats and suites read from ``fixtures/``, once, and immutable after."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
from collections.abc import Callable, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.model import CatalogError, ConfigurationError, Format, Sample, Scenario, Suite
from harness.scenarios import Problem, SampleIndex, parse_scenario, schema_problems

__all__ = ["Catalog", "Problem", "catalog_problems", "default_fixtures", "load_catalog", "schemas_folder"]

_SUITE_REF = re.compile(r"^(?P<name>[a-z0-9][a-z0-9-]*)(?:@(?P<version>[0-9][0-9A-Za-z.-]*))?\Z")


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


@dataclass(slots=True, frozen=True)
class Catalog:
    root: Path
    formats: dict[str, Format]
    suites: dict[str, dict[str, Suite]]
    datasets: dict[str, Path]
    """``name@version`` -> the data set's folder (``dataset.json``, ``schema.json``)."""

    def format(self, format_id: str) -> Format:
        try:
            return self.formats[format_id]
        except KeyError:
            known = ", ".join(sorted(self.formats))
            raise ConfigurationError(f"unknown format {format_id!r} (known: {known})") from None

    def suite(self, ref: str) -> Suite:
        """The suite ``name`` (latest version) or ``name@version``."""
        match = _SUITE_REF.match(ref)
        if not match:
            raise ConfigurationError(f"bad suite reference {ref!r}: expected NAME or NAME@VERSION")
        versions = self.suites.get(match["name"])
        if not versions:
            known = ", ".join(sorted(self.suites)) or "none"
            raise ConfigurationError(f"unknown suite {match['name']!r} (known: {known})")
        version = match["version"] or max(versions, key=_version_key)
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
    return Catalog(root=root, formats=formats, suites=suites, datasets=datasets)
