"""``harness report --html``, ``harness matrix``, ``harness can-exchange`` and ``harness catalogue``.

Each command family registers itself with :func:`register` (the CLI's command-module pattern).
Matrix, can-exchange and ``catalogue build --store`` read the certificates of the run store (by default
the same store ``harness run`` records into); ``catalogue build BUNDLE...`` registers nothing and puts
each bundle through the one verifier, re-judging. Every bundle any of them shows went through
:class:`harness.evidence.Verifier`; none of them opens a bundle itself.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.catalog import Catalog, load_catalog
from harness.certification import (
    Answer,
    Certificate,
    Evidence,
    FailedRun,
    MatrixCell,
    Refusal,
    SuiteVersion,
    can_exchange,
    compatibility_matrix,
    parse_product,
    suite_versions,
)
from harness.certification.matrix import exchange_document, matrix_document, per_exchange
from harness.certification.records import safe_name, why_not_certifying
from harness.cli.options import add_trust_arguments, trust_from_args
from harness.cli.store import add_store_argument, bundle_paths, printable, store_of
from harness.evidence import TrustList, Verifier
from harness.evidence.verified import Outcome, OutcomeKind, SutRef
from harness.model import UsageError
from harness.register.lifecycle import with_published
from harness.reporting import printable_json

if TYPE_CHECKING:  # imported where a store is opened (SQLAlchemy and Alembic are not every command's cost)
    from harness.store import Store

__all__ = ["html_report", "register"]


def register(subparsers: Any) -> None:
    matrix = subparsers.add_parser("matrix", help="products against suite versions: certificates of the store")
    add_store_argument(matrix)
    add_trust_arguments(matrix)
    shape = matrix.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="one JSON document")
    shape.add_argument("--html", type=Path, metavar="FILE", help="a page, each cell linking to its evidence")
    matrix.set_defaults(func=_cmd_matrix)

    exchange = subparsers.add_parser(
        "can-exchange", help="can two products interoperate, exchange by exchange, on the store's certificates?"
    )
    exchange.add_argument("a", metavar="A", help="SUPPLIER/PRODUCT@VERSION (spaces allowed: quote it)")
    exchange.add_argument("b", metavar="B", help="SUPPLIER/PRODUCT@VERSION")
    add_store_argument(exchange)
    add_trust_arguments(exchange)
    exchange.add_argument("--json", action="store_true")
    exchange.set_defaults(func=_cmd_can_exchange)

    catalogue = subparsers.add_parser("catalogue", help="the certified-products catalogue")
    actions = catalogue.add_subparsers(dest="catalogue_command", required=True, parser_class=type(catalogue))
    build = actions.add_parser(
        "build", help="build the static site from the store's certificates, or from bundles verified now"
    )
    build.add_argument("--out", type=Path, required=True, metavar="DIR")
    add_trust_arguments(build)
    build.add_argument("--catalogue-key", type=Path, metavar="PREFIX.key", help="Ed25519 key signing catalogue.json")
    add_store_argument(build)
    build.add_argument("bundles", nargs="*", type=Path, metavar="BUNDLE|DIR")
    build.set_defaults(func=_cmd_catalogue_build)
    serve = actions.add_parser("serve", help="serve a built catalogue on 127.0.0.1 (for a lab)")
    serve.add_argument("directory", type=Path, metavar="DIR")
    serve.add_argument("--port", type=int, default=8090)
    serve.set_defaults(func=_cmd_catalogue_serve)


def html_report(args: argparse.Namespace) -> int:
    """``harness report --html FILE (BUNDLE [--trust-list F] | --journal FILE)``: exit 1 unless it certifies."""
    from harness.htmlreport import report_from_journal, write_report

    if args.html is None:
        raise UsageError("a BUNDLE goes with --html FILE")
    if (args.bundle is None) == (args.journal is None):
        raise UsageError("--html needs exactly one of BUNDLE and --journal FILE")
    catalog = load_catalog()
    if args.bundle is None:
        data = report_from_journal(args.journal, catalog)
        size = write_report(args.html, data)
        certified = bool(data["certified"])
        verdict = "CERTIFIED" if certified else "NOT CERTIFIED"
        print(printable(f"{data['title']}: {verdict}; {data['header']['verification']}"))  # names from the journal
    else:
        outcome, size, data = _bundle_report(Verifier(catalog, trust_from_args(args)), args.bundle, args.html, catalog)
        certified = outcome.bundle is not None and outcome.bundle.certifies
        if outcome.valid:
            print(printable(f"{data['title']}: {data['verdict']}; {data['header']['verification']}"))
        else:
            print(printable(f"{args.bundle}: NOT VERIFIED: {outcome.line()}"))
    print(printable(f"report: {args.html} ({size} bytes, {data['exchange_total']} exchanges)"))
    return 0 if certified else 1


def _bundle_report(
    verifier: Verifier, bundle: Path, out: Path, catalog: Catalog | None
) -> tuple[Outcome, int, dict[str, Any]]:
    """The report page of ``bundle``, read from the verifier's own open handle (NOT VERIFIED when it is not valid)."""
    from harness.htmlreport import report_from_bundle, report_not_verified, write_report

    with verifier.open(bundle, rejudge=False) as opened:
        outcome = opened.outcome
        if outcome.kind is OutcomeKind.UNREADABLE:  # no bundle at all: a usage error, no page (as verify: exit 2)
            raise UsageError(f"{bundle}: {outcome.line()}")
        if outcome.valid and outcome.bundle is not None:
            data = report_from_bundle(outcome.bundle, opened.exchanges(), catalog)
        else:
            data = report_not_verified(outcome)
        size = write_report(out, data)
    return outcome, size, data


