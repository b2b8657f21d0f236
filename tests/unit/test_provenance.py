"""A time-triggered run's provenance (docs/design.md §3.2): time_run stores it lean (no key
its columns say again, no key at its default), and provenance() reads back exactly
time_provenance(), the document's definition, key order included. Over every kind of occurrence
the planner makes: DST gaps and folds either way, jitter, one-time schedules in fixed offsets,
rrule and every triggers, calendar moves and merges, catch-up and backfill flags, and daemon
names JSON must escape."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from clockwf.launcher import provenance, time_provenance, time_run
from clockwf.schedule import Occurrence, ScheduleSpec, first_after, following
from tests import triggers

SPAN_START = datetime(2027, 3, 1, tzinfo=UTC)
SPAN_END = datetime(2027, 11, 30, tzinfo=UTC)

ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata",
         "America/Santiago"]
CRONS = ["30 2 * * *", "0,30 1-3 * * *", "*/20 * * * 0", "15 0 1 * *", "0 12 * * MON-FRI"]


def spec_of(trigger: str) -> ScheduleSpec:
    return triggers.spec_of(trigger, SPAN_START)


def occurrences(spec: ScheduleSpec, limit: int = 400) -> list[Occurrence]:
    out: list[Occurrence] = []
    occ = first_after(spec, SPAN_START)
    while occ is not None and occ.local <= SPAN_END and len(out) < limit:
        out.append(occ)
        occ = following(spec, occ)
    return out


DERIVED = {"scheduled_for_utc", "due_at", "launch_lag_ms", "jitter_ms"}


def assert_same(spec: ScheduleSpec, occ: Occurrence, **flags: object) -> None:
    now = occ.due + timedelta(milliseconds=1234, microseconds=567)
    run = time_run(spec, 3, occ, now=now, **flags)  # type: ignore[arg-type]
    defined = time_provenance(spec, occ, now=now, **flags)  # type: ignore[arg-type]
    stored = json.loads(run.metadata)
    assert not DERIVED & set(stored)
    assert all(defined[key] == value for key, value in stored.items())
    assert run.metadata == json.dumps(stored, separators=(",", ":"), ensure_ascii=False)
    row = run._asdict()    # the columns the run is stored with
    read = provenance(row)
    assert read == defined
    assert list(read) == list(defined)   # the key order too
    assert json.dumps(read) == json.dumps(defined)


@settings(max_examples=60, deadline=None)
@given(cron=st.sampled_from(CRONS), zone=st.sampled_from(ZONES),
       gap=st.sampled_from(["run_after", "skip"]), fold=st.sampled_from(["once", "twice"]),
       jitter=st.sampled_from(["0s", "45s", "10m"]), catchup=st.booleans(),
       backfill=st.booleans(),
       instance=st.one_of(st.none(), st.text(min_size=1, max_size=12)))
def test_cron_provenance_is_the_defined_document(cron: str, zone: str, gap: str, fold: str,
                                                 jitter: str, catchup: bool, backfill: bool,
                                                 instance: str | None) -> None:
    spec = spec_of(f"""
        type: recurring
        cron: "{cron}"
        timezone: {zone}
        dst: {{gap: {gap}, fold: {fold}}}
        jitter: {jitter}
    """)
    occs = occurrences(spec)
    assert occs
    for occ in occs:
        assert_same(spec, occ, catchup=catchup, backfill=backfill, instance=instance)


def test_the_dst_kinds_are_all_covered() -> None:
    """The hypothesis cases above meet every DST kind (so the cached pieces are tried on the
    notes and kinds JSON writes out)."""
    kinds = set()
    for zone in ZONES:
        for gap in ("run_after", "skip"):
            spec = spec_of(f'type: recurring\ncron: "0,30 1-3 * * *"\ntimezone: {zone}\n'
                           f'dst: {{gap: {gap}, fold: twice}}')
            for occ in occurrences(spec, limit=5000):
                kinds.add(occ.kind)
                assert_same(spec, occ, catchup=False, backfill=False, instance="d\"1\\")
    assert {"normal", "gap_shifted", "gap_skipped", "fold_first", "fold_second"} <= kinds


def test_one_time_rrule_every_and_calendar_provenance() -> None:
    specs = [
        spec_of('type: schedule\nrun_at: "2027-06-01T09:30:00+05:45"'),
        spec_of('type: schedule\nrun_at: "2027-06-01T09:30:00"\ntimezone: America/New_York'),
        spec_of('type: recurring\ntimezone: Europe/Berlin\n'
                'rrule: "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"\n'
                'dtstart: "2027-01-01T17:00"'),
        spec_of('type: recurring\nevery: 90m\nanchor: "2027-03-01T00:10:00Z"\n'
                'timezone: Asia/Kolkata'),
        spec_of("type: recurring\ncron: \"0 9 * * *\"\ntimezone: Europe/Berlin\n"
                "calendar:\n  holidays: {country: DE, subdiv: BY}\n"
                "  exclude_dates: [\"2027-05-03\", \"2027-05-04\"]\n"
                "  on_excluded: next_business_day"),
        spec_of("type: recurring\ncron: \"0 9 * * MON\"\ntimezone: Europe/Berlin\n"
                "calendar:\n  holidays: {country: DE}\n  on_excluded: next_business_day"),
    ]
    seen_cal = set()
    for spec in specs:
        occs = occurrences(spec)
        assert occs, spec
        for occ in occs:
            seen_cal.add(occ.cal)
            for catchup, backfill in ((False, False), (True, False), (False, True)):
                assert_same(spec, occ, catchup=catchup, backfill=backfill, instance="host:1")
    assert {"moved", "merged"} <= seen_cal


def test_a_provenance_stored_whole_reads_back_as_stored() -> None:
    """Runs created before the lean form keep their document; manual and event runs too."""
    spec = spec_of('type: recurring\ncron: "30 2 * * *"\ntimezone: Europe/Berlin')
    occ = occurrences(spec)[0]
    now = occ.due + timedelta(seconds=2)
    whole = time_provenance(spec, occ, now=now, catchup=True)
    row = {**time_run(spec, 1, occ, now=now, catchup=True)._asdict(),
           "metadata": json.dumps(whole)}
    assert provenance(row) == whole
    manual = {"trigger_type": "manual", "metadata": '{"label":"manual","key":"k"}'}
    assert provenance(manual) == {"label": "manual", "key": "k"}
    assert provenance({"trigger_type": "event", "metadata": ""}) == {}


def test_the_stored_form_is_lean() -> None:
    spec = spec_of('type: recurring\ncron: "0 9 * * MON-FRI"\ntimezone: America/New_York')
    occ = occurrences(spec)[0]
    run = time_run(spec, 1, occ, now=occ.due, catchup=False)
    assert json.loads(run.metadata) == {"label": "recurring 0 9 * * MON-FRI America/New_York",
                                        "cron": "0 9 * * MON-FRI",
                                        "timezone": "America/New_York",
                                        "scheduled_for": "2027-03-01T09:00:00-05:00"}
    whole = time_provenance(spec, occ, now=occ.due, catchup=False)
    assert len(run.metadata) * 2 < len(json.dumps(whole, separators=(",", ":")))
