"""Building and running esn-core@1.1's disposition and file distribution exchanges (esn.md 1.1).

- ``fd:`` (a ``message`` block): a fresh FD body (mcdata-fd/1.0), or an FD NOTIFICATION body;
- ``esn_originator`` (a step kind): trigger the SUT (``send-sds`` / ``send-fd``) to send to a mailbox of the
  counterpart, judge what it sent, fetch its file (``send-fd``), then answer it with notifications built from
  it (its ids, its application ids echoed, dated now) and judge each answer;
- ``fd_receiver`` (a step kind): put a file on the counterpart's content server, send the SUT an FD offering it,
  optionally decide for its user (``fd-respond``), then check what arrives, in order (FD notifications at the
  reply-to, the ``GET`` of the file) and what must not;
- ``sds_dispositions`` (a step kind): the notifications answering an SDS sent by an earlier step, in an order
  its disposition request allows, and nothing after.

Every exchange goes through the runner's ``exchanges`` (the replay seam), each under a name of its own
(``STEP.N-what``), so that evidence re-judges exactly what was judged live. Choices: docs/decisions-esn-1.1.md.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp

from harness.codecs.multipart import BodyPart, MultipartError, build_multipart
from harness.events import OperatorActionRequired
from harness.families.esn.body import MCDATA_INFO, MCDATA_PAYLOAD, MCDATA_SIGNALLING, parse_fd, parse_sds
from harness.families.esn.exchange_checks import FD_FORMAT, FD_NOTIFICATION_TYPES
from harness.families.esn.fd import read_metadata
from harness.families.esn.mcdata import (
    CodecError,
    DataPayload,
    FdNotification,
    FdSignalling,
    FileUrl,
    SdsNotification,
    SdsSignalling,
    Text,
    decode,
    encode,
)
from harness.families.esn.messages import McdataParams, mcdata_info, read_mcdata_info
from harness.families.esn.steps import NOTIFICATION_TYPES
from harness.model import CheckFailure, ConfigurationError, Scenario, Step
from harness.profile import HOOK_ABSENT, SDS_PATH, TRIGGER_HOOK
from harness.runner.context import Message, ScenarioContext
from harness.runner.exchanges import ManualAction
from harness.runner.steps import as_sent
from harness.transport import Request, Response

if TYPE_CHECKING:
    from harness.runner.engine import Runner

__all__ = [
    "FD_PATH",
    "UPLOAD_PATH",
    "content_server",
    "esn_originator",
    "fd_body",
    "fd_message",
    "fd_receiver",
    "sds_dispositions",
]

FD_PATH = "/netcode/v1/esn/fd"
UPLOAD_PATH = "/netcode/v1/esn/files"
REPLY_TO = "Netcode-Reply-To"
WITHIN_S = 5.0
QUIET_S = 2.0
_SENDER = "sip:harness@esn.example.police.uk"
_RECIPIENT = "sip:mcdata-1to1@esn.example.police.uk"


# -- the fd: message block ---------------------------------------------------------------------------------


def fd_body(spec: dict[str, Any]) -> tuple[str, bytes]:
    """``(Content-Type, body)`` of the FD body an (expanded) ``fd:`` block asks for.

    ``mandatory``, ``completion`` (default true), ``file_url``, ``metadata`` (text), ``payload`` (``fileurl``,
    ``none``, ``text``: a TEXT payload instead, ``two``: two FILEURLs), ``parts`` (of ``info``, ``signalling``,
    ``payload``: a payload part holds a DATA PAYLOAD), ``date_time``, ``conversation_id``, ``message_id``;
    ``notification`` (``accepted``, ...) builds an FD NOTIFICATION with those ids instead.
    """
    try:
        date_time = int(spec.get("date_time", time.time()))
        conversation_id = uuid.UUID(str(spec.get("conversation_id", uuid.uuid4())))
        message_id = uuid.UUID(str(spec.get("message_id", uuid.uuid4())))
        url = str(spec.get("file_url", "http://127.0.0.1/files/" + str(uuid.uuid4()))).encode()
        if "notification" in spec:
            kind = FD_NOTIFICATION_TYPES[str(spec["notification"])]
            signalling = encode(FdNotification(kind, date_time, conversation_id, message_id))
        else:
            payloads: tuple[Any, ...] = {
                "fileurl": (FileUrl(url),),
                "none": (),
                "text": (Text("not a file URL"),),
                "two": (FileUrl(url), FileUrl(url)),
            }[str(spec.get("payload", "fileurl"))]
            metadata = spec.get("metadata")
            signalling = encode(
                FdSignalling(
                    date_time,
                    conversation_id,
                    message_id,
                    completion_requested=bool(spec.get("completion", True)),
                    mandatory_download=bool(spec.get("mandatory", True)),
                    payloads=payloads,
                    metadata=None if metadata is None else str(metadata).encode(),
                )
            )
    except (CodecError, ValueError, TypeError, KeyError) as exc:
        raise ConfigurationError(f"bad 'fd' block: {exc}") from None
    info = mcdata_info(McdataParams("one-to-one-fd", _RECIPIENT, _SENDER))
    available = {
        "info": BodyPart(MCDATA_INFO, info),
        "signalling": BodyPart(MCDATA_SIGNALLING, signalling),
        "payload": BodyPart(MCDATA_PAYLOAD, encode(DataPayload((Text("a payload part"),)))),
    }
    try:
        return build_multipart([available[str(name)] for name in spec.get("parts", ["info", "signalling"])])
    except (KeyError, MultipartError) as exc:
        raise ConfigurationError(f"bad 'fd' block: parts are info, signalling, payload ({exc})") from None


def fd_message(ctx: ScenarioContext, spec: dict[str, Any]) -> Message:
    """The family's ``message`` scenario part ``fd``: the runner calls it with the block expanded."""
    content_type, body = fd_body(spec)
    return Message(ctx.catalog.format(FD_FORMAT), body, content_type, None, None)


