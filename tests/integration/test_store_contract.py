"""The store contract (clockwf/store/base.py), one suite run against SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from clockwf.errors import StoreError
from clockwf.store import Store
from clockwf.store.base import NewRun, NewSkip, PoolStats, ScheduleAdvance
from clockwf.store.manager import Tx

T0 = datetime(2027, 3, 14, 7, 0, tzinfo=UTC)


def db_now(store: Store) -> datetime:
    """The database's clock, which leases and heartbeats read."""
    with store.read() as tx:
        return tx.db_now()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def add_workflow(tx: Tx, wid: str, *, trigger: str = "recurring", event: str | None = None,
                 version: int = 1, now: datetime = T0) -> None:
    tx.upsert_workflow(workflow_id=wid, name=f"name of {wid}", current_version=version,
                       trigger_type=trigger, event_name=event, now=now)


def schedule_row(wid: str, next_fire_at: datetime | None, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "workflow_id": wid, "version": 1, "trigger_type": "recurring", "cron": "0 * * * *",
        "timezone": "UTC", "status": "scheduled", "next_nominal_at": next_fire_at,
        "next_fire_at": next_fire_at, "updated_at": T0,
    }
    row.update(extra)
    return row


def new_run(key: str, wid: str = "wf", *, serial: bool = False, created: datetime = T0,
            trigger: str = "recurring", scheduled_for: datetime | None = T0) -> NewRun:
    return NewRun(fire_key=key, workflow_id=wid, workflow_version=1, trigger_type=trigger,
                  payload='{"schema": "WorkflowClockTrigger.v1"}', metadata='{"lag_ms": 3}',
                  created_at=created, scheduled_for=scheduled_for, due_at=scheduled_for,
                  serial=serial)


def make_runs(store: Store, *runs: NewRun) -> list[int]:
    with store.transaction() as tx:
        created = tx.insert_runs(runs)
    return [created[r.fire_key] for r in runs]


def claim(store: Store, *, owner: str = "w1", now: datetime = T0, lease_s: float = 60,
          limit: int = 10) -> list[int]:
    with store.transaction() as tx:
        rows = tx.claim_runs(owner=owner, now=now, lease_seconds=lease_s, limit=limit)
    return [r["run_id"] for r in rows]


# -- definitions and versions ------------------------------------------------------------------

def test_workflow_upsert_keeps_created_at_and_pause(store: Store) -> None:
    with store.transaction() as tx:
        tx.lock_workflow("wf")
        assert tx.get_workflow("wf") is None
        add_workflow(tx, "wf")
        assert tx.set_workflow_paused("wf", paused=True, note="maintenance", now=at(5))
        add_workflow(tx, "wf", trigger="event", event="invoice.created", version=2, now=at(10))
        row = tx.get_workflow("wf")
    assert row is not None
    assert row["namespace"] == store.ns
    assert (row["name"], row["current_version"], row["trigger_type"], row["event_name"]) == \
        ("name of wf", 2, "event", "invoice.created")
    assert row["created_at"] == T0 and row["updated_at"] == at(10)
    assert row["paused"] and row["pause_note"] == "maintenance" and row["paused_at"] == at(5)


def test_set_workflow_paused(store: Store) -> None:
    with store.transaction() as tx:
        assert not tx.set_workflow_paused("missing", paused=True, note=None, now=T0)
        add_workflow(tx, "wf")
        assert tx.set_workflow_paused("wf", paused=True, note="why", now=at(1))
        paused = tx.get_workflow("wf")
        assert tx.set_workflow_paused("wf", paused=False, note=None, now=at(2))
        resumed = tx.get_workflow("wf")
    assert paused is not None and resumed is not None
    assert paused["paused"] and paused["paused_at"] == at(1) and paused["pause_note"] == "why"
    assert not resumed["paused"] and resumed["paused_at"] is None
    assert resumed["pause_note"] is None and resumed["updated_at"] == at(2)


