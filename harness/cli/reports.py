"""``harness report --html``, ``harness matrix``, ``harness can-exchange`` and ``harness catalogue``.

Each command family registers itself with :func:`register` (the CLI's command-module pattern).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from harness.catalog import load_catalog
from harness.certification.matrix import Answer, can_exchange, compatibility_matrix
from harness.certification.records import Product
from harness.certification.roles import suite_versions
from harness.certification.store import DEFAULT_STORE, StoreContents, open_bundles, open_store
from harness.model import UsageError

__all__ = ["html_report", "register"]


def register(subparsers: Any) -> None:
    matrix = subparsers.add_parser("matrix", help="products against suite versions: the latest verified verdicts")
    matrix.add_argument("--store", default=DEFAULT_STORE, help=f"the run store (default {DEFAULT_STORE})")
    matrix.add_argument("--trusted-key", type=Path, action="append", default=[], metavar="FILE")
    shape = matrix.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="one JSON document")
    shape.add_argument("--html", type=Path, metavar="FILE", help="a page, each cell linking to its evidence")
    matrix.set_defaults(func=_cmd_matrix)

    exchange = subparsers.add_parser(
        "can-exchange", help="can two products interoperate, exchange by exchange, on the verified evidence?"
    )
    exchange.add_argument("a", metavar="A", help="SUPPLIER/PRODUCT@VERSION")
    exchange.add_argument("b", metavar="B", help="SUPPLIER/PRODUCT@VERSION")
    exchange.add_argument("--store", default=DEFAULT_STORE, help=f"the run store (default {DEFAULT_STORE})")
    exchange.add_argument("--trusted-key", type=Path, action="append", default=[], metavar="FILE")
    exchange.add_argument("--json", action="store_true")
    exchange.set_defaults(func=_cmd_can_exchange)

    catalogue = subparsers.add_parser("catalogue", help="the certified-products catalogue")
    actions = catalogue.add_subparsers(dest="catalogue_command", required=True, parser_class=type(catalogue))
    build = actions.add_parser("build", help="build the static site from bundles that verify")
    build.add_argument("--out", type=Path, required=True, metavar="DIR")
    build.add_argument("--trusted-key", type=Path, action="append", required=True, metavar="FILE")
    build.add_argument("--catalogue-key", type=Path, metavar="FILE", help="Ed25519 PEM key signing catalogue.json")
    build.add_argument("--store", help="the run store")
    build.add_argument("bundles", nargs="*", type=Path, metavar="BUNDLE")
    build.set_defaults(func=_cmd_catalogue_build)
    serve = actions.add_parser("serve", help="serve a built catalogue on 127.0.0.1 (for a lab)")
    serve.add_argument("directory", type=Path, metavar="DIR")
    serve.add_argument("--port", type=int, default=8090)
    serve.set_defaults(func=_cmd_catalogue_serve)


def html_report(args: argparse.Namespace) -> int:
    """``harness report --html FILE (BUNDLE | --journal FILE)``."""
    from harness.certification.bundles import Ed25519BundleReader
    from harness.certification.dsse import load_trusted_keys
    from harness.htmlreport import report_from_bundle, report_from_journal, write_report

    if args.html is None:
        raise UsageError("a BUNDLE goes with --html FILE")
    if (args.bundle is None) == (args.journal is None):
        raise UsageError("--html needs exactly one of BUNDLE and --journal FILE")
    catalog = load_catalog()
    if args.bundle is not None:
        bundle = Ed25519BundleReader(load_trusted_keys(args.trusted_key)).open(args.bundle)
        data = report_from_bundle(bundle, catalog, checked=bool(args.trusted_key))
    else:
        data = report_from_journal(args.journal, catalog)
    size = write_report(args.html, data)
    print(f"{data['title']}: {'CERTIFIED' if data['certified'] else 'NOT CERTIFIED'}; {data['header']['verification']}")
    print(f"report: {args.html} ({size} bytes, {data['exchange_total']} exchanges)")
    return 0 if data["certified"] else 1


def _contents(args: argparse.Namespace) -> tuple[StoreContents, Any]:
    suites = suite_versions(load_catalog())
    return open_store(args.store, args.trusted_key, suites), suites


def _cmd_matrix(args: argparse.Namespace) -> int:
    contents, suites = _contents(args)
    products, columns, cells = compatibility_matrix(contents.records, suites)
    if args.json:
        document = {
            "products": [p.as_dict() | {"ref": p.ref} for p in products],
            "suites": [{"name": s.name, "version": s.version, "status": s.status} for s in columns],
            "cells": [cell.as_dict() for cell in cells],
        }
        print(json.dumps(document, indent=2))
        return 0
    if args.html is not None:
        return _matrix_html(args.html, contents, products, columns, cells)
    width = max([len(p.ref) for p in products] + [7])
    print(f"{'product':<{width}}  " + "  ".join(f"{s.ref:<16}" for s in columns))
    for product in products:
        row = [c for c in cells if c.product == product]
        print(f"{product.ref:<{width}}  " + "  ".join(f"{c.status!s:<16}" for c in row))
    if not products:
        print("no verified evidence in the store")
    return 0


def _matrix_html(path: Path, contents: StoreContents, products: Any, columns: Any, cells: Any) -> int:
    """The matrix page, and beside it (``<stem>-evidence/``) the run report of every bundle a cell links to."""
    import harness
    from harness.htmlreport import report_from_bundle, write_report
    from harness.htmlreport.render import render
    from harness.reporting import write_atomically

    evidence = path.parent / f"{path.stem}-evidence"
    bundles = {str(b.path): b for b in contents.bundles}
    links: dict[str, str] = {}
    catalog = load_catalog()
    for cell in cells:
        if cell.bundle and cell.bundle not in links:
            name = f"{len(links) + 1:03d}-{Path(cell.bundle).name.removesuffix('.zip')}.html"
            write_report(evidence / name, report_from_bundle(bundles[cell.bundle], catalog))
            links[cell.bundle] = f"{evidence.name}/{name}"
    rows = [
        {
            "product": product,
            "cells": [
                {"suite": c.suite, "version": c.version, "status": str(c.status), "link": links.get(c.bundle or "")}
                for c in cells
                if c.product == product
            ],
        }
        for product in products
    ]
    unverified = sum(1 for b in contents.bundles if not b.verified) + len(contents.unreadable)
    page = render(
        "matrix.html.j2", suites=columns, rows=rows, unverified=unverified, harness_version=harness.__version__
    )
    try:
        write_atomically(path, page.encode())
    except OSError as exc:
        raise UsageError(f"{path}: cannot write ({exc.strerror})") from None
    print(f"matrix: {path} ({len(rows)} products, {len(columns)} suite versions, evidence in {evidence})")
    return 0


def _cmd_can_exchange(args: argparse.Namespace) -> int:
    a, b = Product.parse(args.a), Product.parse(args.b)
    contents, suites = _contents(args)
    overall, answers = can_exchange(a, b, contents.records, suites)
    if args.json:
        print(json.dumps({"answer": str(overall), "exchanges": [x.as_dict() for x in answers]}, indent=2))
    else:
        for answer in answers:
            print(f"{answer.answer!s:<8} {answer.exchange:<22} {answer.direction}: {answer.reason} ({answer.detail})")
        print(f"can-exchange {a.ref} {b.ref}: {overall}")
    return 0 if overall is Answer.YES else 1


def _cmd_catalogue_build(args: argparse.Namespace) -> int:
    from harness.certification.catalogue import build_catalogue
    from harness.certification.dsse import load_private_key

    if (args.store is None) == (not args.bundles):
        raise UsageError("catalogue build takes --store URL or BUNDLE..., one of them")
    key = load_private_key(args.catalogue_key) if args.catalogue_key else None
    suites = suite_versions(load_catalog())
    if args.store is not None:
        contents = open_store(args.store, args.trusted_key, suites)
    else:
        contents = open_bundles(args.bundles, args.trusted_key, suites)
    built = build_catalogue(args.out, contents, suites, key)
    for bundle, reason in built.rejected:
        print(f"left out {bundle}: {reason}", file=sys.stderr)
    count = len(built.feed["products"])
    signed = f", catalogue.json signed by {built.signed_by[:16]}" if built.signed_by else ", catalogue.json unsigned"
    print(f"catalogue: {args.out / 'index.html'}: {count} product(s), {len(built.rejected)} bundle(s) left out{signed}")
    return 0


def _cmd_catalogue_serve(args: argparse.Namespace) -> int:
    from harness.certification.serve import serve_catalogue

    if not (args.directory / "index.html").is_file():
        raise UsageError(f"{args.directory}: no built catalogue (index.html) there")
    if not 0 <= args.port < 65536:
        raise UsageError("--port must be 0..65535")
    return serve_catalogue(args.directory, args.port)
