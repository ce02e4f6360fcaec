"""The reference content server of MCData file distribution over HTTP (esn.md 1.1, "The content server").

- ``POST /netcode/v1/esn/files``: the raw octets with the file's ``Content-Type``, answered ``201 Created``
  with an absolute ``Location`` (``{base}/netcode/v1/esn/files/{uuid}``); ``413`` above 1 MiB (binding
  rule 4); ``415`` without a ``Content-Type``.
- ``GET /netcode/v1/esn/files/{uuid}`` (also ``GET /files/{uuid}``): ``200`` with the octets exactly,
  ``Content-Length`` and the ``Content-Type`` given at upload; an unknown, deleted or expired file is ``404``
  problem ``/not-found``.

The ESN gateway also puts the files it offers in an FD message here (:meth:`FileServer.add`). The files are
held in memory, bounded in number and in bytes (the oldest go first). Choices: docs/decisions-esn-1.1.md.
"""

from __future__ import annotations

import collections
import time
import uuid
from dataclasses import dataclass

from aiohttp import web

from harness.endpoints.common import BODY, problem, read_body
from harness.http import media_type

__all__ = ["FILES_PATH", "SHORT_PATH", "UPLOAD_PATH", "FileServer", "StoredFile"]

UPLOAD_PATH = "/netcode/v1/esn/files"
FILES_PATH = UPLOAD_PATH
"""Files are served at ``{base}/netcode/v1/esn/files/{uuid}`` (binding rule 1: every path under ``/netcode/v1/``),
the ``Location`` of an upload; also at ``{base}/files/{uuid}`` (:data:`SHORT_PATH`), where the outline of
esn-core@1.1 has the harness serve them."""
SHORT_PATH = "/files"
MAX_FILES = 1000
MAX_BYTES = 64 << 20


@dataclass(slots=True, frozen=True)
class StoredFile:
    """One file as served: its octets, its media type, and until when it is available (None: no limit)."""

    content: bytes
    content_type: str
    expires: float | None = None


class FileServer:
    """Serves files by id; each behaviour a method a variant of the reference overrides."""

    def __init__(self, max_files: int = MAX_FILES, max_bytes: int = MAX_BYTES) -> None:
        self.files: collections.OrderedDict[str, StoredFile] = collections.OrderedDict()
        self.max_files = max_files
        self.max_bytes = max_bytes
        self._bytes = 0

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(UPLOAD_PATH, self.upload),
            web.get(FILES_PATH + "/{file_id}", self.download),
            web.get(SHORT_PATH + "/{file_id}", self.download),
        ]

    def reset(self) -> None:
        self.files.clear()
        self._bytes = 0

    def add(self, content: bytes, content_type: str, available_s: float | None = None) -> str:
        """Keep a file; its id (a UUID). Past the bounds, the oldest files go."""
        file_id = str(uuid.uuid4())
        expires = None if available_s is None else time.time() + available_s
        self.files[file_id] = StoredFile(content, content_type, expires)
        self._bytes += len(content)
        while len(self.files) > self.max_files or (self._bytes > self.max_bytes and len(self.files) > 1):
            _, dropped = self.files.popitem(last=False)
            self._bytes -= len(dropped.content)
        return file_id

    def get(self, file_id: str) -> StoredFile | None:
        """The file ``file_id`` while it is available (an expired one is dropped)."""
        stored = self.files.get(file_id)
        if stored is not None and stored.expires is not None and time.time() > stored.expires:
            del self.files[file_id]
            self._bytes -= len(stored.content)
            return None
        return stored

    @staticmethod
    def base_url(request: web.Request) -> str:
        """This server's base URL as the request reached it (scheme and Host)."""
        return f"{request.scheme}://{request.host}"

    async def upload(self, request: web.Request) -> web.StreamResponse:
        content_type = request.headers.get("Content-Type", "")
        if not media_type(content_type):  # the upload names the file's type (esn.md 1.1, "Upload")
            response = problem(415, "unsupported-media-type", "send the file with its Content-Type")
            response.headers["Accept-Post"] = "*/*"
            return response
        content = await read_body(request)
        request[BODY] = content
        file_id = self.add(content, content_type)
        location = f"{self.base_url(request)}{FILES_PATH}/{file_id}"
        return web.Response(status=201, headers={"Location": location})

    async def download(self, request: web.Request) -> web.StreamResponse:
        stored = self.get(request.match_info["file_id"])
        if stored is None:
            return problem(404, "not-found", "no such file (unknown, deleted or expired)")
        return self.serve(stored)

    def serve(self, stored: StoredFile) -> web.StreamResponse:
        """``200`` with the octets exactly (aiohttp sets ``Content-Length``)."""
        return web.Response(body=stored.content, status=200, headers={"Content-Type": stored.content_type})
