"""``--profile DOCUMENT=VERSION``: the document versions of the profile a command judges by or plays."""

from __future__ import annotations

import argparse

from harness.catalog import Catalog, document_versions, load_catalog

__all__ = ["catalog_at", "profile_option"]


def profile_option(parser: argparse.ArgumentParser, verb: str = "judge by") -> None:
    parser.add_argument(
        "--profile",
        action="append",
        metavar="DOCUMENT=VERSION",
        help=f"{verb} this version of a document of the profile (repeatable; default: the current ones), "
        "e.g. alerts=1.0",
    )


def catalog_at(args: argparse.Namespace) -> Catalog:
    """The catalog as the ``--profile`` document versions see it (the current versions without any)."""
    catalog = load_catalog()
    return catalog.at(dict(document_versions(text) for text in getattr(args, "profile", None) or ()))
