"""``harness load --duplicate-rate``: after the load, each message that was sent twice at once is retrieved, and
``load.json`` says per message whether it was stored once (RR-01 of ``specs/resilience.md``).

Plain Python (urllib), run by the command after its Locust processes ended: never under gevent.
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

from harness.catalog import Catalog
from harness.families.renditions import family
from harness.load.plan import Tally
from harness.model import CheckFailure
from harness.transport import TransportOptions, tls_context
from harness.validation.jsonsafe import UnsafeJson, parse_json

__all__ = ["stored_once"]

MAX_BODY = 16 << 20
"""The largest retrieved body read (a message is at most 1 MiB; a rendition of it a little more)."""


def _retrieve(url: str, credentials: TransportOptions) -> tuple[int, bytes]:
    """GET ``url`` (a message's ``Location``) as JSON: its status and body; status 0 when no answer came."""
    headers = {"Accept": "application/json"}
    for name, value in credentials.headers:
        headers.setdefault(name, value)
    request = urllib.request.Request(url, method="GET", headers=headers)  # noqa: S310 (under the checked target)
    context = tls_context(credentials) if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, timeout=credentials.timeout_s, context=context) as answer:  # noqa: S310
            return int(answer.status), answer.read(MAX_BODY + 1)
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except OSError:
        return 0, b""


def stored_once(
    catalog: Catalog, target: str, tally: Tally, credentials: TransportOptions, rate: float
) -> dict[str, Any]:
    """After the load, each message sent twice at once is retrieved (its first answer's ``Location``): stored
    once when both attempts got the same answer (RR-01: a second acceptance answers differently) and the
    retrieval gives the content sent. Each one that is not counts as a conformance failure of RR-01."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(target))
    messages = []
    for record in tally.duplicates:
        location = record.get("location")
        status, body = (0, b"")
        if isinstance(location, str) and location:
            url = urljoin(origin + "/", location)
            if url.startswith(origin + "/"):  # never follow a Location off the target
                status, body = _retrieve(url, credentials)
        same_content = record.get("content_sha256") is None or _content_hash(catalog, record, body) == record.get(
            "content_sha256"
        )
        retrievable = status == 200 and same_content
        once = bool(record.get("same_answer")) and retrievable
        messages.append({**record, "retrieved": status, "stored_once": once})
        if not retrievable:
            what = f"retrieve answered {status}" if status else "no Location to retrieve it at, or no answer"
            tally.failures(
                str(record.get("scenario")),
                [
                    CheckFailure(
                        str(record.get("step")),
                        "RR-01: not retrievable",
                        "200 with the content sent",
                        status or None,
                        f"RR-01: a message sent twice is not retrievable with its content ({what})",
                    )
                ],
            )
    return {
        "rate": rate,
        "sent_twice": tally.duplicated,
        "checked": len(messages),
        "stored_once": sum(1 for m in messages if m["stored_once"]),
        "stored_twice": sum(1 for m in messages if not m["same_answer"]),
        "not_retrievable": sum(1 for m in messages if m["retrieved"] != 200),
        "messages": messages,
    }


def _content_hash(catalog: Catalog, record: Mapping[str, Any], body: bytes) -> str | None:
    """The SHA-256 of the content (as the family sees it) of a retrieved JSON rendition."""
    fmt_id = record.get("format")
    if not isinstance(fmt_id, str) or not body:
        return None
    fmt = catalog.formats.get(fmt_id)
    rendition = family(fmt.family) if fmt is not None and fmt.family else None
    if rendition is None:
        return None
    try:
        model = parse_json(body)
    except (UnsafeJson, ValueError):
        return None
    if not isinstance(model, dict):
        return None
    text = json.dumps(rendition.content_of(model), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()
