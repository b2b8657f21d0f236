"""UTC-offset transitions of an IANA zone, as integer epoch seconds.

The cron engine walks a zone period by period (a span of constant UTC offset), so it needs the
transition instants, which :mod:`zoneinfo` does not expose. This module reads the same TZif file
that :class:`zoneinfo.ZoneInfo` reads (same search order: ``zoneinfo.TZPATH``, then the ``tzdata``
package) and evaluates its POSIX TZ footer for instants after the last listed transition, the way
zoneinfo does. Only offsets matter here: a change of abbreviation or of the DST flag alone (Dublin's
negative DST, for instance) is not a transition. A test compares every zone against zoneinfo.
"""

from __future__ import annotations

import bisect
import calendar
import functools
import importlib.resources
import os
import re
import struct
import threading
import zoneinfo
from datetime import date
from typing import NamedTuple

from clockwf.timeutil import get_zone

_EPOCH_ORDINAL = 719163  # date(1970, 1, 1).toordinal()
_MAX_YEAR = 9999
_EXTEND_YEARS = 40


class Period(NamedTuple):
    """A span [start, end) of constant UTC offset; None means unbounded.

    (A named tuple: built on every next-fire search, and a frozen dataclass costs a
    microsecond more to construct.)"""

    start: int | None
    end: int | None
    offset: int
    prev_offset: int | None   # offset before ``start``
    next_offset: int | None   # offset from ``end``


class _PosixRule:
    """The footer of a TZif file: ``std offset [dst [offset] ,start[/time],end[/time]]``."""

    _HEAD = re.compile(
        r"(?P<std>[^<0-9:.+-]+|<[a-zA-Z0-9+-]+>)"
        r"(?:(?P<stdoff>[+-]?\d{1,3}(?::\d{2}(?::\d{2})?)?)"
        r"(?:(?P<dst>[^0-9:.+-]+|<[a-zA-Z0-9+-]+>)"
        r"(?P<dstoff>[+-]?\d{1,3}(?::\d{2}(?::\d{2})?)?)?)?)?",
        re.ASCII,
    )

    def __init__(self, text: str) -> None:
        head, *rules = text.split(",", 1)
        m = self._HEAD.fullmatch(head)
        if m is None:
            raise ValueError(f"invalid TZ string {text!r}")
        self.std = _posix_offset(m.group("stdoff")) if m.group("stdoff") else 0
        self.has_dst = m.group("dst") is not None
        self.dst = self.std
        self.start: tuple[str, int, int, int, int] | None = None
        self.end: tuple[str, int, int, int, int] | None = None
        if self.has_dst:
            self.dst = _posix_offset(m.group("dstoff")) if m.group("dstoff") else self.std + 3600
            if not rules:
                raise ValueError(f"TZ string without transition rules: {text!r}")
            start, end = rules[0].split(",", 1)
            self.start, self.end = _posix_date(start), _posix_date(end)

    def transitions(self, year: int) -> list[tuple[int, int]]:
        """(utc instant, offset from then on) for the year, sorted; computed as zoneinfo does."""
        if not self.has_dst or self.start is None or self.end is None:
            return []
        start = _rule_local_epoch(self.start, year) - self.std
        end = _rule_local_epoch(self.end, year) - self.dst
        return sorted([(start, self.dst), (end, self.std)])


def _posix_offset(text: str) -> int:
    m = re.fullmatch(r"([+-])?(\d{1,3})(?::(\d{2})(?::(\d{2}))?)?", text)
    if m is None:  # pragma: no cover - the head regex guarantees the shape
        raise ValueError(text)
    seconds = int(m.group(2)) * 3600 + int(m.group(3) or 0) * 60 + int(m.group(4) or 0)
    # POSIX offsets count west of Greenwich as positive.
    return seconds if m.group(1) == "-" else -seconds


