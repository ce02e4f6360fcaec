"""``harness formats``, ``harness suites`` and ``harness validate``: the catalog and message files."""

from __future__ import annotations

import argparse
import json
import stat
import sys
from pathlib import Path
from typing import Any

from harness import suitecheck
from harness.catalog import Catalog, load_catalog
from harness.cli.options import suite_source
from harness.cli.profile import catalog_at, profile_option
from harness.documents import folder_digest
from harness.model import Format, UsageError
from harness.validation.validator import detect_format, validator_for

__all__ = ["register"]

MAX_FILE_BYTES = 16 << 20


def register(subparsers: Any) -> None:
    formats = subparsers.add_parser("formats", help="list the message formats of the catalog")
    formats.add_argument("--json", action="store_true", help="one JSON object per line")

    suites = subparsers.add_parser("suites", help="list the certification suites")
    suites.add_argument("--json", action="store_true", help="one JSON object per line")
    suites.add_argument(
        "--digest",
        metavar="NAME@VERSION",
        help="print the suite version's digest (evidence.md recipe) as the register's 'digest:' line",
    )
    suitecheck.add_arguments(suites)

    validate = subparsers.add_parser("validate", help="validate message files")
    validate.add_argument(
        "--format",
        dest="format_id",
        metavar="FORMAT[/VERSION]",
        help="format id, e.g. cap/1.2; without a version the newest the catalog holds (detected from the content "
        "when omitted)",
    )
    validate.add_argument("--json", action="store_true", help="one JSON object per file per line")
    validate.add_argument("--strict", action="store_true", help="warnings count as errors (exit 1)")
    validate.add_argument(
        "--explain", action="store_true", help="also print the decoded fields of a binary message (MCData)"
    )
    profile_option(validate)
    validate.add_argument("paths", nargs="+", metavar="PATH")

    formats.set_defaults(func=_cmd_formats)
    suites.set_defaults(func=_cmd_suites)
    validate.set_defaults(func=_cmd_validate)


def _cmd_formats(args: argparse.Namespace) -> int:
    catalog = load_catalog()
    for fmt in sorted(catalog.formats.values(), key=lambda f: f.id):
        if args.json:
            print(
                json.dumps(
                    {
                        "id": fmt.id,
                        "title": fmt.title,
                        "syntax": fmt.syntax,
                        "mediaTypes": list(fmt.media_types),
                        "rules": fmt.rule_set,
                        **({"document": f"{fmt.document}@{fmt.rules_version}"} if fmt.document else {}),
                        "samples": {"valid": len(fmt.valid_samples), "invalid": len(fmt.invalid_samples)},
                    }
                )
            )
        else:
            print(f"{fmt.id:<24} {fmt.syntax:<5} {fmt.media_type:<45} {fmt.title}")
    return 0


def _cmd_suites(args: argparse.Namespace) -> int:
    if args.check:
        return suitecheck.check_suites(args)
    catalog = load_catalog()
    if args.digest:
        if "@" not in args.digest:
            raise UsageError(f"--digest {args.digest}: name the version (NAME@VERSION)")
        suite = catalog.suite(args.digest)
        print(f"digest: {{sha256: {folder_digest(Path(suite.directory))}}}")
        return 0
    for name in sorted(catalog.suites):
        for version, suite in sorted(catalog.suites[name].items()):
            must = sum(1 for s in suite.scenarios if s["level"] == "MUST")
            if args.json:
                print(
                    json.dumps(
                        {
                            "name": name,
                            "version": version,
                            "status": str(suite.status),
                            "certifies": suite.certifies_text or None,
                            "digest": {"sha256": suite.digest} if suite.digest else None,
                            "issued": suite.digest is not None,
                            "title": suite.title,
                            "scenarios": len(suite.scenarios),
                            "must": must,
                            "source": suite_source(catalog, suite),
                        }
                    )
                )
            else:
                issued = "" if suite.digest else "  (not issued: no digest in the register)"
                print(
                    f"{suite.ref:<22} {suite.status:<10} {suite.certifies_text or '-':<18} "
                    f"{len(suite.scenarios):>3} scenarios ({must} MUST)  {suite.title}"
                    f"  [{suite_source(catalog, suite)}]{issued}"
                )
    return 0


