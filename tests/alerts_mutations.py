"""Our XSDs against the official ones: every corpus file and seeded, deterministic mutations of real documents.

Used by ``tests/unit/test_alerts_agreement.py`` and ``benchmarks/agreement.py``. A variant is a base document
(a corpus file, a catalog sample, or a corpus alert wrapped in an EDXL-DE envelope) with one to three
mutations of the kinds that separate a careful schema from a careless one: an element dropped, siblings
reordered, a value replaced (bad enumeration, bad timestamp, bad number, padded, wrong case), an element
emptied, duplicated, renamed, moved or put in another namespace, a foreign element or attribute added,
stray text. Every variant is serialised and parsed again through :func:`parse_xml` (the hardened parser);
both schemas then give their verdict on the same tree.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from harness.catalog import load_catalog
from harness.validation.xmlsafe import UnsafeXml, parse_xml

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
DE_NS = "urn:oasis:names:tc:emergency:EDXL:DE:1.0"
DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
OFFICIAL_XSD = {"cap/1.2": "cap/CAP-v1.2.xsd", "edxl-de/1.0": "edxl-de/edxlde-1_0.xsd"}
"""The official schema of each format, relative to the corpus folder (the ``corpus`` fixture of tests/conftest.py)."""


def corpus_files(corpus: Path, format_id: str) -> list[Path]:
    """The corpus documents of ``format_id`` (not its schemas)."""
    if format_id == "cap/1.2":
        return sorted(p for p in (corpus / "cap").iterdir() if p.suffix in (".cap", ".xml"))
    return sorted((corpus / "edxl-de").glob("*.xml"))


VARIANTS = 3000
SEED = 20260417

_TIMESTAMPS = (
    "2026-04-17T07:45:00+01:00", "2026-04-17T07:45:00-00:00", "2026-04-17T07:45:00Z", "2026-04-17T07:45:00",
    "2026-04-17T07:45:00.5+01:00", "2026-13-17T07:45:00+01:00", "2026-02-30T07:45:00+01:00",
    "2024-02-29T07:45:00+01:00", "2026-04-17T24:00:00+01:00", "2026-04-17T25:00:00+01:00",
    "2026-04-17T07:60:00+01:00", "2026-04-17T07:45:60+01:00", "2026-04-17T07:45:00+15:00",
    "2026-04-17T07:45:00+14:00", "2026-04-17T07:45:00,01:00", "2026-04-17t07:45:00+01:00",
    "2026-04-17 07:45:00+01:00", "2026-04-17", "26-04-17T07:45:00+01:00", "2026-04-17T07:45+01:00",
    " 2026-04-17T07:45:00+01:00 ", "12026-04-17T07:45:00+01:00", "-2026-04-17T07:45:00+01:00",
    "2026-04-17T07:45:00+0100", "\u0662\u0660\u0662\u0666-04-17T07:45:00+01:00", "",
)  # fmt: skip
_NUMBERS = ("0", "-1", "1.5", "+7", "1e3", "abc", " 42 ", "0x10", "NaN", "1.", ".5", "-0", "")
_URIS = ("https://example.org/a", "http://exa mple/", "%zz", "::", "#a#b", "[", "urn:x", "", " x ", "\u00e9")
_BASE64 = ("UmVjZWl2ZWQ=", "not base64!", "AAA", "AA==", "A A A A", "A", "")
_LANGUAGES = ("en-GB", "en_GB", "cy", "x-very-long-subtag-1", "", "en-", "123", " en ")
_OTHERS = ("free text", "a,b c", " ", "", "Actual", "2026-04-17T07:45:00+01:00", "1", "UmVjZWl2ZWQ=")
_BY_NAME: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("sent", "effective", "onset", "expires", "dateTimeSent"), _TIMESTAMPS),
    **dict.fromkeys(("size", "altitude", "ceiling"), _NUMBERS),
    **dict.fromkeys(("web", "uri"), _URIS),
    "contentData": _BASE64,
    "language": _LANGUAGES,
}


def _enumerations() -> dict[str, tuple[str, ...]]:
    """Element name -> its enumerated values, read from our schemas (anonymous and named types).

    Ours, not the official ones, so that variants need no corpus; the agreement tests prove the two
    schemas accept the same documents, enumerations included.
    """
    xs = "{http://www.w3.org/2001/XMLSchema}"
    found: dict[str, list[str]] = {}
    for format_id in OFFICIAL_XSD:
        path = Path(load_catalog().format(format_id).schema_path)
        schema = parse_xml(path.read_bytes(), max_depth=256)
        named = {t.get("name"): t for t in schema.iter(f"{xs}simpleType") if t.get("name")}
        for element in schema.iter(f"{xs}element"):
            declared = named.get((element.get("type") or "").split(":")[-1], element)
            values = [e.get("value", "") for e in declared.iter(f"{xs}enumeration")]
            if values and element.get("name"):
                found.setdefault(str(element.get("name")), []).extend(values)
    return {name: tuple(values) for name, values in found.items()}


_ENUMERATIONS = _enumerations()
_ANY_ENUMERATION = tuple(sorted({value for values in _ENUMERATIONS.values() for value in values}))


def _pool(local: str) -> tuple[str, ...]:
    """Values worth trying on an element named ``local``: its own kind, near misses, and others."""
    values = _ENUMERATIONS.get(local)
    if values is None:
        return _BY_NAME.get(local, _OTHERS)
    near = tuple(m for v in values[:3] for m in (f" {v} ", v.lower(), f"{v}\n", f"\t{v}", v.upper()))
    return values + near + _ANY_ENUMERATION[::5] + ("",)


_NAMES = (
    "extra",
    "info",
    "note",
    "identifier",
    "contentObject",
    "Signature",
    "value",
    "valueName",
    "area",
    "sent",
    "size",
)
_NAMESPACES = ("urn:example:extension", DSIG_NS, CAP_NS, DE_NS, "", "urn:oasis:names:tc:emergency:cap:1.1")


@dataclass(slots=True)
class Agreement:
    """What one comparison found: files and variants checked, and every disagreement (name, ours, official)."""

    files: int = 0
    variants: int = 0
    valid_variants: int = 0
    disagreements: list[tuple[str, bool, bool]] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {"files": self.files, "variants": self.variants, "disagreements": len(self.disagreements)}


def load_xsd(path: Path) -> etree.XMLSchema:
    """A schema read through the hardened parser (no DTD, no entities, no network)."""
    return etree.XMLSchema(parse_xml(path.read_bytes(), max_depth=256))


def schemas(format_id: str, corpus: Path) -> tuple[etree.XMLSchema, etree.XMLSchema]:
    """(ours, official) for ``format_id``."""
    ours = Path(load_catalog().format(format_id).schema_path)
    return load_xsd(ours), load_xsd(corpus / OFFICIAL_XSD[format_id])


def verdicts(data: bytes, ours: etree.XMLSchema, official: etree.XMLSchema) -> tuple[bool, bool]:
    """Both schemas' verdicts on ``data``; a document the hardened parser refuses is invalid to both."""
    try:
        root = parse_xml(data)
    except UnsafeXml:
        return False, False
    return bool(ours.validate(root)), bool(official.validate(root))


