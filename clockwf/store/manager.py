"""Every store operation, written once by query name over a backend's :class:`Connector`.

:class:`Tx` is the store contract's transaction (the conventions every operation follows are in
:mod:`clockwf.store.base`), and its only implementation: a backend adds no second copy of the
operations, only its :class:`Connector` and, where its dialect needs one, an override (SQLite
creates runs its own way). The SQL itself lives in ``sql/common/queries.sql`` and
``sql/<backend>/queries.sql``; a method here picks the named block, binds the parameters (always
including the namespace ``ns``) and shapes the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any

from clockwf.errors import StoreError
from clockwf.store.base import (
    NewRun,
    NewSkip,
    PoolStats,
    Row,
    ScheduleAdvance,
    iter_chunks,
)
from clockwf.store.common import Connector

BATCH_SIZE = 1000  # rows per bulk statement

RUN_COLUMNS = ("fire_key", "workflow_id", "workflow_version", "trigger_type", "scheduled_for",
               "due_at", "status", "serial", "payload", "metadata", "created_at")
SKIP_COLUMNS = ("workflow_id", "fire_key", "scheduled_for", "scheduled_until", "occurrences",
                "reason", "detail", "recorded_at")
ADVANCE_COLUMNS = ("workflow_id", "next_nominal_at", "next_fire_at", "status", "status_reason",
                   "last_fire_key", "last_fired_at", "updated_at", "next_kind", "launched")
run_values = attrgetter(*RUN_COLUMNS)
_skip_values = attrgetter(*SKIP_COLUMNS)
_advance_values = attrgetter(*ADVANCE_COLUMNS)
by_fire_key = attrgetter("fire_key")
_by_workflow_id = attrgetter("workflow_id")

# upsert_schedule: columns a caller may leave out, with the value they then take.
SCHEDULE_DEFAULTS: dict[str, Any] = {
    "cron": None, "run_at": None, "dst_gap": "run_after", "dst_fold": "once", "jitter_s": 0,
    "catchup": "latest", "catchup_window_s": 86400, "grace_s": 60, "max_catchup": 100,
    "overlap": "allow", "status_reason": None, "next_nominal_at": None, "next_kind": None,
    "next_fire_at": None,
    "last_fire_key": None, "last_fired_at": None, "paused_at": None, "created_at": None,
    "trigger_spec": None, "launched": 0,
}
SCHEDULE_REQUIRED = ("workflow_id", "version", "trigger_type", "timezone", "status",
                     "updated_at")


class Tx:
    """One open transaction of either backend, confined to namespace ``ns``. Commits when the
    ``with`` block of :meth:`Store.transaction <clockwf.store.base.Store.transaction>` ends,
    rolls back on exception."""

    def __init__(self, db: Connector, ns: str) -> None:
        self.db = db
        self.ns = ns

    def _p(self, **params: Any) -> dict[str, Any]:
        params["ns"] = self.ns
        return params

    # -- definitions and versions (docs/design.md §4.3) ----------------------------------------
    def lock_workflow(self, workflow_id: str) -> None:
        """Serialise publishes of one workflow (PG: advisory xact lock; SQLite: no-op)."""
        self.db.all("lock_workflow", self._p(workflow_id=workflow_id))

    def get_workflow(self, workflow_id: str) -> Row | None:
        return self.db.one("get_workflow", self._p(workflow_id=workflow_id))

    def upsert_workflow(self, *, workflow_id: str, name: str | None, current_version: int,
                        trigger_type: str, event_name: str | None, now: datetime,
                        published_from: str | None = None) -> None:
        """Insert, or update name/version/trigger/source (keeping paused state and
        created_at)."""
        self.db.execute("upsert_workflow", self._p(
            workflow_id=workflow_id, name=name, current_version=current_version,
            trigger_type=trigger_type, event_name=event_name, now=now,
            published_from=published_from))

    def set_workflow_paused(self, workflow_id: str, *, paused: bool, note: str | None,
                            now: datetime) -> bool:
        """Returns False when the workflow does not exist."""
        return self.db.execute("set_workflow_paused", self._p(
            workflow_id=workflow_id, paused=paused, note=note,
            paused_at=now if paused else None, now=now)) > 0

    def delete_workflow(self, workflow_id: str) -> bool:
        """Delete the workflow and its schedule (not versions, runs or skips)."""
        self.db.execute("delete_schedule", self._p(workflow_id=workflow_id))
        return self.db.execute("delete_workflow", self._p(workflow_id=workflow_id)) > 0

    def max_version(self, workflow_id: str) -> int | None:
        """Highest version ever stored for the id (deleted workflows included)."""
        row = self.db.one("max_version", self._p(workflow_id=workflow_id))
        return None if row is None else row["max_version"]

    def insert_version(self, *, workflow_id: str, version: int, content_hash: str,
                       definition: str, source: str, source_path: str | None,
                       published_at: datetime, published_from: str | None = None) -> None:
        """``published_from``: the source (``publish --source``) the version came from."""
        self.db.execute("insert_version", self._p(
            workflow_id=workflow_id, version=version, content_hash=content_hash,
            definition=definition, source=source, source_path=source_path,
            published_from=published_from, published_at=published_at))

    def get_version(self, workflow_id: str, version: int) -> Row | None:
        return self.db.one("get_version", self._p(workflow_id=workflow_id, version=version))

    def list_versions(self, workflow_id: str) -> list[Row]:
        """version, content_hash, source_path, published_from, published_at; newest first."""
        return self.db.all("list_versions", self._p(workflow_id=workflow_id))

    def list_workflows(self, *, trigger_types: Sequence[str] | None = None,
                       status: str | None = None) -> list[Row]:
        """Workflows LEFT JOIN schedules, ordered by workflow_id. ``status`` filters on
        'paused' / 'active' (workflow level) or a schedule status. Columns: every workflows
        column plus schedule_status, cron, timezone, run_at, next_fire_at, next_nominal_at,
        last_fire_key, last_fired_at."""
        return self.db.all("page_workflows", self._p(
            trigger_types=None if trigger_types is None else list(trigger_types),
            status=status, search=None, limit=None, offset=0))

    def workflows_from(self, published_from: str) -> list[Row]:
        """workflow_id and paused of the workflows whose current version came from this
        source, ordered by workflow_id (``publish --prune``)."""
        return self.db.all("workflows_from", self._p(published_from=published_from))

    def page_workflows(self, *, trigger_types: Sequence[str] | None = None,
                       status: str | None = None, search: str | None = None,
                       limit: int = 50, offset: int = 0) -> tuple[list[Row], int]:
        """One page of :meth:`list_workflows` (same columns, order and filters), ``search``
        matching a substring of the id or the name; and the number of rows of all pages."""
        params = self._p(trigger_types=None if trigger_types is None else list(trigger_types),
                         status=status, search=search or None, limit=limit, offset=offset)
        rows = self.db.all("page_workflows", params)
        counted = self.db.one("count_workflows", params)
        return rows, 0 if counted is None else int(counted["n"])

    def recent_runs_of(self, workflow_ids: Sequence[str], per: int) -> list[Row]:
        """run_id, workflow_id, status of the newest ``per`` runs of each workflow, by
        workflow_id then run_id."""
        if not workflow_ids:
            return []
        return self.db.all("recent_runs_of", self._p(workflow_ids=list(workflow_ids),
                                                     per=per))

    # -- API tokens (clockwf serve) ----------------------------------------------------------
    def insert_token(self, *, name: str, scope: str, token_hash: str, now: datetime) -> bool:
        """False when the namespace has a token of that name already."""
        return self.db.execute("insert_token", self._p(name=name, scope=scope,
                                                       token_hash=token_hash, now=now)) > 0

    def list_tokens(self) -> list[Row]:
        """name, scope, created_at of the namespace's tokens, by name (never a hash)."""
        return self.db.all("list_tokens", self._p())

    def delete_token(self, name: str) -> bool:
        return self.db.execute("delete_token", self._p(name=name)) > 0

    def token_by_hash(self, token_hash: str) -> Row | None:
        """namespace, name, scope of the token with this hash, in any namespace."""
        return self.db.one("token_by_hash", self._p(token_hash=token_hash))

    def count_tokens(self) -> int:
        """Tokens in the whole store, every namespace."""
        row = self.db.one("count_tokens", self._p())
        return 0 if row is None else int(row["n"])

    def workflows_for_event(self, event_name: str) -> list[Row]:
        """Published, unpaused workflows whose trigger is this event."""
        return self.db.all("workflows_for_event", self._p(event_name=event_name))

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
        next_kind, next_fire_at, last_fire_key, last_fired_at), not status or timestamps.
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
            self.db.batch("insert_skips", SKIP_COLUMNS, [_skip_values(s) for s in chunk],
                          self._p())

    def advance_schedules(self, advances: Sequence[ScheduleAdvance]) -> None:
        """Set each schedule's next occurrence and status; a None last_fire_key /
        last_fired_at keeps the stored value (a pass that launched nothing). One statement per
        batch; meant for rows this transaction claimed with :meth:`claim_due`."""
        advances = sorted(advances, key=_by_workflow_id)  # row locks in one order
        for chunk in iter_chunks(advances, BATCH_SIZE):
            self.db.batch("advance_schedules", ADVANCE_COLUMNS,
                          [_advance_values(a) for a in chunk], self._p())

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
