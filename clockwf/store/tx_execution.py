"""Store operations of execution: claims, leases, step attempts, and pruning (docs/design.md §8)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from clockwf.store.base import (
    Row,
)
from clockwf.store.tx_base import (
    TxBase,
)


class ExecutionOps(TxBase):
    # -- execution (docs/design.md §8) ---------------------------------------------------------
    def claim_runs(self, *, owner: str, now: datetime, lease_seconds: float,
                   limit: int) -> list[Row]:
        """Move up to ``limit`` queued runs to 'running' under a lease, oldest first. A serial
        run is claimed only when no other run of its workflow is running and it is the oldest
        queued run of its workflow. PG: FOR UPDATE SKIP LOCKED.

        Every lease ends ``lease_seconds`` after the database's clock (never a host's: hosts
        disagree); ``now`` is only recorded as the run's ``started_at``."""
        rows = self.db.all("claim_runs", self._p(owner=owner, now=now, lease_s=lease_seconds,
                                                 limit=limit))
        return sorted(rows, key=lambda row: row["run_id"])

    def claim_run(self, run_id: int, *, owner: str, now: datetime,
                  lease_seconds: float) -> Row | None:
        """Move one given queued run to 'running' under a lease (``clockwf run --wait``), under
        the serial rule of :meth:`claim_runs`; None when it is not queued or must wait."""
        return self.db.one("claim_run", self._p(run_id=run_id, owner=owner, now=now,
                                                lease_s=lease_seconds))

    def renew_leases(self, *, owner: str, run_ids: Sequence[int],
                     lease_seconds: float) -> list[int]:
        """Extend leases still held by ``owner`` to ``lease_seconds`` after the database's
        clock; returns the ids whose cancel was requested."""
        if not run_ids:
            return []
        rows = self.db.all("renew_leases", self._p(owner=owner, run_ids=list(run_ids),
                                                   lease_s=lease_seconds))
        return sorted(row["run_id"] for row in rows if row["cancel_requested"])

    def finish_run(self, run_id: int, *, owner: str | None, status: str, error: str | None,
                   now: datetime) -> bool:
        """Only while the run is 'running' under ``owner`` (None: any owner)."""
        finished = self.db.execute("finish_run", self._p(run_id=run_id, owner=owner,
                                                         status=status, error=error, now=now))
        return finished > 0

    def release_run(self, run_id: int, *, owner: str) -> bool:
        """Put a run claimed by ``owner`` back in the queue, as if never claimed, provided no
        step attempt of it has started; False otherwise."""
        return self.db.execute("release_run", self._p(run_id=run_id, owner=owner)) > 0

    def db_now(self) -> datetime:
        """The database's clock (PostgreSQL: the server's ``clock_timestamp()``; SQLite: the
        clock of the one host the file lives on), which leases and heartbeats read."""
        row = self.db.one("db_now", {})
        assert row is not None
        now: datetime = row["now"]
        return now

    def expire_leases(self) -> list[int]:
        """Running runs whose lease ended before the database's clock become 'interrupted'
        (and their running step attempts too); returns their ids."""
        ids = sorted(row["run_id"] for row in self.db.all("expire_leases", self._p()))
        if ids:
            self.db.execute("interrupt_step_attempts", self._p(run_ids=ids))
        return ids

    def insert_step_attempt(self, *, run_id: int, step_index: int, attempt: int, step_id: str,
                            kind: str, started_at: datetime) -> None:
        self.db.execute("insert_step_attempt", self._p(
            run_id=run_id, step_index=step_index, attempt=attempt, step_id=step_id, kind=kind,
            started_at=started_at))

    def finish_step_attempt(self, *, run_id: int, step_index: int, attempt: int, status: str,
                            finished_at: datetime, duration_ms: int, exit_code: int | None,
                            http_status: int | None, output: str | None,
                            error: str | None) -> None:
        self.db.execute("finish_step_attempt", self._p(
            run_id=run_id, step_index=step_index, attempt=attempt, status=status,
            finished_at=finished_at, duration_ms=duration_ms, exit_code=exit_code,
            http_status=http_status, output=output, error=error))

    def list_step_attempts(self, run_id: int) -> list[Row]:
        return self.db.all("list_step_attempts", self._p(run_id=run_id))

    def prune(self, *, before: datetime, dry_run: bool) -> dict[str, int]:
        """Delete finished runs (and their step attempts), skip records and completed or missed
        one-time schedules older than ``before``; never a queued or running run. Age is
        finished_at for runs, scheduled_until for skips, updated_at for schedules. Returns
        counts per kind, keys step_attempts, runs, skips, schedules, notification_deliveries,
        notifications (notifications whose deliveries have all ended) (what would be deleted when
        ``dry_run``)."""
        params = self._p(before=before)
        if dry_run:
            row = self.db.one("prune_counts", params) or {}
            return {kind: int(row.get(kind) or 0) for kind in PRUNE_KINDS}
        # in this order: step attempts are found through the runs about to go
        return {kind: self.db.execute(query, params) for kind, query in PRUNE_QUERIES}


PRUNE_QUERIES = (("step_attempts", "prune_step_attempts"), ("runs", "prune_runs"),
                 ("skips", "prune_skips"), ("schedules", "prune_schedules"),
                 ("notification_deliveries", "prune_notification_deliveries"),
                 ("notifications", "prune_notifications"))
PRUNE_KINDS = tuple(kind for kind, _ in PRUNE_QUERIES)
