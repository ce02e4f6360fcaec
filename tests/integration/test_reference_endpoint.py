"""The reference supplier on its own: control API, recorded evidence, binding-level answers."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import aiohttp

from harness.catalog import Catalog
from harness.endpoints import ReferenceServer, build_app
from tests.conftest import ROOT

SAMPLE = ROOT / "fixtures/formats/intel-report/1.0/samples/valid/minimal.json"
JSON_TYPE = "application/vnd.netcode.intel-report+json"


def report(report_id: str) -> bytes:
    document = json.loads(Path(SAMPLE).read_text())
    document["reportId"] = report_id
    return json.dumps(document).encode()


async def test_records_every_message_and_resets(catalog: Catalog) -> None:
    async with ReferenceServer(build_app(catalog)) as url, aiohttp.ClientSession() as http:
        report_id = str(uuid.uuid4())
        headers = {"Content-Type": JSON_TYPE, "Authorization": "Bearer s3cr3t-token"}
        async with http.post(url + "/netcode/v1/intel-reports", data=report(report_id), headers=headers) as answer:
            assert answer.status == 202
        async with http.post(url + "/netcode/v1/intel-reports", data=b"{", headers=headers) as answer:
            assert answer.status == 400
            problem = await answer.json(content_type=None)
            assert problem["errors"][0]["rule"] == "schema"
        async with http.get(url + "/_harness/received") as answer:
            received = await answer.json()
        assert [m["status"] for m in received] == [202, 400]
        assert received[0]["body"] == report(report_id).decode()
        assert received[1]["body"] == "{"
        assert "s3cr3t-token" not in json.dumps(received)
        async with http.post(url + "/_harness/reset") as answer:
            assert answer.status == 204
        async with http.get(url + f"/netcode/v1/intel-reports/{report_id}") as answer:
            assert answer.status == 404
        async with http.get(url + "/_harness/received") as answer:
            assert [m["path"] for m in await answer.json()] == [f"/netcode/v1/intel-reports/{report_id}"]


async def test_unknown_paths_and_methods_are_problems(catalog: Catalog) -> None:
    async with ReferenceServer(build_app(catalog)) as url, aiohttp.ClientSession() as http:
        async with http.get(url + "/netcode/v1/nothing-here") as answer:
            assert answer.status == 404
            assert answer.headers["Content-Type"] == "application/problem+json"
            assert (await answer.json(content_type=None))["type"].endswith("/not-found")
        async with http.delete(url + "/netcode/v1/intel-reports") as answer:
            assert answer.status == 405
            assert "POST" in answer.headers["Allow"]
        async with http.get(url + "/_harness/health") as answer:
            assert (await answer.json())["status"] == "ok"


async def test_oversize_refused_from_content_length_and_while_streaming(catalog: Catalog) -> None:
    async with ReferenceServer(build_app(catalog)) as url, aiohttp.ClientSession() as http:
        big = io.BytesIO(b"x" * ((1 << 20) + 1))
        endpoint = url + "/netcode/v1/intel-reports"
        async with http.post(endpoint, data=big, headers={"Content-Type": JSON_TYPE}) as a:
            assert a.status == 413

        async def chunks():  # no Content-Length: chunked transfer, refused while reading
            for _ in range(20):
                yield b"y" * 65536

        async with http.post(
            url + "/netcode/v1/intel-reports", data=chunks(), headers={"Content-Type": JSON_TYPE}
        ) as a:
            assert a.status == 413
            assert (await a.json(content_type=None))["type"].endswith("/too-large")


async def test_fault_in_a_role_is_a_500_problem_not_a_crash(catalog: Catalog) -> None:
    class Faulty:
        def routes(self):
            async def boom(_):
                raise RuntimeError("bug")

            from aiohttp import web

            return [web.get("/netcode/v1/boom", boom)]

        def reset(self) -> None:
            pass

    async with (
        ReferenceServer(build_app(catalog, [Faulty()])) as url,
        aiohttp.ClientSession() as http,
        http.get(url + "/netcode/v1/boom") as answer,
    ):
        assert answer.status == 500
        assert answer.headers["Content-Type"] == "application/problem+json"
