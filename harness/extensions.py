"""The harness's extension points, each one :class:`~harness.registry.Registry` over an entry-point group.

=====================  =======================  ==============================================
registry               entry-point group        member
=====================  =======================  ==============================================
:data:`FAMILIES`       ``harness.families``     a :class:`FormatFamily` (everything particular to a family)
:data:`CHECKS`         ``harness.checks``       a check function ``(expected, CheckContext) -> Iterator[Mismatch]``
:data:`ROLES`          ``harness.roles``        a role declaration (name, port, factory), see ``harness.endpoints``
:data:`ADAPTERS`       ``harness.adapters``     a transport factory ``(TransportOptions) -> Transport``
:data:`REPORTERS`      ``harness.reporters``    a reporter factory ``(ReporterContext) -> Listener | None``
=====================  =======================  ==============================================

Model layer: the registries name the harness's own modules as strings and load
them on first use, so importing this module (for :func:`check_names`, say, in
the catalog) starts nothing and imports no upper layer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from harness.registry import Registry, RegistryError, resolve

__all__ = [
    "ADAPTERS",
    "CHECKS",
    "FAMILIES",
    "REPORTERS",
    "ROLES",
    "FormatFamily",
    "PersonalField",
    "ScenarioPart",
    "body_view_of",
    "check_names",
    "family_member",
    "personal_fields",
    "scenario_parts",
    "syntax_names",
]


@dataclass(slots=True, frozen=True)
class ScenarioPart:
    """A family's addition to the scenario language (``fixtures/schemas/scenario.schema.json``).

    ``place`` says where its ``key`` goes: ``message`` (a key of a step's closed ``message`` block, e.g.
    ``sds``: ``handler`` builds the message, ``(ScenarioContext, expanded value) -> Message``), ``step``
    (a key of a step mapping that makes the step a kind of its own: ``handler`` runs it, an async
    ``(Runner, Scenario, Step, ScenarioContext, latencies) -> list[CheckFailure]``) or ``expect`` (the value
    of a check the family registers in :data:`CHECKS`; no handler). ``schema`` names the JSON Schema
    fragment of the value (``"module:attribute"``; it may refer to the scenario schema's ``$defs``), which
    the catalog adds to the scenario schema when it loads. ``samples`` (``message``): members of the value
    that hold a sample reference or a nested message block, checked like a step's own. ``reference``
    (``expect``): the member whose value names the step that sent the message the check judges.
    ``checks_itself`` (``step``): a step of this kind without ``expect`` still checks something. ``format``
    (``message``): the catalog format of the message it builds, which the report names the scenario by.
    """

    place: str
    key: str
    schema: str
    handler: str = ""
    samples: tuple[str, ...] = ()
    reference: str = ""
    checks_itself: bool = False
    format: str = ""


@dataclass(slots=True, frozen=True)
class PersonalField:
    """A field of a format that holds personal data (masked in recordings, issue 23).

    ``format`` is a format id (``intel-report/1.0``); ``location`` a JSON Pointer into its JSON model
    (``*`` for every member or item at that level) or an XPath for a format without one; ``kind`` what the
    value is (``name``, ``date``, ``address``, ``phone``, ``vrm``, ``postcode``, ``text``, ...), so that a
    pseudonym keeps its shape.
    """

    format: str
    location: str
    kind: str


@dataclass(slots=True, frozen=True)
class FormatFamily:
    """A format family: everything particular to it, declared once, loaded only when asked for.

    Code is named by ``"package.module:attribute"`` strings (resolved with :func:`harness.registry.resolve`
    on first use), so declaring a family imports nothing of it.

    - ``formats``: the catalog formats it covers; ``rule_modules`` and ``check_modules``: modules that
      register its rules (``harness.families.rules.rule``) and its checks (:data:`CHECKS`) on import.
    - ``syntaxes``: ``(syntax, reference)`` for each manifest ``syntax`` other than JSON and XML that it
      validates; the reference names a ``harness.validation.validator.Syntax`` (validator factory,
      ``--explain``, content detection).
    - ``renditions``: ``(family name of format.yaml, reference)`` to a ``harness.families.renditions.Family``
      (one content model carried as JSON and XML).
    - ``scenario_parts``: its keys of the scenario language (:class:`ScenarioPart`): message builders, step
      kinds, the values of its checks.
    - ``body_views``: ``(media type, reference)`` to ``(bytes) -> str``, the decoded fields the HTML report
      shows beside the hex dump of a binary body of that media type.
    - ``personal_fields``: the fields of its formats that hold personal data (:class:`PersonalField`).
    """

    name: str
    formats: tuple[str, ...]
    rule_modules: tuple[str, ...] = ()
    check_modules: tuple[str, ...] = ()
    syntaxes: tuple[tuple[str, str], ...] = ()
    renditions: tuple[tuple[str, str], ...] = ()
    scenario_parts: tuple[ScenarioPart, ...] = ()
    body_views: tuple[tuple[str, str], ...] = ()
    personal_fields: tuple[PersonalField, ...] = ()


BUILTIN_FAMILIES = (
    "harness.families.cap",
    "harness.families.edxl",
    "harness.families.emsi",
    "harness.families.esn",
    "harness.families.intel_report",
    "harness.families.queries",
)
"""The harness's own families; a third party's family is an entry point in ``harness.families``."""

FAMILIES: Registry[FormatFamily] = Registry("harness.families", "format family", builtins=BUILTIN_FAMILIES)


def _check_modules() -> Iterator[str]:
    yield "harness.runner.checks"
    for _, family in FAMILIES.items():
        yield from family.check_modules


CheckFunction = Callable[[Any, Any], Iterator[Any]]
CHECKS: Registry[CheckFunction] = Registry("harness.checks", "check", builtins=_check_modules)
ROLES: Registry[Any] = Registry("harness.roles", "role", builtins=("harness.endpoints.roles",))
ADAPTERS: Registry[Callable[[Any], Any]] = Registry("harness.adapters", "adapter")
REPORTERS: Registry[Callable[[Any], Any]] = Registry("harness.reporters", "reporter")
"""Reporter factories (``harness.reporting.registry``); the harness's own are entry points of its package."""


def check_names() -> frozenset[str]:
    """Every check a scenario may name (built in, of every family, or from an installed package)."""
    return CHECKS.names()


def _declared(slot: str) -> dict[str, str]:
    """``name -> reference`` of one ``(name, reference)`` slot across every family; a name claimed twice is an
    error naming both families (two families cannot both own the ``binary`` syntax)."""
    cache = _DECLARED.get(slot)
    changes = FAMILIES.changes
    if cache is not None and cache[0] == changes:
        return cache[1]
    found: dict[str, str] = {}
    owner: dict[str, str] = {}
    for family_name, family in FAMILIES.items():
        for name, reference in getattr(family, slot):
            if name in owner and found[name] != reference:
                raise RegistryError(f"{slot} {name!r} is declared by both {owner[name]} and {family_name}")
            found[name], owner[name] = reference, family_name
    _DECLARED[slot] = (changes, found)
    return found


_DECLARED: dict[str, tuple[int, dict[str, str]]] = {}


def family_member(slot: str, name: str) -> Any | None:
    """The object a family declares as ``name`` in ``slot`` (``syntaxes``, ``renditions``, ``body_views``),
    imported on first use; None when no family declares it."""
    reference = _declared(slot).get(name)
    return None if reference is None else resolve(reference)


def syntax_names() -> frozenset[str]:
    """The manifest syntaxes families validate (besides JSON and XML, which the validator knows itself)."""
    return frozenset(_declared("syntaxes"))


def body_view_of(media_type: str) -> Callable[[bytes], str] | None:
    """The decoded view of a binary body of ``media_type`` (lower-case, no parameters), or None."""
    view: Callable[[bytes], str] | None = family_member("body_views", media_type)
    return view


def scenario_parts(place: str) -> dict[str, ScenarioPart]:
    """The families' :class:`ScenarioPart` of ``place`` (``message``, ``step``, ``expect``), by key."""
    changes = FAMILIES.changes
    cached = _PARTS.get(place)
    if cached is not None and cached[0] == changes:
        return cached[1]
    parts: dict[str, ScenarioPart] = {}
    for family_name, family in FAMILIES.items():
        for part in family.scenario_parts:
            if part.place != place:
                continue
            if part.key in parts and parts[part.key] != part:
                raise RegistryError(f"scenario {place} key {part.key!r} is declared twice (again by {family_name})")
            parts[part.key] = part
    _PARTS[place] = (changes, parts)
    return parts


_PARTS: dict[str, tuple[int, dict[str, ScenarioPart]]] = {}


def personal_fields(format_id: str | None = None) -> tuple[PersonalField, ...]:
    """Every family's personal-data fields (of ``format_id`` only, when given)."""
    return tuple(
        item
        for _, family in FAMILIES.items()
        for item in family.personal_fields
        if format_id is None or item.format == format_id
    )
