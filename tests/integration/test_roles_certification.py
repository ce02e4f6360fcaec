"""Certificates by role: a role-limited run certifies its roles only; the store, matrix and can-exchange say so,
and a second run of the other role completes the product's standing (checks-core as responder, then requester)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from harness.catalog import Catalog
from harness.cli import main
from harness.endpoints import build_app
from harness.evidence import TrustList
from harness.evidence.bundle import Sut
from tests.integration.evidence_helpers import run_with_evidence
from tests.integration.test_evidence import SUPPLIER, entry

OURS = Sut("Example Ltd", "ForceRMS", "4.2")
PRODUCT = "Example Ltd/ForceRMS@4.2"


@pytest.fixture(scope="module")
def world(catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("role-certificates")
    trust = folder / "trust.json"
    TrustList((entry(SUPPLIER, "Example Ltd", "Example Ltd"),)).save(trust)

    async def runs() -> dict[str, Path]:
        made = {}
        for role in ("responder", "requester"):
            made[role] = await run_with_evidence(
                catalog, build_app(catalog), folder / role, key=SUPPLIER, sut=OURS, roles=(role,)
            )
        return made

    return {"bundles": asyncio.run(runs()), "trust": trust}


def _answers(capsys: pytest.CaptureFixture[str], url: str) -> dict[str, str]:
    main(["can-exchange", PRODUCT, PRODUCT, "--store", url, "--json"])
    document = json.loads(capsys.readouterr().out)
    return {a["exchange"]: a["answer"] for a in document["exchanges"] + document["not_covered"]}


def test_one_role_then_the_other(world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    trust = ["--trust-list", str(world["trust"])]
    assert main(["runs", "import", "--store", url, *trust, str(world["bundles"]["responder"])]) == 0
    assert "(roles: responder)" in capsys.readouterr().out
    assert main(["certificates", "list", "--store", url, "--json"]) == 0
    (certificate,) = json.loads(capsys.readouterr().out)["certificates"]
    assert certificate["roles"] == ["responder"] and certificate["status"] == "current"
    assert main(["matrix", "--store", url]) == 0
    assert "certified (responder)" in capsys.readouterr().out
    page = tmp_path / "matrix.html"
    assert main(["matrix", "--store", url, "--html", str(page)]) == 0
    capsys.readouterr()
    assert "responder only" in page.read_text(encoding="utf-8")
    # The responder side is certified, the requester side never ran: person checks between two such systems are
    # unknown, never yes (a responder-only certificate does not speak for asking).
    assert _answers(capsys, url)["person-check"] == "unknown"

    assert main(["runs", "import", "--store", url, *trust, str(world["bundles"]["requester"])]) == 0
    line = capsys.readouterr().out
    assert "(roles: requester)" in line and "stands already" not in line
    assert main(["certificates", "list", "--store", url, "--json"]) == 0
    roles = sorted(tuple(c["roles"]) for c in json.loads(capsys.readouterr().out)["certificates"])
    assert roles == [("requester",), ("responder",)]
    answers = _answers(capsys, url)
    assert answers["person-check"] == "yes" and answers["vehicle-check"] == "yes"


def test_a_run_of_one_role_is_no_regression_of_another(
    catalog: Catalog, world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.integration.broken_query_suppliers import build_broken_force

    url = f"sqlite:///{tmp_path / 'store.db'}"
    trust = ["--trust-list", str(world["trust"])]
    assert main(["runs", "import", "--store", url, *trust, str(world["bundles"]["requester"])]) == 0
    failing = asyncio.run(
        run_with_evidence(
            catalog,
            build_broken_force(catalog, "case-sensitive-names"),
            tmp_path / "failing",
            key=SUPPLIER,
            sut=OURS,
            roles=("responder",),
        )
    )
    assert main(["runs", "import", "--store", url, *trust, str(failing)]) == 0
    capsys.readouterr()
    assert main(["certificates", "list", "--store", url, "--json"]) == 0
    (certificate,) = json.loads(capsys.readouterr().out)["certificates"]
    assert certificate["roles"] == ["requester"] and certificate["regressions"] == []
    answers = _answers(capsys, url)
    assert answers["person-check"] == "no"  # the responder side failed
