"""An independent, correct implementation of the intel-report exchanges, written differently on purpose.

It shares only the standard's definitions (the catalog's validators and the
rendition converter) with the reference supplier; its HTTP behaviour is its
own: members in another order, extra members and headers, charset parameters,
an absolute Location, namespace prefixes in XML, another problem-type base,
offsets written as +00:00. The suite must certify it.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from aiohttp import web
from lxml import etree

from harness.catalog import Catalog
from harness.families.renditions import family
from harness.validation.validator import validator_for
from harness.validation.xmlsafe import parse_xml

EXTRA = {"X-Request-Id": "alt-1", "Cache-Control": "no-store", "X-Powered-By": "alt-supplier/2"}


def _json(document: dict[str, Any], status: int, content_type: str, **headers: str) -> web.Response:
    body = json.dumps(document, indent=4, sort_keys=True).encode()
    return web.Response(body=body, status=status, headers={"Content-Type": content_type, **EXTRA, **headers})


def _problem(status: int, kind: str, errors: list[dict[str, str]] | None = None) -> web.Response:
    document: dict[str, Any] = {"status": status, "title": kind.replace("-", " "), "type": f"https://alt.test/p/{kind}"}
    if errors:
        document["errors"] = [{"message": e["message"], "rule": e["rule"], "location": e["location"]} for e in errors]
    return _json(document, status, "application/problem+json; charset=UTF-8")


def build_alt_app(catalog: Catalog) -> web.Application:
    json_fmt = catalog.format("intel-report/1.0")
    xml_fmt = catalog.format("intel-report-xml/1.0")
    rendition = family("intel-report")
    assert rendition is not None
    store: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {}

    async def submit(request: web.Request) -> web.StreamResponse:
        declared = (request.content_type or "").lower()
        fmt = {json_fmt.media_type: json_fmt, xml_fmt.media_type: xml_fmt}.get(declared)
        if fmt is None:
            return _problem(415, "unsupported-media-type")
        if (request.content_length or 0) > 1 << 20:
            return _problem(413, "too-large")
        body = await request.content.read(1 << 20 + 1)
        if len(body) > 1 << 20:
            return _problem(413, "too-large")
        result = validator_for(fmt).validate(body)
        if result.model is not None and result.model.get("classification") in ("SECRET", "TOP SECRET"):
            return _problem(422, "classification-not-permitted")
        if not result.valid:
            return _problem(400, "invalid-message", [f.as_dict() for f in result.findings])
        assert result.model is not None
        report_id = result.model["reportId"]
        content = rendition.content_of(result.model)
        if report_id in store:
            if store[report_id][0] != content:
                return _problem(409, "conflict")
            ack = store[report_id][2]
        else:
            received = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
            ack = {"status": "accepted", "receivedAt": received, "reportId": report_id, "queue": "default"}
            store[report_id] = (content, result.model, ack)
        location = f"{request.scheme}://{request.host}/netcode/v1/intel-reports/{report_id}"
        return _json(ack, 202, "application/json; charset=utf-8", Location=location)

    async def retrieve(request: web.Request) -> web.StreamResponse:
        entry = store.get(request.match_info["id"])
        if entry is None:
            return _problem(404, "not-found")
        accept = request.headers.get("Accept", "*/*").lower()
        ranges = [part.split(";")[0].strip() for part in accept.split(",")]
        model = {k: v for k, v in entry[1].items() if k != "extensions"}
        for wanted in ranges:
            if wanted in ("*/*", "application/*", json_fmt.media_type, "application/json"):
                return _json(model, 200, json_fmt.media_type + "; charset=utf-8")
            if wanted in (xml_fmt.media_type, "application/xml"):
                tree = parse_xml(rendition.to_xml(model))
                etree.indent(tree, space="\t")
                pretty = etree.tostring(tree, xml_declaration=True, encoding="UTF-8")
                answered = "application/xml" if wanted == "application/xml" else xml_fmt.media_type
                return web.Response(body=pretty, headers={"Content-Type": answered + "; charset=UTF-8", **EXTRA})
        return _problem(406, "not-acceptable")

    app = web.Application()
    app.router.add_post("/netcode/v1/intel-reports", submit)
    app.router.add_get("/netcode/v1/intel-reports/{id}", retrieve)
    return app
