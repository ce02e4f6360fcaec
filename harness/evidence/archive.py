"""Check 1 of the verifier (``specs/evidence.md`` 1.1): the ZIP, its member names and its bounds, and reading
its members within those bounds (whole for the small JSON documents, hashed in chunks, or ``exchanges.jsonl``
streamed line by line). Nothing here trusts the bundle: a broken rule is :class:`Invalid`, corrupt data
:class:`Unreadable`, each with one line.

Part of the one verifier: only :mod:`harness.evidence.verify` (and the replay) use it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any

__all__ = [
    "CORRUPT",
    "MAX_LINE_BYTES",
    "MAX_MEMBERS",
    "MAX_MEMBER_BYTES",
    "MAX_RATIO",
    "MAX_SMALL_BYTES",
    "MAX_TOTAL_BYTES",
    "Invalid",
    "Unreadable",
    "check_archive",
    "iter_exchanges",
    "json_object",
    "member_digest",
    "read_member",
    "show",
]

MAX_MEMBERS = 100_000
MAX_MEMBER_BYTES = 4 << 30
"""Largest member (uncompressed) read: a zip bomb stops at its declared size, before any byte is inflated."""
MAX_TOTAL_BYTES = 8 << 30
MAX_SMALL_BYTES = 64 << 20
"""Largest statement, envelope or results document parsed in memory."""
MAX_LINE_BYTES = 64 << 20
"""Longest line of ``exchanges.jsonl``."""
MAX_RATIO = 1100
"""Largest uncompressed/compressed ratio of a member over 1 MiB (deflate itself cannot pass ~1032)."""
_CHUNK = 1 << 16
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
CORRUPT = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError)


class Invalid(Exception):
    """The bundle is invalid; the message is the first reason found, on one line."""


class Unreadable(Exception):
    """The bundle cannot be read (not a ZIP, truncated, bad CRC, bad deflate data); the message says why."""


def show(text: object, limit: int = 120) -> str:
    """A value from a bundle, quoted with control characters escaped (it reaches a console)."""
    shown = json.dumps(text, ensure_ascii=False) if not isinstance(text, str) else json.dumps(text)[1:-1]
    return shown if len(shown) <= limit else shown[:limit] + "..."


def json_object(data: bytes, name: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Invalid(f"{name} is not JSON") from None
    if not isinstance(value, dict):
        raise Invalid(f"{name} is not a JSON object")
    return value


# -- check 1: the ZIP, its names and its bounds -----------------------------------------------------------


def _name_problem(name: str) -> str | None:
    if not name:
        return "has an empty name"
    if "\0" in name:
        return "has a NUL in its name"
    if "\\" in name:
        return "has a backslash in its name"
    if name.startswith("/"):
        return "is an absolute path"
    if os.pardir in name.split("/"):
        return "has a '..' segment"
    return None


def check_archive(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The archive's file members by name (directory entries left out); Invalid at the first broken rule."""
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise Invalid(f"more than {MAX_MEMBERS} members")
    members: dict[str, zipfile.ZipInfo] = {}
    seen: set[str] = set()
    total = 0
    for info in infos:
        name = info.orig_filename  # zipfile cuts ``filename`` at a NUL: the rules apply to the name as stored
        problem = _name_problem(name)
        if problem is not None:
            raise Invalid(f"member {show(name)} {problem}")
        if name in seen:
            raise Invalid(f"member {show(name)} appears twice")
        seen.add(name)
        if name.endswith("/"):
            if info.file_size or info.compress_size > 2:  # an empty deflate stream is 2 bytes
                raise Invalid(f"directory entry {show(name)} carries data")
            continue
        if info.flag_bits & 0x1:
            raise Invalid(f"member {show(name)} is encrypted")
        if info.compress_type not in _METHODS:
            raise Invalid(f"member {show(name)}: compression method {info.compress_type} (only stored or deflate)")
        if info.file_size > MAX_MEMBER_BYTES:
            raise Invalid(f"member {show(name)} is larger than {MAX_MEMBER_BYTES} bytes")
        if info.file_size > 1 << 20 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise Invalid(f"member {show(name)}: compression ratio over {MAX_RATIO}")
        total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise Invalid(f"members larger than {MAX_TOTAL_BYTES} bytes in all")
        members[name] = info
    _no_overlap(infos)
    return members


def _no_overlap(infos: list[zipfile.ZipInfo]) -> None:
    """No two members' data overlap (one stretch of deflate data named many times is a bomb of its own)."""
    ordered = sorted(infos, key=lambda info: info.header_offset)
    for before, after in itertools.pairwise(ordered):
        # 30 bytes of local header, then at least the name (as stored: UTF-8 when flagged, else cp437), then the data
        encoding = "utf-8" if before.flag_bits & 0x800 else "cp437"
        name_bytes = len(before.orig_filename.encode(encoding, "replace"))
        end = before.header_offset + 30 + name_bytes + before.compress_size
        if after.header_offset < end:
            raise Invalid(f"members {show(before.orig_filename)} and {show(after.orig_filename)} overlap")


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int | None = None) -> bytes:
    limit = MAX_SMALL_BYTES if limit is None else limit
    if info.file_size > limit:
        raise Invalid(f"member {show(info.orig_filename)} is larger than {limit} bytes")
    try:
        with archive.open(info) as member:
            data = member.read(limit + 1)
    except CORRUPT as exc:
        raise Unreadable(f"member {show(info.orig_filename)} is corrupt ({show(str(exc), 80)})") from None
    if len(data) > limit:
        raise Invalid(f"member {show(info.orig_filename)} is larger than {limit} bytes")
    return data


def member_digest(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    digest, total = hashlib.sha256(), 0
    try:
        with archive.open(info) as member:
            while chunk := member.read(_CHUNK):
                total += len(chunk)
                if total > MAX_MEMBER_BYTES:
                    raise Invalid(f"member {show(info.orig_filename)} is larger than {MAX_MEMBER_BYTES} bytes")
                digest.update(chunk)
    except CORRUPT as exc:
        raise Unreadable(f"member {show(info.orig_filename)} is corrupt ({show(str(exc), 80)})") from None
    return digest.hexdigest()


def iter_exchanges(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo | str = "exchanges.jsonl", expected: str | None = None
) -> Iterator[dict[str, Any]]:
    """The recorded exchanges, one at a time (a bundle of a soak run is never read whole).

    With ``expected`` (the subject's sha256), the bytes are hashed as they are read and a mismatch at the
    end raises :class:`Invalid` (the member changed after it was checked). Corrupt data is :class:`Invalid` too:
    it was readable when checked, so it is the file that changed under the reader.
    """
    digest = hashlib.sha256()
    try:
        with archive.open(info) as handle:
            number = 0
            while line := handle.readline(MAX_LINE_BYTES + 1):
                digest.update(line)
                number += 1
                if len(line) > MAX_LINE_BYTES:
                    raise Invalid(f"exchanges.jsonl line {number} is longer than {MAX_LINE_BYTES} bytes")
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except (ValueError, RecursionError):
                    raise Invalid(f"exchanges.jsonl line {number} is not JSON") from None
                if not isinstance(record, dict):
                    raise Invalid(f"exchanges.jsonl line {number} is not an object")
                yield record
    except CORRUPT as exc:
        raise Invalid(f"exchanges.jsonl became unreadable while streaming ({show(str(exc), 80)})") from None
    if expected is not None and digest.hexdigest() != expected:
        raise Invalid("exchanges.jsonl changed while streaming: digest mismatch")
