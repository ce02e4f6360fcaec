"""Fuzzing: every validator, parser and decoder only ever returns a verdict or raises its own error type.

For every format of the catalog (``load_catalog().formats``, so formats added
later are fuzzed too) the validator and :func:`detect_format` get arbitrary
bytes, arbitrary JSON documents, the catalog's samples mutated byte by byte
(flips, truncations, insertions of hostile tokens, duplicated and deleted
spans) and reshaped as documents (a member replaced, removed or added; an
element removed, duplicated, moved or given other text). The hardened parsers
(``parse_json``, ``parse_xml``) and the binary codecs of ``harness.codecs``
(when present) get the same treatment. Generation is derandomized, so a
failure reproduces on every run.

The number of examples run per target is printed at the end of the module.
"""

from __future__ import annotations

import collections
import copy
import importlib
import inspect
import json
import os
import pkgutil
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from harness.catalog import load_catalog
from harness.model import Finding, Format
from harness.validation.jsonsafe import UnsafeJson, parse_json
from harness.validation.validator import Validation, detect_format, sample_findings, validator_for
from harness.validation.xmlsafe import UnsafeXml, parse_xml
from tests.strategies import xml_text

__all__ = [
    "arbitrary_input",
    "mutated",
    "report_volume",
    "reshaped",
    "reshaped_document",
    "sample_bytes",
    "stored_entity",
]

FORMATS: list[Format] = sorted(load_catalog().formats.values(), key=lambda fmt: fmt.id)
EXAMPLES: collections.Counter[str] = collections.Counter()
"""Examples run per fuzzed target, printed when the module finishes."""

DEEPER = os.environ.get("HARNESS_FUZZ_EXAMPLES")
"""``HARNESS_FUZZ_EXAMPLES=N``: N examples per target, randomly seeded, for a deeper run than the default."""
FUZZ = settings(
    max_examples=int(DEEPER or 250),
    deadline=None,
    derandomize=not DEEPER,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

# Tokens that parsers and rules have reason to fear, inserted whole by the byte mutator.
HOSTILE_TOKENS: tuple[bytes, ...] = (
    b"<",
    b">",
    b"&",
    b'"',
    b"'",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"\\",
    b"\x00",
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\r\n",
    b"<!DOCTYPE x [<!ENTITY e 'boom'>]>",
    b"<!ENTITY x SYSTEM 'file:///etc/passwd'>",
    b"&e;",
    b"&#0;",
    b"&#x110000;",
    b"&amp;",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"<?pi x?>",
    b"<?xml version='1.0' encoding='utf-16'?>",
    b"<?xml version='1.1' encoding='ebcdic'?>",
    b"xmlns:x='urn:x' ",
    b"<xi:include xmlns:xi='http://www.w3.org/2001/XInclude' href='data:,x'/>",
    b"xsi:schemaLocation='urn:x http://127.0.0.1:9/x.xsd' ",
    b'"\\ud800"',
    b'"\\u0000"',
    b"1e999",
    b"-0",
    b"NaN",
    b"Infinity",
    b"null",
    b"1" * 5000,
    b"[" * 200,
    b"{" * 200,
    b'{"a":1,"a":2}',
    b"9999-12-31T23:59:60-23:59",
    b"0000-00-00",
)


def sample_bytes(fmt: Format) -> list[bytes]:
    """Every sample of ``fmt`` (valid and invalid), read once."""
    return [Path(sample.path).read_bytes() for sample in fmt.samples]


ALL_SAMPLES: list[bytes] = [data for fmt in FORMATS for data in sample_bytes(fmt)]


# --------------------------------------------------------------------------- strategies


@st.composite
def mutated(draw: st.DrawFn, originals: st.SearchStrategy[bytes]) -> bytes:
    """One of ``originals`` after one to four byte-level mutations."""
    buffer = bytearray(draw(originals))
    for _ in range(draw(st.integers(1, 4))):
        size = len(buffer)
        operation = draw(st.sampled_from(("flip", "truncate", "insert", "duplicate", "delete", "overwrite")))
        if operation == "truncate":
            del buffer[draw(st.integers(0, size)) :]
        elif operation == "insert":
            at = draw(st.integers(0, size))
            buffer[at:at] = draw(st.one_of(st.sampled_from(HOSTILE_TOKENS), st.binary(min_size=1, max_size=8)))
        elif size == 0:
            continue
        elif operation == "flip":
            at = draw(st.integers(0, size - 1))
            buffer[at] ^= 1 << draw(st.integers(0, 7))
        elif operation == "overwrite":
            at = draw(st.integers(0, size - 1))
            buffer[at] = draw(st.integers(0, 255))
        else:
            start = draw(st.integers(0, size - 1))
            end = draw(st.integers(start + 1, min(size, start + 512)))
            if operation == "delete":
                del buffer[start:end]
            else:
                at = draw(st.integers(0, size))
                buffer[at:at] = buffer[start:end]
    return bytes(buffer)


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=24),
    st.sampled_from(
        [
            "",
            " ",
            "2026-02-30",
            "0001-01-01",
            "9999-12-31",
            "2026-05-01T12:00:00+01:00",
            "9999-12-31T23:59:60-23:59",
            "0001-01-01T00:00:00+14:00",
            "2026-05-01t12:00:00z",
            "AB12 CDE",
            "ab12cde",
            "C",
            "P",
            "SECRET",
            "TOP SECRET",
            "investigation",
            "match",
            "no-trace",
            "person",
            "object",
            "location",
            "event",
            "vehicle",
            "send-person-query",
            "http://[",
            "http://[::1",
            "http://127.0.0.1:99999",
            "file:///etc/passwd",
            "urn:x",
            "\u0000",
            "\u202e",
            "x" * 1100,
        ]
    ),
)
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=10), children, max_size=4),
    ),
    max_leaves=16,
)


