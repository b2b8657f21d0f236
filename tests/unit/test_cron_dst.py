"""Fire times across DST changes and clock corrections (docs/design.md §2.2, §2.3), written by hand.

Every expectation is an ISO-8601 string with its offset, in the schedule's zone. Changes are
tested in pairs (spring forward / fall back) for fixed-time and wildcard jobs and both ``dst``
choices. The transition instants used below, from the IANA data (checked with zoneinfo):

- America/New_York 2027: 03-14 02:00 EST -> 03:00 EDT; 11-07 02:00 EDT -> 01:00 EST.
- Europe/Berlin 2027: 03-28 02:00 CET -> 03:00 CEST; 10-31 03:00 CEST -> 02:00 CET.
- Australia/Sydney 2027: 04-04 03:00 AEDT -> 02:00 AEST; 10-03 02:00 AEST -> 03:00 AEDT.
- Australia/Lord_Howe 2027: 04-04 02:00 +11 -> 01:30 +10:30; 10-03 02:00 +10:30 -> 02:30 +11.
- Asia/Kathmandu: 1986-01-01 00:00 +05:30 -> 00:15 +05:45.
- Europe/Dublin 2027: 03-28 01:00 GMT -> 02:00 IST; 10-31 02:00 IST -> 01:00 GMT. The source
  data uses negative DST (IST is "standard", GMT in winter is DST with save -1h).
- Pacific/Apia: 2011-12-29 24:00 -10 -> 2011-12-31 00:00 +14 (the 30th never happened).
- Antarctica/Casey: 2009-10-18 02:00 +08 -> 05:00 +11; 2010-03-05 02:00 +11 -> 03-04 23:00 +08.
- America/New_York 2200 (from the POSIX footer): 03-09 and 11-02.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice, pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from clockwf import next_fires
from clockwf.cron import CronSchedule, Fire
from clockwf.errors import CronError, TimezoneError
from clockwf.tz import zone_rules

NY = "America/New_York"
BERLIN = "Europe/Berlin"
SYDNEY = "Australia/Sydney"
LORD_HOWE = "Australia/Lord_Howe"
KATHMANDU = "Asia/Kathmandu"
DUBLIN = "Europe/Dublin"
APIA = "Pacific/Apia"
CASEY = "Antarctica/Casey"


def fires(cron: str, zone: str, after: str, n: int = 3, **dst: Any) -> list[str]:
    """The next ``n`` firing occurrences, as ISO strings; checks they are in ``zone``."""
    schedule = CronSchedule(cron, zone, **dst)
    out = list(islice(schedule.iter_fires(datetime.fromisoformat(after)), n))
    for fire in out:
        assert isinstance(fire.at.tzinfo, ZoneInfo) and fire.at.tzinfo.key == zone
        assert fire.fires
    if not dst:
        # The public function gives the same instants.
        public = next_fires(cron, zone, datetime.fromisoformat(after), n)
        assert [d.isoformat() for d in public] == [f.at.isoformat() for f in out]
    return [f.at.isoformat() for f in out]


def occurrences(cron: str, zone: str, after: str, n: int = 3,
                **dst: Any) -> list[tuple[str, str, str]]:
    """(at, matched local wall time, kind), including the ones that do not fire."""
    schedule = CronSchedule(cron, zone, **dst)
    return [(f.at.isoformat(), f.local.isoformat(), f.kind)
            for f in islice(schedule.iter_fires(datetime.fromisoformat(after),
                                                include_skipped=True), n)]


BOTH_DST_CHOICES = [
    {"gap": "run_after", "fold": "once"},
    {"gap": "skip", "fold": "once"},
    {"gap": "run_after", "fold": "twice"},
    {"gap": "skip", "fold": "twice"},
]


# -- America/New_York 2027 -----------------------------------------------------------------------

class TestNewYork:
    def test_spring_fixed_time_runs_after_the_gap(self) -> None:
        assert fires("30 2 * * *", NY, "2027-03-13T00:00:00-05:00") == [
            "2027-03-13T02:30:00-05:00",
            "2027-03-14T03:00:00-04:00",
            "2027-03-15T02:30:00-04:00",
        ]
        assert occurrences("30 2 * * *", NY, "2027-03-13T12:00:00-05:00", 2) == [
            ("2027-03-14T03:00:00-04:00", "2027-03-14T02:30:00", "gap_shifted"),
            ("2027-03-15T02:30:00-04:00", "2027-03-15T02:30:00", "normal"),
        ]

    def test_spring_fixed_time_skip(self) -> None:
        assert fires("30 2 * * *", NY, "2027-03-13T00:00:00-05:00", gap="skip") == [
            "2027-03-13T02:30:00-05:00",
            "2027-03-15T02:30:00-04:00",
            "2027-03-16T02:30:00-04:00",
        ]
        assert occurrences("30 2 * * *", NY, "2027-03-13T12:00:00-05:00", 2, gap="skip") == [
            ("2027-03-14T03:00:00-04:00", "2027-03-14T02:30:00", "gap_skipped"),
            ("2027-03-15T02:30:00-04:00", "2027-03-15T02:30:00", "normal"),
        ]

    def test_spring_fixed_time_outside_the_gap_is_untouched(self) -> None:
        for dst in BOTH_DST_CHOICES:
            assert fires("0 3 * * *", NY, "2027-03-13T12:00:00-05:00", 2, **dst) == [
                "2027-03-14T03:00:00-04:00", "2027-03-15T03:00:00-04:00"]
            assert fires("59 1 * * *", NY, "2027-03-13T12:00:00-05:00", 2, **dst) == [
                "2027-03-14T01:59:00-05:00", "2027-03-15T01:59:00-04:00"]

    def test_spring_gap_shift_merges_with_a_regular_fire_at_the_same_instant(self) -> None:
        # 02:00 is shifted to 03:00, which is also a regular time of the job: one fire.
        assert fires("0 2,3 * * *", NY, "2027-03-13T12:00:00-05:00", 3) == [
            "2027-03-14T03:00:00-04:00",
            "2027-03-15T02:00:00-04:00",
            "2027-03-15T03:00:00-04:00",
        ]
        # With skip, the skipped 02:00 and the regular 03:00 share the instant.
        assert occurrences("0 2,3 * * *", NY, "2027-03-13T12:00:00-05:00", 3, gap="skip") == [
            ("2027-03-14T03:00:00-04:00", "2027-03-14T02:00:00", "gap_skipped"),
            ("2027-03-14T03:00:00-04:00", "2027-03-14T03:00:00", "normal"),
            ("2027-03-15T02:00:00-04:00", "2027-03-15T02:00:00", "normal"),
        ]
        # Several times inside one gap still give one fire.
        assert fires("0,20,40 2 * * *", NY, "2027-03-13T12:00:00-05:00", 2) == [
            "2027-03-14T03:00:00-04:00", "2027-03-15T02:00:00-04:00"]

    def test_spring_wildcard_skipped_times_do_not_occur(self) -> None:
        for dst in BOTH_DST_CHOICES:
            assert fires("*/30 * * * *", NY, "2027-03-14T01:00:00-05:00", 3, **dst) == [
                "2027-03-14T01:30:00-05:00",
                "2027-03-14T03:00:00-04:00",
                "2027-03-14T03:30:00-04:00",
            ]
            assert fires("30 * * * *", NY, "2027-03-14T00:00:00-05:00", 4, **dst) == [
                "2027-03-14T00:30:00-05:00",
                "2027-03-14T01:30:00-05:00",
                "2027-03-14T03:30:00-04:00",
                "2027-03-14T04:30:00-04:00",
            ]

    def test_spring_same_hours_fixed_or_wildcard(self) -> None:
        # The same set of times; only the classification differs (cronie: MIN_STAR|HR_STAR).
        assert fires("30 */2 * * *", NY, "2027-03-14T00:00:00-05:00", 2) == [
            "2027-03-14T00:30:00-05:00", "2027-03-14T04:30:00-04:00"]
        assert fires("30 0-23/2 * * *", NY, "2027-03-14T00:00:00-05:00", 3) == [
            "2027-03-14T00:30:00-05:00", "2027-03-14T03:00:00-04:00",
            "2027-03-14T04:30:00-04:00"]

    def test_fall_fixed_time_fires_once_in_the_first_pass(self) -> None:
        assert fires("30 1 * * *", NY, "2027-11-06T00:00:00-04:00") == [
            "2027-11-06T01:30:00-04:00",
            "2027-11-07T01:30:00-04:00",
            "2027-11-08T01:30:00-05:00",
        ]
        assert occurrences("30 1 * * *", NY, "2027-11-06T12:00:00-04:00", 2) == [
            ("2027-11-07T01:30:00-04:00", "2027-11-07T01:30:00", "fold_first"),
            ("2027-11-08T01:30:00-05:00", "2027-11-08T01:30:00", "normal"),
        ]

    def test_fall_fixed_time_twice(self) -> None:
        assert fires("30 1 * * *", NY, "2027-11-06T00:00:00-04:00", 4, fold="twice") == [
            "2027-11-06T01:30:00-04:00",
            "2027-11-07T01:30:00-04:00",
            "2027-11-07T01:30:00-05:00",
            "2027-11-08T01:30:00-05:00",
        ]
        assert occurrences("30 1 * * *", NY, "2027-11-06T12:00:00-04:00", 2, fold="twice") == [
            ("2027-11-07T01:30:00-04:00", "2027-11-07T01:30:00", "fold_first"),
            ("2027-11-07T01:30:00-05:00", "2027-11-07T01:30:00", "fold_second"),
        ]

    def test_fall_fixed_time_outside_the_fold_is_untouched(self) -> None:
        for dst in BOTH_DST_CHOICES:
            assert fires("0 2 * * *", NY, "2027-11-06T12:00:00-04:00", 2, **dst) == [
                "2027-11-07T02:00:00-05:00", "2027-11-08T02:00:00-05:00"]
            assert fires("59 0 * * *", NY, "2027-11-06T12:00:00-04:00", 2, **dst) == [
                "2027-11-07T00:59:00-04:00", "2027-11-08T00:59:00-05:00"]

    def test_fall_wildcard_fires_in_both_passes(self) -> None:
        for dst in BOTH_DST_CHOICES:
            assert fires("*/30 * * * *", NY, "2027-11-07T00:45:00-04:00", 5, **dst) == [
                "2027-11-07T01:00:00-04:00",
                "2027-11-07T01:30:00-04:00",
                "2027-11-07T01:00:00-05:00",
                "2027-11-07T01:30:00-05:00",
                "2027-11-07T02:00:00-05:00",
            ]
        assert [k for _, _, k in occurrences("*/30 * * * *", NY, "2027-11-07T00:45:00-04:00",
                                             5)] == [
            "fold_first", "fold_first", "fold_second", "fold_second", "normal"]

    def test_start_inside_the_first_pass(self) -> None:
        # Fixed: the rest of the first pass, then tomorrow.
        assert fires("45 1 * * *", NY, "2027-11-07T01:10:00-04:00", 2) == [
            "2027-11-07T01:45:00-04:00", "2027-11-08T01:45:00-05:00"]
        # Wildcard: the next fire is an EARLIER wall time, in the second pass.
        assert fires("*/20 * * * *", NY, "2027-11-07T01:50:00-04:00", 4) == [
            "2027-11-07T01:00:00-05:00",
            "2027-11-07T01:20:00-05:00",
            "2027-11-07T01:40:00-05:00",
            "2027-11-07T02:00:00-05:00",
        ]

    def test_start_inside_the_second_pass(self) -> None:
        # 01:45 EDT was 25 minutes before the start (01:10 EST): never return it.
        assert fires("45 1 * * *", NY, "2027-11-07T01:10:00-05:00", 2) == [
            "2027-11-08T01:45:00-05:00", "2027-11-09T01:45:00-05:00"]
        assert fires("45 1 * * *", NY, "2027-11-07T01:10:00-05:00", 2, fold="twice") == [
            "2027-11-07T01:45:00-05:00", "2027-11-08T01:45:00-05:00"]
        assert fires("0 1 * * *", NY, "2027-11-07T01:10:00-05:00", 1, fold="twice") == [
            "2027-11-08T01:00:00-05:00"]
        assert fires("*/20 * * * *", NY, "2027-11-07T01:10:00-05:00", 3) == [
            "2027-11-07T01:20:00-05:00",
            "2027-11-07T01:40:00-05:00",
            "2027-11-07T02:00:00-05:00",
        ]

    def test_start_exactly_at_a_fire(self) -> None:
        assert fires("30 2 * * *", NY, "2027-03-15T02:30:00-04:00", 1) == [
            "2027-03-16T02:30:00-04:00"]
        # The gap-shifted fire itself is not "after" its own instant.
        assert fires("30 2 * * *", NY, "2027-03-14T03:00:00-04:00", 1) == [
            "2027-03-15T02:30:00-04:00"]
        assert fires("30 1 * * *", NY, "2027-11-07T01:30:00-04:00", 1, fold="twice") == [
            "2027-11-07T01:30:00-05:00"]
        assert fires("*/30 * * * *", NY, "2027-11-07T01:30:00-04:00", 1) == [
            "2027-11-07T01:00:00-05:00"]
        # A microsecond before a fire returns that fire.
        assert fires("30 2 * * *", NY, "2027-03-15T02:29:59.999999-04:00", 1) == [
            "2027-03-15T02:30:00-04:00"]

    def test_start_exactly_at_a_transition(self) -> None:
        # Spring: 07:00Z is both 01:59:59+1s EST and 03:00 EDT.
        assert fires("*/30 * * * *", NY, "2027-03-14T07:00:00+00:00", 1) == [
            "2027-03-14T03:30:00-04:00"]
        assert fires("*/30 * * * *", NY, "2027-03-14T06:59:59+00:00", 1) == [
            "2027-03-14T03:00:00-04:00"]
        assert fires("30 2 * * *", NY, "2027-03-14T06:59:59+00:00", 1) == [
            "2027-03-14T03:00:00-04:00"]
        assert fires("30 2 * * *", NY, "2027-03-14T07:00:00+00:00", 1) == [
            "2027-03-15T02:30:00-04:00"]
        # Fall: 06:00Z is 01:00 EST, the start of the second pass.
        assert fires("*/30 * * * *", NY, "2027-11-07T06:00:00+00:00", 1) == [
            "2027-11-07T01:30:00-05:00"]
        assert fires("*/30 * * * *", NY, "2027-11-07T05:59:59+00:00", 1) == [
            "2027-11-07T01:00:00-05:00"]
        assert fires("0 1 * * *", NY, "2027-11-07T05:59:59+00:00", 1, fold="twice") == [
            "2027-11-07T01:00:00-05:00"]
        assert fires("0 1 * * *", NY, "2027-11-07T05:59:59+00:00", 1) == [
            "2027-11-08T01:00:00-05:00"]

    def test_naive_after_is_wall_time_in_the_zone(self) -> None:
        schedule = CronSchedule("30 2 * * *", NY)
        fire = schedule.next_fire(datetime(2027, 3, 13, 12, 0))
        assert fire is not None and fire.at.isoformat() == "2027-03-14T03:00:00-04:00"
        assert [d.isoformat() for d in next_fires("0 12 * * *", NY, datetime(2027, 6, 1, 11), 1)
                ] == ["2027-06-01T12:00:00-04:00"]
        # A naive time inside the repeated hour is read as the first pass (fold=0, PEP 495).
        fire = CronSchedule("45 1 * * *", NY).next_fire(datetime(2027, 11, 7, 1, 10))
        assert fire is not None and fire.at.isoformat() == "2027-11-07T01:45:00-04:00"
        fire = CronSchedule("45 1 * * *", NY).next_fire(datetime(2027, 11, 7, 1, 10, fold=1))
        assert fire is not None and fire.at.isoformat() == "2027-11-08T01:45:00-05:00"
        # A naive time inside the gap is read with the offset before it (PEP 495 fold=0):
        # 02:10 "EST" is 07:10Z, i.e. 03:10 EDT.
        fire = CronSchedule("*/30 * * * *", NY).next_fire(datetime(2027, 3, 14, 2, 10))
        assert fire is not None and fire.at.isoformat() == "2027-03-14T03:30:00-04:00"

    def test_after_in_another_zone(self) -> None:
        # 06:59 in Tokyo is 21:59Z the day before, 16:59 EST.
        after = datetime(2027, 3, 14, 6, 59, tzinfo=ZoneInfo("Asia/Tokyo"))
        assert [d.isoformat() for d in next_fires("0 17 * * *", NY, after, 2)] == [
            "2027-03-13T17:00:00-05:00", "2027-03-14T17:00:00-04:00"]

    def test_notes(self) -> None:
        got = list(islice(CronSchedule("30 2 * * *", NY).iter_fires(
            datetime.fromisoformat("2027-03-13T12:00:00-05:00")), 1))
        assert got[0].note is not None
        assert "02:30 does not exist on 2027-03-14" in got[0].note
        assert "fired at 03:00" in got[0].note
        skipped = list(islice(CronSchedule("30 2 * * *", NY, gap="skip").iter_fires(
            datetime.fromisoformat("2027-03-13T12:00:00-05:00"), include_skipped=True), 1))
        assert skipped[0].note is not None and "not fired (dst.gap: skip)" in skipped[0].note
        assert not skipped[0].fires
        once = list(islice(CronSchedule("30 1 * * *", NY).iter_fires(
            datetime.fromisoformat("2027-11-06T12:00:00-04:00")), 2))
        assert once[0].note is not None
        assert "01:30 happens twice on 2027-11-07" in once[0].note
        assert "first pass only" in once[0].note and "EDT" in once[0].note
        assert once[1].note is None and once[1].kind == "normal"
        twice = list(islice(CronSchedule("30 1 * * *", NY, fold="twice").iter_fires(
            datetime.fromisoformat("2027-11-06T12:00:00-04:00")), 2))
        assert twice[1].note is not None
        assert "second pass" in twice[1].note and "EST" in twice[1].note

    def test_fire_utc_property(self) -> None:
        fire = CronSchedule("30 2 * * *", NY).next_fire(
            datetime.fromisoformat("2027-03-13T12:00:00-05:00"))
        assert fire is not None
        assert fire.utc.isoformat() == "2027-03-14T07:00:00+00:00"


# -- Europe/Berlin 2027 --------------------------------------------------------------------------

class TestBerlin:
    def test_spring_fixed(self) -> None:
        assert fires("30 2 * * *", BERLIN, "2027-03-27T00:00:00+01:00") == [
            "2027-03-27T02:30:00+01:00",
            "2027-03-28T03:00:00+02:00",
            "2027-03-29T02:30:00+02:00",
        ]
        assert fires("30 2 * * *", BERLIN, "2027-03-27T00:00:00+01:00", gap="skip") == [
            "2027-03-27T02:30:00+01:00",
            "2027-03-29T02:30:00+02:00",
            "2027-03-30T02:30:00+02:00",
        ]

    def test_fall_fixed(self) -> None:
        assert fires("30 2 * * *", BERLIN, "2027-10-30T00:00:00+02:00") == [
            "2027-10-30T02:30:00+02:00",
            "2027-10-31T02:30:00+02:00",
            "2027-11-01T02:30:00+01:00",
        ]
        assert fires("30 2 * * *", BERLIN, "2027-10-30T00:00:00+02:00", 4, fold="twice") == [
            "2027-10-30T02:30:00+02:00",
            "2027-10-31T02:30:00+02:00",
            "2027-10-31T02:30:00+01:00",
            "2027-11-01T02:30:00+01:00",
        ]

    def test_spring_wildcard(self) -> None:
        for dst in BOTH_DST_CHOICES:
            assert fires("15 * * * *", BERLIN, "2027-03-28T00:00:00+01:00", 3, **dst) == [
                "2027-03-28T00:15:00+01:00",
                "2027-03-28T01:15:00+01:00",
                "2027-03-28T03:15:00+02:00",
            ]

    def test_fall_wildcard(self) -> None:
        for dst in BOTH_DST_CHOICES:
            assert fires("15 * * * *", BERLIN, "2027-10-31T01:00:00+02:00", 4, **dst) == [
                "2027-10-31T01:15:00+02:00",
                "2027-10-31T02:15:00+02:00",
                "2027-10-31T02:15:00+01:00",
                "2027-10-31T03:15:00+01:00",
            ]

    def test_weekday_job_across_both_changes(self) -> None:
        # 2027-03-26 is a Friday, 2027-03-29 a Monday.
        assert fires("0 9 * * 1-5", BERLIN, "2027-03-26T10:00:00+01:00", 2) == [
            "2027-03-29T09:00:00+02:00", "2027-03-30T09:00:00+02:00"]
        assert fires("0 9 * * 1-5", BERLIN, "2027-10-29T10:00:00+02:00", 1) == [
            "2027-11-01T09:00:00+01:00"]


# -- Australia/Sydney: southern hemisphere ---------------------------------------------------------

class TestSydney:
    def test_october_spring_fixed(self) -> None:
        assert fires("30 2 * * *", SYDNEY, "2027-10-02T00:00:00+10:00") == [
            "2027-10-02T02:30:00+10:00",
            "2027-10-03T03:00:00+11:00",
            "2027-10-04T02:30:00+11:00",
        ]
        assert fires("30 2 * * *", SYDNEY, "2027-10-02T00:00:00+10:00", 2, gap="skip") == [
            "2027-10-02T02:30:00+10:00", "2027-10-04T02:30:00+11:00"]

    def test_april_fall_fixed(self) -> None:
        assert fires("30 2 * * *", SYDNEY, "2027-04-03T00:00:00+11:00") == [
            "2027-04-03T02:30:00+11:00",
            "2027-04-04T02:30:00+11:00",
            "2027-04-05T02:30:00+10:00",
        ]
        assert fires("30 2 * * *", SYDNEY, "2027-04-03T00:00:00+11:00", 4, fold="twice") == [
            "2027-04-03T02:30:00+11:00",
            "2027-04-04T02:30:00+11:00",
            "2027-04-04T02:30:00+10:00",
            "2027-04-05T02:30:00+10:00",
        ]

    def test_october_spring_wildcard(self) -> None:
        for dst in BOTH_DST_CHOICES:
            assert fires("0,30 * * * *", SYDNEY, "2027-10-03T01:00:00+10:00", 3, **dst) == [
                "2027-10-03T01:30:00+10:00",
                "2027-10-03T03:00:00+11:00",
                "2027-10-03T03:30:00+11:00",
            ]

    def test_april_fall_wildcard(self) -> None:
        for dst in BOTH_DST_CHOICES:
            assert fires("0,30 * * * *", SYDNEY, "2027-04-04T02:00:00+11:00", 5, **dst) == [
                "2027-04-04T02:30:00+11:00",
                "2027-04-04T02:00:00+10:00",
                "2027-04-04T02:30:00+10:00",
                "2027-04-04T03:00:00+10:00",
                "2027-04-04T03:30:00+10:00",
            ]


# -- Australia/Lord_Howe: a 30-minute shift ------------------------------------------------------

class TestLordHowe:
    def test_october_spring_fixed(self) -> None:
        assert fires("15 2 * * *", LORD_HOWE, "2027-10-02T00:00:00+10:30") == [
            "2027-10-02T02:15:00+10:30",
            "2027-10-03T02:30:00+11:00",
            "2027-10-04T02:15:00+11:00",
        ]
        assert fires("15 2 * * *", LORD_HOWE, "2027-10-02T00:00:00+10:30", 2, gap="skip") == [
            "2027-10-02T02:15:00+10:30", "2027-10-04T02:15:00+11:00"]
        # 02:45 exists: only half of the hour is skipped.
        assert occurrences("45 2 * * *", LORD_HOWE, "2027-10-02T12:00:00+10:30", 1) == [
            ("2027-10-03T02:45:00+11:00", "2027-10-03T02:45:00", "normal")]

    def test_april_fall_fixed(self) -> None:
        assert fires("45 1 * * *", LORD_HOWE, "2027-04-03T00:00:00+11:00") == [
            "2027-04-03T01:45:00+11:00",
            "2027-04-04T01:45:00+11:00",
            "2027-04-05T01:45:00+10:30",
        ]
        assert fires("45 1 * * *", LORD_HOWE, "2027-04-03T00:00:00+11:00", 4, fold="twice") == [
            "2027-04-03T01:45:00+11:00",
            "2027-04-04T01:45:00+11:00",
            "2027-04-04T01:45:00+10:30",
            "2027-04-05T01:45:00+10:30",
        ]
        # 01:15 is not repeated (only 01:30-01:59 is).
        assert occurrences("15 1 * * *", LORD_HOWE, "2027-04-03T12:00:00+11:00", 2,
                           fold="twice") == [
            ("2027-04-04T01:15:00+11:00", "2027-04-04T01:15:00", "normal"),
            ("2027-04-05T01:15:00+10:30", "2027-04-05T01:15:00", "normal"),
        ]

    def test_october_spring_wildcard(self) -> None:
        for dst in BOTH_DST_CHOICES:
            assert fires("*/15 * * * *", LORD_HOWE, "2027-10-03T01:50:00+10:30", 2, **dst) == [
                "2027-10-03T02:30:00+11:00", "2027-10-03T02:45:00+11:00"]

    def test_april_fall_wildcard(self) -> None:
        for dst in BOTH_DST_CHOICES:
            assert fires("*/15 * * * *", LORD_HOWE, "2027-04-04T01:20:00+11:00", 5, **dst) == [
                "2027-04-04T01:30:00+11:00",
                "2027-04-04T01:45:00+11:00",
                "2027-04-04T01:30:00+10:30",
                "2027-04-04T01:45:00+10:30",
                "2027-04-04T02:00:00+10:30",
            ]


# -- Asia/Kathmandu 1986: a 15-minute gap --------------------------------------------------------

class TestKathmandu:
    def test_fixed(self) -> None:
        assert fires("0 0 * * *", KATHMANDU, "1985-12-30T12:00:00+05:30") == [
            "1985-12-31T00:00:00+05:30",
            "1986-01-01T00:15:00+05:45",
            "1986-01-02T00:00:00+05:45",
        ]
        assert fires("10 0 * * *", KATHMANDU, "1985-12-31T12:00:00+05:30", 1) == [
            "1986-01-01T00:15:00+05:45"]
        assert occurrences("20 0 * * *", KATHMANDU, "1985-12-31T12:00:00+05:30", 1) == [
            ("1986-01-01T00:20:00+05:45", "1986-01-01T00:20:00", "normal")]
        assert occurrences("0 0 * * *", KATHMANDU, "1985-12-31T12:00:00+05:30", 2,
                           gap="skip") == [
            ("1986-01-01T00:15:00+05:45", "1986-01-01T00:00:00", "gap_skipped"),
            ("1986-01-02T00:00:00+05:45", "1986-01-02T00:00:00", "normal"),
        ]

    def test_wildcard(self) -> None:
        for dst in BOTH_DST_CHOICES:
            assert fires("*/5 * * * *", KATHMANDU, "1985-12-31T23:50:00+05:30", 3, **dst) == [
                "1985-12-31T23:55:00+05:30",
                "1986-01-01T00:15:00+05:45",
                "1986-01-01T00:20:00+05:45",
            ]


# -- Europe/Dublin: negative DST in the source data -----------------------------------------------

class TestDublin:
    def test_offsets_not_flags(self) -> None:
        rules = zone_rules(DUBLIN)
        winter = int(datetime(2027, 1, 15, tzinfo=UTC).timestamp())
        summer = int(datetime(2027, 7, 15, tzinfo=UTC).timestamp())
        assert rules.offset_at(winter) == 0
        assert rules.offset_at(summer) == 3600
        period = rules.period(summer)
        assert (period.prev_offset, period.offset, period.next_offset) == (0, 3600, 0)
        assert period.start == int(datetime(2027, 3, 28, 1, tzinfo=UTC).timestamp())
        assert period.end == int(datetime(2027, 10, 31, 1, tzinfo=UTC).timestamp())

    def test_march_fixed(self) -> None:
        assert fires("30 1 * * *", DUBLIN, "2027-03-27T00:00:00+00:00") == [
            "2027-03-27T01:30:00+00:00",
            "2027-03-28T02:00:00+01:00",
            "2027-03-29T01:30:00+01:00",
        ]
        assert fires("30 1 * * *", DUBLIN, "2027-03-27T00:00:00+00:00", 2, gap="skip") == [
            "2027-03-27T01:30:00+00:00", "2027-03-29T01:30:00+01:00"]

    def test_october_fixed(self) -> None:
        assert fires("30 1 * * *", DUBLIN, "2027-10-30T00:00:00+01:00") == [
            "2027-10-30T01:30:00+01:00",
            "2027-10-31T01:30:00+01:00",
            "2027-11-01T01:30:00+00:00",
        ]
        got = list(islice(CronSchedule("30 1 * * *", DUBLIN, fold="twice").iter_fires(
            datetime.fromisoformat("2027-10-30T12:00:00+01:00")), 3))
        assert [f.at.isoformat() for f in got] == [
            "2027-10-31T01:30:00+01:00",
            "2027-10-31T01:30:00+00:00",
            "2027-11-01T01:30:00+00:00",
        ]
        assert [f.kind for f in got] == ["fold_first", "fold_second", "normal"]
        assert got[0].note is not None and "IST" in got[0].note
        assert got[1].note is not None and "GMT" in got[1].note

    def test_wildcard_pair(self) -> None:
        assert fires("*/30 * * * *", DUBLIN, "2027-03-28T00:30:00+00:00", 2) == [
            "2027-03-28T02:00:00+01:00", "2027-03-28T02:30:00+01:00"]
        assert fires("*/30 * * * *", DUBLIN, "2027-10-31T01:15:00+01:00", 3) == [
            "2027-10-31T01:30:00+01:00",
            "2027-10-31T01:00:00+00:00",
            "2027-10-31T01:30:00+00:00",
        ]


# -- Pacific/Apia 2011: a 24 h forward jump is a clock correction ---------------------------------

class TestApia:
    def test_fixed_is_lost(self) -> None:
        for dst in BOTH_DST_CHOICES:
            assert fires("0 12 * * *", APIA, "2011-12-29T00:00:00-10:00", 2, **dst) == [
                "2011-12-29T12:00:00-10:00", "2011-12-31T12:00:00+14:00"]
        assert occurrences("0 12 * * *", APIA, "2011-12-29T13:00:00-10:00", 2) == [
            ("2011-12-31T00:00:00+14:00", "2011-12-30T12:00:00", "gap_lost"),
            ("2011-12-31T12:00:00+14:00", "2011-12-31T12:00:00", "normal"),
        ]
        note = CronSchedule("0 12 * * *", APIA).iter_fires(
            datetime.fromisoformat("2011-12-29T13:00:00-10:00"), include_skipped=True)
        lost = next(note)
        assert lost.note is not None and "clock correction" in lost.note
        assert "+24h" in lost.note

    def test_midnight_job_at_the_transition_instant(self) -> None:
        # 2011-12-30 00:00 is lost; 2011-12-31 00:00 is the transition instant itself.
        assert fires("0 0 * * *", APIA, "2011-12-29T12:00:00-10:00", 2) == [
            "2011-12-31T00:00:00+14:00", "2012-01-01T00:00:00+14:00"]
        assert occurrences("0 0 * * *", APIA, "2011-12-29T12:00:00-10:00", 2) == [
            ("2011-12-31T00:00:00+14:00", "2011-12-30T00:00:00", "gap_lost"),
            ("2011-12-31T00:00:00+14:00", "2011-12-31T00:00:00", "normal"),
        ]

    def test_wildcard(self) -> None:
        for dst in BOTH_DST_CHOICES:
            assert fires("0 */6 * * *", APIA, "2011-12-29T05:00:00-10:00", 5, **dst) == [
                "2011-12-29T06:00:00-10:00",
                "2011-12-29T12:00:00-10:00",
                "2011-12-29T18:00:00-10:00",
                "2011-12-31T00:00:00+14:00",
                "2011-12-31T06:00:00+14:00",
            ]


# -- Antarctica/Casey: 3 h jumps both ways are clock corrections ----------------------------------

class TestCasey:
    def test_backward_3h_fixed_runs_again(self) -> None:
        # 2010-03-05 02:00 +11 -> 2010-03-04 23:00 +08: 23:00-01:59 happen twice.
        for fold in ("once", "twice"):
            assert fires("30 0 * * *", CASEY, "2010-03-04T12:00:00+11:00", 3, fold=fold) == [
                "2010-03-05T00:30:00+11:00",
                "2010-03-05T00:30:00+08:00",
                "2010-03-06T00:30:00+08:00",
            ]
        assert [k for _, _, k in occurrences("30 0 * * *", CASEY,
                                             "2010-03-04T12:00:00+11:00", 3)] == [
            "fold_first", "fold_second", "normal"]
        # The second 23:00 is exactly the transition instant (15:00Z).
        assert fires("0 23 * * *", CASEY, "2010-03-04T12:00:00+11:00", 3) == [
            "2010-03-04T23:00:00+11:00",
            "2010-03-04T23:00:00+08:00",
            "2010-03-05T23:00:00+08:00",
        ]

    def test_backward_3h_wildcard(self) -> None:
        assert fires("0 * * * *", CASEY, "2010-03-05T01:30:00+11:00", 2) == [
            "2010-03-04T23:00:00+08:00", "2010-03-05T00:00:00+08:00"]

    def test_forward_3h_is_lost(self) -> None:
        # 2009-10-18 02:00 +08 -> 05:00 +11.
        for dst in BOTH_DST_CHOICES:
            assert fires("30 3 * * *", CASEY, "2009-10-17T12:00:00+08:00", 2, **dst) == [
                "2009-10-19T03:30:00+11:00", "2009-10-20T03:30:00+11:00"]
        assert occurrences("30 3 * * *", CASEY, "2009-10-17T12:00:00+08:00", 2) == [
            ("2009-10-18T05:00:00+11:00", "2009-10-18T03:30:00", "gap_lost"),
            ("2009-10-19T03:30:00+11:00", "2009-10-19T03:30:00", "normal"),
        ]
        assert fires("0 * * * *", CASEY, "2009-10-18T01:30:00+08:00", 2) == [
            "2009-10-18T05:00:00+11:00", "2009-10-18T06:00:00+11:00"]


# -- calendar edges ------------------------------------------------------------------------------

def test_leap_days() -> None:
    assert fires("0 0 29 2 *", "UTC", "2027-01-01T00:00:00+00:00") == [
        "2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00", "2036-02-29T00:00:00+00:00"]
    assert fires("0 0 29 2 *", NY, "2027-01-01T00:00:00-05:00", 2) == [
        "2028-02-29T00:00:00-05:00", "2032-02-29T00:00:00-05:00"]
    # 2100 is not a leap year.
    assert fires("0 0 29 2 *", "UTC", "2096-03-01T00:00:00+00:00", 2) == [
        "2104-02-29T00:00:00+00:00", "2108-02-29T00:00:00+00:00"]


def test_month_ends() -> None:
    assert fires("0 0 31 * *", "UTC", "2027-01-01T00:00:00+00:00", 7) == [
        "2027-01-31T00:00:00+00:00",
        "2027-03-31T00:00:00+00:00",
        "2027-05-31T00:00:00+00:00",
        "2027-07-31T00:00:00+00:00",
        "2027-08-31T00:00:00+00:00",
        "2027-10-31T00:00:00+00:00",
        "2027-12-31T00:00:00+00:00",
    ]
    assert fires("0 0 30 * *", "UTC", "2027-01-31T00:00:00+00:00", 1) == [
        "2027-03-30T00:00:00+00:00"]
    assert fires("0 0 29 * *", "UTC", "2027-01-30T00:00:00+00:00", 1) == [
        "2027-03-29T00:00:00+00:00"]
    assert fires("0 0 29 * *", "UTC", "2028-01-30T00:00:00+00:00", 1) == [
        "2028-02-29T00:00:00+00:00"]
    assert fires("59 23 31 12 *", "UTC", "2027-12-31T23:59:00+00:00", 1) == [
        "2028-12-31T23:59:00+00:00"]


@pytest.mark.parametrize("sunday", ["0", "7", "SUN", "sun", "0,7", "7-7", "SUN-SUN"])
def test_sunday_as_0_and_7(sunday: str) -> None:
    # 2027-01-01 is a Friday.
    assert fires(f"0 0 * * {sunday}", "UTC", "2027-01-01T00:00:00+00:00") == [
        "2027-01-03T00:00:00+00:00", "2027-01-10T00:00:00+00:00", "2027-01-17T00:00:00+00:00"]


def test_weekend_ranges_ending_on_sunday() -> None:
    expected = ["2027-01-01T00:00:00+00:00", "2027-01-02T00:00:00+00:00",
                "2027-01-03T00:00:00+00:00", "2027-01-08T00:00:00+00:00"]
    for dow in ("5-7", "5-0", "FRI-SUN", "fri-sun"):
        assert fires(f"0 0 * * {dow}", "UTC", "2026-12-31T12:00:00+00:00", 4) == expected


def test_far_future_uses_the_posix_footer() -> None:
    # 2200: second Sunday of March is the 9th, first Sunday of November the 2nd.
    assert fires("30 2 * * *", NY, "2200-03-08T00:00:00-05:00") == [
        "2200-03-08T02:30:00-05:00",
        "2200-03-09T03:00:00-04:00",
        "2200-03-10T02:30:00-04:00",
    ]
    assert fires("30 1 * * *", NY, "2200-11-01T12:00:00-04:00", 2, fold="twice") == [
        "2200-11-02T01:30:00-04:00", "2200-11-02T01:30:00-05:00"]


def test_near_year_9999_returns_fewer_results() -> None:
    # 19:00 EST on 9999-12-31 is 10000-01-01 00:00Z: past what a datetime can hold.
    assert [d.isoformat() for d in next_fires(
        "*/5 * * * *", NY, datetime.fromisoformat("9999-12-31T18:50:00-05:00"), 5)] == [
        "9999-12-31T18:55:00-05:00"]
    assert [d.isoformat() for d in next_fires(
        "*/5 * * * *", "UTC", datetime.fromisoformat("9999-12-31T23:50:00+00:00"), 5)] == [
        "9999-12-31T23:55:00+00:00"]
    # +14: local time reaches 9999-12-31 23:59 before UTC does.
    assert [d.isoformat() for d in next_fires(
        "*/30 * * * *", "Pacific/Kiritimati",
        datetime.fromisoformat("9999-12-31T09:00:00+00:00"), 5)] == [
        "9999-12-31T23:30:00+14:00"]
    assert next_fires("0 0 1 1 *", "UTC", datetime.fromisoformat("9999-06-01T00:00:00+00:00"),
                      3) == []
    schedule = CronSchedule("0 0 29 2 *", NY)
    assert schedule.next_fire(datetime.fromisoformat("9996-03-01T00:00:00-05:00")) is None
    assert [f.at.year for f in schedule.iter_fires(
        datetime.fromisoformat("9990-01-01T00:00:00-05:00"))] == [9992, 9996]


def test_far_past() -> None:
    assert fires("0 12 * * *", "UTC", "0001-01-01T00:00:00+00:00", 2) == [
        "0001-01-01T12:00:00+00:00", "0001-01-02T12:00:00+00:00"]
    # Before 1883 New York kept local mean time (-04:56:02).
    assert fires("0 12 * * *", NY, "1850-06-01T00:00:00-04:56:02", 1) == [
        "1850-06-01T12:00:00-04:56:02"]


# -- following / iter_fires / arguments ----------------------------------------------------------

def test_following_continues_from_any_fire() -> None:
    schedule = CronSchedule("0 2,3 * * *", NY, gap="skip")
    first = schedule.next_fire(datetime.fromisoformat("2027-03-13T12:00:00-05:00"))
    assert first is not None and first.at.isoformat() == "2027-03-14T03:00:00-04:00"
    assert first.kind == "normal"
    skipped = Fire(first.at, datetime(2027, 3, 14, 2, 0), "gap_skipped", "x")
    after_skipped = schedule.following(skipped, include_skipped=True)
    assert after_skipped is not None
    assert (after_skipped.at.isoformat(), after_skipped.kind) == (
        "2027-03-14T03:00:00-04:00", "normal")
    after_first = schedule.following(first)
    assert after_first is not None and after_first.at.isoformat() == "2027-03-15T02:00:00-04:00"


def test_next_fires_arguments() -> None:
    after = datetime.fromisoformat("2027-01-01T00:00:00+00:00")
    assert next_fires("@daily", "UTC", after, 0) == []
    with pytest.raises(ValueError, match="count must be >= 0"):
        next_fires("@daily", "UTC", after, -1)
    with pytest.raises(CronError):
        next_fires("0 0 30 2 *", "UTC", after, 1)
    with pytest.raises(TimezoneError, match="unknown time zone 'Mars/Olympus'"):
        next_fires("@daily", "Mars/Olympus", after, 1)
    with pytest.raises(ValueError, match="gap must be run_after or skip"):
        CronSchedule("@daily", "UTC", gap="later")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fold must be once or twice"):
        CronSchedule("@daily", "UTC", fold="thrice")  # type: ignore[arg-type]


def test_many_fires_stay_on_the_minute_grid() -> None:
    got = next_fires("*/7 * * * *", BERLIN, datetime.fromisoformat("2027-10-31T00:00:00+02:00"),
                     60)
    deltas = {b.astimezone(UTC) - a.astimezone(UTC) for a, b in pairwise(got)}
    # Real elapsed time: 7 minutes, or 4 across the hour (56 -> 0). The fold adds no jump.
    assert deltas == {timedelta(minutes=7), timedelta(minutes=4)}


def test_repr() -> None:
    assert repr(CronSchedule("@daily", NY, fold="twice")) == (
        "CronSchedule('@daily', 'America/New_York', gap='run_after', fold='twice')")
