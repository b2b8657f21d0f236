"""Cron parsing and DST-exact next-fire computation (docs/design.md §2.1 to §2.3).

The grammar is Vixie cron's five fields plus macros. The fire-time algorithm reproduces the
scheduling loop of cronie / Vixie cron (``cron.8``, "Daylight Saving Time and other time
changes"), computed from the IANA database instead of by watching the clock:

- A *fixed-time* job (neither the minute nor the hour field starts with ``*``) whose local time
  is skipped by a forward change of less than 3 h fires once, at the first instant after the gap
  (or not at all with ``dst.gap: skip``); when its local time is repeated by a backward change of
  less than 3 h it fires in the first pass only (or in both with ``dst.fold: twice``).
- A *wildcard* job runs on real elapsed time: skipped wall times do not occur, repeated ones
  occur twice.
- A change of 3 h or more is a clock correction (cronie: "the new time is used immediately"):
  skipped local times are lost and repeated ones run again, for both kinds.

The search walks the zone period by period (spans of constant UTC offset, :mod:`clockwf.tz`), and
inside a period searches local wall time with bit sets, so a result is exact for any start
instant, including one inside either pass of a repeated hour. Nothing here reads the clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Literal, NamedTuple

from clockwf.errors import CronError
from clockwf.timeutil import get_zone
from clockwf.tz import ZoneRules, zone_rules

FireKind = Literal["normal", "gap_shifted", "gap_skipped", "gap_lost", "fold_first",
                   "fold_second"]
GapChoice = Literal["run_after", "skip"]
FoldChoice = Literal["once", "twice"]
FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")

CLOCK_CORRECTION = 3 * 3600   # a change of this size or more is a correction, not DST
_MEMO_SIZE = 1024             # CronSchedule.after / fire_at: results kept per schedule
_EPOCH_ORDINAL = 719163       # date(1970, 1, 1).toordinal()
_MAX_ORDINAL = 3652059        # date(9999, 12, 31).toordinal()
_MAX_UTC = 253402300799       # 9999-12-31T23:59:59Z: the last instant a datetime can hold
_LOCAL_EPOCH = datetime(1970, 1, 1)

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV",
                "DEC")
_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_DAY_WORDS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_MONTH_LEN = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

# (name, lowest, highest, names) per field; day-of-week accepts 7 for Sunday.
_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day-of-month", 1, 31, ()),
    ("month", 1, 12, _MONTH_NAMES),
    ("day-of-week", 0, 7, _DAY_NAMES),
)
_SPANS = (60, 24, 31, 12, 7)
_STAR_MASKS = tuple(((1 << (hi + 1)) - 1) ^ ((1 << lo) - 1)
                    for lo, hi in ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6)))


def _weekday_days_table() -> tuple[tuple[int, ...], ...]:
    """[first][weekday set]: bit set of the days 1-31 falling on a weekday of the set (a 7-bit
    mask, Sunday = bit 0) in a month whose 1st is weekday ``first``."""
    table = []
    for first in range(7):
        single = [sum(1 << d for d in range(1, 32) if (first + d - 1) % 7 == w)
                  for w in range(7)]
        row = [0] * 128
        for wm in range(1, 128):
            low = wm & -wm
            row[wm] = row[wm ^ low] | single[low.bit_length() - 1]
        table.append(tuple(row))
    return tuple(table)


_WEEKDAY_DAYS = _weekday_days_table()


def _next_bit(mask: int, start: int) -> int | None:
    """The lowest set bit of ``mask`` at or above ``start``."""
    v = mask >> start
    if not v:
        return None
    return start + (v & -v).bit_length() - 1


def _bits(mask: int) -> list[int]:
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


def _ordinal_suffix(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


class CronExpr:
    """A parsed five-field expression (immutable by convention: build it with parse_cron).

    ``minutes`` ... ``weekdays`` are bit sets (bit n set = value n allowed; weekdays 0-6 with
    Sunday 0). ``fixed``: neither the minute nor the hour field starts with ``*`` (cronie's
    fixed-time job). ``day_or``: both day fields are restricted and neither starts with ``*``,
    so a day matches when EITHER matches (Vixie rule); otherwise both must match.
    ``uneven_steps`` holds human warnings about steps that do not divide their field's range.
    """

    __slots__ = ("_daymasks", "day_or", "days", "dom_star", "dow_star", "fields", "fixed",
                 "hours", "macro", "minutes", "months", "text", "uneven_steps", "weekdays")

    def __init__(self, *, text: str, fields: tuple[str, str, str, str, str], minutes: int,
                 hours: int, days: int, months: int, weekdays: int, fixed: bool, day_or: bool,
                 dom_star: bool, dow_star: bool, uneven_steps: tuple[str, ...],
                 macro: str | None = None) -> None:
        self.text = text
        self.fields = fields
        self.minutes = minutes
        self.hours = hours
        self.days = days
        self.months = months
        self.weekdays = weekdays
        self.fixed = fixed
        self.day_or = day_or
        self.dom_star = dom_star
        self.dow_star = dow_star
        self.uneven_steps = uneven_steps
        self.macro = macro
        # Day sets per weekday of the 1st of the month: bit d set = day d of that month matches.
        table = _WEEKDAY_DAYS
        if day_or:
            self._daymasks = tuple(days | table[first][weekdays] for first in range(7))
        else:
            self._daymasks = tuple(days & table[first][weekdays] for first in range(7))

    def __repr__(self) -> str:
        return f"CronExpr({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CronExpr) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple[int, int, int, int, int, bool, bool]:
        return (self.minutes, self.hours, self.days, self.months, self.weekdays, self.fixed,
                self.day_or)

    def min_interval(self) -> timedelta:
        """The shortest wall-clock interval between two occurrences: between two times of one
        day, or from the last time of a matching day to the first of the next matching one
        (day gaps measured over 2001-2029, which holds every weekday and leap-year pattern)."""
        times = [h * 60 + m for h in _bits(self.hours) for m in _bits(self.minutes)]
        gaps = [b - a for a, b in pairwise(times)]
        day_gap: int | None = None
        previous: date | None = None
        ymd = self._next_day(2001, 1, 1)
        while ymd is not None and ymd[0] < 2030 and day_gap != 1:
            day = date(*ymd)
            if previous is not None:
                gap = (day - previous).days
                day_gap = gap if day_gap is None else min(day_gap, gap)
            previous = day
            following = day + timedelta(days=1)
            ymd = self._next_day(following.year, following.month, following.day)
        if day_gap is not None:
            gaps.append(day_gap * 1440 - (times[-1] - times[0]))
        return timedelta(minutes=min(gaps)) if gaps else timedelta(days=366)

    def describe_days(self) -> str:
        """For the OR warning: 'on the 13th and on every Friday'."""
        days = [_ordinal_suffix(d) for d in _bits(self.days)]
        weekdays = [_DAY_WORDS[d] for d in _bits(self.weekdays)]
        day_text = ", ".join(days[:-1]) + (" and " if len(days) > 1 else "") + days[-1]
        dow_text = ", ".join(weekdays[:-1]) + (" and " if len(weekdays) > 1 else "") + weekdays[-1]
        return f"on the {day_text} of the month and on every {dow_text}"

    def matches(self, local: datetime) -> bool:
        """Whether a local wall time (seconds ignored) matches the expression."""
        if not ((self.minutes >> local.minute) & 1 and (self.hours >> local.hour) & 1
                and (self.months >> local.month) & 1):
            return False
        dom = (self.days >> local.day) & 1
        dow = (self.weekdays >> ((local.weekday() + 1) % 7)) & 1
        return bool(dom or dow) if self.day_or else bool(dom and dow)

    # -- search in local wall time, as integer "local epoch seconds" --------------------------
    def _next_day(self, y: int, m: int, d: int) -> tuple[int, int, int] | None:
        """The first matching date at or after (y, m, d); None past year 9999."""
        months = self.months
        daymasks = self._daymasks
        while y <= 9999:
            if (months >> m) & 1:
                length = _MONTH_LEN[m]
                if m == 2 and not (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)):
                    length = 28
                if d <= length:
                    first = (date(y, m, 1).weekday() + 1) % 7
                    v = (daymasks[first] & ((2 << length) - 1)) >> d
                    if v:
                        return y, m, d + (v & -v).bit_length() - 1
            m += 1
            d = 1
            if m == 13:
                m = 1
                y += 1
        return None

    def next_local(self, local: int) -> int | None:
        """The first matching local wall time at or after ``local`` (local epoch seconds, a
        multiple of 60); None past year 9999."""
        days, second_of_day = divmod(local, 86400)
        ordinal = days + _EPOCH_ORDINAL
        if ordinal < 1:
            days, second_of_day, ordinal = 1 - _EPOCH_ORDINAL, 0, 1
        if ordinal > _MAX_ORDINAL:
            return None
        hour, minute = second_of_day // 3600, (second_of_day % 3600) // 60
        today = date.fromordinal(ordinal)
        y, m, d = today.year, today.month, today.day
        hours, minutes = self.hours, self.minutes
        while True:
            found = self._next_day(y, m, d)
            if found is None:
                return None
            if found != (y, m, d):
                y, m, d = found
                hour = minute = 0
            h = _next_bit(hours, hour)
            if h is not None:
                mi = _next_bit(minutes, minute if h == hour else 0)
                if mi is None:
                    h = _next_bit(hours, h + 1)
                    mi = _next_bit(minutes, 0)
                if h is not None and mi is not None:
                    days = date(y, m, d).toordinal() - _EPOCH_ORDINAL
                    return days * 86400 + h * 3600 + mi * 60
            ordinal = date(y, m, d).toordinal() + 1
            if ordinal > _MAX_ORDINAL:
                return None
            nxt = date.fromordinal(ordinal)
            y, m, d = nxt.year, nxt.month, nxt.day
            hour = minute = 0


def _fail(field: int | None, message: str, expression: str) -> CronError:
    name = FIELD_NAMES[field] if field is not None else None
    return CronError(message, field=name, expression=expression)


def _parse_value(token: str, index: int, expression: str, *, range_end: bool = False) -> int:
    name, low, high, names = _FIELDS[index]
    upper = token.upper()
    if upper in names:
        value = names.index(upper) + (1 if index == 3 else 0)
        if index == 4 and range_end and value == 0:
            value = 7
        return value
    if not token.isdigit() or not token.isascii():
        # Names first: JULY and WEDNESDAY contain L and W but are not cron extensions.
        if names and upper.isalpha() and upper[:3] in names and len(upper) > 3:
            raise _fail(index, f"{name} field: {token!r} is not a number {low}-{high} (use the "
                        f"three-letter name {upper[:3]})", expression)
        if not names and (upper in _MONTH_NAMES or upper in _DAY_NAMES):
            raise _fail(index, f"{name} field: names such as {token!r} are only allowed in the "
                        "month and day-of-week fields", expression)
        if (token and token[0] in "LW#?H") or any(c in token for c in "LW#?"):
            raise _fail(index, f"{name} field: {token!r} is not supported: clockwf takes "
                        "standard five-field cron (no L, W, #, ? or H extensions)", expression)
        if names:
            raise _fail(index, f"{name} field: {token!r} is not a number {low}-{high}; names "
                        f"are {', '.join(names)}", expression)
        raise _fail(index, f"{name} field: {token!r} is not a number {low}-{high}", expression)
    value = int(token)
    if index == 4 and range_end and value == 0:
        value = 7
    if not low <= value <= high:
        raise _fail(index, f"{name} field: {value} is out of range {low}-{high}", expression)
    return value


def _parse_field(text: str, index: int, expression: str) -> tuple[int, list[str]]:
    """Bit set of a field, plus warnings about uneven steps."""
    name, low, high, _names = _FIELDS[index]
    # Fast paths for the two commonest fields, '*' and a plain number.
    if text == "*":
        return _STAR_MASKS[index], []
    if text.isdigit() and text.isascii():
        value = int(text)
        if low <= value <= high:
            return 1 << (value % 7 if index == 4 else value), []
    if text == "":
        raise _fail(index, f"{name} field is empty", expression)
    mask = 0
    warnings: list[str] = []
    for item in text.split(","):
        if item == "":
            raise _fail(index, f"{name} field {text!r} has an empty list item", expression)
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or not step_text.isascii():
                raise _fail(index, f"{name} field: step {step_text!r} in {item!r} is not a "
                            "positive number", expression)
            step = int(step_text)
            if step == 0:
                raise _fail(index, f"{name} field: step 0 in {item!r} never advances; use a "
                            "step of 1 or more", expression)
        if base == "*":
            start, stop = low, (6 if index == 4 and step == 1 else high)
        elif "-" in base:
            first, _, last = base.partition("-")
            if not first or not last:
                raise _fail(index, f"{name} field: {item!r} is not a range a-b", expression)
            start = _parse_value(first, index, expression)
            # A day-of-week range ending at 0/SUN means 7 (FRI-SUN), except SUN-SUN itself.
            stop = _parse_value(last, index, expression, range_end=start > 0)
            if stop < start:
                raise _fail(index, f"{name} field: range {base!r} is reversed ({start} > {stop});"
                            f" write it low-high", expression)
        else:
            start = _parse_value(base, index, expression)
            stop = high if slash else start
        if step == 1:
            mask |= ((1 << (stop + 1)) - 1) ^ ((1 << start) - 1)
        else:
            for value in range(start, stop + 1, step):
                mask |= 1 << value
        if slash and base == "*":
            span = _SPANS[index]
            if step >= span:
                warnings.append(f"{item} in the {name} field means only {low} (the step is not "
                                f"smaller than the {span} values of the field)")
            elif span % step:
                values = list(range(low, low + span, step))
                gap = low + span - values[-1]
                warnings.append(f"{item} in the {name} field is uneven: {step} does not divide "
                                f"{span}, so after {values[-1]} it fires again at {low}, "
                                f"{gap} apart instead of {step}")
    if index == 4 and mask >> 7 & 1:
        mask = (mask | 1) & 0x7F   # Sunday as 7 is Sunday as 0
    return mask, warnings


# Fields are separated by ASCII spaces and tabs, as crontab(5) says; the text around them may
# also carry line ends (a YAML block scalar). Any other character outside printable ASCII is
# looked at by _check_separators.
_ASCII_BLANKS = " \t\r\n"
_NOT_PRINTABLE_ASCII = re.compile("[^\x20-\x7e\t]")
_INVISIBLE = frozenset(("Zs", "Zl", "Zp", "Cf", "Cc"))


_CONTROL_NAMES = {"\n": "LINE FEED", "\r": "CARRIAGE RETURN", "\v": "LINE TABULATION",
                  "\f": "FORM FEED", "\x85": "NEXT LINE"}


def describe_char(char: str) -> str:
    """``U+00A0 NO-BREAK SPACE``; a control character (Unicode names none) by its usual name."""
    import unicodedata

    name = unicodedata.name(char, "") or _CONTROL_NAMES.get(char, "(a control character)")
    return f"U+{ord(char):04X} {name}"


def _check_separators(text: str) -> None:
    """Refuse a Unicode space, format or control character (a no-break space pasted from a web
    page, a zero-width space, a byte-order mark), naming it and its 1-based column: Python would
    split fields at some of them and crontab refuses them all."""
    if _NOT_PRINTABLE_ASCII.search(text) is None:     # the common case, at once
        return
    start = len(text) - len(text.lstrip(_ASCII_BLANKS))
    body = text[start:len(text.rstrip(_ASCII_BLANKS))] if start < len(text) else ""
    for match in _NOT_PRINTABLE_ASCII.finditer(body):
        char = match.group()
        import unicodedata

        if char.isspace() or unicodedata.category(char) in _INVISIBLE:
            column = start + match.start() + 1
            raise CronError(
                f"{describe_char(char)} at column {column} of {text!r}: cron fields are "
                "separated by ASCII spaces and tabs only; delete it or retype it as a plain "
                "space (it often comes with text copied from a web page or a chat)",
                expression=text, column=column)


def parse_cron(text: str) -> CronExpr:
    """Parse a five-field expression or a macro.

    :raises CronError: naming the field (``.field``, one of FIELD_NAMES, or None) and what would
        be valid; for a character that is no ASCII space or tab but looks like a blank, its
        1-based ``.column`` in ``text``.
    """
    if not isinstance(text, str):
        raise CronError(f"a cron expression is text, got {type(text).__name__}")
    _check_separators(text)
    source = text.strip()
    macro: str | None = None
    if source.startswith("@"):
        key = source.lower()
        if key == "@reboot":
            raise CronError("@reboot is not supported: clockwf fires on the clock, not when a "
                            "machine boots (start such a run with `clockwf run`)",
                            expression=text)
        if key not in MACROS:
            raise CronError(f"unknown macro {source!r}: valid macros are "
                            f"{', '.join(MACROS)}", expression=text)
        macro = key
        source = MACROS[key]
    parts = source.split()
    if len(parts) != 5:
        if not parts:
            raise CronError("the cron expression is empty: give five fields (minute hour "
                            "day-of-month month day-of-week) or a macro such as @daily",
                            expression=text)
        if len(parts) in (6, 7):
            raise CronError(f"{len(parts)} fields given: seconds are not supported"
                            f"{' (nor years)' if len(parts) == 7 else ''}; clockwf takes five "
                            "fields: minute hour day-of-month month day-of-week",
                            expression=text)
        raise CronError(f"{len(parts)} field{'s' if len(parts) != 1 else ''} given; a cron "
                        "expression has five: minute hour day-of-month month day-of-week",
                        expression=text)
    masks = []
    uneven: list[str] = []
    for index, part in enumerate(parts):
        mask, warnings = _parse_field(part, index, text)
        masks.append(mask)
        uneven.extend(warnings)
    minutes, hours, days, months, weekdays = masks
    dom_star = parts[2].startswith("*")
    dow_star = parts[4].startswith("*")
    day_or = not (dom_star or dow_star)
    if not day_or:
        # Both day fields must match: some allowed day must exist in some allowed month
        # (February counts 29 days: leap years come round).
        first_day = (days & -days).bit_length() - 1
        if first_day > 29 and first_day > max(_MONTH_LEN[m] for m in _bits(months)):
            month_text = ", ".join(_MONTH_NAMES[m - 1] for m in _bits(months))
            raise CronError(f"{text.strip()!r} can never fire: no month in {month_text} has day "
                            f"{first_day}", field="day-of-month", expression=text)
    return CronExpr(
        text=text,
        fields=(parts[0], parts[1], parts[2], parts[3], parts[4]),
        minutes=minutes, hours=hours, days=days, months=months, weekdays=weekdays,
        fixed=not (parts[0].startswith("*") or parts[1].startswith("*")),
        day_or=day_or, dom_star=dom_star, dow_star=dow_star,
        uneven_steps=tuple(uneven), macro=macro,
    )


class Fire(NamedTuple):
    """One occurrence of a schedule.

    ``at``: the instant it fires (aware, in the schedule's zone). ``local``: the naive local wall
    time the expression matched (for a gap shift, the time that did not exist, e.g. 02:30).
    ``kind``: ``normal``; ``gap_shifted`` (local time skipped by a DST gap, fired at the first
    instant after it); ``gap_skipped`` (``dst.gap: skip``: not fired; ``at`` is the first instant
    after the gap); ``gap_lost`` (skipped by a clock correction of 3 h or more: not fired);
    ``fold_first`` / ``fold_second`` (local time repeated; which pass). ``note`` explains any
    kind but ``normal``.

    (A named tuple, like :class:`clockwf.tz.Period`: a tick builds one for every schedule it
    fires, and a frozen dataclass costs several times more to construct.)
    """

    at: datetime
    local: datetime
    kind: FireKind
    note: str | None = None

    @property
    def fires(self) -> bool:
        return self.kind not in ("gap_skipped", "gap_lost")

    @property
    def utc(self) -> datetime:
        return self.at.astimezone(UTC)


def _ceil_minute(t: float) -> int:
    return -int(-t // 60) * 60


def _after_minute(t: float) -> int:
    return (int(t // 60) + 1) * 60


def _hm(local: int) -> str:
    return (_LOCAL_EPOCH + timedelta(seconds=local)).strftime("%H:%M")


def _shift_text(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    seconds = abs(seconds)
    h, rem = divmod(seconds, 3600)
    return f"{sign}{h}h{rem // 60:02d}" if rem else f"{sign}{h}h"


class CronSchedule:
    """A cron expression in a zone with the per-schedule DST choice (docs/design.md §2.3)."""

    def __init__(self, cron: str | CronExpr, timezone: str = "UTC", *,
                 gap: GapChoice = "run_after", fold: FoldChoice = "once") -> None:
        self.expr = cron if isinstance(cron, CronExpr) else parse_cron(cron)
        self.timezone = timezone
        self.zone = get_zone(timezone)
        self.rules: ZoneRules = zone_rules(timezone)
        if gap not in ("run_after", "skip"):
            raise ValueError(f"gap must be run_after or skip, not {gap!r}")
        if fold not in ("once", "twice"):
            raise ValueError(f"fold must be once or twice, not {fold!r}")
        self.gap = gap
        self.fold = fold
        self._memo: dict[tuple[float, bool, bool], Fire | None] = {}
        self._at_memo: dict[float, Fire | None] = {}

    def __repr__(self) -> str:
        return (f"CronSchedule({self.expr.text!r}, {self.timezone!r}, gap={self.gap!r}, "
                f"fold={self.fold!r})")

    # -- the search ---------------------------------------------------------------------------
    def _search(self, t: float, inclusive: bool,
                include_skipped: bool) -> tuple[int, int, FireKind, str | None] | None:
        """(utc seconds, local seconds, kind, note) of the first occurrence after ``t``
        (at or after, when ``inclusive``)."""
        expr = self.expr
        fixed = expr.fixed
        period = self.rules.period(t)
        off = period.offset
        local = _ceil_minute(t + off) if inclusive else _after_minute(t + off)
        while True:
            end = period.end
            limit = None if end is None else end + off
            while True:
                found = expr.next_local(local)
                if found is None:
                    return None
                if limit is not None and found >= limit:
                    break
                if found - off > _MAX_UTC:
                    return None   # local 9999-12-31 is past the end of datetime in UTC
                prev = period.prev_offset
                start = period.start
                if prev is not None and start is not None and prev > off \
                        and found < start + prev:
                    # The second pass of a repeated stretch of local time.
                    shift = prev - off
                    if fixed and shift < CLOCK_CORRECTION and self.fold == "once":
                        local = found + 60
                        continue
                    return found - off, found, "fold_second", self._fold_note(
                        found, found - off, "second", shift)
                nxt = period.next_offset
                if end is not None and nxt is not None and nxt < off and found >= end + nxt:
                    return found - off, found, "fold_first", self._fold_note(
                        found, found - off, "first", off - nxt)
                return found - off, found, "normal", None
            # No match before the end of this period: cross the transition at `end`.
            assert end is not None and period.next_offset is not None
            if end > _MAX_UTC:
                return None
            new_off = period.next_offset
            if new_off > off and fixed:
                missed = expr.next_local(_ceil_minute(end + off))
                if missed is not None and missed < end + new_off:
                    shift = new_off - off
                    day = (_LOCAL_EPOCH + timedelta(seconds=missed)).date().isoformat()
                    if shift >= CLOCK_CORRECTION:
                        if include_skipped:
                            return end, missed, "gap_lost", (
                                f"clock change {_shift_text(shift)} on {day}: {_hm(missed)} "
                                "never happened; a change of 3 h or more is a clock "
                                "correction, so it is lost")
                    elif self.gap == "run_after":
                        abbr = datetime.fromtimestamp(end, self.zone).tzname() or ""
                        return end, missed, "gap_shifted", (
                            f"DST gap: {_hm(missed)} does not exist on {day}; fired at "
                            f"{_hm(end + new_off)} {abbr} (dst.gap: run_after)")
                    elif include_skipped:
                        return end, missed, "gap_skipped", (
                            f"DST gap: {_hm(missed)} does not exist on {day}; not fired "
                            "(dst.gap: skip)")
            period = self.rules.period(end)
            off = period.offset
            local = _ceil_minute(end + off)

    def _fold_note(self, local: int, utc_s: int, which: str, shift: int) -> str:
        stamp = (_LOCAL_EPOCH + timedelta(seconds=local))
        abbr = datetime.fromtimestamp(utc_s, self.zone).tzname() or ""
        base = f"{stamp:%H:%M} happens twice on {stamp:%Y-%m-%d}"
        if shift >= CLOCK_CORRECTION:
            return f"{base} (clock correction of {shift // 3600} h): {which} pass ({abbr})"
        if self.expr.fixed and self.fold == "once":
            return f"{base}: fires in the first pass only ({abbr}; dst.fold: once)"
        suffix = "; dst.fold: twice" if self.expr.fixed else ""
        return f"{base}: {which} pass ({abbr}{suffix})"

    def _fire(self, found: tuple[int, int, FireKind, str | None]) -> Fire:
        utc_s, local, kind, note = found
        return Fire(datetime.fromtimestamp(utc_s, self.zone),
                    _LOCAL_EPOCH + timedelta(seconds=local), kind, note)

    def _instant(self, value: datetime) -> float:
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.zone)
        return value.timestamp()

    # -- public -------------------------------------------------------------------------------
    def next_fire(self, after: datetime) -> Fire | None:
        """The first firing occurrence strictly after ``after`` (aware; a naive value is a
        local wall time in the schedule's zone). None only past year 9999."""
        found = self._search(self._instant(after), False, False)
        return None if found is None else self._fire(found)

    def following(self, fire: Fire, *, include_skipped: bool = False) -> Fire | None:
        """The occurrence after ``fire`` (which came from this schedule)."""
        # A skipped or lost occurrence sits at the first instant after its gap; a regular
        # occurrence at that same instant still comes after it.
        return self.after(fire.at, inclusive=not fire.fires, include_skipped=include_skipped)

    def after(self, at: datetime, *, inclusive: bool = False,
              include_skipped: bool = False) -> Fire | None:
        """The first occurrence strictly after the instant ``at`` (at or after it when
        ``inclusive``); with ``include_skipped``, also one that does not fire.

        Memoised per schedule: every schedule sharing this engine (same expression, zone and DST
        choice) that fires at the same instant asks for the same next occurrence, often
        thousands of times in one tick. The result is immutable and depends on nothing else."""
        t = self._instant(at)
        key = (t, inclusive, include_skipped)
        memo = self._memo
        try:
            return memo[key]   # (one lookup: safe while another thread clears the memo)
        except KeyError:
            pass
        found = self._search(t, inclusive, include_skipped)
        fire = None if found is None else self._fire(found)
        if len(memo) >= _MEMO_SIZE:
            memo.clear()   # bounded; the instants asked again are the recent ones
        memo[key] = fire
        return fire

    def fire_at(self, at: datetime) -> Fire | None:
        """A ``normal`` occurrence at the instant ``at`` when the expression matches its local
        wall time there, else None. Memoised like :meth:`after` (a tick asks it for every
        schedule it fires, most of them sharing an expression, a zone and an instant)."""
        t = self._instant(at)
        memo = self._at_memo
        try:
            return memo[t]
        except KeyError:
            pass
        local = datetime.fromtimestamp(t, self.zone)
        wall = local.replace(tzinfo=None)
        fire = Fire(local, wall, "normal") if self.expr.matches(wall) else None
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        memo[t] = fire
        return fire

    def iter_fires(self, after: datetime, *, include_skipped: bool = False) -> Iterator[Fire]:
        """Occurrences strictly after ``after``, in order; with ``include_skipped``, also the
        ones that do not fire (``gap_skipped``, ``gap_lost``)."""
        found = self._search(self._instant(after), False, include_skipped)
        while found is not None:
            fire = self._fire(found)
            yield fire
            found = self._search(found[0], not fire.fires, include_skipped)

    def next_fires(self, after: datetime, count: int) -> list[datetime]:
        out: list[datetime] = []
        t = self._instant(after)
        zone = self.zone
        while len(out) < count:
            found = self._search(t, False, False)
            if found is None:
                break
            t = found[0]
            out.append(datetime.fromtimestamp(t, zone))
        return out


def next_fires(cron: str, timezone: str, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire instants of ``cron`` in ``timezone`` strictly after ``after``.

    Aware datetimes in the schedule's zone, following the reference DST behaviour of docs/design.md §2.2
    (cronie semantics). A naive ``after`` is read as wall time in ``timezone``. Fewer than
    ``count`` are returned only past the year 9999.
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    return CronSchedule(cron, timezone).next_fires(after, count)