def _posix_date(text: str) -> tuple[str, int, int, int, int]:
    date, *time = text.split("/", 1)
    seconds = 7200
    if time:
        m = re.fullmatch(r"([+-])?(\d{1,3})(?::(\d{2})(?::(\d{2}))?)?", time[0])
        if m is None:
            raise ValueError(f"invalid transition time {time[0]!r}")
        seconds = int(m.group(2)) * 3600 + int(m.group(3) or 0) * 60 + int(m.group(4) or 0)
        if m.group(1) == "-":
            seconds = -seconds
    if date.startswith("M"):
        m = re.fullmatch(r"M(\d{1,2})\.(\d)\.(\d)", date)
        if m is None:
            raise ValueError(f"invalid transition date {date!r}")
        return ("M", int(m.group(1)), int(m.group(2)), int(m.group(3)), seconds)
    if date.startswith("J"):
        return ("J", int(date[1:]), 0, 0, seconds)
    return ("N", int(date), 0, 0, seconds)


def _days_before_year(year: int) -> int:
    y = year - 1
    return y * 365 + y // 4 - y // 100 + y // 400 - _EPOCH_ORDINAL


_DAYS_BEFORE_MONTH = (-1, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)


def _rule_local_epoch(rule: tuple[str, int, int, int, int], year: int) -> int:
    kind, a, b, c, seconds = rule
    if kind == "M":
        month, week, weekday = a, b, c
        first_day, days_in_month = calendar.monthrange(year, month)
        day = (weekday - (first_day + 1)) % 7 + 1 + (week - 1) * 7
        if day > days_in_month:
            day -= 7
        days = (_days_before_year(year) + _DAYS_BEFORE_MONTH[month]
                + (month > 2 and calendar.isleap(year)) + day)
    else:
        d = a
        if kind == "J" and d >= 59 and calendar.isleap(year):
            d += 1
        days = _days_before_year(year) + d
    return days * 86400 + seconds


def _tzif_path(key: str) -> str | None:
    for base in zoneinfo.TZPATH:
        path = os.path.join(base, key)
        if os.path.isfile(path):
            return path
    return None


def _read_tzif(key: str) -> bytes:
    path = _tzif_path(key)
    if path is not None:
        with open(path, "rb") as f:
            return f.read()
    parts = key.split("/")
    resource = importlib.resources.files("tzdata").joinpath("zoneinfo", *parts)
    return resource.read_bytes()


def _parse_tzif(data: bytes) -> tuple[list[int], list[int], int, str | None]:
    """Transitions (utc), offsets after each, the offset before the first, the footer."""

    def header(pos: int) -> tuple[int, tuple[int, ...]]:
        if data[pos:pos + 4] != b"TZif":
            raise ValueError("not a TZif file")
        version = 1 if data[pos + 4] == 0 else int(chr(data[pos + 4]))
        return version, struct.unpack(">6l", data[pos + 20:pos + 44])

    version, counts = header(0)
    pos = 44
    size, fmt = 4, "l"
    if version >= 2:
        isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt = counts
        pos += timecnt * 5 + typecnt * 6 + charcnt + leapcnt * 8 + isstdcnt + isutcnt
        version, counts = header(pos)
        pos += 44
        size, fmt = 8, "q"
    isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt = counts
    times = list(struct.unpack(f">{timecnt}{fmt}", data[pos:pos + timecnt * size]))
    pos += timecnt * size
    idx = list(data[pos:pos + timecnt])
    pos += timecnt
    types = [struct.unpack(">lbb", data[pos + 6 * i:pos + 6 * i + 6]) for i in range(typecnt)]
    pos += typecnt * 6 + charcnt
    footer: str | None = None
    if version >= 2:
        pos += leapcnt * (size + 4) + isstdcnt + isutcnt
        end = data.find(b"\n", pos + 1)
        footer = data[pos + 1:end].decode("ascii") if end > pos else None
    offsets = [types[i][0] for i in idx]
    # As zoneinfo: before the first transition, the first non-DST type applies.
    before = next((t[0] for t in types if not t[1]), offsets[0] if offsets else 0)
    if not times and types and not footer:
        before = types[-1][0]
    return times, offsets, before, footer or None


