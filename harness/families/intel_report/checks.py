"""The check only rendition families need: ``content`` (the same content as a message sent earlier, in any rendition).

It works for every format family with a rendition (:mod:`harness.families.renditions`); today that is the
intelligence report, carried as JSON or XML.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from harness.families.renditions import family
from harness.http import media_type
from harness.model import ConfigurationError
from harness.runner.checks import CheckContext, Mismatch, check, preview, validate_as

__all__ = ["same_content"]


@check("content")
def same_content(expected: dict[str, Any], ctx: CheckContext) -> Iterator[Mismatch]:
    """The body carries the same content (everything but extensions) as a message sent earlier."""
    step = str(expected["same_as"])
    original = ctx.scenario.sent.get(step)
    if original is None or original.model is None or original.format is None or original.format.family is None:
        raise ConfigurationError(f"'content: same_as: {step}' needs a model message sent by step {step}")
    rendition = family(original.format.family)
    assert rendition is not None
    candidates = ctx.scenario.catalog.formats_of_family(original.format.family)
    actual_type = media_type(ctx.response.header("Content-Type"))
    fmt = next((f for f in candidates if actual_type in f.media_types), None)
    if fmt is None:
        syntax = "xml" if actual_type.endswith("xml") else "json"
        fmt = next((f for f in candidates if f.syntax == syntax), None)
    if fmt is None:
        yield Mismatch("header Content-Type", [f.media_type for f in candidates], actual_type, "no rendition")
        return
    validation = validate_as(fmt, ctx)
    if validation.model is None:
        reason = validation.findings[0].message if validation.findings else "unreadable"
        yield Mismatch("body", f"a {fmt.id} message", preview(ctx.response.body), reason)
        return
    want, got = rendition.content_of(original.model), rendition.content_of(validation.model)
    for path, expected_value, actual_value in _differences(want, got, ""):
        yield Mismatch(f"content {path or '/'}", expected_value, actual_value, "content differs from what was sent")


def _differences(expected: Any, actual: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual)):
            yield from _differences(expected.get(key), actual.get(key), f"{path}/{key}")
    elif isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            yield from _differences(left, right, f"{path}/{index}")
    elif expected != actual:
        yield path, expected, actual
