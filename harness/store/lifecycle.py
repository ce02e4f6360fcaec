"""Suite life-cycle changes the certifying body publishes (superseded, retired), kept and logged."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from harness.certification.withdrawal import WithdrawalError, public_key_from_pem
from harness.model import HarnessError
from harness.register.lifecycle import LifecycleError, check_lifecycle, later_stage
from harness.register.log import LogEntry
from harness.store import log as ledger
from harness.store.base import NO_BODY_KEY, StoreBase, store_clock
from harness.store.schema import suite_status

__all__ = ["LifecycleMixin", "LifecycleRefused", "published_life"]


class LifecycleRefused(HarnessError):
    """A life-cycle change the store does not accept (not signed by the pinned body key, not a step forward...)."""

    exit_code = 1


def published_life(connection: Connection) -> dict[tuple[str, str], str]:
    """(suite, version) -> the status the body published for it, the later stage winning."""
    life: dict[tuple[str, str], str] = {}
    for row in connection.execute(sa.select(suite_status).order_by(suite_status.c.id)):
        key = (str(row.suite), str(row.version))
        life[key] = later_stage(life.get(key, "current"), str(row.status))
    return life


class LifecycleMixin(StoreBase):
    """Publishing and reading suite life-cycle changes."""

    def publish_lifecycle(self, suite: str, version: str, status: str, record: str) -> LogEntry:
        """Keep the body's signed record making ``suite@version`` ``superseded`` or ``retired``, and log it.

        Refused unless the pinned body key signed it, it says exactly this change, and it moves the
        version forward in life (current -> superseded -> retired; the register's own published status).
        """
        pinned = self.body_key()
        if pinned is None:
            raise LifecycleRefused(NO_BODY_KEY)
        try:
            checked = check_lifecycle(record, public_key_from_pem(pinned[1]))
        except (LifecycleError, WithdrawalError) as exc:
            raise LifecycleRefused(f"life-cycle change of {suite}@{version} refused: {exc}") from None
        if (checked.suite, checked.version, checked.status) != (suite, version, status):
            raise LifecycleRefused(
                f"life-cycle change refused: the record makes {checked.suite}@{checked.version} {checked.status}, "
                f"not {suite}@{version} {status}"
            )
        with self.engine.begin() as connection:
            self._write_lock(connection)
            at = store_clock(connection)
            held = published_life(connection).get((suite, version), "current")
            if later_stage(held, status) == held:
                raise LifecycleRefused(f"life-cycle change refused: {suite}@{version} is {held} already")
            entry = ledger.append(
                connection,
                "lifecycle",
                at,
                {
                    "suite": suite,
                    "version": version,
                    "status": status,
                    "reason": checked.reason,
                    "published": checked.published,
                    "signer": checked.keyid,
                    "record_sha256": hashlib.sha256(record.encode()).hexdigest(),
                },
            )
            connection.execute(
                sa.insert(suite_status),
                [
                    {
                        "suite": suite,
                        "version": version,
                        "status": status,
                        "at": at,
                        "reason": checked.reason,
                        "record": record,
                        "log_index": entry.index,
                    }
                ],
            )
        return entry

    def suite_life(self) -> dict[tuple[str, str], str]:
        """(suite, version) -> the status the body published for it (only versions it published a change for).

        Merge it over the catalog's with :func:`harness.register.lifecycle.merged_life` (the later stage wins).
        """
        with self.engine.connect() as connection:
            return published_life(connection)