# -- shared helpers ----------------------------------------------------------------------------------------


def _sub(step: Step, suffix: str, raw: dict[str, Any]) -> Step:
    expect = raw.get("expect")
    checks = tuple(str(key) for key in expect) if isinstance(expect, dict) else ()
    return Step(name=f"{step.name}.{suffix}", kind="exchange", checks=checks, pointer=step.pointer, raw=raw)


def _counterpart(runner: Runner) -> str:
    counterpart = runner.exchanges.counterpart_url
    if not counterpart:
        raise ConfigurationError("an ESN exchange step needs a counterpart reference endpoint")
    return counterpart.rstrip("/")


async def _trigger(
    runner: Runner,
    scenario: Scenario,
    ctx: ScenarioContext,
    name: str,
    action: str,
    to: str,
    params: dict[str, Any],
    latencies: list[float],
) -> tuple[float | None, list[CheckFailure]]:
    """POST the trigger hook; how long to wait for what it makes the SUT send (the operator's time when the
    hook is absent and someone attends), or the failure of a hook that refused."""
    command = {"action": action, "to": to, "params": params}
    body = json.dumps(command, ensure_ascii=False).encode()
    hook = Request("POST", runner.target + TRIGGER_HOOK, (("Content-Type", "application/json"),), body)
    carried = await runner.exchanges.send(scenario.id, name, hook, None)
    if carried.request is not hook:  # recorded: the identifiers that run sent are taken over (steps.as_sent)
        as_sent(hook, None, carried.request, ctx)
    answer = carried.response
    runner.exchanges.judged(scenario.id, name, {})
    latencies.append(answer.elapsed_ms)
    if answer.status in HOOK_ABSENT:
        instruction = f"make the SUT perform {action} with {json.dumps(params)} (send it to {to})"
        if not runner.exchanges.attended(scenario.id, name):
            raise ManualAction(f"no {TRIGGER_HOOK} hook (HTTP {answer.status}); operator must: {instruction}")
        runner.emit(OperatorActionRequired(scenario.id, name, instruction, runner.operator_timeout_s))
        return runner.operator_timeout_s, []
    if answer.status != 202:
        return None, [CheckFailure(name, "trigger: status", 202, answer.status, f"the {TRIGGER_HOOK} hook refused")]
    return None, []