class ZoneRules:
    """Offsets and transitions of one zone; extended lazily into the future from its footer."""

    def __init__(self, name: str) -> None:
        get_zone(name)  # raises TimezoneError for an unknown name
        self.name = name
        times, offsets, before, footer = _parse_tzif(_read_tzif(name))
        self._rule = _PosixRule(footer) if footer else None
        self._initial = before
        self._times: list[int] = []
        self._offsets: list[int] = []
        for t, off in zip(times, offsets, strict=True):
            self._push(t, off)
        self._explicit_end = times[-1] if times else None
        if self._rule is not None and not self._rule.has_dst:
            self._push(self._explicit_end or -(2**62), self._rule.std)
            self._covered_year: int | None = None   # static after the table: nothing to extend
        elif self._rule is not None:
            year = _year_of(self._explicit_end) if self._explicit_end is not None else 1900
            self._covered_year = year - 1
        else:
            self._covered_year = None
        self._lock = threading.Lock()
        self._fast_until = self._no_extension_before()

    def _no_extension_before(self) -> float:
        """Instants before this need no extension (year(t) + 2 <= covered year; a day early)."""
        if self._covered_year is None or self._covered_year >= _MAX_YEAR:
            return float("inf")
        return _days_before_year(self._covered_year - 1) * 86400

    def _last_offset(self) -> int:
        return self._offsets[-1] if self._offsets else self._initial

    def _push(self, t: int, offset: int) -> None:
        """Append a transition, merging same-instant ones and dropping no-op changes."""
        if self._times and t <= self._times[-1]:
            # Same instant (or out of order): the later entry wins.
            while self._times and t <= self._times[-1]:
                self._times.pop()
                self._offsets.pop()
        if offset == self._last_offset():
            return
        self._times.append(t)
        self._offsets.append(offset)

    def _extend_to(self, t: int) -> None:
        """Make sure transitions are listed beyond ``t`` (plus one period) from the footer."""
        if self._covered_year is None or self._rule is None:
            return
        target = min(_year_of(t) + 2, _MAX_YEAR)
        if self._covered_year >= target:
            return
        with self._lock:
            if self._covered_year >= target:
                return
            rule = self._rule
            first = self._covered_year + 1
            last = min(max(target, first + _EXTEND_YEARS), _MAX_YEAR)
            for year in range(first, last + 1):
                for instant, offset in rule.transitions(year):
                    if self._explicit_end is not None and instant <= self._explicit_end:
                        continue
                    self._push(instant, offset)
            self._covered_year = last
            self._fast_until = self._no_extension_before()

    def offset_at(self, t: float) -> int:
        if t >= self._fast_until:
            self._extend_to(int(t))
        i = bisect.bisect_right(self._times, t)
        return self._offsets[i - 1] if i else self._initial

    def period(self, t: float) -> Period:
        """The period of constant offset containing instant ``t``."""
        if t >= self._fast_until:
            self._extend_to(int(t))
        times = self._times
        i = bisect.bisect_right(times, t)
        offsets = self._offsets
        offset = offsets[i - 1] if i else self._initial
        start = times[i - 1] if i else None
        prev_offset = (offsets[i - 2] if i >= 2 else self._initial) if i else None
        if i < len(times):
            end: int | None = times[i]
            next_offset: int | None = offsets[i]
        else:
            end = next_offset = None
        return Period(start, end, offset, prev_offset, next_offset)


def _year_of(t: int) -> int:
    days = t // 86400
    ordinal = days + _EPOCH_ORDINAL
    if ordinal < 1:
        return 1
    if ordinal > 3652059:
        return _MAX_YEAR
    return date.fromordinal(ordinal).year


@functools.lru_cache(maxsize=512)
def zone_rules(name: str) -> ZoneRules:
    return ZoneRules(name)
