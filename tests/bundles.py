"""Hand-made evidence bundles in the 1.0 layout: hostile input for readers (the verifier refuses them under 1.1).

Real bundles come from real runs (tests/integration/evidence_helpers.py).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.evidence.dsse import envelope


def write_key(path: Path, key: Ed25519PrivateKey) -> tuple[Path, Path]:
    """The private key at ``path`` and its public half at ``path.pub.pem``."""
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public = path.with_suffix(".pub.pem")
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return path, public


def results_for(
    suite: str, version: str, verdicts: dict[str, tuple[str, str]], finished: str = "2026-11-28T10:00:00.000Z"
) -> dict[str, Any]:
    """A results.json document: ``verdicts`` maps scenario id -> (level, verdict)."""
    summary = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0, "manual": 0}
    names = {"passed": "passed", "failed": "failed", "error": "errors", "skipped": "skipped", "manual": "manual"}
    scenarios = []
    for sid, (level, verdict) in verdicts.items():
        summary[names[verdict]] += 1
        failures = (
            [{"step": "submit", "check": "status", "expected": 202, "actual": 400, "message": "status 400, not 202"}]
            if verdict == "failed"
            else []
        )
        scenarios.append(
            {
                "id": sid,
                "title": f"scenario {sid}",
                "level": level,
                "verdict": verdict,
                "duration_ms": 5.0,
                "failures": failures,
            }
        )
    certified = all(v == "passed" for level, v in verdicts.values() if level == "MUST")
    return {
        "harness": {"version": "0.1.0"},
        "suite": {"name": suite, "version": version},
        "target": "http://127.0.0.1:9",
        "started": "2026-11-28T09:59:00.000Z",
        "finished": finished,
        "certified": certified,
        "summary": summary,
        "scenarios": scenarios,
    }


def write_bundle(
    folder: Path,
    key: Ed25519PrivateKey | None,
    sut: tuple[str, str, str],
    results: dict[str, Any],
    exchanges: list[dict[str, Any]] | None = None,
    tamper: Any = None,
) -> Path:
    """A signed bundle; ``tamper(members)`` may change members after signing."""
    members: dict[str, bytes] = {
        "results.json": json.dumps(results, indent=2).encode(),
        "exchanges.jsonl": b"".join(json.dumps(x).encode() + b"\n" for x in exchanges or []),
        "junit.xml": b"<testsuites/>",
        "suite/suite.yaml": f"name: {results['suite']['name']}\n".encode(),
    }
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": n, "digest": {"sha256": hashlib.sha256(d).hexdigest()}} for n, d in members.items()],
        "predicateType": "urn:netcode:certification-run:1.0",
        "predicate": {
            "harness": {"name": "netcode-harness", "version": "0.1.0"},
            "suite": {**results["suite"], "status": "current"},
            "sut": {"supplier": sut[0], "product": sut[1], "version": sut[2]},
            "started": results["started"],
            "finished": results["finished"],
            "summary": results["summary"],
            "certified": results["certified"],
        },
    }
    members["statement.json"] = json.dumps(statement, indent=2).encode()
    if key is not None:
        members["envelope.json"] = json.dumps(envelope(members["statement.json"], key)).encode()
    if tamper is not None:
        tamper(members)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4()}.evidence.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    path.write_bytes(buffer.getvalue())
    return path


def exchange(scenario: str, step: str, status: int, body: Any, answer: Any = None, ms: float = 3.0) -> dict[str, Any]:
    def message(start: str, payload: Any, media: str) -> dict[str, Any]:
        if isinstance(payload, bytes):
            return {
                "start_line": start,
                "headers": [["Content-Type", media]],
                "body": base64.b64encode(payload).decode(),
                "body_encoding": "base64",
            }
        text = payload if isinstance(payload, str) else json.dumps(payload)
        return {"start_line": start, "headers": [["Content-Type", media]], "body": text, "body_encoding": "text"}

    media = "application/vnd.3gpp.mcdata-signalling" if isinstance(body, bytes) else "application/json"
    if isinstance(body, str) and body.startswith("<"):
        media = "application/xml"
    return {
        "scenario": scenario,
        "step": step,
        "direction": "harness->sut",
        "transport": "http",
        "request": message("POST http://127.0.0.1:9/netcode/v1/x", body, media),
        "response": message(f"{status} X", answer if answer is not None else {"status": status}, "application/json"),
        "sent": "2026-11-28T09:59:01.000Z",
        "answered": "2026-11-28T09:59:01.003Z",
        "elapsed_ms": ms,
        "status": status,
    }
