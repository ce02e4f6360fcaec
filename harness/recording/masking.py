"""Personal data masked in recordings (issue 23, ``--mask-personal``): consistent, keyed, format-keeping pseudonyms.

Which fields are personal is declared by each format family (:attr:`harness.extensions.FormatFamily.personal_fields`),
never here. A pseudonym is derived from HMAC-SHA256 of the value under a key from the environment
(``HARNESS_MASK_KEY``, required, never written anywhere): the same value gives the same pseudonym everywhere
in a recording (and in every recording masked with the same key), and nobody without the key can recompute
the mapping. The pseudonym keeps the value's format, so masked messages still validate and still relate:

- a name keeps its length, case pattern and punctuation (``O'BRIEN`` -> ``K'WUSLE``); names are keyed
  case-insensitively after trimming, as the queries match them, so ``smith`` and ``SMITH`` give one name;
- a vehicle mark keeps its DVLA style (letters for letters, digits for digits, its space and case), keyed on
  the mark upper-cased without spaces, as the checks compare marks;
- a date of birth moves 1 to 365 days earlier (still a date, never after the original: a report's rule
  IR-04 that a birth is not after ``created`` still holds);
- a phone number keeps its ``+NN`` or leading ``0`` and its separators; other digits are replaced;
- an address, postcode or other text keeps its shape (letters, digits, separators);
- a latitude or longitude (a location's point) moves by a keyed 0.05 to 0.5 degree, in range, its decimal
  places kept.

A value once masked in a field is also replaced where it appears verbatim (case-insensitively, as a whole
word, at least :data:`MIN_VERBATIM` characters) in any other string of any later message: a name quoted in a
report's free text or echoed in an error message; and, by :meth:`Masker.recheck` (the writer's second pass at
close), in the messages recorded before it was known.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from lxml import etree

from harness.extensions import FAMILIES, PERSONAL_KINDS, PersonalField
from harness.model import BadAnswer, UsageError
from harness.recording.exchange import Header, RecordedExchange
from harness.recording.pseudonyms import COORDINATE_KINDS, coordinate_number, format_kept
from harness.transport import decode_body
from harness.validation.jsonsafe import UnsafeJson, parse_json
from harness.validation.xmlsafe import UnsafeXml, parse_xml

__all__ = [
    "COORDINATE_KINDS",
    "KEY_VARIABLE",
    "MIN_KEY_BYTES",
    "MIN_VERBATIM",
    "Masker",
    "PersonalFields",
    "personal_fields",
]

KEY_VARIABLE = "HARNESS_MASK_KEY"
MIN_KEY_BYTES = 16
MIN_VERBATIM = 4
"""A personal value shorter than this is masked where it stands but never searched for in other text."""
MAX_KNOWN = 100_000
"""At most this many values are remembered for the verbatim search (a long recording cannot grow it forever)."""
MAX_MASKED_BODY = 16 << 20

_KIND = "\x00kind"


@dataclass(slots=True, frozen=True)
class PersonalFields:
    """Every family's personal fields: JSON pointers (as token tuples, ``*`` any) and XML element names."""

    pointers: tuple[tuple[tuple[str, ...], str], ...]
    elements: dict[str, str]
    trie: dict[str, Any] = field(default_factory=dict, compare=False)
    """The pointers as a tree of tokens (``*`` any, :data:`_KIND` the kind where a pointer ends): a walk
    follows it and leaves a part of a document where no pointer goes untouched."""

    def __post_init__(self) -> None:
        if not self.trie:
            for tokens, kind in self.pointers:
                node = self.trie
                for token in tokens:
                    node = node.setdefault(token, {})
                node[_KIND] = kind

    def kind_at(self, path: tuple[str, ...]) -> str | None:
        """The kind of the personal field at JSON ``path``, or None."""
        nodes = [self.trie]
        for token in path:
            nodes = [step for node in nodes for step in (node.get(token), node.get("*")) if step is not None]
        return next((node[_KIND] for node in nodes if _KIND in node), None)


def _tokens(pointer: str) -> tuple[str, ...]:
    return tuple(token.replace("~1", "/").replace("~0", "~") for token in pointer.split("/")[1:])


def personal_fields() -> PersonalFields:
    """The personal fields every registered format family declares."""
    pointers: list[tuple[tuple[str, ...], str]] = []
    elements: dict[str, str] = {}
    for name, family in FAMILIES.items():
        for declared in family.personal_fields:
            _check(name, declared)
            if declared.location.startswith("{"):
                elements[declared.location] = declared.kind
            else:
                pointers.append((_tokens(declared.location), declared.kind))
    return PersonalFields(tuple(pointers), elements)


