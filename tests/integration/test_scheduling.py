"""The scheduling core against both stores: one-time schedules, catch-up, idempotent re-ticks,
backfill, pause/resume, overlap, events, manual runs, explain (docs/design.md §2.5, §4.4, §6)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from clockwf import lifecycle, monitor, runs
from clockwf.errors import DefinitionInvalid, InvalidInput, NotFound
from clockwf.launcher import run_payload
from clockwf.runs import metadata
from clockwf.scheduler import tick
from clockwf.store import Store
from clockwf.validate import validate_source

from .scheduling_support import (
    definition,
    drive,
    fire_keys,
    keys,
    poll_until,
    publish_text,
    runs_of,
    skips,
    utc,
)

DAILY = 'type: recurring\ncron: "30 2 * * *"\ntimezone: America/New_York'


def test_one_time_fires_once_and_completes(store: Store) -> None:
    publish_text(store, definition("once", "type: schedule\nrun_at: '2027-01-15T09:00:00-05:00'"),
                 "2027-01-01T00:00:00Z")
    assert tick(store, utc("2027-01-15T13:59:59Z")).launched == []
    first = tick(store, utc("2027-01-15T14:00:02Z"))
    assert [e["fire_key"] for e in first.launched] == ["schedule:once:2027-01-15T14:00:00Z"]
    assert first.completed == ["once"]
    again = tick(store, utc("2027-01-15T14:00:02Z"))
    later = tick(store, utc("2027-02-01T00:00:00Z"))
    assert again.launched == later.launched == []
    with store.read() as tx:
        sched = tx.get_schedule("once")
    assert sched is not None and sched["status"] == "completed"
    assert sched["next_fire_at"] is None
    assert sched["last_fire_key"] == "schedule:once:2027-01-15T14:00:00Z"
    payload = json.loads(run_payload(runs_of(store)[0]))
    assert payload["trigger_type"] == "schedule"
    assert payload["run_at"] == "2027-01-15T09:00:00-05:00"
    assert payload["cron"] is None and payload["catchup"] is False


def test_one_time_missed_past_its_window(store: Store) -> None:
    publish_text(store, definition("once", "type: schedule\nrun_at: '2027-01-15T09:00:00-05:00'",
                                   policy="catchup_window: 1h"), "2027-01-01T00:00:00Z")
    report = tick(store, utc("2027-01-15T16:00:00Z"))
    assert report.launched == [] and report.missed == ["once"]
    with store.read() as tx:
        sched = tx.get_schedule("once")
    assert sched is not None and sched["status"] == "missed"
    assert "catchup_window" in sched["status_reason"]
    assert [s["reason"] for s in skips(store, "once")] == ["outside_window"]
    assert tick(store, utc("2027-01-16T00:00:00Z")).launched == []


def test_one_time_late_inside_window_catches_up(store: Store) -> None:
    publish_text(store, definition("once", "type: schedule\nrun_at: '2027-01-15T14:00:00Z'"),
                 "2027-01-01T00:00:00Z")
    report = tick(store, utc("2027-01-15T15:00:00Z"))
    assert report.completed == ["once"]
    assert json.loads(run_payload(runs_of(store)[0]))["catchup"] is True


GAP_START = "2027-01-10T00:00:00Z"      # published; fires 07:30Z daily (02:30 EST)
GAP_BACK = "2027-01-13T12:00:00Z"       # the daemon returns: 01-10 .. 01-13 were missed


@pytest.mark.parametrize(("policy", "window", "launched", "reasons"), [
    ("latest", "24h", ["2027-01-13T07:30:00Z"], {"outside_window": 3}),
    ("latest", "7d", ["2027-01-13T07:30:00Z"], {"coalesced": 3}),
    ("all", "7d", ["2027-01-10T07:30:00Z", "2027-01-11T07:30:00Z", "2027-01-12T07:30:00Z",
                   "2027-01-13T07:30:00Z"], {}),
    ("all", "48h", ["2027-01-12T07:30:00Z", "2027-01-13T07:30:00Z"], {"outside_window": 2}),
    ("none", "24h", [], {"missed": 4}),
])
def test_catchup_after_a_three_day_gap(store: Store, policy: str, window: str,
                                        launched: list[str], reasons: dict[str, int]) -> None:
    publish_text(store, definition("job", DAILY, policy=f"catchup: {policy}\n"
                                   f"catchup_window: {window}"), GAP_START)
    report = tick(store, utc(GAP_BACK))
    assert fire_keys(store) == keys("job", *launched)
    got: dict[str, int] = {}
    for row in skips(store, "job"):
        got[row["reason"]] = got.get(row["reason"], 0) + row["occurrences"]
    assert got == reasons
    for run in runs_of(store):
        assert json.loads(run_payload(run))["catchup"] is True
    # Nothing twice: the same instant again, and the next regular fire is on time.
    assert tick(store, utc(GAP_BACK)).launched == []
    assert len(report.launched) == len(launched)
    nxt = tick(store, utc("2027-01-14T07:30:10Z"))
    assert [e["fire_key"] for e in nxt.launched] == ["recurring:job:2027-01-14T07:30:00Z"]
    assert json.loads(run_payload(runs_of(store)[-1]))["catchup"] is False


def test_max_catchup_bounds_one_tick_and_the_rest_follows(store: Store) -> None:
    publish_text(store, definition("job", 'type: recurring\ncron: "0 * * * *"',
                                   policy="catchup: all\ncatchup_window: 7d\nmax_catchup: 10"),
                 "2027-01-10T00:00:00Z")
    first = tick(store, utc("2027-01-11T00:30:00Z"))
    assert len(first.launched) == 10                    # 24 due, 10 per tick
    with store.read() as tx:
        assert tx.earliest_due() is not None
        assert tx.earliest_due() <= utc("2027-01-11T00:30:00Z")   # still due: a backlog
    tick(store, utc("2027-01-11T00:30:00Z"))
    tick(store, utc("2027-01-11T00:30:00Z"))
    assert len(fire_keys(store)) == 24
    assert len(set(fire_keys(store))) == 24


def test_reticks_at_the_same_instants_launch_nothing_twice(store: Store) -> None:
    publish_text(store, definition("job", 'type: recurring\ncron: "*/5 * * * *"'),
                 "2027-01-10T00:00:00Z")
    instants = [utc("2027-01-10T00:00:00Z") + timedelta(minutes=m) for m in range(0, 61, 1)]
    for t in instants:
        tick(store, t)
    before = fire_keys(store)
    for t in instants:
        assert tick(store, t).launched == []
    assert fire_keys(store) == before
    assert len(before) == 12 and len(set(before)) == 12


def test_backfill_launches_only_missing_occurrences(store: Store) -> None:
    publish_text(store, definition("job", DAILY, policy="catchup: none"), GAP_START)
    tick(store, utc("2027-01-12T07:30:05Z"))          # 01-12 on time; 01-10, 01-11 missed
    assert fire_keys(store) == keys("job", "2027-01-12T07:30:00Z")
    dry = runs.backfill(store, "job", utc("2027-01-10T00:00:00Z"), utc("2027-01-12T23:00:00Z"),
                        utc("2027-01-13T00:00:00Z"), dry_run=True)
    assert [e["fire_key"] for e in dry.would_launch] == keys(
        "job", "2027-01-10T07:30:00Z", "2027-01-11T07:30:00Z")
    assert fire_keys(store) == keys("job", "2027-01-12T07:30:00Z")     # dry run wrote nothing
    report = runs.backfill(store, "job", utc("2027-01-10T00:00:00Z"),
                           utc("2027-01-12T23:00:00Z"), utc("2027-01-13T00:00:00Z"))
    assert sorted(e["fire_key"] for e in report.launched) == keys(
        "job", "2027-01-10T07:30:00Z", "2027-01-11T07:30:00Z")
    assert [e["fire_key"] for e in report.existing] == keys("job", "2027-01-12T07:30:00Z")
    again = runs.backfill(store, "job", utc("2027-01-10T00:00:00Z"),
                          utc("2027-01-12T23:00:00Z"), utc("2027-01-13T00:00:00Z"))
    assert again.launched == [] and len(again.existing) == 3
    backfilled = [r for r in runs_of(store) if metadata(r)["backfill"]]
    assert len(backfilled) == 2
    assert all(json.loads(run_payload(r))["backfill"] for r in backfilled)
    # The tick never relaunches what a backfill launched.
    assert tick(store, utc("2027-01-13T00:00:00Z")).launched == []


def test_backfill_refuses_the_future_and_workflows_without_time_trigger(store: Store) -> None:
    publish_text(store, definition("job", DAILY), GAP_START)
    with pytest.raises(InvalidInput):
        runs.backfill(store, "job", utc("2027-02-01T00:00:00Z"), utc("2027-02-02T00:00:00Z"),
                      utc(GAP_START))
    publish_text(store, definition("ev", "type: event\nevent: thing.done"), GAP_START)
    with pytest.raises(Exception, match="no time trigger"):
        runs.backfill(store, "ev", utc("2027-01-01T00:00:00Z"), utc("2027-01-02T00:00:00Z"),
                      utc(GAP_START))


def test_pause_records_suppressed_occurrences_and_resume_continues_from_now(
        store: Store) -> None:
    publish_text(store, definition("job", 'type: recurring\ncron: "0 * * * *"'),
                 "2027-01-10T00:00:00Z")
    tick(store, utc("2027-01-10T01:00:00Z"))
    lifecycle.pause(store, "job", utc("2027-01-10T01:30:00Z"), "maintenance")
    assert tick(store, utc("2027-01-10T05:00:00Z")).launched == []
    manual = runs.start_manual(store, "job", utc("2027-01-10T05:10:00Z"))
    assert manual.run_id is not None                  # pause stops triggers, not people
    change = lifecycle.resume(store, "job", utc("2027-01-10T05:30:00Z"))
    assert change.skipped == 4                        # 02:00, 03:00, 04:00, 05:00
    rows = skips(store, "job")
    assert [(r["reason"], r["occurrences"]) for r in rows] == [("paused", 4)]
    assert change.next_fire_at == utc("2027-01-10T06:00:00Z")
    assert tick(store, utc("2027-01-10T05:59:00Z")).launched == []
    assert len(tick(store, utc("2027-01-10T06:00:00Z")).launched) == 1
    assert fire_keys(store) == sorted(
        [*keys("job", "2027-01-10T01:00:00Z", "2027-01-10T06:00:00Z"), manual.fire_key])


def test_event_trigger_paused_starts_nothing(store: Store) -> None:
    publish_text(store, definition("ev", "type: event\nevent: invoice.created"), GAP_START)
    lifecycle.pause(store, "ev", utc(GAP_START))
    assert runs.emit(store, "invoice.created", utc(GAP_START), event_id="e1") == []
    lifecycle.resume(store, "ev", utc(GAP_START))
    (started,) = runs.emit(store, "invoice.created", utc(GAP_START), event_id="e1",
                           payload={"invoice": 7})
    assert started.run_id is not None
    assert started.fire_key == "event:ev:invoice.created:e1"
    (dup,) = runs.emit(store, "invoice.created", utc(GAP_START), event_id="e1")
    assert dup.run_id is None and dup.existing_run_id == started.run_id
    run = runs_of(store)[0]
    assert json.loads(run_payload(run)) == {"invoice": 7}
    assert json.loads(run["metadata"])["event"] == "invoice.created"


def test_manual_run_key_is_idempotent(store: Store) -> None:
    publish_text(store, "id: m\nsteps:\n  - run: 'true'\n", GAP_START)
    first = runs.start_manual(store, "m", utc(GAP_START), key="deploy-42", payload={"a": 1})
    second = runs.start_manual(store, "m", utc(GAP_START), key="deploy-42")
    assert first.fire_key == "manual:m:deploy-42" and first.run_id is not None
    assert second.run_id is None and second.existing_run_id == first.run_id
    other = runs.start_manual(store, "m", utc(GAP_START))
    assert other.run_id is not None and other.fire_key.startswith("manual:m:")
    with pytest.raises(NotFound):
        runs.start_manual(store, "nope", utc(GAP_START))


@pytest.mark.parametrize(("overlap", "expected_runs", "expected_skips"), [
    ("allow", 3, 0), ("skip", 1, 2), ("queue_one", 2, 1), ("cancel_previous", 3, 0)])
def test_overlap_policies(store: Store, overlap: str, expected_runs: int,
                          expected_skips: int) -> None:
    publish_text(store, definition("job", 'type: recurring\ncron: "*/5 * * * *"',
                                   policy=f"overlap: {overlap}"), "2027-01-10T00:00:00Z")
    # Nothing executes the runs: each stays queued (first one: claimed as running).
    tick(store, utc("2027-01-10T00:05:00Z"))
    with store.transaction() as tx:
        tx.claim_runs(owner="t", now=utc("2027-01-10T00:05:01Z"), lease_seconds=86400,
                      limit=1)
    tick(store, utc("2027-01-10T00:10:00Z"))
    tick(store, utc("2027-01-10T00:15:00Z"))
    rows = runs_of(store)
    assert len(rows) == expected_runs
    assert sum(r["occurrences"] for r in skips(store, "job")
               if r["reason"] == "overlap") == expected_skips
    assert all(r["serial"] for r in rows) is (overlap != "allow")
    if overlap == "cancel_previous":
        # The running one is asked to stop; the queued one in between is cancelled outright.
        assert [r["status"] for r in rows] == ["running", "cancelled", "queued"]
        assert rows[0]["cancel_requested"] and not rows[2]["cancel_requested"]


def test_explain_answers_launched_skipped_and_not_an_occurrence(store: Store) -> None:
    publish_text(store, definition("job", DAILY + "\ndst: {gap: skip}",
                                   policy="catchup: latest\ncatchup_window: 7d"),
                 "2027-03-10T00:00:00Z")
    drive(store, utc("2027-03-10T00:00:00Z"), utc("2027-03-13T00:00:00Z"))
    tick(store, utc("2027-03-16T12:00:00Z"))       # down 03-13 .. 03-16
    now = utc("2027-03-16T12:00:00Z")
    launched = runs.explain(store, "job", utc("2027-03-11T07:30:00Z"), now)
    assert launched.outcome == "launched" and launched.run is not None
    assert f"run {launched.run['run_id']}" in launched.message
    dst = runs.explain(store, "job", utc("2027-03-14T07:30:00Z"), now)    # "02:30" that day
    assert dst.outcome == "skipped" and "does not exist" in dst.message
    coalesced = runs.explain(store, "job", utc("2027-03-15T06:30:00Z"), now)
    assert coalesced.outcome == "skipped" and "coalesced" in coalesced.message
    near = runs.explain(store, "job", utc("2027-03-11T08:00:00Z"), now)
    assert near.occurrence is not None
    assert near.occurrence.fire_key == "recurring:job:2027-03-11T07:30:00Z"
    assert "not an occurrence" in near.message
    future = runs.explain(store, "job", utc("2027-03-20T06:30:00Z"), now)
    assert future.outcome == "not_due"
    before = runs.explain(store, "job", utc("2027-03-01T07:30:00Z"), now)
    assert before.outcome == "no_record" and "before job was first published" in before.message


def test_republish_keeps_position_and_never_refires(store: Store) -> None:
    text = definition("job", DAILY)
    publish_text(store, text, GAP_START)
    tick(store, utc("2027-01-10T07:30:05Z"))
    # New steps, same trigger: a new version, the schedule keeps its place.
    changed = text.replace("run: 'true'", "run: 'echo v2'")
    (pub,) = publish_text(store, changed, "2027-01-10T08:00:00Z")
    assert pub.status == "published" and pub.version == 2
    assert tick(store, utc("2027-01-10T08:00:00Z")).launched == []
    nxt = tick(store, utc("2027-01-11T07:30:05Z"))
    assert [e["fire_key"] for e in nxt.launched] == ["recurring:job:2027-01-11T07:30:00Z"]
    assert runs_of(store)[-1]["workflow_version"] == 2
    assert runs_of(store)[0]["workflow_version"] == 1
    (same,) = publish_text(store, changed + "\n# a comment\n", "2027-01-11T08:00:00Z")
    assert same.status == "unchanged" and same.version == 2


def test_a_schedule_that_cannot_be_planned_does_not_block_the_others(
        store: Store, caplog: pytest.LogCaptureFixture) -> None:
    every = 'type: recurring\ncron: "*/5 * * * *"'
    publish_text(store, definition("good", every), "2027-01-10T00:00:00Z")
    publish_text(store, definition("bad", every), "2027-01-10T00:00:00Z")
    with store.transaction() as tx:
        row = tx.get_schedule("bad")
        assert row is not None
        row["timezone"] = "Mars/Olympus_Mons"       # say, a zone gone from the tz database
        tx.upsert_schedule(row)
    now = utc("2027-01-10T00:05:00Z")
    with caplog.at_level("ERROR", logger="clockwf.scheduler"):
        report = tick(store, now)
    assert [e["workflow_id"] for e in report.launched] == ["good"]
    assert any(getattr(r, "action", None) == "schedule.error" for r in caplog.records)
    with store.read() as tx:
        bad = tx.get_schedule("bad")
        assert tx.earliest_due() == now + timedelta(minutes=5)    # not a busy loop
    assert bad is not None and "cannot be planned" in bad["status_reason"]
    assert bad["next_nominal_at"] == utc("2027-01-10T00:05:00Z")   # its occurrence is kept
    assert tick(store, now).launched == []
    # Not a silent miss: `clockwf status` reports it (and exits 1).
    health = monitor.health(store, now, overdue_after=timedelta(minutes=5),
                            stale_after=timedelta(minutes=5))
    assert any(p.startswith("bad: cannot be planned") for p in health.problems)


def test_a_publish_racing_a_tick_never_moves_the_schedule_back(store: Store, backend: str,
                                                              store_url: str) -> None:
    """The tick holds the schedule row from claim to commit; a publish (or pause) that comes
    meanwhile waits and then changes the row as the tick left it (review finding: on
    PostgreSQL it used to write back the occurrence the tick had just handled).

    The tick commits only once the publish is seen waiting for it (no sleep that assumes the
    publisher got there in time): on PostgreSQL a backend of this database waiting on a lock;
    on SQLite the publisher's BEGIN IMMEDIATE started (its whole transaction then follows the
    tick's commit)."""
    import sqlite3
    import threading

    from clockwf.scheduler import TickReport, process

    text = definition("r", 'type: recurring\ncron: "0 * * * *"')
    publish_text(store, text, "2027-01-01T00:00:00Z")
    now = utc("2027-01-01T01:00:05Z")
    claimed, published, waiting = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []
    seen_waiting: list[bool] = []

    def publish_is_waiting() -> bool:
        if backend == "sqlite":
            return waiting.wait(30)
        import psycopg

        with psycopg.connect(store_url, autocommit=True) as conn:
            return poll_until(lambda: conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'").fetchone()[0] > 0, timeout=30)

    def ticker() -> None:
        try:
            with store.transaction() as tx:
                rows = tx.claim_due(now, 10)
                process(tx, rows, now, None, TickReport(now))
                claimed.set()
                seen_waiting.append(publish_is_waiting())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            claimed.set()

    def publisher() -> None:
        try:
            if backend == "sqlite":
                conn = store._connection()  # type: ignore[attr-defined]  # this thread's
                assert isinstance(conn, sqlite3.Connection)
                conn.set_trace_callback(
                    lambda sql: waiting.set() if sql.startswith("BEGIN IMMEDIATE") else None)
            claimed.wait(30)
            publish_text(store, text.replace("steps:", "policy: {grace: 5m}\nsteps:"),
                         "2027-01-01T01:00:06Z")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        published.set()

    threads = [threading.Thread(target=ticker), threading.Thread(target=publisher)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert seen_waiting == [True], "the publish never waited for the tick: no race was run"
    with store.read() as tx:
        sched = tx.get_schedule("r")
    assert sched is not None and sched["grace_s"] == 300            # the publish landed
    assert sched["next_nominal_at"] == utc("2027-01-01T02:00:00Z")   # and kept the tick's work
    assert tick(store, utc("2027-01-01T01:00:20Z")).launched == []
    assert fire_keys(store) == keys("r", "2027-01-01T01:00:00Z")


def test_one_time_skipped_by_overlap_is_missed_not_completed(store: Store) -> None:
    publish_text(store, definition("o", "type: schedule\nrun_at: '2027-06-01T10:00:00Z'",
                                   policy="overlap: skip"), "2027-06-01T00:00:00Z")
    runs.start_manual(store, "o", utc("2027-06-01T09:59:00Z"))       # still queued at 10:00
    report = tick(store, utc("2027-06-01T10:00:05Z"))
    assert report.launched == [] and report.completed == [] and report.missed == ["o"]
    assert [s["reason"] for s in report.skipped] == ["overlap"]
    with store.read() as tx:
        sched = tx.get_schedule("o")
    assert sched is not None and sched["status"] == "missed"
    assert "overlap" in sched["status_reason"]


def test_resume_records_a_jittered_occurrence_whose_nominal_time_passed(store: Store) -> None:
    publish_text(store, definition("j", 'type: recurring\ncron: "0 * * * *"\njitter: 30m'),
                 "2027-01-01T00:30:00Z")
    lifecycle.pause(store, "j", utc("2027-01-01T00:40:00Z"))
    change = lifecycle.resume(store, "j", utc("2027-01-01T01:01:00Z"))
    assert change.skipped == 1                      # 01:00 (due later, by its jitter)
    answer = runs.explain(store, "j", utc("2027-01-01T01:00:00Z"), utc("2027-01-01T02:00:00Z"))
    assert answer.outcome == "skipped" and answer.skip is not None
    assert answer.skip["reason"] == "paused"
    assert change.next_fire_at is not None and change.next_fire_at >= utc("2027-01-01T02:00:00Z")


def test_catchup_target_skipped_by_overlap_is_told_truthfully(store: Store) -> None:
    publish_text(store, definition("c", 'type: recurring\ncron: "0 * * * *"',
                                   policy="overlap: skip\ncatchup_window: 1d"),
                 "2027-05-01T00:00:00Z")
    runs.start_manual(store, "c", utc("2027-05-01T00:30:00Z"))
    tick(store, utc("2027-05-01T04:10:00Z"))
    assert [r["trigger_type"] for r in runs_of(store)] == ["manual"]
    answer = runs.explain(store, "c", utc("2027-05-01T02:00:00Z"), utc("2027-05-01T05:00:00Z"))
    assert answer.outcome == "skipped" and "coalesced" in answer.message
    assert "itself skipped" in answer.message


def test_list_status_published_means_not_paused(store: Store) -> None:
    publish_text(store, definition("a", DAILY), GAP_START)
    publish_text(store, definition("b", DAILY), GAP_START)
    lifecycle.pause(store, "b", utc(GAP_START))
    published = lifecycle.list_workflows(store, status="published")
    paused = lifecycle.list_workflows(store, status="paused")
    assert [w["workflow_id"] for w in published] == ["a"]
    assert [w["workflow_id"] for w in paused] == ["b"]


def test_unchanged_one_time_definition_republishes_after_it_fired(store: Store) -> None:
    text = definition("once", "type: schedule\nrun_at: '2027-01-15T14:00:00Z'")
    publish_text(store, text, "2027-01-01T00:00:00Z")
    tick(store, utc("2027-01-15T14:00:05Z"))
    later = utc("2027-02-01T00:00:00Z")
    report = validate_source(text, "once.yaml", later, for_publish=True)
    assert not report.ok                                  # past run_at: an error on its own
    other = validate_source(definition("h", DAILY), "h.yaml", later, for_publish=True)
    published = lifecycle.publish(store, [report, other], later)
    assert [(p.workflow_id, p.status) for p in published] == [("once", "unchanged"),
                                                              ("h", "published")]
    changed = validate_source(text.replace("run: 'true'", "run: 'echo'"), "once.yaml", later,
                              for_publish=True)
    with pytest.raises(DefinitionInvalid, match="in the past"):
        lifecycle.publish(store, [changed], later)


def test_a_tick_processes_each_schedule_once_across_batches(store: Store) -> None:
    """With a backlog under catchup: all, a schedule advanced by one batch is still due and
    would come back through the keyset cursor in a later batch of the same tick."""
    hourly = 'type: recurring\ncron: "0 * * * *"'
    policy = "catchup: all\ncatchup_window: 1d\nmax_catchup: 2"
    publish_text(store, definition("a", hourly, policy=policy), "2027-01-01T00:00:00Z")
    publish_text(store, definition("b", 'type: recurring\ncron: "30 * * * *"', policy=policy),
                 "2027-01-01T00:00:00Z")
    report = tick(store, utc("2027-01-01T05:10:00Z"), batch_size=1)
    per_workflow: dict[str, int] = {}
    for entry in report.launched:
        per_workflow[entry["workflow_id"]] = per_workflow.get(entry["workflow_id"], 0) + 1
    assert per_workflow == {"a": 2, "b": 2}
