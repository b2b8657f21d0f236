"""The store contract: one narrow interface, two implementations (SQLite, PostgreSQL).

A :class:`Store` hands out transactions; a :class:`Tx` runs the named operations below inside
one transaction. Every operation is implemented by running a named SQL block of the backend
(``clockwf/store/sql/<backend>/queries.sql``) with bound parameters; never formatted SQL.

Conventions for every operation:

- ``ns`` is the namespace; every operation is confined to it.
- Times are aware ``datetime`` objects in UTC, in and out (the backends convert).
- Rows are plain ``dict``s keyed by column name; booleans may come back as 0/1 (use truthiness).
- JSON columns (``definition``, ``payload``, ``metadata``) are passed and returned as ``str``.
- Driver errors never escape: an unreachable, locked or read-only store raises
  :class:`~clockwf.errors.StoreUnavailable`; anything else :class:`~clockwf.errors.StoreError`.

:raises StoreUnavailable: from every method, when the store cannot be reached or is locked.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

Row = dict[str, Any]


@dataclass(frozen=True)
class MigrationStatus:
    current: int                      # highest applied version (0: empty store)
    latest: int                       # highest version this clockwf knows
    applied: list[tuple[int, str, datetime]] = field(default_factory=list)
    pending: list[tuple[int, str]] = field(default_factory=list)


# NewRun, NewSkip and ScheduleAdvance are named tuples rather than frozen dataclasses: a tick
# builds one or two per schedule it fires, and a named tuple is several times cheaper to build.


class NewRun(NamedTuple):
    """A run to create; the fire key is claimed by the same statement that inserts it."""

    fire_key: str
    workflow_id: str
    workflow_version: int
    trigger_type: str
    payload: str
    metadata: str
    created_at: datetime
    scheduled_for: datetime | None = None
    due_at: datetime | None = None
    serial: bool = False
    status: str = "queued"


class NewSkip(NamedTuple):
    workflow_id: str
    fire_key: str
    scheduled_for: datetime
    scheduled_until: datetime
    occurrences: int
    reason: str        # coalesced | outside_window | missed | paused | overlap | dst_skip,
    #                    excluded
    detail: str | None
    recorded_at: datetime


class ScheduleAdvance(NamedTuple):
    workflow_id: str
    next_nominal_at: datetime | None
    next_fire_at: datetime | None
    status: str
    status_reason: str | None
    last_fire_key: str | None
    last_fired_at: datetime | None
    updated_at: datetime
    next_kind: str | None = None   # FireKind of the next occurrence (clockwf.cron), None: normal
    launched: int = 0              # occurrences this pass launched (added to the row's count)


class Tx(abc.ABC):
    """One open transaction. Commits when the ``with`` block ends, rolls back on exception."""

    ns: str

    # -- definitions and versions (docs/design.md §4.3) ----------------------------------------
    @abc.abstractmethod
    def lock_workflow(self, workflow_id: str) -> None:
        """Serialise publishes of one workflow (PG: advisory xact lock; SQLite: no-op)."""

    @abc.abstractmethod
    def get_workflow(self, workflow_id: str) -> Row | None: ...

    @abc.abstractmethod
    def upsert_workflow(self, *, workflow_id: str, name: str | None, current_version: int,
                        trigger_type: str, event_name: str | None, now: datetime,
                        published_from: str | None = None) -> None:
        """Insert, or update name/version/trigger/source (keeping paused state and
        created_at)."""

    @abc.abstractmethod
    def set_workflow_paused(self, workflow_id: str, *, paused: bool, note: str | None,
                            now: datetime) -> bool:
        """Returns False when the workflow does not exist."""

    @abc.abstractmethod
    def delete_workflow(self, workflow_id: str) -> bool:
        """Delete the workflow and its schedule (not versions, runs or skips)."""

    @abc.abstractmethod
    def max_version(self, workflow_id: str) -> int | None:
        """Highest version ever stored for the id (deleted workflows included)."""

    @abc.abstractmethod
    def insert_version(self, *, workflow_id: str, version: int, content_hash: str,
                       definition: str, source: str, source_path: str | None,
                       published_at: datetime, published_from: str | None = None) -> None:
        """``published_from``: the source (``publish --source``) the version came from."""

    @abc.abstractmethod
    def get_version(self, workflow_id: str, version: int) -> Row | None: ...

    @abc.abstractmethod
    def list_versions(self, workflow_id: str) -> list[Row]:
        """version, content_hash, source_path, published_from, published_at; newest first."""

    @abc.abstractmethod
    def list_workflows(self, *, trigger_types: Sequence[str] | None = None,
                       status: str | None = None) -> list[Row]:
        """Workflows LEFT JOIN schedules, ordered by workflow_id. ``status`` filters on
        'paused' / 'active' (workflow level) or a schedule status. Columns: every workflows
        column plus schedule_status, cron, timezone, run_at, next_fire_at, next_nominal_at,
        last_fire_key, last_fired_at."""

    @abc.abstractmethod
    def workflows_from(self, published_from: str) -> list[Row]:
        """workflow_id and paused of the workflows whose current version came from this
        source, ordered by workflow_id (``publish --prune``)."""

    @abc.abstractmethod
    def page_workflows(self, *, trigger_types: Sequence[str] | None = None,
                       status: str | None = None, search: str | None = None,
                       limit: int = 50, offset: int = 0) -> tuple[list[Row], int]:
        """One page of :meth:`list_workflows` (same columns, order and filters), ``search``
        matching a substring of the id or the name; and the number of rows of all pages."""

    @abc.abstractmethod
    def recent_runs_of(self, workflow_ids: Sequence[str], per: int) -> list[Row]:
        """run_id, workflow_id, status of the newest ``per`` runs of each workflow, by
        workflow_id then run_id."""

    # -- API tokens (clockwf serve) ----------------------------------------------------------
    @abc.abstractmethod
    def insert_token(self, *, name: str, scope: str, token_hash: str, now: datetime) -> bool:
        """False when the namespace has a token of that name already."""

    @abc.abstractmethod
    def list_tokens(self) -> list[Row]:
        """name, scope, created_at of the namespace's tokens, by name (never a hash)."""

    @abc.abstractmethod
    def delete_token(self, name: str) -> bool: ...

    @abc.abstractmethod
    def token_by_hash(self, token_hash: str) -> Row | None:
        """namespace, name, scope of the token with this hash, in any namespace."""

    @abc.abstractmethod
    def count_tokens(self) -> int:
        """Tokens in the whole store, every namespace."""

    @abc.abstractmethod
    def workflows_for_event(self, event_name: str) -> list[Row]:
        """Published, unpaused workflows whose trigger is this event."""

    # -- schedule state (docs/design.md §4.4) --------------------------------------------------
    @abc.abstractmethod
    def get_schedule(self, workflow_id: str, *, for_update: bool = False) -> Row | None:
        """``for_update``: lock the row for this transaction (PG: FOR UPDATE, waiting for a tick
        that has claimed it), before changing it from what it says."""

    @abc.abstractmethod
    def upsert_schedule(self, row: Row) -> None:
        """Replace the schedule row of ``row['workflow_id']`` with every column given. Columns
        left out take their schema default (NULL or the DEFAULT); ``created_at`` defaults to
        ``updated_at`` and an existing row keeps its own. A whole row read back from
        :meth:`get_schedule` may be given (its ``namespace`` must be this one)."""

    @abc.abstractmethod
    def delete_schedule(self, workflow_id: str) -> bool: ...

    @abc.abstractmethod
    def set_schedule_state(self, workflow_id: str, *, status: str, status_reason: str | None,
                           next_nominal_at: datetime | None, next_fire_at: datetime | None,
                           paused_at: datetime | None, now: datetime,
                           next_kind: str | None = None) -> bool: ...

    @abc.abstractmethod
    def bump_changes(self) -> None:
        """Increment the namespace's change counter (and PG: NOTIFY clockwf_changes)."""

    @abc.abstractmethod
    def change_counter(self) -> int: ...

    # -- scheduling (docs/design.md §6, §9) ----------------------------------------------------
    @abc.abstractmethod
    def claim_due(self, now: datetime, limit: int, *,
                  after: tuple[datetime, str] | None = None) -> list[Row]:
        """Schedules with status 'scheduled' and next_fire_at <= now, ordered by
        (next_fire_at, workflow_id), locked for this transaction (PG: FOR UPDATE SKIP LOCKED).
        Columns: what a tick reads (the definition's columns, version, next_nominal_at,
        next_kind, next_fire_at, last_fire_key, last_fired_at), not status or timestamps.
        ``after``: keyset cursor, only rows strictly after this (next_fire_at, workflow_id), so
        one pass visits a schedule still due after its advance only once. One index range
        scan."""

    @abc.abstractmethod
    def earliest_due(self) -> datetime | None:
        """min(next_fire_at) of scheduled rows: one index seek."""

    @abc.abstractmethod
    def insert_runs(self, runs: Sequence[NewRun]) -> dict[str, int]:
        """INSERT ... ON CONFLICT (namespace, fire_key) DO NOTHING RETURNING: fire_key -> run_id
        for the runs actually created; a key already taken is simply absent. Runs are created
        in fire-key order (so run ids follow it): transactions racing on the same keys then
        wait for each other in one order and never deadlock."""

    @abc.abstractmethod
    def insert_skips(self, skips: Sequence[NewSkip]) -> None:
        """Record occurrences not launched; an identical (fire_key, reason) is ignored."""

    @abc.abstractmethod
    def advance_schedules(self, advances: Sequence[ScheduleAdvance]) -> None:
        """Set each schedule's next occurrence and status; a None last_fire_key /
        last_fired_at keeps the stored value (a pass that launched nothing). One statement per
        batch; meant for rows this transaction claimed with :meth:`claim_due`."""

    @abc.abstractmethod
    def active_runs(self, workflow_ids: Sequence[str]) -> list[Row]:
        """run_id, workflow_id, status of queued and running runs of these workflows."""

    @abc.abstractmethod
    def request_cancel(self, run_ids: Sequence[int], *, reason: str, now: datetime) -> None:
        """Queued runs become 'cancelled' at once; running ones get cancel_requested. Both get
        ``reason`` as their error (a later finish_run with error None keeps it)."""

    @abc.abstractmethod
    def get_run(self, run_id: int) -> Row | None: ...

    @abc.abstractmethod
    def runs_by_fire_keys(self, fire_keys: Sequence[str]) -> list[Row]: ...

    @abc.abstractmethod
    def list_runs(self, *, workflow_id: str | None = None, trigger_type: str | None = None,
                  status: str | None = None, since: datetime | None = None,
                  limit: int = 50) -> list[Row]:
        """Newest first (run_id descending)."""

    @abc.abstractmethod
    def skips_between(self, workflow_id: str, start: datetime, end: datetime) -> list[Row]:
        """Skip rows whose [scheduled_for, scheduled_until] overlaps [start, end]."""

    @abc.abstractmethod
    def heartbeat(self, *, instance_id: str, hostname: str, pid: int, role: str,
                  version: str, started_at: datetime, last_tick_at: datetime | None,
                  status: str | None, pool: PoolStats | None = None) -> None:
        """Record that the instance is alive; ``heartbeat_at`` is the database's clock.
        ``pool``: its connection pool's bound and waits."""

    @abc.abstractmethod
    def mark_daemon_stopped(self, instance_id: str, now: datetime) -> None: ...

    @abc.abstractmethod
    def list_daemons(self) -> list[Row]: ...

    @abc.abstractmethod
    def overdue_schedules(self, now: datetime, limit: int) -> list[Row]:
        """Scheduled rows with next_fire_at <= now, most overdue first."""

    @abc.abstractmethod
    def troubled_schedules(self, limit: int) -> list[Row]:
        """Scheduled rows that carry a status_reason: schedules the tick could not plan and
        postponed (see ``scheduler._postpone``), by workflow_id."""

    @abc.abstractmethod
    def run_status_counts(self) -> dict[str, int]: ...

    # -- execution (docs/design.md §8) ---------------------------------------------------------
    @abc.abstractmethod
    def claim_runs(self, *, owner: str, now: datetime, lease_seconds: float,
                   limit: int) -> list[Row]:
        """Move up to ``limit`` queued runs to 'running' under a lease, oldest first. A serial
        run is claimed only when no other run of its workflow is running and it is the oldest
        queued run of its workflow. PG: FOR UPDATE SKIP LOCKED.

        Every lease ends ``lease_seconds`` after the database's clock (never a host's: hosts
        disagree); ``now`` is only recorded as the run's ``started_at``."""

    @abc.abstractmethod
    def claim_run(self, run_id: int, *, owner: str, now: datetime,
                  lease_seconds: float) -> Row | None:
        """Move one given queued run to 'running' under a lease (``clockwf run --wait``), under
        the serial rule of :meth:`claim_runs`; None when it is not queued or must wait."""

    @abc.abstractmethod
    def renew_leases(self, *, owner: str, run_ids: Sequence[int],
                     lease_seconds: float) -> list[int]:
        """Extend leases still held by ``owner`` to ``lease_seconds`` after the database's
        clock; returns the ids whose cancel was requested."""

    @abc.abstractmethod
    def finish_run(self, run_id: int, *, owner: str | None, status: str, error: str | None,
                   now: datetime) -> bool:
        """Only while the run is 'running' under ``owner`` (None: any owner)."""

    @abc.abstractmethod
    def release_run(self, run_id: int, *, owner: str) -> bool:
        """Put a run claimed by ``owner`` back in the queue, as if never claimed, provided no
        step attempt of it has started; False otherwise."""

    @abc.abstractmethod
    def db_now(self) -> datetime:
        """The database's clock (PostgreSQL: the server's ``clock_timestamp()``; SQLite: the
        clock of the one host the file lives on), which leases and heartbeats read."""

    @abc.abstractmethod
    def expire_leases(self) -> list[int]:
        """Running runs whose lease ended before the database's clock become 'interrupted'
        (and their running step attempts too); returns their ids."""

    @abc.abstractmethod
    def insert_step_attempt(self, *, run_id: int, step_index: int, attempt: int, step_id: str,
                            kind: str, started_at: datetime) -> None: ...

    @abc.abstractmethod
    def finish_step_attempt(self, *, run_id: int, step_index: int, attempt: int, status: str,
                            finished_at: datetime, duration_ms: int, exit_code: int | None,
                            http_status: int | None, output: str | None,
                            error: str | None) -> None: ...

    @abc.abstractmethod
    def list_step_attempts(self, run_id: int) -> list[Row]: ...

    @abc.abstractmethod
    def prune(self, *, before: datetime, dry_run: bool) -> dict[str, int]:
        """Delete finished runs (and their step attempts), skip records and completed or missed
        one-time schedules older than ``before``; never a queued or running run. Age is
        finished_at for runs, scheduled_until for skips, updated_at for schedules. Returns
        counts per kind, keys step_attempts, runs, skips, schedules, notification_deliveries,
        notifications (notifications whose deliveries have all ended) (what would be deleted when
        ``dry_run``)."""