# -- what the matrix, can-exchange and the catalogue read ----------------------------------------------------------


def _suites() -> tuple[Catalog, tuple[SuiteVersion, ...]]:
    catalog = load_catalog()
    return catalog, suite_versions(catalog)


def _rechecked(evidence: Evidence, store: Store, verifier: Verifier) -> Evidence:
    """The store's evidence, keeping only what verifies again against the trust list given on the command line.

    Each registered bundle's bytes go through the verifier again (registration re-judged them; this checks
    the signer against the reader's own list); what does not verify is left out, with the verifier's line.
    """
    verdicts: dict[str, Outcome] = {}
    with tempfile.TemporaryDirectory(prefix="harness-recheck-") as folder:

        def check(sha256: str, run_id: str) -> Outcome:
            if sha256 not in verdicts:
                path = Path(folder) / f"{safe_name(run_id)}.evidence.zip"
                path.write_bytes(store.bundle_bytes(sha256))
                verdicts[sha256] = verifier.verify(path, rejudge=False)
                path.unlink()
            return verdicts[sha256]

        refusals = list(evidence.refusals)
        kept_failures: list[FailedRun] = []
        for failure in evidence.failures:
            outcome = check(failure.bundle_sha256, failure.run_id)
            if outcome.valid:
                kept_failures.append(failure)
            else:
                refusals.append(Refusal(f"run {failure.run_id}", outcome.line()))
        trusted_failures = {f.run_id for f in kept_failures}
        kept: list[Certificate] = []
        for certificate in evidence.certificates:
            outcome = check(certificate.bundle_sha256, certificate.run_id)
            if outcome.valid and outcome.bundle is not None and outcome.bundle.certifies:
                regressions = tuple(r for r in certificate.regressions if r.run_id in trusted_failures)
                kept.append(replace(certificate, regressions=regressions))
            else:
                reason = outcome.line() if not outcome.valid else "valid, but " + _why(outcome)
                refusals.append(Refusal(f"certificate {certificate.id} (run {certificate.run_id})", reason))
    return Evidence(tuple(kept), tuple(kept_failures), tuple(refusals))


