"""What a run of a suite version says and does about its life cycle (specs/README.md, versions).

A current version runs silently; a superseded one runs and says so (its certificates stay valid); a
retired one certifies nothing: it is refused unless the run is marked as not certifying.
"""

from __future__ import annotations

from typing import Any

from harness.catalog import Catalog
from harness.model import ConfigurationError, Suite, SuiteStatus

__all__ = ["judging_catalog", "life_cycle_facts", "life_cycle_notice", "refuse_retired"]


def refuse_retired(suite: Suite, certifying: bool) -> None:
    """A retired suite version certifies nothing: refused (exit 2) unless the run is marked as not certifying."""
    if suite.status is SuiteStatus.RETIRED and certifying:
        raise ConfigurationError(
            f"suite {suite.ref} is retired (it certified {suite.certifies_text or 'a retired version'}): "
            "it can no longer certify; run it with --not-certifying to exercise a system anyway"
        )


def judging_catalog(catalog: Catalog, suite: Suite, certifying: bool) -> Catalog:
    """The catalog a run of ``suite`` judges by: a retired suite version is refused unless the run is not
    certifying, and every format is judged by the rules of the document version the suite certifies."""
    refuse_retired(suite, certifying)
    return catalog.for_suite(suite)


def life_cycle_facts(suite: Suite, certifying: bool) -> dict[str, Any]:
    """What a run's results say of the suite version's life cycle (``certifying`` only when it is not)."""
    facts: dict[str, Any] = {"status": str(suite.status), "certifies": suite.certifies_text}
    if suite.covers:  # a role-limited run (harness run --role): it covers these roles only
        facts["roles"] = list(suite.covers)
    if not certifying:
        facts["certifying"] = False
    return facts


def life_cycle_notice(catalog: Catalog, suite: Suite, certifying: bool = True) -> str | None:
    """What a run of ``suite`` should say about its life cycle: superseded, retired, or nothing when current."""
    if suite.status is SuiteStatus.CURRENT and certifying:
        return None
    versions = catalog.suites.get(suite.name, {})
    current = next((v for v, s in versions.items() if s.status is SuiteStatus.CURRENT), None)
    newer = f"; the current version is {suite.name}@{current}" if current else ""
    if suite.status is SuiteStatus.SUPERSEDED:
        return (
            f"suite {suite.ref} is superseded (it certifies {suite.certifies_text}){newer}; "
            "certificates issued under it stay valid"
        )
    if suite.status is SuiteStatus.RETIRED:
        return f"suite {suite.ref} is retired{newer}: this run is marked as not certifying"
    return "this run is marked as not certifying"
