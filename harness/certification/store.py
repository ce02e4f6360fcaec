"""Where verified run records come from, behind one narrow interface.

``--store URL`` names the run store. Until the SQL run store is wired in, a store
is a folder of evidence bundles (``file:DIR`` or a plain path): every
``*.evidence.zip`` under it is read and verified against the trusted keys
(``--trusted-key`` and any ``*.pem`` in ``DIR/trusted-keys/``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.certification.bundles import Ed25519BundleReader, OpenedBundle, mapping
from harness.certification.dsse import load_trusted_keys
from harness.certification.records import VerifiedRunRecord
from harness.certification.roles import SuiteVersion
from harness.model import UsageError

__all__ = ["DEFAULT_STORE", "StoreContents", "open_bundles", "open_store"]

DEFAULT_STORE = os.environ.get("HARNESS_STORE", "reports/store")


@dataclass(slots=True, frozen=True)
class StoreContents:
    records: tuple[VerifiedRunRecord, ...]
    bundles: tuple[OpenedBundle, ...]
    unreadable: tuple[tuple[str, str], ...]
    """(path, reason) of files that are no evidence bundle at all."""


def _store_folder(url: str) -> Path:
    if url.startswith("file://"):
        folder = Path(url[len("file://") :])
    elif url.startswith("file:"):
        folder = Path(url[len("file:") :])
    elif "://" in url:
        raise UsageError(f"store {url!r}: only a folder of evidence bundles (file:DIR or DIR) is supported here yet")
    else:
        folder = Path(url)
    if not folder.is_dir():
        raise UsageError(f"store {url!r}: no such folder")
    return folder


def open_bundles(paths: Sequence[Path], trusted_keys: Sequence[Path], suites: Sequence[SuiteVersion]) -> StoreContents:
    """Read and verify every bundle; records of unverified bundles carry ``verified=False``."""
    reader = Ed25519BundleReader(load_trusted_keys(trusted_keys))
    life = {(s.name, s.version): s.status for s in suites}
    opened: list[OpenedBundle] = []
    records: list[VerifiedRunRecord] = []
    unreadable: list[tuple[str, str]] = []
    for path in paths:
        try:
            bundle = reader.open(path)
        except UsageError as exc:
            unreadable.append((str(path), str(exc).removeprefix(f"{path}: ")))
            continue
        suite = mapping(bundle.results.get("suite"))
        status = life.get((str(suite.get("name")), str(suite.get("version"))), "current")
        opened.append(bundle)
        records.append(bundle.record(status))  # the suite version's life as the catalog knows it now
    return StoreContents(tuple(records), tuple(opened), tuple(unreadable))


def open_store(url: str, trusted_keys: Sequence[Path], suites: Sequence[SuiteVersion]) -> StoreContents:
    folder = _store_folder(url)
    keys = list(trusted_keys) + sorted((folder / "trusted-keys").glob("*.pem"))
    return open_bundles(sorted(folder.rglob("*.evidence.zip")), keys, suites)