def _why(outcome: Outcome) -> str:
    return why_not_certifying(outcome.bundle) if outcome.bundle is not None else outcome.line()


def _store_evidence(args: argparse.Namespace, catalog: Catalog) -> tuple[Evidence, Store]:
    """The store's evidence (re-checked when a trust list is given); the caller closes the store."""
    trust = trust_from_args(args)
    store = store_of(args)
    try:
        evidence = store.evidence()
        if trust:
            evidence = _rechecked(evidence, store, Verifier(catalog, trust))
    except BaseException:
        store.close()
        raise
    return evidence, store


def _bundles_evidence(paths: Sequence[Path], verifier: Verifier) -> tuple[Evidence, dict[str, Path]]:
    """Evidence from bundle files verified now (re-judged): nothing is registered, nothing is issued for good."""
    from harness.store import certificate_id

    certificates: list[Certificate] = []
    failures: list[FailedRun] = []
    refusals: list[Refusal] = []
    files: dict[str, Path] = {}
    for path in paths:
        outcome = verifier.verify(path, rejudge=True)
        bundle = outcome.bundle
        if not outcome.valid or bundle is None:
            refusals.append(Refusal(str(path), outcome.line()))
            continue
        files[bundle.sha256] = path
        if bundle.certifies:
            assert bundle.sut is not None and bundle.signer is not None
            certificates.append(
                Certificate(
                    certificate_id(bundle.sha256),
                    bundle.sut,
                    bundle.suite,
                    bundle.suite_version,
                    bundle.document,
                    bundle.run_id,
                    bundle.sha256,
                    bundle.signer,
                    "",
                )
            )
        elif bundle.signer is not None and bundle.sut is not None and bundle.certifying:
            failures.append(
                FailedRun(
                    bundle.run_id,
                    bundle.sut,
                    bundle.suite,
                    bundle.suite_version,
                    "",
                    bundle.failed_scenarios(),
                    bundle.signer,
                    bundle.sha256,
                )
            )
            refusals.append(Refusal(str(path), f"valid, but {why_not_certifying(bundle)}"))
        else:
            refusals.append(Refusal(str(path), f"valid, but {why_not_certifying(bundle)}"))
    return Evidence(tuple(certificates), tuple(failures), tuple(refusals)), files


def _print_refusals(refusals: Iterable[Refusal]) -> int:
    count = 0
    for refusal in refusals:
        count += 1
        print(printable(f"left out {refusal.source}: {refusal.reason}"), file=sys.stderr)
    return count


def _cmd_matrix(args: argparse.Namespace) -> int:
    catalog, suites = _suites()
    evidence, store = _store_evidence(args, catalog)
    try:
        suites = tuple(with_published(suites, store.suite_life()))  # the body's published life-cycle changes
        products, columns, cells = compatibility_matrix(evidence, suites)
        if args.json:
            document = matrix_document(evidence, suites)
            print(printable_json(document, indent=2, ensure_ascii=False))
            return 0
        if args.html is not None:
            return _matrix_html(args.html, store, evidence, products, columns, cells, trust_from_args(args), catalog)
    finally:
        store.close()
    width = max([len(printable(p.ref)) for p in products] + [7])
    print(printable(f"{'product':<{width}}  " + "  ".join(f"{s.ref:<16}" for s in columns)))
    for product in products:
        row = [c for c in cells if c.product == product]
        print(printable(f"{printable(product.ref):<{width}}  " + "  ".join(f"{_cell_text(c):<16}" for c in row)))
    for cell in cells:
        for regression in cell.regressions:
            failed = ", ".join(regression.failed) or "not certified"
            print(
                printable(
                    f"regression: {cell.product.ref} {cell.suite}@{cell.version}: run {regression.run_id} "
                    f"registered {regression.registered} failed {failed} (certificate stands)"
                )
            )
    if not products:
        print("no registered evidence in the store")
    _print_refusals(evidence.refusals)
    return 0