def _containers(document: Any, depth: int = 0) -> Iterator[dict[str, Any] | list[Any]]:
    if depth > 64:
        return
    if isinstance(document, dict):
        yield document
        for value in document.values():
            yield from _containers(value, depth + 1)
    elif isinstance(document, list):
        yield document
        for value in document:
            yield from _containers(value, depth + 1)


@st.composite
def reshaped_document(draw: st.DrawFn, document: Any) -> Any:
    """A copy of a parsed JSON document with members replaced, removed, added or moved."""
    document = copy.deepcopy(document)
    keys = sorted({key for container in _containers(document) if isinstance(container, dict) for key in container})
    for _ in range(draw(st.integers(1, 3))):
        containers = list(_containers(document))
        if not containers:
            return draw(JSON_VALUES)
        container = draw(st.sampled_from(containers))
        slots: list[Any] = list(container) if isinstance(container, dict) else list(range(len(container)))
        operation = draw(st.sampled_from(("replace", "delete", "add", "swap")))
        if operation == "add" or not slots:
            value = draw(st.one_of(JSON_VALUES, st.sampled_from(containers).map(copy.deepcopy)))
            if isinstance(container, dict):
                container[draw(st.one_of(st.sampled_from(keys or ["x"]), st.text(max_size=10)))] = value
            else:
                container.insert(draw(st.integers(0, len(container))), value)
            continue
        slot = draw(st.sampled_from(slots))
        if operation == "replace":
            container[slot] = draw(JSON_VALUES)
        elif operation == "delete":
            del container[slot]
        else:
            other = draw(st.sampled_from(slots))
            container[slot], container[other] = container[other], container[slot]
    return document


@st.composite
def reshaped_json(draw: st.DrawFn, document: Any) -> bytes:
    """A parsed JSON sample reshaped (:func:`reshaped_document`) and encoded again."""
    return json.dumps(draw(reshaped_document(document)), ensure_ascii=draw(st.booleans())).encode()