def _judge(
    runner: Runner, scenario: Scenario, step: Step, suffix: str, expect: dict[str, Any], response: Response, ctx: Any
) -> list[CheckFailure]:
    sub = _sub(step, suffix, {"expect": expect})
    return runner.judge(scenario, sub.name, sub, response, ctx)


def _nothing(name: str, what: str, within: float) -> CheckFailure:
    expected = f"{what} at the reference endpoint"
    return CheckFailure(name, "await", expected, None, f"nothing arrived within {within:g} s")


# -- esn_originator ----------------------------------------------------------------------------------------


def _notification_for(
    received: Any, original: SdsSignalling | FdSignalling, answer: dict[str, Any]
) -> tuple[str, bytes, str]:
    """``(Content-Type, body, path)`` of the notification ``answer`` asks the harness to send about ``original``:
    its ids (``fresh_ids``: new ones), its application ids echoed (``tamper_application_id``: not), dated now
    plus ``date_offset_s``."""
    info = read_mcdata_info(received.info)
    date_time = int(time.time()) + int(answer.get("date_offset_s", 0))
    fresh = bool(answer.get("fresh_ids"))
    name = str(answer["notification"])
    if answer.get("tamper_application_id"):  # DSP-05: another Application ID, or one the original did not carry
        tampered = 1 if original.application_id is None else (original.application_id + 1) % 256
        original = dataclasses.replace(original, application_id=tampered)
    if isinstance(original, SdsSignalling):
        kind = NOTIFICATION_TYPES[name]
        if fresh:
            message: SdsNotification | FdNotification = SdsNotification(kind, date_time, uuid.uuid4(), uuid.uuid4())
        else:
            message = SdsNotification.echoing(original, kind, date_time)
        request_type, path = "one-to-one-sds", SDS_PATH
    else:
        fd_kind = FD_NOTIFICATION_TYPES[name]
        if fresh:
            message = FdNotification(fd_kind, date_time, uuid.uuid4(), uuid.uuid4())
        else:
            message = FdNotification.answering(original, fd_kind, date_time)
        request_type, path = "one-to-one-fd", FD_PATH
    params = McdataParams(request_type, info.calling_user or _SENDER, info.request_uri or _RECIPIENT)
    content_type, body = build_multipart(
        [BodyPart(MCDATA_INFO, mcdata_info(params)), BodyPart(MCDATA_SIGNALLING, encode(message))]
    )
    return content_type, body, path


def _same_host(url: str, target: str) -> bool:
    try:
        return (urlsplit(url).hostname or "").lower() == (urlsplit(target).hostname or "").lower()
    except ValueError:
        return False


