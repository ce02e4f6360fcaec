"""Which exchanges and roles each suite version certifies, read from its ``suite.yaml``.

A suite manifest declares::

    certifies:
      - {exchange: person-check, role: responder, document: queries.md@1.0}
      - {exchange: person-check, role: requester, document: queries.md@1.0}

``role`` is one side of an exchange: ``sender`` or ``receiver`` (one-way
messages) and ``requester`` or ``responder`` (a question and its answer).
``document`` names the specification document and its version that the suite
version certifies; two sides interoperate on documents of the same name and
major version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.catalog import Catalog
from harness.documents import LIFECYCLE_FILE
from harness.model import ORIGINATING_ROLES, CatalogError

__all__ = ["ORIGINATING", "SIDES", "Certifies", "SuiteVersion", "parse_certifies", "suite_versions", "version_key"]

SIDES = {
    "sender": "receiver",
    "receiver": "sender",
    "requester": "responder",
    "responder": "requester",
    # resilience-core (specs/resilience.md): the ordering of CAP updates, certified apart from reports
    "alert-sender": "alert-receiver",
    "alert-receiver": "alert-sender",
}
"""Each role and the role on the other side of the exchange."""
ORIGINATING = ORIGINATING_ROLES
"""Roles that start an exchange: ``A -> B`` needs A in one of these and B on the other side."""
_DOCUMENT = re.compile(r"(?P<name>[A-Za-z0-9._-]+)@(?P<major>\d+)(?:\.\d+)*")
_STATUSES = frozenset({"current", "superseded", "retired"})


def version_key(version: str) -> tuple[tuple[int, str], ...]:
    """Orders ``1.10`` after ``1.9``."""
    return tuple((int(part), "") if part.isdigit() else (-1, part) for part in version.split("."))


@dataclass(slots=True, frozen=True)
class Certifies:
    exchange: str
    role: str
    document: str

    @property
    def document_family(self) -> tuple[str, str]:
        """(document name, major version): what must agree between the two sides."""
        match = _DOCUMENT.fullmatch(self.document)
        assert match is not None  # checked when parsed
        return match["name"], match["major"]


@dataclass(slots=True, frozen=True)
class SuiteVersion:
    name: str
    version: str
    title: str
    status: str
    certifies: tuple[Certifies, ...]

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


def parse_certifies(value: Any, where: str) -> tuple[Certifies, ...]:
    """The ``certifies`` list of a manifest, checked (CatalogError, one line, otherwise)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise CatalogError(f"{where}: 'certifies' is a list of {{exchange, role, document}}")
    entries: list[Certifies] = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or set(item) != {"exchange", "role", "document"}:
            raise CatalogError(f"{where}: certifies[{index}] needs exactly exchange, role and document")
        exchange, role, document = (str(item[key]) for key in ("exchange", "role", "document"))
        if role not in SIDES:
            raise CatalogError(f"{where}: certifies[{index}]: role {role!r} is not one of {', '.join(SIDES)}")
        if _DOCUMENT.fullmatch(document) is None:
            raise CatalogError(f"{where}: certifies[{index}]: document {document!r} is not NAME@VERSION")
        entries.append(Certifies(exchange, role, document))
    return tuple(entries)


def suite_versions(catalog: Catalog) -> tuple[SuiteVersion, ...]:
    """Every suite version of the catalog with what it certifies and its life status.

    The status is the catalog's (the register ``suites/lifecycle.yaml``); the exchanges and roles a
    version certifies are its register entry's ``roles:``, or a ``certifies:`` list in a manifest of a
    suite the register does not name (a suite of an added catalog folder). Issued suite folders are
    never edited, so what they certify is declared in the register beside them.
    """
    register_path = catalog.root / LIFECYCLE_FILE
    register: dict[str, Any] = {}
    if register_path.is_file():
        with open(register_path, "rb") as handle:
            register = yaml.safe_load(handle) or {}
    found: list[SuiteVersion] = []
    for name in sorted(catalog.suites):
        versions = catalog.suites[name]
        for version in sorted(versions, key=version_key):
            suite = versions[version]
            entry = (register.get(name) or {}).get(version)
            if isinstance(entry, dict) and "roles" in entry:
                declared, where = entry.get("roles"), f"{register_path}: {name}@{version}"
            else:
                where = str(Path(suite.directory) / "suite.yaml")
                with open(where, "rb") as handle:
                    declared = (yaml.safe_load(handle) or {}).get("certifies")
            status = str(suite.status)
            if status not in _STATUSES:
                raise CatalogError(f"{where}: status {status!r} is not one of {', '.join(sorted(_STATUSES))}")
            found.append(SuiteVersion(name, version, suite.title, status, parse_certifies(declared, where)))
    return tuple(found)