# -- validate ---------------------------------------------------------------------


def _read_file(path: str) -> bytes:
    file = Path(path)
    try:
        info = file.stat()
        if stat.S_ISDIR(info.st_mode):
            raise UsageError(f"{path}: is a directory")
        if not stat.S_ISREG(info.st_mode):
            # A FIFO or a device would block or never end: only regular files are messages.
            raise UsageError(f"{path}: not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise UsageError(f"{path}: {info.st_size} bytes is over the {MAX_FILE_BYTES}-byte limit for a message file")
        with file.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)  # the file may grow after stat
        if len(data) > MAX_FILE_BYTES:
            raise UsageError(f"{path}: over the {MAX_FILE_BYTES}-byte limit for a message file")
        return data
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except PermissionError:
        raise UsageError(f"{path}: permission denied") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None


def format_named(catalog: Catalog, text: str) -> Format:
    """``cap/1.2``, or ``cap`` for the newest version of ``cap`` the catalog holds (docs/decisions-users.md)."""
    if "/" in text or text in catalog.formats:
        return catalog.format(text)
    versions = [fmt for fmt in catalog.formats.values() if fmt.id.partition("/")[0] == text]
    if not versions:
        return catalog.format(text)  # the catalog's own error, naming every known format
    return max(versions, key=lambda fmt: _version_key(fmt.id.partition("/")[2]))


def _version_key(version: str) -> tuple[tuple[int, str], ...]:
    return tuple((int(part), "") if part.isdigit() else (-1, part) for part in version.split("."))


def _binary_hint(data: bytes) -> str:
    """Why a binary file was not recognised: only unprotected MCData messages of a known type are (by content)."""
    if not data or (b"\0" not in data[:512] and (0x20 <= data[0] < 0x7F or data[0] in b"\t\r\n\xef")):
        return ""  # text (a UTF-8 BOM included): the hint is about binary messages only
    return (
        f" (binary, first octet 0x{data[0]:02X}: not an unprotected MCData message of a type the catalog knows, "
        "complete to its mandatory part; e.g. --format mcdata-signalling)"
    )


def _explained(fmt: Format, data: bytes) -> list[str]:
    from harness.validation.validator import explain  # a family's codec: loaded only when a message is explained

    return explain(fmt, data)


def _cmd_validate(args: argparse.Namespace) -> int:
    catalog = catalog_at(args)
    forced = format_named(catalog, args.format_id) if args.format_id else None
    worst = 0
    for path in args.paths:
        shown = path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        try:
            data = _read_file(path)
            fmt = forced or detect_format(list(catalog.formats.values()), data)
            if fmt is None:
                raise UsageError(
                    f"{shown}: cannot tell the format from the content{_binary_hint(data)}; name it with --format"
                )
        except UsageError as exc:
            print(f"harness: {str(exc).replace(path, shown)}", file=sys.stderr)
            worst = 2
            continue
        validation = validator_for(fmt).validate(data)
        warned = len(validation.warnings)
        decoded = _explained(fmt, data) if args.explain else []
        if args.json:
            print(
                json.dumps(
                    {
                        "path": shown,
                        "format": fmt.id,
                        "valid": validation.valid,
                        "errors": [f.as_dict() for f in validation.findings],
                        "warnings": [f.as_dict() for f in validation.warnings],
                        **({"decoded": decoded} if args.explain else {}),
                    },
                    ensure_ascii=False,
                )
            )
        elif validation.valid and not (args.strict and warned):
            print(f"{shown}: valid {fmt.id}" + (f" ({warned} warning(s))" if warned else ""))
        else:
            strict = f", {warned} warning(s) counted as errors (--strict)" if args.strict and warned else ""
            print(f"{shown}: INVALID {fmt.id} ({len(validation.findings)} error(s){strict})")
            for finding in validation.findings:
                print(f"  {finding.rule:<7} {finding.location or '/'}: {finding.message}")
        if not args.json:
            for finding in validation.warnings:
                print(f"  warning {finding.rule:<7} {finding.location or '/'}: {finding.message}")
            if decoded:
                print("  decoded:")
                for line in decoded:
                    print(f"    {line}")
        if not validation.valid or (args.strict and warned):
            worst = max(worst, 1)
    return worst
