"""The documents of the profile and the life of their versions; the register of suite versions.

``fixtures/documents.yaml`` says which versions of each document exist and their status;
``fixtures/suites/lifecycle.yaml`` gives each suite version its status and the document version it
certifies (specs/README.md, "Versions and the life of the standard"). Catalog layer: imports only the model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from harness.model import CatalogError, ConfigurationError, Format, Suite, SuiteStatus

__all__ = [
    "DOCUMENTS_FILE",
    "LIFECYCLE_FILE",
    "current_version_of",
    "document_versions",
    "folder_digest",
    "formats_at",
    "load_documents",
    "read_yaml",
    "register_digest",
    "with_life_cycle",
]

_DOCUMENT_REF = re.compile(r"^(?P<document>[a-z0-9][a-z0-9-]*)[@=](?P<version>[0-9][0-9A-Za-z.-]*)\Z")
DOCUMENTS_FILE = "documents.yaml"
"""The documents of the profile and the life of their versions (``fixtures/documents.yaml``)."""
LIFECYCLE_FILE = "suites/lifecycle.yaml"
"""The register of suite versions: the status of each and the document version it certifies."""


_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
MAX_SUITE_FILES = 100_000
"""A suite version's folder holds at most this many files (more is a broken folder, not a suite)."""


def folder_digest(folder: Path) -> str:
    """The suite digest of ``folder`` (evidence.md, "Suite digest"): lowercase hex SHA-256 of the UTF-8 text
    of one line ``PATH NUL HEX LF`` per file, sorted by PATH (relative, ``/``-separated), HEX the file's SHA-256.

    Files are hashed in chunks (a large sample never sits in memory). Symbolic links are followed, as the
    wheel's copy of the catalog holds the files themselves; a folder that cannot be read is a CatalogError.
    """
    lines: list[str] = []
    try:
        files = sorted((path.relative_to(folder).as_posix(), path) for path in folder.rglob("*") if path.is_file())
        if len(files) > MAX_SUITE_FILES:
            raise CatalogError(f"{folder}: more than {MAX_SUITE_FILES} files")
        for relative, path in files:
            with path.open("rb") as handle:
                lines.append(f"{relative}\0{hashlib.file_digest(handle, 'sha256').hexdigest()}\n")
    except OSError as exc:
        raise CatalogError(f"{folder}: cannot read the suite folder ({exc.strerror or exc})") from None
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def register_digest(value: Any, where: str) -> str | None:
    """The ``digest`` of a register entry (an in-toto digest set ``{sha256: HEX}``), or None when absent."""
    if value is None:
        return None
    hexdigest = value.get("sha256") if isinstance(value, dict) else None
    if not isinstance(hexdigest, str) or not _HEX64.match(hexdigest):
        raise CatalogError(f"{where}: digest must be {{sha256: HEX}} with 64 lowercase hex digits")
    return hexdigest


SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML was built with it (the same safe constructors and resolver, about ten
times faster: reading the catalog's YAML was most of every command's start-up), else the pure-Python one."""


def read_yaml(path: Path) -> Any:
    """The YAML file at ``path`` through :data:`SAFE_LOADER`; any failure as one-line :class:`CatalogError`."""
    try:
        with path.open("rb") as handle:
            return yaml.load(handle, Loader=SAFE_LOADER)  # noqa: S506 -- SAFE_LOADER is a safe loader
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(f"{path}: cannot read: {exc}".splitlines()[0]) from None


def document_versions(text: str) -> tuple[str, str]:
    """``alerts=1.0`` or ``alerts@1.0`` as ``("alerts", "1.0")`` (UsageError-free: ConfigurationError)."""
    match = _DOCUMENT_REF.match(text.strip())
    if match is None:
        raise ConfigurationError(f"bad document version {text!r}: expected DOCUMENT=VERSION (alerts=1.0)")
    return match["document"], match["version"]


def current_version_of(versions: dict[str, SuiteStatus]) -> str | None:
    return next((v for v, status in versions.items() if status is SuiteStatus.CURRENT), None)


def _status(value: Any, where: str) -> SuiteStatus:
    try:
        return SuiteStatus(str(value))
    except ValueError:
        raise CatalogError(f"{where}: status must be current, superseded or retired, not {value!r}") from None


def load_documents(path: Path) -> dict[str, dict[str, SuiteStatus]]:
    """``documents.yaml``: ``{document: {versions: {version: status}}}``; at most one current version each.

    A fixtures tree without the file has no documents: its formats apply their latest rules."""
    if not path.is_file():
        return {}
    register = read_yaml(path)
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


def with_life_cycle(
    path: Path, suites: dict[str, dict[str, Suite]], documents: dict[str, dict[str, SuiteStatus]]
) -> dict[str, dict[str, Suite]]:
    """Each suite version with its status and the document version it certifies, from the register at ``path``.

    Without a register (a fixtures tree of suites only) every suite version is current and certifies nothing;
    with one, every suite version is in it, at most one version of a suite is current, and the document version
    certified exists and is not older in its life than the suite (a current suite certifies a current version).
    """
    if not path.is_file():
        return suites
    register = read_yaml(path)
    if not isinstance(register, dict):
        raise CatalogError(f"{path}: not a mapping of suites to versions")
    rank = {SuiteStatus.CURRENT: 0, SuiteStatus.SUPERSEDED: 1, SuiteStatus.RETIRED: 2}
    placed: dict[str, dict[str, Suite]] = {}
    for name, versions in suites.items():
        entries = register.get(name)
        for version, suite in versions.items():
            entry = entries.get(version) if isinstance(entries, dict) else None
            if entry is None and not Path(suite.directory).is_relative_to(path.parent):
                placed.setdefault(name, {})[version] = suite  # an added folder's suite, not in the register
                continue
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
            digest = register_digest(entry.get("digest"), f"{path}: {name}@{version}")
            declared = entry.get("roles")
            roles = tuple(
                dict.fromkeys(str(item["role"]) for item in declared or () if isinstance(item, dict) and "role" in item)
            )
            assigned = entry.get("scenario_roles")
            ids = {str(raw.get("id")) for raw in suite.scenarios}
            if assigned is not None and not (
                isinstance(assigned, dict)
                and all(str(k) in ids and isinstance(r, str) and r in roles for k, r in assigned.items())
            ):
                raise CatalogError(f"{path}: {name}@{version}: scenario_roles maps its scenario ids to its roles")
            for raw in suite.scenarios:  # a scenario's own role: one the suite version certifies
                own = raw.get("role")
                if roles and own is not None and own not in roles:
                    raise CatalogError(
                        f"{path}: {name}@{version}: scenario {raw.get('id')} is of role {own!r}, which it does not "
                        f"certify (its roles: {', '.join(roles)})"
                    )
            placed.setdefault(name, {})[version] = dataclasses.replace(
                suite,
                status=status,
                certifies=((document, certified),),
                digest=digest,
                roles=roles,
                scenario_roles=tuple((str(k), str(v)) for k, v in (assigned or {}).items()),
            )
        if sum(s.status is SuiteStatus.CURRENT for s in placed[name].values()) > 1:
            raise CatalogError(f"{path}: suite {name!r} has more than one current version")
    for name, entries in register.items():
        for version in entries if isinstance(entries, dict) else ():
            if not (path.parent / str(name) / str(version) / "suite.yaml").is_file():
                raise CatalogError(f"{path}: {name}@{version} has no folder suites/{name}/{version}/")
    return placed


def formats_at(formats: dict[str, Format], versions: Mapping[str, str]) -> dict[str, Format]:
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