async def esn_originator(
    runner: Runner, scenario: Scenario, step: Step, ctx: ScenarioContext, latencies: list[float]
) -> list[CheckFailure]:
    """The SUT as the originator: triggered to send an SDS or FD to a mailbox of the counterpart; what it sent is
    judged, its file fetched (``download``), then each of ``answers`` is built from it and sent to the SUT."""
    spec = ctx.expand(step.raw["esn_originator"])
    action = str(spec["action"])
    fd = action == "send-fd"
    params = dict(spec.get("params") or {})
    within = float(spec.get("within_s", WITHIN_S))
    mailbox_path = f"/recipients/{ctx.expand('${uuid:mailbox-' + step.name + '}')}"
    to = _counterpart(runner) + mailbox_path
    since = runner.exchanges.mark()
    waited, failures = await _trigger(runner, scenario, ctx, step.name, action, to, params, latencies)
    if failures:
        return failures
    params = dict(ctx.expand(step.raw["esn_originator"]).get("params") or {})  # as sent (re-judging: as recorded)
    path = mailbox_path + (FD_PATH if fd else SDS_PATH)
    name = f"{step.name}.1-{'fd' if fd else 'sds'}"
    arrived = await runner.exchanges.received(scenario.id, name, "POST", path, since, waited or within)
    if arrived is None:
        return [_nothing(name, f"POST {path}", waited or within)]
    asked = {key: params[key] for key in ("conversation_id", "message_id") if key in params}
    if fd:
        asked |= {key: params[key] for key in ("completion", "mandatory") if key in params}
        check = {"fd_originated": asked}
    else:
        disposition = {"none": None, "delivery": 1, "read": 2, "delivery-and-read": 3}
        if "disposition" in params:
            asked["disposition"] = disposition.get(str(params["disposition"]))
        check = {"sds_originated": asked}
    sub = _sub(step, name.split(".", 1)[1], {"expect": check})
    failures = runner.judge(scenario, sub.name, sub, arrived, ctx)
    if failures:
        return failures
    content_type = arrived.header("Content-Type") or ""
    body = parse_fd(content_type, arrived.body) if fd else parse_sds(content_type, arrived.body)
    original = decode(body.signalling)
    assert isinstance(original, (SdsSignalling, FdSignalling))  # the check above made sure
    index = 2
    if fd and spec.get("download", True):
        assert isinstance(original, FdSignalling)
        failures = await _download(runner, scenario, step, ctx, original, latencies)
        if failures:
            return failures
        index = 3
    sent: list[tuple[str, bytes, str]] = []
    for number, answer in enumerate(spec.get("answers") or (), start=index):
        if "again" in answer:
            content_type, message, answer_path = sent[int(answer["again"]) - 1]
        else:
            content_type, message, answer_path = _notification_for(body, original, answer)
        sent.append((content_type, message, answer_path))
        request = Request("POST", runner.target + answer_path, (("Content-Type", content_type),), message)
        suffix = f"{number}-{answer['notification']}"
        carried = await runner.exchanges.send(scenario.id, f"{step.name}.{suffix}", request, None)
        latencies.append(carried.response.elapsed_ms)
        failures = _judge(runner, scenario, step, suffix, dict(answer["expect"]), carried.response, ctx)
        if failures:
            return failures
    return []


async def _download(
    runner: Runner,
    scenario: Scenario,
    step: Step,
    ctx: ScenarioContext,
    fd: FdSignalling,
    latencies: list[float],
) -> list[CheckFailure]:
    """GET the file the SUT's FD announced (FDX-01, FDX-02); only on the target's host (**profile**)."""
    name = f"{step.name}.2-download"
    url = (fd.file_url or b"").decode("ascii", "replace")
    if not _same_host(url, runner.target):
        why = "the harness fetches files only from the target's host"
        return [CheckFailure(name, "fd_download", f"a FILEURL on {runner.target}", url, f"FDX-01: {why}")]
    size = read_metadata(fd.metadata)[0].size if fd.metadata is not None else None
    carried = await runner.exchanges.send(scenario.id, name, Request("GET", url, (), b""), None)
    latencies.append(carried.response.elapsed_ms)
    return _judge(runner, scenario, step, "2-download", {"fd_download": {"size": size}}, carried.response, ctx)


# -- fd_receiver -------------------------------------------------------------------------------------------


async def _upload(runner: Runner, content: bytes, content_type: str) -> str:
    """Put a file on the counterpart's content server (setup, not an exchange with the SUT); its URL. Re-judging
    (no live counterpart) names a URL of the same shape: the recorded FD carries the one really sent."""
    counterpart = _counterpart(runner)
    if runner.transport is None:
        return f"{counterpart}/files/{uuid.uuid4()}"
    timeout = aiohttp.ClientTimeout(total=WITHIN_S)
    headers = {"Content-Type": content_type}
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(counterpart + UPLOAD_PATH, data=content, headers=headers) as answer,
        ):
            location = answer.headers.get("Location")
            if answer.status != 201 or not location:
                raise ConfigurationError(f"the counterpart did not store the file (HTTP {answer.status})")
            return location
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise ConfigurationError(f"the counterpart's content server is unreachable: {exc}") from None


