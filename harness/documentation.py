"""The documents that ship with the harness: the standard (``docs/specs/``) and the project's own ``docs/``.

The profile documents are part of the product: the checkout keeps a copy of them in ``docs/specs/``
(a test holds it equal to ``../shared/specs``), and a wheel carries the whole ``docs/`` folder as
``harness/_docs/`` (copied at build time by setup.py, as the catalog is). This module finds them, splits
a document into its sections (headings, GitHub-style anchors) and finds the clause of a rule, for
``harness spec`` and for the HTML report, which embeds the clause text beside each scenario so that no
link needs a network. It imports nothing of the harness but the model.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from harness.model import UsageError

__all__ = [
    "Clause",
    "Section",
    "clauses_for",
    "doc_path",
    "docs_folder",
    "find_section",
    "read_document",
    "references",
    "rule_clauses",
    "rule_ids",
    "sections",
    "slug",
    "spec_documents",
    "specs_folder",
]

RULE_ID = re.compile(r"\b[A-Z]{2,4}-[0-9]{2}\b")
"""How the standard names its rules and scenarios: ``IR-01``, ``PQ-01``, ``CAP-06``, ``MCD-07``, ``ESN-20``."""

MAX_CLAUSE_CHARS = 6000
"""A section embedded in a report is cut here (``harness spec DOC#ANCHOR`` prints it whole)."""

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_ITEM = re.compile(r"^\s*(?:[0-9]+\.|[-*])\s")  # a list item starts its own passage
_REFERENCE = re.compile(r"(?P<file>(?:docs/)?[A-Za-z0-9_.-]+\.md)?(?:#(?P<anchor>[a-z0-9-]+))?")


def docs_folder() -> Path:
    """``harness/_docs`` in an installed wheel, else the checkout's ``docs/`` (``$HARNESS_DOCS`` replaces both)."""
    replaced = os.environ.get("HARNESS_DOCS")
    if replaced:
        return Path(replaced)
    package = Path(__file__).resolve().parent
    bundled = package / "_docs"
    return bundled if bundled.is_dir() else package.parent / "docs"


def specs_folder() -> Path:
    """The profile documents shipped with the harness (``docs/specs/``)."""
    return docs_folder() / "specs"


def doc_path(name: str) -> Path:
    """Where the shipped document ``name`` (``containers.md``) is, for messages that send a user to it."""
    return docs_folder() / name


def spec_documents() -> list[str]:
    """The file names of the profile's documents, ``README.md`` (the binding rules) first."""
    folder = specs_folder()
    names = sorted(p.name for p in folder.glob("*.md")) if folder.is_dir() else []
    return sorted(names, key=lambda name: (name != "README.md", name))


def _document_file(name: str) -> Path:
    """``esn``, ``esn.md``, ``ESN.md`` or ``docs/decisions-esn.md`` as the shipped file; UsageError naming the known."""
    text = name.strip()
    if text.startswith("docs/"):
        path = docs_folder() / text.removeprefix("docs/")
        if path.suffix == ".md" and path.is_file() and path.resolve().parent == docs_folder().resolve():
            return path
        raise UsageError(f"no document {name!r} among the harness's docs ({docs_folder()})")
    known = spec_documents()
    if not known:
        raise UsageError(f"the profile's documents are missing from {specs_folder()}: the installation is incomplete")
    wanted = text.lower().removesuffix(".md") + ".md"
    for candidate in known:
        if candidate.lower() == wanted:
            return specs_folder() / candidate
    raise UsageError(f"no document {name!r} in the standard (known: {', '.join(n.removesuffix('.md') for n in known)})")


def read_document(name: str) -> tuple[str, str]:
    """The document's shown name (``esn.md``, ``docs/decisions-esn.md``) and its text."""
    path = _document_file(name)
    shown = path.name if path.parent == specs_folder() else f"docs/{path.name}"
    try:
        return shown, path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read ({exc})") from None


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, each space a hyphen."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@dataclass(frozen=True, slots=True)
class Section:
    """One heading of a document and its text up to the next heading of the same or a higher level."""

    document: str
    heading: str
    level: int
    anchor: str
    text: str
    path: tuple[str, ...]
    """The headings above it and its own, outermost first (``Version 1.1 of this document``, ...)."""
    line: int
    """The heading's line (from 0)."""


def sections(document: str, text: str) -> list[Section]:
    """Every section of ``text`` (headings inside fenced code blocks are not headings)."""
    lines = text.splitlines()
    heads: list[tuple[int, int, str]] = []  # line number, level, heading
    fenced = False
    for number, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        match = None if fenced else _HEADING.match(line)
        if match:
            heads.append((number, len(match[1]), match[2]))
    found: list[Section] = []
    stack: list[tuple[int, str]] = []
    for index, (number, level, heading) in enumerate(heads):
        end = next((n for n, lv, _ in heads[index + 1 :] if lv <= level), len(lines))
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, heading))
        body = "\n".join(lines[number:end]).strip("\n")
        found.append(Section(document, heading, level, slug(heading), body, tuple(h for _, h in stack), number))
    return found


def find_section(document: str, anchor: str) -> Section:
    """The section of ``document`` that ``anchor`` names: its exact anchor, else the first one it begins
    (the suites write ``alerts.md#cap-12`` for the heading "CAP 1.2 (`urn:...`, root `alert`)")."""
    shown, text = read_document(document)
    every = sections(shown, text)
    wanted = anchor.strip().lower().lstrip("#")
    for section in every:
        if section.anchor == wanted:
            return section
    for section in every:
        if section.anchor.startswith(wanted + "-"):
            return section
    raise UsageError(
        f"no section #{wanted} in {shown} (its sections: {', '.join('#' + s.anchor for s in every[:12])}"
        + (", ..." if len(every) > 12 else "")
        + ")"
    )


