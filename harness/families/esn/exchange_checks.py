"""Checks of esn-core@1.1's disposition and file distribution exchanges (esn.md 1.1).

- ``sds_echo``: a notification carries the Application ID / Extended application ID of the SDS it answers,
  octet for octet, right after its mandatory part (DSP-05 seen from the recipient's side);
- ``fd_notification``: an FD NOTIFICATION answering the FD sent by a step, of the type(s) named;
- ``sds_originated`` / ``fd_originated``: the SDS or FD the SUT sent when triggered is valid, decodes, and
  carries what the trigger asked for;
- ``fd_download``: the SUT's content server served its file as announced (FDX-01, FDX-02).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from harness.codecs.multipart import MultipartError
from harness.families.esn.body import Sds, parse_fd, parse_sds
from harness.families.esn.mcdata import (
    CodecError,
    FdNotification,
    FdNotificationType,
    FdSignalling,
    SdsNotification,
    SdsSignalling,
    decode,
)
from harness.families.esn.validation import sds_validator
from harness.http import media_type
from harness.model import ConfigurationError
from harness.runner.checks import CheckContext, Mismatch, as_list, check

__all__ = [
    "FD_FORMAT",
    "FD_NOTIFICATION_TYPES",
    "application_ies",
    "fd_download",
    "fd_notification",
    "fd_originated",
    "sds_echo",
    "sds_originated",
]

FD_FORMAT = "mcdata-fd/1.0"
FD_NOTIFICATION_TYPES = {kind.name.lower(): kind for kind in FdNotificationType}
"""``accepted``, ``rejected``, ``completed``, ``deferred``."""


def application_ies(application_id: int | None, extended: bytes | None) -> bytes:
    """The octets of the Application ID (``22``) and Extended application ID (``7D``) IEs, in that order."""
    out = bytearray()
    if application_id is not None:
        out += bytes((0x22, application_id))
    if extended is not None:
        out += bytes((0x7D,)) + len(extended).to_bytes(2, "big") + extended
    return bytes(out)


def _body(ctx: CheckContext, fmt_id: str) -> tuple[Sds | None, list[Mismatch]]:
    """The received body of format ``fmt_id`` when it has no error finding (warnings kept apart: fine)."""
    fmt = ctx.scenario.catalog.format(fmt_id)
    content_type = ctx.response.header("Content-Type") or ""
    validation = sds_validator(fmt).validate(content_type, ctx.response.body)
    if not validation.valid:
        return None, [
            Mismatch(f"body {f.location}", f"valid {fmt_id} ({f.rule})", f.message, f"not a valid body: {f.message}")
            for f in validation.findings[:20]
        ]
    try:
        body = (parse_fd if fmt_id == FD_FORMAT else parse_sds)(content_type, ctx.response.body)
    except MultipartError as exc:
        return None, [Mismatch("body", f"a {fmt_id} body", str(exc), "not readable")]
    return body, []


def _sent(ctx: CheckContext, step: str, fd: bool) -> SdsSignalling | FdSignalling:
    original = ctx.scenario.sent.get(step)
    try:
        if original is None:
            raise MultipartError("nothing sent")
        body = (parse_fd if fd else parse_sds)(original.content_type, original.body)
        message = decode(body.signalling)
    except (MultipartError, CodecError) as exc:
        raise ConfigurationError(f"step {step!r} sent no readable message ({exc})") from None
    if not isinstance(message, FdSignalling if fd else SdsSignalling):
        raise ConfigurationError(f"step {step!r} sent no {'FD' if fd else 'SDS'} message")
    return message


@check("sds_echo")
def sds_echo(expected: dict[str, Any], ctx: CheckContext) -> Iterator[Mismatch]:
    """The notification's octets from 39 on start with the ``22``/``7D`` IEs of the SDS sent by ``answers``, octet
    for octet, and it carries no application id the SDS did not."""
    sent = _sent(ctx, str(expected["answers"]), fd=False)
    received, problems = _body(ctx, "mcdata-sds/1.0")
    if received is None:
        yield from problems
        return
    message = decode(received.signalling)
    if not isinstance(message, SdsNotification):
        yield Mismatch("body signalling message type", 5, received.signalling[:1].hex(), "not an SDS NOTIFICATION")
        return
    want = application_ies(sent.application_id, sent.extended_application_id)
    got = application_ies(message.application_id, message.extended_application_id)
    tail = received.signalling[39 : 39 + len(want)]
    if got != want or tail != want:
        yield Mismatch(
            "body signalling octets 39-",
            want.hex(" ") or "(no application id IE)",
            received.signalling[39:].hex(" ") or "(nothing)",
            "the application ids are not echoed right after the mandatory part, octet for octet",
        )


@check("fd_notification")
def fd_notification(expected: dict[str, Any], ctx: CheckContext) -> Iterator[Mismatch]:
    """An FD NOTIFICATION (info + signalling) answering the FD sent by step ``answers``: its ids, its application
    ids echoed, its type one of ``type``."""
    sent = _sent(ctx, str(expected["answers"]), fd=True)
    try:
        allowed = [FD_NOTIFICATION_TYPES[str(name)] for name in as_list(expected.get("type", "accepted"))]
    except KeyError as exc:
        raise ConfigurationError(f"unknown FD notification type {exc}") from None
    received, problems = _body(ctx, FD_FORMAT)
    if received is None:
        yield from problems
        return
    message = decode(received.signalling)
    if not isinstance(message, FdNotification):
        yield Mismatch("body signalling message type", 6, received.signalling[:1].hex(), "not an FD NOTIFICATION")
        return
    ids = (message.conversation_id, message.message_id)
    if ids != (sent.conversation_id, sent.message_id):
        shown = f"conversation {sent.conversation_id}, message {sent.message_id}"
        yield Mismatch("body signalling octets 7-38", shown, f"{ids[0]}, {ids[1]}", "not the ids of the FD sent")
    if (message.application_id, message.extended_application_id) != (
        sent.application_id,
        sent.extended_application_id,
    ):
        yield Mismatch("body application ids", sent.application_id, message.application_id, "not echoed")
    if message.notification not in allowed:
        names = [kind.name.lower() for kind in allowed]
        yield Mismatch("body notification type", names, message.notification.name.lower(), "FD notification type")


def _asked_ids(expected: dict[str, Any], message: SdsSignalling | FdSignalling) -> Iterator[Mismatch]:
    for name in ("conversation_id", "message_id"):
        wanted = expected.get(name)
        if wanted is not None and uuid.UUID(str(wanted)) != getattr(message, name):
            yield Mismatch(f"body {name}", str(wanted), str(getattr(message, name)), "not the id the trigger gave")


@check("sds_originated")
def sds_originated(expected: dict[str, Any], ctx: CheckContext) -> Iterator[Mismatch]:
    """The SDS the SUT sent when triggered: valid (no error), an SDS SIGNALLING PAYLOAD with the disposition and
    the ids asked for."""
    received, problems = _body(ctx, "mcdata-sds/1.0")
    if received is None:
        yield from problems
        return
    message = decode(received.signalling)
    if not isinstance(message, SdsSignalling):
        yield Mismatch("body signalling message type", 1, received.signalling[:1].hex(), "not an SDS")
        return
    wanted = expected.get("disposition")
    actual = None if message.disposition is None else int(message.disposition)
    if wanted is not None and actual != wanted:
        yield Mismatch("body disposition request", wanted, actual, "not the disposition the trigger asked for")
    yield from _asked_ids(expected, message)


@check("fd_originated")
def fd_originated(expected: dict[str, Any], ctx: CheckContext) -> Iterator[Mismatch]:
    """The FD the SUT sent when triggered: valid (MCD-13..16 clean; MCD-17 is a warning, kept apart), an FD
    SIGNALLING PAYLOAD with the completion request and mandatory download asked for, the ids given."""
    received, problems = _body(ctx, FD_FORMAT)
    if received is None:
        yield from problems
        return
    message = decode(received.signalling)
    if not isinstance(message, FdSignalling):
        yield Mismatch("body signalling message type", 2, received.signalling[:1].hex(), "not an FD message")
        return
    for name, attribute in (("completion", "completion_requested"), ("mandatory", "mandatory_download")):
        if name in expected and bool(expected[name]) != getattr(message, attribute):
            yield Mismatch(f"body {attribute}", bool(expected[name]), getattr(message, attribute), "not as asked")
    yield from _asked_ids(expected, message)


@check("fd_download")
def fd_download(expected: dict[str, Any], ctx: CheckContext) -> Iterator[Mismatch]:
    """The GET of a file the SUT announced: ``200`` (FDX-01), as many octets as the metadata's ``size`` and a
    ``Content-Length`` saying so (FDX-02); with ``octets_hex``, those octets exactly; with ``type``, that
    ``Content-Type`` (FDX-03, used where the scenario is SHOULD). ``size`` absent: only the status."""
    response = ctx.response
    if response.status != 200:
        yield Mismatch("status", 200, response.status, "FDX-01: the file announced in FILEURL is not served")
        return
    size = expected.get("size")
    if size is not None and len(response.body) != int(size):
        yield Mismatch("body octets", size, len(response.body), "FDX-01/FDX-02: not the size the metadata announced")
    length = response.header("Content-Length")
    if size is not None and length is not None and length.strip() != str(size):
        yield Mismatch("header Content-Length", str(size), length, "FDX-02: Content-Length is not the metadata size")
    octets = expected.get("octets_hex")
    if octets is not None and response.body.hex() != octets:
        shown = response.body[-16:].hex(" ")
        yield Mismatch("body octets", octets, shown, "FDX-01: the octets served are not those stored (last 16 shown)")
    wanted = expected.get("type")
    if wanted is not None and media_type(response.header("Content-Type")) != media_type(str(wanted)):
        actual = response.header("Content-Type")
        yield Mismatch("header Content-Type", wanted, actual, "FDX-03: not the file's Content-Type")
