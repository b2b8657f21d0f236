"""The store contract: one narrow interface, two implementations (SQLite, PostgreSQL).

A :class:`Store` hands out transactions; a :class:`~clockwf.store.manager.Tx` runs the named
operations (each documented once, there) inside one transaction. Every operation is implemented
by running a named SQL block (``clockwf/store/sql/common/queries.sql`` where both dialects say
the same, else ``clockwf/store/sql/<backend>/queries.sql``) with bound parameters; never
formatted SQL.

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
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from clockwf.store.manager import Tx

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