def _wrapped(alert: bytes, index: int) -> bytes:
    """A corpus alert inside a minimal EDXL-DE envelope, as a distribution hub would carry it."""
    body = alert.split(b"?>", 1)[1] if alert.lstrip().startswith(b"<?xml") else alert
    return (
        (
            f'<EDXLDistribution xmlns="{DE_NS}"><distributionID>corpus-{index}</distributionID>'
            "<senderID>agreement@netcode.test</senderID><dateTimeSent>2026-04-17T07:45:00+01:00</dateTimeSent>"
            "<distributionStatus>Test</distributionStatus><distributionType>Report</distributionType>"
            "<combinedConfidentiality>OFFICIAL</combinedConfidentiality><contentObject><xmlContent>"
            "<embeddedXMLContent>"
        ).encode()
        + body
        + b"</embeddedXMLContent></xmlContent></contentObject></EDXLDistribution>"
    )


def bases(format_id: str, corpus: Path | None = None) -> list[tuple[str, bytes]]:
    """The documents variants start from: corpus files (with ``corpus``) and catalog samples the parser accepts."""
    found = [(p.name, p.read_bytes()) for p in corpus_files(corpus, format_id)] if corpus else []
    found += [(Path(s.path).name, Path(s.path).read_bytes()) for s in load_catalog().format(format_id).samples]
    if format_id == "edxl-de/1.0":
        alerts = (
            corpus_files(corpus, "cap/1.2")
            if corpus
            else [Path(s.path) for s in load_catalog().format("cap/1.2").samples]
        )
        found += [(f"wrapped-{p.name}", _wrapped(p.read_bytes(), i)) for i, p in enumerate(alerts)]
    usable = []
    for name, data in found:
        try:
            parse_xml(data)
        except UnsafeXml:
            continue
        usable.append((name, data))
    return usable


