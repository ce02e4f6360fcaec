"""Hostile requests to the reference endpoints: answered per the profile, recorded, and nobody else suffers."""

from __future__ import annotations

import asyncio
import json
import uuid

import aiohttp
import pytest

from harness.catalog import Catalog
from harness.endpoints import ReferenceServer, build_app, common
from tests.conftest import ROOT
from tests.hostile.peer import BILLION_LAUGHS, DOCTYPE_ONLY, EXTERNAL_ENTITY, QUADRATIC

JSON_TYPE = "application/vnd.netcode.intel-report+json"
XML_TYPE = "application/vnd.netcode.intel-report+xml"
REPORTS = "/netcode/v1/intel-reports"
MINIMAL = (ROOT / "fixtures/formats/intel-report/1.0/samples/valid/minimal.json").read_text()

# body, content type, expected status, problem type suffix
CASES: dict[str, tuple[bytes, str, int, str]] = {
    "deep-json": (b"[" * 100_000 + b"]" * 100_000, JSON_TYPE, 400, "invalid-message"),
    "duplicate-keys": (b'{"reportId": "a", "reportId": "b"}', JSON_TYPE, 400, "invalid-message"),
    "invalid-utf8": (b'{"text": "\xff\xfe"}', JSON_TYPE, 400, "invalid-message"),
    "doctype": (DOCTYPE_ONLY, XML_TYPE, 400, "invalid-message"),
    "external-entity": (EXTERNAL_ENTITY, XML_TYPE, 400, "invalid-message"),
    "billion-laughs": (BILLION_LAUGHS, XML_TYPE, 400, "invalid-message"),
    "quadratic-blowup": (QUADRATIC, XML_TYPE, 400, "invalid-message"),
    "wrong-content-type": (MINIMAL.encode(), "text/plain", 415, "unsupported-media-type"),
    "no-content-type": (MINIMAL.encode(), "", 415, "unsupported-media-type"),
    "empty-body": (b"", JSON_TYPE, 400, "invalid-message"),
    "binary-garbage": (bytes(range(256)) * 8, JSON_TYPE, 400, "invalid-message"),
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_hostile_body_is_answered_per_profile_and_recorded(catalog: Catalog, case: str) -> None:
    body, content_type, status, kind = CASES[case]
    headers = {"Content-Type": content_type} if content_type else {}
    async with (
        ReferenceServer(build_app(catalog)) as url,
        aiohttp.ClientSession(skip_auto_headers=["Content-Type"]) as http,
    ):
        async with http.post(url + REPORTS, data=body, headers=headers) as answer:
            assert answer.status == status
            assert answer.headers["Content-Type"] == "application/problem+json"
            problem = await answer.json(content_type=None)
            assert problem["type"].endswith("/" + kind) and problem["status"] == status
            if status == 400:
                assert problem["errors"] and all(e["rule"] for e in problem["errors"])
        async with http.get(url + "/_harness/received") as answer:
            received = await answer.json()
        assert received[-1]["status"] == status  # the bad message is kept as evidence
        if status == 400:
            kept = received[-1]["body"] if received[-1]["body"] is not None else received[-1]["bodyBase64"]
            assert (len(kept) > 0) == (len(body) > 0)  # the whole (bounded) body, as received


async def test_oversize_is_refused_without_reading_it_whole(catalog: Catalog) -> None:
    async with ReferenceServer(build_app(catalog)) as url:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            f"POST {REPORTS} HTTP/1.1\r\nHost: x\r\nContent-Type: {JSON_TYPE}\r\n"
            f"Content-Length: {100 << 20}\r\n\r\n".encode()
            + b"x" * 65536
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)  # answered after 64 KiB of 100 MiB
        writer.close()
        await writer.wait_closed()
        assert head.startswith(b"HTTP/1.1 413")


async def test_many_slow_senders_do_not_stop_anyone_else(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "BODY_TIMEOUT_S", 1.0)
    async with ReferenceServer(build_app(catalog)) as url:
        host, port = url.removeprefix("http://").split(":")
        slow: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        for _ in range(100):  # a hundred connections that promise a body and send one byte of it
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(
                f"POST {REPORTS} HTTP/1.1\r\nHost: x\r\nContent-Type: {JSON_TYPE}\r\n"
                "Content-Length: 1000\r\n\r\n{".encode()
            )
            await writer.drain()
            slow.append((reader, writer))
        report = json.loads(MINIMAL) | {"reportId": str(uuid.uuid4())}
        async with (
            aiohttp.ClientSession() as http,
            http.post(url + REPORTS, data=json.dumps(report), headers={"Content-Type": JSON_TYPE}) as answer,
        ):
            assert answer.status == 202  # served while a hundred senders stall
        heads = await asyncio.gather(*(asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 5) for r, _ in slow))
        assert all(head.startswith(b"HTTP/1.1 408") for head in heads)  # each stalled sender gets its answer
        for _, writer in slow:
            writer.close()
        await asyncio.gather(*(w.wait_closed() for _, w in slow), return_exceptions=True)


def _sds_sample() -> tuple[str, bytes]:
    """The one-to-one text SDS of the catalog: (Content-Type with boundary, body)."""
    raw = (ROOT / "fixtures/formats/mcdata-sds/1.0/samples/valid/one-to-one-text.multipart").read_bytes()
    head, _, body = raw.partition(b"\r\n\r\n") if b"\r\n\r\n" in raw[:200] else raw.partition(b"\n\n")
    return head.decode().split(":", 1)[1].strip(), body


BAD_MULTIPART: dict[str, tuple[str, bytes]] = {
    "no-boundary-parameter": ("multipart/mixed", _sds_sample()[1]),
    "boundary-never-found": ("multipart/mixed; boundary=not-in-the-body", _sds_sample()[1]),
    "cut-before-closing-delimiter": (_sds_sample()[0], _sds_sample()[1][: len(_sds_sample()[1]) // 2]),
    "two-hundred-parts": (
        "multipart/mixed; boundary=b",
        b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(200)) + b"--b--\r\n",
    ),
    "endless-part-header": (
        "multipart/mixed; boundary=b",
        b"--b\r\n" + b"X-Filler: " + b"y" * 100_000 + b"\r\n\r\nx\r\n--b--\r\n",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_MULTIPART))
async def test_bad_multipart_is_refused_and_recorded(catalog: Catalog, case: str) -> None:
    content_type, body = BAD_MULTIPART[case]
    async with ReferenceServer(build_app(catalog)) as url, aiohttp.ClientSession() as http:
        async with http.post(url + "/netcode/v1/esn/sds", data=body, headers={"Content-Type": content_type}) as a:
            assert a.status == 400
            problem = await a.json(content_type=None)
            assert problem["type"].endswith("/invalid-message") and problem["errors"]
        # The gateway still serves a good SDS afterwards, and kept the bad one as evidence.
        good_type, good_body = _sds_sample()
        async with http.post(url + "/netcode/v1/esn/sds", data=good_body, headers={"Content-Type": good_type}) as a:
            assert a.status == 202
        async with http.get(url + "/_harness/received") as answer:
            received = await answer.json()
    assert [m["status"] for m in received[-2:]] == [400, 202]
