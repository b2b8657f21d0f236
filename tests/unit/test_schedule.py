"""The pure planning layer: which occurrences launch, which are skipped and why (docs/design.md §6.2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clockwf.schedule import (
    ScheduleSpec,
    fire_key,
    first_after,
    following,
    jitter_for,
    occurrence_at,
    occurrences_between,
    plan,
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def daily(**kw: object) -> ScheduleSpec:
    base: dict[str, object] = dict(workflow_id="nightly", trigger_type="recurring",
                                   cron="30 2 * * *", timezone="America/New_York")
    base.update(kw)
    return ScheduleSpec(**base)  # type: ignore[arg-type]


def test_fire_key_format_is_utc_seconds() -> None:
    assert fire_key("recurring", "w", utc("2027-03-14T07:00:00.123456Z")) == \
        "recurring:w:2027-03-14T07:00:00Z"


def test_jitter_is_deterministic_bounded_and_spread() -> None:
    keys = [f"recurring:w:2027-01-{d:02d}T00:00:00Z" for d in range(1, 29)]
    values = [jitter_for(k, 300) for k in keys]
    assert values == [jitter_for(k, 300) for k in keys]
    assert all(0 <= v <= 300 for v in values)
    assert len(set(values)) > 20          # not all the same delay
    assert jitter_for(keys[0], 0) == 0.0


def test_jitter_moves_due_but_not_the_key() -> None:
    spec = daily(jitter_s=600.0)
    occ = first_after(spec, utc("2027-01-10T00:00:00Z"))
    assert occ is not None
    assert occ.nominal == utc("2027-01-10T07:30:00Z")
    assert occ.fire_key == "recurring:nightly:2027-01-10T07:30:00Z"
    assert occ.nominal <= occ.due <= occ.nominal + timedelta(seconds=600)
    assert occ.due - occ.nominal == timedelta(seconds=occ.jitter_s)


def test_on_time_occurrence_launches_without_catchup_flag() -> None:
    spec = daily()
    occ = first_after(spec, utc("2027-01-10T00:00:00Z"))
    p = plan(spec, occ, utc("2027-01-10T07:30:30Z"))
    assert [(o.fire_key, c) for o, c in p.launches] == [
        ("recurring:nightly:2027-01-10T07:30:00Z", False)]
    assert p.skips == []
    assert p.next is not None and p.next.nominal == utc("2027-01-11T07:30:00Z")


def test_not_yet_due_does_nothing() -> None:
    spec = daily()
    occ = first_after(spec, utc("2027-01-10T00:00:00Z"))
    p = plan(spec, occ, utc("2027-01-10T07:29:59Z"))
    assert p.launches == [] and p.skips == [] and p.next == occ


def test_grace_boundary() -> None:
    spec = daily(grace_s=60.0, catchup="none")
    occ = first_after(spec, utc("2027-01-10T00:00:00Z"))
    assert plan(spec, occ, utc("2027-01-10T07:31:00Z")).launches      # exactly grace: on time
    late = plan(spec, occ, utc("2027-01-10T07:31:01Z"))
    assert late.launches == []
    assert [s.reason for s in late.skips] == ["missed"]


def three_day_gap(policy: str, **kw: object) -> tuple[ScheduleSpec, object]:
    spec = daily(catchup=policy, **kw)
    occ = first_after(spec, utc("2027-01-10T00:00:00Z"))   # 01-10 07:30Z
    return spec, plan(spec, occ, utc("2027-01-13T12:00:00Z"))   # 01-10, 11, 12, 13 missed


def test_catchup_latest_launches_only_the_most_recent_in_window() -> None:
    _spec, p = three_day_gap("latest")
    assert [(o.nominal, c) for o, c in p.launches] == [(utc("2027-01-13T07:30:00Z"), True)]
    reasons = {(s.reason, s.first.nominal, s.last.nominal, s.count) for s in p.skips}
    assert reasons == {
        ("outside_window", utc("2027-01-10T07:30:00Z"), utc("2027-01-12T07:30:00Z"), 3),
    }
    assert p.next is not None and p.next.nominal == utc("2027-01-14T07:30:00Z")


def test_catchup_latest_coalesces_the_older_ones_inside_the_window() -> None:
    _spec, p = three_day_gap("latest", catchup_window_s=7 * 86400.0)
    assert [(o.nominal, c) for o, c in p.launches] == [(utc("2027-01-13T07:30:00Z"), True)]
    assert [(s.reason, s.count) for s in p.skips] == [("coalesced", 3)]
    assert p.skips[0].first.nominal == utc("2027-01-10T07:30:00Z")


def test_catchup_all_launches_each_in_window_in_order() -> None:
    _spec, p = three_day_gap("all", catchup_window_s=2 * 86400.0)
    assert [o.nominal for o, _ in p.launches] == [utc("2027-01-12T07:30:00Z"),
                                                  utc("2027-01-13T07:30:00Z")]
    assert all(c for _, c in p.launches)
    assert [(s.reason, s.count) for s in p.skips] == [("outside_window", 2)]


def test_catchup_all_respects_max_catchup_per_tick() -> None:
    spec = daily(catchup="all", catchup_window_s=30 * 86400.0, max_catchup=2)
    occ = first_after(spec, utc("2027-01-10T00:00:00Z"))
    p = plan(spec, occ, utc("2027-01-15T12:00:00Z"))
    assert [o.nominal for o, _ in p.launches] == [utc("2027-01-10T07:30:00Z"),
                                                  utc("2027-01-11T07:30:00Z")]
    # The rest waits, still due, for the next tick.
    assert p.next is not None and p.next.nominal == utc("2027-01-12T07:30:00Z")
    p2 = plan(spec, p.next, utc("2027-01-15T12:00:00Z"))
    assert [o.nominal for o, _ in p2.launches] == [utc("2027-01-12T07:30:00Z"),
                                                   utc("2027-01-13T07:30:00Z")]


def test_catchup_none_launches_only_on_time() -> None:
    _spec, p = three_day_gap("none")
    assert p.launches == []
    assert [(s.reason, s.count) for s in p.skips] == [("missed", 4)]


def test_latest_with_an_on_time_occurrence_coalesces_the_missed_ones() -> None:
    spec = daily(catchup="latest", catchup_window_s=7 * 86400.0)
    occ = first_after(spec, utc("2027-01-10T00:00:00Z"))
    p = plan(spec, occ, utc("2027-01-13T07:30:20Z"))
    assert [(o.nominal, c) for o, c in p.launches] == [(utc("2027-01-13T07:30:00Z"), False)]
    assert [(s.reason, s.count) for s in p.skips] == [("coalesced", 3)]


def test_one_time_fires_once_then_completes() -> None:
    spec = ScheduleSpec(workflow_id="once", trigger_type="schedule", timezone="UTC",
                        run_at=utc("2027-01-15T14:00:00Z"))
    occ = first_after(spec, utc("2027-01-01T00:00:00Z"))
    assert occ is not None and occ.fire_key == "schedule:once:2027-01-15T14:00:00Z"
    assert plan(spec, occ, utc("2027-01-15T13:59:59Z")).status == "scheduled"
    p = plan(spec, occ, utc("2027-01-15T14:00:05Z"))
    assert p.status == "completed" and p.next is None
    assert [(o.fire_key, c) for o, c in p.launches] == [(occ.fire_key, False)]
    assert first_after(spec, utc("2027-01-15T14:00:00Z")) is None


@pytest.mark.parametrize(("policy", "late", "status", "launched"), [
    ("latest", timedelta(hours=3), "completed", True),
    ("all", timedelta(hours=3), "completed", True),
    ("none", timedelta(hours=3), "missed", False),
    ("latest", timedelta(days=2), "missed", False),
])
def test_one_time_late(policy: str, late: timedelta, status: str, launched: bool) -> None:
    spec = ScheduleSpec(workflow_id="once", trigger_type="schedule", timezone="UTC",
                        run_at=utc("2027-01-15T14:00:00Z"), catchup=policy)  # type: ignore[arg-type]
    occ = first_after(spec, utc("2027-01-01T00:00:00Z"))
    p = plan(spec, occ, utc("2027-01-15T14:00:00Z") + late)
    assert p.status == status
    assert bool(p.launches) is launched
    if launched:
        assert p.launches[0][1] is True          # a catch-up
    else:
        assert p.status_reason and "missed" in p.status_reason
        assert p.skips and p.skips[0].reason in ("missed", "outside_window")


def test_dst_skip_is_recorded_and_the_next_regular_fire_follows() -> None:
    spec = daily(dst_gap="skip")
    occ = first_after(spec, utc("2027-03-13T12:00:00Z"))
    assert occ is not None and occ.kind == "gap_skipped" and not occ.fires
    p = plan(spec, occ, utc("2027-03-14T07:00:10Z"))
    assert p.launches == []
    assert [s.reason for s in p.skips] == ["dst_skip"]
    assert p.next is not None and p.next.nominal == utc("2027-03-15T06:30:00Z")


def test_gap_run_after_launches_at_the_end_of_the_gap() -> None:
    spec = daily()
    occ = first_after(spec, utc("2027-03-13T12:00:00Z"))
    assert occ is not None and occ.kind == "gap_shifted"
    assert occ.nominal == utc("2027-03-14T07:00:00Z")            # 03:00 EDT
    assert occ.fire_key == "recurring:nightly:2027-03-14T07:00:00Z"


def test_occurrence_at_rebuilds_every_kind() -> None:
    for gap, fold in (("run_after", "once"), ("skip", "twice")):
        spec = daily(cron="30 1,2 * * *", dst_gap=gap, dst_fold=fold)
        occs = occurrences_between(spec, utc("2027-03-13T00:00:00Z"),
                                   utc("2027-03-16T00:00:00Z"), include_skipped=True)
        occs += occurrences_between(spec, utc("2027-11-06T00:00:00Z"),
                                    utc("2027-11-09T00:00:00Z"), include_skipped=True)
        assert {o.kind for o in occs} >= {"normal"}
        for o in occs:
            assert occurrence_at(spec, o.nominal, o.kind) == o


def test_following_walks_the_same_sequence_as_iteration() -> None:
    spec = daily(cron="*/30 * * * *", dst_gap="skip")
    start = utc("2027-11-07T04:00:00Z")
    occs = occurrences_between(spec, start, start + timedelta(hours=6), include_skipped=True)
    walked = [occs[0]]
    while len(walked) < len(occs):
        nxt = following(spec, walked[-1])
        assert nxt is not None
        walked.append(nxt)
    assert walked == occs
    # The repeated hour is walked in both passes by a wildcard job.
    assert sum(1 for o in occs if o.local.strftime("%H:%M") == "01:30") == 2


def test_label() -> None:
    assert daily().label == "recurring 02:30 America/New_York"
    assert daily(cron="*/5 * * * *").label == "recurring */5 * * * * America/New_York"
    assert daily(cron="@daily").label == "recurring 00:00 America/New_York"
    assert daily(cron="@hourly").label == "recurring @hourly America/New_York"
    one = ScheduleSpec(workflow_id="o", trigger_type="schedule", timezone="Europe/Berlin",
                       run_at=utc("2027-01-15T14:00:00Z"))
    assert one.label == "one-time 2027-01-15 15:00 Europe/Berlin"


def test_latest_does_not_pick_a_target_before_the_scan_reaches_now(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A backlog longer than one scan: `latest` must still launch exactly one run, the most
    recent, not one per scan."""
    import clockwf.schedule as schedule

    monkeypatch.setattr(schedule, "MAX_SCAN", 50)
    spec = daily(cron="* * * * *", timezone="UTC", catchup_window_s=86400.0)
    now = utc("2027-01-10T03:00:30Z")
    occ = first_after(spec, utc("2027-01-10T00:00:00Z"))
    launched = []
    for _ in range(10):
        p = plan(spec, occ, now)
        launched += [o.nominal for o, _c in p.launches]
        occ = p.next
        if occ is None or occ.due > now:
            break
    assert launched == [utc("2027-01-10T03:00:00Z")]


