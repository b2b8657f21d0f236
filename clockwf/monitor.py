"""``clockwf status``: is scheduling healthy? For people and for monitoring (exit code)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from clockwf.notify.outbox import failing_targets
from clockwf.store.base import Row, Store
from clockwf.timeutil import format_duration, iso_utc


@dataclass
class Health:
    now: datetime
    daemons: list[Row]
    queued: int
    running: int
    overdue: Row | None
    problems: list[str] = field(default_factory=list)
    db_now: datetime | None = None    # the database's clock, which stamps heartbeats

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "now": iso_utc(self.now),
            "daemons": [{
                "instance_id": d["instance_id"], "role": d["role"], "hostname": d["hostname"],
                "pid": d["pid"], "version": d["version"], "started_at": iso_utc(d["started_at"]),
                "heartbeat_at": iso_utc(d["heartbeat_at"]),
                "last_tick_at": iso_utc(d.get("last_tick_at")),
                "stopped_at": iso_utc(d.get("stopped_at")),
                "pool": pool_json(d),
                "heartbeat_age_s": None if self.db_now is None else round(
                    (self.db_now - d["heartbeat_at"]).total_seconds(), 3),
                "tick_age_s": None if self.db_now is None or d.get("ticked_at") is None
                else round((self.db_now - d["ticked_at"]).total_seconds(), 3),
            } for d in self.daemons],
            "runs": {"queued": self.queued, "running": self.running},
            "most_overdue": None if self.overdue is None else {
                "workflow_id": self.overdue["workflow_id"],
                "next_fire_at": iso_utc(self.overdue["next_fire_at"]),
                "overdue_seconds": int((self.now - self.overdue["next_fire_at"])
                                       .total_seconds()),
            },
            "problems": self.problems,
        }


def pool_json(daemon: Row) -> dict[str, Any] | None:
    """A daemon's or worker's connection pool (PostgreSQL): its bound, and how often and how
    long a transaction waited for a free connection (both should stay 0)."""
    if daemon.get("pool_size") is None:
        return None
    return {"size": int(daemon["pool_size"]), "waits": int(daemon.get("pool_waits") or 0),
            "wait_seconds": float(daemon.get("pool_wait_s") or 0.0)}


def pool_text(daemon: Row) -> str:
    pool = pool_json(daemon)
    if pool is None:
        return ""
    return f"{pool['size']} max, {pool['waits']} waits ({pool['wait_seconds']:g} s)"


def not_ticking(daemons: list[Row], db_now: datetime, stale_after: timedelta) -> str:
    """The problem when no live daemon has reported a tick recently (on the database's clock:
    ``ticked_at``). It gives the heartbeat's age apart: a daemon that heartbeats while its
    ticks fail shows as one."""
    within = f"no daemon has ticked within {format_duration(stale_after)}"
    ticked = [d for d in daemons if d.get("ticked_at") is not None]
    if not ticked:
        return f"{within} (no daemon has ever ticked)"
    last = max(ticked, key=lambda d: d["ticked_at"])
    tick_age = format_duration(max(db_now - last["ticked_at"], timedelta(0)))
    heartbeat_age = format_duration(max(db_now - last["heartbeat_at"], timedelta(0)))
    return (f"{within} (last tick {iso_utc(last['last_tick_at'])}, reported {tick_age} ago on "
            f"the database's clock; that daemon's last heartbeat {heartbeat_age} ago)")


def health(store: Store, now: datetime, *, overdue_after: timedelta,
           stale_after: timedelta) -> Health:
    with store.read() as tx:
        daemons = tx.list_daemons()
        counts = tx.run_status_counts()
        overdue_rows = tx.overdue_schedules(now, 1)
        troubled = tx.troubled_schedules(5)
        db_now = tx.db_now()
        failing = failing_targets(tx)
    report = Health(now, daemons, counts.get("queued", 0), counts.get("running", 0),
                    overdue_rows[0] if overdue_rows else None, db_now=db_now)
    # A daemon's heartbeat stamps, on the database's clock, when it first reports a new tick
    # (ticked_at): ages are read on that clock, never on this host's or the daemon's. A fresh
    # heartbeat alone is not enough: a daemon whose ticks fail keeps heartbeating while it
    # backs off (docs/design.md §8.2, §9). `now` (maybe --now) only dates the schedules.
    live = [d for d in daemons if d.get("stopped_at") is None]
    ticking = [d for d in live if d.get("ticked_at") is not None
               and db_now - d["ticked_at"] <= stale_after]
    if not ticking:
        report.problems.append(not_ticking(daemons, db_now, stale_after))
    for row in troubled:
        report.problems.append(f"{row['workflow_id']}: {row['status_reason']}")
    report.problems.extend(failing)
    if report.overdue is not None:
        late = now - report.overdue["next_fire_at"]
        if late > overdue_after:
            report.problems.append(
                f"{report.overdue['workflow_id']} is overdue by {format_duration(late)} "
                f"(due {iso_utc(report.overdue['next_fire_at'])})")
    return report
