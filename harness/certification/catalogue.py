"""The certified-products catalogue: a static site built only from bundles that verify.

``DIR/index.html`` (searchable list), ``DIR/products/<slug>.html`` (one page per
product), ``DIR/catalogue.json`` (the feed), ``DIR/catalogue.json.dsse`` (a DSSE
envelope over the exact bytes of ``catalogue.json``, when a catalogue key is
given) and ``DIR/bundles/`` (a copy of each bundle behind a certificate).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import harness
from harness.certification.dsse import keyid, sign_envelope
from harness.certification.matrix import certificates
from harness.certification.records import Product
from harness.certification.roles import SuiteVersion
from harness.certification.store import StoreContents
from harness.htmlreport.render import render
from harness.model import UsageError
from harness.reporting import write_atomically

__all__ = ["CATALOGUE_PAYLOAD_TYPE", "CatalogueBuild", "build_catalogue", "product_slug"]

CATALOGUE_PAYLOAD_TYPE = "application/vnd.netcode.catalogue+json"


@dataclass(slots=True, frozen=True)
class CatalogueBuild:
    feed: dict[str, Any]
    rejected: tuple[tuple[str, str], ...]
    signed_by: str


def product_slug(product: Product) -> str:
    text = f"{product.supplier}-{product.product}-{product.version}".lower()
    return re.sub(r"[^a-z0-9.]+", "-", text).strip("-") + "-" + hashlib.sha256(product.ref.encode()).hexdigest()[:8]


def _bundle_name(path: str) -> str:
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return f"{digest[:16]}-{Path(path).name}"


def build_catalogue(
    out: Path, contents: StoreContents, suites: Sequence[SuiteVersion], key: Ed25519PrivateKey | None = None
) -> CatalogueBuild:
    """Write the site; only verified records count, every other bundle is listed with its reason."""
    try:
        return _build(out, contents, suites, key)
    except OSError as exc:
        raise UsageError(f"{out}: cannot write the catalogue ({exc.strerror or exc})") from None


def _build(
    out: Path, contents: StoreContents, suites: Sequence[SuiteVersion], key: Ed25519PrivateKey | None
) -> CatalogueBuild:
    rejected = [(str(b.path), b.problem) for b in contents.bundles if not b.verified] + list(contents.unreadable)
    held = certificates(contents.records, suites)
    copies: dict[str, str] = {}
    (out / "bundles").mkdir(parents=True, exist_ok=True)
    (out / "products").mkdir(parents=True, exist_ok=True)
    products: list[dict[str, Any]] = []
    for product, cells in sorted(held.items()):
        if not cells:
            continue
        entries = []
        for cell in cells:
            source = str(cell.bundle)
            if source not in copies:
                copies[source] = _bundle_name(source)
                shutil.copyfile(source, out / "bundles" / copies[source])
            entries.append(
                {
                    "suite": cell.suite,
                    "version": cell.version,
                    "status": str(cell.status),
                    "bundle": f"bundles/{copies[source]}",
                }
            )
        products.append(
            {**product.as_dict(), "certificates": entries, "page": f"products/{product_slug(product)}.html"}
        )
    feed = {
        "harness": {"version": harness.__version__},
        "products": [{k: v for k, v in p.items() if k != "page"} for p in products],
        "rejected": [{"bundle": Path(path).name, "reason": reason} for path, reason in sorted(rejected)],
    }
    raw = json.dumps(feed, indent=2, ensure_ascii=False).encode() + b"\n"
    write_atomically(out / "catalogue.json", raw)
    signed_by = ""
    if key is not None:
        envelope = sign_envelope(raw, CATALOGUE_PAYLOAD_TYPE, key)
        write_atomically(out / "catalogue.json.dsse", json.dumps(envelope, indent=2).encode() + b"\n")
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
    return CatalogueBuild(feed, tuple(sorted(rejected)), signed_by)
