"""Deliberately broken variants of the reference supplier: each breaks one thing the spec requires.

Every variant overrides one decision of :class:`IntelHub` (or, for what cuts
across the whole binding, adds one middleware). The suite must fail each.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import web

from harness.catalog import Catalog
from harness.endpoints import build_app
from harness.endpoints.common import BodyTooLarge, json_response, problem, read_body
from harness.endpoints.intel_hub import IntelHub, StoredReport
from harness.http import media_type
from harness.model import Finding, Format
from harness.profile import INTEL_REPORTS_PATH as BASE_PATH
from harness.validation.validator import Validation


class WrongStatus(IntelHub):
    def acknowledge(self, ack: dict[str, Any]) -> web.StreamResponse:
        return json_response(ack, 200, Location=f"{BASE_PATH}/{ack['reportId']}")


class MissingLocation(IntelHub):
    def acknowledge(self, ack: dict[str, Any]) -> web.StreamResponse:
        return json_response(ack, 202)


class AckWithAnotherId(IntelHub):
    def acknowledge(self, ack: dict[str, Any]) -> web.StreamResponse:
        other = str(uuid.uuid4())
        return json_response({**ack, "reportId": other}, 202, Location=f"{BASE_PATH}/{ack['reportId']}")


class SecretAccepted(IntelHub):
    def permitted(self, classification: Any) -> bool:
        return True


class Ir01NotEnforced(IntelHub):
    def validate(self, fmt: Format, body: bytes) -> Validation:
        found = super().validate(fmt, body)
        kept = tuple(f for f in found.findings if f.rule != "IR-01")
        return Validation(found.format_id, kept, found.model)


class ConflictNotDetected(IntelHub):
    def same_content(self, first: dict[str, Any], second: dict[str, Any]) -> bool:
        return True


class RetrieveIgnoresAccept(IntelHub):
    async def retrieve(self, request: web.Request) -> web.StreamResponse:
        stored = self.reports.get(request.match_info["report_id"])
        if stored is None:
            return problem(404, "not-found")
        return self.render(stored, self.json_format.media_type, "json")


class IdempotencyForgotten(IntelHub):
    """Re-submission is acknowledged afresh, with a new receivedAt."""

    def accept(self, fmt: Format, body: bytes, model: dict[str, Any]) -> web.StreamResponse:
        stored = self.reports.pop(str(model["reportId"]), None)
        if stored is not None and not self.same_content(stored.content, self.family.content_of(model)):
            self.reports[str(model["reportId"])] = stored
        return super().accept(fmt, body, model)


class OversizeRead(IntelHub):
    """Reads any body whole and judges it, instead of answering 413."""

    async def submit(self, request: web.Request) -> web.StreamResponse:
        fmt = self.by_media_type.get(media_type(request.headers.get("Content-Type")))
        if fmt is None:
            return problem(415, "unsupported-media-type")
        try:
            body = await read_body(request, limit=64 << 20)
        except BodyTooLarge:
            return problem(413, "too-large")
        return problem(400, "invalid-message", errors=[Finding("", "schema", f"{len(body)} bytes")])


class AnyMediaType(IntelHub):
    """Treats any body as JSON whatever its Content-Type."""

    async def submit(self, request: web.Request) -> web.StreamResponse:
        if media_type(request.headers.get("Content-Type")) not in self.by_media_type:
            request = request.clone(headers={**request.headers, "Content-Type": self.json_format.media_type})
        return await super().submit(request)


class ExtensionsRejected(IntelHub):
    def validate(self, fmt: Format, body: bytes) -> Validation:
        found = super().validate(fmt, body)
        if found.model is not None and found.model.get("extensions"):
            extra = Finding("/extensions", "schema", "extensions not understood")
            return Validation(found.format_id, (*found.findings, extra), found.model)
        return found


class FirstErrorOnly(IntelHub):
    def validate(self, fmt: Format, body: bytes) -> Validation:
        found = super().validate(fmt, body)
        return Validation(found.format_id, found.findings[:1], found.model)


class NoRuleIds(IntelHub):
    """Rejects invalid reports but names every error as 'schema'."""

    def validate(self, fmt: Format, body: bytes) -> Validation:
        found = super().validate(fmt, body)
        anonymous = tuple(Finding(f.location, "schema", f.message) for f in found.findings)
        return Validation(found.format_id, anonymous, found.model)


class LossyXmlRendition(IntelHub):
    """The XML rendition drops the last subject."""

    def render(self, stored: StoredReport, content_type: str, syntax: str) -> web.StreamResponse:
        if syntax == "xml":
            model = {**stored.model, "subjects": stored.model["subjects"][:-1] or stored.model["subjects"]}
            if model["subjects"] == stored.model["subjects"]:
                model["text"] = stored.model["text"] + " (edited)"
            return web.Response(body=self.family.to_xml(model), headers={"Content-Type": content_type})
        return super().render(stored, content_type, syntax)


class SlowAck(IntelHub):
    async def submit(self, request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(1.2)
        return await super().submit(request)


class StoresSecretThenRefuses(IntelHub):
    """Answers 422 for SECRET but keeps the report anyway."""

    def permitted(self, classification: Any) -> bool:
        return True

    def accept(self, fmt: Format, body: bytes, model: dict[str, Any]) -> web.StreamResponse:
        response = super().accept(fmt, body, model)
        if model.get("classification") in ("SECRET", "TOP SECRET"):
            return problem(422, "classification-not-permitted")
        return response


@web.middleware
async def _plain_json_errors(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
    response: web.StreamResponse = await handler(request)
    if response.status >= 400 and isinstance(response, web.Response) and response.body is not None:
        document = json.loads(bytes(response.body))  # type: ignore[arg-type]
        return web.json_response({"error": document.get("title")}, status=response.status)
    return response


def build_broken(catalog: Catalog, variant: str) -> web.Application:
    if variant == "errors-not-problem-json":
        app = build_app(catalog)
        app.middlewares.append(_plain_json_errors)
        return app
    return build_app(catalog, [VARIANTS[variant](catalog)])


VARIANTS: dict[str, type[IntelHub]] = {
    "wrong-status": WrongStatus,
    "missing-location": MissingLocation,
    "ack-with-another-id": AckWithAnotherId,
    "secret-accepted": SecretAccepted,
    "ir-01-not-enforced": Ir01NotEnforced,
    "conflict-not-detected": ConflictNotDetected,
    "retrieve-ignores-accept": RetrieveIgnoresAccept,
    "idempotency-forgotten": IdempotencyForgotten,
    "oversize-read-whole": OversizeRead,
    "any-media-type": AnyMediaType,
    "extensions-rejected": ExtensionsRejected,
    "first-error-only": FirstErrorOnly,
    "no-rule-ids": NoRuleIds,
    "lossy-xml-rendition": LossyXmlRendition,
    "slow-ack": SlowAck,
    "stores-secret": StoresSecretThenRefuses,
}
