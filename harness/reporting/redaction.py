"""Redaction by position (``specs/evidence.md``, "Credentials") and console escaping: one component for every output.

Split out of :mod:`harness.reporting` (which re-exports every public name) so that the reporters and the rules
that decide what is a credential do not share one module.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from harness.transport import TransportOptions, credential_name

__all__ = [
    "MIN_VERBATIM",
    "REDACTED",
    "Redactor",
    "credential_values",
    "printable",
    "printable_json",
    "url_credentials",
]

REDACTED = "[redacted]"
MIN_VERBATIM = 8
"""A credential is searched for verbatim (in bodies, other headers, free text) only from this many characters
on: a shorter value is replaced where it stands and nowhere else, since a search would corrupt other bytes."""

# Possessive (``++``, ``*+``): each scan ends at the next delimiter and never backtracks, so a hostile body of
# ``?`` or ``://`` runs costs time linear in its length. The user information is matched with the ``://`` before
# it and the ``@`` after it (put back by the replacement), not by look-around: a literal prefix lets the engine
# jump from one ``://`` to the next instead of trying every position (15 times faster on a results.json).
_USERINFO = re.compile(r"://[^/?#@\s\"'<>\\]++@")
_USERINFO_REDACTED = f"://{REDACTED}@"
_QUERY = re.compile(r"([?&]([^=&?#\s\"'<>\\]*+)=)([^&?#\s\"'<>\\]*+)")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
# What a terminal obeys or reorders beyond C0/C1: the line and paragraph separators and the bidirectional
# controls (embeddings, overrides, isolates, marks) with which a name can be shown as another ("Trojan Source").
_REORDERING = "\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_UNPRINTABLE = re.compile(f"[\x00-\x08\x0a-\x1f\x7f-\x9f{_REORDERING}]")
_JSON_UNPRINTABLE = re.compile(f"[\x7f-\x9f{_REORDERING}]")


def credential_values(name: str, value: str) -> set[str]:
    """What of header ``name: value`` is a credential wherever it appears: the value; for Authorization,
    also the credentials after the scheme word and, for Basic, the decoded ``user:password`` and password;
    for Cookie, each cookie's value. Empty when ``name`` names no credential."""
    if not credential_name(name):
        return set()
    value = value.strip()
    values = {value}
    lowered = name.lower()
    if lowered in ("authorization", "proxy-authorization"):
        scheme, _, credentials = value.partition(" ")
        credentials = credentials.strip()
        values.add(credentials)
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
            except (binascii.Error, ValueError):
                decoded = ""
            values |= {decoded, decoded.partition(":")[2]}
    elif lowered in ("cookie", "set-cookie"):
        for pair in value.split(";"):
            values.add(pair.partition("=")[2].strip())
    return {v for v in values if v}


