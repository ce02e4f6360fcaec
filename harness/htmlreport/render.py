"""Jinja2 rendering of the report, the matrix and the catalogue: one self-contained page each.

Styles and scripts are inlined from package data; the data a page needs is embedded
as JSON (``<`` ``>`` ``&`` escaped, so no string in it can close the script element).
"""

from __future__ import annotations

import json
from typing import Any

import jinja2
from markupsafe import Markup

__all__ = ["embed_json", "render"]

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("harness.htmlreport", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def embed_json(value: Any) -> Markup:
    """JSON safe inside ``<script type="application/json">``."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)  # noqa: S704  (escaped above for the script-data context)


_ENV.filters["embed_json"] = embed_json


def render(template: str, **context: Any) -> str:
    return _ENV.get_template(template).render(**context)
