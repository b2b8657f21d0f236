"""clockwf.tz against zoneinfo, for every zone of the IANA database on this machine.

zoneinfo is the oracle: it reads the same TZif files with independent code. For each zone the
periods the engine lists between 1900 and 2400 are walked end to end; around every transition
(t-1, t, t+1) and at a seeded random sample of instants from 1800 to 2400 the offsets must agree.
A weekly scan of DST-rich zones catches a transition the engine would not list at all.
"""

from __future__ import annotations

import itertools
import random
import zoneinfo
from datetime import UTC, datetime
from functools import cache

import pytest

from clockwf.errors import TimezoneError
from clockwf.tz import Period, ZoneRules, zone_rules


def epoch(year: int, month: int = 1, day: int = 1) -> int:
    return int(datetime(year, month, day, tzinfo=UTC).timestamp())


Y1800, Y1900, Y2100, Y2400 = epoch(1800), epoch(1900), epoch(2100), epoch(2400)
# Every zone one can schedule in: the tz database's names, less the files that name no place
# (localtime, Factory), which clockwf refuses (tests/unit/test_timeutil.py).
ZONES = sorted(z for z in zoneinfo.available_timezones() if z not in ("localtime", "Factory"))
DST_RICH = ["America/New_York", "Europe/Berlin", "Australia/Sydney", "Australia/Lord_Howe",
            "Europe/Dublin", "Pacific/Apia", "Antarctica/Casey", "America/Santiago",
            "Asia/Tehran", "Africa/Casablanca", "America/Havana", "Asia/Jerusalem",
            "America/Nuuk", "Antarctica/Troll", "Pacific/Chatham", "Europe/London",
            "America/Asuncion", "Asia/Gaza", "Europe/Moscow", "America/Sao_Paulo"]


@cache
def oracle(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def expected_offset(name: str, t: int) -> int:
    offset = datetime.fromtimestamp(t, oracle(name)).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


def walk(rules: ZoneRules, start: int, stop: int) -> list[Period]:
    """The periods overlapping [start, stop)."""
    out = [rules.period(start)]
    while out[-1].end is not None and out[-1].end < stop:
        out.append(rules.period(out[-1].end))
    return out


def test_zone_list_is_the_full_database() -> None:
    assert len(ZONES) > 400
    assert {"America/New_York", "Europe/Dublin", "Pacific/Apia", "UTC"} <= set(ZONES)


@pytest.mark.parametrize("chunk", range(8))
def test_every_zone_matches_zoneinfo(chunk: int) -> None:
    mismatches: list[str] = []
    for name in ZONES[chunk::8]:
        rules = zone_rules(name)
        periods = walk(rules, Y1900, Y2400)
        checked: list[int] = []
        for before, after in itertools.pairwise(periods):
            # Consecutive periods meet at one transition, and the offset really changes there.
            assert before.end is not None and before.end == after.start, name
            assert before.next_offset == after.offset, name
            assert after.prev_offset == before.offset, name
            assert before.offset != after.offset, (name, after.start)
            checked += [before.end - 1, before.end, before.end + 1]
        for p in periods:
            # The middle of each period (bounded ones) has the period's offset.
            if p.start is not None and p.end is not None:
                checked.append((p.start + p.end) // 2)
        rnd = random.Random(name)
        checked += [rnd.randrange(Y1800, Y2400) for _ in range(60)]
        for t in checked:
            got, want = rules.offset_at(t), expected_offset(name, t)
            if got != want:
                mismatches.append(f"{name} at {t}: {got} != {want}")
            p = rules.period(t)
            assert p.offset == got
            assert (p.start is None or p.start <= t) and (p.end is None or t < p.end), (name, t)
    assert mismatches == []


@pytest.mark.parametrize("name", DST_RICH)
def test_weekly_scan_finds_no_unlisted_transition(name: str) -> None:
    rules = zone_rules(name)
    rnd = random.Random(name)
    for t in range(Y1900 + rnd.randrange(86400), Y2100, 7 * 86400 - 3607):
        assert rules.offset_at(t) == expected_offset(name, t), (name, t)


def test_transition_counts_in_a_sample_year() -> None:
    # New York 2027: two changes, at 07:00Z on 03-14 and 06:00Z on 11-07.
    rules = zone_rules("America/New_York")
    periods = walk(rules, epoch(2027), epoch(2028))
    assert [p.end for p in periods[:-1]] == [
        int(datetime(2027, 3, 14, 7, tzinfo=UTC).timestamp()),
        int(datetime(2027, 11, 7, 6, tzinfo=UTC).timestamp()),
    ]
    assert [p.offset for p in periods] == [-18000, -14400, -18000]


def test_static_and_unbounded_periods() -> None:
    utc = zone_rules("UTC").period(epoch(2027))
    assert (utc.start, utc.end, utc.offset, utc.prev_offset, utc.next_offset) == (
        None, None, 0, None, None)
    # Kolkata: no change since 1945, so the last period is open-ended.
    last = zone_rules("Asia/Kolkata").period(epoch(2300))
    assert last.end is None and last.next_offset is None and last.offset == 19800
    assert last.start is not None and last.start < epoch(1946)
    # Before the first transition: local mean time, no start.
    first = zone_rules("America/New_York").period(-5_000_000_000)
    assert first.start is None and first.prev_offset is None and first.offset == -17762
    assert first.end == int(datetime(1883, 11, 18, 17, tzinfo=UTC).timestamp())


def test_far_future_first_gives_the_same_periods() -> None:
    # The footer is evaluated lazily; asking for 2350 first must not leave holes before it.
    fresh = ZoneRules("Europe/Berlin")
    assert fresh.offset_at(epoch(2350, 7)) == 7200
    cached = zone_rules("Europe/Berlin")
    assert walk(fresh, Y2100, Y2400) == walk(cached, Y2100, Y2400)
    # And the last year datetime can hold still has its two changes.
    assert len(walk(fresh, epoch(9999), epoch(9999, 12, 31))) == 3


def test_unknown_zone() -> None:
    with pytest.raises(TimezoneError, match="unknown time zone 'Europe/Nowhere'"):
        zone_rules("Europe/Nowhere")