# --------------------------------------------------------------------------- mutations

Mutation = Callable[[random.Random, etree._Element], str]


def _elements(root: etree._Element) -> list[etree._Element]:
    return [e for e in root.iter() if isinstance(e.tag, str)]


def _pick(rng: random.Random, elements: list[etree._Element]) -> etree._Element:
    """An element, choosing its name first: a rare element (``web``, ``size``) is as likely as ``value``."""
    names = sorted({str(e.tag) for e in elements})
    tag = rng.choice(names)
    return rng.choice([e for e in elements if e.tag == tag])


def _any(rng: random.Random, root: etree._Element) -> etree._Element:
    return _pick(rng, _elements(root))


def _non_root(rng: random.Random, root: etree._Element) -> etree._Element | None:
    candidates = _elements(root)[1:]
    return _pick(rng, candidates) if candidates else None


def _leaf(rng: random.Random, root: etree._Element) -> etree._Element:
    leaves = [e for e in _elements(root) if not any(isinstance(c.tag, str) for c in e)]
    return _pick(rng, leaves or [root])


def _drop(rng: random.Random, root: etree._Element) -> str:
    element = _non_root(rng, root)
    if element is None:
        return "drop-nothing"
    parent = element.getparent()
    assert parent is not None
    parent.remove(element)
    return f"drop-{etree.QName(element).localname}"


def _reorder(rng: random.Random, root: etree._Element) -> str:
    parents = [e for e in _elements(root) if sum(isinstance(c.tag, str) for c in e) >= 2]
    if not parents:
        return "reorder-nothing"
    parent = rng.choice(parents)
    children = [c for c in parent if isinstance(c.tag, str)]
    first = rng.randrange(len(children) - 1)
    second = first + 1 if rng.random() < 0.7 else rng.randrange(len(children))
    a, b = children[first], children[second]
    if a is not b:
        marker = etree.Comment("swap")
        a.addprevious(marker)
        b.addprevious(a)
        marker.addprevious(b)
        parent.remove(marker)
    return f"reorder-{etree.QName(a).localname}-{etree.QName(b).localname}"


def _value(rng: random.Random, root: etree._Element) -> str:
    typed = [e for e in _elements(root) if (local := etree.QName(e).localname) in _ENUMERATIONS or local in _BY_NAME]
    leaf = _pick(rng, typed) if typed and rng.random() < 0.7 else _leaf(rng, root)
    local = etree.QName(leaf).localname
    leaf.text = rng.choice(_pool(local) if rng.random() < 0.9 else _pool(rng.choice(_NAMES)))
    return f"value-{local}"


def _empty(rng: random.Random, root: etree._Element) -> str:
    element = _any(rng, root)
    for child in list(element):
        element.remove(child)
    element.text = rng.choice(("", " ", None))
    return f"empty-{etree.QName(element).localname}"


def _duplicate(rng: random.Random, root: etree._Element) -> str:
    element = _non_root(rng, root)
    if element is None:
        return "duplicate-nothing"
    copies = rng.choice((1, 1, 1, 2, 3))
    for _ in range(copies):
        element.addnext(copy.deepcopy(element))
    return f"duplicate-{etree.QName(element).localname}-{copies}"


def _foreign(rng: random.Random, root: etree._Element) -> str:
    parent = _any(rng, root)
    namespace, name = rng.choice(_NAMESPACES), rng.choice(_NAMES)
    extra = etree.Element(f"{{{namespace}}}{name}" if namespace else name)
    extra.text = rng.choice(("x", "", "Actual"))
    parent.insert(rng.randint(0, len(parent)), extra)
    return f"foreign-{namespace or 'none'}-{name}"


