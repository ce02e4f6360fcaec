"""Validation: any bytes and a format in, the verdict and every finding out. Never raises for bad data."""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from harness.extensions import family_member, syntax_names
from harness.families.renditions import Family, family
from harness.families.rules import RULE_SETS, judge, rules_in_force
from harness.model import CatalogError, Finding, Format, Sample, Severity
from harness.validation.jsonsafe import UnsafeJson, parse_json
from harness.validation.jsonschema import SchemaValidator
from harness.validation.xmlsafe import UnsafeXml, parse_xml

__all__ = [
    "XPATH_PREFIXES",
    "Syntax",
    "SyntaxValidator",
    "Validation",
    "Validator",
    "detect_format",
    "element_xpath",
    "explain",
    "json_pointer",
    "sample_findings",
    "syntax",
    "validator_for",
]


XPATH_PREFIXES: dict[str, str] = {
    "urn:oasis:names:tc:emergency:cap:1.2": "cap",
    "urn:oasis:names:tc:emergency:EDXL:DE:1.0": "de",
}
"""Prefixes of XML locations for formats without a rendition family (a family names its own, e.g. ``ir``)."""


def json_pointer(path: tuple[str | int, ...]) -> str:
    """RFC 6901 pointer for a path of member names and indices."""
    return "".join("/" + str(token).replace("~", "~0").replace("/", "~1") for token in path)


@dataclass(slots=True, frozen=True)
class Validation:
    """The verdict on one message: ``findings`` are its errors (it is valid without any), ``warnings`` apart."""

    format_id: str
    findings: tuple[Finding, ...]
    model: dict[str, Any] | None = field(default=None, compare=False)
    """The message as the family's JSON model, when it could be read (even if invalid)."""
    warnings: tuple[Finding, ...] = ()
    """Findings of rules whose severity is ``warning`` in the version applied (binding rule 10)."""

    @property
    def valid(self) -> bool:
        return not self.findings

    @property
    def rules(self) -> set[str]:
        """The rules broken as errors."""
        return {finding.rule for finding in self.findings}

    @property
    def warning_rules(self) -> set[str]:
        return {finding.rule for finding in self.warnings}


SyntaxValidator = Callable[[bytes], Validation]


@dataclass(slots=True, frozen=True)
class Syntax:
    """How a format family validates a manifest ``syntax`` other than JSON and XML (binary codecs, multipart).

    A family declares it in its ``FormatFamily.syntaxes``; ``validator`` compiles a format of that syntax,
    ``explain`` gives ``harness validate --explain`` its decoded fields (one per line), ``detect`` recognises
    a message of one of the given formats by its content (None: not one of them).
    """

    validator: Callable[[Format], SyntaxValidator]
    explain: Callable[[Format, bytes], list[str]] | None = None
    detect: Callable[[list[Format], bytes], Format | None] | None = None


def syntax(name: str) -> Syntax | None:
    """The :class:`Syntax` a format family declares for ``name``, or None."""
    found: Syntax | None = family_member("syntaxes", name)
    return found


def explain(fmt: Format, data: bytes) -> list[str]:
    """The decoded fields of a message of ``fmt``, one per line, for ``--explain``; empty when its syntax has
    none to show (JSON and XML are their own explanation)."""
    declared = syntax(fmt.syntax) if fmt.syntax not in ("json", "xml") else None
    return declared.explain(fmt, data) if declared is not None and declared.explain is not None else []