def _check(family: str, field: PersonalField) -> None:
    if field.kind not in PERSONAL_KINDS:
        raise UsageError(f"format family {family!r} declares a personal field of unknown kind {field.kind!r}")
    if not field.location.startswith(("/", "{")):
        raise UsageError(f"format family {family!r}: personal field {field.location!r} is no pointer or {{ns}}name")


class Masker:
    """Masks the personal data of exchanges with keyed pseudonyms (see the module's text)."""

    def __init__(
        self,
        key: bytes,
        fields: PersonalFields | None = None,
        judge: Callable[[bytes], frozenset[str] | None] | None = None,
    ) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise UsageError(f"{KEY_VARIABLE} must hold at least {MIN_KEY_BYTES} bytes")
        self._key = key
        self.fields = fields if fields is not None else personal_fields()
        self._known: dict[str, str] = {}  # lower-cased value -> kind, for the verbatim search
        self._by_word: dict[str, list[tuple[str, int]]] = {}
        """First word of each known value -> (value, offset of that word in it), longest value first: the
        search looks up each word of a text, never compiles one pattern of every value (values keep coming)."""
        self.masked = 0
        self._later: set[str] = set()  # dates that move later (see mask)
        self._judge = judge if judge is not None else catalog_judge()

    @classmethod
    def from_environment(cls) -> Masker:
        """The masker keyed with ``HARNESS_MASK_KEY``; a :class:`UsageError` (one line) when it is unset or short."""
        key = os.environ.get(KEY_VARIABLE, "")
        if not key:
            raise UsageError(f"--mask-personal needs the pseudonym key in the environment variable {KEY_VARIABLE}")
        return cls(key.encode("utf-8"))

    def __repr__(self) -> str:  # never the key
        return f"Masker(fields={len(self.fields.pointers) + len(self.fields.elements)})"

    def describe(self) -> dict[str, Any]:
        """What a recording says of its masking (never the key)."""
        return {"method": "HMAC-SHA256, format-keeping", "key": f"${KEY_VARIABLE}", "values": self.masked}

    # -- pseudonyms -----------------------------------------------------------------------------------------

    def pseudonym(self, kind: str, value: str) -> str:
        """The pseudonym of ``value`` as a field of ``kind``: the same value always gives the same one."""
        stripped = value.strip()
        if not stripped:
            return value
        lead = value[: len(value) - len(value.lstrip())]
        trail = value[len(value.rstrip()) :]
        for round_ in range(16):
            masked = format_kept(self._key, kind, stripped, round_, stripped in self._later)
            if masked.casefold() != stripped.casefold():
                return lead + masked + trail
        return lead + masked + trail  # sixteen draws all equal the value: only for a value of one or two symbols

    # -- the verbatim search --------------------------------------------------------------------------------

    def _learn(self, kind: str, value: str, dates: set[str]) -> str:
        if kind == "date":
            dates.add(value)
        if kind in COORDINATE_KINDS:
            return value  # a number: never searched for in other text (it would match other numbers)
        return self._remember(kind, value)

    def _remember(self, kind: str, value: str) -> str:
        key = _lower(value.strip())
        first = _WORD.search(key)
        if len(key) >= MIN_VERBATIM and first and key not in self._known and len(self._known) < MAX_KNOWN:
            self._known[key] = kind
            candidates = self._by_word.setdefault(first.group(), [])
            candidates.append((key, first.start()))
            candidates.sort(key=lambda candidate: -len(candidate[0]))
        return value

    def verbatim(self, text: str) -> str:
        """``text`` with every personal value masked so far replaced where it appears as a whole word
        (case-insensitively)."""
        if not self._known:
            return text
        lowered = _lower(text)
        pieces: list[str] = []
        done = 0
        for word in _WORD.finditer(lowered):
            for value, offset in self._by_word.get(word.group(), ()):
                start, end = word.start() - offset, word.start() - offset + len(value)
                if start < done or not lowered.startswith(value, start):
                    continue
                if (start and _is_word(lowered[start - 1])) or (end < len(lowered) and _is_word(lowered[end])):
                    continue
                pieces += [text[done:start], self.pseudonym(self._known[value], text[start:end])]
                done = end
                break
        if not pieces:
            return text
        pieces.append(text[done:])
        return "".join(pieces)

    def field(self, kind: str, value: str) -> str:
        """The pseudonym of ``value``, a personal field of ``kind`` (counted)."""
        self.masked += 1
        return self.pseudonym(kind, value)

    # -- messages -------------------------------------------------------------------------------------------

    def mask(self, exchange: RecordedExchange) -> RecordedExchange:
        """``exchange`` with the personal data of its target and bodies masked, ``Content-Length`` fixed.

        A compressed body is masked in its decoded form and recorded so (its ``Content-Encoding`` dropped)."""
        request = _decoded(exchange.request_headers, exchange.request_body)
        answer = _decoded(exchange.answer_headers, exchange.answer_body)
        parsed = [_parse(request[1]), _parse(answer[1])]
        dates: list[set[str]] = [set(), set()]
        for document, found in zip(parsed, dates, strict=True):  # every field value of both messages first
            _walk(document, self.fields, functools.partial(self._learn, dates=found))
        bodies: list[bytes] = []
        for (_, body), document, found in zip((request, answer), parsed, dates, strict=True):
            masked = self._masked_body(body, document)
            if found and masked != body and self._judge is not None:
                before = self._judge(body)
                if before is not None and self._judge(masked) != before:
                    # A date moved across another of the message (a birth the day after the report: IR-04):
                    # its dates move the other way from now on, wherever they appear.
                    if len(self._later) < MAX_KNOWN:
                        self._later ^= {value.strip() for value in found}
                    masked = self._masked_body(body, _parse(body))
            bodies.append(masked)
        request_headers = _fixed(request[0], bodies[0], request[1])
        answer_headers = _fixed(answer[0], bodies[1], answer[1])
        return replace(
            exchange,
            target=self.verbatim(exchange.target),
            request_headers=request_headers,
            request_body=bodies[0],
            answer_headers=answer_headers,
            answer_body=bodies[1],
        )

    def recheck(self, exchange: RecordedExchange) -> RecordedExchange:
        """``exchange`` (masked already) with every value known *now* replaced where it still stands in text:
        the second pass of a recording at its close (``HarWriter.close``), which catches a personal value
        that appeared in free text before it first stood in a personal field. Personal fields are not masked
        again (they hold pseudonyms); only text is searched."""
        if not self._known:
            return exchange
        bodies = [self._rechecked_body(exchange.request_body), self._rechecked_body(exchange.answer_body)]
        target = self.verbatim(exchange.target)
        if target == exchange.target and bodies == [exchange.request_body, exchange.answer_body]:
            return exchange
        return replace(
            exchange,
            target=target,
            request_headers=_fixed(exchange.request_headers, bodies[0], exchange.request_body),
            request_body=bodies[0],
            answer_headers=_fixed(exchange.answer_headers, bodies[1], exchange.answer_body),
            answer_body=bodies[1],
        )

    def _rechecked_body(self, body: bytes) -> bytes:
        document = _parse(body)
        if isinstance(document, _Xml):
            return document.render(self, body, fields=False)
        if isinstance(document, _Json):
            masked = _walk(document.value, _NO_FIELDS, self.field, self.verbatim)
            return body if masked == document.value else json.dumps(masked, ensure_ascii=False).encode("utf-8")
        return self._masked_body(body, None)

    def _masked_body(self, body: bytes, document: Any) -> bytes:
        if document is None:  # neither JSON nor XML: only the known values, where the text is text
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                return body
            return self.verbatim(text).encode("utf-8")
        if isinstance(document, _Xml):
            return document.render(self, body)
        masked = _walk(document.value, self.fields, self.field, self.verbatim)
        if masked == document.value:
            return body  # nothing personal: the bytes stay as they crossed the wire
        return json.dumps(masked, ensure_ascii=False).encode("utf-8")


