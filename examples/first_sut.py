"""A first system under test: a force's cross-force check responder (specs/queries.md), standard library only.

This is what docs/getting-started.md walks a supplier through. It is a supplier's code, not the harness's:
it imports nothing of the harness and reads the standard as a supplier would. It answers person and
vehicle checks over the data set the harness loads through the test hook ``PUT /netcode/v1/_test/dataset``,
refuses checks without a lawful purpose (PQ-01) or with a malformed mark (VQ-01), and sends its own checks
to a reference force when ``POST /netcode/v1/_test/trigger`` asks it to (README binding rule 8).

    python examples/first_sut.py --port 8080            # serves http://127.0.0.1:8080 until Ctrl-C
    python examples/first_sut.py --bug case-sensitive   # a deliberate mistake, to read a failure

Loopback only: it binds 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BASE = "/netcode/v1"
PURPOSES = {"investigation", "safeguarding", "intelligence", "vetting", "missing-person"}
MARKS = [  # the DVLA styles of specs/intel-report.md IR-06, which specs/queries.md VQ-01 refers to
    r"[A-Z]{2}[0-9]{2} ?[A-Z]{3}",
    r"[A-Z][0-9]{1,3} ?[A-Z]{3}",
    r"[A-Z]{3} ?[0-9]{1,3}[A-Z]",
    r"[0-9]{1,4} ?[A-Z]{1,3}",
    r"[A-Z]{1,3} ?[0-9]{1,4}",
]
PROBLEM = "https://netcode.example/problems"
MAX_BODY = 1 << 20


class Store:
    """The data set the harness loaded (persons and vehicles), replaced whole by each PUT."""

    def __init__(self) -> None:
        self.persons: list[dict[str, Any]] = []
        self.vehicles: list[dict[str, Any]] = []
        self.lock = threading.Lock()


def _purpose_errors(query: dict[str, Any]) -> list[dict[str, str]]:
    requested = query.get("requestedBy")
    purpose = requested.get("purpose") if isinstance(requested, dict) else None
    if purpose in PURPOSES:
        return []
    return [{"location": "/requestedBy/purpose", "rule": "PQ-01", "message": "a check needs a lawful purpose"}]


def _schema(location: str, message: str) -> dict[str, str]:
    return {"location": location, "rule": "schema", "message": message}


def _fold(text: str, case_sensitive: bool) -> str:
    return text.strip() if case_sensitive else text.strip().casefold()


class Handler(BaseHTTPRequestHandler):
    store: Store
    bug: str | None = None

    # -- plumbing -------------------------------------------------------------------------------------------

    def _send(self, status: int, document: Any = None, media_type: str = "application/json") -> None:
        body = b"" if document is None else json.dumps(document).encode()
        self.send_response(status)
        if document is not None:
            self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _problem(self, status: int, kind: str, title: str, errors: list[dict[str, str]] | None = None) -> None:
        document: dict[str, Any] = {"type": f"{PROBLEM}/{kind}", "title": title, "status": status}
        if errors:
            document["errors"] = errors
        self._send(status, document, "application/problem+json")

    def _json_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._problem(413, "too-large", "body over 1 MiB")
            return None
        media = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        data = self.rfile.read(length)
        if media != "application/json":
            self._problem(415, "unsupported-media-type", f"expected application/json, not {media or 'nothing'}")
            return None
        try:
            return json.loads(data)
        except ValueError:
            self._problem(
                400, "invalid-message", "not JSON", [{"location": "", "rule": "schema", "message": "not JSON"}]
            )
            return None

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the harness reports every exchange itself."""

    # -- the exchanges --------------------------------------------------------------------------------------

    def do_PUT(self) -> None:
        if self.path != f"{BASE}/_test/dataset":
            self._problem(404, "not-found", f"no {self.path}")
            return
        dataset = self._json_body()
        if isinstance(dataset, dict):
            with self.store.lock:
                self.store.persons = list(dataset.get("persons", []))
                self.store.vehicles = list(dataset.get("vehicles", []))
            self._send(204)

    def do_POST(self) -> None:
        routes = {
            f"{BASE}/queries/person": self._person,
            f"{BASE}/queries/vehicle": self._vehicle,
            f"{BASE}/_test/trigger": self._trigger,
        }
        route = routes.get(self.path)
        if route is None:
            self._problem(404, "not-found", f"no {self.path}")
            return
        document = self._json_body()
        if document is None:
            return
        if not isinstance(document, dict):
            self._problem(
                400,
                "invalid-message",
                "not an object",
                [{"location": "", "rule": "schema", "message": "a JSON object"}],
            )
            return
        route(document)

    def _person(self, query: dict[str, Any]) -> None:
        criteria = query.get("criteria")
        errors = _purpose_errors(query)
        if not isinstance(criteria, dict) or not isinstance(criteria.get("familyName"), str):
            errors.append(_schema("/criteria/familyName", "familyName is required"))
        if errors:
            self._problem(400, "invalid-message", "invalid person check", errors)
            return
        exact = self.bug == "case-sensitive"
        family = _fold(criteria["familyName"], exact)
        given, born = criteria.get("givenName"), criteria.get("dateOfBirth")
        with self.store.lock:
            matches = [
                person
                for person in self.store.persons
                if _fold(person["familyName"], exact) == family
                and (given is None or given.casefold() in {g.casefold() for g in person.get("givenNames", [])})
                and (born is None or person.get("dateOfBirth") == born)
            ][:50]
        self._send(
            200,
            {
                "queryId": query.get("queryId"),
                "profile": "netcode.person-result/1.0",
                "status": "match" if matches else "no-trace",
                "matches": matches,
            },
        )

    def _vehicle(self, query: dict[str, Any]) -> None:
        vrm = query.get("vrm")
        errors = _purpose_errors(query)
        if not isinstance(vrm, str):
            errors.append(_schema("/vrm", "vrm is required"))
        elif not any(re.fullmatch(style, vrm.upper()) for style in MARKS):
            errors.append({"location": "/vrm", "rule": "VQ-01", "message": f"{vrm!r} is no UK registration mark"})
        if errors:
            self._problem(400, "invalid-message", "invalid vehicle check", errors)
            return
        key = vrm.replace(" ", "").upper()
        with self.store.lock:
            vehicle = next((v for v in self.store.vehicles if v["vrm"].replace(" ", "").upper() == key), None)
        self._send(
            200,
            {
                "queryId": query.get("queryId"),
                "profile": "netcode.vehicle-result/1.0",
                "status": "match" if vehicle else "no-trace",
                "vehicle": vehicle,
            },
        )

    def _trigger(self, order: dict[str, Any]) -> None:
        """Test hook: send our own check to the force at ``to`` (the harness's reference force)."""
        action, to, params = order.get("action"), order.get("to"), order.get("params")
        if not isinstance(to, str) or not to.startswith(("http://", "https://")) or not isinstance(params, dict):
            self._problem(400, "invalid-message", "a trigger needs 'to' (a base URL) and 'params' (an object)")
            return
        requested = {"force": "example-force", "officerId": "EX1", "purpose": params.get("purpose", "investigation")}
        common = {"queryId": str(uuid.uuid4()), "requestedBy": requested}
        if action == "send-person-query":
            path, query = "person", {**common, "profile": "netcode.person-query/1.0", "criteria": params["criteria"]}
        elif action == "send-vehicle-query":
            path, query = "vehicle", {**common, "profile": "netcode.vehicle-query/1.0", "vrm": params["vrm"]}
        else:
            self._problem(404, "not-found", f"no action {action!r}")
            return
        request = urllib.request.Request(
            f"{to.rstrip('/')}{BASE}/queries/{path}",
            data=json.dumps(query).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        threading.Thread(target=_deliver, args=(request,), daemon=True).start()
        self._send(202, {"status": "accepted"})


def _deliver(request: urllib.request.Request) -> None:
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()
    except OSError as exc:
        print(f"first_sut: could not send {request.full_url}: {exc}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--bug", choices=["case-sensitive"], help="a deliberate mistake, for reading a failure")
    args = parser.parse_args()
    handler = type("BoundHandler", (Handler,), {"store": Store(), "bug": args.bug})
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    print(f"first SUT listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