def test_jitter_must_be_shorter_than_the_interval() -> None:
    from pydantic import ValidationError

    from clockwf.cron import parse_cron
    from clockwf.models import RecurringTrigger

    assert parse_cron("*/5 * * * *").min_interval() == timedelta(minutes=5)
    assert parse_cron("0 22,23,0 * * *").min_interval() == timedelta(hours=1)
    assert parse_cron("30 2 * * *").min_interval() == timedelta(days=1)
    # Day restrictions count: the gap from one matching day's last time to the next one's first.
    assert parse_cron("0 9,17 * * 1-5").min_interval() == timedelta(hours=8)
    assert parse_cron("0 1,23 * * 1,2").min_interval() == timedelta(hours=2)  # Mon 23 -> Tue 1
    assert parse_cron("0 9 * * 1,4").min_interval() == timedelta(days=3)
    assert parse_cron("0 0 1 * *").min_interval() == timedelta(days=28)      # Feb -> Mar
    assert parse_cron("0 0 31 * *").min_interval() == timedelta(days=31)     # Jul -> Aug
    assert parse_cron("0 0 29 2 *").min_interval() == timedelta(days=4 * 365 + 1)
    assert parse_cron("0 12 15 * 1").min_interval() == timedelta(days=1)    # OR: 15th or Mon
    RecurringTrigger.model_validate({"type": "recurring", "cron": "0 3 1 * *",
                                     "jitter": "2d"})
    RecurringTrigger.model_validate({"type": "recurring", "cron": "*/5 * * * *",
                                     "jitter": "4m"})
    with pytest.raises(ValidationError, match="not shorter than the shortest interval"):
        RecurringTrigger.model_validate({"type": "recurring", "cron": "*/5 * * * *",
                                         "jitter": "5m"})
