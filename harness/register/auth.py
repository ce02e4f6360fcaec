"""Who submits to the register, and what an organisation may submit (docs/register.md, "Who may submit").

A submitter is an **organisation**: named by the bearer token the body issued to it (``harness register
token issue``; the store keeps only the token's hash) or, under mutual TLS, by the subject of the client
certificate the body's CA issued (its ``O``, else its ``CN``). Reads are public.

Scope: an organisation may submit a bundle when it is the **holder of the trust-list key that signed it**
(an accredited lab, or a supplier self-signing) or the **supplier the run declares** (a supplier handing
in its lab's evidence). Anything else is 403: a token is not a licence to file evidence about other
organisations' products.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.evidence.verified import VerifiedBundle

__all__ = ["bearer_token", "org_from_certificate", "scope_refusal"]

_MAX_TOKEN = 256


def bearer_token(header: str | None) -> str | None:
    """The token of ``Authorization: Bearer TOKEN``; None when absent, of another scheme, or malformed."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > _MAX_TOKEN or any(c.isspace() for c in token):
        return None
    return token


def org_from_certificate(peercert: Mapping[str, Any] | None) -> str | None:
    """The organisation a verified client certificate names: its subject's O, else its CN; None without one.

    ``peercert`` is :meth:`ssl.SSLSocket.getpeercert` of a certificate the server verified against
    ``--client-ca`` (an unverified one is never handed over by :mod:`ssl`).
    """
    if not peercert:
        return None
    fields: dict[str, str] = {}
    for rdn in peercert.get("subject", ()):
        for name, value in rdn:
            fields.setdefault(str(name), str(value))
    for name in ("organizationName", "commonName"):
        value = fields.get(name, "").strip()
        if value and value.isprintable():
            return value
    return None


def scope_refusal(org: str, bundle: VerifiedBundle) -> str | None:
    """Why ``org`` may not submit ``bundle`` (a verified one), or None when it may.

    It may when it holds the key that signed the bundle, or is the supplier the run declares.
    """
    holder = bundle.signer.holder if bundle.signer is not None else None
    supplier = bundle.sut.supplier if bundle.sut is not None else None
    if org in (holder, supplier):
        return None
    signed = f"signed by {holder}" if holder else "unsigned"
    declared = f"supplier {supplier}" if supplier else "no declared supplier"
    return f"organisation {org} may not submit this bundle ({signed}, {declared}): neither its signer nor its supplier"
