"""Schedules beyond five cron fields: RFC 5545 recurrence rules and fixed intervals.

Both engines answer the questions the planner asks the cron engine (:class:`clockwf.cron.
CronSchedule`): ``after``, ``iter_fires`` and ``fire_at``, returning :class:`clockwf.cron.Fire`
values with the same kinds, so the tick, the planner and the launcher treat every recurring
schedule alike.

- :class:`RRuleSchedule` expands a rule with ``dateutil.rrule`` in the local wall time of its
  zone, from ``dtstart`` (a naive local time). Each wall time becomes instants by the cron rules
  for DST (README, "Time semantics"): a rule whose occurrences have a fixed time of
  day (FREQ DAILY and longer) follows ``dst.gap`` in a gap and ``dst.fold`` in a repeated hour;
  an HOURLY or MINUTELY rule behaves like a wildcard cron job (a skipped wall time does not
  occur, a repeated one occurs in both passes). A change of 3 h or more is a clock correction:
  skipped wall times are lost, repeated ones occur twice, for both kinds.
- :class:`EverySchedule` is exact elapsed time: ``anchor + k * every`` in UTC (k >= 0),
  untouched by DST.

dateutil's rrule iterates from dtstart; to keep a search long after dtstart cheap, a rule
without COUNT is re-anchored at the start of the period (year, month, week, day, hour, minute)
that holds the instant asked about, with every default dtstart supplied made explicit, which
yields the same occurrences (a property test compares it with the plain expansion).
Nothing here reads the clock.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import takewhile
from typing import Any, Literal

from clockwf.cron import CLOCK_CORRECTION, Fire, FireKind
from clockwf.errors import InvalidInput
from clockwf.timeutil import get_zone
from clockwf.tz import ZoneRules, zone_rules

GapChoice = Literal["run_after", "skip"]
FoldChoice = Literal["once", "twice"]
FREQ_NAMES = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY", "SECONDLY")
_DAILY, _HOURLY, _MINUTELY = 3, 4, 5
_WEEK_MINUTES = 7 * 1440
_MEMO_SIZE = 1024
# A rule must fire within this many wall-clock years of dtstart (or of the instant asked about)
# to be accepted; the search for "never fires" is bounded by it.
NEVER_FIRES_YEARS = 30
_LOCAL_EPOCH = datetime(1970, 1, 1)
# Periods per block of wall times computed at once (by FREQ, YEARLY to MINUTELY).
_BLOCK = (4, 12, 26, 64, 96, 1440)


class RRuleError(InvalidInput):
    """A recurrence rule that clockwf refuses."""


def _wall_seconds(wall: datetime) -> int:
    return int((wall - _LOCAL_EPOCH).total_seconds())


@functools.lru_cache(maxsize=1024)
def parse_rrule(text: str, dtstart: datetime, timezone: str = "UTC") -> Any:
    """The ``dateutil.rrule.rrule`` of ``text`` from the naive local ``dtstart``.

    Accepts the RFC 5545 RRULE value with or without the ``RRULE:`` prefix. UNTIL may be a
    local time (as RFC 5545 asks when DTSTART is local) or a UTC time ending in Z, which is
    converted to the local time of ``timezone``. Refused: SECONDLY, BYSECOND other than 0,
    BYEASTER (a dateutil extension), a DTSTART inside the rule (use ``dtstart``)."""
    from dateutil.rrule import rrulestr

    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    if not body or "\n" in body or ":" in body:
        raise RRuleError(f"rrule {text!r} is not one RFC 5545 RRULE value such as "
                         "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU (put the start in dtstart)")
    parts: list[str] = []
    for part in body.split(";"):
        name, _, value = part.partition("=")
        key = name.strip().upper()
        if not _ or not value.strip():
            raise RRuleError(f"rrule {text!r}: {part!r} is not NAME=VALUE")
        if key == "FREQ" and value.strip().upper() == "SECONDLY":
            raise RRuleError(f"rrule {text!r}: FREQ=SECONDLY is not supported; the finest "
                             "is MINUTELY")
        if key == "BYSECOND" and any(v.strip() != "0" for v in value.split(",")):
            raise RRuleError(f"rrule {text!r}: BYSECOND must be 0 (clockwf fires on whole "
                             "minutes)")
        if key == "BYEASTER":
            raise RRuleError(f"rrule {text!r}: BYEASTER is not part of RFC 5545")
        if key == "DTSTART":
            raise RRuleError(f"rrule {text!r}: give the start as trigger.dtstart")
        if key == "UNTIL" and value.strip().upper().endswith("Z"):
            value = _until_local(value.strip(), timezone, text)
        parts.append(f"{key}={value.strip()}")
    if not any(p.startswith("FREQ=") for p in parts):
        raise RRuleError(f"rrule {text!r} has no FREQ (MINUTELY, HOURLY, DAILY, WEEKLY, "
                         "MONTHLY or YEARLY)")
    try:
        rule: Any = rrulestr(";".join(parts), dtstart=dtstart, cache=True)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise RRuleError(f"rrule {text!r} is not valid: {exc}") from None
    if rule._freq > _MINUTELY:
        raise RRuleError(f"rrule {text!r}: FREQ=SECONDLY is not supported")
    return rule


def _until_local(value: str, timezone: str, text: str) -> str:
    try:
        instant = datetime.strptime(value.upper(), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise RRuleError(f"rrule {text!r}: UNTIL {value!r} is not YYYYMMDDTHHMMSSZ") from None
    return instant.astimezone(get_zone(timezone)).strftime("%Y%m%dT%H%M%S")


def _explicit(rule: Any) -> dict[str, Any]:
    """The parts dtstart supplies by default, made explicit, so that the rule can start from
    another dtstart and still mean the same."""
    original = rule._original_rule
    start: datetime = rule._dtstart
    freq = rule._freq
    out: dict[str, Any] = {}
    if freq < _HOURLY and not original.get("byhour"):
        out["byhour"] = (start.hour,)
    if freq < _MINUTELY and not original.get("byminute"):
        out["byminute"] = (start.minute,)
    if not original.get("bysecond"):
        out["bysecond"] = (start.second,)
    if not any(original.get(k) for k in ("byweekno", "byyearday", "bymonthday", "byweekday",
                                         "byeaster")):
        if freq == 0:
            if not original.get("bymonth"):
                out["bymonth"] = (start.month,)
            out["bymonthday"] = (start.day,)
        elif freq == 1:
            out["bymonthday"] = (start.day,)
        elif freq == 2:
            out["byweekday"] = (start.weekday(),)
    return out


class _RuleWalls:
    """The local wall times of one rule, in order: read from dtstart by dateutil when the rule
    has COUNT or BYWEEKNO, otherwise computed a block of periods at a time, each block from
    its first period with the defaults dtstart supplied made explicit (see the module
    docstring)."""

    def __init__(self, rule: Any, dtstart: datetime) -> None:
        self.rule = rule
        self.dtstart = dtstart
        self.freq: int = rule._freq
        self._reanchor = rule._count is None and not rule._original_rule.get("byweekno")
        self._explicit = _explicit(rule)
        wkst: int = rule._wkst
        self._week0 = dtstart.date() - timedelta(days=(dtstart.weekday() - wkst) % 7)
        self._unit0 = dtstart.replace(minute=0 if self.freq == _HOURLY else dtstart.minute,
                                      second=0, microsecond=0)
        self._blocks: dict[int, tuple[datetime, ...]] = {}

    def _index(self, wall: datetime) -> int:
        """How many rule periods (of INTERVAL frequency units) lie between the period of
        dtstart and the one holding ``wall`` (floor; negative before dtstart's)."""
        start = self.dtstart
        interval: int = self.rule._interval
        freq = self.freq
        if freq == 0:
            return (wall.year - start.year) // interval
        if freq == 1:
            return ((wall.year * 12 + wall.month) - (start.year * 12 + start.month)) // interval
        if freq == 2:
            return (wall.date() - self._week0).days // (7 * interval)
        if freq == 3:
            return (wall.date() - start.date()).days // interval
        unit = 3600 if freq == _HOURLY else 60
        return int((wall - self._unit0).total_seconds() // unit) // interval

    def _start(self, k: int) -> datetime:
        """The first wall instant of period ``k`` (see :meth:`_index`)."""
        start = self.dtstart
        n = k * self.rule._interval
        freq = self.freq
        if freq == 0:
            return datetime(start.year + n, 1, 1)
        if freq == 1:
            m = start.year * 12 + start.month - 1 + n
            return datetime(m // 12, m % 12 + 1, 1)
        if freq == 2:
            return datetime.combine(self._week0 + timedelta(days=7 * n), datetime.min.time())
        if freq == 3:
            return datetime.combine(start.date() + timedelta(days=n), datetime.min.time())
        return self._unit0 + timedelta(seconds=n * (3600 if freq == _HOURLY else 60))

    def _block(self, b: int) -> tuple[datetime, ...]:
        """The wall times of periods [b * BLOCK, (b + 1) * BLOCK), computed once: block 0 from
        dtstart, any other from its first period with the defaults made explicit."""
        try:
            return self._blocks[b]
        except KeyError:
            pass
        size = _BLOCK[self.freq]
        end = self._start((b + 1) * size)
        if b == 0:
            rule, first = self.rule, self.dtstart
        else:
            first = self._start(b * size)
            rule = _replaced(self.rule, first, tuple(sorted(self._explicit.items())))
        walls = tuple(takewhile(lambda w: w < end, rule.xafter(first, inc=True)))
        if len(self._blocks) >= 64:
            self._blocks.clear()
        self._blocks[b] = walls
        return walls

    def walls_from(self, wall: datetime) -> Iterator[datetime]:
        """The rule's local wall times at or after ``wall``, in order."""
        if not self._reanchor:
            yield from self.rule.xafter(wall, inc=True)
            return
        until: datetime | None = self.rule._until
        b = max(0, self._index(wall)) // _BLOCK[self.freq]
        while True:
            try:
                walls = self._block(b)
                block_end = self._start((b + 1) * _BLOCK[self.freq])
            except (OverflowError, ValueError):
                return   # past the year 9999
            yield from walls[bisect.bisect_left(walls, wall):]
            if until is not None and block_end > until:
                return
            b += 1


class RRuleSchedule:
    """An RFC 5545 rule in a zone with the per-schedule DST choice."""

    def __init__(self, rule_text: str, dtstart: datetime, timezone: str = "UTC", *,
                 gap: GapChoice = "run_after", fold: FoldChoice = "once") -> None:
        self.text = rule_text
        self.dtstart = dtstart
        self.timezone = timezone
        self.zone = get_zone(timezone)
        self.rules: ZoneRules = zone_rules(timezone)
        self.rule = parse_rrule(rule_text, dtstart, timezone)
        self.freq: int = self.rule._freq
        self.fixed = self.freq < _HOURLY
        self.gap = gap
        self.fold = fold
        self._count = self.rule._count
        self._walls = _RuleWalls(self.rule, dtstart)
        self._memo: dict[tuple[float, bool, bool], Fire | None] = {}

    def __repr__(self) -> str:
        return f"RRuleSchedule({self.text!r}, {self.dtstart.isoformat()!r}, {self.timezone!r})"

    @property
    def freq_name(self) -> str:
        return FREQ_NAMES[self.freq]

    def walls_from(self, wall: datetime) -> Iterator[datetime]:
        """The rule's local wall times at or after ``wall``, in order."""
        return self._walls.walls_from(wall)

    # -- wall times to instants -----------------------------------------------------------------
    def _fires_of(self, wall: datetime) -> list[Fire]:
        """The occurrences (fired or not) of one local wall time, in order."""
        zone = self.zone
        local_s = _wall_seconds(wall)
        period = self.rules.period(local_s - self.rules.offset_at(local_s))
        # Which offsets could hold this wall time: the period's and its neighbours'.
        candidates = []
        for off in {period.offset, period.prev_offset, period.next_offset}:
            if off is None:
                continue
            t = local_s - off
            if self.rules.offset_at(t) == off:
                candidates.append(t)
        candidates.sort()
        if not candidates:
            # A wildcard-like rule runs on elapsed time: a wall time in a gap does not occur.
            return [self._gap_fire(wall, local_s)] if self.fixed else []
        if len(candidates) == 1:
            return [Fire(datetime.fromtimestamp(candidates[0], zone), wall, "normal")]
        first, second = candidates[0], candidates[-1]
        shift = second - first
        stamp = f"{wall:%H:%M} happens twice on {wall:%Y-%m-%d}"
        a = datetime.fromtimestamp(first, zone)
        b = datetime.fromtimestamp(second, zone)
        if self.fixed and shift < CLOCK_CORRECTION and self.fold == "once":
            return [Fire(a, wall, "fold_first",
                         f"{stamp}: fires in the first pass only ({a.tzname()}; dst.fold: once)")]
        suffix = "; dst.fold: twice" if self.fixed and shift < CLOCK_CORRECTION else ""
        return [Fire(a, wall, "fold_first", f"{stamp}: first pass ({a.tzname()}{suffix})"),
                Fire(b, wall, "fold_second", f"{stamp}: second pass ({b.tzname()}{suffix})")]

    def _gap_fire(self, wall: datetime, local_s: int) -> Fire:
        # The wall time falls in a gap: the transition is the first instant after it.
        probe = self.rules.period(local_s - self.rules.offset_at(local_s))
        offs = [o for o in (probe.offset, probe.prev_offset, probe.next_offset) if o is not None]
        before = self.rules.period(local_s - max(offs))
        end = before.end if before.end is not None else local_s - max(offs)
        new_off = before.next_offset if before.next_offset is not None else before.offset
        shift = new_off - before.offset
        at = datetime.fromtimestamp(end, self.zone)
        day = wall.date().isoformat()
        if shift >= CLOCK_CORRECTION:
            return Fire(at, wall, "gap_lost",
                        f"clock change on {day}: {wall:%H:%M} never happened; a change of 3 h "
                        "or more is a clock correction, so it is lost")
        if self.gap == "run_after":
            return Fire(at, wall, "gap_shifted",
                        f"DST gap: {wall:%H:%M} does not exist on {day}; fired at "
                        f"{at:%H:%M} {at.tzname()} (dst.gap: run_after)")
        return Fire(at, wall, "gap_skipped",
                    f"DST gap: {wall:%H:%M} does not exist on {day}; not fired (dst.gap: skip)")

    def _spread(self, t: float) -> int:
        """How far (seconds) the UTC offset moves within two days of ``t``."""
        offs = [self.rules.offset_at(t + d) for d in (-2 * 86400, 0, 2 * 86400)]
        period = self.rules.period(t)
        offs += [o for o in (period.prev_offset, period.next_offset) if o is not None]
        return max(offs) - min(offs)

    def _search(self, t: float, inclusive: bool, include_skipped: bool) -> Fire | None:
        spread = self._spread(t)
        off = self.rules.offset_at(t)
        try:
            start_wall = _LOCAL_EPOCH + timedelta(seconds=int(t) + off - spread - 60)
        except OverflowError:
            return None
        best: Fire | None = None
        best_wall: datetime | None = None
        for wall in self.walls_from(max(start_wall, self.dtstart)):
            if best_wall is not None and wall > best_wall + timedelta(seconds=spread):
                break
            for fire in self._fires_of(wall):
                if not include_skipped and not fire.fires:
                    continue
                ts = fire.at.timestamp()
                # (inclusive: the search resumes after a skipped occurrence at ``t``; a fired
                # one there comes after it, another skipped one is the same.)
                if ts < t or (ts == t and (not inclusive or not fire.fires)):
                    continue
                if best is None or ts < best.at.timestamp():
                    best, best_wall = fire, wall
                    spread = max(spread, self._spread(ts))
        return best

    # -- the engine interface -------------------------------------------------------------------
    def after(self, at: datetime, *, inclusive: bool = False,
              include_skipped: bool = False) -> Fire | None:
        """The first occurrence strictly after ``at`` (at or after, ``inclusive``)."""
        if at.tzinfo is None:
            at = at.replace(tzinfo=self.zone)
        t = at.timestamp()
        key = (t, inclusive, include_skipped)
        try:
            return self._memo[key]
        except KeyError:
            pass
        fire = self._search(t, inclusive, include_skipped)
        if len(self._memo) >= _MEMO_SIZE:
            self._memo.clear()
        self._memo[key] = fire
        return fire

    def fire_at(self, at: datetime) -> Fire | None:
        fire = self.after(at, inclusive=True)
        return fire if fire is not None and fire.at == at and fire.kind == "normal" else None

    def iter_fires(self, after: datetime, *, include_skipped: bool = False) -> Iterator[Fire]:
        fire = self.after(after, include_skipped=include_skipped)
        while fire is not None:
            yield fire
            # A skipped occurrence sits at the first instant after its gap, and a regular one
            # at that same instant still comes after it.
            fire = self.after(fire.at, inclusive=not fire.fires, include_skipped=include_skipped)

    def min_interval(self) -> timedelta:
        """The shortest distance between consecutive wall times among the first 500."""
        walls = list(_take(self.rule, 501))
        gaps = [b - a for a, b in itertools.pairwise(walls)]
        return min(gaps) if gaps else timedelta(days=366)

    def never_fires(self) -> bool:
        """Whether no wall time falls within NEVER_FIRES_YEARS years of dtstart (the check
        behind refusing a rule such as FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30); see
        :func:`_never_fires`."""
        return _never_fires(self.rule, self.dtstart)

    def last_wall(self) -> datetime | None:
        """The last wall time of a rule with COUNT or UNTIL (None: unbounded)."""
        if self._count is None and self.rule._until is None:
            return None
        last = None
        for last in self.rule:  # noqa: B007
            pass
        return last


# -- rules that never fire -------------------------------------------------------------------------
def _never_fires(rule: Any, dtstart: datetime) -> bool:
    """Whether no wall time of ``rule`` falls within NEVER_FIRES_YEARS years of ``dtstart``.

    dateutil walks an empty rule period by period up to the year 9999, which takes seconds
    for a daily or finer rule; those are first probed through a YEARLY rule with the same
    date filters (cheap), which has a date exactly when some day passes them."""
    limit = dtstart + timedelta(days=366 * NEVER_FIRES_YEARS)
    if rule._until is not None and rule._until < dtstart:
        return True
    if _phase_never_fires(rule, dtstart):
        return True
    if rule._freq > 1:
        return _no_day_passes(rule, dtstart, limit) or _setpos_chooses_nothing(rule)
    first_wall = next(iter(rule), None)
    return first_wall is None or first_wall > limit


def _phase_never_fires(rule: Any, start: datetime) -> bool:
    """INTERVAL can pin the weekday, hour or minute of every period (``FREQ=HOURLY;
    INTERVAL=2;BYHOUR=3`` from an even hour, ``FREQ=DAILY;INTERVAL=7;BYDAY=TU`` from a
    Monday), and dateutil would then walk empty periods up to the year 9999. Periods start
    at ``x0 + k * step`` minutes into the week (naive wall time, as dateutil counts), so
    the positions they reach are those congruent to ``x0`` modulo ``gcd(step, week)``: the
    rule can fire only if one of them passes the weekday, hour and minute filters."""
    freq: int = rule._freq
    if freq not in (_DAILY, _HOURLY, _MINUTELY):
        return False
    days = set(rule._byweekday) if rule._byweekday else None
    hours = set(rule._byhour) if freq >= _HOURLY and rule._byhour else None
    minutes = set(rule._byminute) if freq == _MINUTELY and rule._byminute else None
    if days is None and hours is None and minutes is None:
        return False
    unit = {_DAILY: 1440, _HOURLY: 60, _MINUTELY: 1}[freq]
    x0 = start.weekday() * 1440 + (start.hour * 60 if freq >= _HOURLY else 0) + (
        start.minute if freq == _MINUTELY else 0)
    step = math.gcd(rule._interval * unit, _WEEK_MINUTES)
    for position in range(x0 % step, _WEEK_MINUTES, step):
        day, rest = divmod(position, 1440)
        hour, minute = divmod(rest, 60)
        if (days is None or day in days) and (hours is None or hour in hours) and (
                minutes is None or minute in minutes):
            return False
    return True


def _no_day_passes(rule: Any, dtstart: datetime, limit: datetime) -> bool:
    """Whether the date filters of a WEEKLY or finer rule let no day through up to ``limit``,
    asked of a YEARLY rule with the same filters (False when it has none to probe)."""
    from dateutil.rrule import YEARLY, rrule

    original = rule._original_rule
    weekdays = original.get("byweekday")
    plain = tuple(w for w in (weekdays or ()) if getattr(w, "n", None) is None)
    probe: Any = rrule(YEARLY, dtstart=dtstart.replace(hour=0, minute=0, second=0),
                       bymonth=original.get("bymonth"),
                       bymonthday=original.get("bymonthday"),
                       byyearday=original.get("byyearday"),
                       byweekday=plain or None, byhour=0, byminute=0, bysecond=0)
    if not (original.get("bymonthday") or original.get("byyearday") or plain) and \
            not original.get("bymonth"):
        return False   # no date filter to probe
    first = next(iter(probe), None)
    return first is None or first > limit


def _setpos_chooses_nothing(rule: Any) -> bool:
    """Whether every BYSETPOS of a WEEKLY or finer rule lies past the size of its period's
    set (False without BYSETPOS)."""
    original = rule._original_rule
    setpos = original.get("bysetpos")
    if not setpos:
        return False
    # Positions index the set of one period: past its size, nothing is chosen.
    # The times of one period are those of the fields finer than the period: an
    # HOURLY period has its minutes, a MINUTELY one a single second.
    freq: int = rule._freq
    finer = {_HOURLY: (rule._byminute, rule._bysecond),
             _MINUTELY: (rule._bysecond,)}.get(
        freq, (rule._byhour, rule._byminute, rule._bysecond))
    times = math.prod(len(field or (0,)) for field in finer)
    size = times * (len(original.get("byweekday") or (0,)) if freq == 2 else 1)
    positions = setpos if isinstance(setpos, tuple | list) else (setpos,)
    return all(abs(p) > size for p in positions)


def _take(rule: Any, n: int) -> Iterator[datetime]:
    for i, wall in enumerate(rule):
        if i >= n:
            return
        yield wall


@functools.lru_cache(maxsize=4096)
def _replaced_cached(rule: Any, anchor: datetime,
                     explicit: tuple[tuple[str, Any], ...]) -> Any:
    return rule.replace(dtstart=anchor, cache=False, **dict(explicit))


def _replaced(rule: Any, anchor: datetime, explicit: tuple[tuple[str, Any], ...]) -> Any:
    return _replaced_cached(rule, anchor, explicit)


class EverySchedule:
    """``anchor + k * every`` (k >= 0) in UTC: exact elapsed time, unmoved by DST."""

    def __init__(self, every_s: int, anchor: datetime, timezone: str = "UTC") -> None:
        if every_s < 60:
            raise InvalidInput("every must be at least 1m")
        self.every_s = every_s
        self.anchor = anchor.astimezone(UTC)
        self.timezone = timezone
        self.zone = get_zone(timezone)
        self._a = int(self.anchor.timestamp())

    def __repr__(self) -> str:
        return f"EverySchedule({self.every_s}, {self.anchor.isoformat()!r}, {self.timezone!r})"

    def _fire(self, k: int) -> Fire | None:
        t = self._a + k * self.every_s
        try:
            at = datetime.fromtimestamp(t, self.zone)
        except (OverflowError, ValueError, OSError):
            return None
        return Fire(at, at.replace(tzinfo=None), "normal")

    def after(self, at: datetime, *, inclusive: bool = False,
              include_skipped: bool = False) -> Fire | None:
        if at.tzinfo is None:
            at = at.replace(tzinfo=self.zone)
        t = at.timestamp()
        d = t - self._a
        if d < 0:
            return self._fire(0)
        k = int(d // self.every_s)
        if k * self.every_s < d or not inclusive:
            k += 1
        return self._fire(k)

    def fire_at(self, at: datetime) -> Fire | None:
        d = at.timestamp() - self._a
        if d < 0 or d % self.every_s:
            return None
        return self._fire(int(d // self.every_s))

    def iter_fires(self, after: datetime, *, include_skipped: bool = False) -> Iterator[Fire]:
        fire = self.after(after)
        while fire is not None:
            yield fire
            fire = self.after(fire.at)

    def min_interval(self) -> timedelta:
        return timedelta(seconds=self.every_s)


def fire_kind_fires(kind: FireKind) -> bool:
    return kind not in ("gap_skipped", "gap_lost")


def first_wall_date(schedule: RRuleSchedule) -> date:
    return schedule.dtstart.date()
