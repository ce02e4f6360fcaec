"""A scenario's state while it runs: fresh identifiers, captures, messages sent, and templating."""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from harness.catalog import Catalog
from harness.codecs.multipart import BodyPart, MultipartError, build_multipart, read_entity
from harness.extensions import scenario_parts
from harness.families.renditions import family
from harness.model import ConfigurationError, Format, Sample
from harness.registry import resolve
from harness.validation.jsonsafe import UnsafeJson, parse_json
from harness.validation.xmlsafe import UnsafeXml, parse_xml

__all__ = ["Message", "ScenarioContext", "is_missing", "resolve_pointer"]

_WHOLE = re.compile(r"^\$\{([^}]+)\}$")
_INLINE = re.compile(r"\$\{([^}]+)\}")


@dataclass(slots=True, frozen=True)
class Message:
    """A message the harness sent: its format, bytes and (when it has one) its JSON model."""

    format: Format | None
    body: bytes
    content_type: str
    model: dict[str, Any] | None
    sample: Sample | None


def _pointer_tokens(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ConfigurationError(f"bad JSON pointer {pointer!r}")
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


_MISSING = object()


def resolve_pointer(document: Any, pointer: str) -> Any:
    """The value at ``pointer``, or the module's private MISSING marker (see :func:`is_missing`)."""
    value = document
    for token in _pointer_tokens(pointer):
        if isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list) and token.isdigit() and int(token) < len(value):
            value = value[int(token)]
        else:
            return _MISSING
    return value


def is_missing(value: Any) -> bool:
    return value is _MISSING


def _copied_path(document: Any, tokens: list[str]) -> Any:
    """Copy the containers from the root down to the parent of ``tokens``, sharing the rest.

    Edits then touch only fresh copies, so cached samples stay intact without a deep copy.
    """
    parent = document
    for token in tokens[:-1]:
        if isinstance(parent, list):
            index = int(token)
            parent[index] = _shallow(parent[index])
            parent = parent[index]
        else:
            parent[token] = _shallow(parent.get(token, {}))
            parent = parent[token]
    return parent


def _shallow(value: Any) -> Any:
    return dict(value) if isinstance(value, dict) else list(value) if isinstance(value, list) else value


def _set_pointer(document: Any, pointer: str, value: Any) -> None:
    tokens = _pointer_tokens(pointer)
    if not tokens:
        raise ConfigurationError("cannot replace the whole message with 'set'")
    parent = _copied_path(document, tokens)
    last = tokens[-1]
    if isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            parent[int(last)] = value
    else:
        parent[last] = value


def _remove_pointer(document: Any, pointer: str) -> None:
    tokens = _pointer_tokens(pointer)
    if is_missing(resolve_pointer(document, pointer)):
        return
    parent = _copied_path(document, tokens)
    if isinstance(parent, dict):
        parent.pop(tokens[-1], None)
    elif isinstance(parent, list) and tokens[-1].isdigit() and int(tokens[-1]) < len(parent):
        del parent[int(tokens[-1])]