@dataclass(frozen=True)
class PoolStats:
    """A store's connection pool, as ``clockwf status`` shows it."""

    size: int             # the most connections the pool opens at once
    waits: int            # times a transaction found every connection in use
    wait_seconds: float   # time spent waiting for one, in all


class Store(abc.ABC):
    """A connection (pool) to one database, confined to one namespace."""

    backend: str          # "sqlite" | "postgresql"
    url: str              # for messages, credentials redacted
    ns: str

    @property
    def concurrent_writes(self) -> bool:
        """Whether two write transactions of this process may be open at once, on two
        connections (the tick then writes one batch while it plans the next). False: one
        writer at a time (SQLite)."""
        return False

    def pool_stats(self) -> PoolStats | None:
        """The connection pool's bound and waits (None: no pool, as with SQLite)."""
        return None

    @abc.abstractmethod
    def transaction(self) -> AbstractContextManager[Tx]:
        """A write transaction (SQLite: BEGIN IMMEDIATE; PG: BEGIN)."""

    @abc.abstractmethod
    def read(self) -> AbstractContextManager[Tx]:
        """A read-only transaction."""

    @abc.abstractmethod
    def earliest_due(self) -> datetime | None:
        """min(next_fire_at) of scheduled rows, as one statement outside any explicit
        transaction (one round trip on PostgreSQL; no BEGIN IMMEDIATE on SQLite): how a tick
        that finds nothing due stays cheap."""

    @abc.abstractmethod
    def migration_status(self) -> MigrationStatus: ...

    @abc.abstractmethod
    def upgrade(self) -> list[tuple[int, str]]:
        """Apply pending migrations, each in one transaction under a lock; returns them."""

    @abc.abstractmethod
    def wait_for_change(self, last_counter: int | None, timeout: float) -> int:
        """Block up to ``timeout`` s until the namespace's change counter differs from
        ``last_counter`` (PG: LISTEN/NOTIFY; SQLite: a cheap poll); returns the counter."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
