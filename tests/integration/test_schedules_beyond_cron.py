"""The planner with rrule, every, bounds and calendars, against both stores: max_runs and
end_at complete the schedule, calendar moves keep the nominal fire key, merges and exclusions
are recorded, catch-up and backfill see the same occurrences."""

from __future__ import annotations

import json
from datetime import timedelta

from clockwf import runs
from clockwf.launcher import run_payload
from clockwf.runs import metadata
from clockwf.scheduler import tick
from clockwf.store import Store
from tests.triggers import berlin_business_days

from .scheduling_support import definition, drive, fire_keys, publish_text, runs_of, skips, utc

HOURLY_EVERY = """
type: recurring
every: 1h
anchor: "2027-01-01T00:00:00Z"
max_runs: 3
"""


def schedule_row(store: Store, wid: str) -> dict[str, object]:
    with store.read() as tx:
        row = tx.get_schedule(wid)
    assert row is not None
    return dict(row)


def test_max_runs_completes_after_that_many_launches(store: Store) -> None:
    publish_text(store, definition("capped", HOURLY_EVERY), "2026-12-31T23:30:00Z")
    drive(store, utc("2027-01-01T00:00:00Z"), utc("2027-01-01T10:00:00Z"))
    assert fire_keys(store, "capped") == [
        "recurring:capped:2027-01-01T00:00:00Z", "recurring:capped:2027-01-01T01:00:00Z",
        "recurring:capped:2027-01-01T02:00:00Z"]
    row = schedule_row(store, "capped")
    assert row["status"] == "completed" and row["launched"] == 3
    assert row["status_reason"] == "completed: max_runs 3 reached"
    assert row["next_fire_at"] is None
    payload = json.loads(run_payload(runs_of(store, "capped")[0]))
    assert payload["every"] == "1h" and "rrule" not in payload and "moved_from" not in payload


def test_max_runs_caps_a_catch_up_of_all(store: Store) -> None:
    publish_text(store, definition("capped", HOURLY_EVERY, policy="catchup: all"),
                 "2026-12-31T23:30:00Z")
    report = tick(store, utc("2027-01-01T09:30:00Z"))
    assert len(report.launched) == 3 and report.completed == ["capped"]
    assert tick(store, utc("2027-01-02T00:00:00Z")).launched == []
    assert schedule_row(store, "capped")["launched"] == 3


def test_end_at_completes_with_its_reason(store: Store) -> None:
    publish_text(store, definition("bounded", """
        type: recurring
        timezone: Europe/Berlin
        rrule: "FREQ=DAILY;BYHOUR=9;BYMINUTE=0"
        dtstart: "2027-01-01T00:00"
        start_at: "2027-03-01T00:00:00+01:00"
        end_at: "2027-03-03T12:00:00+01:00"
    """), "2027-01-01T00:00:00Z")
    drive(store, utc("2027-02-01T00:00:00Z"), utc("2027-04-01T00:00:00Z"))
    assert fire_keys(store, "bounded") == [
        "recurring:bounded:2027-03-01T08:00:00Z", "recurring:bounded:2027-03-02T08:00:00Z",
        "recurring:bounded:2027-03-03T08:00:00Z"]
    row = schedule_row(store, "bounded")
    assert row["status"] == "completed"
    assert row["status_reason"] == "completed: end_at 2027-03-03T12:00:00+01:00 reached"
    payload = json.loads(run_payload(runs_of(store, "bounded")[0]))
    assert payload["rrule"] == "FREQ=DAILY;BYHOUR=9;BYMINUTE=0"


MONTH_START = 'cron: "0 9 1 * *"'


def test_moved_occurrence_runs_under_its_nominal_key(store: Store) -> None:
    publish_text(store, definition("monthly", berlin_business_days(MONTH_START)),
                 "2027-04-15T00:00:00Z")
    assert tick(store, utc("2027-05-01T07:00:30Z")).launched == []   # not on the holiday
    report = tick(store, utc("2027-05-03T07:00:10Z"))
    assert [e["fire_key"] for e in report.launched] == ["recurring:monthly:2027-05-01T07:00:00Z"]
    run = runs_of(store, "monthly")[0]
    payload = json.loads(run_payload(run))
    assert payload["moved_from"] == "2027-05-01T09:00:00+02:00"
    assert payload["scheduled_for"] == "2027-05-03T09:00:00+02:00"
    assert payload["scheduled_for_utc"] == "2027-05-03T07:00:00Z"
    explained = runs.explain(store, "monthly", utc("2027-05-01T07:00:00Z"),
                             utc("2027-05-04T00:00:00Z"))
    assert explained.outcome == "launched"
    assert "moved from 2027-05-01 (Erster Mai)" in explained.message
    # A backfill of the range finds the same key: nothing is launched twice.
    again = runs.backfill(store, "monthly", utc("2027-05-01T00:00:00Z"),
                          utc("2027-05-04T00:00:00Z"), utc("2027-05-04T00:00:00Z"))
    assert again.launched == [] and [e["fire_key"] for e in again.existing] == [
        "recurring:monthly:2027-05-01T07:00:00Z"]


