"""Reference force intelligence hub: submit and retrieve of `netcode.intel-report/1.0` (spec `intel-report.md`).

Choices where the spec is silent (documented in docs/decisions.md):
- a report classified SECRET or TOP SECRET is refused with 422 as soon as its
  classification can be read, before any other finding: such content is not
  processed further, valid or not;
- "identical" means the same content (everything but ``extensions``), so the
  same report in the other rendition is a re-submission, not a conflict.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from harness.catalog import Catalog
from harness.endpoints.common import BODY, BodyTooLarge, json_response, problem, read_body, utc_now
from harness.endpoints.store import Codec, Store, Stores, stores
from harness.families.renditions import Family, family
from harness.http import media_type, negotiate
from harness.model import Format
from harness.profile import INTEL_REPORTS_PATH
from harness.validation.validator import Validation, validator_for

__all__ = ["IntelHub", "StoredReport"]

NOT_PERMITTED = frozenset({"SECRET", "TOP SECRET"})


@dataclass(slots=True, frozen=True)
class StoredReport:
    format_id: str
    body: bytes
    media_type: str
    content: dict[str, Any]
    model: dict[str, Any]
    ack: dict[str, Any]


def _encode(report: StoredReport) -> bytes:
    fields = {
        "format_id": report.format_id,
        "body": base64.b64encode(report.body).decode(),
        "media_type": report.media_type,
        "content": report.content,
        "model": report.model,
        "ack": report.ack,
    }
    return json.dumps(fields, ensure_ascii=False).encode()


def _decode(data: bytes) -> StoredReport:
    fields = json.loads(data)
    fields["body"] = base64.b64decode(fields["body"])
    return StoredReport(**fields)


REPORTS = Codec(_encode, _decode)
"""A stored report as JSON (shared stores, ``harness serve --processes``): content and model are JSON documents."""


class IntelHub:
    """The reference implementation of the intelligence report exchanges.

    Each decision of the exchange is a method, so that tests can build
    deliberately broken variants by overriding one of them.
    """

    family_name = "intel-report"

    def __init__(self, catalog: Catalog, capacity: int = 1_000, shared: Stores | None = None) -> None:
        formats = catalog.formats_of_family(self.family_name)
        self.by_media_type: dict[str, Format] = {mt: fmt for fmt in formats for mt in fmt.media_types}
        self.json_format = next(fmt for fmt in formats if fmt.syntax == "json")
        self.xml_format = next(fmt for fmt in formats if fmt.syntax == "xml")
        rendition = family(self.family_name)
        assert rendition is not None
        self.family: Family = rendition
        self.stores = shared if shared is not None else stores()
        self.reports: Store[str, StoredReport] = self.stores.store("intel-hub/reports", capacity, REPORTS)
        self.capacity = capacity

    def routes(self) -> list[web.RouteDef]:
        return [web.post(INTEL_REPORTS_PATH, self.submit), web.get(INTEL_REPORTS_PATH + "/{report_id}", self.retrieve)]

    def reset(self) -> None:
        self.reports.clear()

    # -- submit ---------------------------------------------------------------

    async def submit(self, request: web.Request) -> web.StreamResponse:
        fmt = self.by_media_type.get(media_type(request.headers.get("Content-Type")))
        if fmt is None:
            accepted = ", ".join(self.by_media_type)
            return problem(415, "unsupported-media-type", f"send one of: {accepted}", Accept_Post=accepted)
        try:
            body = await read_body(request)
        except BodyTooLarge:
            return problem(413, "too-large", "bodies are limited to 1 MiB", Connection="close")
        request[BODY] = body
        validation = self.validate(fmt, body)
        model = validation.model
        classification = model.get("classification") if model else None
        if not self.permitted(classification):
            return problem(
                422, "classification-not-permitted", f"{classification} may not be sent over the network code"
            )
        if not validation.valid:
            return problem(400, "invalid-message", f"{len(validation.findings)} finding(s)", validation.findings)
        assert model is not None
        return self.accept(fmt, body, model)

    def validate(self, fmt: Format, body: bytes) -> Validation:
        return validator_for(fmt).validate(body)

    def permitted(self, classification: Any) -> bool:
        return not (isinstance(classification, str) and classification in NOT_PERMITTED)

    def accept(self, fmt: Format, body: bytes, model: dict[str, Any]) -> web.StreamResponse:
        report_id = str(model["reportId"])
        content = self.family.content_of(model)
        with self.stores.transaction():  # the first of two processes receiving the same report stores it
            stored = self.reports.get(report_id)
            if stored is not None:
                if self.same_content(stored.content, content):
                    return self.acknowledge(stored.ack)
                return problem(409, "conflict", f"reportId {report_id} was first submitted with different content")
            ack = {"reportId": report_id, "status": "accepted", "receivedAt": utc_now()}
            self.reports[report_id] = StoredReport(fmt.id, body, fmt.media_type, content, model, ack)  # oldest go
        return self.acknowledge(ack)

    def same_content(self, first: dict[str, Any], second: dict[str, Any]) -> bool:
        return first == second

    def acknowledge(self, ack: dict[str, Any]) -> web.StreamResponse:
        return json_response(ack, 202, Location=f"{INTEL_REPORTS_PATH}/{ack['reportId']}")

    # -- retrieve -------------------------------------------------------------

    def offers(self) -> dict[str, str]:
        """Media types a retrieve can be answered in, first one preferred for ``*/*``."""
        return {
            self.json_format.media_type: "json",
            self.xml_format.media_type: "xml",
            "application/json": "json",
            "application/xml": "xml",
        }

    async def retrieve(self, request: web.Request) -> web.StreamResponse:
        report_id = request.match_info["report_id"]
        stored = self.reports.get(report_id)
        if stored is None:
            return problem(404, "not-found", f"no report {report_id}")
        chosen = negotiate(request.headers.get("Accept"), self.offers())
        if chosen is None:
            return problem(406, "not-acceptable", f"acceptable: {', '.join(self.offers())}")
        return self.render(stored, chosen, self.offers()[chosen])

    def render(self, stored: StoredReport, content_type: str, syntax: str) -> web.StreamResponse:
        original_syntax = "json" if stored.format_id == self.json_format.id else "xml"
        if syntax == original_syntax:
            body = stored.body
        elif syntax == "xml":
            body = self.family.to_xml(stored.model)
        else:
            body = json.dumps(_without_extensions(stored.model), ensure_ascii=False).encode()
        return web.Response(body=body, status=200, headers={"Content-Type": content_type})


def _without_extensions(model: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in model.items() if key != "extensions"}
