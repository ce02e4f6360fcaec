"""Life-cycle records: the certifying body's signed act that supersedes or retires a suite version.

``specs/README.md`` (versions): a suite version is ``current``, ``superseded`` (a newer one exists; its
certificates stay valid) or ``retired`` (no longer certifiable; its certificates lapse). A record is a DSSE
envelope (Ed25519 over DSSE's PAE, as withdrawal records are) of payload type
:data:`LIFECYCLE_PAYLOAD_TYPE`, payload ``{"suite", "version", "status", "reason", "published"}``. The store
accepts one only when it verifies with the body key pinned in that store, and only forwards in life:
current -> superseded -> retired, never back (a retired version's certificates never come back to life).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harness.evidence.signed import SignedRecordError, open_body_signed_text, sign_record

__all__ = [
    "LIFECYCLE_PAYLOAD_TYPE",
    "PUBLISHABLE",
    "LifecycleError",
    "LifecycleRecord",
    "check_lifecycle",
    "later_stage",
    "merged_life",
    "sign_lifecycle",
    "with_published",
]

LIFECYCLE_PAYLOAD_TYPE = "application/vnd.netcode.lifecycle+json"
PUBLISHABLE = ("superseded", "retired")
"""The statuses a record may publish (``current`` is where every issued suite version starts)."""
_STAGE = {"current": 0, "superseded": 1, "retired": 2}
_MAX_TEXT = 2000


class LifecycleError(ValueError):
    """A life-cycle record that is malformed, not signed by the body's key, or not a step forward."""


@dataclass(slots=True, frozen=True)
class LifecycleRecord:
    """What a verified record says, and the body key (keyid) that signed it."""

    suite: str
    version: str
    status: str
    reason: str
    published: str
    keyid: str


def _line(text: str, what: str, empty_ok: bool) -> str:
    cleaned = " ".join(text.split())
    if not cleaned and not empty_ok:
        raise LifecycleError(f"a life-cycle record needs a {what}")
    if len(cleaned) > _MAX_TEXT or any(ord(c) < 32 or ord(c) == 127 for c in cleaned):
        raise LifecycleError(f"the {what} must be one line of at most {_MAX_TEXT} printable characters")
    return cleaned


def sign_lifecycle(suite: str, version: str, status: str, reason: str, published: str, key: Ed25519PrivateKey) -> str:
    """The signed record (JSON text of a DSSE envelope) publishing ``suite@version`` as ``status``."""
    if status not in PUBLISHABLE:
        raise LifecycleError(f"status {status!r} is not one of {', '.join(PUBLISHABLE)}")
    payload = {
        "suite": _line(suite, "suite", False),
        "version": _line(version, "version", False),
        "status": status,
        "reason": _line(reason, "reason", True),
        "published": published,
    }
    return sign_record(payload, key, LIFECYCLE_PAYLOAD_TYPE)


def check_lifecycle(record: str, body_key: Ed25519PublicKey) -> LifecycleRecord:
    """The record's content when ``body_key`` signed it; LifecycleError with the reason otherwise."""
    try:
        opened = open_body_signed_text(record, body_key, LIFECYCLE_PAYLOAD_TYPE)
    except SignedRecordError as exc:
        raise LifecycleError(str(exc)) from None
    content, pinned = opened.content, opened.keyid
    names = ("suite", "version", "status", "reason", "published")
    if not all(isinstance(content.get(name), str) for name in names):
        raise LifecycleError(f"record: payload must be an object with string {', '.join(names)}")
    if content["status"] not in PUBLISHABLE:
        raise LifecycleError(f"record: status {content['status'][:40]!r} is not one of {', '.join(PUBLISHABLE)}")
    return LifecycleRecord(
        _line(content["suite"], "suite", False),
        _line(content["version"], "version", False),
        content["status"],
        _line(content["reason"], "reason", True),
        _line(content["published"], "published time", True),
        pinned,
    )


def later_stage(first: str, second: str) -> str:
    """The later in life of two statuses (current < superseded < retired; an unknown one counts as retired)."""
    return first if _STAGE.get(first, 2) >= _STAGE.get(second, 2) else second


def merged_life(
    catalog: Mapping[tuple[str, str], str], published: Mapping[tuple[str, str], str]
) -> dict[tuple[str, str], str]:
    """Each suite version's status: the later of the catalog's (``lifecycle.yaml``) and the register's published one.

    A version the register published but the catalog does not know keeps the published status.
    """
    merged = dict(catalog)
    for key, status in published.items():
        merged[key] = later_stage(merged[key], status) if key in merged else status
    return merged


class _Versioned(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def status(self) -> str: ...


V = TypeVar("V", bound=_Versioned)


def with_published(suites: Iterable[V], published: Mapping[tuple[str, str], str]) -> list[V]:
    """Suite versions (frozen dataclasses with ``name``, ``version``, ``status``, e.g. ``SuiteVersion``), each
    with the later of its catalog status and the status the body published for it (``Store.suite_life()``)."""
    out: list[V] = []
    for suite in suites:
        status = published.get((suite.name, suite.version))
        if status is None or later_stage(suite.status, status) == suite.status:
            out.append(suite)
        else:
            changed: Any = dataclasses.replace(suite, status=status)  # type: ignore[type-var]
            out.append(changed)
    return out
