"""Durations, zone names and instants: the small pure helpers everything else leans on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clockwf.errors import DurationError, InvalidInput, TimezoneError
from clockwf.timeutil import (
    fire_key_instant,
    format_duration,
    get_zone,
    humanize_delta,
    parse_duration,
    parse_instant,
)


@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90), ("10m", 600), ("1h30m", 5400), ("2d", 172800), ("0", 0), (0, 0),
    ("1d2h3m4s", 93784)])
def test_durations_round_trip(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)
    assert parse_duration(format_duration(parse_duration(text))) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "10", "1.5h", "m", "30m1h", "-5m", "1 h", True, 12])
def test_bad_durations(text: str | int) -> None:
    with pytest.raises(DurationError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(("name", "says"), [
    ("localtime", "whatever zone the host is set to"),
    ("Factory", "not a zone to schedule in"),
    ("posixrules", "not a zone to schedule in"),
    ("right/America/New_York", "leap seconds"),
    ("posix/Europe/Berlin", "use Europe/Berlin"),
    ("Mars/Olympus_Mons", "unknown time zone"),
    ("europe/berlin", "did you mean Europe/Berlin"),
    ("../etc/passwd", "unknown time zone"),
    (" UTC", "not an IANA time zone name"),
])
def test_names_that_are_not_zones_are_refused(name: str, says: str) -> None:
    with pytest.raises(TimezoneError, match=says):
        get_zone(name)


def test_real_zones_load() -> None:
    assert get_zone("America/New_York").key == "America/New_York"
    assert get_zone("UTC").key == "UTC"


def test_parse_instant() -> None:
    assert parse_instant("2027-03-14T07:00:00Z") == datetime(2027, 3, 14, 7, tzinfo=UTC)
    ny = get_zone("America/New_York")
    assert parse_instant("2027-03-14T01:30", default_tz=ny).utcoffset() == timedelta(hours=-5)
    with pytest.raises(InvalidInput, match="does not exist"):
        parse_instant("2027-03-14T02:30", default_tz=ny)
    with pytest.raises(InvalidInput, match="happens twice"):
        parse_instant("2027-11-07T01:30", default_tz=ny)
    with pytest.raises(InvalidInput, match="no UTC offset"):
        parse_instant("2027-11-07T01:30", default_tz=None)
    with pytest.raises(InvalidInput, match="not an ISO 8601"):
        parse_instant("yesterday")


def test_fire_key_instant_is_utc_whole_seconds() -> None:
    ny = get_zone("America/New_York")
    assert fire_key_instant(datetime(2027, 3, 14, 3, 0, 0, 999, tzinfo=ny)) == \
        "2027-03-14T07:00:00Z"


def test_humanize() -> None:
    assert humanize_delta(timedelta(hours=3, minutes=12, seconds=5)) == "in 3h 12m"
    assert humanize_delta(timedelta(minutes=-5)) == "5m ago"
    assert humanize_delta(timedelta(0)) == "in 0s"
