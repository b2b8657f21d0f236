"""Retention: ``clockwf prune`` removes history older than an age (docs/design.md §8, issue 5).

Finished runs (by ``finished_at``) and their step attempts, skip records (by their last
occurrence) and one-time schedules that completed or were missed go; a queued or running run
never does. One transaction: it all goes or nothing does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from clockwf.errors import InvalidInput
from clockwf.store.base import Store
from clockwf.timeutil import format_duration, iso_utc

log = logging.getLogger("clockwf.retention")


@dataclass(frozen=True)
class PruneReport:
    dry_run: bool
    before: datetime
    deleted: dict[str, int]   # step_attempts, runs, skips, schedules, notification_deliveries,
                              # notifications (would be, when dry_run)

    def as_json(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "before": iso_utc(self.before),
                "deleted": dict(self.deleted)}


def prune(store: Store, *, older_than: timedelta, now: datetime,
          dry_run: bool = False) -> PruneReport:
    """Delete what finished more than ``older_than`` before ``now`` (count it when
    ``dry_run``)."""
    if older_than <= timedelta(0):
        raise InvalidInput("--older-than must be longer than 0s (it keeps what is younger)")
    before = (now.astimezone(UTC) - older_than).replace(microsecond=0)
    with store.transaction() as tx:
        deleted = tx.prune(before=before, dry_run=dry_run)
    if not dry_run:
        log.info("pruned history older than %s (before %s): %s", format_duration(older_than),
                 iso_utc(before), ", ".join(f"{n} {kind}" for kind, n in deleted.items()),
                 extra={"action": "prune.done", "before": iso_utc(before), **{
                     f"deleted_{kind}": n for kind, n in deleted.items()}})
    return PruneReport(dry_run, before, deleted)