def _cell_text(cell: MatrixCell) -> str:
    roles = cell.certificate.roles if cell.certificate is not None else ()
    covered = f" ({', '.join(roles)})" if roles else ""  # a role-limited certificate names the roles it covers
    return f"{cell.status}{covered}{' (regression)' if cell.regressions else ''}"


def _matrix_html(
    path: Path,
    store: Store,
    evidence: Evidence,
    products: list[SutRef],
    columns: list[SuiteVersion],
    cells: list[MatrixCell],
    trust: TrustList,
    catalog: Catalog,
) -> int:
    """The matrix page, and beside it (``<stem>-evidence/``) each cell's evidence.

    With a trust list, a cell links the run report of its bundle, rendered through the verifier; without
    one, the verifier would refuse every signed bundle, so a cell links the registered bundle itself.
    """
    import harness
    from harness.htmlreport.render import render
    from harness.reporting import write_atomically

    evidence_dir = path.parent / f"{path.stem}-evidence"
    links: dict[str, str] = {}
    sha_of = {c.run_id: c.bundle_sha256 for c in evidence.certificates} | {
        f.run_id: f.bundle_sha256 for f in evidence.failures
    }
    try:
        evidence_dir.mkdir(parents=True, exist_ok=True)
        verifier = Verifier(catalog, trust)
        for cell in cells:
            run_id = cell.run_id
            if run_id is None or run_id in links:
                continue
            bundle = evidence_dir / f"{safe_name(run_id)}.evidence.zip"
            write_atomically(bundle, store.bundle_bytes(sha_of[run_id]))
            if trust:
                page = evidence_dir / f"{safe_name(run_id)}.html"
                _bundle_report(verifier, bundle, page, catalog)
                links[run_id] = f"{evidence_dir.name}/{page.name}"
            else:
                links[run_id] = f"{evidence_dir.name}/{bundle.name}"
        rows = [
            {
                "product": product,
                "cells": [
                    {
                        "suite": c.suite,
                        "version": c.version,
                        "status": str(c.status),
                        "roles": list(c.certificate.roles) if c.certificate is not None else [],
                        "link": links.get(c.run_id or ""),
                        "regressions": [r.run_id for r in c.regressions],
                        "issued": c.issued,
                        "last_run": c.last_run,
                    }
                    for c in cells
                    if c.product == product
                ],
            }
            for product in products
        ]
        page_text = render(
            "matrix.html.j2",
            suites=columns,
            rows=rows,
            unverified=len(evidence.refusals),
            refusals=evidence.refusals,
            rechecked=bool(trust),
            harness_version=harness.__version__,
        )
        write_atomically(path, page_text.encode())
    except OSError as exc:
        raise UsageError(f"{path}: cannot write ({exc.strerror or exc})") from None
    print(f"matrix: {path} ({len(rows)} products, {len(columns)} suite versions, evidence in {evidence_dir})")
    return 0


def _cmd_can_exchange(args: argparse.Namespace) -> int:
    a, b = parse_product(args.a), parse_product(args.b)
    catalog, suites = _suites()
    evidence, store = _store_evidence(args, catalog)
    try:
        suites = tuple(with_published(suites, store.suite_life()))  # the body's published life-cycle changes
    finally:
        store.close()
    known = evidence.products()
    unknown = [p for p in (a, b) if p not in known]
    if unknown:
        names = ", ".join(repr(p.ref) for p in known) or "none: register bundles with 'harness runs import'"
        raise UsageError(f"unknown product {unknown[0].ref!r}; the store knows {names}")
    overall, answers = can_exchange(a, b, evidence, suites)
    by_exchange = per_exchange(answers)
    if args.json:
        document = exchange_document(a, b, overall, answers)
        print(printable_json(document, indent=2, ensure_ascii=False))
    else:
        # Covered exchanges first (they decide), then those no suite can decide; each with its directions.
        ordered = sorted(by_exchange, key=lambda name: (by_exchange[name] is Answer.NOT_COVERED, name))
        for name in ordered:
            print(printable(f"{by_exchange[name]!s:<12} {name}"))
            for answer in answers:
                if answer.exchange == name:
                    reason = "" if answer.answer is Answer.NOT_COVERED else f"{answer.answer}, {answer.reason}: "
                    print(printable(f"    {answer.direction}: {reason}{answer.detail}"))
        left = sorted(name for name, answer in by_exchange.items() if answer is Answer.NOT_COVERED)
        apart = f"; not covered (no suite certifies one side): {', '.join(left)}" if left else ""
        counted = f"{len(by_exchange) - len(left)} of {len(by_exchange)} exchanges covered"
        print(printable(f"can-exchange {a.ref} {b.ref}: {overall} ({counted}{apart})"))
    return 0 if overall is Answer.YES else 1


