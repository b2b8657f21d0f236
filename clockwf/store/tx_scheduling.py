"""Store operations of scheduling: schedule state, the tick's claim, runs, skips and advances,
and what `status` reads (docs/design.md §4.4, §6, §9)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from clockwf.errors import StoreError
from clockwf.store.base import (
    NewRun,
    NewSkip,
    PoolStats,
    Row,
    ScheduleAdvance,
    iter_chunks,
)
from clockwf.store.tx_base import (
    ADVANCE_COLUMNS,
    BATCH_SIZE,
    RUN_COLUMNS,
    SCHEDULE_DEFAULTS,
    SCHEDULE_REQUIRED,
    SKIP_COLUMNS,
    TxBase,
    advance_values,
    by_fire_key,
    by_workflow_id,
    run_values,
    skip_values,
)


class SchedulingOps(TxBase):
    # -- schedule state (docs/design.md §4.4) --------------------------------------------------
    def get_schedule(self, workflow_id: str, *, for_update: bool = False) -> Row | None:
        """``for_update``: lock the row for this transaction (PG: FOR UPDATE, waiting for a tick
        that has claimed it), before changing it from what it says."""
        name = "get_schedule_for_update" if for_update else "get_schedule"
        return self.db.one(name, self._p(workflow_id=workflow_id))

    def upsert_schedule(self, row: Row) -> None:
        """Replace the schedule row of ``row['workflow_id']`` with every column given. Columns
        left out take their schema default (NULL or the DEFAULT); ``created_at`` defaults to
        ``updated_at`` and an existing row keeps its own. A whole row read back from
        :meth:`get_schedule` may be given (its ``namespace`` must be this one)."""
        given = dict(row)
        if given.pop("namespace", self.ns) != self.ns:
            raise StoreError("upsert_schedule: the row belongs to another namespace")
        unknown = set(given) - set(SCHEDULE_DEFAULTS) - set(SCHEDULE_REQUIRED)
        missing = [c for c in SCHEDULE_REQUIRED if given.get(c) is None]
        if unknown or missing:
            raise StoreError(f"upsert_schedule: unknown columns {sorted(unknown)}, "
                             f"missing columns {missing}")
        params = {**SCHEDULE_DEFAULTS, **given}
        if params["created_at"] is None:
            params["created_at"] = params["updated_at"]
        self.db.execute("upsert_schedule", self._p(**params))

    def delete_schedule(self, workflow_id: str) -> bool:
        return self.db.execute("delete_schedule", self._p(workflow_id=workflow_id)) > 0

    def set_schedule_state(self, workflow_id: str, *, status: str, status_reason: str | None,
                           next_nominal_at: datetime | None, next_fire_at: datetime | None,
                           paused_at: datetime | None, now: datetime,
                           next_kind: str | None = None) -> bool:
        return self.db.execute("set_schedule_state", self._p(
            workflow_id=workflow_id, status=status, status_reason=status_reason,
            next_nominal_at=next_nominal_at, next_kind=next_kind, next_fire_at=next_fire_at,
            paused_at=paused_at, now=now)) > 0

    def bump_changes(self) -> None:
        """Increment the namespace's change counter (and PG: NOTIFY clockwf_changes)."""
        self.db.execute("bump_changes", self._p())

    def change_counter(self) -> int:
        row = self.db.one("change_counter", self._p())
        return 0 if row is None else int(row["counter"])

    # -- scheduling (docs/design.md §6, §9) ----------------------------------------------------
    def claim_due(self, now: datetime, limit: int, *,
                  after: tuple[datetime, str] | None = None) -> list[Row]:
        """Schedules with status 'scheduled' and next_fire_at <= now, ordered by
        (next_fire_at, workflow_id), locked for this transaction (PG: FOR UPDATE SKIP LOCKED).
        Columns: what a tick reads (the definition's columns, version, next_nominal_at,
        next_kind, next_fire_at), not the last fire, status or timestamps.
        ``after``: keyset cursor, only rows strictly after this (next_fire_at, workflow_id), so
        one pass visits a schedule still due after its advance only once. One index range
        scan."""
        if after is None:
            return self.db.all("claim_due", self._p(now=now, limit=limit))
        return self.db.all("claim_due_after", self._p(now=now, limit=limit, after_at=after[0],
                                                      after_id=after[1]))

    def earliest_due(self) -> datetime | None:
        """min(next_fire_at) of scheduled rows: one index seek."""
        row = self.db.one("earliest_due", self._p())
        return None if row is None else row["next_fire_at"]

    def insert_runs(self, runs: Sequence[NewRun]) -> dict[str, int]:
        # In key order: two transactions inserting overlapping keys then wait on each other in
        # the same order, and never deadlock (PostgreSQL locks each new unique key). SQLite
        # creates runs its own way (clockwf.store.sqlite.SqliteTx.insert_runs).
        """INSERT ... ON CONFLICT (namespace, fire_key) DO NOTHING RETURNING: fire_key -> run_id
        for the runs actually created; a key already taken is simply absent. Runs are created
        in fire-key order (so run ids follow it): transactions racing on the same keys then
        wait for each other in one order and never deadlock."""
        runs = sorted(runs, key=by_fire_key)
        created: dict[str, int] = {}
        for chunk in iter_chunks(runs, BATCH_SIZE):
            rows = self.db.batch("insert_runs", RUN_COLUMNS, [run_values(r) for r in chunk],
                                 self._p())
            created.update((row["fire_key"], row["run_id"]) for row in rows)
        return created

    def insert_skips(self, skips: Sequence[NewSkip]) -> None:
        """Record occurrences not launched; an identical (fire_key, reason) is ignored."""
        skips = sorted(skips, key=by_fire_key)  # see insert_runs
        for chunk in iter_chunks(skips, BATCH_SIZE):
            self.db.batch("insert_skips", SKIP_COLUMNS, [skip_values(s) for s in chunk],
                          self._p())

    def advance_schedules(self, advances: Sequence[ScheduleAdvance]) -> None:
        """Set each schedule's next occurrence and status; a None last_fire_key /
        last_fired_at keeps the stored value (a pass that launched nothing). One statement per
        batch; meant for rows this transaction claimed with :meth:`claim_due`."""
        advances = sorted(advances, key=by_workflow_id)  # row locks in one order
        for chunk in iter_chunks(advances, BATCH_SIZE):
            self.db.batch("advance_schedules", ADVANCE_COLUMNS,
                          [advance_values(a) for a in chunk], self._p())

    def active_runs(self, workflow_ids: Sequence[str]) -> list[Row]:
        """run_id, workflow_id, status of queued and running runs of these workflows."""
        if not workflow_ids:
            return []
        return self.db.all("active_runs", self._p(workflow_ids=list(workflow_ids)))

    def request_cancel(self, run_ids: Sequence[int], *, reason: str, now: datetime) -> None:
        """Queued runs become 'cancelled' at once; running ones get cancel_requested. Both get
        ``reason`` as their error (a later finish_run with error None keeps it)."""
        if run_ids:
            self.db.execute("request_cancel", self._p(run_ids=list(run_ids), reason=reason,
                                                      now=now))

    def get_run(self, run_id: int) -> Row | None:
        return self.db.one("get_run", self._p(run_id=run_id))

    def runs_by_fire_keys(self, fire_keys: Sequence[str]) -> list[Row]:
        if not fire_keys:
            return []
        return self.db.all("runs_by_fire_keys", self._p(fire_keys=list(fire_keys)))

    def list_runs(self, *, workflow_id: str | None = None, trigger_type: str | None = None,
                  status: str | None = None, since: datetime | None = None,
                  limit: int = 50) -> list[Row]:
        """Newest first (run_id descending)."""
        params = self._p(workflow_id=workflow_id, trigger_type=trigger_type, status=status,
                         since=since, limit=limit)
        if workflow_id is None:
            return self.db.all("list_runs", params)
        return self.db.all("list_runs_for_workflow", params)

    def skips_between(self, workflow_id: str, start: datetime, end: datetime) -> list[Row]:
        """Skip rows whose [scheduled_for, scheduled_until] overlaps [start, end]."""
        return self.db.all("skips_between", self._p(workflow_id=workflow_id, start=start,
                                                    end=end))

    def heartbeat(self, *, instance_id: str, hostname: str, pid: int, role: str,
                  version: str, started_at: datetime, last_tick_at: datetime | None,
                  status: str | None, pool: PoolStats | None = None) -> None:
        """Record that the instance is alive; ``heartbeat_at`` is the database's clock.
        ``pool``: its connection pool's bound and waits."""
        self.db.execute("heartbeat", self._p(
            instance_id=instance_id, hostname=hostname, pid=pid, role=role, version=version,
            started_at=started_at, last_tick_at=last_tick_at, status=status,
            pool_size=pool.size if pool else None, pool_waits=pool.waits if pool else None,
            pool_wait_s=pool.wait_seconds if pool else None))

    def mark_daemon_stopped(self, instance_id: str, now: datetime) -> None:
        self.db.execute("mark_daemon_stopped", self._p(instance_id=instance_id, now=now))

    def list_daemons(self) -> list[Row]:
        return self.db.all("list_daemons", self._p())

    def overdue_schedules(self, now: datetime, limit: int) -> list[Row]:
        """Scheduled rows with next_fire_at <= now, most overdue first."""
        return self.db.all("overdue_schedules", self._p(now=now, limit=limit))

    def troubled_schedules(self, limit: int) -> list[Row]:
        """Scheduled rows that carry a status_reason: schedules the tick could not plan and
        postponed (see ``scheduler._postpone``), by workflow_id."""
        return self.db.all("troubled_schedules", self._p(limit=limit))

    def run_status_counts(self) -> dict[str, int]:
        return {row["status"]: int(row["n"])
                for row in self.db.all("run_status_counts", self._p())}
