"""Namespaces (docs/design.md §4.1): nothing in one namespace is visible from, or changed by, another."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from clockwf.store import Store
from clockwf.store.base import NewRun, NewSkip, ScheduleAdvance
from clockwf.store.common import schema_tables

T0 = datetime(2027, 1, 1, tzinfo=UTC)
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
FAR = datetime(2100, 1, 1, tzinfo=UTC)


def populate(store: Store) -> dict[str, int]:
    """One row in every table of the store's namespace; returns the run ids."""
    with store.transaction() as tx:
        tx.upsert_workflow(workflow_id="wf", name="x", current_version=1,
                           trigger_type="recurring", event_name=None, now=T0)
        tx.upsert_workflow(workflow_id="ev", name=None, current_version=1,
                           trigger_type="event", event_name="e", now=T0)
        tx.insert_version(workflow_id="wf", version=1, content_hash="h", definition="{}",
                          source="", source_path=None, published_at=T0)
        tx.upsert_schedule({"workflow_id": "wf", "version": 1, "trigger_type": "recurring",
                            "cron": "* * * * *", "timezone": "UTC", "status": "scheduled",
                            "next_fire_at": T0, "updated_at": T0})
        tx.upsert_schedule({"workflow_id": "once", "version": 1, "trigger_type": "schedule",
                            "timezone": "UTC", "status": "completed", "updated_at": LONG_AGO})
        tx.bump_changes()
        runs = tx.insert_runs([
            NewRun(fire_key=k, workflow_id="wf", workflow_version=1, trigger_type="recurring",
                   payload="{}", metadata="{}", created_at=LONG_AGO)
            for k in ("running", "done", "expired", "queued")])
        tx.insert_skips([NewSkip("wf", "skipped", LONG_AGO, LONG_AGO, 1, "paused", None,
                                 LONG_AGO)])
        tx.heartbeat(instance_id="d1", hostname="h", pid=1, role="daemon", version="0",
                     started_at=T0, last_tick_at=T0, status=None)
    with store.transaction() as tx:
        assert len(tx.claim_runs(owner="w", now=T0, lease_seconds=86400, limit=3)) == 3
        tx.finish_run(runs["done"], owner="w", status="succeeded", error=None, now=LONG_AGO)
        tx.renew_leases(owner="w", run_ids=[runs["expired"]], lease_seconds=-86400)
        tx.insert_step_attempt(run_id=runs["running"], step_index=0, attempt=1, step_id="s",
                               kind="run", started_at=T0)
    return runs


def dump(store: Store, runs: dict[str, int]) -> dict[str, Any]:
    """Everything a namespace holds, as read through the contract."""
    with store.read() as tx:
        return {
            "workflows": tx.list_workflows(),
            "versions": tx.list_versions("wf"),
            "schedules": [tx.get_schedule("wf"), tx.get_schedule("once")],
            "counter": tx.change_counter(),
            "runs": tx.list_runs(limit=100),
            "skips": tx.skips_between("wf", LONG_AGO, FAR),
            "daemons": tx.list_daemons(),
            "steps": tx.list_step_attempts(runs["running"]),
        }


def test_every_table_is_keyed_by_namespace(store: Store) -> None:
    """Every table but the migration record carries the namespace, so every query can be
    confined to it (a new table without one fails here)."""
    tables = schema_tables(store.backend) - {"clockwf_migrations"}
    assert tables == {"workflows", "workflow_versions", "schedules", "change_counters", "runs",
                      "skipped_occurrences", "daemons", "run_steps",
                      # alerts
                      "workflow_health", "notify_defaults", "notifications",
                      "notification_deliveries",
                      # web
                      "api_tokens"}
    with store.read() as tx:
        db = tx.db  # type: ignore[attr-defined]
        assert tables <= {r["name"] for r in db.all("existing_tables", {})}
        columns: dict[str, set[str]] = {}
        for table in tables:
            # test-only SQL: the column names of each table
            if store.backend == "sqlite":
                rows = db.conn.execute(f"PRAGMA table_info({table})").fetchall()
            else:
                rows = db.conn.execute(
                    "SELECT column_name AS name FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND table_name = %s",
                    (table,)).fetchall()
            columns[table] = {r["name"] for r in rows}
    assert all("namespace" in cols for cols in columns.values()), columns


