"""Deliberately broken variants of the reference force for checks-core: each breaks one rule of queries.md."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from aiohttp import web

from harness.catalog import Catalog
from harness.endpoints import build_app
from harness.endpoints.intel_hub import IntelHub
from harness.endpoints.query_responder import QueryResponder
from harness.endpoints.test_hooks import TestHooks
from harness.families.queries.rules import expected_person_result, vrm_key
from harness.model import Format
from harness.validation.validator import Validation


class CaseSensitiveNames(QueryResponder):
    def answer_person(self, query: dict[str, Any]) -> dict[str, Any]:
        wanted = query["criteria"]["familyName"].strip()
        persons = [p for p in self.dataset["persons"] if p["familyName"].strip() == wanted]
        return expected_person_result({"persons": persons}, query)


class DateOfBirthIgnored(QueryResponder):
    def answer_person(self, query: dict[str, Any]) -> dict[str, Any]:
        criteria = {k: v for k, v in query["criteria"].items() if k != "dateOfBirth"}
        return super().answer_person({**query, "criteria": criteria})


class GivenNameIgnored(QueryResponder):
    def answer_person(self, query: dict[str, Any]) -> dict[str, Any]:
        criteria = {k: v for k, v in query["criteria"].items() if k != "givenName"}
        return super().answer_person({**query, "criteria": criteria})


class NamePrefixMatched(QueryResponder):
    """SMITH also finds SMITH-JONES."""

    def answer_person(self, query: dict[str, Any]) -> dict[str, Any]:
        wanted = query["criteria"]["familyName"].strip().casefold()
        persons = [p for p in self.dataset["persons"] if p["familyName"].casefold().startswith(wanted)]
        narrowed = {k: v for k, v in query["criteria"].items() if k != "familyName"}
        answer = expected_person_result({"persons": persons}, {**query, "criteria": {"familyName": "", **narrowed}})
        matches = [p for p in persons if p in self.dataset["persons"]]
        if "dateOfBirth" in narrowed:
            matches = [p for p in matches if p["dateOfBirth"] == narrowed["dateOfBirth"]]
        return {**answer, "status": "match" if matches else "no-trace", "matches": matches}


class VrmComparedWithSpaces(QueryResponder):
    def answer_vehicle(self, query: dict[str, Any]) -> dict[str, Any]:
        vehicle = next((v for v in self.dataset["vehicles"] if v["vrm"] == query["vrm"].upper()), None)
        return {**super().answer_vehicle(query), "status": "match" if vehicle else "no-trace", "vehicle": vehicle}


class VrmCaseSensitive(QueryResponder):
    def answer_vehicle(self, query: dict[str, Any]) -> dict[str, Any]:
        key = query["vrm"].replace(" ", "")
        vehicle = next((v for v in self.dataset["vehicles"] if vrm_key(v["vrm"]) == key), None)
        return {**super().answer_vehicle(query), "status": "match" if vehicle else "no-trace", "vehicle": vehicle}


class MarkersDropped(QueryResponder):
    def answer_vehicle(self, query: dict[str, Any]) -> dict[str, Any]:
        answer = super().answer_vehicle(query)
        if answer["vehicle"]:
            answer["vehicle"] = {**answer["vehicle"], "markers": []}
        return answer


class NoPurposeRequired(QueryResponder):
    def validate(self, fmt: Format, body: bytes) -> Validation:
        found = super().validate(fmt, body)
        return Validation(found.format_id, tuple(f for f in found.findings if f.rule != "PQ-01"), found.model)


class NoVrmRule(QueryResponder):
    def validate(self, fmt: Format, body: bytes) -> Validation:
        found = super().validate(fmt, body)
        return Validation(found.format_id, tuple(f for f in found.findings if f.rule != "VQ-01"), found.model)


class QueryIdNotEchoed(QueryResponder):
    def answer_person(self, query: dict[str, Any]) -> dict[str, Any]:
        return {**super().answer_person(query), "queryId": str(uuid.uuid4())}

    def answer_vehicle(self, query: dict[str, Any]) -> dict[str, Any]:
        return {**super().answer_vehicle(query), "queryId": str(uuid.uuid4())}


class SlowAnswers(QueryResponder):
    """Vehicle checks take 550 ms: within 2 s, not within 500 ms."""

    async def vehicle(self, request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.55)
        return await super().vehicle(request)


class OutgoingWithoutPurpose(TestHooks):
    def requested_by(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"force": self.force, "officerId": self.officer}


class OutgoingWrongCriteria(TestHooks):
    def person_query(self, params: dict[str, Any]) -> dict[str, Any]:
        query = super().person_query(params)
        query["criteria"] = {"familyName": "SMITH"}  # drops the date of birth it was asked for
        return query


RESPONDERS: dict[str, type[QueryResponder]] = {
    "case-sensitive-names": CaseSensitiveNames,
    "date-of-birth-ignored": DateOfBirthIgnored,
    "given-name-ignored": GivenNameIgnored,
    "name-prefix-matched": NamePrefixMatched,
    "vrm-compared-with-spaces": VrmComparedWithSpaces,
    "vrm-case-sensitive": VrmCaseSensitive,
    "markers-dropped": MarkersDropped,
    "no-purpose-required": NoPurposeRequired,
    "no-vrm-rule": NoVrmRule,
    "query-id-not-echoed": QueryIdNotEchoed,
    "slow-answers": SlowAnswers,
}
HOOKS: dict[str, type[TestHooks]] = {
    "outgoing-without-purpose": OutgoingWithoutPurpose,
    "outgoing-wrong-criteria": OutgoingWrongCriteria,
}


def build_broken_force(catalog: Catalog, variant: str) -> web.Application:
    responder = RESPONDERS.get(variant, QueryResponder)(catalog)
    hooks = HOOKS.get(variant, TestHooks)()
    return build_app(catalog, [IntelHub(catalog), responder, hooks])
