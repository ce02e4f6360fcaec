"""Submitters' bearer tokens: one per organisation and issue; the store keeps only a hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import sqlalchemy as sa

from harness.model import UsageError
from harness.store.base import StoreBase, store_clock
from harness.store.schema import org_tokens

__all__ = ["TokensMixin"]


class TokensMixin(StoreBase):
    """Issuing, resolving and revoking submitters' tokens."""

    def issue_token(self, org: str) -> str:
        """A new bearer token for organisation ``org``, returned this once: the store keeps only its SHA-256."""
        name = " ".join(org.split())
        if not name or len(name) > 200 or any(ord(c) < 32 or ord(c) == 127 for c in name):
            raise UsageError("an organisation is one line of 1 to 200 printable characters")
        token = "nrt_" + secrets.token_urlsafe(32)
        with self.engine.begin() as connection:
            self._write_lock(connection)
            connection.execute(
                sa.insert(org_tokens),
                [{"org": name, "token_sha256": _token_digest(token), "created": store_clock(connection)}],
            )
        return token

    def token_org(self, token: str) -> str | None:
        """The organisation a live (not revoked) token was issued to, else None."""
        if not token or len(token) > 512:
            return None
        digest = _token_digest(token)
        query = sa.select(org_tokens.c.org, org_tokens.c.token_sha256).where(
            org_tokens.c.token_sha256 == digest, org_tokens.c.revoked.is_(None)
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        # the lookup is by a hash of a 256-bit random token; the compare is constant-time all the same
        if row is None or not hmac.compare_digest(str(row.token_sha256).encode(), digest.encode()):
            return None
        return str(row.org)

    def revoke_token(self, token: str) -> bool:
        """Revoke a token (True when it was live)."""
        with self.engine.begin() as connection:
            self._write_lock(connection)
            done = connection.execute(
                sa.update(org_tokens)
                .where(org_tokens.c.token_sha256 == _token_digest(token), org_tokens.c.revoked.is_(None))
                .values(revoked=store_clock(connection))
            )
        return bool(done.rowcount)


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
