"""Validation: any bytes and a format in, the verdict and every finding out. Never raises for bad data."""

from __future__ import annotations

import functools
import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from harness.model import CatalogError, Finding, Format
from harness.renditions import Family, family
from harness.rules import run_rules
from harness.validation.jsonsafe import UnsafeJson, parse_json
from harness.validation.jsonschema import SchemaValidator
from harness.validation.xmlsafe import UnsafeXml, parse_xml

__all__ = [
    "SYNTAXES",
    "Validation",
    "Validator",
    "detect_format",
    "json_pointer",
    "register_syntax",
    "validator_for",
]


def json_pointer(path: tuple[str | int, ...]) -> str:
    """RFC 6901 pointer for a path of member names and indices."""
    return "".join("/" + str(token).replace("~", "~0").replace("/", "~1") for token in path)


@dataclass(slots=True, frozen=True)
class Validation:
    format_id: str
    findings: tuple[Finding, ...]
    model: dict[str, Any] | None = field(default=None, compare=False)
    """The message as the family's JSON model, when it could be read (even if invalid)."""

    @property
    def valid(self) -> bool:
        return not self.findings

    @property
    def rules(self) -> set[str]:
        return {finding.rule for finding in self.findings}


SyntaxValidator = Callable[[bytes], Validation]
SYNTAXES: dict[str, Callable[[Format], SyntaxValidator]] = {}
"""Validators for syntaxes other than JSON and XML (binary codecs, multipart), by manifest ``syntax``.

A module registers a factory with :func:`register_syntax`; :func:`_load_builtin_syntaxes` imports them.
"""


def register_syntax(name: str) -> Callable[[Callable[[Format], SyntaxValidator]], Callable[[Format], SyntaxValidator]]:
    def register(factory: Callable[[Format], SyntaxValidator]) -> Callable[[Format], SyntaxValidator]:
        SYNTAXES[name] = factory
        return factory

    return register


def _load_builtin_syntaxes() -> None:
    """Import the modules that register syntaxes (each registers on import)."""
    for module in BUILTIN_SYNTAX_MODULES:
        importlib.import_module(module)


BUILTIN_SYNTAX_MODULES: list[str] = []