@dataclass(frozen=True, slots=True)
class Clause:
    """Where a rule is stated (``defining``: its own table row) or mentioned, with the text to show."""

    document: str
    section: tuple[str, ...]
    text: str
    defining: bool
    standard: bool
    """True for the profile's own documents; False for the harness's docs (its reading where the standard is silent)."""


def _first_cell(line: str) -> str:
    cells = line.strip().strip("|").split("|")
    return cells[0].strip().strip("`*").strip() if cells else ""


def _table_header(lines: list[str], number: int) -> list[str]:
    """The header row and rule of the table that line ``number`` belongs to (empty when there is none)."""
    start = number
    while start > 0 and lines[start - 1].lstrip().startswith("|"):
        start -= 1
    if start + 1 < number and re.fullmatch(r"\s*\|[\s:|-]+\|?\s*", lines[start + 1]):
        return lines[start : start + 2]
    return []


def _paragraph(lines: list[str], number: int) -> tuple[int, list[str]]:
    """The first line and the lines of the paragraph (or list item block) holding line ``number``."""
    start, end = number, number

    def joins(previous: str) -> bool:
        return bool(previous.strip()) and not _HEADING.match(previous)

    while start > 0 and not _ITEM.match(lines[start]) and joins(lines[start - 1]):
        start -= 1
    while (
        end + 1 < len(lines)
        and lines[end + 1].strip()
        and not _HEADING.match(lines[end + 1])
        and not _ITEM.match(lines[end + 1])
    ):
        end += 1
    return start, lines[start : end + 1]


def _clauses_in(document: str, text: str, rule: str, standard: bool) -> list[Clause]:
    lines = text.splitlines()
    every = sections(document, text)
    pattern = re.compile(rf"(?<![A-Za-z0-9-]){re.escape(rule)}(?![0-9])")
    found: list[Clause] = []
    seen: set[int] = set()
    for number, line in enumerate(lines):
        if not pattern.search(line) or _HEADING.match(line):
            continue
        owner = [s for s in every if s.line <= number]
        if line.lstrip().startswith("|"):
            defining, block, key = _first_cell(line) == rule, [*_table_header(lines, number), line], number
        else:
            key, block = _paragraph(lines, number)
            defining = False
        if key in seen:
            continue
        seen.add(key)
        found.append(Clause(document, owner[-1].path if owner else (), "\n".join(block), defining, standard))
    return found


def rule_ids() -> list[str]:
    """Every rule id that some table of the standard defines (its first cell), sorted."""
    ids: set[str] = set()
    for name in spec_documents():
        for line in (specs_folder() / name).read_text(encoding="utf-8").splitlines():
            if line.lstrip().startswith("|") and RULE_ID.fullmatch(_first_cell(line)):
                ids.add(_first_cell(line))
    return sorted(ids)


def rule_clauses(rule: str) -> list[Clause]:
    """Where ``rule`` is stated: the rows of the standard's tables that define it and the passages that mention
    it, then the rows of the harness's own docs that define it (marked as the harness's: the MCData codec's
    ``MCD-07`` is named there only, as the standard lists what a decoder refuses but gives it no ids)."""
    wanted = rule.strip().upper()
    if not RULE_ID.fullmatch(wanted):
        raise UsageError(f"bad rule id {rule!r}: expected letters, a hyphen and two digits (IR-01, PQ-01, MCD-07)")
    found: list[Clause] = []
    for name in spec_documents():
        shown, text = read_document(name)
        found += _clauses_in(shown, text, wanted, standard=True)
    folder = docs_folder()
    for path in sorted(folder.glob("*.md")) if folder.is_dir() else []:
        found += [c for c in _clauses_in(f"docs/{path.name}", path.read_text("utf-8"), wanted, False) if c.defining]
    return sorted(found, key=lambda c: (not c.standard, not c.defining))


def references(spec: str) -> list[tuple[str, str]]:
    """The ``(document, anchor)`` pairs a scenario's ``spec:`` text names (``queries.md#person-check``,
    ``docs/decisions-alerts-exchange.md (14)``; a bare ``#anchor`` belongs to the document named before it)."""
    found: list[tuple[str, str]] = []
    last = ""
    for match in _REFERENCE.finditer(spec):
        if not match[0] or not (match["file"] or match["anchor"]):
            continue
        start = match.start()
        if match["anchor"] and not match["file"] and start > 0 and not spec[start - 1].isspace():
            continue  # "#3" inside a word, not a reference
        document = match["file"] or last
        if not document:
            continue
        last = document
        pair = (document, match["anchor"] or "")
        if pair not in found:
            found.append(pair)
    return found


def clauses_for(spec: str) -> list[dict[str, str]]:
    """For a report: each reference of ``spec`` with the text it names (the section, or the whole document when
    no anchor is given and the document is short), cut at :data:`MAX_CLAUSE_CHARS`. Unresolvable references are
    listed with the reason instead of text, so a broken reference shows in the report rather than vanishing."""
    shown: list[dict[str, str]] = []
    for document, anchor in references(spec):
        reference = f"{document}#{anchor}" if anchor else document
        try:
            if anchor:
                section = find_section(document, anchor)
                title, text = f"{section.document} \u00a7 {' > '.join(section.path)}", section.text
            else:
                title, text = read_document(document)
        except UsageError as exc:
            shown.append({"ref": reference, "title": reference, "text": "", "missing": str(exc)})
            continue
        if len(text) > MAX_CLAUSE_CHARS:
            text = text[:MAX_CLAUSE_CHARS] + f"\n\u2026 (harness spec {reference} prints it whole)"
        shown.append({"ref": reference, "title": title, "text": text})
    return shown
