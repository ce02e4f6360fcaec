"""The certified-products catalogue: a static site built only from registered certificates.

``DIR/index.html`` (searchable list), ``DIR/products/<slug>.html`` (one page per
product), ``DIR/catalogue.json`` (the feed), ``DIR/catalogue.json.dsse`` (a DSSE
envelope over the exact bytes of ``catalogue.json``, when a catalogue key is
given), ``DIR/bundles/`` (the bytes of each bundle behind a certificate, so
that anyone can verify it again with ``harness verify --rejudge``) and, when the
caller can render them (a trust list was given), ``DIR/reports/`` (each bundle's
run report, read through the one verifier), which a certificate's "Evidence" shows.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import harness
from harness.certification.matrix import certificates
from harness.certification.records import Certificate, Evidence, Product, safe_name
from harness.certification.roles import SuiteVersion
from harness.evidence.dsse import envelope
from harness.evidence.keys import keyid
from harness.htmlreport.render import render
from harness.model import UsageError
from harness.reporting import write_atomically

__all__ = ["CATALOGUE_PAYLOAD_TYPE", "CatalogueBuild", "build_catalogue", "certificate_entry", "product_slug"]

CATALOGUE_PAYLOAD_TYPE = "application/vnd.netcode.catalogue+json"


@dataclass(slots=True, frozen=True)
class CatalogueBuild:
    feed: dict[str, Any]
    rejected: tuple[tuple[str, str], ...]
    signed_by: str


def product_slug(product: Product) -> str:
    text = f"{product.supplier}-{product.product}-{product.version}".lower()
    return re.sub(r"[^a-z0-9.]+", "-", text).strip("-") + "-" + hashlib.sha256(product.ref.encode()).hexdigest()[:8]


def build_catalogue(
    out: Path,
    evidence: Evidence,
    suites: Sequence[SuiteVersion],
    bundle_bytes: Callable[[Certificate], bytes],
    key: Ed25519PrivateKey | None = None,
    report: Callable[[Path, Path], None] | None = None,
) -> CatalogueBuild:
    """Write the site from ``evidence``'s certificates; every refused bundle is listed with its reason.

    ``bundle_bytes`` gives the exact bytes of the bundle behind a certificate (from the store, or the
    file that was just verified); they are published under ``bundles/`` and checked against the
    certificate's SHA-256 first, so the catalogue never links evidence other than what was registered.
    ``report(bundle, page)``, when given, writes the run report of the published bundle file to ``page``
    (the caller puts it through the verifier); the certificate's evidence then links that page first.
    """
    try:
        return _build(out, evidence, suites, bundle_bytes, key, report)
    except OSError as exc:
        raise UsageError(f"{out}: cannot write the catalogue ({exc.strerror or exc})") from None


def certificate_entry(cell_status: str, certificate: Certificate, bundle: str, report: str | None) -> dict[str, Any]:
    """One certificate as the catalogue feed lists it (``bundle`` and ``report`` are links, relative or absolute)."""
    withdrawal = certificate.withdrawal
    return {
        "id": certificate.id,
        "suite": certificate.suite,
        "version": certificate.suite_version,
        "document": certificate.document,
        "roles": list(certificate.roles) or None,
        "status": cell_status,
        "issued": certificate.issued,
        "run": certificate.run_id,
        "bundle": bundle,
        "report": report,
        "sha256": certificate.bundle_sha256,
        "signer": {"keyid": certificate.signer.keyid, "holder": certificate.signer.holder},
        "withdrawn": None if withdrawal is None else {"reason": withdrawal.reason, "at": withdrawal.at},
        "regressions": [
            {"run": r.run_id, "registered": r.registered, "failed": list(r.failed)} for r in certificate.regressions
        ],
    }


def _page_name(bundle: str) -> str:
    return bundle.removesuffix(".evidence.zip") + ".html"


def _build(
    out: Path,
    evidence: Evidence,
    suites: Sequence[SuiteVersion],
    bundle_bytes: Callable[[Certificate], bytes],
    key: Ed25519PrivateKey | None,
    report: Callable[[Path, Path], None] | None,
) -> CatalogueBuild:
    rejected = sorted((r.source, r.reason) for r in evidence.refusals)
    held = certificates(evidence, suites)
    written: set[str] = set()
    (out / "bundles").mkdir(parents=True, exist_ok=True)
    (out / "products").mkdir(parents=True, exist_ok=True)
    if report is not None:
        (out / "reports").mkdir(parents=True, exist_ok=True)
    products: list[dict[str, Any]] = []
    for product, cells in sorted(held.items()):
        if not cells:
            continue
        entries = []
        for cell in cells:
            certificate = cell.certificate
            assert certificate is not None  # certificates() keeps only cells that hold one
            name = f"{certificate.bundle_sha256[:16]}-{safe_name(certificate.run_id)}.evidence.zip"
            if name not in written:
                data = bundle_bytes(certificate)
                if hashlib.sha256(data).hexdigest() != certificate.bundle_sha256:
                    raise UsageError(f"the bundle of certificate {certificate.id} differs from the one registered")
                write_atomically(out / "bundles" / name, data)
                if report is not None:
                    report(out / "bundles" / name, out / "reports" / _page_name(name))
                written.add(name)
            page = f"reports/{_page_name(name)}" if report is not None else None
            entries.append(certificate_entry(str(cell.status), certificate, f"bundles/{name}", page))
        products.append(
            {**product.as_dict(), "certificates": entries, "page": f"products/{product_slug(product)}.html"}
        )
    feed = {
        "harness": {"version": harness.__version__},
        "products": [{k: v for k, v in p.items() if k != "page"} for p in products],
        "rejected": [{"bundle": Path(source).name, "reason": reason} for source, reason in rejected],
    }
    raw = json.dumps(feed, indent=2, ensure_ascii=False).encode() + b"\n"
    write_atomically(out / "catalogue.json", raw)
    signed_by = ""
    if key is not None:
        signed = envelope(raw, key, CATALOGUE_PAYLOAD_TYPE)
        write_atomically(out / "catalogue.json.dsse", json.dumps(signed, indent=2).encode() + b"\n")
        signed_by = keyid(key.public_key())
    suite_titles = {s.ref: s.title for s in suites}
    for entry in products:
        page = render("catalogue_product.html.j2", p=entry, titles=suite_titles, harness_version=harness.__version__)
        write_atomically(out / entry["page"], page.encode())
    index = render(
        "catalogue_index.html.j2",
        products=products,
        rejected=feed["rejected"],
        signed_by=signed_by,
        harness_version=harness.__version__,
    )
    write_atomically(out / "index.html", index.encode())
    return CatalogueBuild(feed, tuple(rejected), signed_by)
