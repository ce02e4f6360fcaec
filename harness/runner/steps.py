"""Sans-I/O steps: prepare an exchange step's request, judge the answer.

Plain functions over values (a step, a scenario context, a response): no asyncio, no transport.
The asyncio runner, the Locust load users (under gevent) and the offline re-judging of evidence
all call these, so a message is judged the same way whoever carried it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from harness.model import CheckFailure, ConfigurationError
from harness.runner.checks import CHECKS, CheckContext, evaluate
from harness.runner.context import Message, ScenarioContext, is_missing, resolve_pointer
from harness.transport import Request, Response
from harness.validation.jsonsafe import UnsafeJson, parse_json
from harness.validation.validator import sample_findings, validator_for

__all__ = ["as_sent", "build_request", "capture", "check_outgoing", "judge"]

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_UUID_ANYWHERE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def build_request(
    step: Mapping[str, Any],
    ctx: ScenarioContext,
    target: str,
    carrier_target: Callable[[Mapping[str, Any]], str] | None = None,
) -> tuple[Request, Message | None]:
    """The request of an exchange step: to ``target/path``, or, with ``transport: NAME``, to the target
    ``carrier_target(spec)`` names for that transport (a SIP URI has no path; the method defaults to
    ``MESSAGE``). The message it carries is checked against what the suite claims of it."""
    spec = step.get("request")
    if not isinstance(spec, dict):
        raise ConfigurationError("a step needs a 'request' mapping")
    if spec.get("transport") is None:
        method = str(spec.get("method", "GET")).upper()
        path = str(ctx.expand(spec.get("path", "/")))
        if "://" in path:
            raise ConfigurationError(f"a step's path is relative to the target, not a URL: {path!r}")
        url = target + "/" + path.lstrip("/")  # paths sit below the target's base path
    else:
        if "path" in spec:
            raise ConfigurationError(f"a step carried by {spec['transport']!r} goes to its target: no 'path'")
        if carrier_target is None:
            raise ConfigurationError(f"no target for transport {spec['transport']!r}")
        method = str(spec.get("method", "MESSAGE")).upper()
        url = carrier_target(spec)
    headers: dict[str, str] = {}
    message: Message | None = None
    body = b""
    if "message" in spec:
        message = ctx.build_message(spec["message"])
        body = message.body
        headers["Content-Type"] = message.content_type
        check_outgoing(spec["message"], message)
    elif "body" in spec:
        body = str(ctx.expand(spec["body"])).encode()
    elif "body_base64" in spec:  # a binary body (a recorded MCData SDS): its octets as they are, no template
        try:
            body = base64.b64decode(str(spec["body_base64"]), validate=True)
        except binascii.Error as exc:
            raise ConfigurationError(f"body_base64 is not base64: {exc}") from None
    for name, value in (spec.get("headers") or {}).items():
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = str(ctx.expand(value))
    return Request(method, url, tuple(headers.items()), body), message


def check_outgoing(spec: Mapping[str, Any], message: Message) -> None:
    """Every message the harness sends is validated; a suite that claims wrongly is a suite bug."""
    if message.format is None:
        return
    claimed = spec.get("valid")
    if claimed is None and message.sample is not None and not spec.get("set") and not spec.get("remove"):
        claimed = not sample_findings(message.format, message.sample)[0]
    if claimed is None:
        return
    validator = validator_for(message.format)
    # A JSON message's model is exactly its bytes parsed (or the bytes are the model dumped):
    # validating the model gives the same verdict without parsing again.
    as_model = message.format.syntax == "json" and message.model is not None
    if as_model and len(message.body) <= message.format.max_bytes:
        validation = validator.validate_model(message.model)
    elif message.format.syntax == "multipart":  # validated as the entity it is stored as
        validation = validator.validate(f"Content-Type: {message.content_type}\r\n\r\n".encode() + message.body)
    else:
        validation = validator.validate(message.body)
    if validation.valid != bool(claimed):
        detail = "; ".join(f"{f.rule} {f.location}: {f.message}" for f in validation.findings[:3])
        raise ConfigurationError(
            f"suite bug: the message meant to be {'valid' if claimed else 'invalid'} is not ({detail or 'no finding'})"
        )


def judge(
    scenario_id: str,
    name: str,
    step: Mapping[str, Any],
    response: Response,
    ctx: ScenarioContext,
    message: Message | None,
) -> list[CheckFailure]:
    """Every check the step expects, on ``response``; when all pass, its captures into ``ctx``."""
    check_ctx = CheckContext(response, ctx, message)
    expect = step.get("expect") or {}
    for key in expect:
        if key not in CHECKS:
            raise ConfigurationError(f"unknown check {key!r} in scenario {scenario_id}")
    failures = evaluate(expect, check_ctx, name)  # a wrong status: the checks that depend on it are not run
    if not failures:
        capture(step.get("capture") or {}, check_ctx, ctx, name, failures)
    return failures


def capture(
    spec: Mapping[str, str], check_ctx: CheckContext, ctx: ScenarioContext, step: str, failures: list[CheckFailure]
) -> None:
    """Carry the values ``spec`` names (``header:NAME`` or a JSON pointer) into ``ctx.captures``; a source
    prefixed ``uuid:`` carries the one UUID that value holds (the id in a ``Location``)."""
    for variable, source in spec.items():
        whole = source.removeprefix("uuid:")
        if whole.startswith("header:"):
            value: Any = check_ctx.response.header(whole[len("header:") :])
        else:
            document, _ = check_ctx.json()
            value = resolve_pointer(document, whole)
            value = None if is_missing(value) else value
        if value is not None and whole != source:
            found = _UUID_ANYWHERE.findall(value) if isinstance(value, str) else []
            value = found[0] if len(found) == 1 else None
        if value is None:
            failures.append(
                CheckFailure(step, f"capture {variable}", f"a value at {source}", None, "nothing to capture")
            )
        else:
            ctx.captures[variable] = value


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def as_sent(built: Request, message: Message | None, sent: Request, ctx: ScenarioContext) -> Message | None:
    """The message as another run sent it (``sent``, a recorded request), its fresh identifiers taken over.

    Building a step's request again gives fresh identifiers (``${uuid:NAME}``) that differ from the
    recorded ones but sit at the same offsets of the path and of the body: each is read off the recorded
    request there and kept in ``ctx`` (later steps then refer to what that run really sent). The path is
    compared, not the whole URL, so a recorded origin-form start line (``POST /reports HTTP/1.1``) matches.
    """
    taken: dict[str, str] = {}
    pairs = ((_path_of(built.url).encode(), _path_of(sent.url).encode()), (built.body, sent.body))
    for name, value in list(ctx.uuids.items()):
        for mine, theirs in pairs:
            offset = mine.find(value.encode())
            if offset >= 0:
                candidate = theirs[offset : offset + len(value)].decode("latin-1")
                if _UUID.match(candidate):
                    ctx.uuids[name] = taken[value] = candidate
                    break
    if message is None:
        return None
    model = message.model
    if model is not None:
        try:
            parsed = parse_json(sent.body)
        except (UnsafeJson, ValueError):
            parsed = None
        if isinstance(parsed, dict):
            model = parsed
        else:  # a model rendered from XML: the fresh identifiers swapped for the recorded ones
            text = json.dumps(model)
            for fresh, old in taken.items():
                text = text.replace(fresh, old)
            model = json.loads(text)
    content_type = next((v for k, v in sent.headers if k.lower() == "content-type"), "") or message.content_type
    return Message(message.format, sent.body, content_type, model, message.sample)