@dataclass(slots=True)
class _Json:
    value: Any


@dataclass(slots=True)
class _Xml:
    root: etree._Element
    declaration: bool
    encoding: str

    def render(self, masker: Masker, body: bytes, *, fields: bool = True) -> bytes:
        """The document with its personal elements (unless not ``fields``) and known values masked; ``body``
        when nothing changed."""
        elements = masker.fields.elements if fields else {}
        changed = False
        for element in self.root.iter():
            if not isinstance(element.tag, str):
                continue
            kind = elements.get(element.tag)
            text = element.text
            if text is not None and text.strip():
                element.text = masker.field(kind, text) if kind else masker.verbatim(text)
                changed = changed or element.text != text
            tail = element.tail
            if tail is not None and tail.strip():
                element.tail = masker.verbatim(tail)
                changed = changed or element.tail != tail
            for name, value in element.attrib.items():
                attribute = name if isinstance(name, str) else name.decode("utf-8")
                declared = elements.get(f"{element.tag}@{attribute}")
                masked = masker.field(declared, str(value)) if declared else masker.verbatim(str(value))
                if masked != value:
                    element.set(name, masked)
                    changed = True
        if not changed:
            return body
        tree = self.root.getroottree()
        rendered = etree.tostring(tree, xml_declaration=self.declaration, encoding=self.encoding)
        return rendered if isinstance(rendered, bytes) else rendered.encode(self.encoding)


