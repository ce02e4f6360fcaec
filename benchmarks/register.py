"""The register's throughput, as one JSON document, each figure beside its raw baseline from the same run.

For each current suite's bundle (a real run of the embedded reference supplier, signed by a lab key):
``submissions_per_s`` and ``p95_ms`` of ``POST /register/v1/bundles`` (verified and re-judged in the
register's process pool, registered, logged), against ``verify_rejudge_s``: the plain verifier with
re-judging (what ``harness verify --rejudge`` does, without its start-up) on the same bundle, in this process.
Then ``GET /register/v1/catalogue`` per second over a store seeded directly with 10,000 certificates,
against ``store_evidence_s``: reading those certificates from the store once.

    python benchmarks/register.py --json [--submissions N] [--concurrency C] [--reads N] [--certificates N]

Loopback only (127.0.0.1, port 0), bounded loops; no timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.catalog import load_catalog
from harness.endpoints import build_app
from harness.evidence import TrustEntry, TrustList, Verifier
from harness.evidence.bundle import Sut
from harness.evidence.keys import keyid
from tests.integration.evidence_helpers import run_with_evidence

SUITES = ("intel-core", "alerts-core@1.1", "checks-core", "esn-core", "resilience-core")
LAB = "Benchmark Lab"


def _bundles(folder: Path, key: Ed25519PrivateKey) -> dict[str, Path]:
    catalog = load_catalog()

    async def runs() -> dict[str, Path]:
        made = {}
        for suite in SUITES:
            sut = Sut("Bench Ltd", f"product-{suite}", "1.0")
            made[suite] = await run_with_evidence(catalog, build_app(catalog), folder / suite, suite, key, sut)
        return made

    return asyncio.run(runs())


def _server(folder: Path, store: str, trust: Path, body: Path, workers: int) -> tuple[subprocess.Popen[str], str]:
    command = [
        sys.executable, "-m", "harness.cli", "register", "serve", "--store", store, "--trust-list", str(trust),
        "--body-key", str(body), "--port", "0", "--workers", str(workers), "--pending", "64",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if "listening on http://127.0.0.1:" not in line:
        process.kill()
        raise SystemExit(f"the register did not start: {line!r}")
    return process, line.split(" on ", 1)[1].split()[0].rstrip("/")


def _post(url: str, data: bytes, token: str) -> tuple[int, float]:
    request = urllib.request.Request(
        f"{url}/register/v1/bundles",
        data=data,
        headers={"Content-Type": "application/zip", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as response:
        response.read()
        status = response.status
    return status, time.perf_counter() - started


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _submissions(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    lab, body = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    trust = folder / "trust.json"
    TrustList((TrustEntry(keyid(lab.public_key()), lab.public_key(), LAB, ("*",)),)).save(trust)
    body_key = folder / "body.key"
    body_key.write_bytes(
        body.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    bundles = _bundles(folder, lab)
    verifier = Verifier(load_catalog(), TrustList.load(trust))
    store = f"sqlite:///{folder / 'register.db'}"
    token = subprocess.run(
        [sys.executable, "-m", "harness.cli", "register", "token", "issue", "--org", LAB, "--store", store],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    process, url = _server(folder, store, trust, body_key, args.workers)
    report: dict[str, Any] = {}
    try:
        for suite, path in bundles.items():
            baseline = []
            for _ in range(max(1, args.baseline)):
                started = time.perf_counter()
                outcome = verifier.verify(path, rejudge=True)
                baseline.append(time.perf_counter() - started)
                assert outcome.valid, outcome.line()
            data = path.read_bytes()
            _post(url, data, token)  # warm: the worker processes start and load the catalog
            latencies: list[float] = []
            started = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
                sent = [pool.submit(_post, url, data, token) for _ in range(args.submissions)]
                for status, seconds in (future.result() for future in sent):
                    assert status in (200, 201), status
                    latencies.append(seconds)
            elapsed = time.perf_counter() - started
            verify_s = statistics.median(baseline)
            rate = args.submissions / elapsed
            report[suite] = {
                "bundle_bytes": len(data),
                "verify_rejudge_s": round(verify_s, 4),
                "submissions": args.submissions,
                "submissions_per_s": round(rate, 2),
                "p95_ms": round(_p95(latencies) * 1000, 1),
                "ratio_rate_to_plain_verify": round(rate * verify_s, 3),
            }
    finally:
        process.terminate()
        process.wait(timeout=60)
    return report


def _seed(store_url: str, count: int, body: Ed25519PrivateKey) -> None:
    import sqlalchemy as sa

    from harness.store import open_store
    from harness.store.schema import bundles, certificates

    store = open_store(store_url)
    try:
        public = body.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        store.pin_body_key(public)
        rows_b, rows_c = [], []
        for number in range(count):
            sha = hashlib.sha256(f"bundle {number}".encode()).hexdigest()
            run = f"00000000-0000-4000-8000-{number:012d}"
            rows_b.append(
                {"sha256": sha, "run_id": run, "size": 2, "content": b"PK", "registered": "2026-01-01T00:00:00Z"}
            )
            rows_c.append(
                {
                    "id": hashlib.sha256(sha.encode()).hexdigest()[:16],
                    "sut_supplier": f"Supplier {number % 500}",
                    "sut_product": f"Product {number}",
                    "sut_version": "1.0",
                    "suite": "intel-core",
                    "suite_version": "1.0",
                    "document": "intel-report@1.0",
                    "run_id": run,
                    "bundle_sha256": sha,
                    "signer_keyid": "0" * 64,
                    "signer_holder": LAB,
                    "issued": "2026-01-01T00:00:00.000Z",
                }
            )
        with store.engine.begin() as connection:
            connection.execute(sa.insert(bundles), rows_b)
            connection.execute(sa.insert(certificates), rows_c)
    finally:
        store.close()


def _catalogue(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    from harness.store import open_store

    body = Ed25519PrivateKey.generate()
    body_key = folder / "seeded-body.key"
    body_key.write_bytes(
        body.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    store_url = f"sqlite:///{folder / 'seeded.db'}"
    _seed(store_url, args.certificates, body)
    store = open_store(store_url)
    try:
        started = time.perf_counter()
        held = len(store.evidence().certificates)
        raw = time.perf_counter() - started
    finally:
        store.close()
    trust = folder / "empty-trust.json"
    trust.write_text('{"keys": []}')
    process, url = _server(folder, store_url, trust, body_key, 1)
    try:
        started = time.perf_counter()
        with urllib.request.urlopen(f"{url}/register/v1/catalogue", timeout=600) as response:
            size = len(response.read())
        first = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(args.reads):
            with urllib.request.urlopen(f"{url}/register/v1/catalogue", timeout=600) as response:
                response.read()
        elapsed = time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(timeout=60)
    return {
        "certificates": held,
        "feed_bytes": size,
        "store_evidence_s": round(raw, 3),
        "first_read_s": round(first, 3),
        "reads": args.reads,
        "reads_per_s": round(args.reads / elapsed, 1),
        "ratio_read_to_store_evidence": round(raw / (elapsed / args.reads), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout (the only output)")
    parser.add_argument("--submissions", type=int, default=8, help="submissions per suite's bundle (default 8)")
    parser.add_argument("--concurrency", type=int, default=2, help="submissions in flight (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="the register's verifying processes (default 2)")
    parser.add_argument("--baseline", type=int, default=3, help="plain verify --rejudge repetitions (default 3)")
    parser.add_argument("--reads", type=int, default=50, help="catalogue reads (default 50)")
    parser.add_argument("--certificates", type=int, default=10_000, help="certificates seeded (default 10000)")
    args = parser.parse_args()
    for name in ("submissions", "concurrency", "workers", "baseline", "reads", "certificates"):
        if not 1 <= getattr(args, name) <= 100_000:
            parser.error(f"--{name} must be 1..100000")
    with tempfile.TemporaryDirectory(prefix="harness-bench-register-") as folder:
        report = {"submissions": _submissions(args, Path(folder)), "catalogue": _catalogue(args, Path(folder))}
    print(json.dumps(report) if args.json else json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
