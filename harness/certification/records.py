"""Verified run records: what the matrix, can-exchange and the catalogue are computed from."""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.model import UsageError

__all__ = ["Product", "VerifiedRunRecord"]

_PRODUCT = re.compile(r"(?P<supplier>[^/@\s]+)/(?P<product>[^/@\s]+)@(?P<version>[^/@\s]+)")


@dataclass(slots=True, frozen=True, order=True)
class Product:
    """A product as the operator declared it when the run was made (``supplier/product@version``)."""

    supplier: str
    product: str
    version: str

    @property
    def ref(self) -> str:
        return f"{self.supplier}/{self.product}@{self.version}"

    @classmethod
    def parse(cls, text: str) -> Product:
        match = _PRODUCT.fullmatch(text.strip())
        if match is None:
            raise UsageError(f"bad product {text!r}: expected SUPPLIER/PRODUCT@VERSION")
        return cls(match["supplier"], match["product"], match["version"])

    def as_dict(self) -> dict[str, str]:
        return {"supplier": self.supplier, "product": self.product, "version": self.version}


@dataclass(slots=True, frozen=True)
class VerifiedRunRecord:
    """One certification run as its evidence shows it.

    ``verified`` says whether the bundle verified against a trusted key; records
    that did not are kept (the catalogue lists them as rejected) but never count
    as evidence. ``status`` is the life of the suite version (``current``,
    ``superseded`` or ``retired``) as known when the records are read.
    """

    product: Product
    suite: str
    suite_version: str
    certified: bool
    status: str
    bundle: str
    verdicts: tuple[tuple[str, str], ...]
    """(scenario id, verdict) for every scenario of the run."""
    verified: bool
    finished: str = ""
    """RFC 3339 UTC end of the run: the latest record of a product and suite version wins."""
    signer: str = ""
    """keyid (hex SHA-256 of the Ed25519 public key) of the signature that verified, if any."""
    levels: tuple[tuple[str, str], ...] = ()
    """(scenario id, MUST|SHOULD), when known: failed MUST scenarios explain a refusal."""

    @property
    def suite_ref(self) -> str:
        return f"{self.suite}@{self.suite_version}"

    def failed_scenarios(self) -> tuple[str, ...]:
        """Scenarios that did not pass (MUST ones when levels are known)."""
        must = {sid for sid, level in self.levels if level == "MUST"}
        return tuple(
            sid for sid, verdict in self.verdicts if verdict in ("failed", "error") and (not must or sid in must)
        )
