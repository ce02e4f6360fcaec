"""Stock tools agree with ``fixtures/openapi/netcode-v1.yaml`` (issue 25, item 10).

* ``openapi-spec-validator`` and ``prance`` accept the document;
* the profile rules the document states in JSON Schema are the profile's: every valid sample of the catalog
  passes them, and an invalid sample fails them exactly when it breaks a rule the document states;
* the reference refuses a trigger whose ``params`` is not an object (``400``, a problem document);
* Schemathesis (the pinned version, ``--checks all``, the committed ``tests/stock_tools/schemathesis.toml``)
  finds nothing against ``harness serve`` on 127.0.0.1;
* every exchange recorded by the demo runs of the four core suites against ``harness serve`` is valid for
  openapi-core: every answer, and every request except those a suite sends invalid on purpose
  (:data:`INVALID_ON_PURPOSE`, each with its reason).

The counts (Schemathesis cases, openapi-core exchanges) are printed at the end of the module.
"""

from __future__ import annotations

import base64
import copy
import email
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema_rs
import pytest
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from harness.catalog import load_catalog
from harness.endpoints.test_hooks import LOOPBACK_BASE_URL
from harness.families.edxl.rules import marking_permitted
from harness.families.intel_report.rules import VRM_STYLES
from harness.families.queries.rules import PURPOSES
from tests.conftest import ROOT
from tests.integration.served import serve_process
from tests.integration.test_openapi_fuzz import bundled, catalog_schema
from tests.unit.test_fuzz_validators import report_volume

SPEC_PATH = ROOT / "fixtures/openapi/netcode-v1.yaml"
DOCUMENT: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
ST_CONFIG = ROOT / "tests/stock_tools/schemathesis.toml"
CATALOG = load_catalog()
PERMITTED = [
    marking for marking in ("CONFID", "RESTRC", "SECRET", "TOPSRT", "UNCLAS", "UNMARK") if marking_permitted(marking)
]
COUNTS: list[str] = []
"""Lines printed when the module is done: what each tool checked."""