class Validator:
    """A format's schema compiled once, with its rules and rendition."""

    def __init__(self, fmt: Format) -> None:
        self.format = fmt
        self.family: Family | None = family(fmt.family) if fmt.family and fmt.syntax == "xml" else None
        self._other: SyntaxValidator | None = None
        schema_path = Path(fmt.schema_path)
        if fmt.syntax not in ("json", "xml"):
            declared = syntax(fmt.syntax)
            if declared is None:
                raise CatalogError(f"format {fmt.id}: no validator for syntax {fmt.syntax!r}")
            self._other = declared.validator(fmt)
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
        warnings: list[Finding] = []
        if self.format.rule_set:
            for rule_id, path, message, severity in judge(self.format.rule_set, document, self.format.rules_version):
                found = Finding(path if isinstance(path, str) else json_pointer(path), rule_id, message)
                (warnings if severity is Severity.WARNING else findings).append(found)
        model = document if isinstance(document, dict) else None
        return Validation(self.format.id, tuple(findings), model, tuple(warnings))

    def _validate_json(self, data: bytes) -> Validation:
        try:
            document = parse_json(data)
        except UnsafeJson as exc:
            return Validation(self.format.id, (Finding("", "schema", str(exc)),))
        return self.validate_model(document)

    def _validate_xml(self, data: bytes) -> Validation:
        try:
            root = parse_xml(data)
        except UnsafeXml as exc:
            return Validation(self.format.id, (Finding("/", "schema", str(exc)),))
        return self.validate_element(root)

    def validate_element(self, root: etree._Element) -> Validation:
        """Validate a document already parsed by :func:`parse_xml` (XML formats only); ``root`` is its root."""
        fmt = self.format
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
        warnings: list[Finding] = []
        if fmt.rule_set:
            subject: Any = model if model is not None else root
            for rule_id, path, message, severity in judge(fmt.rule_set, subject, fmt.rules_version):
                location = path if isinstance(path, str) else self.family.xpath(path) if self.family else "/"
                found = Finding(location, rule_id, message)
                (warnings if severity is Severity.WARNING else findings_list).append(found)
        if fmt.embedded_in:
            inner_errors, inner_warnings = self._embedded_findings(root)
            findings_list += inner_errors
            warnings += inner_warnings
        return Validation(fmt.id, tuple(findings_list), model, tuple(warnings))

    def _embedded_findings(self, root: etree._Element) -> tuple[list[Finding], list[Finding]]:
        """Each message inside an ``embedded_in`` element, validated by the embedded format its root names.

        Inner findings keep their rule id; their location is prefixed with the container's XPath. A container
        holds one message: another element after it, or an element of no embedded format, is a schema finding.
        Returns the errors and the warnings.
        """
        fmt = self.format
        by_root = {dict(inner.detect)["root"]: inner for inner in fmt.embedded}
        known = ", ".join(inner.id for inner in fmt.embedded) or "none"
        findings: list[Finding] = []
        warnings: list[Finding] = []
        for container in root.iter(str(fmt.embedded_in)):
            where = self._xpath(container)
            messages = [child for child in container if isinstance(child.tag, str)]
            for index, message in enumerate(messages):
                step = element_xpath(message, None, "", XPATH_PREFIXES, stop=container)
                if index > 0:
                    why = f"a container holds one message; this is element {index + 1} of {len(messages)}"
                    findings.append(Finding(where + step, "schema", why))
                inner = by_root.get(message.tag)
                if inner is None:
                    findings.append(Finding(where + step, "schema", f"embedded {message.tag} is not one of: {known}"))
                    continue
                inner_errors, inner_warnings = _relocated(validator_for(inner), message, where)
                findings += inner_errors
                warnings += inner_warnings
        return findings, warnings

    def _xpath(self, element: etree._Element) -> str:
        if self.family is None:
            return element_xpath(element, None, "", XPATH_PREFIXES)
        return element_xpath(element, self.family.namespace, self.family.prefix)

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
        return self._xpath(found[0])


def _relocated(validator: Validator, message: etree._Element, where: str) -> tuple[list[Finding], list[Finding]]:
    """``validator``'s errors and warnings on a copy of ``message``, located below ``where`` (its container's XPath)."""
    alone = copy.deepcopy(message)  # the root of its own tree: the inner format's locations start at it
    own = validator._xpath(alone)  # "/cap:alert"
    same = [sibling for sibling in message.itersiblings(preceding=True) if sibling.tag == message.tag]
    later = any(sibling.tag == message.tag for sibling in message.itersiblings())
    at = where + own + (f"[{len(same) + 1}]" if same or later else "")
    verdict = validator.validate_element(alone)

    def moved(findings: tuple[Finding, ...]) -> list[Finding]:
        return [
            Finding(at + (f.location[len(own) :] if f.location.startswith(own) else ""), f.rule, f.message)
            for f in findings
        ]

    return moved(verdict.findings), moved(verdict.warnings)