def test_versions(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.max_version("wf") is None
        for v in (1, 2):
            tx.insert_version(workflow_id="wf", version=v, content_hash=f"h{v}",
                              definition=f'{{"v": {v}}}', source=f"id: wf  # {v}\n",
                              source_path=None if v == 1 else "wf.yaml", published_at=at(v),
                              published_from=None if v == 1 else "git.example.com/x.git")
        assert tx.max_version("wf") == 2
        got = tx.get_version("wf", 2)
        listed = tx.list_versions("wf")
        assert tx.get_version("wf", 3) is None
    assert got is not None
    assert (got["content_hash"], got["definition"], got["source"], got["source_path"],
            got["published_at"]) == ("h2", '{"v": 2}', "id: wf  # 2\n", "wf.yaml", at(2))
    assert listed == [
        {"version": 2, "content_hash": "h2", "source_path": "wf.yaml",
         "published_from": "git.example.com/x.git", "published_at": at(2)},
        {"version": 1, "content_hash": "h1", "source_path": None, "published_from": None,
         "published_at": at(1)},
    ]


def test_duplicate_version_is_a_store_error(store: Store) -> None:
    def insert(tx: Tx) -> None:
        tx.insert_version(workflow_id="wf", version=1, content_hash="h", definition="{}",
                          source="", source_path=None, published_at=T0)

    with store.transaction() as tx:
        insert(tx)
    with pytest.raises(StoreError) as info, store.transaction() as tx:
        insert(tx)
    assert type(info.value) is StoreError  # mapped, and not "unavailable"


def test_delete_workflow_keeps_versions_and_runs(store: Store) -> None:
    with store.transaction() as tx:
        add_workflow(tx, "wf")
        tx.insert_version(workflow_id="wf", version=1, content_hash="h", definition="{}",
                          source="", source_path=None, published_at=T0)
        tx.upsert_schedule(schedule_row("wf", at(60)))
    [run_id] = make_runs(store, new_run("recurring:wf:1"))
    with store.transaction() as tx:
        assert tx.delete_workflow("wf")
        assert not tx.delete_workflow("wf")
        assert tx.get_workflow("wf") is None and tx.get_schedule("wf") is None
        assert tx.max_version("wf") == 1
        assert tx.get_run(run_id) is not None


def test_list_workflows_and_filters(store: Store) -> None:
    with store.transaction() as tx:
        add_workflow(tx, "b-recurring")
        tx.upsert_schedule(schedule_row("b-recurring", at(60)))
        add_workflow(tx, "a-manual", trigger="manual")
        add_workflow(tx, "c-event", trigger="event", event="invoice.created")
        add_workflow(tx, "d-once", trigger="schedule")
        tx.upsert_schedule(schedule_row("d-once", None, trigger_type="schedule", cron=None,
                                        run_at=at(30), status="completed"))
        tx.set_workflow_paused("c-event", paused=True, note=None, now=T0)

    def ids(**kw: Any) -> list[str]:
        with store.read() as tx:
            return [r["workflow_id"] for r in tx.list_workflows(**kw)]

    assert ids() == ["a-manual", "b-recurring", "c-event", "d-once"]
    assert ids(trigger_types=["schedule", "recurring"]) == ["b-recurring", "d-once"]
    assert ids(trigger_types=[]) == []
    assert ids(status="paused") == ["c-event"]
    assert ids(status="active") == ["a-manual", "b-recurring", "d-once"]
    assert ids(status="completed") == ["d-once"]
    assert ids(status="scheduled", trigger_types=["recurring"]) == ["b-recurring"]
    with store.read() as tx:
        row = tx.list_workflows(trigger_types=["recurring"])[0]
    assert row["schedule_status"] == "scheduled" and row["cron"] == "0 * * * *"
    assert row["next_fire_at"] == at(60) and row["timezone"] == "UTC"
    assert {"current_version", "paused", "next_nominal_at", "last_fire_key", "last_fired_at",
            "run_at"} <= set(row)


def test_workflows_for_event(store: Store) -> None:
    with store.transaction() as tx:
        add_workflow(tx, "a", trigger="event", event="invoice.created")
        add_workflow(tx, "b", trigger="event", event="invoice.created")
        add_workflow(tx, "c", trigger="event", event="other")
        add_workflow(tx, "d", trigger="event", event="invoice.created")
        tx.set_workflow_paused("d", paused=True, note=None, now=T0)
        assert [r["workflow_id"] for r in tx.workflows_for_event("invoice.created")] == \
            ["a", "b"]
        assert tx.workflows_for_event("nothing") == []


# -- schedule state ----------------------------------------------------------------------------

def test_upsert_schedule_defaults_and_replace(store: Store) -> None:
    with store.transaction() as tx:
        tx.upsert_schedule(schedule_row("wf", at(60), next_kind="gap_shifted"))
        first = tx.get_schedule("wf")
        assert first is not None
        assert (first["dst_gap"], first["dst_fold"], first["jitter_s"], first["catchup"],
                first["catchup_window_s"], first["grace_s"], first["max_catchup"],
                first["overlap"]) == ("run_after", "once", 0, "latest", 86400, 60, 100, "allow")
        assert first["created_at"] == T0 and first["next_kind"] == "gap_shifted"
        # a whole row read back may be given again, changed
        row = dict(first)
        row.update(overlap="skip", version=2, updated_at=at(5), created_at=at(5))
        tx.upsert_schedule(row)
        second = tx.get_schedule("wf")
        # replace: what is left out goes back to its default; created_at is kept
        tx.upsert_schedule(schedule_row("wf", at(120), updated_at=at(9)))
        third = tx.get_schedule("wf")
    assert second is not None and third is not None
    assert second["overlap"] == "skip" and second["version"] == 2
    assert second["created_at"] == T0 and second["updated_at"] == at(5)
    assert third["overlap"] == "allow" and third["next_kind"] is None
    assert third["next_fire_at"] == at(120) and third["created_at"] == T0


def test_upsert_schedule_refuses_bad_rows(store: Store) -> None:
    with pytest.raises(StoreError, match="unknown columns"), store.transaction() as tx:
        tx.upsert_schedule(schedule_row("wf", T0, colour="blue"))
    with pytest.raises(StoreError, match="missing columns"), store.transaction() as tx:
        tx.upsert_schedule({"workflow_id": "wf"})
    with pytest.raises(StoreError, match="another namespace"), store.transaction() as tx:
        tx.upsert_schedule(schedule_row("wf", T0, namespace="someone-else"))


def test_set_and_delete_schedule(store: Store) -> None:
    with store.transaction() as tx:
        assert not tx.set_schedule_state("wf", status="paused", status_reason=None,
                                         next_nominal_at=None, next_fire_at=None,
                                         paused_at=None, now=T0)
        tx.upsert_schedule(schedule_row("wf", at(60)))
        assert tx.set_schedule_state("wf", status="paused", status_reason="note",
                                     next_nominal_at=at(60), next_fire_at=at(61),
                                     paused_at=at(1), now=at(2), next_kind="fold_first")
        row = tx.get_schedule("wf")
        assert row is not None
        assert (row["status"], row["status_reason"], row["next_nominal_at"], row["next_fire_at"],
                row["paused_at"], row["updated_at"], row["next_kind"]) == \
            ("paused", "note", at(60), at(61), at(1), at(2), "fold_first")
        assert tx.delete_schedule("wf")
        assert not tx.delete_schedule("wf")
        assert tx.get_schedule("wf") is None


def test_change_counter(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.change_counter() == 0
        tx.bump_changes()
        tx.bump_changes()
    with store.read() as tx:
        assert tx.change_counter() == 2


# -- scheduling --------------------------------------------------------------------------------

def test_claim_due_earliest_due_and_overdue(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.earliest_due() is None and tx.claim_due(T0, 10) == []
        tx.upsert_schedule(schedule_row("late", at(-30)))
        tx.upsert_schedule(schedule_row("b-now", T0))
        tx.upsert_schedule(schedule_row("a-now", T0))
        tx.upsert_schedule(schedule_row("future", at(30)))
        tx.upsert_schedule(schedule_row("paused", at(-60), status="paused"))
        tx.upsert_schedule(schedule_row("done", None, status="completed"))
        tx.upsert_schedule(schedule_row("no-next", None))
    with store.transaction() as tx:
        assert [r["workflow_id"] for r in tx.claim_due(T0, 10)] == ["late", "a-now", "b-now"]
        assert [r["workflow_id"] for r in tx.claim_due(T0, 2)] == ["late", "a-now"]
        page = tx.claim_due(T0, 10, after=(T0, "a-now"))
        assert [r["workflow_id"] for r in page] == ["b-now"]
        assert tx.claim_due(T0, 10, after=(T0, "b-now")) == []
        assert tx.earliest_due() == at(-30)
        assert [r["workflow_id"] for r in tx.overdue_schedules(T0, 2)] == ["late", "a-now"]
        row = tx.claim_due(at(30), 10)[-1]
    assert row["workflow_id"] == "future" and row["cron"] == "0 * * * *"


def test_insert_runs_creates_in_fire_key_order(store: Store) -> None:
    """A consistent order: racing transactions wait on each other's keys in the same order."""
    created = make_runs(store, new_run("recurring:b:2"), new_run("recurring:a:9"),
                        new_run("recurring:b:1"))
    assert created[1] < created[2] < created[0]


def test_insert_runs_is_idempotent(store: Store) -> None:
    runs = [new_run(f"recurring:wf:{i}", created=at(i)) for i in range(3)]
    with store.transaction() as tx:
        first = tx.insert_runs(runs)
    assert sorted(first) == [r.fire_key for r in runs]
    assert len(set(first.values())) == 3
    with store.transaction() as tx:
        assert tx.insert_runs(runs) == {}
        again = tx.insert_runs([runs[0], new_run("recurring:wf:9"), new_run("recurring:wf:9")])
    assert list(again) == ["recurring:wf:9"]
    with store.read() as tx:
        rows = tx.runs_by_fire_keys([runs[2].fire_key, "recurring:wf:9", "nope"])
    assert [r["fire_key"] for r in rows] == [runs[2].fire_key, "recurring:wf:9"]


def test_insert_runs_in_many_batches(store: Store) -> None:
    runs = [new_run(f"manual:wf:{i:05d}", trigger="manual", scheduled_for=None)
            for i in range(2500)]
    with store.transaction() as tx:
        created = tx.insert_runs(runs)
        assert tx.insert_runs(runs[1000:1500]) == {}
    assert len(created) == 2500 and len(set(created.values())) == 2500


def test_insert_runs_reports_the_ids_it_created(store: Store,
                                                open_stores: Callable[..., Store]) -> None:
    """The ids returned are the stored ones, whatever else the runs table holds: runs of another
    namespace created before and after, and the highest runs deleted (ids are never reused)."""
    neighbour = open_stores(store.ns + "-other")
    make_runs(neighbour, *[new_run(f"manual:n:{i}", "n", trigger="manual") for i in range(5)])
    first = make_runs(store, new_run("recurring:wf:1"), new_run("recurring:wf:2"))
    make_runs(neighbour, new_run("manual:n:9", "n", trigger="manual"))
    with store.transaction() as tx:   # the newest runs finish and are pruned
        tx.claim_runs(owner="w1", now=T0, lease_seconds=60, limit=10)
        for run_id in first:
            tx.finish_run(run_id, owner="w1", status="succeeded", error=None, now=T0)
        assert tx.prune(before=at(1), dry_run=False)["runs"] == 2
    with store.transaction() as tx:
        created = tx.insert_runs([new_run("recurring:wf:3"), new_run("recurring:wf:1"),
                                  new_run("manual:n:0", trigger="manual")])
    with store.read() as tx:
        stored = {r["fire_key"]: r["run_id"] for r in tx.runs_by_fire_keys(list(created))}
    assert created == stored and len(created) == 3
    assert min(created.values()) > max(first)


def test_run_round_trip(store: Store) -> None:
    created = at(0.123456)
    run = NewRun(fire_key="schedule:wf:x", workflow_id="wf", workflow_version=3,
                 trigger_type="schedule", payload='{"a": [1, "é"]}', metadata='{"m": null}',
                 created_at=created, scheduled_for=at(-1), due_at=at(-0.5), serial=True)
    [run_id] = make_runs(store, run)
    with store.read() as tx:
        row = tx.get_run(run_id)
        assert tx.get_run(run_id + 1000) is None
    assert row is not None
    assert (row["fire_key"], row["workflow_id"], row["workflow_version"], row["trigger_type"],
            row["payload"], row["metadata"], row["created_at"], row["scheduled_for"],
            row["due_at"], row["status"]) == (
        "schedule:wf:x", "wf", 3, "schedule", '{"a": [1, "é"]}', '{"m": null}', created,
        at(-1), at(-0.5), "queued")
    assert row["serial"] and not row["cancel_requested"]
    assert row["started_at"] is None and row["lease_owner"] is None


def test_insert_skips_and_skips_between(store: Store) -> None:
    def skip(key: str, start: datetime, end: datetime, reason: str = "coalesced") -> NewSkip:
        return NewSkip(workflow_id="wf", fire_key=key, scheduled_for=start, scheduled_until=end,
                       occurrences=3, reason=reason, detail="missed while down",
                       recorded_at=T0)

    with store.transaction() as tx:
        tx.insert_skips([skip("k1", at(0), at(120)), skip("k2", at(300), at(300), "paused")])
        tx.insert_skips([skip("k1", at(0), at(999))])        # same (fire_key, reason): ignored
        tx.insert_skips([skip("k1", at(0), at(0), "overlap")])  # another reason: kept
        tx.insert_skips([])

    def keys(start: float, end: float) -> list[tuple[str, str]]:
        with store.read() as tx:
            return [(r["fire_key"], r["reason"])
                    for r in tx.skips_between("wf", at(start), at(end))]

    assert keys(60, 60) == [("k1", "coalesced")]
    assert keys(-10, 0) == [("k1", "coalesced"), ("k1", "overlap")]
    assert keys(121, 299) == []
    assert keys(120, 300) == [("k1", "coalesced"), ("k2", "paused")]
    with store.read() as tx:
        row = tx.skips_between("wf", at(60), at(60))[0]
        assert tx.skips_between("other", at(0), at(1000)) == []
    assert (row["scheduled_until"], row["occurrences"], row["detail"], row["recorded_at"]) == \
        (at(120), 3, "missed while down", T0)


def test_advance_schedules(store: Store) -> None:
    with store.transaction() as tx:
        for wid in ("a", "b", "c"):
            tx.upsert_schedule(schedule_row(wid, T0, last_fire_key="old", last_fired_at=at(-60)))
        tx.advance_schedules([
            ScheduleAdvance("a", at(3600), at(3605), "scheduled", None, "recurring:a:1", at(1),
                            at(2), next_kind="gap_shifted"),
            ScheduleAdvance("b", None, None, "completed", "fired once", None, None, at(2)),
        ])
        tx.advance_schedules([])
        a, b, c = (tx.get_schedule(w) for w in ("a", "b", "c"))
    assert a is not None and b is not None and c is not None
    assert (a["next_nominal_at"], a["next_fire_at"], a["status"], a["last_fire_key"],
            a["last_fired_at"], a["updated_at"], a["next_kind"]) == (
        at(3600), at(3605), "scheduled", "recurring:a:1", at(1), at(2), "gap_shifted")
    assert (b["next_fire_at"], b["status"], b["status_reason"], b["last_fire_key"],
            b["last_fired_at"]) == (None, "completed", "fired once", "old", at(-60))
    assert c["next_fire_at"] == T0 and c["updated_at"] == T0


def test_advance_many_schedules_in_batches(store: Store) -> None:
    wids = [f"wf{i:04d}" for i in range(1200)]
    with store.transaction() as tx:
        for wid in wids:
            tx.upsert_schedule(schedule_row(wid, T0))
        tx.advance_schedules([ScheduleAdvance(w, at(60), at(60), "scheduled", None, f"k:{w}",
                                              T0, T0) for w in wids])
        assert tx.claim_due(at(59), 10) == []
        assert len(tx.claim_due(at(60), 2000)) == 1200


def test_active_runs_and_request_cancel(store: Store) -> None:
    queued, running, done, other = make_runs(
        store, new_run("k1"), new_run("k2"), new_run("k3"), new_run("k4", "other"))
    with store.transaction() as tx:
        tx.claim_runs(owner="w1", now=T0, lease_seconds=60, limit=1)  # k1
        assert tx.finish_run(queued, owner="w1", status="succeeded", error=None, now=at(1))
        tx.claim_runs(owner="w1", now=T0, lease_seconds=60, limit=1)  # k2
    queued, running, done = done, running, queued
    with store.transaction() as tx:
        active = tx.active_runs(["wf", "nothing"])
        assert tx.active_runs([]) == []
        tx.request_cancel([queued, running, done], reason="cancelled by a test", now=at(5))
        tx.request_cancel([], reason="nothing", now=at(5))
        q, r, d = (tx.get_run(i) for i in (queued, running, done))
        renewed = tx.renew_leases(owner="w1", run_ids=[running], lease_seconds=120)
    assert [(a["run_id"], a["status"]) for a in active] == [(running, "running"),
                                                            (queued, "queued")]
    assert q is not None and r is not None and d is not None
    assert (q["status"], q["finished_at"], q["error"]) == ("cancelled", at(5),
                                                           "cancelled by a test")
    assert r["status"] == "running" and r["cancel_requested"]
    assert d["status"] == "succeeded" and not d["cancel_requested"] and d["error"] is None
    assert renewed == [running]
    with store.transaction() as tx:
        assert tx.finish_run(running, owner="w1", status="cancelled", error=None, now=at(9))
        row = tx.get_run(running)
    assert row is not None and row["error"] == "cancelled by a test"
    assert other


def test_list_runs(store: Store) -> None:
    ids = make_runs(store, new_run("k1", "a", created=at(0)),
                    new_run("k2", "b", created=at(10), trigger="manual"),
                    new_run("k3", "a", created=at(20)), new_run("k4", "a", created=at(30)))
    claim(store, limit=1)

    def listed(**kw: Any) -> list[int]:
        with store.read() as tx:
            return [r["run_id"] for r in tx.list_runs(**kw)]

    assert listed() == ids[::-1]
    assert listed(limit=2) == [ids[3], ids[2]]
    assert listed(workflow_id="a") == [ids[3], ids[2], ids[0]]
    assert listed(workflow_id="a", limit=1) == [ids[3]]
    assert listed(trigger_type="manual") == [ids[1]]
    assert listed(status="running") == [ids[0]]
    assert listed(workflow_id="a", status="queued") == [ids[3], ids[2]]
    assert listed(since=at(10)) == [ids[3], ids[2], ids[1]]
    assert listed(workflow_id="a", since=at(25), trigger_type="recurring") == [ids[3]]
    assert listed(workflow_id="nobody") == []


def test_daemons(store: Store) -> None:
    def beat(tx: Tx, tick: datetime | None, status: str | None) -> None:
        tx.heartbeat(instance_id="host:1", hostname="host", pid=1, role="daemon",
                     version="0.1.0", started_at=T0, last_tick_at=tick, status=status)

    before = db_now(store)
    with store.transaction() as tx:
        beat(tx, at(1), "ticking")
        beat(tx, None, "idle")
    with store.transaction() as tx:
        tx.heartbeat(instance_id="host:2", hostname="host", pid=2, role="worker",
                     version="0.1.0", started_at=T0, last_tick_at=None, status=None,
                     pool=PoolStats(size=7, waits=2, wait_seconds=0.5))
        tx.mark_daemon_stopped("host:2", at(4))
        daemons = tx.list_daemons()
    after = db_now(store)
    assert [d["instance_id"] for d in daemons] == ["host:2", "host:1"]
    d2, d1 = daemons
    assert (d1["last_tick_at"], d1["status"], d1["stopped_at"]) == (at(1), "idle", None)
    # heartbeats are stamped by the database's clock, never a host's
    assert before <= d1["heartbeat_at"] <= d2["heartbeat_at"] <= after
    assert (d1["pool_size"], d1["pool_waits"], d1["pool_wait_s"]) == (None, None, None)
    assert (d2["pool_size"], d2["pool_waits"], d2["pool_wait_s"]) == (7, 2, 0.5)
    assert d2["stopped_at"] == at(4) and d2["role"] == "worker" and d2["pid"] == 2
    with store.transaction() as tx:  # a restarted instance is alive again
        tx.heartbeat(instance_id="host:2", hostname="host", pid=3, role="worker",
                     version="0.1.0", started_at=at(5), last_tick_at=None, status=None)
        row = next(d for d in tx.list_daemons() if d["instance_id"] == "host:2")
    assert row["stopped_at"] is None and row["pid"] == 3


def test_run_status_counts(store: Store) -> None:
    with store.read() as tx:
        assert tx.run_status_counts() == {}
    make_runs(store, new_run("k1"), new_run("k2"), new_run("k3"))
    claim(store, limit=1)
    with store.read() as tx:
        assert tx.run_status_counts() == {"queued": 2, "running": 1}


# -- execution ---------------------------------------------------------------------------------

def test_claim_runs_oldest_first_under_lease(store: Store) -> None:
    ids = make_runs(store, *(new_run(f"k{i}", f"wf{i}") for i in range(5)))
    before = db_now(store)
    assert claim(store, owner="w1", now=at(1), lease_s=30, limit=2) == ids[:2]
    after = db_now(store)
    with store.read() as tx:
        row = tx.get_run(ids[0])
    assert row is not None
    assert (row["status"], row["lease_owner"], row["started_at"]) == ("running", "w1", at(1))
    # the lease ends 30 s after the database's clock, whatever the ``now`` passed in
    assert before + timedelta(seconds=30) <= row["lease_expires_at"] <= \
        after + timedelta(seconds=30)
    assert claim(store, owner="w2", limit=10) == ids[2:]
    assert claim(store, owner="w3") == []


def test_claim_runs_serial_rule(store: Store) -> None:
    s1, s2, free, s3 = make_runs(store, new_run("k1", serial=True), new_run("k2", serial=True),
                                 new_run("k3", "other", serial=True),
                                 new_run("k4", serial=True))
    # only the oldest serial run of wf; the other workflow's is independent
    assert claim(store) == [s1, free]
    assert claim(store) == []  # s1 is running
    with store.transaction() as tx:
        assert tx.finish_run(s1, owner="w1", status="succeeded", error=None, now=at(1))
    assert claim(store) == [s2]
    with store.transaction() as tx:
        assert tx.finish_run(s2, owner=None, status="failed", error="exit 1", now=at(2))
    # a serial run also waits for an older, non-serial, queued run of its workflow
    [plain] = make_runs(store, new_run("k5"))
    with store.transaction() as tx:
        tx.request_cancel([s3], reason="test", now=at(3))
    [s4] = make_runs(store, new_run("k6", serial=True))
    assert claim(store, limit=1) == [plain]
    assert claim(store) == []  # plain is running
    with store.transaction() as tx:
        tx.finish_run(plain, owner="w1", status="succeeded", error=None, now=at(4))
    assert claim(store) == [s4]


def test_claim_run_claims_one_given_run(store: Store) -> None:
    first, second, done = make_runs(store, new_run("c1"), new_run("c2", "other"),
                                    new_run("c3", "third"))
    with store.transaction() as tx:
        tx.request_cancel([done], reason="test", now=at(1))
        row = tx.claim_run(second, owner="fg", now=at(2), lease_seconds=30)
        assert row is not None
        assert (row["run_id"], row["status"], row["lease_owner"], row["started_at"]) == \
            (second, "running", "fg", at(2))
        # the lease ends 30 s after the database's clock, not after the ``now`` passed in
        assert abs(row["lease_expires_at"] - tx.db_now() - timedelta(seconds=30)) < \
            timedelta(seconds=10)
        # not queued any more (running, cancelled) or not there: nothing
        assert tx.claim_run(second, owner="other", now=at(3), lease_seconds=30) is None
        assert tx.claim_run(done, owner="fg", now=at(3), lease_seconds=30) is None
        assert tx.claim_run(done + 100, owner="fg", now=at(3), lease_seconds=30) is None
    assert claim(store, owner="w1") == [first]


def test_claim_run_serial_rule(store: Store) -> None:
    s1, s2 = make_runs(store, new_run("s1", serial=True), new_run("s2", serial=True))
    with store.transaction() as tx:
        assert tx.claim_run(s2, owner="fg", now=at(1), lease_seconds=30) is None  # s1 older
        assert tx.claim_run(s1, owner="fg", now=at(1), lease_seconds=30) is not None
        assert tx.claim_run(s2, owner="fg", now=at(1), lease_seconds=30) is None  # s1 runs
        assert tx.finish_run(s1, owner="fg", status="succeeded", error=None, now=at(2))
        assert tx.claim_run(s2, owner="fg", now=at(3), lease_seconds=30) is not None


def test_renew_and_finish_respect_the_owner(store: Store) -> None:
    a, b = make_runs(store, new_run("a"), new_run("b", "other"))
    claim(store, owner="w1", lease_s=10)
    with store.transaction() as tx:
        b_lease = tx.get_run(b)["lease_expires_at"]  # type: ignore[index]
        assert tx.renew_leases(owner="w2", run_ids=[a, b], lease_seconds=500) == []
        assert tx.renew_leases(owner="w1", run_ids=[], lease_seconds=500) == []
        assert tx.renew_leases(owner="w1", run_ids=[a], lease_seconds=500) == []
        assert not tx.finish_run(a, owner="w2", status="succeeded", error=None, now=at(1))
        assert tx.finish_run(a, owner="w1", status="timed_out", error="10m", now=at(2))
        assert not tx.finish_run(a, owner="w1", status="succeeded", error=None, now=at(3))
        ra, rb = tx.get_run(a), tx.get_run(b)
    assert ra is not None and rb is not None
    assert (ra["status"], ra["error"], ra["finished_at"], ra["lease_owner"]) == \
        ("timed_out", "10m", at(2), "w1")
    assert rb["lease_expires_at"] == b_lease   # not ours: w2's renewal left it alone


def test_expire_leases(store: Store) -> None:
    a, b, c = make_runs(store, new_run("a"), new_run("b", "other"), new_run("c", "third"))
    claim(store, owner="dead", lease_s=10, limit=2)   # a, b
    claim(store, owner="alive", lease_s=100)          # c
    with store.transaction() as tx:
        tx.insert_step_attempt(run_id=a, step_index=0, attempt=1, step_id="build", kind="run",
                               started_at=at(1))
        tx.finish_step_attempt(run_id=a, step_index=0, attempt=1, status="failed",
                               finished_at=at(2), duration_ms=1000, exit_code=1,
                               http_status=None, output="boom", error="exit 1")
        tx.insert_step_attempt(run_id=a, step_index=0, attempt=2, step_id="build", kind="run",
                               started_at=at(3))
        assert tx.expire_leases() == []   # every lease ends in the future
        # the database's clock passes the dead owner's leases (renewed to end 1 s ago)
        tx.renew_leases(owner="dead", run_ids=[a, b], lease_seconds=-1)
    before = db_now(store)
    with store.transaction() as tx:
        assert tx.expire_leases() == [a, b]
        assert tx.expire_leases() == []
        ra, rc = tx.get_run(a), tx.get_run(c)
        steps = tx.list_step_attempts(a)
    after = db_now(store)
    assert ra is not None and rc is not None
    assert ra["status"] == "interrupted" and before <= ra["finished_at"] <= after and ra["error"]
    assert rc["status"] == "running"
    assert [(s["attempt"], s["status"]) for s in steps] == [(1, "failed"), (2, "interrupted")]


def test_step_attempts(store: Store) -> None:
    [run_id] = make_runs(store, new_run("k"))
    with store.transaction() as tx:
        tx.insert_step_attempt(run_id=run_id, step_index=1, attempt=1, step_id="notify",
                               kind="http", started_at=at(5))
        tx.insert_step_attempt(run_id=run_id, step_index=0, attempt=1, step_id="build",
                               kind="run", started_at=at(1))
        tx.finish_step_attempt(run_id=run_id, step_index=1, attempt=1, status="succeeded",
                               finished_at=at(6), duration_ms=1234, exit_code=None,
                               http_status=204, output="", error=None)
        steps = tx.list_step_attempts(run_id)
        assert tx.list_step_attempts(run_id + 1) == []
    assert [(s["step_index"], s["step_id"], s["kind"], s["status"]) for s in steps] == \
        [(0, "build", "run", "running"), (1, "notify", "http", "succeeded")]
    notify = steps[1]
    assert (notify["started_at"], notify["finished_at"], notify["duration_ms"],
            notify["http_status"], notify["exit_code"], notify["output"]) == \
        (at(5), at(6), 1234, 204, None, "")


def test_prune_never_touches_unfinished_runs(store: Store) -> None:
    old_done, old_queued, old_running, new_done = make_runs(
        store, new_run("k1-old-done", "a"), new_run("k2-old-queued", "b"),
        new_run("k3-old-running", "c"), new_run("k4-new-done", "d"))
    with store.transaction() as tx:
        claim_ids = [r["run_id"] for r in tx.claim_runs(owner="w", now=T0,
                                                           lease_seconds=10**6, limit=10)]
        assert claim_ids == [old_done, old_queued, old_running, new_done]
        tx.finish_run(old_done, owner="w", status="succeeded", error=None, now=at(10))
        tx.finish_run(new_done, owner="w", status="failed", error=None, now=at(1000))
        tx.request_cancel([old_queued], reason="x", now=at(10))  # running: only asked to stop
        tx.insert_step_attempt(run_id=old_done, step_index=0, attempt=1, step_id="s",
                               kind="run", started_at=at(1))
        tx.insert_step_attempt(run_id=old_running, step_index=0, attempt=1, step_id="s",
                               kind="run", started_at=at(1))
        tx.insert_skips([NewSkip("a", f"skip{i}", at(i * 100), at(i * 100), 1, "paused", None,
                                 at(2000)) for i in range(3)])
        tx.upsert_schedule(schedule_row("once-done", None, trigger_type="schedule", cron=None,
                                        run_at=at(5), status="completed", updated_at=at(5)))
        tx.upsert_schedule(schedule_row("once-new", None, trigger_type="schedule", cron=None,
                                        run_at=at(5), status="missed", updated_at=at(900)))
        tx.upsert_schedule(schedule_row("once-waiting", at(10**6), trigger_type="schedule",
                                        cron=None, run_at=at(10**6), updated_at=at(5)))
        tx.upsert_schedule(schedule_row("recurring", None, status="completed",
                                        updated_at=at(5)))
    with store.transaction() as tx:
        planned = tx.prune(before=at(150), dry_run=True)
        assert tx.get_run(old_done) is not None
    assert planned == {"step_attempts": 1, "runs": 1, "skips": 2, "schedules": 1,
                       "notification_deliveries": 0, "notifications": 0}
    with store.transaction() as tx:
        assert tx.prune(before=at(150), dry_run=False) == planned
        assert tx.prune(before=at(150), dry_run=False) == dict.fromkeys(planned, 0)
        assert tx.get_run(old_done) is None
        for kept in (old_queued, old_running, new_done):
            assert tx.get_run(kept) is not None
        assert tx.list_step_attempts(old_running) != []
        assert [s["fire_key"] for s in tx.skips_between("a", at(0), at(1000))] == ["skip2"]
        assert tx.get_schedule("once-done") is None
        for kept_schedule in ("once-new", "once-waiting", "recurring"):
            assert tx.get_schedule(kept_schedule) is not None


# -- times, transactions, errors ---------------------------------------------------------------

def test_utctime_round_trip_and_order(store: Store) -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    instants = [
        datetime(2027, 3, 14, 12, 30, 0, 1, tzinfo=india),       # 07:00:00.000001Z
        datetime(2027, 3, 14, 7, 0, tzinfo=UTC),
        datetime(2027, 3, 14, 6, 59, 59, 999999, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2099, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),
        datetime(2027, 3, 13, 23, 0, 1, tzinfo=timezone(timedelta(hours=-8))),  # 07:00:01Z
    ]
    with store.transaction() as tx:
        for i, t in enumerate(instants):
            tx.upsert_schedule(schedule_row(f"wf{i}", t))
        rows = tx.claim_due(datetime(2100, 1, 1, tzinfo=UTC), 10)
    got = [r["next_fire_at"] for r in rows]
    assert got == sorted(instants)
    for value in got:
        assert value.utcoffset() == timedelta(0)
    assert got[2] == datetime(2027, 3, 14, 7, 0, tzinfo=UTC)
    assert got[3] == datetime(2027, 3, 14, 7, 0, 0, 1, tzinfo=UTC)


def test_transaction_rolls_back_on_exception(store: Store) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), store.transaction() as tx:
        add_workflow(tx, "wf")
        tx.bump_changes()
        raise Boom
    with store.read() as tx:
        assert tx.get_workflow("wf") is None and tx.change_counter() == 0
    with store.transaction() as tx:  # the store is still usable
        add_workflow(tx, "wf")


def test_constraint_violation_is_a_store_error(store: Store) -> None:
    with pytest.raises(StoreError), store.transaction() as tx:
        add_workflow(tx, "wf", trigger="cron-ish")
    with store.read() as tx:
        assert tx.get_workflow("wf") is None


def test_wait_for_change(store: Store, open_stores: Any) -> None:
    other = open_stores()
    assert store.wait_for_change(None, 0) == 0          # differs from None at once
    assert store.wait_for_change(0, 0.05) == 0          # nothing happens: times out
    result: list[int] = []
    # The waiter's own timeout is far beyond the join's deadline: only the change can end its
    # wait in time (no wall-clock bound asserted).
    waiter = threading.Thread(target=lambda: result.append(store.wait_for_change(0, 3600)),
                              daemon=True)
    waiter.start()
    with other.transaction() as tx:
        tx.bump_changes()
    waiter.join(60)
    assert result == [1], "the waiter was not woken by the change"


def test_threads_each_get_their_own_connection(store: Store) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(20):
                with store.transaction() as tx:
                    tx.insert_runs([new_run(f"t{n}:{i}")])
                    tx.bump_changes()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with store.read() as tx:
        assert tx.change_counter() == 80 and tx.run_status_counts() == {"queued": 80}