def test_excluded_occurrence_is_recorded_and_explained(store: Store) -> None:
    publish_text(store, definition("monthly", berlin_business_days(MONTH_START, "skip")),
                 "2027-04-15T00:00:00Z")
    drive(store, utc("2027-04-30T00:00:00Z"), utc("2027-06-01T08:00:00Z"))
    assert fire_keys(store, "monthly") == ["recurring:monthly:2027-06-01T07:00:00Z"]
    recorded = skips(store, "monthly")
    assert [(s["reason"], s["detail"]) for s in recorded] == [
        ("excluded", "excluded: Erster Mai")]
    explained = runs.explain(store, "monthly", utc("2027-05-01T07:00:00Z"),
                             utc("2027-06-02T00:00:00Z"))
    assert explained.outcome == "skipped" and "excluded: Erster Mai" in explained.message


def test_merge_into_an_existing_occurrence_is_coalesced(store: Store) -> None:
    publish_text(store, definition("daily", berlin_business_days('cron: "0 8 * * *"')),
                 "2027-12-24T12:00:00Z")
    drive(store, utc("2027-12-24T12:00:00Z"), utc("2027-12-27T12:00:00Z"))
    assert fire_keys(store, "daily") == ["recurring:daily:2027-12-27T07:00:00Z"]
    recorded = skips(store, "daily")
    assert [(s["reason"], s["fire_key"]) for s in recorded] == [
        ("coalesced", "recurring:daily:2027-12-25T07:00:00Z"),
        ("coalesced", "recurring:daily:2027-12-26T07:00:00Z")]
    assert recorded[1]["detail"] == (
        "moved from 2027-12-26 (Zweiter Weihnachtstag) to 2027-12-27 08:00, merged into the "
        "occurrence already at 2027-12-27T08:00:00+01:00")


def test_catch_up_latest_sees_moved_occurrences(store: Store) -> None:
    # Down from 30 April to 4 May: the moved 1 May occurrence (due 3 May) is the latest.
    publish_text(store, definition("monthly", berlin_business_days(MONTH_START),
                                   policy="catchup_window: 7d"), "2027-04-15T00:00:00Z")
    report = tick(store, utc("2027-05-04T10:00:00Z"))
    assert [(e["fire_key"], e["scheduled_for"]) for e in report.launched] == [
        ("recurring:monthly:2027-05-01T07:00:00Z", "2027-05-03T09:00:00+02:00")]
    meta = metadata(runs_of(store, "monthly")[0])
    assert meta["catchup"] is True and meta["moved_from"] == "2027-05-01T09:00:00+02:00"
    row = schedule_row(store, "monthly")
    assert row["next_nominal_at"] == utc("2027-06-01T07:00:00Z")


def test_republish_keeps_the_launch_count(store: Store) -> None:
    publish_text(store, definition("capped", HOURLY_EVERY), "2026-12-31T23:30:00Z")
    drive(store, utc("2027-01-01T00:00:00Z"), utc("2027-01-01T01:30:00Z"))
    assert schedule_row(store, "capped")["launched"] == 2
    publish_text(store, definition("capped", HOURLY_EVERY.replace("max_runs: 3",
                                                                  "max_runs: 2")),
                 "2027-01-01T01:40:00Z")
    row = schedule_row(store, "capped")
    assert row["status"] == "completed" and row["launched"] == 2
    assert tick(store, utc("2027-01-01T02:00:10Z") + timedelta(hours=3)).launched == []


def test_pause_over_a_moved_occurrence_records_it_once(store: Store) -> None:
    from clockwf import lifecycle

    publish_text(store, definition("monthly", berlin_business_days(MONTH_START)),
                 "2027-04-15T00:00:00Z")
    lifecycle.pause(store, "monthly", utc("2027-04-30T00:00:00Z"))
    # Resumed after the nominal 1 May but before the moved run (3 May): it still runs.
    early = lifecycle.resume(store, "monthly", utc("2027-05-02T00:00:00Z"))
    assert early.skipped == 0
    drive(store, utc("2027-05-02T00:00:00Z"), utc("2027-05-03T08:00:00Z"))
    assert fire_keys(store, "monthly") == ["recurring:monthly:2027-05-01T07:00:00Z"]
    # Paused over the next one (1 June, a Tuesday): recorded as paused, never launched.
    lifecycle.pause(store, "monthly", utc("2027-05-20T00:00:00Z"))
    late = lifecycle.resume(store, "monthly", utc("2027-06-02T00:00:00Z"))
    assert late.skipped == 1
    assert [s["reason"] for s in skips(store, "monthly")] == ["paused"]
    drive(store, utc("2027-06-02T00:00:00Z"), utc("2027-07-02T00:00:00Z"))
    assert fire_keys(store, "monthly") == ["recurring:monthly:2027-05-01T07:00:00Z",
                                           "recurring:monthly:2027-07-01T07:00:00Z"]