@pytest.fixture(scope="module", autouse=True)
def _print_counts(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    report_volume(request, ["stock tools against fixtures/openapi/netcode-v1.yaml:", *COUNTS])


@pytest.fixture(scope="module")
def supplier() -> Iterator[str]:
    """``harness serve`` (every role, test hooks on) on 127.0.0.1, port 0, as a lab runs it."""
    with serve_process([sys.executable, "-m", "harness", "serve", "--host", "127.0.0.1", "--port", "0"]) as url:
        yield url


# --------------------------------------------------------------------------- the document


def test_openapi_spec_validator_accepts_the_document() -> None:
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation import OpenAPIV31SpecValidator

    validate(DOCUMENT, cls=OpenAPIV31SpecValidator)


def test_prance_accepts_the_document() -> None:
    """prance resolves every reference and validates the result (through openapi-spec-validator)."""
    from prance import ResolvingParser

    parser = ResolvingParser(str(SPEC_PATH), backend="openapi-spec-validator", strict=True)
    assert parser.specification is not None
    text = json.dumps(parser.specification, default=str)
    assert '"$ref"' not in text, "prance left a reference unresolved"
    assert parser.specification["paths"].keys() == DOCUMENT["paths"].keys()


def test_the_loopback_pattern_is_the_references() -> None:
    """What the document says a test hook's destination is and what the reference accepts are one pattern."""
    assert DOCUMENT["components"]["schemas"]["LoopbackBaseUrl"]["pattern"] == LOOPBACK_BASE_URL.pattern


def _bundled(node: Any, depth: int = 0) -> Any:
    """``node`` with every ``#/components/...`` reference inlined."""
    assert depth < 64, "a recursive schema"
    if isinstance(node, list):
        return [_bundled(item, depth + 1) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target: Any = DOCUMENT
        for token in node["$ref"].removeprefix("#/").split("/"):
            target = target[token]
        rest = {key: value for key, value in node.items() if key != "$ref"}
        return _bundled({"allOf": [target], **rest}, depth + 1) if rest else _bundled(target, depth + 1)
    return {key: _bundled(value, depth + 1) for key, value in node.items() if not key.startswith("x-")}


SUBMISSIONS = sorted(
    (name, schema["x-netcode-submission"], tuple(schema.get("x-netcode-rules", ())))
    for name, schema in DOCUMENT["components"]["schemas"].items()
    if "x-netcode-submission" in schema
)


def test_the_request_bodies_of_json_messages_are_the_submissions() -> None:
    """Where the profile has rules JSON Schema can state, the request body is the schema that states them."""
    named = {format_id: name for name, format_id, _ in SUBMISSIONS}
    assert set(named) == {"intel-report/1.0", "person-query/1.0", "vehicle-query/1.0", "emsi/1.0"}
    bodies = {
        content["schema"]["$ref"].rsplit("/", 1)[-1]
        for item in DOCUMENT["paths"].values()
        for operation in item.values()
        for content in operation.get("requestBody", {}).get("content", {}).values()
        if "$ref" in content.get("schema", {})
    }
    assert set(named.values()) <= bodies


@pytest.mark.parametrize(("component", "format_id", "stated"), SUBMISSIONS, ids=[name for name, *_ in SUBMISSIONS])
def test_the_stated_rules_are_the_profiles(component: str, format_id: str, stated: tuple[str, ...]) -> None:
    """Valid samples pass; an invalid sample fails exactly when it breaks the schema or a rule stated here.

    A sample that breaks only rules the document cannot state (IR-02..IR-05) must pass: the document says no
    more than the profile, and no less than what JSON Schema can say.
    """
    schema = _bundled(DOCUMENT["components"]["schemas"][component])
    validator = jsonschema_rs.validator_for(schema, validate_formats=True)
    fmt = CATALOG.format(format_id)
    assert fmt.valid_samples and fmt.invalid_samples, format_id
    for sample in fmt.valid_samples:
        document = json.loads(Path(sample.path).read_bytes())
        refused = [error.message for error in validator.iter_errors(document)]
        if format_id == "emsi/1.0" and document.get("CONTEXT", {}).get("SECLASS") in ("CONFID", "SECRET", "TOPSRT"):
            assert refused, f"{sample.path}: a marking that may not travel passes {component}"
            continue
        if format_id == "intel-report/1.0" and document.get("classification") in ("SECRET", "TOP SECRET"):
            assert refused, f"{sample.path}: a classification that may not travel passes {component}"
            continue
        assert not refused, f"{component} refuses the valid sample {sample.path}: {refused}"
    for sample in fmt.invalid_samples:
        document = json.loads(Path(sample.path).read_bytes())
        expected = bool({"schema", *stated} & set(sample.rules))
        assert validator.is_valid(document) is not expected, (
            f"{sample.path} breaks {list(sample.rules)}; {component} states {['schema', *stated]}"
        )


def _stated(format_id: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The catalog's schema (bundled) with the rules the document states, as the profile's code has them."""
    vrm = "^(" + "|".join(style.pattern.removeprefix("^").removesuffix("\\Z") for style in VRM_STYLES) + ")$"
    lawful = {**schema["properties"].get("requestedBy", {})}
    if lawful:
        lawful["required"] = [*lawful["required"], "purpose"]
        lawful["properties"] = {**lawful["properties"], "purpose": {"enum": list(PURPOSES)}}
    properties = schema["properties"]
    if format_id == "person-query/1.0":
        properties["requestedBy"] = lawful
    elif format_id == "vehicle-query/1.0":
        properties["requestedBy"] = lawful
        properties["vrm"] = {**properties["vrm"], "pattern": vrm.replace("[A-Z]", "[A-Za-z]")}
    elif format_id == "emsi/1.0":
        context = properties["CONTEXT"]
        context["properties"]["SECLASS"] = {
            "enum": [m for m in context["properties"]["SECLASS"]["enum"] if m in PERMITTED]
        }
    elif format_id == "intel-report/1.0":
        properties["classification"] = {"enum": ["OFFICIAL", "OFFICIAL-SENSITIVE"]}
        properties["grading"]["allOf"] = [
            {"if": {"required": ["handling"], "properties": {"handling": {"const": handling}}}, "then": then}
            for handling, then in (("C", {"required": ["conditions"]}), ("P", {"not": {"required": ["conditions"]}}))
        ]
        subject = properties["subjects"]["items"]
        subject["properties"] = {"id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,32}$"}, **subject["properties"]}
        for branch in subject["allOf"]:
            kind = branch["if"]["properties"]["type"]["const"]
            if kind == "object":
                branch["then"]["properties"]["vrm"] = {"type": "string", "pattern": vrm}
                branch["then"]["if"] = {"required": ["objectType"], "properties": {"objectType": {"const": "vehicle"}}}
                branch["then"]["then"] = {"required": ["vrm"]}
            elif kind == "location":
                branch["then"]["anyOf"] = [{"required": ["address"]}, {"required": ["point"]}]
    return schema


@pytest.mark.parametrize(("component", "format_id", "stated"), SUBMISSIONS, ids=[name for name, *_ in SUBMISSIONS])
def test_each_submission_is_the_catalogs_schema_with_the_stated_rules(
    component: str, format_id: str, stated: tuple[str, ...]
) -> None:
    """Written out whole (Schemathesis mutates no ``allOf`` branch), so rebuilt here from the catalog's schema and
    the profile's code (the VRM styles, the lawful purposes, the markings that may travel) and compared."""
    ours = bundled(DOCUMENT["components"]["schemas"][component], lambda ref: _resolve({"$ref": ref}))
    theirs = catalog_schema(json.loads(Path(CATALOG.format(format_id).schema_path).read_bytes()))
    assert ours == _stated(format_id, theirs)


# --------------------------------------------------------------------------- the reference's trigger hook


def _post(url: str, body: bytes, content_type: str = "application/json") -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers.get("Content-Type", ""), answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.headers.get("Content-Type", ""), refused.read()


@pytest.mark.parametrize("params", [[None, None], "zz", None, 5, True, []], ids=repr)
def test_a_trigger_whose_params_is_not_an_object_is_refused(supplier: str, params: Any) -> None:
    command = {"action": "send-person-query", "to": "http://127.0.0.1:9", "params": params}
    status, content_type, body = _post(supplier + "/netcode/v1/_test/trigger", json.dumps(command).encode())
    assert status == 400, body
    assert content_type.startswith("application/problem+json")
    problem = json.loads(body)
    assert problem["type"].endswith("/invalid-message") and problem["status"] == 400 and problem["title"]
    assert [(error["location"], error["rule"]) for error in problem["errors"]] == [("/params", "schema")]


@pytest.mark.parametrize("command", [{}, {"params": {}}, {"params": {"purpose": "vetting"}}], ids=repr)
def test_a_trigger_with_no_params_or_an_object_is_accepted(supplier: str, command: dict[str, Any]) -> None:
    command = {"action": "send-vehicle-query", "to": "http://127.0.0.1:9", **command}
    status, _, body = _post(supplier + "/netcode/v1/_test/trigger", json.dumps(command).encode())
    assert status == 202, body


@pytest.mark.parametrize(
    ("to", "accepted"),
    [
        ("http://127.0.0.1:9", True),
        ("https://localhost:65535/a/b%20c", True),
        ("http://[::1]:8080/replies/x", True),
        ("http://127.0.0.1:65536", False),
        ("http://127.0.0.1:9/%zz", False),
        ("http://127.0.0.1:9\n", False),
        ("http://10.0.0.1:9", False),
        ("HTTP://127.0.0.1:9", False),
        ("http://user@127.0.0.1:9", False),
    ],
)
def test_a_trigger_sends_only_where_the_document_says(supplier: str, to: str, accepted: bool) -> None:
    command = {"action": "send-person-query", "to": to, "params": {}}
    status, _, body = _post(supplier + "/netcode/v1/_test/trigger", json.dumps(command).encode())
    assert status == (202 if accepted else 400), body
    assert bool(re.fullmatch(DOCUMENT["components"]["schemas"]["LoopbackBaseUrl"]["pattern"], to)) is accepted


# --------------------------------------------------------------------------- Schemathesis


def st_run(url: str, *options: str) -> subprocess.CompletedProcess[str]:
    """``st run`` of the document against ``url`` with the committed configuration and every check."""
    command = [str(Path(sys.executable).with_name("st")), "--config-file", str(ST_CONFIG), "run", str(SPEC_PATH)]
    command += ["--url", url, "--checks", "all", "--no-color", *options]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


def test_schemathesis_finds_nothing(supplier: str) -> None:
    """``st run --checks all`` with the committed configuration: 0 failures, 0 errors, every phase run."""
    finished = st_run(supplier)
    output = finished.stdout + finished.stderr
    assert finished.returncode == 0, output[-6000:]
    generated = re.search(r"(\d+) generated, (\d+) passed", output)
    assert generated is not None and generated.group(1) == generated.group(2), output[-3000:]
    assert "Operations:       17 selected / 17 total" in output, output[:2000]
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert re.search(rf"✅\s+{phase}", output), f"{phase} did not pass:\n{output[-3000:]}"
    COUNTS.append(f"  schemathesis: {generated.group(1)} cases, 0 failures, 0 errors (--checks all)")


BROKEN_FORCE = (
    "import sys; from harness.catalog import load_catalog; "
    "from tests.integration.broken_query_suppliers import build_broken_force; "
    "from tests.integration.served import run_on_loopback; "
    "run_on_loopback(build_broken_force(load_catalog(), sys.argv[1]))"
)


@pytest.mark.parametrize(
    ("variant", "path", "rule"),
    [
        ("no-purpose-required", "/netcode/v1/queries/person", "PQ-01"),
        ("no-vrm-rule", "/netcode/v1/queries/vehicle", "VQ-01"),
    ],
)
def test_schemathesis_fails_a_supplier_that_ignores_a_stated_rule(variant: str, path: str, rule: str) -> None:
    """The configuration and hooks mask nothing: a supplier that answers a query breaking ``rule`` fails the run
    (the document states the rule, so a stock tool generates the breach and expects a refusal)."""
    with serve_process([sys.executable, "-c", BROKEN_FORCE, variant]) as url:
        finished = st_run(url, "--include-path", path, "--phases", "coverage,fuzzing", "--max-examples", "20")
    output = finished.stdout + finished.stderr
    assert finished.returncode == 1, output[-3000:]
    assert "ST201 Schema-violating request accepted" in output, output[-3000:]


# --------------------------------------------------------------------------- openapi-core on the demo runs


SUITES = ("intel-core", "checks-core", "alerts-core", "esn-core")

INVALID_ON_PURPOSE: dict[tuple[str, str], str] = {
    ("IC-11", "json"): "IR-01 broken on purpose (handling C without conditions), a rule the document states",
    ("IC-16", "json"): "IR-06 broken on purpose (a lower-case vrm), a rule the document states",
    ("IC-17", "json"): "IR-07 broken on purpose (a location with neither address nor point), stated",
    ("IC-20", "json"): "an unknown top-level member, to see it refused (must-understand, binding rule 7)",
    ("IC-22", "secret-json"): "a SECRET report, to see it refused with 422; the document lists what may travel",
    ("IC-24", "text-plain"): "a media type the receiver does not accept, to see 415",
    ("IC-24", "other-vendor-type"): "another message's media type, to see 415",
    ("IC-31", "json"): "IR-01, IR-03 and IR-06 broken at once, to see every rule listed",
    ("CC-06", "person-purpose-missing"): "PQ-01 broken on purpose (no purpose), a rule the document states",
    ("CC-06", "person-purpose-unknown"): "PQ-01 broken on purpose (a purpose not in the list), stated",
    ("CC-13", "not-a-mark"): "VQ-01 broken on purpose (not a UK registration mark), a rule the document states",
    ("CC-13", "two-spaces"): "VQ-01 broken on purpose (two spaces), a rule the document states",
    ("AC-07", "as-text-plain"): "a CAP alert as text/plain, to see 415",
    ("AC-33", "wrapped-in-emsi-member"): "the Hub Santé wrapper, which the profile's bare EMSI message refuses",
    ("AC-33", "event-without-id"): "an EVENT without ID, a schema error on purpose",
    ("AC-33", "bad-msgtype"): "a MSGTYPE outside the enumeration, a schema error on purpose",
    ("ESN-07", "no-info"): "an SDS without its mcdata-info part, to see it refused (MCS-02)",
    ("ESN-07", "no-signalling"): "an SDS without its signalling part, to see it refused (MCS-02)",
}
"""(scenario, step) -> why the suite sends a request the document calls invalid (every other one must be valid).

Suites also send messages that break rules the document cannot state (IR-02..IR-05 across members, bodies over
1 MiB, an SDS without its payload part, whose signalling says whether it needs one, XML and binary messages the
catalog's XSD and codecs refuse): openapi-core finds those valid, as the document says it must.
"""


def _decode_json(value: bytes | str, **parameters: str) -> Any:
    return json.loads(value)


def _decode_text(value: bytes | str, **parameters: str) -> str:
    return value if isinstance(value, str) else value.decode(parameters.get("charset", "utf-8"))


def _decode_parts(value: bytes | str, **parameters: str) -> dict[str, str]:
    """A ``multipart/mixed`` body as the document's object of parts, named by their media types.

    Text parts as text; binary parts one character per octet (the document types them as strings).
    """
    names = {
        encoding["contentType"]: name
        for item in DOCUMENT["paths"].values()
        for operation in item.values()
        for content in operation.get("requestBody", {}).get("content", {}).values()
        for name, encoding in content.get("encoding", {}).items()
    }
    head = f'Content-Type: multipart/mixed; boundary="{parameters.get("boundary", "")}"\r\n\r\n'.encode()
    message = email.message_from_bytes(head + (value.encode("latin-1") if isinstance(value, str) else value))
    parts: dict[str, str] = {}
    payload = message.get_payload()
    for part in payload if isinstance(payload, list) else []:
        data = part.get_payload(decode=True) or b""
        kind = part.get_content_type()
        name = names.get(kind, kind)
        parts[name] = data.decode("utf-8", "replace") if kind.endswith("xml") else data.decode("latin-1")
    return parts


def _deserializers() -> dict[str, Any]:
    """openapi-core reads ``application/json`` and ``application/xml`` (into an element, not the text a string
    schema describes) and nothing else; the profile's media types are ``+json``, ``+xml`` and ``multipart``."""
    media_types = {
        media_type
        for item in DOCUMENT["paths"].values()
        for operation in item.values()
        for place in [operation.get("requestBody", {}), *operation["responses"].values()]
        for media_type in _resolve(place).get("content", {})
    }
    table: dict[str, Any] = {}
    for media_type in media_types | {"application/problem+json"}:
        if media_type == "application/json" or media_type.endswith("+json"):
            table[media_type] = _decode_json
        elif media_type.endswith(("/xml", "+xml")):
            table[media_type] = _decode_text
        elif media_type.startswith("multipart/"):
            table[media_type] = _decode_parts
    return table


def _resolve(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = DOCUMENT
        for token in node["$ref"].removeprefix("#/").split("/"):
            target = target[token]
        node = target
    return node


@dataclass(slots=True, frozen=True)
class Checked:
    suite: str
    scenario: str
    step: str
    direction: str
    what: str
    """``request`` or ``answer``."""
    error: str
    """Empty when valid."""


def _body(wire: dict[str, Any]) -> bytes:
    if wire.get("body_encoding") == "base64":
        return base64.b64decode(wire["body"])
    return str(wire.get("body", "")).encode("utf-8")


def _headers(wire: dict[str, Any]) -> dict[str, str]:
    return {name: value for name, value in wire.get("headers", [])}


def _reason(error: Exception) -> str:
    causes = [error, *(getattr(error, "schema_errors", None) or [])]
    cause = error.__cause__
    while cause is not None:
        causes.append(cause)
        causes.extend(getattr(cause, "schema_errors", None) or [])
        cause = cause.__cause__
    return "; ".join(dict.fromkeys(f"{type(item).__name__}: {_text(item)[:300]}" for item in causes))


def _text(error: BaseException) -> str:
    try:
        return str(error)
    except Exception:  # openapi-core 0.23's MediaTypeDeserializeError cannot print a str value
        return repr(error.args)


def _request(wire: dict[str, Any]) -> tuple[MockRequest, str, str]:
    method, url, _ = wire["start_line"].split(" ", 2)
    parts = urlsplit(url)
    path = parts.path
    if "/netcode/v1/" in path:  # a base URL may carry a path (a reply-to `${counterpart}/replies/{uuid}`)
        path = "/netcode/v1/" + path.split("/netcode/v1/", 1)[1]
    headers = _headers(wire)
    content_type = next((value for name, value in headers.items() if name.lower() == "content-type"), "")
    # evidence 1.1 records the start line as sent: origin-form, the server named by the Host header
    host = next((value for name, value in headers.items() if name.lower() == "host"), "")
    server = f"{parts.scheme}://{parts.netloc}" if parts.scheme else f"http://{host}"
    request = MockRequest(
        server,
        method.lower(),
        path,
        headers=headers,
        args=dict(re.findall(r"([^&=]+)=([^&]*)", parts.query)),
        data=_body(wire) if method.upper() not in ("GET", "HEAD") else None,
        content_type=content_type,
    )
    return request, method.upper(), path


def _status(wire: dict[str, Any]) -> int:
    return int(wire["start_line"].split()[1])


@pytest.fixture(scope="module")
def demo_runs(supplier: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """``harness run`` of each core suite against ``harness serve``: the exchanges of its evidence bundle."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for suite in SUITES:
        reports = tmp_path_factory.mktemp(suite)
        command = [sys.executable, "-m", "harness", "run", "--suite", suite, "--target", supplier]
        command += ["--reports", str(reports), "--unattended"]
        finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
        results = json.loads((reports / "results.json").read_text(encoding="utf-8"))
        failed = [item["id"] for item in results["scenarios"] if item["verdict"] not in ("passed", "skipped", "manual")]
        assert results["scenarios"] and not failed, f"{suite}: {failed}\n{finished.stdout[-2000:]}"
        (bundle,) = reports.glob("*.evidence.zip")
        with zipfile.ZipFile(bundle) as archive, archive.open("exchanges.jsonl") as lines:
            runs[suite] = [json.loads(line) for line in lines]
    return runs


def check_exchanges(runs: dict[str, list[dict[str, Any]]]) -> tuple[list[Checked], list[str]]:
    """Every HTTP exchange under /netcode/v1/ checked by openapi-core; the others named apart."""
    api = OpenAPI.from_dict(DOCUMENT, config=Config(extra_media_type_deserializers=_deserializers()))
    checked: list[Checked] = []
    outside: list[str] = []
    for suite, records in runs.items():
        for record in records:
            if record.get("transport") != "http" or record.get("request") is None:
                outside.append(f"{suite} {record.get('scenario')} {record.get('transport')}")
                continue
            request, method, path = _request(record["request"])
            if not path.startswith("/netcode/v1/"):
                outside.append(f"{suite} {record['scenario']} {method} {path}")
                continue
            where = (suite, str(record["scenario"]), str(record["step"]), str(record["direction"]))
            try:
                api.validate_request(request)
                checked.append(Checked(*where, "request", ""))
            except Exception as error:  # every kind of finding the tool has is a finding here
                checked.append(Checked(*where, "request", _reason(error)))
            answer = record.get("answer") or record.get("response")  # evidence 1.1 renames `response`
            if answer is None:
                continue
            if record["direction"] != "harness->sut":
                # An exchange the system under test sent to the harness's reference endpoint keeps only the
                # status of the reference's answer: that status must be one the document lists.
                responses = DOCUMENT["paths"].get(_template(method, path), {}).get(method.lower(), {})
                documented = str(_status(answer)) in responses.get("responses", {})
                checked.append(Checked(*where, "answer", "" if documented else f"status {_status(answer)}"))
                continue
            headers = _headers(answer)
            content_type = next((value for name, value in headers.items() if name.lower() == "content-type"), "")
            response = MockResponse(_body(answer), status_code=_status(answer), headers=headers)
            response.content_type = content_type
            try:
                api.validate_response(request, response)
                checked.append(Checked(*where, "answer", ""))
            except Exception as error:
                checked.append(Checked(*where, "answer", _reason(error)))
    return checked, outside


def _template(method: str, path: str) -> str:
    for template, item in DOCUMENT["paths"].items():
        pattern = re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(template))
        if method.lower() in item and re.fullmatch(pattern, path):
            return template
    return path


def test_every_recorded_exchange_of_the_demo_runs_conforms(demo_runs: dict[str, list[dict[str, Any]]]) -> None:
    checked, outside = check_exchanges(demo_runs)
    assert {checked.suite for checked in checked} == set(SUITES), "a suite recorded no HTTP exchange"
    answers = [item for item in checked if item.what == "answer"]
    requests = [item for item in checked if item.what == "request"]
    bad_answers = [item for item in answers if item.error]
    assert not bad_answers, "\n".join(f"{a.suite} {a.scenario}/{a.step}: {a.error}" for a in bad_answers[:20])
    invalid = {(item.scenario, item.step): item.error for item in requests if item.error}
    unexpected = {key: error for key, error in invalid.items() if key not in INVALID_ON_PURPOSE}
    assert not unexpected, "\n".join(f"{key}: {error}" for key, error in sorted(unexpected.items()))
    missing = sorted(set(INVALID_ON_PURPOSE) - set(invalid))
    assert not missing, f"listed as invalid on purpose but valid for openapi-core: {missing}"
    assert not [entry for entry in outside if "/_harness/" not in entry and " sip" not in entry], outside
    COUNTS.append(
        f"  openapi-core: {len(demo_runs)} suites, {len(requests)} requests ({len(invalid)} invalid on purpose, "
        f"0 otherwise), {len(answers)} answers (0 invalid); {len(outside)} exchanges outside the document"
    )


def _first(records: list[dict[str, Any]], scenario: str, step: str) -> dict[str, Any]:
    return copy.deepcopy(next(r for r in records if r["scenario"] == scenario and r["step"] == step))


def test_openapi_core_finds_a_wrong_answer_and_a_wrong_request(demo_runs: dict[str, list[dict[str, Any]]]) -> None:
    """The check is live: the same recorded exchanges, broken in one place each, are found."""
    ack = _first(demo_runs["intel-core"], "IC-01", "submit")
    answer = json.loads(ack["response"]["body"] if "response" in ack else ack["answer"]["body"])
    answer.pop("receivedAt")
    (ack["response"] if "response" in ack else ack["answer"])["body"] = json.dumps(answer)
    query = _first(demo_runs["checks-core"], "CC-01", "smith")
    sent = json.loads(query["request"]["body"])
    del sent["requestedBy"]["purpose"]
    query["request"]["body"] = json.dumps(sent)
    checked, _ = check_exchanges({"intel-core": [ack], "checks-core": [query]})
    found = {(item.scenario, item.what) for item in checked if item.error}
    assert found == {("IC-01", "answer"), ("CC-01", "request")}, checked
