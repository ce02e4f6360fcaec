"""The ``delivery`` check: named in a ``deliver`` step's ``expect``, judged from the recorded attempts.

It is registered with the other checks so that the catalog knows its name; the deliver step judges it from the
timeline (:mod:`harness.families.resilience.timeline`), never from one answer. On any other step it fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from harness.runner.checks import CheckContext, Mismatch, check

__all__ = ["delivery"]


@check("delivery")
def delivery(expected: Any, ctx: CheckContext) -> Iterator[Mismatch]:
    yield Mismatch("delivery", "a deliver step", "another kind of step", "'delivery' is judged by a deliver step only")