async def fd_receiver(
    runner: Runner, scenario: Scenario, step: Step, ctx: ScenarioContext, latencies: list[float]
) -> list[CheckFailure]:
    """The SUT as an FD receiver: an FD offering a file of the counterpart, then ``sequence`` in that order (FD
    notifications answering it at its reply-to, ``get`` of the file), then none of ``none`` within ``quiet_s``."""
    spec = ctx.expand(step.raw["fd_receiver"])
    within = float(spec.get("within_s", WITHIN_S))
    quiet = float(spec.get("quiet_s", QUIET_S))
    given = spec.get("file") or {}
    content = str(given.get("text", "esn-core@1.1 file offered by the harness\r\n")).encode()
    content_type = str(given.get("type", "text/plain"))
    name = str(given.get("name", "offered.txt"))
    url = await _upload(runner, content, content_type)
    file_path = urlsplit(url).path
    reply = f"/replies/{ctx.expand('${uuid:reply-' + step.name + '}')}"
    metadata = f'file-selector:name:"{name}" size:{len(content)} type:{content_type}'
    fd_spec = {"file_url": url, "metadata": metadata, **dict(spec.get("fd") or {})}
    request = {
        "method": "POST",
        "path": FD_PATH,
        "headers": {REPLY_TO: _counterpart(runner) + reply},
        "message": {"fd": fd_spec, "valid": True},
    }
    since = runner.exchanges.mark()
    offer = _sub(step, "0-fd", {"request": request, "expect": {"status": 202}})
    response, message = await runner.exchange(scenario, step.name, offer, ctx, latencies)
    failures = runner.judge(scenario, step.name, offer, response, ctx)
    if failures or message is None:
        return failures
    waited = None
    if "respond" in spec:
        offered = decode(parse_fd(message.content_type, message.body).signalling)
        assert isinstance(offered, FdSignalling)
        params = {
            "conversation_id": str(offered.conversation_id),
            "message_id": str(offered.message_id),
            "answer": spec["respond"],
        }
        waited, failures = await _trigger(
            runner, scenario, ctx, f"{step.name}.respond", "fd-respond", _counterpart(runner), params, latencies
        )
        if failures:
            return failures
    notifications = reply + FD_PATH
    for number, item in enumerate(spec["sequence"], start=1):
        method, path = ("GET", file_path) if item == "get" else ("POST", notifications)
        suffix = f"{number}-{item}"
        arrived = await runner.exchanges.received(
            scenario.id, f"{step.name}.{suffix}", method, path, since, waited or within
        )
        waited = None
        if arrived is None:
            return [_nothing(f"{step.name}.{suffix}", f"{item} ({method} {path}) in order", within)]
        since = runner.exchanges.mark()
        if item != "get":
            expect = {"fd_notification": {"answers": step.name, "type": item}}
            failures = _judge(runner, scenario, step, suffix, expect, arrived, ctx)
            if failures:
                return failures
    for item in dict.fromkeys("get" if item == "get" else "notification" for item in spec.get("none") or ()):
        method, path = ("GET", file_path) if item == "get" else ("POST", notifications)
        suffix = f"none-{item}"
        arrived = await runner.exchanges.received(scenario.id, f"{step.name}.{suffix}", method, path, since, quiet)
        if arrived is not None:
            what = f"no {method} {path}"
            return [CheckFailure(f"{step.name}.{suffix}", "await: none", what, f"{method} {path}", "it arrived")]
    return []


# -- sds_dispositions --------------------------------------------------------------------------------------

_ALLOWED = {1: [["delivered"]], 2: [["read"]], 3: [["delivered-and-read"], ["delivered"], ["delivered", "read"]]}
"""The notifications a recipient may have sent, in order, for each SDS disposition request (esn.md 1.1): for
DELIVERY AND READ, DELIVERED may stand alone (the READ comes when the user has seen the message, which a run
cannot wait for), but only a READ may follow it."""