@st.composite
def reshaped_xml(draw: st.DrawFn, data: bytes) -> bytes:
    """A sample's element tree with elements removed, duplicated, moved, re-texted or re-attributed."""
    root = parse_xml(data)
    texts = [element.text for element in root.iter() if isinstance(element.text, str) and element.text.strip()]
    for _ in range(draw(st.integers(1, 3))):
        elements = [element for element in root.iter() if isinstance(element.tag, str)]
        element = draw(st.sampled_from(elements))
        parent = element.getparent()
        operation = draw(st.sampled_from(("text", "attribute", "remove", "duplicate", "move")))
        if operation == "text" or parent is None:
            element.text = draw(st.one_of(st.sampled_from(texts or [""]), xml_text(min_size=0, max_size=20)))
        elif operation == "attribute":
            name = draw(st.sampled_from([*element.attrib.keys(), "id", "profile", "lat", "objectType"]))
            element.set(str(name), draw(st.one_of(st.sampled_from(texts or [""]), xml_text(min_size=0, max_size=12))))
        elif operation == "remove":
            parent.remove(element)
        elif operation == "duplicate":
            parent.insert(draw(st.integers(0, len(parent))), copy.deepcopy(element))
        else:
            target = draw(st.sampled_from(elements))
            if target is not element and not any(ancestor is element for ancestor in target.iterancestors()):
                target.insert(draw(st.integers(0, len(target))), element)
    serialised: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return serialised


def _parsed_json(data: bytes) -> Any:
    try:
        return parse_json(data)
    except UnsafeJson:
        return None


def _parses_as_xml(data: bytes) -> bool:
    try:
        parse_xml(data)
    except UnsafeXml:
        return False
    return True


def reshaped(fmt: Format) -> st.SearchStrategy[bytes]:
    """Structural mutations of ``fmt``'s samples (JSON members, XML elements); byte mutations otherwise."""
    samples = sample_bytes(fmt)
    if fmt.syntax == "json":
        documents = [document for document in map(_parsed_json, samples) if document is not None]
        if documents:
            return st.sampled_from(documents).flatmap(reshaped_json)
    if fmt.syntax == "xml":
        trees = [data for data in samples if _parses_as_xml(data)]
        if trees:
            return st.sampled_from(trees).flatmap(reshaped_xml)
    return mutated(st.sampled_from(samples or [b""]))


def arbitrary_input() -> st.SearchStrategy[bytes]:
    """Bytes with no regard for any format: random, JSON-shaped, XML-shaped, or another format's sample mutated."""
    return st.one_of(
        st.binary(max_size=2048),
        JSON_VALUES.map(lambda value: json.dumps(value).encode()),
        st.text(max_size=200).map(lambda text: f"<a xmlns='urn:x'>{text}</a>".encode("utf-8", "surrogatepass")),
        mutated(st.sampled_from(ALL_SAMPLES or [b""])),
        st.sampled_from(HOSTILE_TOKENS),
    )


# --------------------------------------------------------------------------- the contract


def _is_a_verdict(result: Any, fmt: Format) -> None:
    assert isinstance(result, Validation), f"{fmt.id}: validate returned {type(result).__name__}"
    assert result.format_id == fmt.id
    assert isinstance(result.findings, tuple)
    for finding in result.findings:
        assert isinstance(finding, Finding)
        assert isinstance(finding.location, str) and isinstance(finding.message, str)
        assert isinstance(finding.rule, str) and finding.rule, finding
        assert finding.location == "" or finding.location.startswith("/"), finding
    assert result.model is None or isinstance(result.model, dict)


def _validate_and_detect(fmt: Format, data: bytes) -> None:
    EXAMPLES[f"validate {fmt.id}"] += 1
    _is_a_verdict(validator_for(fmt).validate(data), fmt)
    detected = detect_format(FORMATS, data)
    assert detected is None or detected in FORMATS


@pytest.fixture(scope="module", autouse=True)
def examples_report(request: pytest.FixtureRequest) -> Iterator[None]:
    """Print how many examples each target got (the fuzzing volume), once the module is done."""
    yield
    lines = [f"validator fuzzing: {sum(EXAMPLES.values())} examples"]
    lines += [f"  {count:6d}  {target}" for target, count in sorted(EXAMPLES.items())]
    report_volume(request, lines)