def _cmd_catalogue_build(args: argparse.Namespace) -> int:
    from harness.certification.catalogue import build_catalogue
    from harness.evidence.keys import DEFAULT_PASSWORD_ENV, load_private, password_from_env

    if args.store is not None and args.bundles:
        raise UsageError("catalogue build takes --store URL or BUNDLE..., not both")
    key = (
        load_private(args.catalogue_key, password_from_env(DEFAULT_PASSWORD_ENV, False)) if args.catalogue_key else None
    )
    catalog, suites = _suites()
    fetch: Callable[[Certificate], bytes]
    if args.bundles:
        trust = trust_from_args(args)
        if not trust:
            raise UsageError("catalogue build BUNDLE... needs --trust-list FILE (or --trusted-key): nothing is trusted")
        missing = [p for p in args.bundles if not p.exists()]
        if missing:
            raise UsageError(f"{missing[0]}: no such file or folder")
        evidence, files = _bundles_evidence(list(bundle_paths(args.bundles)), Verifier(catalog, trust))

        def fetch(certificate: Certificate) -> bytes:
            return files[certificate.bundle_sha256].read_bytes()

        writer: Callable[[Path, Path], None] | None = _report_writer(catalog, trust)
        built = build_catalogue(args.out, evidence, suites, fetch, key, writer)
    else:
        evidence, store = _store_evidence(args, catalog)
        trust = trust_from_args(args)
        writer = _report_writer(catalog, trust) if trust else None
        try:
            suites = tuple(with_published(suites, store.suite_life()))  # the body's published life-cycle changes
            built = build_catalogue(
                args.out, evidence, suites, lambda c: store.bundle_bytes(c.bundle_sha256), key, writer
            )
        finally:
            store.close()

    left_out = _print_refusals(evidence.refusals)
    count = len(built.feed["products"])
    signed = f", catalogue.json signed by {built.signed_by[:16]}" if built.signed_by else ", catalogue.json unsigned"
    print(printable(f"catalogue: {args.out / 'index.html'}: {count} product(s), {left_out} bundle(s) left out{signed}"))
    if writer is None and count:  # without a trust list the verifier would refuse every signed bundle
        print("catalogue: evidence links the bundles only; give --trust-list to render each run report beside them")
    return 0


def _report_writer(catalog: Catalog, trust: TrustList) -> Callable[[Path, Path], None]:
    """The run report of a published bundle, through the one verifier with the reader's trust list."""
    verifier = Verifier(catalog, trust)

    def write(bundle: Path, page: Path) -> None:
        _bundle_report(verifier, bundle, page, catalog)

    return write


def _cmd_catalogue_serve(args: argparse.Namespace) -> int:
    from harness.certification.serve import serve_catalogue

    if not (args.directory / "index.html").is_file():
        raise UsageError(f"{args.directory}: no built catalogue (index.html) there")
    if not 0 <= args.port < 65536:
        raise UsageError("--port must be 0..65535")
    return serve_catalogue(args.directory, args.port)
