"""What every group of store operations stands on: the open transaction's connector and
namespace (:class:`TxBase`), and the columns of the bulk writes. The operations themselves are
grouped by area in ``tx_*.py`` and joined in :class:`clockwf.store.manager.Tx`."""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from clockwf.store.common import Connector

BATCH_SIZE = 1000  # rows per bulk statement

RUN_COLUMNS = ("fire_key", "workflow_id", "workflow_version", "trigger_type", "scheduled_for",
               "due_at", "status", "serial", "payload", "metadata", "created_at")
SKIP_COLUMNS = ("workflow_id", "fire_key", "scheduled_for", "scheduled_until", "occurrences",
                "reason", "detail", "recorded_at")
ADVANCE_COLUMNS = ("workflow_id", "next_nominal_at", "next_fire_at", "status", "status_reason",
                   "last_fire_key", "last_fired_at", "updated_at", "next_kind", "launched")
run_values = attrgetter(*RUN_COLUMNS)
skip_values = attrgetter(*SKIP_COLUMNS)
advance_values = attrgetter(*ADVANCE_COLUMNS)
by_fire_key = attrgetter("fire_key")
by_workflow_id = attrgetter("workflow_id")

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


class TxBase:
    """One open transaction of either backend, confined to namespace ``ns``."""

    def __init__(self, db: Connector, ns: str) -> None:
        self.db = db
        self.ns = ns

    def _p(self, **params: Any) -> dict[str, Any]:
        params["ns"] = self.ns
        return params
