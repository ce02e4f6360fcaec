"""Reference force for cross-force checks (spec `queries.md`): answers person and vehicle queries.

It holds a certification data set, answers by the spec's matching rules,
validates every query it receives (the recorder keeps them as evidence), and
offers the test hook ``PUT /netcode/v1/_test/dataset``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from harness.catalog import Catalog
from harness.endpoints.common import BODY, BodyTooLarge, json_response, problem, read_body, read_json
from harness.endpoints.store import JSON, Store, Stores, stores
from harness.families.queries.rules import expected_person_result, expected_vehicle_result
from harness.http import media_type
from harness.model import Finding, Format
from harness.profile import DATASET_HOOK, PERSON_PATH, VEHICLE_PATH
from harness.validation.jsonschema import SchemaValidator
from harness.validation.validator import Validation, json_pointer, validator_for

__all__ = ["QueryResponder"]

DEFAULT_DATASET = "checks-core@1.0"


class QueryResponder:
    """The reference implementation of both checks; each decision is a method tests can override."""

    def __init__(
        self, catalog: Catalog, dataset: str = DEFAULT_DATASET, hooks: bool = True, shared: Stores | None = None
    ) -> None:
        self.person_query = catalog.format("person-query/1.0")
        self.vehicle_query = catalog.format("vehicle-query/1.0")
        self.dataset_ref = dataset
        self.initial = catalog.dataset(dataset)
        self.dataset_schema = SchemaValidator(catalog.dataset_schema(dataset))
        self.loaded: Store[str, dict[str, Any]] = (shared or stores()).store(
            "query-responder/dataset", 1, JSON, cached=True
        )
        self.hooks = hooks

    def routes(self) -> list[web.RouteDef]:
        routes = [web.post(PERSON_PATH, self.person), web.post(VEHICLE_PATH, self.vehicle)]
        if self.hooks:
            routes.append(web.put(DATASET_HOOK, self.load_dataset))
        return routes

    @property
    def dataset(self) -> dict[str, Any]:
        """The data set the responder answers from: the one loaded through the test hook, else its initial one."""
        loaded = self.loaded.get("dataset")
        return self.initial if loaded is None else loaded

    @dataset.setter
    def dataset(self, document: dict[str, Any]) -> None:
        self.loaded["dataset"] = document

    def reset(self) -> None:
        self.loaded.clear()

    async def _read_query(self, request: web.Request, fmt: Format) -> tuple[Validation | None, web.Response | None]:
        if media_type(request.headers.get("Content-Type")) not in fmt.media_types:
            return None, problem(415, "unsupported-media-type", f"send {fmt.media_type}")
        try:
            body = await read_body(request)
        except BodyTooLarge:
            return None, problem(413, "too-large", "bodies are limited to 1 MiB", Connection="close")
        request[BODY] = body
        validation = self.validate(fmt, body)
        if not validation.valid:
            return None, problem(400, "invalid-message", f"{len(validation.findings)} finding(s)", validation.findings)
        return validation, None

    def validate(self, fmt: Format, body: bytes) -> Validation:
        return validator_for(fmt).validate(body)

    async def person(self, request: web.Request) -> web.StreamResponse:
        validation, refusal = await self._read_query(request, self.person_query)
        if refusal is not None:
            return refusal
        assert validation is not None and validation.model is not None
        return json_response(self.answer_person(validation.model))

    async def vehicle(self, request: web.Request) -> web.StreamResponse:
        validation, refusal = await self._read_query(request, self.vehicle_query)
        if refusal is not None:
            return refusal
        assert validation is not None and validation.model is not None
        return json_response(self.answer_vehicle(validation.model))

    def answer_person(self, query: dict[str, Any]) -> dict[str, Any]:
        return expected_person_result(self.dataset, query)

    def answer_vehicle(self, query: dict[str, Any]) -> dict[str, Any]:
        return expected_vehicle_result(self.dataset, query)

    async def load_dataset(self, request: web.Request) -> web.StreamResponse:
        try:
            document, refused = await read_json(request, limit=16 << 20)
        except BodyTooLarge:
            return problem(413, "too-large", "a data set is limited to 16 MiB")
        if refused is not None:
            return refused
        errors = self.dataset_schema.errors(document)
        if errors:
            findings = [Finding(json_pointer(path), "schema", message) for path, message in errors]
            return problem(400, "invalid-message", "not a certification data set", findings)
        self.dataset = document
        return web.Response(status=204)
