"""The tick's shortcuts give the same answers as the long way (bench/tick.py measures them):
the memoised cron searches, the cached instant formatting, and plan()'s common case."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clockwf import cron
from clockwf.cron import CronSchedule
from clockwf.schedule import Plan, ScheduleSpec, _walk, first_after, occurrence_at, plan
from clockwf.store.sqlite import utc_text
from clockwf.timeutil import fire_key_instant, iso_utc

NEW_YORK = ZoneInfo("America/New_York")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# -- cached formatting ---------------------------------------------------------------------------

def test_cached_formatting_tells_the_two_passes_of_a_repeated_hour_apart() -> None:
    # 01:30 happens twice in New York on 2027-11-07. The two datetimes compare and hash equal
    # (same zone, only fold differs), so a cache keyed on them would mix them up.
    first = datetime(2027, 11, 7, 1, 30, tzinfo=NEW_YORK)
    second = first.replace(fold=1)
    assert first == second and hash(first) == hash(second)
    for _ in range(2):   # the second time from the caches
        assert iso_utc(first) == "2027-11-07T05:30:00Z"
        assert iso_utc(second) == "2027-11-07T06:30:00Z"
        assert fire_key_instant(first) == "2027-11-07T05:30:00Z"
        assert fire_key_instant(second) == "2027-11-07T06:30:00Z"
        assert utc_text(first) == "2027-11-07T05:30:00.000000Z"
        assert utc_text(second) == "2027-11-07T06:30:00.000000Z"


def test_cached_formatting_of_equal_instants_in_other_zones() -> None:
    instant = utc("2027-03-14T07:00:00.250000Z")
    berlin = instant.astimezone(ZoneInfo("Europe/Berlin"))
    assert iso_utc(instant) == iso_utc(berlin) == "2027-03-14T07:00:00.250000Z"
    assert utc_text(berlin) == "2027-03-14T07:00:00.250000Z"
    assert iso_utc(None) is None


# -- the memoised cron searches --------------------------------------------------------------------

SCHEDULES = [
    ("30 2 * * *", "America/New_York", "run_after", "once"),
    ("30 2 * * *", "America/New_York", "skip", "once"),
    ("30 1 * * *", "America/New_York", "run_after", "twice"),
    ("*/20 * * * *", "Europe/Berlin", "run_after", "once"),
    ("0 0 * * *", "Pacific/Apia", "run_after", "once"),      # lost a whole day in 2011
]


def start_of(zone: str) -> datetime:
    return utc("2011-12-28T00:00:00Z") if zone == "Pacific/Apia" else \
        utc("2027-03-13T00:00:00Z")


@pytest.mark.parametrize(("expr", "zone", "gap", "fold"), SCHEDULES)
def test_after_is_the_search_whether_memoised_or_not(expr: str, zone: str, gap: str,
                                                     fold: str) -> None:
    schedule = CronSchedule(expr, zone, gap=gap, fold=fold)  # type: ignore[arg-type]
    at = start_of(zone)
    for _ in range(400):   # across the March change (and Apia's lost day)
        found = schedule._search(at.timestamp(), False, True)
        expected = None if found is None else schedule._fire(found)
        assert schedule.after(at, include_skipped=True) == expected
        assert schedule.after(at, include_skipped=True) == expected   # from the memo
        if expected is None:
            break
        at = expected.at


@pytest.mark.parametrize(("expr", "zone", "gap", "fold"), SCHEDULES)
def test_following_matches_iter_fires_across_dst(expr: str, zone: str, gap: str,
                                                 fold: str) -> None:
    schedule = CronSchedule(expr, zone, gap=gap, fold=fold)  # type: ignore[arg-type]
    fires = []
    for fire in schedule.iter_fires(start_of(zone), include_skipped=True):
        fires.append(fire)
        if len(fires) == 300:
            break
    for previous, expected in itertools.pairwise(fires):
        assert schedule.following(previous, include_skipped=True) == expected


def test_after_memo_is_bounded() -> None:
    schedule = CronSchedule("* * * * *", "UTC")
    at = utc("2027-01-01T00:00:00Z")
    for _ in range(cron._MEMO_SIZE + 10):
        fire = schedule.after(at)
        assert fire is not None
        at = fire.at
    assert len(schedule._memo) <= cron._MEMO_SIZE
    assert at == utc("2027-01-01T00:00:00Z") + timedelta(minutes=cron._MEMO_SIZE + 10)


def test_fire_at_names_normal_occurrences_only() -> None:
    schedule = CronSchedule("30 2 * * *", "America/New_York")
    fire = schedule.fire_at(utc("2027-01-10T07:30:00Z"))
    assert fire is not None and fire.kind == "normal"
    assert fire.at.isoformat() == "2027-01-10T02:30:00-05:00"
    assert schedule.fire_at(utc("2027-01-10T07:31:00Z")) is None
    assert schedule.fire_at(utc("2027-01-10T07:30:00Z")) is fire      # memoised


# -- plan(): the common case is what the walk decides ----------------------------------------------

SPEC_CHOICES = st.fixed_dictionaries({
    "cron": st.sampled_from(["* * * * *", "*/5 * * * *", "30 2 * * *", "0 * * * *",
                             "30 1 * * *"]),
    "timezone": st.sampled_from(["UTC", "America/New_York", "Europe/Berlin"]),
    "catchup": st.sampled_from(["latest", "all", "none"]),
    "grace_s": st.sampled_from([0.0, 1.0, 60.0, 600.0]),
    "catchup_window_s": st.sampled_from([0.0, 30.0, 3600.0, 86400.0]),
    "max_catchup": st.sampled_from([1, 2, 100]),
    "jitter_s": st.sampled_from([0.0, 0.0, 90.0]),
    "dst_gap": st.sampled_from(["run_after", "skip"]),
    "dst_fold": st.sampled_from(["once", "twice"]),
})


def summary(p: Plan) -> tuple[object, ...]:
    return ([(o.fire_key, o.due, c) for o, c in p.launches],
            [(g.reason, g.first.fire_key, g.last.fire_key, g.count, g.detail) for g in p.skips],
            None if p.next is None else (p.next.fire_key, p.next.due, p.next.kind),
            p.status, p.status_reason)


@settings(max_examples=300, deadline=None)
@given(choice=SPEC_CHOICES,
       start=st.datetimes(min_value=datetime(2027, 3, 12), max_value=datetime(2027, 3, 16)),
       late=st.floats(min_value=-120, max_value=7200))
def test_plan_equals_the_general_walk(choice: dict[str, object], start: datetime,
                                      late: float) -> None:
    spec = ScheduleSpec(workflow_id="w", trigger_type="recurring", **choice)  # type: ignore[arg-type]
    first = first_after(spec, start.replace(tzinfo=UTC))
    assert first is not None
    now = first.due + timedelta(seconds=late)
    assert summary(plan(spec, first, now)) == summary(_walk(spec, first, now))


def test_plan_common_case_launches_and_points_at_the_next() -> None:
    spec = ScheduleSpec(workflow_id="w", trigger_type="recurring", cron="*/5 * * * *",
                        timezone="UTC")
    occ = occurrence_at(spec, utc("2027-01-04T14:00:00Z"), "normal")
    assert occ is not None
    p = plan(spec, occ, utc("2027-01-04T14:00:01Z"))
    assert [(o.fire_key, c) for o, c in p.launches] == [
        ("recurring:w:2027-01-04T14:00:00Z", False)]
    assert p.next is not None and p.next.nominal == utc("2027-01-04T14:05:00Z")
    assert p.skips == [] and p.status == "scheduled"


def test_the_sqlite_store_binds_datetimes_as_utc_text_and_refuses_naive_ones(
        tmp_path: Path) -> None:
    """Datetimes reach SQLite through one adapter (clockwf.store.sqlite), batches included."""
    from clockwf.store import open_store
    from clockwf.store.base import NewRun

    url = str(tmp_path / "bind.db")
    berlin = datetime(2027, 3, 14, 8, 0, 0, 250000, tzinfo=ZoneInfo("Europe/Berlin"))
    run = NewRun(fire_key="manual:w:1", workflow_id="w", workflow_version=1,
                 trigger_type="manual", payload="{}", metadata="{}", created_at=berlin)
    with open_store(url, "n") as store:
        with pytest.raises(ValueError, match="naive datetime"), store.transaction() as tx:
            tx.insert_runs([run._replace(created_at=berlin.replace(tzinfo=None))])
        with store.transaction() as tx:
            assert tx.insert_runs([run]) == {"manual:w:1": 1}
        with store.read() as tx:
            row = tx.db.conn.execute(   # type: ignore[attr-defined]
                "SELECT CAST(created_at AS TEXT) AS raw, created_at FROM runs").fetchone()
    assert list(row.values()) == ["2027-03-14T07:00:00.250000Z", berlin.astimezone(UTC)]