def report_volume(request: pytest.FixtureRequest, lines: list[str]) -> None:
    """Write ``lines`` to the terminal, past output capturing (the fuzzing volume belongs in the log)."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or len(lines) < 2:
        return
    if capture is None:
        for line in ["", *lines]:
            reporter.write_line(line)
        return
    with capture.global_and_fixture_disabled():
        for line in ["", *lines]:
            reporter.write_line(line)


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda fmt: fmt.id)
def test_validator_survives_its_own_samples_mutated(fmt: Format) -> None:
    originals = st.sampled_from(sample_bytes(fmt) or [b""])

    @FUZZ
    @given(data=st.one_of(mutated(originals), reshaped(fmt)))
    def fuzz(data: bytes) -> None:
        _validate_and_detect(fmt, data)

    fuzz()


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda fmt: fmt.id)
def test_validator_survives_arbitrary_input(fmt: Format) -> None:
    @settings(FUZZ, max_examples=int(DEEPER or 120))
    @given(data=arbitrary_input())
    def fuzz(data: bytes) -> None:
        _validate_and_detect(fmt, data)

    fuzz()


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda fmt: fmt.id)
def test_samples_keep_their_verdicts(fmt: Format) -> None:
    """The fuzzer's seeds are what the catalog says they are (so mutations start from real messages)."""
    for sample in fmt.samples:
        result = validator_for(fmt).validate(Path(sample.path).read_bytes())
        _is_a_verdict(result, fmt)
        assert result.valid == (not sample_findings(fmt, sample)[0]), sample.path


def test_parse_json_raises_only_unsafe_json() -> None:
    json_samples = [data for fmt in FORMATS if fmt.syntax == "json" for data in sample_bytes(fmt)]

    @settings(FUZZ, max_examples=int(DEEPER or 500))
    @given(data=st.one_of(arbitrary_input(), mutated(st.sampled_from(json_samples or [b"{}"]))))
    def fuzz(data: bytes) -> None:
        EXAMPLES["parse_json"] += 1
        try:
            parse_json(data)
        except UnsafeJson as exc:
            assert str(exc) and "\n" not in str(exc)

    fuzz()


def test_parse_xml_raises_only_unsafe_xml() -> None:
    xml_samples = [data for fmt in FORMATS if fmt.syntax == "xml" for data in sample_bytes(fmt)]

    @settings(FUZZ, max_examples=int(DEEPER or 500))
    @given(data=st.one_of(arbitrary_input(), mutated(st.sampled_from(xml_samples or [b"<a/>"]))))
    def fuzz(data: bytes) -> None:
        EXAMPLES["parse_xml"] += 1
        try:
            parse_xml(data)
        except UnsafeXml as exc:
            assert str(exc)

    fuzz()


# --------------------------------------------------------------------------- binary codecs


Decoder = tuple[str, Callable[..., Any], tuple[type[BaseException], ...], tuple[type, ...]]
_DECODING_PREFIXES = ("decode", "parse", "read")


def _argument_kinds(function: Callable[..., Any]) -> tuple[type, ...] | None:
    """The types of ``function``'s required positional parameters when each is bytes or str, else None."""
    try:
        hints = typing.get_type_hints(function)
    except (NameError, TypeError):
        return None
    kinds: list[type] = []
    for parameter in inspect.signature(function).parameters.values():
        if parameter.default is not inspect.Parameter.empty or parameter.kind not in (
            parameter.POSITIONAL_ONLY,
            parameter.POSITIONAL_OR_KEYWORD,
        ):
            continue
        hint = hints.get(parameter.name)
        accepted = set(typing.get_args(hint)) if typing.get_args(hint) else {hint}
        if bytes in accepted:
            kinds.append(bytes)
        elif str in accepted:
            kinds.append(str)
        else:
            return None
    return tuple(kinds) if kinds else None


