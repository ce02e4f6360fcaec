"""Certification by role (``harness run --role``): a role-limited run covers its roles only, its evidence says
so, the verifier re-judges it against the issued suite's scenarios of those roles, and no forged bundle (signed
with the supplier's own valid key) claims a role it did not run."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from harness.catalog import Catalog
from harness.endpoints import build_app
from harness.evidence import Verifier
from harness.model import ConfigurationError
from harness.session import RunSession
from tests.integration.evidence_helpers import forge, members, run_with_evidence
from tests.integration.test_evidence import SUPPLIER, TRUST

RESPONDER_ONLY = {"CC-20", "CC-21"}  # checks-core's requester scenarios (the SUT made to ask)


@pytest.fixture(scope="module")
def role_bundles(catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("roles")

    async def runs() -> dict[str, Path]:
        return {
            "responder": await run_with_evidence(
                catalog, build_app(catalog), folder / "r", key=SUPPLIER, roles=("responder",)
            ),
            "receivers": await run_with_evidence(
                catalog,
                build_app(catalog),
                folder / "rr",
                suite="resilience-core",
                key=SUPPLIER,
                roles=("receiver", "alert-receiver"),
            ),
        }

    return asyncio.run(runs())


def test_role_limited_run_covers_its_roles(catalog: Catalog, role_bundles: dict[str, Path]) -> None:
    results = json.loads(members(role_bundles["responder"])["results.json"])
    statement = json.loads(members(role_bundles["responder"])["statement.json"])
    ran = {scenario["id"] for scenario in results["scenarios"]}
    assert ran == {str(s["id"]) for s in catalog.suite("checks-core").scenarios} - RESPONDER_ONLY
    assert results["roles"] == statement["predicate"]["roles"] == ["responder"]
    assert results["certified"] is True


@pytest.mark.parametrize("name", ["responder", "receivers"])
def test_role_limited_bundle_is_rejudged_valid(catalog: Catalog, role_bundles: dict[str, Path], name: str) -> None:
    outcome = Verifier(catalog, TRUST).verify(role_bundles[name], rejudge=True)
    assert outcome.line() == "valid", outcome.line()
    bundle = outcome.bundle
    assert bundle is not None
    expected = {"responder": ("responder",), "receivers": ("receiver", "alert-receiver")}[name]
    assert bundle.roles == expected
    assert bundle.certifies


def _roles(value: Any) -> Any:
    def edit(document: dict[str, Any]) -> None:
        if value is None:
            document.pop("roles", None)
        else:
            document["roles"] = value

    return edit


@pytest.mark.parametrize(
    ("claim", "reason"),
    [
        (["responder", "requester"], "CC-20"),  # a role it did not run
        (None, "CC-20"),  # a whole run, with the requester's scenarios missing
        ([], "roles is not a non-empty list"),
        (["responder", "responder"], "names a role twice"),
        (["auditor"], "certifies no role 'auditor'"),
    ],
)
def test_forged_roles_are_refused(
    catalog: Catalog, role_bundles: dict[str, Path], tmp_path: Path, claim: Any, reason: str
) -> None:
    forged = forge(role_bundles["responder"], tmp_path / "forged.zip", SUPPLIER, _roles(claim), _roles(claim))
    line = Verifier(catalog, TRUST).verify(forged, rejudge=True).line()
    assert line.startswith("invalid:") and reason in line, line


def test_roles_disagreeing_between_predicate_and_results_are_refused(
    catalog: Catalog, role_bundles: dict[str, Path], tmp_path: Path
) -> None:
    forged = forge(role_bundles["responder"], tmp_path / "forged.zip", SUPPLIER, None, _roles(["requester"]))
    line = Verifier(catalog, TRUST).verify(forged).line()
    assert line.startswith("invalid: predicate disagrees with results.json: roles"), line


def test_a_role_the_suite_does_not_certify_is_refused(catalog: Catalog) -> None:
    with pytest.raises(ConfigurationError, match="certifies no role 'sender'"):
        RunSession(catalog, "checks-core").with_roles(["sender"])


def test_every_scenario_of_every_suite_has_a_role(catalog: Catalog) -> None:
    for versions in catalog.suites.values():
        for suite in versions.values():
            for scenario in suite.scenarios:
                assert suite.role_of(scenario) in suite.roles, (suite.ref, scenario["id"])


def test_esn_core_1_1_splits_its_scenarios_by_the_side_of_each_exchange(catalog: Catalog) -> None:
    """Two answering roles (receiver, responder): the register names each scenario's role, so a run of one role
    runs exactly that side (floor control server; the originator that correlates notifications and serves files)."""
    suite = catalog.suites["esn-core"]["1.1"]

    def ids(role: str) -> set[str]:
        return {str(s["id"]) for s in suite.limited_to([role]).scenarios}

    assert ids("responder") == {f"ESN-{n}" for n in range(40, 47)}
    assert ids("sender") == {"ESN-15", "ESN-22", "ESN-23", "ESN-24", "ESN-25", "ESN-26", "ESN-34", "ESN-35"}
    assert ids("receiver") == {str(s["id"]) for s in suite.scenarios} - ids("responder") - ids("sender")
    assert {"ESN-01", "ESN-20", "ESN-30", "ESN-33"} <= ids("receiver")


def test_harness_run_by_role_on_the_command_line(tmp_path: Path) -> None:
    """``harness run --role`` end to end (the reference served in a process of its own): the receiver roles of
    resilience-core certify, results.json names them, the console says the run is role-limited; an unknown role
    is a usage error (exit 2) before any connection."""
    import subprocess
    import sys

    from tests.conftest import ROOT
    from tests.integration.served import serve_process

    command = [sys.executable, "-m", "harness.cli"]
    with serve_process([*command, "serve", "--host", "127.0.0.1", "--port", "0"]) as url:
        reports = tmp_path / "reports"
        run = subprocess.run(
            [*command, "run", "--suite", "resilience-core", "--role", "receiver", "--role", "alert-receiver",
             "--target", url, "--reports", str(reports), "--unattended", "--no-evidence"],
            capture_output=True, text=True, cwd=ROOT, timeout=300, check=False,
        )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "role-limited run: receiver, alert-receiver of resilience-core@1.0 only" in run.stdout + run.stderr
    results = json.loads((reports / "results.json").read_text(encoding="utf-8"))
    assert results["roles"] == ["receiver", "alert-receiver"]
    assert {s["id"][:2] for s in results["scenarios"]} == {"RR"} and results["summary"]["failed"] == 0
    refused = subprocess.run(
        [*command, "run", "--suite", "resilience-core", "--role", "auditor", "--target", "http://127.0.0.1:9"],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip
    assert refused.returncode == 2 and "certifies no role 'auditor'" in refused.stderr
    assert "Traceback" not in refused.stderr


def _edited_exchanges(bundle: Path, edit: Any) -> bytes:
    lines = []
    for line in members(bundle)["exchanges.jsonl"].splitlines():
        record = json.loads(line)
        kept = edit(record)
        if kept is not None:
            lines.append(json.dumps(kept).encode())
    return b"\n".join(lines) + b"\n"


def test_forged_receiver_evidence_is_refused(catalog: Catalog, role_bundles: dict[str, Path], tmp_path: Path) -> None:
    """A supplier with its own valid key edits the record of a receiver run and signs again: the stalled body's
    record removed, or the 8 'concurrent' attempts spread out in time. Re-judging tells."""
    bundle = role_bundles["receivers"]

    def drop_stall(record: dict[str, Any]) -> dict[str, Any] | None:
        return None if record.get("step") == "half-then-close:stalled" else record

    def spread(record: dict[str, Any]) -> dict[str, Any]:
        step = str(record.get("step", ""))
        if step.startswith("eight-at-once#") and record.get("answered"):
            index = int(step.rsplit("#", 1)[1])
            moment = dt.datetime.fromisoformat(record["answered"].replace("Z", "+00:00"))
            later = moment + dt.timedelta(seconds=index)  # each answered a second after the one before
            record["answered"] = later.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return record

    for edit, reason in ((drop_stall, "RR-02-stalled"), (spread, "not concurrent")):
        changed = {"exchanges.jsonl": _edited_exchanges(bundle, edit)}
        forged = forge(bundle, tmp_path / f"{reason}.zip", SUPPLIER, change=changed)
        line = Verifier(catalog, TRUST).verify(forged, rejudge=True).line()
        assert line.startswith("invalid: re-judging differs") and reason in line, line


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ("scenario_roles: {ESN-15: sender}", "scenario_roles: {ESN-15: auditor}", "scenario_roles maps"),
        ("scenario_roles: {ESN-15: sender}", "scenario_roles: {ESN-99: sender}", "scenario_roles maps"),
    ],
)
def test_a_register_assigning_unknown_roles_or_scenarios_is_refused(
    tmp_path: Path, old: str, new: str, needle: str
) -> None:
    import shutil

    from harness.catalog import read_catalog
    from harness.model import CatalogError
    from tests.conftest import ROOT

    root = tmp_path / "fixtures"
    shutil.copytree(ROOT / "fixtures", root)
    register = root / "suites/lifecycle.yaml"
    register.write_text(register.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    with pytest.raises(CatalogError, match=needle):
        read_catalog((root,))


def test_a_scenario_of_a_role_its_suite_does_not_certify_is_refused(tmp_path: Path) -> None:
    import shutil

    from harness.catalog import read_catalog
    from harness.model import CatalogError
    from tests.conftest import ROOT

    root = tmp_path / "fixtures"
    shutil.copytree(ROOT / "fixtures", root)
    scenario = root / "suites/resilience-core/1.0/scenarios/rr-01-twice-in-sequence.yaml"
    scenario.write_text(scenario.read_text(encoding="utf-8").replace("role: receiver", "role: auditor"), "utf-8")
    with pytest.raises(CatalogError, match="is of role 'auditor'"):
        read_catalog((root,))
