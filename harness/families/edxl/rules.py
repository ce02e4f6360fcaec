"""EDXL-DE 1.0 envelopes: their protective markings, read as Government Security Classification tiers.

The profile (spec ``alerts.md``) refuses, with 422, an envelope whose
``combinedConfidentiality``, or the classification of anything it carries, is
above OFFICIAL-SENSITIVE. EDXL-DE leaves these fields as free text, so a
receiver must read markings written by other schemes (US, NATO, the UK's
pre-2014 GPMS, EMSI ``SECLASS`` codes). :func:`gsc_tier` maps one marking;
:func:`distribution_markings` finds every marking of an envelope;
:func:`first_refused` is the hub's question. The mapping fails closed: a
marking it cannot read (``"GEHEIM"``, ``"OFFICIAL//SOMETHING"``) is refused,
because a receiver that cannot read a marking cannot know it may hold the
content. An empty marking is OFFICIAL, as unmarked material is under the GSC.

The rule set ``edxl-de`` has no rules of its own in profile version 1: the
spec names none for the envelope. Its contents are checked by their own
formats (the validator's nested validation, ``format.yaml`` ``embedded``).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from lxml import etree

from harness.families.cap.rules import location
from harness.profile import CAP_NS, DE_NS

__all__ = [
    "DE_NS",
    "IR_NS",
    "PERMITTED",
    "Marking",
    "Tier",
    "distribution_markings",
    "first_refused",
    "gsc_tier",
    "marking_permitted",
]

IR_NS = "urn:netcode:intel-report:1.0"
_PREFIXES = {DE_NS: "de", IR_NS: "ir", CAP_NS: "cap"}


class Tier(enum.IntEnum):
    """The Government Security Classification tiers, in order of protection."""

    OFFICIAL = 1
    OFFICIAL_SENSITIVE = 2
    SECRET = 3
    TOP_SECRET = 4

    @property
    def label(self) -> str:
        """The tier as it is written: ``OFFICIAL-SENSITIVE``, ``TOP SECRET``."""
        return {2: "OFFICIAL-SENSITIVE", 4: "TOP SECRET"}.get(self.value, self.name)


PERMITTED = Tier.OFFICIAL_SENSITIVE
"""The highest tier that may travel over the network code."""

# Markings after normalisation (upper case, runs of spaces, hyphens and underscores as one space).
_MARKINGS: dict[str, Tier] = {
    # OFFICIAL, and what maps to it: unclassified and unmarked material, GPMS PROTECT, EMSI UNCLAS/UNMARK.
    **dict.fromkeys(
        (
            "OFFICIAL",
            "UNCLASSIFIED",
            "UNCLASS",
            "UNCLAS",
            "UNCLASSIFIED AND NOT SENSITIVE",
            "NOT PROTECTIVELY MARKED",
            "NPM",
            "UNMARKED",
            "UNMARK",
            "PROTECT",
            "PUBLIC",
            "NATO UNCLASSIFIED",
        ),
        Tier.OFFICIAL,
    ),
    # OFFICIAL-SENSITIVE: sensitive but unclassified, GPMS RESTRICTED, EMSI RESTRC.
    **dict.fromkeys(
        (
            "OFFICIAL SENSITIVE",
            "OFFICIAL SENSITIVE PERSONAL",
            "OFFICIAL SENSITIVE COMMERCIAL",
            "OFFICIAL SENSITIVE LOCSEN",
            "UNCLASSIFIED BUT SENSITIVE",
            "UNCLASSIFIED SENSITIVE",
            "SENSITIVE BUT UNCLASSIFIED",
            "SBU",
            "FOR OFFICIAL USE ONLY",
            "FOUO",
            "RESTRICTED",
            "RESTRC",
            "NATO RESTRICTED",
        ),
        Tier.OFFICIAL_SENSITIVE,
    ),
    # SECRET, and GPMS / NATO CONFIDENTIAL (most of it became SECRET in 2014; read it as the higher tier).
    **dict.fromkeys(("SECRET", "CONFIDENTIAL", "CONFID", "NATO CONFIDENTIAL", "NATO SECRET"), Tier.SECRET),
    **dict.fromkeys(("TOP SECRET", "TOPSRT", "COSMIC TOP SECRET"), Tier.TOP_SECRET),
}
# Caveats after these keep the tier (``SECRET UK EYES ONLY``, ``TOP SECRET STRAP1``): it is refused anyway.
_REFUSED_PREFIXES = (("TOP SECRET ", Tier.TOP_SECRET), ("SECRET ", Tier.SECRET), ("CONFIDENTIAL ", Tier.SECRET))
_SEPARATORS = re.compile(r"[\s_\-]+")


def _tier_of_part(part: str) -> Tier | None:
    key = _SEPARATORS.sub(" ", part.upper()).strip()
    if key in _MARKINGS:
        return _MARKINGS[key]
    return next((tier for prefix, tier in _REFUSED_PREFIXES if key.startswith(prefix)), None)


def gsc_tier(marking: str) -> Tier | None:
    """The GSC tier of ``marking``, or None when it is not a marking this mapping can read.

    Case, spaces, hyphens and underscores do not matter (``official_sensitive``). An empty marking is
    OFFICIAL. Parts separated by ``//`` (``UNCLASSIFIED//FOUO``) must each be readable; the highest wins.
    """
    if not marking.strip():
        return Tier.OFFICIAL
    tiers = [_tier_of_part(part) for part in marking.split("//")]
    if any(tier is None for tier in tiers):
        return None
    return max(tier for tier in tiers if tier is not None)


def marking_permitted(marking: str) -> bool:
    """Whether content marked ``marking`` may travel: readable, and at most OFFICIAL-SENSITIVE."""
    tier = gsc_tier(marking)
    return tier is not None and tier <= PERMITTED


@dataclass(slots=True, frozen=True)
class Marking:
    """One protective marking found in an envelope, where it was found, and its tier (None: unreadable)."""

    location: str
    text: str
    tier: Tier | None

    @property
    def permitted(self) -> bool:
        return self.tier is not None and self.tier <= PERMITTED


def distribution_markings(root: etree._Element) -> tuple[Marking, ...]:
    """Every marking of an envelope, in document order: ``combinedConfidentiality``, each content object's
    ``confidentiality``, and the ``classification`` of each intelligence report anywhere inside it.

    Works on any tree (a broken envelope included) and never raises; CAP alerts carry no classification.
    """
    if not isinstance(root, etree._Element):
        return ()
    wanted = (f"{{{DE_NS}}}combinedConfidentiality", f"{{{DE_NS}}}confidentiality", f"{{{IR_NS}}}classification")
    found: list[Marking] = []
    for element in root.iter(*wanted):
        parent = element.getparent()
        if element.tag == wanted[2] and (parent is None or parent.tag != f"{{{IR_NS}}}intelReport"):
            continue  # only a report's own classification is a marking
        text = element.xpath("string()")
        text = text if isinstance(text, str) else ""
        found.append(Marking(location(element, root, _PREFIXES), text, gsc_tier(text)))
    return tuple(found)


def first_refused(root: etree._Element) -> Marking | None:
    """The first marking of the envelope that may not travel (unreadable or above OFFICIAL-SENSITIVE), or None."""
    return next((marking for marking in distribution_markings(root) if not marking.permitted), None)