def codec_decoders() -> list[Decoder]:
    """Every public ``decode*``/``parse*``/``read*`` function of ``harness.codecs`` fed only bytes and text.

    A codec may raise only the exception types that ``harness.codecs`` itself
    defines (``CodecError``, ``MultipartError``, ...); anything else
    (IndexError, struct.error, UnicodeDecodeError, ...) is a crash.
    """
    try:
        package = importlib.import_module("harness.codecs")
    except ModuleNotFoundError:
        return []
    modules = [package]
    for info in pkgutil.walk_packages(getattr(package, "__path__", []), prefix="harness.codecs."):
        modules.append(importlib.import_module(info.name))
    errors = tuple(
        value
        for module in modules
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, Exception) and value.__module__.startswith("harness.codecs")
    )
    decoders: dict[str, Decoder] = {}
    for module in modules:
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name, None)
            if not name.startswith(_DECODING_PREFIXES) or not inspect.isfunction(value):
                continue
            if not value.__module__.startswith("harness.codecs"):
                continue
            kinds = _argument_kinds(value)
            if kinds is not None:
                label = f"{value.__module__}.{name}"
                decoders.setdefault(label, (label, value, errors, kinds))
    return sorted(decoders.values(), key=lambda decoder: decoder[0])


def stored_entity(data: bytes) -> tuple[str, bytes] | None:
    """A stored MIME entity as (Content-Type, body), read by hand: header lines, an empty line, the body."""
    if data.startswith(b"--"):
        boundary = data[2:].split(b"\r\n", 1)[0].strip().decode("latin-1")
        return f'multipart/mixed; boundary="{boundary}"', data
    head, separator, body = data.partition(b"\r\n\r\n")
    if not separator:
        head, separator, body = data.partition(b"\n\n")
    for line in head.decode("latin-1").splitlines():
        name, colon, value = line.partition(":")
        if colon and name.strip().lower() == "content-type":
            return value.strip(), body
    return None


BINARY_SEEDS: list[bytes] = [
    data for fmt in FORMATS if fmt.syntax not in ("json", "xml") for data in sample_bytes(fmt)
] or [b"\x01" + bytes(38), b"\x03\x01\x78\x00\x03\x01hi"]
ENTITIES: list[tuple[str, bytes]] = [entity for entity in map(stored_entity, BINARY_SEEDS) if entity is not None] or [
    ('multipart/mixed; boundary="b"', b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n")
]


def _texts(seed: str) -> st.SearchStrategy[str]:
    return st.one_of(
        st.just(seed),
        mutated(st.just(seed.encode())).map(lambda data: data.decode("utf-8", "replace")),
        st.text(max_size=80),
    )


def decoder_arguments(kinds: tuple[type, ...]) -> st.SearchStrategy[tuple[Any, ...]]:
    """Arguments for a decoder: a Content-Type and a body from the same stored entity, each maybe mutated."""
    bodies = st.one_of(mutated(st.sampled_from(BINARY_SEEDS)), st.binary(max_size=256), arbitrary_input())

    def from_entity(entity: tuple[str, bytes]) -> st.SearchStrategy[tuple[Any, ...]]:
        content_type, body = entity
        parts = [_texts(content_type) if kind is str else st.one_of(mutated(st.just(body)), bodies) for kind in kinds]
        return st.tuples(*parts)

    return st.sampled_from(ENTITIES).flatmap(from_entity)


DECODERS = codec_decoders()


@pytest.mark.parametrize(
    "decoder",
    DECODERS or [pytest.param(None, marks=pytest.mark.skip(reason="no harness.codecs decoders yet"))],
    ids=lambda decoder: decoder[0] if decoder else "none",
)
def test_codec_decoders_raise_only_their_own_errors(decoder: Decoder) -> None:
    name, decode, errors, kinds = decoder

    @settings(FUZZ, max_examples=int(DEEPER or 500))
    @given(arguments=decoder_arguments(kinds))
    def fuzz(arguments: tuple[Any, ...]) -> None:
        EXAMPLES[name] += 1
        try:
            decode(*arguments)
        except errors as exc:
            assert str(exc), f"{name}: {type(exc).__name__} without a message"

    fuzz()
