"""Peak memory and time of the one verifier: ``verify`` and ``verify --rejudge`` on a signed bundle of each
suite version's run against the reference supplier, and on a 50 MB bundle (a genuine checks-core bundle with
exchange records of other scenarios added and re-signed, which a verifier must stream past).

Each measurement runs in a fresh process; its peak RSS is the kernel's (``wait4``), beside the baseline of a
process that imports the harness and loads the catalog but verifies nothing, measured in the same run.
Prints one JSON document with ``--json`` (the default), a table otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.catalog import Catalog, load_catalog
from harness.endpoints import RecorderCounterpart, ReferenceServer, build_app
from harness.endpoints.sip_gateway import SipServer
from harness.evidence.bundle import EvidenceReporter, Sut
from harness.evidence.dsse import envelope
from harness.evidence.keys import keyid
from harness.runner.engine import Runner
from harness.transport import TransportOptions, load_transport

SUT = Sut("Bench Ltd", "Bench", "1")
_CHILD = """
import json, sys, time
from pathlib import Path
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from harness.catalog import load_catalog
from harness.evidence import TrustEntry, TrustList, Verifier
bundle, keyid, raw, mode = sys.argv[1:5]
public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(raw))
verifier = Verifier(load_catalog(), TrustList((TrustEntry(keyid, public, "bench", ("*",)),)))
started = time.perf_counter()
line = "baseline" if mode == "baseline" else verifier.verify(Path(bundle), rejudge=mode == "rejudge").line()
seconds = time.perf_counter() - started
status = Path("/proc/self/status").read_text()
peak = next(int(l.split()[1]) for l in status.splitlines() if l.startswith("VmHWM:"))
print(json.dumps({"line": line, "seconds": seconds, "peak_kb": peak}))
"""


def measure(bundle: Path, key: Ed25519PrivateKey, mode: str) -> dict[str, Any]:
    """Run the verifier in a fresh process; its outcome, time, and peak RSS in MB (the child's own ``VmHWM``:
    ``wait4``'s figure would include the parent's pages at the fork, before the child's exec)."""
    from cryptography.hazmat.primitives import serialization

    public = key.public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(bundle), keyid(public), raw, mode], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"verify.py: the {mode} child failed ({done.returncode}): {done.stderr[-500:]}")
    result = json.loads(done.stdout)
    return {
        "outcome": result["line"],
        "ms": round(result["seconds"] * 1000, 1),
        "peak_rss_mb": result["peak_kb"] // 1024,
    }


async def suite_bundles(catalog: Catalog, folder: Path, key: Ed25519PrivateKey) -> dict[str, Path]:
    """A signed bundle of each suite version's run against the reference supplier playing the document version
    that suite version certifies (and its SIP side)."""
    bundles: dict[str, Path] = {}
    suites = [suite for _, versions in sorted(catalog.suites.items()) for _, suite in sorted(versions.items())]
    async with SipServer(catalog) as sip:
        for suite in suites:
            dataset = catalog.datasets.get(suite.dataset) if suite.dataset else None
            reporter = EvidenceReporter(folder / suite.ref, suite, catalog.root, dataset, sut=SUT, sign_key=key)
            counterpart_app = build_app(catalog)
            http = load_transport("http", TransportOptions())
            sip_transport = load_transport("sip", TransportOptions())
            try:
                async with (
                    ReferenceServer(build_app(catalog.for_suite(suite))) as url,
                    ReferenceServer(counterpart_app) as counterpart_url,
                ):
                    counterpart = RecorderCounterpart(counterpart_app, counterpart_url) if suite.counterpart else None
                    extra = {"sip": (sip_transport, sip.uri())}
                    runner = Runner(catalog, http, url, [reporter], counterpart=counterpart, extra_targets=extra)
                    await runner.run(suite)
            finally:
                await http.close()
                await sip_transport.close()
            assert reporter.bundle is not None
            bundles[suite.ref] = reporter.bundle
    return bundles


def padded(bundle: Path, out: Path, key: Ed25519PrivateKey, megabytes: int) -> Path:
    """``bundle`` with exchange records of a scenario the suite does not have, up to ``megabytes`` on disk (their
    bodies random, so they do not compress), re-signed: valid, and re-judged to the same verdicts."""
    with zipfile.ZipFile(bundle) as archive:
        content = {name: archive.read(name) for name in archive.namelist()}
    body = base64.b64encode(os.urandom(96 << 10)).decode()
    pad = []
    for n in range(megabytes * 1024 // 96):
        record = {
            "scenario": "PAD-00",
            "step": f"pad-{n}",
            "direction": "harness->sut",
            "transport": "http",
            "request": {"start_line": "POST /pad HTTP/1.1", "headers": [], "body": body, "body_encoding": "base64"},
            "response": {"start_line": "HTTP/1.1 204 No Content", "headers": [], "body": "", "body_encoding": "text"},
        }
        pad.append(json.dumps(record).encode() + b"\n")
        body = body[1:] + body[0]
    content["exchanges.jsonl"] = content["exchanges.jsonl"] + b"".join(pad)
    statement = json.loads(content["statement.json"])
    statement["subject"] = [
        {"name": name, "digest": {"sha256": hashlib.sha256(data).hexdigest()}}
        for name, data in content.items()
        if name not in ("statement.json", "envelope.json")
    ]
    content["statement.json"] = json.dumps(statement, indent=2).encode() + b"\n"
    content["envelope.json"] = json.dumps(envelope(content["statement.json"], key)).encode()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in content.items():
            archive.writestr(name, data)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", default=True, help="one JSON document (the default)")
    parser.add_argument("--table", action="store_true", help="a table instead of JSON")
    parser.add_argument("--megabytes", type=int, default=50, help="size of the large bundle on disk")
    args = parser.parse_args()
    catalog = load_catalog()
    key = Ed25519PrivateKey.generate()
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        bundles = asyncio.run(suite_bundles(catalog, root / "suites", key))
        started = time.perf_counter()
        bundles["checks-core@1.0 padded"] = padded(bundles["checks-core@1.0"], root / "large.zip", key, args.megabytes)
        result["pad_s"] = round(time.perf_counter() - started, 1)
        result["baseline"] = measure(bundles["checks-core@1.0"], key, "baseline")
        for name, bundle in bundles.items():
            result[name] = {
                "bundle_bytes": bundle.stat().st_size,
                "verify": measure(bundle, key, "verify"),
                "rejudge": measure(bundle, key, "rejudge"),
            }
    if args.table:
        base = result["baseline"]["peak_rss_mb"]
        print(f"baseline (import + catalog): {base} MB")
        for name, row in result.items():
            if isinstance(row, dict) and "verify" in row:
                v, r = row["verify"], row["rejudge"]
                size = row["bundle_bytes"] / 1e6
                print(f"{name:<26} {size:7.2f} MB  verify {v['ms']:8.1f} ms {v['peak_rss_mb']:4} MB"
                      f"  rejudge {r['ms']:8.1f} ms {r['peak_rss_mb']:4} MB  {r['outcome']}")  # fmt: skip
    else:
        json.dump(result, sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
