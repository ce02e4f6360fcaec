"""Runs in the store: the harness's own (``harness run``) and the ones registered bundles carry."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from harness.evidence.verified import VerifiedBundle
from harness.model import UsageError
from harness.store.base import StoreBase, store_clock
from harness.store.schema import runs, scenario_results

__all__ = ["RunRecord", "RunsMixin", "run_row"]


@dataclass(slots=True, frozen=True)
class RunRecord:
    """One run as the store keeps it, from a bundle the verifier passed."""

    bundle: VerifiedBundle
    verification: str
    """``registered`` (through a trust list, re-judged), ``recorded`` (a run's own bundle) or ``unsigned``."""
    source: str


def run_row(run: RunRecord, at: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    bundle = run.bundle
    sut = bundle.sut
    document_version = bundle.document.rpartition("@")[2] or None
    row = {
        "run_id": bundle.run_id,
        "suite": bundle.suite,
        "suite_version": bundle.suite_version,
        "document_version": document_version,
        "sut_supplier": sut.supplier if sut else None,
        "sut_product": sut.product if sut else None,
        "sut_version": sut.version if sut else None,
        "target": json.dumps(list(bundle.targets)),
        "started": bundle.started,
        "finished": bundle.finished,
        "certified": bundle.certifies,
        "summary": json.dumps(dict(bundle.summary)),
        "bundle_sha256": bundle.sha256,
        "signer": bundle.signer.keyid if bundle.signer else None,
        "verification": run.verification,
        "source": run.source,
        "recorded": at,
    }
    latency_of = {}
    listed = bundle.results.get("scenarios")
    for entry in listed if isinstance(listed, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("latency_ms"), dict):
            latency_of[str(entry.get("id"))] = entry["latency_ms"]
    scenarios = []
    for scenario in bundle.scenarios:
        latency = latency_of.get(scenario.id, {})
        scenarios.append(
            {
                "run_id": bundle.run_id,
                "scenario": scenario.id,
                "level": scenario.level,
                "verdict": scenario.verdict,
                "failures": json.dumps(list(scenario.failures), ensure_ascii=False, default=str),
                "latency_count": int(count) if (count := _number(latency.get("count"))) is not None else None,
                "latency_p50_ms": _number(latency.get("p50")),
                "latency_p95_ms": _number(latency.get("p95")),
                "latency_max_ms": _number(latency.get("max")),
            }
        )
    return row, scenarios


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class RunsMixin(StoreBase):
    """Keeping and reading runs."""

    def record(self, run: RunRecord) -> None:
        """Keep a run the harness itself made (``harness run``): never a registration, never a certificate.

        A run id already held with another bundle is left as it is (nothing replaces what is held).
        """
        with self.engine.begin() as connection:
            self._write_lock(connection)
            row, scenarios = run_row(run, store_clock(connection))
            held = connection.execute(sa.select(runs.c.bundle_sha256).where(runs.c.run_id == row["run_id"])).first()
            if held is not None:
                if held.bundle_sha256 != row["bundle_sha256"]:
                    raise UsageError(f"run {row['run_id']} is held already with another bundle; not replaced")
                return
            connection.execute(sa.insert(runs), [row])
            if scenarios:
                connection.execute(sa.insert(scenario_results), scenarios)

    def list(self, sut: str | None = None, suite: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Runs, newest first; ``sut`` is ``SUPPLIER/PRODUCT@VERSION``, or a supplier or product name alone."""
        query = sa.select(runs).order_by(runs.c.started.desc(), runs.c.run_id).limit(limit)
        if sut:
            supplier, slash, rest = sut.partition("/")
            product, at, version = rest.rpartition("@")
            if slash and at:
                query = query.where(
                    runs.c.sut_supplier == supplier.strip(),
                    runs.c.sut_product == product.strip(),
                    runs.c.sut_version == version.strip(),
                )
            else:
                query = query.where(sa.or_(runs.c.sut_product == sut, runs.c.sut_supplier == sut))
        if suite:
            name, _, version = suite.partition("@")
            query = query.where(runs.c.suite == name)
            if version:
                query = query.where(runs.c.suite_version == version)
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    def get(self, run_id: str) -> dict[str, Any]:
        """A run by id or unique id prefix, with its scenarios; UsageError when none or several match."""
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(runs).where(runs.c.run_id == run_id)).all() or (
                connection.execute(
                    sa.select(runs).where(runs.c.run_id.startswith(run_id, autoescape=True)).limit(2)
                ).all()
            )
            if not rows:
                raise UsageError(f"no run {run_id!r} in the store")
            if len(rows) > 1:
                raise UsageError(f"run id {run_id!r} is ambiguous; give more of it")
            run = dict(rows[0]._mapping)
            scenarios = connection.execute(
                sa.select(scenario_results)
                .where(scenario_results.c.run_id == run["run_id"])
                .order_by(scenario_results.c.scenario)
            )
            run["scenarios"] = [dict(row._mapping) for row in scenarios]
        run["summary"] = json.loads(run["summary"])
        for scenario in run["scenarios"]:
            scenario["failures"] = json.loads(scenario["failures"])
        return run