class Validator:
    """A format's schema compiled once, with its rules and rendition."""

    def __init__(self, fmt: Format) -> None:
        self.format = fmt
        self.family: Family | None = family(fmt.family) if fmt.family and fmt.syntax == "xml" else None
        self._other: SyntaxValidator | None = None
        schema_path = Path(fmt.schema_path)
        if fmt.syntax not in ("json", "xml"):
            _load_builtin_syntaxes()
            factory = SYNTAXES.get(fmt.syntax)
            if factory is None:
                raise CatalogError(f"format {fmt.id}: no validator for syntax {fmt.syntax!r}")
            self._other = factory(fmt)
        elif fmt.syntax == "json":
            self._json = SchemaValidator(json.loads(schema_path.read_bytes()))
        else:
            try:
                xsd_root = parse_xml(schema_path.read_bytes(), max_depth=256)
                self._xsd = etree.XMLSchema(xsd_root)
            except (UnsafeXml, etree.XMLSchemaParseError) as exc:
                raise CatalogError(f"{schema_path}: unusable XSD: {exc}") from None

    def validate(self, data: bytes) -> Validation:
        fmt = self.format
        if len(data) > fmt.max_bytes:
            message = f"message is {len(data)} bytes, over the limit of {fmt.max_bytes}"
            return Validation(fmt.id, (Finding("/" if fmt.syntax == "xml" else "", "schema", message),))
        if self._other is not None:
            return self._other(data)
        if fmt.syntax == "json":
            return self._validate_json(data)
        return self._validate_xml(data)

    def validate_model(self, document: Any) -> Validation:
        """Validate an already parsed JSON model (JSON formats only)."""
        findings = [Finding(json_pointer(path), "schema", message) for path, message in self._json.errors(document)]
        if self.format.rule_set:
            findings += [
                Finding(path if isinstance(path, str) else json_pointer(path), rule_id, message)
                for rule_id, path, message in run_rules(self.format.rule_set, document)
            ]
        model = document if isinstance(document, dict) else None
        return Validation(self.format.id, tuple(findings), model)

    def _validate_json(self, data: bytes) -> Validation:
        try:
            document = parse_json(data)
        except UnsafeJson as exc:
            return Validation(self.format.id, (Finding("", "schema", str(exc)),))
        return self.validate_model(document)

    def _validate_xml(self, data: bytes) -> Validation:
        fmt = self.format
        try:
            root = parse_xml(data)
        except UnsafeXml as exc:
            return Validation(fmt.id, (Finding("/", "schema", str(exc)),))
        if not self._xsd.validate(root):
            findings = tuple(
                Finding(self._element_xpath(root, entry.path), "schema", entry.message)
                for entry in self._xsd.error_log  # type: ignore[attr-defined]
            )
            return Validation(fmt.id, findings)
        # Rules see the family's JSON model when the format has one, else the element tree;
        # a rule's path is either a model path (mapped to an XPath) or already an XPath string.
        model = self.family.from_xml(root) if self.family is not None else None
        findings_list: list[Finding] = []
        if fmt.rule_set:
            subject: Any = model if model is not None else root
            for rule_id, path, message in run_rules(fmt.rule_set, subject):
                location = path if isinstance(path, str) else self.family.xpath(path) if self.family else "/"
                findings_list.append(Finding(location, rule_id, message))
        return Validation(fmt.id, tuple(findings_list), model)

    def _element_xpath(self, root: etree._Element, libxml_path: str | None) -> str:
        """Rewrite libxml2's positional path as a readable, prefixed XPath."""
        if not libxml_path:
            return "/"
        try:
            found = root.getroottree().xpath(libxml_path)
        except etree.XPathError:
            return libxml_path
        if not isinstance(found, list) or not found or not isinstance(found[0], etree._Element):
            return libxml_path
        if self.family is None:
            return element_xpath(found[0], None, "")
        return element_xpath(found[0], self.family.namespace, self.family.prefix)


def element_xpath(element: etree._Element, namespace: str | None, prefix: str) -> str:
    steps: list[str] = []
    node: etree._Element | None = element
    while node is not None:
        qname = etree.QName(node)
        if namespace is not None and qname.namespace == namespace:
            name = f"{prefix}:{qname.localname}"
        else:
            name = f"*[local-name()='{qname.localname}']"
        parent = node.getparent()
        same = [sibling for sibling in parent if sibling.tag == node.tag] if parent is not None else [node]
        position = f"[{same.index(node) + 1}]" if len(same) > 1 else ""
        steps.append(name + position)
        node = node.getparent()
    return "/" + "/".join(reversed(steps))


@functools.lru_cache(maxsize=64)
def validator_for(fmt: Format) -> Validator:
    """The compiled validator of ``fmt`` (compiled once per process)."""
    return Validator(fmt)


def detect_format(formats: list[Format], data: bytes) -> Format | None:
    """The format whose ``detect`` keys the content matches, or None."""
    head = data.removeprefix(b"\xef\xbb\xbf").lstrip()[:1]
    if head in (b"{", b"["):
        try:
            document = parse_json(data)
        except UnsafeJson:
            document = None
        for fmt in formats:
            matches = isinstance(document, dict) and all(document.get(k) == v for k, v in fmt.detect)
            if fmt.syntax == "json" and fmt.detect and matches:
                return fmt
        return None
    if head == b"<" or data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        try:
            root = parse_xml(data)
        except UnsafeXml:
            return _xml_by_text(formats, data)
        for fmt in formats:
            if fmt.syntax == "xml" and dict(fmt.detect).get("root") == root.tag:
                return fmt
    return None


def _xml_by_text(formats: list[Format], data: bytes) -> Format | None:
    """A refused XML document still gets a format when its root's namespace is plain to see."""
    for fmt in formats:
        root = dict(fmt.detect).get("root", "")
        if fmt.syntax == "xml" and root.startswith("{"):
            namespace = root[1:].split("}")[0].encode()
            if namespace in data[:4096]:
                return fmt
    return None
