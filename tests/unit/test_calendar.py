"""Business calendars and bounds through the planner's view of a schedule (first_after /
following / occurrences_between): moved, excluded and merged occurrences, start/end bounds."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clockwf.calendar import BusinessCalendar
from clockwf.models import Definition
from clockwf.schedule import Occurrence, ScheduleSpec, first_after, following
from clockwf.validate import validate_path, validate_source
from tests import triggers
from tests.triggers import berlin_business_days

NOW = datetime(2027, 1, 1, tzinfo=UTC)


def spec_of(trigger: str) -> ScheduleSpec:
    return triggers.spec_of(trigger, NOW)


def walk(spec: ScheduleSpec, after: datetime, until: datetime) -> list[Occurrence]:
    out = []
    occ = first_after(spec, after)
    while occ is not None and occ.local <= until:
        out.append(occ)
        occ = following(spec, occ)
        assert len(out) < 5000
    return out


LAST_BUSINESS_DAY = """
    type: recurring
    timezone: Europe/Berlin
    rrule: "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"
    dtstart: "2027-01-01T17:00"
    calendar:
      holidays: {country: DE, subdiv: BY}
      exclude_dates: ["2027-12-24", "2027-12-31"]
"""


def test_last_business_day_in_berlin_skips_holidays() -> None:
    spec = spec_of(LAST_BUSINESS_DAY)
    occs = walk(spec, NOW, datetime(2028, 1, 1, tzinfo=UTC))
    fired = [o.local.date().isoformat() for o in occs if o.fires]
    assert fired == ["2027-01-29", "2027-02-26", "2027-03-31", "2027-04-30", "2027-05-31",
                     "2027-06-30", "2027-07-30", "2027-08-31", "2027-09-30", "2027-10-29",
                     "2027-11-30"]
    excluded = [o for o in occs if not o.fires]
    assert [(o.local.date().isoformat(), o.cal, o.skip_reason, o.note) for o in excluded] == [
        ("2027-12-31", "excluded", "excluded", "excluded: excluded date")]
    assert all(o.local.hour == 17 for o in occs)


def test_moved_to_next_business_day_keeps_its_fire_key() -> None:
    spec = spec_of(berlin_business_days('cron: "0 9 1 * *"'))
    occs = walk(spec, datetime(2027, 4, 15, tzinfo=UTC), datetime(2027, 6, 2, tzinfo=UTC))
    may = occs[0]
    assert may.cal == "moved" and may.fires
    assert may.fire_key == "recurring:job:2027-05-01T07:00:00Z"
    assert may.local.isoformat() == "2027-05-03T09:00:00+02:00"
    assert may.moved_from is not None and may.moved_from.isoformat() == \
        "2027-05-01T09:00:00+02:00"
    assert may.note == "moved from 2027-05-01 (Erster Mai)"
    assert may.due == datetime(2027, 5, 3, 7, tzinfo=UTC)
    assert occs[1].local.isoformat() == "2027-06-01T09:00:00+02:00" and occs[1].cal is None


def test_moved_onto_an_occurrence_merges_into_it() -> None:
    # 2027-12-25 and 26 are Saturday and Sunday holidays; Monday the 27th has its own.
    spec = spec_of(berlin_business_days('cron: "0 8 * * *"'))
    occs = walk(spec, datetime(2027, 12, 24, 12, tzinfo=UTC), datetime(2027, 12, 27, 12,
                                                                        tzinfo=UTC))
    assert [(o.fire_key[-20:], o.cal, o.fires) for o in occs] == [
        ("2027-12-25T07:00:00Z", "merged", False),
        ("2027-12-26T07:00:00Z", "merged", False),
        ("2027-12-27T07:00:00Z", None, True)]
    assert occs[0].skip_reason == "coalesced"
    assert occs[0].note == ("moved from 2027-12-25 (Erster Weihnachtstag) to 2027-12-27 08:00, "
                            "merged into the occurrence already at 2027-12-27T08:00:00+01:00")


def test_two_moved_onto_one_day_merge_into_the_first() -> None:
    spec = spec_of(berlin_business_days("""
        rrule: "FREQ=WEEKLY;BYDAY=SA,SU"
        dtstart: "2027-01-02T10:00"
    """))
    occs = walk(spec, datetime(2027, 12, 20, tzinfo=UTC), datetime(2027, 12, 28, tzinfo=UTC))
    # At one instant the occurrence that does not run is listed (and recorded) first.
    assert [(o.fire_key[-20:], o.cal, o.local.date().isoformat()) for o in occs] == [
        ("2027-12-26T09:00:00Z", "merged", "2027-12-27"),
        ("2027-12-25T09:00:00Z", "moved", "2027-12-27")]
    assert "merged into the occurrence moved there from 2027-12-25" in (occs[0].note or "")


def test_previous_business_day_comes_before_later_occurrences() -> None:
    # Ascension (Thursday 2027-05-06) moves back to Wednesday, ahead of nothing else.
    spec = spec_of(berlin_business_days("""
        rrule: "FREQ=WEEKLY;BYDAY=TU,TH;BYHOUR=18;BYMINUTE=0"
        dtstart: "2027-05-01T00:00"
    """, "previous_business_day"))
    occs = walk(spec, datetime(2027, 5, 3, tzinfo=UTC), datetime(2027, 5, 12, tzinfo=UTC))
    assert [(o.local.strftime("%a %d"), o.cal) for o in occs] == [
        ("Tue 04", None), ("Wed 05", "moved"), ("Tue 11", None)]


def test_bounds() -> None:
    spec = spec_of("""
        type: recurring
        timezone: America/New_York
        every: 12h
        anchor: "2027-03-01T06:00"
        start_at: "2027-03-05T12:00"
        end_at: "2027-03-07T06:00"
    """)
    occs = walk(spec, NOW, datetime(2028, 1, 1, tzinfo=UTC))
    assert [o.local.isoformat() for o in occs] == [
        "2027-03-05T18:00:00-05:00", "2027-03-06T06:00:00-05:00", "2027-03-06T18:00:00-05:00",
        "2027-03-07T06:00:00-05:00"]
    assert first_after(spec, datetime(2027, 3, 7, 12, tzinfo=UTC)) is None
    assert spec.completion_reason().startswith("completed: end_at 2027-03-07T06:00:00-05:00")


def test_the_calendar_rows_round_trip() -> None:
    spec = spec_of(LAST_BUSINESS_DAY)
    row = {**spec.row_fields(), "version": 1}
    again = ScheduleSpec.from_row(row)
    assert again == spec and again.same_trigger(spec)
    assert json.loads(row["trigger_spec"])["calendar"]["holidays"] == {
        "country": "DE", "subdiv": "BY", "language": None}


# -- properties ---------------------------------------------------------------------------------

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe"]
RULES = [
    ('cron: "0 9 * * *"', None),
    ('cron: "30 2 * * 1-5"', None),
    ('cron: "0 0,12 1,15 * *"', None),
    ('rrule: "FREQ=WEEKLY;BYDAY=MO,SA;BYHOUR=9,17;BYMINUTE=0"', "2027-01-01T00:00"),
    ('rrule: "FREQ=MONTHLY;BYMONTHDAY=1,-1"', "2027-01-01T08:30"),
    ('rrule: "FREQ=DAILY;INTERVAL=3"', "2027-01-02T02:30"),
    ('rrule: "FREQ=HOURLY;INTERVAL=7;BYMINUTE=10"', "2027-01-01T00:00"),
    ("every: 17h", None),
]
COUNTRIES = [("DE", None), ("AU", "NSW"), ("US", "NY"), (None, None)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=True)
@given(rule=st.sampled_from(RULES), zone=st.sampled_from(ZONES),
       country=st.sampled_from(COUNTRIES),
       extra=st.lists(st.dates(min_value=date(2027, 1, 1), max_value=date(2028, 12, 31)),
                      max_size=12),
       mode=st.sampled_from(["skip", "next_business_day", "previous_business_day"]),
       start_day=st.integers(0, 600), span_days=st.integers(1, 90))
def test_calendar_properties(rule: tuple[str, str | None], zone: str,
                             country: tuple[str | None, str | None], extra: list[date],
                             mode: str, start_day: int, span_days: int) -> None:
    body, dtstart = rule
    if country[0] is None and not extra:
        extra = [date(2027, 7, 4)]
    lines = ["type: recurring", f"timezone: {zone}", body]
    if dtstart:
        lines.append(f'dtstart: "{dtstart}"')
    if body.startswith("every"):
        lines.append('anchor: "2027-01-01T03:00"')
    lines.append("calendar:")
    if country[0]:
        sub = f", subdiv: {country[1]}" if country[1] else ""
        lines.append(f"  holidays: {{country: {country[0]}{sub}}}")
    if extra:
        lines.append("  exclude_dates: [" + ", ".join(f'"{d}"' for d in extra) + "]")
    lines.append(f"  on_excluded: {mode}")
    spec = spec_of("\n".join(lines))
    plain = ScheduleSpec.from_definition(_without_calendar(spec, lines))
    assert plain is not None
    cal = spec.business
    assert cal is not None
    tz = ZoneInfo(zone)
    start = datetime(2027, 1, 1, tzinfo=tz) + timedelta(days=start_day)
    end = start + timedelta(days=span_days)
    occs = walk(spec, start, end)
    fired = [o for o in occs if o.fires]
    # Strictly increasing run instants; unique fire keys.
    runs = [o.local.astimezone(UTC) for o in fired]
    assert all(a < b for a, b in itertools.pairwise(runs))
    assert len({o.fire_key for o in occs}) == len(occs)
    engine_keys = {o.fire_key for o in walk(plain, start - timedelta(days=16),
                                            end + timedelta(days=16))}
    for occ in occs:
        assert occ.fire_key in engine_keys            # every key is the rule's own
        day = (occ.moved_from or occ.local).date()
        if occ.cal is None:
            assert cal.reason(occ.local.date()) is None or not occ.fires
        elif occ.cal == "excluded":
            assert cal.reason(day) is not None
        else:
            assert occ.moved_from is not None and cal.reason(day) is not None
            assert cal.business(occ.local.date())      # moved onto a business day
            forward = mode == "next_business_day"
            assert (occ.local.date() > day) if forward else (occ.local.date() < day)
            assert occ.local.astimezone(tz).strftime("%H:%M") == \
                occ.moved_from.strftime("%H:%M") or occ.kind != "normal"
    for occ in fired:                                  # none runs on an excluded day
        assert cal.reason(occ.local.date()) is None


def _without_calendar(spec: ScheduleSpec, lines: list[str]) -> Definition:
    index = lines.index("calendar:")
    text = "id: job\ntrigger:\n" + "\n".join("  " + line for line in lines[:index]) + \
        "\nsteps:\n  - run: 'true'\n"
    report = validate_source(text, "plain.yaml", NOW)
    assert report.definition is not None
    return report.definition


def test_business_calendar_reasons() -> None:
    cal = BusinessCalendar({"holidays": {"country": "DE", "subdiv": "BY"},
                            "exclude_dates": ["2027-12-24"], "on_excluded": "skip"})
    assert cal.reason(date(2027, 1, 6)) == "Heilige Drei Könige"
    assert cal.reason(date(2027, 12, 24)) == "excluded date"
    assert cal.reason(date(2027, 12, 23)) is None
    assert not cal.business(date(2027, 12, 25)) and not cal.business(date(2027, 12, 4))
    assert cal.target(date(2027, 12, 24)) is None


@pytest.mark.parametrize(("trigger", "message", "field"), [
    ('cron: "0 9 * * *"\n  rrule: "FREQ=DAILY"\n  dtstart: "2027-01-01T09:00"',
     "takes exactly one of cron, rrule or every; got cron and rrule", "trigger.rrule"),
    ('rrule: "FREQ=DAILY"', "rrule needs dtstart", "trigger.rrule"),
    ('rrule: "FREQ=SECONDLY"\n  dtstart: "2027-01-01T09:00"', "SECONDLY is not supported",
     "trigger.rrule"),
    ('rrule: "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"\n  dtstart: "2027-01-01T09:00"',
     "never fires", "trigger.rrule"),
    ('rrule: "FREQ=DAILY"\n  dtstart: "2027-01-01T09:00+01:00"', "has a UTC offset",
     "trigger.dtstart"),
    ("every: 30s\n  anchor: '2027-01-01T00:00Z'", "too short", "trigger.every"),
    ("every: 1h", "every needs an anchor", "trigger.every"),
    ('cron: "0 9 * * *"\n  dtstart: "2027-01-01T09:00"', "dtstart goes with rrule",
     "trigger.dtstart"),
    ('cron: "0 9 * * *"\n  max_runs: 0', "must be at least 1; got 0", "trigger.max_runs"),
    ('cron: "0 9 * * *"\n  start_at: "2027-02-01T00:00Z"\n  end_at: "2027-01-01T00:00Z"',
     "is not after start_at", "trigger.end_at"),
    ('cron: "0 9 * * *"\n  calendar: {holidays: {country: XY}}', "is not a country",
     "trigger.calendar.holidays.country"),
    ('cron: "0 9 * * *"\n  calendar: {holidays: {country: DE, subdiv: ZZ}}',
     "is not a subdivision of DE", "trigger.calendar.holidays.subdiv"),
    ('cron: "0 9 * * *"\n  calendar: {exclude_dates: ["2027-02-30"]}', "is not a date",
     "trigger.calendar.exclude_dates[0]"),
    ('cron: "0 9 * * *"\n  calendar: {on_excluded: skip}', "needs holidays, exclude_dates",
     "trigger.calendar"),
])
def test_invalid_triggers_name_the_field(trigger: str, message: str, field: str) -> None:
    text = f"id: job\ntrigger:\n  type: recurring\n  {trigger}\nsteps:\n  - run: 'true'\n"
    report = validate_source(text, "job.yaml", NOW)
    assert not report.ok
    error = report.errors[0]
    assert message in error.message and error.field == field, str(error)
    assert error.line is not None and error.column is not None


def test_a_calendar_file_is_shared_and_its_errors_name_it(tmp_path: Path) -> None:
    (tmp_path / "cal").mkdir()
    shared = tmp_path / "cal" / "bavaria.yaml"
    shared.write_text("id: bavaria\nholidays: {country: DE, subdiv: BY}\n"
                      'exclude_dates: ["2027-12-24"]\n')
    specs = []
    for wid, mode in (("a", "skip"), ("b", "next_business_day")):
        path = tmp_path / f"{wid}.yaml"
        path.write_text(f"id: {wid}\ntrigger:\n  type: recurring\n  cron: '0 9 * * *'\n"
                        f"  calendar: {{file: cal/bavaria.yaml, on_excluded: {mode}}}\n"
                        "steps:\n  - run: 'true'\n")
        report = validate_path(path, NOW)
        assert report.ok and report.definition is not None, [str(e) for e in report.errors]
        spec = ScheduleSpec.from_definition(report.definition)
        assert spec is not None and spec.business is not None
        specs.append(spec)
    assert [s.business.on_excluded for s in specs if s.business] == ["skip",
                                                                     "next_business_day"]
    assert all(s.business and s.business.reason(date(2027, 12, 24)) == "excluded date"
               for s in specs)
    before = validate_path(tmp_path / "a.yaml", NOW).content_hash
    shared.write_text("holidays: {country: DE, subdiv: BY}\nexclude_dates: [\"2027-02-30\"]\n")
    broken = validate_path(tmp_path / "a.yaml", NOW)
    assert not broken.ok
    error = broken.errors[0]
    assert error.path == str(tmp_path / "cal" / "bavaria.yaml")
    assert (error.line, error.field) == (2, "exclude_dates[0]"), str(error)
    shared.write_text("holidays: {country: DE, subdiv: BY}\n")
    after = validate_path(tmp_path / "a.yaml", NOW)
    assert after.ok and after.content_hash != before   # a calendar change republishes


def test_validate_warns_past_the_holiday_data() -> None:
    text = ("id: job\ntrigger:\n  type: recurring\n  cron: '0 9 * * *'\n"
            "  end_at: '2150-01-01T00:00:00Z'\n  calendar: {holidays: {country: DE}}\n"
            "steps:\n  - run: 'true'\n")
    report = validate_source(text, "job.yaml", NOW)
    assert report.ok
    assert [(w.field, w.line) for w in report.warnings] == [("trigger.calendar.holidays", 6)]
    assert "runs until 2150, but the holidays data for DE covers" in report.warnings[0].message
    bounded = validate_source(text.replace("2150", "2030"), "job.yaml", NOW)
    assert bounded.ok and bounded.warnings == []
