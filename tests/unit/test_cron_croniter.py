"""croniter as a second oracle, where its semantics are the reference's (docs/design.md §2).

croniter is not clockwf's engine (README, "Dependencies, and why"): it fires a fixed-time job in
both passes of a repeated hour and ORs a ``*/n`` day-of-month with a day-of-week. Where neither
can happen, in UTC and with a day field that is exactly ``*``, it must agree with clockwf
instant for instant; the two places it differs are pinned below, so that a change on either
side is noticed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from clockwf import next_fires

SETTINGS = settings(derandomize=True, database=None, deadline=None, max_examples=150)


def _field(low: int, high: int, *, start_step: bool = True) -> st.SearchStrategy[str]:
    number = st.integers(low, high)
    single = number.map(str)
    # (a range a-a is left out: croniter 7 reads "5-5" in the hour field as every hour)
    span = st.tuples(number, number).filter(lambda p: p[0] != p[1]).map(sorted).map(
        lambda p: f"{p[0]}-{p[1]}")
    step = st.tuples(st.sampled_from(["*", None]), st.integers(1, max(1, high - low)),
                     number).map(lambda t: f"{t[0] or t[2]}/{t[1]}")
    if not start_step:
        step = step.filter(lambda text: text.startswith("*"))
    item = st.one_of(single, span, step)
    listed = st.lists(item, min_size=1, max_size=3).map(",".join)
    return st.one_of(st.just("*"), item, listed)


@st.composite
def expressions(draw: st.DrawFn) -> str:
    minute, hour, month = draw(_field(0, 59)), draw(_field(0, 23)), draw(_field(1, 12))
    # (no "a/n" weekday: Vixie cron runs it to 7, Sunday, croniter 7 stops at 6)
    dom, dow = draw(_field(1, 28)), draw(_field(0, 6, start_step=False))
    # One day field exactly "*": the AND/OR question does not arise.
    if draw(st.booleans()):
        dom = "*"
    else:
        dow = "*"
    return f"{minute} {hour} {dom} {month} {dow}"


@SETTINGS
@given(cron=expressions(),
       start=st.datetimes(datetime(1990, 1, 1), datetime(2090, 1, 1)).map(
           lambda d: d.replace(second=0, microsecond=0, tzinfo=UTC)))
def test_clockwf_agrees_with_croniter_in_utc(cron: str, start: datetime) -> None:
    ours = next_fires(cron, "UTC", start, 12)
    it = croniter(cron, start)
    theirs = [it.get_next(datetime) for _ in range(12)]
    assert ours == theirs, cron
    assert all(a < b for a, b in zip([start, *ours], ours, strict=False))


def test_where_croniter_differs_a_repeated_hour() -> None:
    """A fixed-time job at fall-back: croniter fires in both passes, the reference in the
    first only (docs/design.md §2.2)."""
    zone = ZoneInfo("America/New_York")
    start = datetime(2027, 11, 6, 12, 0, tzinfo=zone)
    it = croniter("30 1 * * *", start)
    theirs = [it.get_next(datetime) for _ in range(2)]
    assert [t.utcoffset() for t in theirs] == [timedelta(hours=-4), timedelta(hours=-5)]
    ours = next_fires("30 1 * * *", "America/New_York", start, 2)
    assert [o.isoformat() for o in ours] == ["2027-11-07T01:30:00-04:00",
                                             "2027-11-08T01:30:00-05:00"]


def test_where_croniter_differs_a_starred_step_day_field() -> None:
    """``*/2`` starts with ``*``: Vixie cron ANDs it with the weekday (docs/design.md §2.4),
    croniter ORs them."""
    start = datetime(2027, 1, 1, tzinfo=UTC)
    it = croniter("0 0 */2 * MON", start)
    theirs = [it.get_next(datetime).day for _ in range(3)]
    assert theirs == [3, 4, 5]          # odd days OR Mondays
    ours = [f.day for f in next_fires("0 0 */2 * MON", "UTC", start, 3)]
    assert ours == [11, 25, 1]          # Mondays that are odd days of the month
