"""Command-line seams of the catalog: ``--catalog DIR`` on every command, ``--version``, where suites come from.

Registered once, in harness/cli/__init__.py, after every command family has added its commands.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import harness
from harness.catalog import Catalog, bundled_fixtures, load_catalog, use_folders
from harness.model import HarnessError, Suite, UsageError
from harness.transport import TransportOptions

__all__ = [
    "VersionAction",
    "add_catalog_option",
    "add_credential_options",
    "apply_catalog_option",
    "credentials_from",
    "suite_source",
    "version_text",
]


def add_catalog_option(commands: Any) -> None:
    """Give every sub-command of ``commands`` (an argparse sub-parsers action) a repeatable ``--catalog DIR``."""
    for parser in dict.fromkeys(commands.choices.values()):  # an alias maps to the same parser
        parser.add_argument(
            "--catalog",
            action="append",
            type=Path,
            default=[],
            metavar="DIR",
            help="add a catalog folder (formats/, suites/, datasets/) to the bundled one; repeatable",
        )


def apply_catalog_option(args: argparse.Namespace) -> None:
    """Make the ``--catalog`` folders of ``args`` part of every catalog loaded from now on."""
    use_folders(tuple(getattr(args, "catalog", None) or ()))


def suite_source(catalog: Catalog, suite: Suite) -> str:
    """``bundled`` for a suite of the harness's own catalog, else the catalog folder it was read from."""
    origin = catalog.origin(suite)
    return "bundled" if origin.resolve() == bundled_fixtures().resolve() else str(origin)


def version_text() -> str:
    """The harness version, then every suite of the catalog with its versions (or why there is none)."""
    lines = [f"harness {harness.__version__}"]
    try:
        catalog = load_catalog()
    except HarnessError as exc:
        return "\n".join([*lines, f"catalog: {exc}"])
    lines.append(f"catalog: {', '.join(str(root) for root in catalog.roots)}")
    for name, versions in sorted(catalog.suites.items()):
        lines.append(f"  {name} {', '.join(sorted(versions))}")
    return "\n".join(lines)


class VersionAction(argparse.Action):
    """``--version``: :func:`version_text`, computed only when asked for (it reads the catalog)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        sys.stdout.write(version_text() + "\n")
        parser.exit(0)


def add_credential_options(parser: argparse.ArgumentParser) -> None:
    """``--header``, ``--ca-bundle``, ``--client-cert``, ``--client-key``, ``--key-password-env`` (run and load)."""
    parser.add_argument(
        "--header",
        action="append",
        metavar="'NAME: VALUE'",
        help="extra header on every request; the value of Authorization, Cookie and any header whose name "
        "contains key, token, secret, password or auth is a credential, never written to any output",
    )
    parser.add_argument(
        "--secret-header",
        action="append",
        metavar="'NAME: VALUE'",
        help="like --header, for a credential whose header name does not say so: its value is never written",
    )
    parser.add_argument("--ca-bundle", help="PEM file of CAs to trust for an https target")
    parser.add_argument("--client-cert", help="PEM client certificate (chain) for mutual TLS")
    parser.add_argument("--client-key", help="PEM private key of the client certificate")
    parser.add_argument("--key-password-env", metavar="VAR", help="environment variable holding the key's password")


def credentials_from(args: argparse.Namespace) -> TransportOptions:
    """TLS files and extra headers from the command line; the key password only from the environment."""
    headers: list[tuple[str, str]] = []
    marked: list[str] = []
    given = [(text, False) for text in args.header or ()]
    given += [(text, True) for text in getattr(args, "secret_header", None) or ()]
    for text, secret in given:
        name, sep, value = text.partition(":")
        if not sep or not name.strip() or any(c in name for c in " \t"):
            option = "--secret-header" if secret else "--header"
            raise UsageError(f"bad {option}: expected 'Name: value'")  # never the value: it may be a secret
        headers.append((name.strip(), value.strip()))
        if secret:
            marked.append(name.strip())
    for option in ("ca_bundle", "client_cert", "client_key"):
        path = getattr(args, option)
        if path and not Path(path).is_file():
            raise UsageError(f"--{option.replace('_', '-')} {path}: no such file")
    if args.client_key and not args.client_cert:
        raise UsageError("--client-key needs --client-cert")
    password = os.environ.get(args.key_password_env) if args.key_password_env else None
    if args.key_password_env and password is None:
        raise UsageError(f"--key-password-env names {args.key_password_env}, which is not set")
    return TransportOptions(
        ca_bundle=args.ca_bundle,
        client_cert=args.client_cert,
        client_key=args.client_key,
        key_password=password,
        headers=tuple(headers),
        secret_names=tuple(marked),
    )