async def sds_dispositions(
    runner: Runner, scenario: Scenario, step: Step, ctx: ScenarioContext, latencies: list[float]
) -> list[CheckFailure]:
    """The notifications at ``path`` answer the SDS sent by step ``answers`` in an allowed order: for DELIVERY AND
    READ, 4 alone, or 2 followed by nothing but a 3; never 3 first; nothing after the last (``quiet_s``)."""
    spec = ctx.expand(step.raw["sds_dispositions"])
    answers, path = str(spec["answers"]), str(spec["path"])
    within = float(spec.get("within_s", WITHIN_S))
    quiet = float(spec.get("quiet_s", QUIET_S))
    sent = ctx.sent.get(answers)
    try:
        if sent is None:
            raise MultipartError("nothing sent")
        original = decode(parse_sds(sent.content_type, sent.body).signalling)
    except (MultipartError, CodecError) as exc:
        raise ConfigurationError(f"step {answers!r} sent no readable SDS ({exc})") from None
    if not isinstance(original, SdsSignalling) or original.disposition is None:
        raise ConfigurationError(f"step {answers!r} sent no SDS requesting a disposition")
    sequences = _ALLOWED[int(original.disposition)]
    since = ctx.counterpart_mark
    got: list[str] = []
    while True:
        position = len(got)
        candidates = sorted({seq[position] for seq in sequences if len(seq) > position and seq[:position] == got})
        suffix = f"{position + 1}-notification"
        wait = within if not any(seq == got for seq in sequences) else quiet
        arrived = await runner.exchanges.received(scenario.id, f"{step.name}.{suffix}", "POST", path, since, wait)
        if arrived is None:
            if any(seq == got for seq in sequences):
                return []
            return [_nothing(f"{step.name}.{suffix}", f"POST {path} ({' or '.join(candidates)})", wait)]
        since = runner.exchanges.mark()
        if not candidates:
            what = f"nothing after {', '.join(got)}"
            return [CheckFailure(f"{step.name}.{suffix}", "await: none", what, f"POST {path}", "it arrived")]
        expect = {"sds_notification": {"answers": answers, "type": candidates}}
        failures = _judge(runner, scenario, step, suffix, expect, arrived, ctx)
        if failures:
            return failures
        kind = decode(parse_sds(arrived.header("Content-Type") or "", arrived.body).signalling)
        assert isinstance(kind, SdsNotification)
        got.append(kind.notification.name.lower().replace("_", "-"))


# -- content_server ----------------------------------------------------------------------------------------


async def content_server(
    runner: Runner, scenario: Scenario, step: Step, ctx: ScenarioContext, latencies: list[float]
) -> list[CheckFailure]:
    """Upload ``hex`` (as ``type``) to the SUT's content server: ``201`` with an absolute ``Location`` on the
    target's host; the GET of it returns the same octets (FDX-01) and the same ``Content-Type`` (FDX-03)."""
    spec = ctx.expand(step.raw["content_server"])
    content = bytes.fromhex(str(spec["hex"]))
    content_type = str(spec.get("type", "application/octet-stream"))
    upload = Request("POST", runner.target + UPLOAD_PATH, (("Content-Type", content_type),), content)
    carried = await runner.exchanges.send(scenario.id, step.name, upload, None)
    latencies.append(carried.response.elapsed_ms)
    expect = {"status": 201, "headers": {"Location": {"present": True}}}
    sub = _sub(step, "1-upload", {"expect": expect})
    failures = runner.judge(scenario, step.name, sub, carried.response, ctx)
    if failures:
        return failures
    location = carried.response.header("Location") or ""
    if not (urlsplit(location).scheme in ("http", "https") and _same_host(location, runner.target)):
        why = "the Location is not an absolute http(s) URL on the target's host"
        return [CheckFailure(f"{step.name}.1-upload", "header Location", "an absolute URL", location, why)]
    name = f"{step.name}.2-download"
    got = await runner.exchanges.send(scenario.id, name, Request("GET", location, (), b""), None)
    latencies.append(got.response.elapsed_ms)
    checks = {"status": 200, "fd_download": {"size": len(content), "octets_hex": content.hex(), "type": content_type}}
    return _judge(runner, scenario, step, "2-download", checks, got.response, ctx)
