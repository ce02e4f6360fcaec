"""The register's client: submit bundles (``harness register submit``, ``harness run --register``) and send
the body's signed acts. Plain :mod:`http.client`: a bundle is streamed from its file, never read whole.

A bearer token crosses only TLS, or plain HTTP to this machine (a test lab on loopback): never cleartext
over a network. Nothing printed ever holds the token.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import os
import ssl
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.model import HarnessError, UsageError

__all__ = ["RegisterClient", "RegisterUnreachable", "Submitted", "exit_code", "token_from_env"]

API = "/register/v1"
_RETRIES = 3
_MAX_WAIT = 30.0
_MAX_ANSWER = 1 << 20


class RegisterUnreachable(HarnessError):
    """The register did not answer (connection refused, timeout, TLS failure, 5xx or still overloaded)."""

    exit_code = 3


@dataclass(slots=True, frozen=True)
class Submitted:
    """The register's answer to one submission."""

    status: int
    document: dict[str, Any]

    @property
    def issued(self) -> bool:
        return self.status == 201

    @property
    def counts(self) -> bool:
        """Issued, and the certificate counts now (current or superseded; not lapsed, not withdrawn)."""
        status = (self.document.get("certificate") or {}).get("status")
        return self.issued and status in ("current", "superseded")

    def line(self) -> str:
        """One line: ``issued certificate ID (PRODUCT SUITE@VERSION, STATUS, log entry N)``, or the reason."""
        document = self.document
        if self.status == 201:
            c = document.get("certificate") or {}
            return (
                f"issued certificate {c.get('id')} ({c.get('product')} {c.get('suite')}, {c.get('status')}, "
                f"issued {c.get('issued')}, log entry {c.get('log_index')})"
            )
        if self.status == 200:
            return f"registered, no certificate: {document.get('detail', '')}"
        reason = document.get("detail") or document.get("title") or "no reason given"
        return f"refused ({self.status}): {reason}"


def exit_code(answers: list[Submitted]) -> int:
    """0 when every bundle holds a certificate that counts (issued; current or superseded), else 1."""
    return 0 if answers and all(answer.counts for answer in answers) else 1


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RegisterClient:
    """One register at ``url`` (``https://HOST[:PORT]`` or, on loopback, ``http://``)."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        ca_bundle: str | None = None,
        client_cert: str | None = None,
        client_key: str | None = None,
        timeout: float = 600.0,
    ) -> None:
        parsed = urllib.parse.urlsplit(url.strip())
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise UsageError(f"bad register URL {url!r}: expected https://HOST[:PORT] (or http:// on loopback)")
        if parsed.username or parsed.password:
            raise UsageError("the register URL must not hold credentials: give the token with --token-env")
        if parsed.scheme == "http" and token is not None and not _loopback(parsed.hostname):
            raise UsageError("a token is only sent over https (plain http only to this machine's loopback)")
        self.scheme = parsed.scheme
        self.host = parsed.hostname
        self.port = parsed.port
        self.base = parsed.path.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.context: ssl.SSLContext | None = None
        if parsed.scheme == "https":
            self.context = ssl.create_default_context(cafile=ca_bundle)
            if client_cert:
                self.context.load_cert_chain(client_cert, client_key)

    def _connection(self) -> http.client.HTTPConnection:
        if self.context is not None:
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=self.context)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def _send(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any], str]:
        """(status, JSON document, Retry-After) of one request; RegisterUnreachable when there is no answer."""
        sent = dict(headers or {})
        if self.token is not None:
            sent["Authorization"] = f"Bearer {self.token}"
        where = f"{self.scheme}://{self.host}{f':{self.port}' if self.port else ''}"
        connection = self._connection()
        try:
            connection.request(method, self.base + path, body=body, headers=sent)
            response = connection.getresponse()
            raw = response.read(_MAX_ANSWER)
            retry = response.getheader("Retry-After") or ""
        except (OSError, http.client.HTTPException) as exc:
            raise RegisterUnreachable(f"register {where} unreachable: {type(exc).__name__}: {exc}") from None
        finally:
            connection.close()
        try:
            document = json.loads(raw) if raw else {}
        except ValueError:
            document = {}
        if not isinstance(document, dict):
            document = {}
        if response.status >= 500 and response.status != 503:
            raise RegisterUnreachable(
                f"register {where} failed: {response.status} {document.get('detail', '')}".strip()
            )
        return response.status, document, retry

    def submit(self, bundle: Path) -> Submitted:
        """Stream ``bundle`` to the register; a 503 is retried after its ``Retry-After`` (bounded)."""
        try:
            size = bundle.stat().st_size
        except OSError as exc:
            raise UsageError(f"{bundle}: cannot read ({exc.strerror})") from None
        for attempt in range(_RETRIES + 1):
            try:
                with bundle.open("rb") as handle:
                    status, document, retry = self._send(
                        "POST",
                        f"{API}/bundles",
                        handle,
                        {"Content-Type": "application/zip", "Content-Length": str(size)},
                    )
            except OSError as exc:
                raise UsageError(f"{bundle}: cannot read ({exc.strerror})") from None
            if status != 503:
                return Submitted(status, document)
            if attempt < _RETRIES:
                time.sleep(min(float(retry) if retry.isdigit() else 5.0, _MAX_WAIT))
        raise RegisterUnreachable(f"register overloaded: {_RETRIES + 1} attempts answered 503")

    def get(self, path: str) -> tuple[int, dict[str, Any]]:
        status, document, _ = self._send("GET", f"{API}/{path.lstrip('/')}")
        return status, document

    def post_record(self, path: str, record: str) -> tuple[int, dict[str, Any]]:
        """Send a signed record (withdrawal, life-cycle) as ``application/json``."""
        status, document, _ = self._send(
            "POST", f"{API}/{path.lstrip('/')}", record.encode("utf-8"), {"Content-Type": "application/json"}
        )
        return status, document


def token_from_env(variable: str) -> str | None:
    """The token in ``$variable`` (stripped), None when the variable is unset or empty."""
    value = os.environ.get(variable, "").strip()
    return value or None
