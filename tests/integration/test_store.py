"""The one store, with real signed runs and the one verifier: registration, certificates, regressions, withdrawal,
the matrix and the catalogue from it, on SQLite and PostgreSQL; diff; and ``harness demo`` then matrix/catalogue
with no store option.

Tried as a dishonest supplier would: its own genuine key, re-signing after tampering, the harness's own commands.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.catalog import Catalog
from harness.cli import main
from harness.endpoints import build_app
from harness.evidence import TrustEntry, TrustList
from harness.evidence.bundle import Sut
from harness.evidence.keys import keyid
from harness.store import open_store
from tests.integration.broken_suppliers import build_broken
from tests.integration.evidence_helpers import members, rebuild, run_with_evidence
from tests.integration.pg_cluster import throwaway_cluster

ROOT = Path(__file__).resolve().parents[2]
OURS = Sut("Example Ltd", "ForceRMS", "4.2")
PRODUCT = "Example Ltd/ForceRMS@4.2"


def _public(path: Path, key: Ed25519PrivateKey) -> Path:
    path.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return path


def _private(path: Path, key: Ed25519PrivateKey) -> Path:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path


def _entry(key: Ed25519PrivateKey, holder: str, *suppliers: str) -> TrustEntry:
    return TrustEntry(keyid(key.public_key()), key.public_key(), holder, suppliers)


def _relabel(bundle: Path, out: Path, key: Ed25519PrivateKey, suite: str, version: str, digest: str | None) -> Path:
    """What a dishonest supplier can do with its own key: claim another suite in results and predicate, re-sign."""
    results = json.loads(members(bundle)["results.json"])
    results["suite"].update(name=suite, version=version)

    def edit(statement: dict[str, Any]) -> None:
        statement["predicate"]["suite"].update(name=suite, version=version)
        if digest is not None:
            statement["predicate"]["suite"]["digest"] = {"sha256": digest}

    return rebuild(bundle, out, {"results.json": json.dumps(results).encode()}, resign=key, statement_edit=edit)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, catalog: Catalog) -> dict[str, Any]:
    """Our genuine pass (signed by our own key), failing runs of our product signed by a lab and by a rival,
    a re-labelled and an unissued bundle re-signed by us, an unsigned run, a corrupt ZIP, and the trust list."""
    folder = tmp_path_factory.mktemp("world")
    ours, lab, rival, body = (Ed25519PrivateKey.generate() for _ in range(4))

    async def runs() -> dict[str, Path]:
        broken = build_broken(catalog, "missing-location")
        return {
            "pass": await run_with_evidence(catalog, build_app(catalog), folder / "pass", "intel-core", ours, OURS),
            "lab-fail": await run_with_evidence(catalog, broken, folder / "lab", "intel-core", lab, OURS),
            "rival-fail": await run_with_evidence(catalog, broken, folder / "rival", "intel-core", rival, OURS),
            "unsigned": await run_with_evidence(catalog, build_app(catalog), folder / "unsigned", "checks-core"),
        }

    bundles = asyncio.run(runs())
    checks = catalog.suite("checks-core@1.0")
    bundles["relabelled"] = _relabel(
        bundles["pass"], folder / "relabelled.zip", ours, "checks-core", "1.0", checks.digest
    )
    bundles["unissued"] = _relabel(bundles["pass"], folder / "unissued.zip", ours, "our-own-suite", "1.0", None)
    corrupt = folder / "imports" / "corrupt.evidence.zip"
    corrupt.parent.mkdir()
    corrupt.write_bytes(members_zip_with_bad_crc(bundles["pass"]))
    trust = folder / "trust.json"
    TrustList(
        (
            _entry(ours, "Example Ltd (self-testing)", "Example Ltd"),
            _entry(lab, "Accredited Lab Ltd", "*"),
            _entry(rival, "Rival plc", "Rival plc"),
        )
    ).save(trust)
    return {
        "bundles": bundles,
        "corrupt": corrupt,
        "trust": trust,
        "body": body,
        "folder": folder,
        "keys": {"ours": ours, "lab": lab, "rival": rival},
    }


def members_zip_with_bad_crc(bundle: Path) -> bytes:
    """The bundle's bytes with one byte of a stored member's data flipped (a bad CRC, or bad deflate data)."""
    data = bytearray(bundle.read_bytes())
    data[len(data) // 3] ^= 0xFF
    return bytes(data)


def _run_id(bundle: Path) -> str:
    return str(json.loads(members(bundle)["statement.json"])["predicate"]["run_id"])


def test_import_registers_through_the_verifier_and_keeps_every_refusal(
    world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    b = world["bundles"]
    imports = world["corrupt"].parent
    for name in ("pass", "relabelled", "unissued", "unsigned"):
        (imports / f"{name}-{b[name].name}").write_bytes(b[name].read_bytes())
    assert main(["runs", "import", "--store", url, "--trust-list", str(world["trust"]), str(imports)]) == 1
    lines = dict(line.split(": ", 1) for line in capsys.readouterr().out.splitlines())
    by_name = {Path(path).name.split("-", 1)[0]: line for path, line in lines.items()}
    assert "certificate" in by_name["pass"] and "issued" in by_name["pass"]
    assert by_name["corrupt.evidence.zip"].startswith(("unreadable: ", "invalid: "))
    assert by_name["relabelled"].startswith("invalid: ") and by_name["unissued"].startswith("invalid: ")
    assert "not issued" in by_name["unissued"] or "unknown" in by_name["unissued"]
    assert by_name["unsigned"].startswith("invalid: unsigned")  # the verifier's word: nothing on the list vouches
    # Every attempt is kept, refused or not, with the verifier's line and the store's own time.
    assert main(["runs", "registrations", "--store", url, "--json"]) == 0
    attempts = json.loads(capsys.readouterr().out)
    assert len(attempts) == 5 and sum(not a["accepted"] for a in attempts) == 4
    assert {a["result"] for a in attempts if not a["accepted"]} == {
        by_name[n] for n in ("corrupt.evidence.zip", "relabelled", "unissued", "unsigned")
    }
    assert all(a["at"] > "2026" for a in attempts)
    accepted = next(a for a in attempts if a["accepted"])
    assert accepted["line"] == "valid" and "certificate" in accepted["result"]
    # The run id comes from the signed predicate, never the file name.
    assert main(["runs", "show", _run_id(b["pass"]), "--store", url, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["verification"], shown["sut_product"], shown["certified"]) == ("registered", "ForceRMS", True)
    # The re-labelled and the unissued run appear in no certificate, matrix cell or catalogue.
    assert main(["certificates", "list", "--store", url, "--json"]) == 0
    (certificate,) = json.loads(capsys.readouterr().out)["certificates"]
    assert (certificate["product"], certificate["suite"], certificate["status"]) == (PRODUCT, "intel-core", "current")
    assert main(["matrix", "--store", url, "--json"]) == 0
    matrix = json.loads(capsys.readouterr().out)
    held = {(c["suite"], c["version"]): c["status"] for c in matrix["cells"] if c["product"] == PRODUCT}
    assert held[("intel-core", "1.0")] == "certified" and held[("checks-core", "1.0")] == "never run"
    assert "our-own-suite" not in {s["name"] for s in matrix["suites"]}
    site = tmp_path / "site"
    assert main(["catalogue", "build", "--out", str(site), "--store", url, "--trust-list", str(world["trust"])]) == 0
    feed = json.loads((site / "catalogue.json").read_text())
    assert [(c["suite"], c["version"]) for p in feed["products"] for c in p["certificates"]] == [("intel-core", "1.0")]
    rejected = {r["bundle"] for r in feed["rejected"]}
    assert {"corrupt.evidence.zip"} <= rejected and any(r.startswith("relabelled-") for r in rejected)
    published = site / feed["products"][0]["certificates"][0]["bundle"]
    assert hashlib.sha256(published.read_bytes()).hexdigest() == hashlib.sha256(b["pass"].read_bytes()).hexdigest()
    assert main(["verify", "--rejudge", "--trust-list", str(world["trust"]), str(published)]) == 0
    # A reader with its own list (here: only the rival's key) sees what verifies for it, and why the rest does not.
    rival = _public(tmp_path / "rival.pub", world["keys"]["rival"])
    capsys.readouterr()
    assert main(["matrix", "--store", url, "--trusted-key", str(rival), "--json"]) == 0
    rechecked = json.loads(capsys.readouterr().out)
    assert rechecked["products"] == [] and any(
        r["source"].startswith("certificate ") and r["reason"].startswith("invalid: ") for r in rechecked["left_out"]
    )


def test_a_second_bundle_claiming_a_registered_run_id_is_refused(
    world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    b, trust = world["bundles"], ["--trust-list", str(world["trust"])]
    assert main(["runs", "import", "--store", url, *trust, str(b["lab-fail"])]) == 0
    # The same run id, re-signed by the lab over a junit.xml of its liking: valid on its own, refused here.
    other = rebuild(b["lab-fail"], tmp_path / "other.zip", {"junit.xml": b"<testsuites/>"}, resign=world["keys"]["lab"])
    capsys.readouterr()
    assert main(["runs", "import", "--store", url, *trust, str(other)]) == 1
    assert "registered already with another bundle" in capsys.readouterr().out
    assert main(["runs", "import", "--store", url, *trust, str(b["lab-fail"])]) == 0  # the same bytes again: fine
    assert "registered already as run" in capsys.readouterr().out


def test_a_rival_cannot_take_a_certificate_away(
    world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    b, trust = world["bundles"], ["--trust-list", str(world["trust"])]
    assert main(["runs", "import", "--store", url, *trust, str(b["pass"])]) == 0
    # A rival's own key does not cover our supplier: its failing run of our product is refused.
    assert main(["runs", "import", "--store", url, *trust, str(b["rival-fail"])]) == 1
    assert "invalid: " in capsys.readouterr().out
    # A lab's key (trusted for every supplier) signing a failing run of our product: a regression, never a withdrawal.
    assert main(["runs", "import", "--store", url, *trust, str(b["lab-fail"])]) == 0
    capsys.readouterr()
    assert main(["certificates", "list", "--store", url, "--json"]) == 0
    (certificate,) = json.loads(capsys.readouterr().out)["certificates"]
    assert certificate["status"] == "current" and certificate["withdrawn"] is None
    assert [r["run"] for r in certificate["regressions"]] == [_run_id(b["lab-fail"])]
    assert main(["certificates", "list", "--store", url]) == 0
    assert "regression: run " + _run_id(b["lab-fail"]) in capsys.readouterr().out
    assert main(["matrix", "--store", url]) == 0
    text = capsys.readouterr().out
    assert "certified (regression)" in text and "(certificate stands)" in text
    # Only intel-core is certified: the covered directions (person and vehicle checks) are unknown; intel-report,
    # whose sending side no suite certifies, is listed apart with its evidence, the regression included.
    assert main(["can-exchange", PRODUCT, PRODUCT, "--store", url, "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["answer"] == "unknown" and {a["answer"] for a in document["exchanges"]} == {"unknown"}
    intel = [a for a in document["not_covered"] if a["exchange"] == "intel-report"]
    assert intel and all(a["answer"] == "not covered" for a in intel)
    assert all("certificate" in " ".join(a["evidence"]) for a in intel)
    assert any("regression" in " ".join(a["evidence"]) for a in intel)


def test_withdrawal_only_by_the_pinned_body_key(
    world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HARNESS_KEY_PASSWORD", raising=False)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    assert (
        main(["runs", "import", "--store", url, "--trust-list", str(world["trust"]), str(world["bundles"]["pass"])])
        == 0
    )
    capsys.readouterr()
    assert main(["certificates", "list", "--store", url, "--json"]) == 0
    ident = json.loads(capsys.readouterr().out)["certificates"][0]["id"]
    body = _private(tmp_path / "body.key", world["body"])
    stranger = _private(tmp_path / "stranger.key", world["keys"]["lab"])
    withdraw = [
        "certificates",
        "withdraw",
        ident[:8],
        "--reason",
        "supplier misrepresented the product",
        "--store",
        url,
    ]
    assert main([*withdraw, "--body-key", str(body)]) == 1
    assert "no certifying body key is pinned" in capsys.readouterr().err
    assert main(["certificates", "body-key", str(_public(tmp_path / "body.pub", world["body"])), "--store", url]) == 0
    assert (
        main(["certificates", "body-key", str(_public(tmp_path / "lab.pub", world["keys"]["lab"])), "--store", url])
        == 2
    )
    assert "pinned already" in capsys.readouterr().err
    assert main([*withdraw, "--body-key", str(stranger)]) == 1
    assert "not by the certifying body's key" in capsys.readouterr().err
    assert main(["certificates", "withdraw", ident, "--reason", " ", "--body-key", str(body), "--store", url]) == 2
    capsys.readouterr()
    assert main([*withdraw, "--body-key", str(body)]) == 0
    assert f"certificate {ident} withdrawn" in capsys.readouterr().out
    assert main(["certificates", "list", "--store", url, "--json"]) == 0
    (certificate,) = json.loads(capsys.readouterr().out)["certificates"]
    assert certificate["status"] == "withdrawn"
    assert certificate["withdrawn"]["reason"] == "supplier misrepresented the product"
    assert main(["matrix", "--store", url, "--json"]) == 0
    cells = json.loads(capsys.readouterr().out)["cells"]
    assert {c["status"] for c in cells if c["suite"] == "intel-core"} == {"withdrawn"}
    assert main(["certificates", "withdraw", "0000", "--reason", "x", "--body-key", str(body), "--store", url]) == 2


def test_a_run_into_a_body_store_is_a_run_never_a_certificate(
    world: dict[str, Any], catalog: Catalog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A supplier pointing `run --store` at the body's database with its own key gets a run, never a certificate."""
    from harness.cli.run import RunSettings, run_suite
    from harness.endpoints import ReferenceServer

    url = f"sqlite:///{tmp_path / 'body.db'}"
    settings = RunSettings(tmp_path / "reports", console=False, sut=OURS, sign_key=world["keys"]["ours"], store=url)

    async def run() -> None:
        async with ReferenceServer(build_app(catalog)) as target:
            await run_suite(catalog, "intel-core", target, settings)

    asyncio.run(run())
    bundle = tmp_path / "reports" / f"{settings.run_id}.evidence.zip"
    assert main(["runs", "list", "--store", url, "--sut", PRODUCT]) == 0
    assert "[recorded]" in capsys.readouterr().out
    assert main(["certificates", "list", "--store", url]) == 0
    assert "no certificates in the store" in capsys.readouterr().out
    # Registering those very bytes, through the body's trust list, is what issues the certificate.
    assert main(["runs", "import", "--store", url, "--trust-list", str(world["trust"]), str(bundle)]) == 0
    assert "issued" in capsys.readouterr().out
    assert main(["runs", "show", settings.run_id, "--store", url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verification"] == "registered"


def test_catalogue_from_bundles_registers_nothing_and_names_each_refusal(
    world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    b, site = world["bundles"], tmp_path / "site"
    given = [str(b["pass"]), str(b["relabelled"]), str(b["unsigned"]), str(world["corrupt"])]
    assert main(["catalogue", "build", "--out", str(site), *given]) == 2  # nothing trusted: a usage error
    assert "needs --trust-list" in capsys.readouterr().err
    assert main(["catalogue", "build", "--out", str(site), "--trust-list", str(world["trust"]), *given]) == 0
    err = capsys.readouterr().err
    assert f"left out {world['corrupt']}: " in err and f"left out {b['relabelled']}: invalid: " in err
    assert f"left out {b['unsigned']}: invalid: unsigned" in err
    assert "Traceback" not in err
    feed = json.loads((site / "catalogue.json").read_text())
    assert [p["product"] for p in feed["products"]] == ["ForceRMS"]
    assert len(feed["rejected"]) == 3
    assert feed["products"][0]["certificates"][0]["issued"] == ""  # verified at build time, never registered
    both = ["--store", f"sqlite:///{tmp_path / 's.db'}", str(b["pass"])]
    assert main(["catalogue", "build", "--out", str(site), "--trust-list", str(world["trust"]), *both]) == 2


def test_report_html_shows_not_verified_and_never_certified(
    world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "r.html"
    passing = str(world["bundles"]["pass"])
    assert main(["report", "--html", str(page), passing, "--trust-list", str(world["trust"])]) == 0
    assert "<title>intel-core@1.0: CERTIFIED</title>" in page.read_text()
    capsys.readouterr()
    for bad in ([passing], [str(world["bundles"]["relabelled"]), "--trust-list", str(world["trust"])]):
        assert main(["report", "--html", str(page), *bad]) == 1
        text = page.read_text()
        assert ": NOT VERIFIED</title>" in text and ">NOT VERIFIED<" in text and ">CERTIFIED<" not in text
        assert "NOT VERIFIED: invalid: " in capsys.readouterr().out


def test_can_exchange_names_the_known_products_and_takes_spaces(
    world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    assert (
        main(["runs", "import", "--store", url, "--trust-list", str(world["trust"]), str(world["bundles"]["pass"])])
        == 0
    )
    capsys.readouterr()
    assert main(["can-exchange", PRODUCT, "Nobody/Nothing@1", "--store", url]) == 2
    assert f"unknown product 'Nobody/Nothing@1'; the store knows '{PRODUCT}'" in capsys.readouterr().err
    assert main(["can-exchange", "Example Ltd/ForceRMS", PRODUCT, "--store", url]) == 2
    assert "SUPPLIER/PRODUCT@VERSION" in capsys.readouterr().err
    assert main(["runs", "list", "--store", url, "--sut", PRODUCT]) == 0
    assert PRODUCT in capsys.readouterr().out


def test_demo_then_matrix_and_catalogue_with_no_store_option(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"), "CI": "1"}
    env.pop("HARNESS_STORE", None)

    def harness(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "harness", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
        )

    demo = harness("demo", "--reports", "reports/latest")
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert "certificate" in demo.stdout and "local demo, not accredited" in demo.stdout
    trust = tmp_path / "reports/latest/demo-trust-list.json"
    assert f"harness catalogue build --out reports/catalogue --trust-list {trust.relative_to(tmp_path)}" in demo.stdout
    assert (tmp_path / "data/netcode-harness/runs.db").is_file()
    # The demo says where its reports are, and each one it names exists.
    lines = demo.stdout.splitlines()
    start = lines.index("reports (open report.html in a browser; results.json beside it):")
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("  all suites: "))
    named = [line.split(": ", 1)[1] for line in lines[start + 1 : end]]
    assert len(named) >= 4 and all(name.endswith("report.html") and (tmp_path / name).is_file() for name in named)
    page = f"reports/latest/matrix.html --trust-list {trust.relative_to(tmp_path)}"
    assert f"next: harness matrix --html {page}" in demo.stdout
    html = harness("matrix", "--html", "reports/latest/matrix.html", "--trust-list", str(trust))
    assert html.returncode == 0, html.stderr
    text = (tmp_path / "reports/latest/matrix.html").read_text()
    assert 'id="legend"' in text and text.count('class="dates issued"') >= 4 and "last run 20" in text
    matrix = harness("matrix")
    assert matrix.returncode == 0, matrix.stderr
    row = next(line for line in matrix.stdout.splitlines() if line.startswith("netcode-harness demo/"))
    assert row.count("certified") >= 4
    # The reference certified by the demo can exchange with itself: yes, with the one-sided directions apart.
    product = row.split("  ")[0].strip()
    answer = harness("can-exchange", product, product)
    assert answer.returncode == 0, answer.stdout + answer.stderr
    lines = answer.stdout.splitlines()
    # person and vehicle checks, both sides of an SDS (ESN-23..26: the originator) and of an FD (ESN-30..34), and
    # the two exchanges of resilience-core (reports, CAP updates); floor control has no requester side yet
    assert lines[-1].startswith(f"can-exchange {product} {product}: yes (6 of 13 exchanges covered; not covered")
    assert "yes          person-check" in lines and "yes          vehicle-check" in lines
    assert "yes          mcdata-sds" in lines and "yes          mcdata-fd" in lines
    assert "not covered  intel-report" in lines and "intel-report" in lines[-1]
    for command in (["runs", "list"], ["certificates", "list"]):
        listed = harness(*command)
        assert listed.returncode == 0 and product in listed.stdout, listed.stdout + listed.stderr
    catalogue = harness("catalogue", "build", "--out", "reports/catalogue", "--trust-list", str(trust))
    assert catalogue.returncode == 0, catalogue.stderr
    feed = json.loads((tmp_path / "reports/catalogue/catalogue.json").read_text())
    assert len(feed["products"][0]["certificates"]) >= 4 and feed["rejected"] == []
    assert {c["signer"]["holder"] for c in feed["products"][0]["certificates"]} == {"local demo, not accredited"}
    # A certificate's evidence is its run report, rendered through the verifier, with the bundle beside it.
    held = feed["products"][0]["certificates"]
    assert all(c["report"] and (tmp_path / "reports/catalogue" / c["report"]).is_file() for c in held)
    report = (tmp_path / "reports/catalogue" / held[0]["report"]).read_text()
    assert "CERTIFIED" in report and "valid: signed by local demo, not accredited" in report
    product_page = next((tmp_path / "reports/catalogue/products").glob("*.html")).read_text()
    assert f'href="../{held[0]["report"]}" class="report">run report</a>' in product_page
    assert f'href="../{held[0]["bundle"]}" class="bundle" download' in product_page


def test_diff_lists_exactly_the_changed_scenarios(
    catalog: Catalog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def runs() -> tuple[Path, Path, Path]:
        good = await run_with_evidence(catalog, build_app(catalog), tmp_path / "a", "intel-core")
        again = await run_with_evidence(catalog, build_app(catalog), tmp_path / "b", "intel-core")
        broken = await run_with_evidence(
            catalog, build_broken(catalog, "missing-location"), tmp_path / "c", "intel-core"
        )
        return good, again, broken

    good, again, broken = asyncio.run(runs())
    url = f"sqlite:///{tmp_path / 's.db'}"
    assert main(["runs", "import", str(good), str(broken), "--store", url]) == 0  # unsigned: runs, no certificate
    capsys.readouterr()
    # Two real runs of the same correct supplier: no regression, with no threshold (latency is not compared).
    assert main(["diff", str(good), str(again)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith(
        "summary: 0 MUST regression(s), 0 SHOULD regression(s), latency not compared"
    )
    assert out.splitlines()[-1].endswith(": no regression")
    # With a threshold that any growth exceeds relatively, the absolute floor alone keeps the gate quiet.
    assert main(["diff", str(good), str(again), "--latency-threshold", "0%:10000ms", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["latency_regressions"] == []
    expected = {r["id"] for r in json.loads(members(broken)["results.json"])["scenarios"] if r["verdict"] != "passed"}
    assert expected, "the broken variant fails something"
    good_id = _run_id(good)
    assert main(["diff", good_id, str(broken), "--json", "--store", url]) == 1
    report = json.loads(capsys.readouterr().out)
    assert {e["scenario"] for e in report["newly_failing"]} == expected
    assert report["fixed"] == [] and report["regressed"] is True
    assert report["counts"]["must_regressions"] == sum(e["level"] == "MUST" for e in report["newly_failing"]) > 0
    assert all(e["checks_after"] and e["checks_after"][0]["expected"] is not None for e in report["newly_failing"])
    assert main(["diff", good_id, str(broken), "--store", url]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("  MUST newly failing: ") for line in lines) and "REGRESSION" in lines[-1]
    # The same failures on both sides: one line, no regression.
    assert main(["diff", str(broken), str(broken)]) == 0
    lines = capsys.readouterr().out.splitlines()
    (unchanged,) = [line for line in lines if "unchanged failures" in line and not line.startswith("summary")]
    assert all(scenario in unchanged for scenario in expected)
    assert f"{len(expected)} unchanged failure(s)" in lines[-1]
    assert main(["diff", str(broken), str(good)]) == 0
    assert "fixed: " in capsys.readouterr().out
    assert main(["diff", str(good), "no-such.zip"]) == 2
    for bad in ("lots", "20%", "5ms", "20%:-1ms"):
        assert main(["diff", str(good), str(again), "--latency-threshold", bad]) == 2
        assert "RELATIVE%:FLOORms" in capsys.readouterr().err
    # diff opens bundles only through the verifier: a tampered one is one line, exit 2.
    tampered = rebuild(good, tmp_path / "t.zip", {"junit.xml": b"<x/>"})
    capsys.readouterr()
    assert main(["diff", str(good), str(tampered)]) == 2
    assert "t.zip: invalid: " in capsys.readouterr().err


WRITER = """
import sys
from dataclasses import replace
from pathlib import Path
from harness.evidence.verified import ScenarioVerdict, VerifiedBundle
from harness.store import RunRecord, open_store
url, worker, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
store = open_store(url)
for n in range(count):
    bundle = VerifiedBundle(Path("x"), f"{worker:04d}{n:060d}", f"w{worker}-{n}", None, "intel-core", "1.0",
        "intel-report@1.0", "current", None, True, False, "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:01.000Z",
        {"passed": 1}, (ScenarioVerdict("IC-01", "MUST", "passed"),), (), False, {}, {})
    store.record(RunRecord(bundle, "unsigned", "run"))
store.close()
"""


def _concurrent_writers(url: str, workers: int = 4, each: int = 15) -> None:
    processes = [
        subprocess.Popen([sys.executable, "-c", WRITER, url, str(w), str(each)], cwd=ROOT, stderr=subprocess.PIPE)
        for w in range(workers)
    ]
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()[-2000:]
    store = open_store(url)
    try:
        rows = store.list(limit=10_000)
        assert len(rows) == workers * each
        assert len(store.get("w0-1")["scenarios"]) == 1
    finally:
        store.close()


REGISTRAR = """
import hashlib, sys
from pathlib import Path
from harness.evidence.verified import Outcome, OutcomeKind, ScenarioVerdict, Signer, SutRef, VerifiedBundle
from harness.store import open_store
url, worker, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
store = open_store(url)
for n in range(rounds):
    data = f"worker {worker} round {n}".encode()
    bundle = VerifiedBundle(Path("x"), hashlib.sha256(data).hexdigest(), f"race-{n}", Signer("1" * 64, "Lab"),
        "intel-core", "1.0", "intel-report@1.0", "current", SutRef("Race Ltd", "Racer", "1"), True, True,
        "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:01.000Z", {"passed": 1},
        (ScenarioVerdict("IC-01", "MUST", "passed"),), (), True, {}, {})
    print(store.register(Outcome(Path("x"), OutcomeKind.VALID, "", bundle), f"w{worker}", data).accepted)
store.close()
"""


def _concurrent_registrars(url: str, workers: int = 4, rounds: int = 10) -> None:
    """Workers register different bundles claiming the same run ids at once: one bundle per run id, one certificate."""
    open_store(url).close()  # migrated once, before the race
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", REGISTRAR, url, str(w), str(rounds)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for w in range(workers)
    ]
    accepted = 0
    for process in processes:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err.decode()[-2000:]
        accepted += out.decode().split().count("True")
    assert accepted == rounds
    store = open_store(url)
    try:
        racer = [c for c in store.evidence().certificates if c.product.supplier == "Race Ltd"]
        assert len(racer) == 1
        assert sum(r["sut_supplier"] == "Race Ltd" for r in store.registrations(limit=10_000)) == workers * rounds
    finally:
        store.close()


def test_concurrent_registrations_keep_one_bundle_per_run_id_on_sqlite(tmp_path: Path) -> None:
    _concurrent_registrars(f"sqlite:///{tmp_path / 'store.db'}")


def test_concurrent_runs_lose_nothing_on_sqlite(tmp_path: Path) -> None:
    _concurrent_writers(f"sqlite:///{tmp_path / 'store.db'}")


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    with throwaway_cluster() as url:
        yield url


@pytest.mark.postgres
def test_concurrent_runs_lose_nothing_on_postgresql(postgres: str) -> None:
    _concurrent_writers(postgres)


@pytest.mark.postgres
def test_concurrent_registrations_keep_one_bundle_per_run_id_on_postgresql(postgres: str) -> None:
    _concurrent_registrars(postgres)


@pytest.mark.postgres
def test_registration_and_certificates_on_postgresql(
    world: dict[str, Any], postgres: str, capsys: pytest.CaptureFixture[str]
) -> None:
    trust = ["--trust-list", str(world["trust"])]
    assert main(["runs", "import", "--store", postgres, *trust, str(world["bundles"]["pass"])]) == 0
    assert main(["runs", "import", "--store", postgres, *trust, str(world["bundles"]["lab-fail"])]) == 0
    assert main(["runs", "import", "--store", postgres, *trust, str(world["bundles"]["relabelled"])]) == 1
    capsys.readouterr()
    assert main(["certificates", "list", "--store", postgres, "--json"]) == 0
    (certificate,) = [c for c in json.loads(capsys.readouterr().out)["certificates"] if c["product"] == PRODUCT]
    assert certificate["status"] == "current" and len(certificate["regressions"]) == 1
    assert certificate["issued"].endswith("Z")  # PostgreSQL's clock, in UTC
    store = open_store(postgres)
    try:
        assert store.bundle_bytes(certificate["bundle_sha256"]) == world["bundles"]["pass"].read_bytes()
    finally:
        store.close()


def test_store_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "list", "--store", "mysql://x@127.0.0.1/db"]) == 2
    assert "unsupported store" in capsys.readouterr().err
    assert main(["runs", "show", "nope", "--store", "sqlite://"]) == 2
    assert "no run 'nope'" in capsys.readouterr().err
    assert main(["runs", "import", "--store", "sqlite://", "/no/such/bundle.zip"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_keys_generate_and_a_wrong_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HARNESS_KEY_PASSWORD", "correct horse battery staple")
    assert main(["keys", "generate", "--out", str(tmp_path / "lab")]) == 0
    out = capsys.readouterr()
    ident = out.out.split()[1]
    assert len(ident) == 64 and "correct horse" not in out.out + out.err
    assert b"ENCRYPTED PRIVATE KEY" in (tmp_path / "lab.key").read_bytes()
    assert main(["keys", "generate", "--out", str(tmp_path / "lab")]) == 2  # never overwrites
    monkeypatch.setenv("HARNESS_KEY_PASSWORD", "wrong")
    import argparse

    from harness.cli.evidence import run_options
    from harness.model import UsageError

    args = argparse.Namespace(
        sut_supplier=None, sut_product=None, sut_version=None, sign_key=tmp_path / "lab.key", key_password_env=None
    )
    with pytest.raises(UsageError, match="password is wrong"):
        run_options(args)
