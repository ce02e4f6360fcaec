"""Nothing in the code or the tests reads outside the repository, except the one corpus fixture.

Scans every Python file of harness/, adapters/, tests/ and benchmarks/ for the ways a path leaves
the checkout: going up from ``__file__`` past the repository root, going up from a repository-root
variable (``ROOT.parent``), machine folders written out (``/work/``, ``/home/``...), ``../..``
string literals, and any mention of the ``shared`` folder beside the repository. The ``corpus``
fixture of tests/conftest.py is the only place allowed to name the third-party corpus.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("harness", "adapters", "tests", "benchmarks")
THE_CORPUS_FIXTURE = ("tests/conftest.py", 'ROOT.parent / "shared" / "corpus"')

_FROM_FILE = re.compile(r"Path \( __file__ \)(?: \. resolve \( \))?((?: \. parents \[ (\d+) \])|(?: \. parent\b)+)")
_ROOT_UP = re.compile(r"\b(?:[A-Z_]*ROOT|REPO|REPOSITORY|CHECKOUT) \. (?:parent|parents)\b")
_MACHINE = re.compile(r"(?<![\w:/])/(?:work|home|root|mnt|srv)/")
_SHARED = re.compile(r"(?:^|[/\\\"'])shared(?:[/\\\"']|$)")


def _sources() -> list[Path]:
    """Every Python file scanned; not this one, whose strings are the scanner's own examples."""
    here = Path(__file__).resolve()
    return sorted(
        p for folder in SCANNED for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts and p != here
    )


def _split(text: str) -> tuple[dict[int, str], list[tuple[int, str]]]:
    """(line -> its tokens, space-separated, strings blanked and comments dropped; [(line, string literal)])."""
    code: dict[int, str] = {}
    strings: list[tuple[int, str]] = []
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.STRING:
            strings.append((token.start[0], token.string))
            code[token.start[0]] = code.get(token.start[0], "") + " ''"
        elif token.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            code[token.start[0]] = code.get(token.start[0], "") + " " + token.string
    return code, strings


def escapes(relative: Path, text: str) -> list[str]:
    """Every way ``text`` (the file at ``relative`` in the repository) reaches outside it: ``line: why``."""
    found: list[str] = []
    depth = len(relative.parts)  # levels up from the file that reach the repository root
    lines, strings = _split(text)
    for number, code in sorted(lines.items()):
        for match in _FROM_FILE.finditer(code):
            levels = int(match[2]) + 1 if match[2] is not None else match[1].count("parent")
            if levels > depth:
                found.append(f"{number}: {levels} levels up from __file__ leaves the repository")
        if _ROOT_UP.search(code):
            found.append(f"{number}: goes up from the repository root")
    for number, literal in strings:
        if literal.lstrip("rbuRBU").startswith(('"""', "'''")):
            continue  # docstrings may describe the layout
        if _MACHINE.search(literal):
            found.append(f"{number}: names a machine folder {literal}")
        if "../.." in literal or re.search(r"""^[rbuRBU]*["']\.\.["']$""", literal):
            found.append(f"{number}: climbs with {literal}")
        if _SHARED.search(literal.strip("rbuRBU")):
            found.append(f"{number}: names the shared folder {literal}")
    return found


def test_the_scanner_sees_each_way_out() -> None:
    depth_two = Path("tests/unit/x.py")
    assert escapes(depth_two, "A = Path(__file__).resolve().parents[2]\n") == []
    assert escapes(depth_two, "A = Path(__file__).resolve().parents[3]\n")
    assert escapes(Path("harness/x.py"), "A = Path(__file__).parent.parent\n") == []
    assert escapes(Path("harness/x.py"), "A = Path(__file__).parent.parent.parent\n")
    assert escapes(depth_two, "C = ROOT.parent / 'x'\n")
    assert escapes(depth_two, "C = Path('/work/shared/corpus')\n")
    assert escapes(depth_two, "C = Path('../../x')\n")
    assert escapes(depth_two, "C = ROOT / '..' / 'x'\n")
    assert escapes(depth_two, "C = X / 'shared' / 'corpus'\n")
    assert escapes(depth_two, "C = X / 'shared/corpus'\n")
    assert escapes(depth_two, "C = 'a shared helper'  # prose is fine\n") == []
    assert escapes(depth_two, "URL = 'file:///etc/passwd'\n") == []


def test_the_corpus_fixture_is_the_only_way_out() -> None:
    allowed_file, allowed_text = THE_CORPUS_FIXTURE
    offending: dict[str, list[str]] = {}
    for path in _sources():
        relative = path.relative_to(ROOT)
        text = path.read_text(encoding="utf-8")
        found = escapes(relative, text)
        if relative.as_posix() == allowed_file:
            assert allowed_text in text, "the corpus fixture moved: update THE_CORPUS_FIXTURE"
            line = next(n for n, code in enumerate(text.splitlines(), start=1) if allowed_text in code)
            found = [why for why in found if not why.startswith(f"{line}:")]
        if found:
            offending[relative.as_posix()] = found
    assert offending == {}


@pytest.mark.parametrize("folder", SCANNED)
def test_every_scanned_folder_has_sources(folder: str) -> None:
    assert any((ROOT / folder).rglob("*.py"))