def test_nothing_crosses_namespaces(open_stores: Callable[..., Store]) -> None:
    mine = open_stores()
    other = open_stores("someone-else")
    runs = populate(mine)
    before = dump(mine, runs)
    assert before["counter"] == 1 and len(before["runs"]) == 4 and before["steps"]

    with other.transaction() as tx:  # nothing is visible ...
        assert tx.get_workflow("wf") is None
        assert tx.list_workflows() == []
        assert tx.workflows_for_event("e") == []
        assert tx.max_version("wf") is None and tx.get_version("wf", 1) is None
        assert tx.list_versions("wf") == []
        assert tx.get_schedule("wf") is None
        assert tx.change_counter() == 0
        assert tx.claim_due(FAR, 10) == [] and tx.earliest_due() is None
        assert tx.overdue_schedules(FAR, 10) == []
        assert tx.active_runs(["wf"]) == []
        assert all(tx.get_run(i) is None for i in runs.values())
        assert tx.runs_by_fire_keys(list(runs)) == []
        assert tx.list_runs() == [] and tx.list_runs(workflow_id="wf") == []
        assert tx.skips_between("wf", LONG_AGO, FAR) == []
        assert tx.list_daemons() == [] and tx.run_status_counts() == {}
        assert tx.list_step_attempts(runs["running"]) == []
        assert tx.prune(before=FAR, dry_run=True) == dict.fromkeys(
            ("step_attempts", "runs", "skips", "schedules", "notification_deliveries",
             "notifications"), 0)
        # ... and nothing is changed from there
        assert not tx.set_workflow_paused("wf", paused=True, note=None, now=T0)
        assert not tx.set_schedule_state("wf", status="paused", status_reason=None,
                                         next_nominal_at=None, next_fire_at=None,
                                         paused_at=None, now=T0)
        assert not tx.delete_schedule("wf") and not tx.delete_workflow("wf")
        tx.advance_schedules([ScheduleAdvance("wf", FAR, FAR, "completed", None, None, None,
                                              T0)])
        tx.request_cancel(list(runs.values()), reason="no", now=T0)
        assert tx.renew_leases(owner="w", run_ids=list(runs.values()), lease_seconds=60) == []
        assert not tx.finish_run(runs["running"], owner=None, status="failed", error=None,
                                 now=T0)
        assert tx.claim_runs(owner="w2", now=T0, lease_seconds=60, limit=10) == []
        assert tx.expire_leases() == []
        tx.finish_step_attempt(run_id=runs["running"], step_index=0, attempt=1,
                               status="failed", finished_at=T0, duration_ms=1, exit_code=1,
                               http_status=None, output=None, error=None)
        tx.mark_daemon_stopped("d1", T0)
        assert tx.prune(before=FAR, dry_run=False) == dict.fromkeys(
            ("step_attempts", "runs", "skips", "schedules", "notification_deliveries",
             "notifications"), 0)
        # the same names and keys are free in this namespace
        tx.upsert_workflow(workflow_id="wf", name="theirs", current_version=7,
                           trigger_type="manual", event_name=None, now=T0)
        assert set(tx.insert_runs([NewRun(fire_key="queued", workflow_id="wf",
                                          workflow_version=7, trigger_type="manual",
                                          payload="{}", metadata="{}",
                                          created_at=T0)])) == {"queued"}
        tx.insert_skips([NewSkip("wf", "skipped", LONG_AGO, LONG_AGO, 1, "paused", None, T0)])
        tx.bump_changes()

    assert dump(mine, runs) == before
    with mine.read() as tx:
        assert tx.change_counter() == 1
    with other.read() as tx:
        assert [r["fire_key"] for r in tx.list_runs()] == ["queued"]
        assert tx.change_counter() == 1


def test_wait_for_change_ignores_other_namespaces(open_stores: Callable[..., Store]) -> None:
    mine = open_stores()
    other = open_stores("someone-else")
    with other.transaction() as tx:
        tx.bump_changes()
    started = datetime.now(UTC)
    assert mine.wait_for_change(0, 0.3) == 0
    assert datetime.now(UTC) - started >= timedelta(seconds=0.25)