def element_xpath(
    element: etree._Element,
    namespace: str | None,
    prefix: str,
    prefixes: dict[str, str] | None = None,
    stop: etree._Element | None = None,
) -> str:
    """``/p:a/p:b[2]/...`` from the root (or from below ``stop``) down to ``element``; positions where ambiguous.

    Elements in ``namespace`` (or in one of ``prefixes``) get their prefix; others ``*[local-name()='x']``.
    """
    steps: list[str] = []
    node: etree._Element | None = element
    while node is not None and node is not stop:
        qname = etree.QName(node)
        known = prefix if namespace is not None and qname.namespace == namespace else None
        known = known or (prefixes or {}).get(qname.namespace or "")
        name = f"{known}:{qname.localname}" if known else f"*[local-name()='{qname.localname}']"
        parent = node.getparent()
        same = [sibling for sibling in parent if sibling.tag == node.tag] if parent is not None else [node]
        position = f"[{same.index(node) + 1}]" if len(same) > 1 else ""
        steps.append(name + position)
        node = node.getparent()
    return "/" + "/".join(reversed(steps))


def sample_findings(fmt: Format, sample: Sample) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The rules ``sample`` breaks, split by their severity where ``fmt`` applies them: ``(errors, warnings)``.

    A sample's manifest lists every rule it breaks in any version of its document, whatever its weight there;
    a rule that the version applied does not state is neither (``schema`` and ids of no rule set are errors).
    A manifest that lists the rules per version (``Sample.by_version``) is read for the version applied: a
    version it does not list is one where the sample breaks none (all of them when no version is applied).
    """
    severities: dict[str, Severity | None] = {}
    for judged in (fmt, *fmt.embedded):
        if judged.rule_set:
            _load_builtin_rule_sets_once()
            for item in RULE_SETS.get(judged.rule_set, ()):
                severities[item.id] = item.severity_at(judged.rules_version)
    rules = sample.rules
    if sample.by_version and fmt.rules_version is not None:
        rules = tuple(dict(sample.by_version).get(fmt.rules_version, ()))
    errors = tuple(r for r in rules if severities.get(r, Severity.ERROR) is Severity.ERROR)
    warnings = tuple(r for r in rules if severities.get(r, Severity.ERROR) is Severity.WARNING)
    return errors, warnings


def _load_builtin_rule_sets_once() -> None:
    rules_in_force("")  # imports the built-in rule modules, which register on import


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
            if fmt.syntax == "json" and fmt.detect and isinstance(document, dict) and _json_matches(document, fmt):
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
    for name in sorted(syntax_names()):
        declared = syntax(name)
        if declared is not None and declared.detect is not None and (found := declared.detect(formats, data)):
            return found
    return None


def _json_matches(document: dict[str, Any], fmt: Format) -> bool:
    """Every ``detect`` member has its value; the value ``"*"`` only asks that the member is present."""
    return all(k in document if v == "*" else document.get(k) == v for k, v in fmt.detect)


def _xml_by_text(formats: list[Format], data: bytes) -> Format | None:
    """A refused XML document still gets a format when its root's namespace is plain to see (the first one seen)."""
    head = data[:4096]
    seen: list[tuple[int, Format]] = []
    for fmt in formats:
        root = dict(fmt.detect).get("root", "")
        if fmt.syntax == "xml" and root.startswith("{"):
            at = head.find(root[1:].split("}")[0].encode())
            if at >= 0:
                seen.append((at, fmt))
    return min(seen, key=lambda pair: pair[0])[1] if seen else None