def url_credentials(url: str) -> set[str]:
    """The user information of ``url`` (and its password, percent-decoded or not), for a verbatim search."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return set()
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    values = {userinfo, unquote(userinfo)}
    if parts.password:
        values |= {parts.password, unquote(parts.password)}
    for name, value in parse_qsl(parts.query):
        if credential_name(name):
            values.add(value)
    return {v for v in values if v}


class Redactor:
    """The one component every output passes through before it is written (``specs/evidence.md``,
    Credentials): console, journal, results, JUnit, HTML report, evidence bundle, store, load results.

    Redaction is by position: the value of a credential header (:func:`~harness.transport.credential_name`),
    the user information of a URL, the value of a credential query parameter become ``[redacted]`` where
    they stand, whatever their length. The credentials the operator gave (``headers``, ``urls``, ``secrets``)
    and those a message carries in its own credential headers are also replaced where found verbatim
    elsewhere, but only when at least :data:`MIN_VERBATIM` characters long: ``X-Api-Version: 1`` is no
    credential, and a short one is never searched as a substring.
    """

    def __init__(
        self,
        secrets: Iterable[str] = (),
        *,
        headers: Iterable[tuple[str, str]] = (),
        urls: Iterable[str] = (),
        names: Iterable[str] = (),
    ) -> None:
        self._names = frozenset(name.lower() for name in names)  # marked secret by the operator
        self._seen: dict[str, tuple[str, bool]] = {}  # header name -> (as shown, secret): names repeat all run
        values = {value for value in secrets if value}
        for name, value in headers:
            values |= credential_values(name, value)
        for url in urls:
            values |= url_credentials(url)
        self._known = frozenset(v for v in values if len(v) >= MIN_VERBATIM)
        self._pattern = _verbatim_pattern(self._known)

    @classmethod
    def for_run(cls, options: TransportOptions, urls: Iterable[str] = ()) -> Redactor:
        """The redactor of a run: the credential headers, the headers marked secret and the key password of
        its transport options, and the credentials in its target URLs."""
        return cls(options.secrets, headers=options.headers, urls=urls, names=options.secret_names)

    def __call__(self, text: str) -> str:
        """``text`` (free text, or a JSON document) with every known credential and every URL's credentials
        replaced."""
        return self.text(text)

    def text(self, text: str, pattern: re.Pattern[str] | None = None) -> str:
        if "://" in text:
            text = _USERINFO.sub(_USERINFO_REDACTED, text)
        if "=" in text and ("?" in text or "&" in text):
            text = _QUERY.sub(_query_value, text)
        pattern = pattern or self._pattern
        if pattern is not None:
            text = pattern.sub(REDACTED, text)
        return text

    def secret_name(self, name: str) -> bool:
        """Whether header ``name``'s value is redacted where it stands (a credential, or marked secret)."""
        return self._name(name)[1]

    def _name(self, name: str) -> tuple[str, bool]:
        known = self._seen.get(name)
        if known is None:
            if len(self._seen) > 4096:  # a SUT inventing header names cannot grow this without bound
                self._seen.clear()
            known = self._seen[name] = (_printable(name), credential_name(name) or name.lower() in self._names)
        return known

    def headers(
        self, headers: Iterable[tuple[str, str]], pattern: re.Pattern[str] | None = None
    ) -> list[tuple[str, str]]:
        """Headers with credential values replaced where they stand, known credentials elsewhere."""
        return [(printed, shown) for printed, shown in self.record_headers(headers, pattern)]

    def record_headers(
        self, headers: Iterable[tuple[str, str]], pattern: re.Pattern[str] | None = None
    ) -> list[list[str]]:
        """:meth:`headers` as ``exchanges.jsonl`` holds them (``[name, value]`` lists), built once per exchange.

        A header that is not a credential is searched like any text (:meth:`text`); the checks are inlined here
        because this runs for every header of every recorded exchange."""
        pattern = pattern or self._pattern
        seen = self._seen
        shown: list[list[str]] = []
        for name, value in headers:
            printed, secret = seen.get(name) or self._name(name)
            if secret:
                value = REDACTED
            else:
                if "://" in value:
                    value = _USERINFO.sub(_USERINFO_REDACTED, value)
                if "=" in value and ("?" in value or "&" in value):
                    value = _QUERY.sub(_query_value, value)
                if pattern is not None:
                    value = pattern.sub(REDACTED, value)
            shown.append([printed, value])
        return shown

    def message(
        self,
        start_line: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        also: Iterable[tuple[str, str]] = (),
    ) -> tuple[str, list[tuple[str, str]], bytes, re.Pattern[str] | None]:
        """One message (request or answer) as it may be recorded: its start line (a URL's credentials),
        headers by position, and its body with every known credential, and those of its own and ``also``'s
        (the other message of the exchange) credential headers, replaced. Also returns the search pattern
        used, for the message's other forms (a decoded body)."""
        headers = list(headers)
        pattern = self.pattern_for(headers, also)
        return self.text(start_line, pattern), self.headers(headers, pattern), self.body(body, pattern), pattern

    def pattern_for(
        self, headers: Iterable[tuple[str, str]], also: Iterable[tuple[str, str]] = ()
    ) -> re.Pattern[str] | None:
        """The verbatim search for one exchange: the known credentials, and those its messages' own
        credential headers carry (8 characters or more)."""
        local: set[str] = set()
        seen = self._seen
        for headers_of in (headers, also):
            for name, value in headers_of:
                secret = (seen.get(name) or self._name(name))[1]
                if secret and len(value) >= MIN_VERBATIM and value not in self._known:
                    local |= {v for v in credential_values(name, value) or {value} if len(v) >= MIN_VERBATIM}
        local -= self._known
        return _verbatim_pattern(self._known | local) if local else self._pattern

    def body_record(self, body: bytes, pattern: re.Pattern[str] | None = None) -> tuple[str, str]:
        """(body, encoding) as ``exchanges.jsonl`` holds it, known credentials replaced: the text when the bytes
        are UTF-8, else base64 of the bytes (searched through Latin-1, so nothing but a credential moves)."""
        if not body:
            return "", "text"
        try:
            return self.text(body.decode("utf-8"), pattern), "text"
        except UnicodeDecodeError:
            cleaned = self.text(body.decode("latin-1"), pattern).encode("latin-1")
            return base64.b64encode(cleaned).decode("ascii"), "base64"

    def body(self, body: bytes, pattern: re.Pattern[str] | None = None) -> bytes:
        """A body's bytes with known credentials replaced: UTF-8 text as text, other bytes one for one
        through Latin-1 (so nothing but the credential moves)."""
        if not body:
            return body
        try:
            return self.text(body.decode("utf-8"), pattern).encode("utf-8")
        except UnicodeDecodeError:
            return self.text(body.decode("latin-1"), pattern).encode("latin-1")


def _query_value(match: re.Match[str]) -> str:
    """A ``name=value`` query parameter, its value redacted when the name names a credential."""
    return match.group(1) + REDACTED if credential_name(match.group(2)) else match.group(0)


def _verbatim_pattern(values: Iterable[str]) -> re.Pattern[str] | None:
    """One alternation of every value, and its JSON-escaped form, longest first."""
    forms = {
        form
        for value in values
        for form in (value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=True)[1:-1])
    }
    if not forms:
        return None
    return re.compile("|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True)))


def _printable(text: str) -> str:
    """``text`` with control characters escaped (``\\x1b``): a terminal shows it, never obeys it."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text) if _CONTROL.search(text) else text


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` from a system under test or a bundle as the console prints it: control characters (escape
    sequences, carriage returns, line feeds, bells) shown as ``\\xNN``, line separators and bidirectional
    controls as ``\\uNNNN``, so none reaches the terminal and no line is forged or reordered; tabs kept."""
    return _UNPRINTABLE.sub(_escape, text) if _UNPRINTABLE.search(text) else text


def printable_json(value: Any, **options: Any) -> str:
    """``json.dumps(value, **options)`` for the console: JSON escapes C0 itself, and DEL, C1, line separators
    and bidirectional controls (which it leaves raw with ``ensure_ascii=False``) are written as ``\\uNNNN``
    too; the same value for a JSON reader, nothing a terminal obeys."""
    text = json.dumps(value, **options)
    return _JSON_UNPRINTABLE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