def _namespace(rng: random.Random, root: etree._Element) -> str:
    element = _any(rng, root)
    namespace = rng.choice(_NAMESPACES)
    local = etree.QName(element).localname
    element.tag = f"{{{namespace}}}{local}" if namespace else local
    return f"namespace-{local}-{namespace or 'none'}"


def _rename(rng: random.Random, root: etree._Element) -> str:
    element = _any(rng, root)
    qname = etree.QName(element)
    local = rng.choice((qname.localname.upper(), qname.localname + "s", qname.localname.capitalize(), "x"))
    element.tag = f"{{{qname.namespace}}}{local}" if qname.namespace else local
    return f"rename-{qname.localname}"


def _move(rng: random.Random, root: etree._Element) -> str:
    element = _non_root(rng, root)
    if element is None:
        return "move-nothing"
    targets = [e for e in _elements(root) if e is not element and element not in e.iterancestors()]
    target = rng.choice(targets)
    target.insert(rng.randint(0, len(target)), element)
    return f"move-{etree.QName(element).localname}"


def _attribute(rng: random.Random, root: etree._Element) -> str:
    element = _any(rng, root)
    name, value = rng.choice(
        (
            ("id", "a1"),
            ("{urn:example:extension}note", "x"),
            (f"{{{XSI_NS}}}schemaLocation", f"{CAP_NS} http://127.0.0.1:9/never.xsd"),
            (f"{{{XSI_NS}}}nil", "true"),
            (f"{{{XSI_NS}}}noNamespaceSchemaLocation", "file:///nonexistent.xsd"),
            ("{http://www.w3.org/XML/1998/namespace}lang", "en"),
        )
    )
    element.set(name, value)
    return f"attribute-{etree.QName(name).localname}"


def _stray_text(rng: random.Random, root: etree._Element) -> str:
    parents = [e for e in _elements(root) if any(isinstance(c.tag, str) for c in e)]
    parent = rng.choice(parents or [root])
    children = [c for c in parent if isinstance(c.tag, str)]
    where = rng.choice(children) if children else None
    text = rng.choice(("stray", "  \n  ", "&"))
    if where is None:
        parent.text = text
    else:
        where.tail = text
    return "stray-text" if text.strip() else "whitespace-tail"


MUTATIONS: tuple[Mutation, ...] = (
    _drop,
    _drop,
    _reorder,
    _value,
    _value,
    _value,
    _empty,
    _duplicate,
    _foreign,
    _namespace,
    _rename,
    _move,
    _attribute,
    _stray_text,
)


def variants(
    format_id: str, count: int = VARIANTS, seed: int = SEED, corpus: Path | None = None
) -> Iterator[tuple[str, bytes]]:
    """``count`` variants of the bases of ``format_id``, the same ones for the same seed and corpus."""
    rng = random.Random(f"{format_id}:{seed}")
    documents = [(name, parse_xml(data)) for name, data in bases(format_id, corpus)]
    # Documents with more kinds of element are chosen more often: they have more to get wrong.
    weights = [len({e.tag for e in _elements(root)}) for _, root in documents]
    for number in range(count):
        name, base = rng.choices(documents, weights)[0]
        tree = copy.deepcopy(base)
        applied = [rng.choice(MUTATIONS)(rng, tree) for _ in range(rng.choice((1, 1, 1, 1, 2, 3)))]
        yield f"{number}:{name}:{'+'.join(applied)}", etree.tostring(tree, encoding="UTF-8", xml_declaration=True)


def compare(format_id: str, corpus: Path, count: int = VARIANTS, seed: int = SEED) -> Agreement:
    """Both schemas on every corpus file and catalog sample of ``format_id``, and on ``count`` variants."""
    ours, official = schemas(format_id, corpus)
    result = Agreement()
    samples = [Path(sample.path) for sample in load_catalog().format(format_id).samples]
    for path in corpus_files(corpus, format_id) + samples:
        mine, theirs = verdicts(path.read_bytes(), ours, official)
        result.files += 1
        if mine != theirs:
            result.disagreements.append((path.name, mine, theirs))
    for name, data in variants(format_id, count, seed, corpus):
        mine, theirs = verdicts(data, ours, official)
        result.variants += 1
        result.valid_variants += theirs
        if mine != theirs:
            result.disagreements.append((name, mine, theirs))
    return result
