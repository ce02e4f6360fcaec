"""The register's pages: server-rendered HTML, no script, no font or style from elsewhere (CSP enforced).

Search is a plain GET form answered by the server, so a page works with scripts off and fetches nothing
beyond the register's own stylesheet. Every value (names, reasons, ids) comes from submitted evidence and
is escaped by Jinja2's autoescape.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import jinja2

import harness
from harness.certification import Certificate, Product, compatibility_matrix
from harness.certification.catalogue import product_slug
from harness.register.views import API, Snapshot, certificate_document

__all__ = [
    "PAGE_SIZE",
    "catalogue_page",
    "certificate_page",
    "exchange_page",
    "matrix_page",
    "not_found_page",
    "product_page",
    "stylesheet",
]

PAGE_SIZE = 50
"""Products per catalogue page (the JSON feed is whole)."""

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("harness.register", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.globals.update(harness_version=harness.__version__, api=API, slug=product_slug)


def _render(template: str, **context: Any) -> str:
    return _ENV.get_template(template).render(**context)


def stylesheet() -> str:
    """The run report's base style, and the register's few additions."""
    base = resources.files("harness.htmlreport").joinpath("templates/base.css").read_text(encoding="utf-8")
    extra = resources.files("harness.register").joinpath("templates/register.css").read_text(encoding="utf-8")
    return base + "\n" + extra


def _matches(words: list[str], product: Product, cells: Any) -> bool:
    text = " ".join([product.supplier, product.product, product.version, *(c.suite for c in cells)]).lower()
    return all(word in text for word in words)


def catalogue_page(snapshot: Snapshot, query: str, page: str) -> str:
    """The catalogue: every product holding a certificate, searched by words (all must match), paged."""
    words = query.lower().split()[:20]
    found = [(p, cells) for p, cells in sorted(snapshot.held.items()) if cells and _matches(words, p, cells)]
    number, pages = _page_number(page, len(found))
    shown = [
        {"product": p, "certificates": [(c, snapshot.status(c.certificate)) for c in cells]}
        for p, cells in found[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
    ]
    refusals = sorted((r.source.rpartition("/")[2], r.reason) for r in snapshot.evidence.refusals)
    return _render(
        "catalogue.html.j2",
        query=query,
        shown=shown,
        total=len(found),
        number=number,
        pages=pages,
        refusals=refusals[:100],
        refused=len(refusals),
    )


def product_page(snapshot: Snapshot, product: Product) -> str:
    entries = [certificate_document(snapshot, cell.certificate) for cell in snapshot.held.get(product, ())]
    titles = {s.ref: s.title for s in snapshot.suites}
    return _render("product.html.j2", product=product, entries=entries, titles=titles)


def certificate_page(snapshot: Snapshot, certificate: Certificate) -> str:
    return _render("certificate.html.j2", c=certificate_document(snapshot, certificate), certificate=certificate)


def _page_number(page: str, total: int) -> tuple[int, int]:
    """(this page, pages) for ``total`` items, ``page`` as the query gave it (anything odd is page 1)."""
    pages = max(1, -(-total // PAGE_SIZE))
    number = int(page) if page.isdigit() and 0 < int(page) < 10**6 else 1
    return min(number, pages), pages


def matrix_page(snapshot: Snapshot, query: str = "", page: str = "1") -> str:
    """Products (rows, searched by words and paged like the catalogue) against every suite version."""
    products, columns, cells = compatibility_matrix(snapshot.evidence, snapshot.suites)
    words = query.lower().split()[:20]
    found = [p for p in products if all(w in f"{p.supplier} {p.product} {p.version}".lower() for w in words)]
    number, pages = _page_number(page, len(found))
    shown = set(found[(number - 1) * PAGE_SIZE : number * PAGE_SIZE])
    by_product: dict[Product, list[Any]] = {p: [] for p in shown}
    for cell in cells:
        if cell.product in shown:
            by_product[cell.product].append(cell)
    rows = [{"product": p, "cells": by_product[p]} for p in sorted(shown)]
    return _render(
        "matrix.html.j2", suites=columns, rows=rows, query=query, total=len(found), number=number, pages=pages
    )


def exchange_page(snapshot: Snapshot, answer: dict[str, Any] | None, a: str = "", b: str = "", error: str = "") -> str:
    """The form (two products of the register) and, when asked, the answer exchange by exchange with reasons."""
    products = [p.ref for p in snapshot.evidence.products()]
    if answer is not None:
        a, b = str(answer["a"]), str(answer["b"])
    return _render("exchange.html.j2", products=products, answer=answer, a=a, b=b, error=error)


def not_found_page(message: str) -> str:
    return _render("not_found.html.j2", message=message)