_WORD = re.compile(r"\w+")
_NO_FIELDS = PersonalFields((), {})


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _lower(text: str) -> str:
    """``text`` lower-cased character by character, its length kept (a character whose lower case is longer,
    ``İ``, stays as it is): offsets in it are offsets in ``text``."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(low if len(low := char.lower()) == 1 else char for char in text)


def catalog_judge() -> Callable[[bytes], frozenset[str] | None]:
    """What the catalog's validators find in a body: the rules it breaks (``valid`` when none), or None when
    it is no message of a catalog format. Masking keeps it unchanged."""
    from harness.catalog import load_catalog
    from harness.validation.validator import detect_format, validator_for

    formats = list(load_catalog().formats.values())

    def judge(body: bytes) -> frozenset[str] | None:
        fmt = detect_format(formats, body)
        if fmt is None:
            return None
        validation = validator_for(fmt).validate(body)
        return frozenset(validation.rules) or frozenset({"valid"})

    return judge


def _parse(body: bytes) -> _Json | _Xml | None:
    head = body.lstrip()[:1]
    if head in (b"{", b"["):
        try:
            return _Json(parse_json(body))
        except UnsafeJson:
            return None
    if head == b"<":
        try:
            root = parse_xml(body)
        except UnsafeXml:
            return None
        encoding = root.getroottree().docinfo.encoding or "UTF-8"
        return _Xml(root, body.lstrip().startswith(b"<?xml"), encoding)
    return None


def _walk(
    document: Any,
    fields: PersonalFields,
    on_field: Callable[[str, str], Any],
    on_text: Callable[[str], str] | None = None,
) -> Any:
    """``document`` with every personal field's string replaced by ``on_field(kind, value)`` and (with
    ``on_text``) every other string by ``on_text(value)``; keys stay. An XML document: its personal elements'
    text is handed to ``on_field`` (only to learn them)."""
    if isinstance(document, _Xml):
        for element in document.root.iter():
            kind = fields.elements.get(element.tag) if isinstance(element.tag, str) else None
            if kind and element.text and element.text.strip():
                on_field(kind, element.text)
        return document
    if isinstance(document, _Json):
        return _walk(document.value, fields, on_field, on_text)

    def follow(states: list[dict[str, Any]], token: str) -> list[dict[str, Any]]:
        return [step for state in states for step in (state.get(token), state.get("*")) if step is not None]

    def visit(node: Any, states: list[dict[str, Any]]) -> Any:
        if not states and on_text is None:
            return node  # no personal field below, and nothing else to do
        if isinstance(node, dict):
            return {key: visit(value, follow(states, key)) for key, value in node.items()}
        if isinstance(node, list):
            return [visit(value, follow(states, str(index))) for index, value in enumerate(node)]
        if isinstance(node, str):
            kind = next((state[_KIND] for state in states if _KIND in state), None)
            if kind is not None:
                return on_field(kind, node)
            return on_text(node) if on_text is not None else node
        if isinstance(node, int | float) and not isinstance(node, bool) and on_text is not None:
            kind = next((state[_KIND] for state in states if _KIND in state), None)
            if kind in COORDINATE_KINDS:  # a point's latitude or longitude: a number moved, still a number
                return coordinate_number(on_field(kind, json.dumps(node)), node)
        return node

    return visit(document, [fields.trie])


def _decoded(headers: tuple[Header, ...], body: bytes) -> tuple[tuple[Header, ...], bytes]:
    """The message with a ``Content-Encoding`` undone (the header dropped), when it can be."""
    encoding = next((v for n, v in headers if n.lower() == "content-encoding"), "").strip().lower()
    if not encoding or encoding == "identity" or not body:
        return headers, body
    try:
        decoded = decode_body(body, encoding, MAX_MASKED_BODY)
    except BadAnswer:
        return headers, body  # left as it is: only the known values of the text can be masked, and it is not text
    return tuple((n, v) for n, v in headers if n.lower() != "content-encoding"), decoded


def _fixed(headers: tuple[Header, ...], body: bytes, before: bytes) -> tuple[Header, ...]:
    """``Content-Length`` set to the masked body's length (where the message had one)."""
    if body == before:
        return headers
    return tuple((n, str(len(body)) if n.lower() == "content-length" else v) for n, v in headers)