@dataclass
class ScenarioContext:
    """Everything a running scenario remembers; one per scenario, never shared."""

    catalog: Catalog
    target: str
    uuids: dict[str, str] = field(default_factory=dict)
    captures: dict[str, Any] = field(default_factory=dict)
    sent: dict[str, Message] = field(default_factory=dict)
    dataset: dict[str, Any] | None = None
    counterpart: str = ""
    counterpart_mark: int = 0
    """Where the counterpart's record stood when the scenario began: an ``await`` step looks after it."""

    def child(self) -> ScenarioContext:
        """A context for one repetition: fresh identifiers, the captures and messages so far."""
        return ScenarioContext(
            self.catalog,
            self.target,
            {},
            dict(self.captures),
            dict(self.sent),
            self.dataset,
            self.counterpart,
            self.counterpart_mark,
        )

    # -- templating ---------------------------------------------------------

    def expand(self, value: Any) -> Any:
        """Replace ``${...}`` expressions in strings, recursively through lists and mappings."""
        if isinstance(value, str):
            if "${" not in value:
                return value
            whole = _WHOLE.match(value)
            if whole:
                return self._evaluate(whole[1])
            return _INLINE.sub(lambda m: str(self._evaluate(m[1])), value)
        if isinstance(value, list):
            return [self.expand(item) for item in value]
        if isinstance(value, dict):
            if set(value) == {"repeat", "times"}:
                return str(value["repeat"]) * int(value["times"])
            return {key: self.expand(item) for key, item in value.items()}
        return value

    def _evaluate(self, expression: str) -> Any:
        kind, _, name = expression.partition(":")
        if kind == "uuid":
            key = name or "default"
            value = self.uuids.get(key)
            if value is None:
                value = self.uuids[key] = str(uuid.uuid4())
            return value
        if kind == "now":
            return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        if kind == "capture":
            if name not in self.captures:
                raise ConfigurationError(f"nothing was captured as {name!r}")
            return self.captures[name]
        if kind == "target":
            return self.target
        if kind == "counterpart":
            return self.counterpart
        raise ConfigurationError(f"unknown expression ${{{expression}}}")

    # -- messages -----------------------------------------------------------

    def sample(self, reference: str) -> tuple[Format, Sample]:
        """``FORMAT_ID/valid|invalid/FILE`` names a sample of the catalog."""
        parts = reference.split("/")
        if len(parts) < 4:
            raise ConfigurationError(f"bad sample reference {reference!r}: expected FORMAT/VERSION/valid|invalid/FILE")
        fmt = self.catalog.format("/".join(parts[:2]))
        sample = _samples_by_name(fmt).get("/".join(parts[2:]))
        if sample is None:
            raise ConfigurationError(f"no sample {reference!r} in the catalog")
        return fmt, sample

    def build_message(self, spec: dict[str, Any]) -> Message:
        """Build the bytes of a ``message:`` block of a scenario step.

        A key a format family declares (its ``message`` ``ScenarioPart``, e.g. ``sds``) is built by that
        family's handler, ``(this context, the block's value expanded) -> Message``.
        """
        for key, part in scenario_parts("message").items():
            if key in spec:
                built: Message = resolve(part.handler)(self, self.expand(spec[key]))
                return built
        if "multipart" in spec:
            return self.build_multipart(spec["multipart"])
        fmt: Format | None
        sample: Sample | None = None
        if "sample" in spec:
            fmt, sample = self.sample(str(spec["sample"]))
            raw, model = _read_sample(fmt, sample.path)
        elif "same_as" in spec:
            earlier = self.sent.get(str(spec["same_as"]))
            if earlier is None:
                raise ConfigurationError(f"no message was sent by a step {spec['same_as']!r}")
            fmt, sample, raw, model = earlier.format, earlier.sample, earlier.body, earlier.model
        else:
            raise ConfigurationError("a message needs 'sample' or 'same_as'")
        if spec.get("replace"):
            if fmt is None:
                raise ConfigurationError("'replace' needs a message of a known format")
            raw = _replace_text(fmt, raw, {str(old): str(self.expand(new)) for old, new in spec["replace"].items()})
            model = _read_model(fmt, raw)
        edits = bool(spec.get("set") or spec.get("remove"))
        if edits:
            if model is None:
                raise ConfigurationError("only messages with a JSON model can be edited")
            model = _shallow(model)
            for pointer in spec.get("remove", ()):
                _remove_pointer(model, str(pointer))
            for pointer, value in (spec.get("set") or {}).items():
                _set_pointer(model, str(pointer), self.expand(value))
        target_format = self.catalog.format(str(spec["as"])) if "as" in spec else fmt
        if target_format is not None and (edits or target_format is not fmt):
            assert model is not None
            raw = _render(target_format, model)
        content_type = target_format.media_type if target_format else ""
        if target_format is not None and target_format.syntax == "multipart":
            content_type, raw = _split_entity(raw)
        return Message(target_format, raw, content_type, model, sample)

    def build_multipart(self, parts: list[Any]) -> Message:
        """A ``multipart/mixed`` body whose parts are ``message:`` blocks, each with its own media type."""
        if not isinstance(parts, list) or not parts:
            raise ConfigurationError("'multipart' is a list of message blocks")
        built = [self.build_message(part) for part in parts]
        content_type, body = build_multipart([BodyPart(part.content_type, part.body) for part in built])
        return Message(None, body, content_type, None, None)


def _split_entity(raw: bytes) -> tuple[str, bytes]:
    """A stored multipart sample is a MIME entity: its own Content-Type line (with the boundary), then the body."""
    try:
        return read_entity(raw)
    except MultipartError as exc:
        raise ConfigurationError(f"a multipart sample must start with its Content-Type line: {exc}") from None


@functools.lru_cache(maxsize=64)
def _samples_by_name(fmt: Format) -> dict[str, Sample]:
    """``valid/NAME`` or ``invalid/NAME`` -> sample."""
    return {f"{'valid' if s.valid else 'invalid'}/{Path(s.path).name}": s for s in fmt.samples}


@functools.lru_cache(maxsize=256)
def _read_sample(fmt: Format, path: str) -> tuple[bytes, dict[str, Any] | None]:
    """A sample's bytes and model, read once per process (never mutated: edits copy on write)."""
    raw = Path(path).read_bytes()
    return raw, _read_model(fmt, raw)


def _read_model(fmt: Format, raw: bytes) -> dict[str, Any] | None:
    try:
        if fmt.syntax == "json":
            document = parse_json(raw)
            return document if isinstance(document, dict) else None
        rendition = family(fmt.family) if fmt.family else None
        return rendition.from_xml(parse_xml(raw)) if rendition else None
    except (UnsafeJson, UnsafeXml) as exc:
        raise ConfigurationError(f"sample of {fmt.id} is unreadable: {exc}") from None


def _replace_text(fmt: Format, raw: bytes, replacements: dict[str, str]) -> bytes:
    """Replace literal text in a message's bytes, each new value escaped for the format's syntax.

    This is how a scenario gives messages without a JSON model (CAP, EDXL-DE) fresh
    identifiers: ``replace: {"OLD-ID": "${uuid:alert}"}``. A value can only ever become
    character data (``<``, ``&`` and quotes are escaped), never markup. Text that does
    not occur in the message is a suite bug.
    """
    for old, new in replacements.items():
        needle = old.encode()
        if not old or needle not in raw:
            raise ConfigurationError(f"'replace': {old!r} does not occur in the message")
        if fmt.syntax == "xml":
            escaped = xml_escape(new, {'"': "&quot;", "'": "&apos;"})
        elif fmt.syntax == "json":
            escaped = json.dumps(new, ensure_ascii=False)[1:-1]
        else:
            escaped = new
        raw = raw.replace(needle, escaped.encode())
    return raw


_JSON_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _render(fmt: Format, model: dict[str, Any]) -> bytes:
    if fmt.syntax == "json":
        return _JSON_ENCODER.encode(model).encode()
    rendition = family(fmt.family) if fmt.family else None
    if rendition is None:
        raise ConfigurationError(f"format {fmt.id} cannot be rendered from a model")
    return rendition.to_xml(model)
