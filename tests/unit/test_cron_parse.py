"""The cron grammar of docs/design.md §2.1: what parses to which values, and every rejection.

Expected value sets and dates are written by hand; dates were checked against a calendar.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from clockwf.cron import CronExpr, parse_cron
from clockwf.errors import CronError, InvalidInput


def values(mask: int) -> set[int]:
    return {n for n in range(64) if mask >> n & 1}


ALL_MINUTES = set(range(60))
ALL_HOURS = set(range(24))
ALL_DAYS = set(range(1, 32))
ALL_MONTHS = set(range(1, 13))
ALL_WEEKDAYS = set(range(7))


def field_values(expr: CronExpr, field: str) -> set[int]:
    return values({"minute": expr.minutes, "hour": expr.hours, "day-of-month": expr.days,
                   "month": expr.months, "day-of-week": expr.weekdays}[field])


def with_field(field: str, text: str) -> str:
    parts = ["0", "0", "*", "*", "*"]
    parts[["minute", "hour", "day-of-month", "month", "day-of-week"].index(field)] = text
    return " ".join(parts)


def utc_fires(expr: str, after: str, n: int) -> list[str]:
    from clockwf import next_fires

    start = datetime.fromisoformat(after).replace(tzinfo=UTC)
    return [f.strftime("%Y-%m-%d %H:%M") for f in next_fires(expr, "UTC", start, n)]


# -- accepted forms ------------------------------------------------------------------------------

@pytest.mark.parametrize(("field", "text", "expected"), [
    # numbers, star, ranges, steps, lists
    ("minute", "5", {5}),
    ("minute", "0", {0}),
    ("minute", "59", {59}),
    ("minute", "*", ALL_MINUTES),
    ("minute", "1-3", {1, 2, 3}),
    ("minute", "0-59", ALL_MINUTES),
    ("minute", "*/15", {0, 15, 30, 45}),
    ("minute", "*/7", {0, 7, 14, 21, 28, 35, 42, 49, 56}),
    ("minute", "*/60", {0}),
    ("minute", "*/1", ALL_MINUTES),
    ("minute", "10-30/10", {10, 20, 30}),
    ("minute", "10-31/10", {10, 20, 30}),
    ("minute", "50/5", {50, 55}),
    ("minute", "5/100", {5}),
    ("minute", "1,2,3", {1, 2, 3}),
    ("minute", "3,1,2,1", {1, 2, 3}),
    ("minute", "1-3,10-14/2,59", {1, 2, 3, 10, 12, 14, 59}),
    ("minute", "*/30,15", {0, 15, 30}),
    ("minute", "007", {7}),
    ("hour", "23", {23}),
    ("hour", "*/5", {0, 5, 10, 15, 20}),
    ("hour", "9-17", set(range(9, 18))),
    ("hour", "0-23", ALL_HOURS),
    ("hour", "22/1", {22, 23}),
    ("day-of-month", "1", {1}),
    ("day-of-month", "31", {31}),
    ("day-of-month", "*", ALL_DAYS),
    ("day-of-month", "*/10", {1, 11, 21, 31}),
    ("day-of-month", "1-31/15", {1, 16, 31}),
    ("day-of-month", "15/5", {15, 20, 25, 30}),
    ("day-of-month", "1,15", {1, 15}),
    # month numbers and names, case-insensitive
    ("month", "1", {1}),
    ("month", "12", {12}),
    ("month", "*/3", {1, 4, 7, 10}),
    ("month", "JAN", {1}),
    ("month", "jan", {1}),
    ("month", "Dec", {12}),
    ("month", "jan-Mar", {1, 2, 3}),
    ("month", "JAN,jul", {1, 7}),
    ("month", "FEB-DEC/5", {2, 7, 12}),
    ("month", "jun/2", {6, 8, 10, 12}),
    ("month", "1-JUN", {1, 2, 3, 4, 5, 6}),
    # day of week: Sunday as 0 and 7, names, ranges ending at Sunday
    ("day-of-week", "0", {0}),
    ("day-of-week", "7", {0}),
    ("day-of-week", "0,7", {0}),
    ("day-of-week", "7-7", {0}),
    ("day-of-week", "0-7", ALL_WEEKDAYS),
    ("day-of-week", "*", ALL_WEEKDAYS),
    ("day-of-week", "SUN", {0}),
    ("day-of-week", "sun", {0}),
    ("day-of-week", "Sat", {6}),
    ("day-of-week", "mon-fri", {1, 2, 3, 4, 5}),
    ("day-of-week", "MON-SUN", ALL_WEEKDAYS),
    ("day-of-week", "FRI-SUN", {5, 6, 0}),
    ("day-of-week", "fri-sun", {5, 6, 0}),
    ("day-of-week", "5-0", {5, 6, 0}),
    ("day-of-week", "5-7", {5, 6, 0}),
    ("day-of-week", "6-7", {6, 0}),
    ("day-of-week", "SUN-SAT", ALL_WEEKDAYS),
    ("day-of-week", "SUN-SUN", {0}),        # not "every day": only a range ENDING at 0 means 7
    ("day-of-week", "0-0", {0}),
    ("day-of-week", "*/2", {0, 2, 4, 6}),
    ("day-of-week", "*/3", {0, 3, 6}),
    ("day-of-week", "*/7", {0}),
    ("day-of-week", "sun-sat/2", {0, 2, 4, 6}),
    ("day-of-week", "MON-SUN/2", {1, 3, 5, 0}),
    ("day-of-week", "6/1", {6, 0}),
    ("day-of-week", "MON,wed,FRI", {1, 3, 5}),
])
def test_field_values(field: str, text: str, expected: set[int]) -> None:
    expr = parse_cron(with_field(field, text))
    assert field_values(expr, field) == expected


def test_whole_expression_fields_and_text() -> None:
    expr = parse_cron("  5,10 9-17/4\t1,15 jan-JUN mon-fri ")
    assert values(expr.minutes) == {5, 10}
    assert values(expr.hours) == {9, 13, 17}
    assert values(expr.days) == {1, 15}
    assert values(expr.months) == {1, 2, 3, 4, 5, 6}
    assert values(expr.weekdays) == {1, 2, 3, 4, 5}
    assert expr.fields == ("5,10", "9-17/4", "1,15", "jan-JUN", "mon-fri")
    assert expr.macro is None


def test_equal_expressions_compare_equal() -> None:
    assert parse_cron("0 0 * * 0") == parse_cron("0 0 * * 7") == parse_cron("0 0 * * sun")
    assert hash(parse_cron("0 0 * * 0")) == hash(parse_cron("0 0 * * SUN"))
    assert parse_cron("0 0 * * 1") != parse_cron("0 0 * * 2")
    assert parse_cron("0 0 * * 1") != "0 0 * * 1"


@pytest.mark.parametrize(("macro", "equivalent"), [
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
    ("@DAILY", "0 0 * * *"),
    ("@Weekly", "0 0 * * 0"),
    ("@HoUrLy", "0 * * * *"),
    (" @yearly ", "0 0 1 1 *"),
])
def test_macros(macro: str, equivalent: str) -> None:
    expr = parse_cron(macro)
    plain = parse_cron(equivalent)
    assert expr == plain
    assert (expr.minutes, expr.hours, expr.days, expr.months, expr.weekdays) == (
        plain.minutes, plain.hours, plain.days, plain.months, plain.weekdays)
    assert expr.fixed == plain.fixed
    assert expr.macro == macro.strip().lower()


def test_macro_fire_times() -> None:
    # 2027-01-01 is a Friday; the first Sunday is 2027-01-03.
    assert utc_fires("@yearly", "2027-01-01 00:00", 2) == ["2028-01-01 00:00", "2029-01-01 00:00"]
    assert utc_fires("@monthly", "2027-01-01 00:00", 2) == ["2027-02-01 00:00", "2027-03-01 00:00"]
    assert utc_fires("@weekly", "2027-01-01 00:00", 2) == ["2027-01-03 00:00", "2027-01-10 00:00"]
    assert utc_fires("@daily", "2027-01-01 00:00", 2) == ["2027-01-02 00:00", "2027-01-03 00:00"]
    assert utc_fires("@midnight", "2027-01-01 23:59", 1) == ["2027-01-02 00:00"]
    assert utc_fires("@hourly", "2027-01-01 00:00", 2) == ["2027-01-01 01:00", "2027-01-01 02:00"]


# -- rejections ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "field", "message"), [
    # field count
    ("0 0 * * * *", None, "6 fields given: seconds are not supported"),
    ("*/5 0 0 * * *", None, "seconds are not supported"),
    ("0 0 0 * * * 2027", None, "7 fields given: seconds are not supported (nor years)"),
    ("0 0 * *", None, "4 fields given; a cron expression has five"),
    ("0 0 * * * * * *", None, "8 fields given"),
    ("5", None, "1 field given"),
    ("", None, "the cron expression is empty"),
    ("   ", None, "the cron expression is empty"),
    # macros
    ("@reboot", None, "@reboot is not supported"),
    ("@REBOOT", None, "@reboot is not supported"),
    ("@fortnightly", None, "unknown macro '@fortnightly': valid macros are @yearly, @annually, "
                           "@monthly, @weekly, @daily, @midnight, @hourly"),
    ("@daily 5", None, "unknown macro"),
    ("@", None, "unknown macro"),
    # out of range, per field
    ("60 0 * * *", "minute", "minute field: 60 is out of range 0-59"),
    ("0-60 0 * * *", "minute", "60 is out of range 0-59"),
    ("0 24 * * *", "hour", "hour field: 24 is out of range 0-23"),
    ("0 0 0 * *", "day-of-month", "day-of-month field: 0 is out of range 1-31"),
    ("0 0 32 * *", "day-of-month", "day-of-month field: 32 is out of range 1-31"),
    ("0 0 * 0 *", "month", "month field: 0 is out of range 1-12"),
    ("0 0 * 13 *", "month", "month field: 13 is out of range 1-12"),
    ("0 0 * * 8", "day-of-week", "day-of-week field: 8 is out of range 0-7"),
    ("0 0 * * 1-8", "day-of-week", "8 is out of range 0-7"),
    ("-1 0 * * *", "minute", "'-1' is not a range a-b"),
    # step 0 and malformed steps
    ("*/0 * * * *", "minute", "minute field: step 0 in '*/0' never advances"),
    ("0 1-5/0 * * *", "hour", "hour field: step 0 in '1-5/0' never advances"),
    ("*/ * * * *", "minute", "step '' in '*/' is not a positive number"),
    ("*/x * * * *", "minute", "step 'x' in '*/x' is not a positive number"),
    ("*/-2 * * * *", "minute", "step '-2' in '*/-2' is not a positive number"),
    ("*/1/2 * * * *", "minute", "step '1/2'"),
    # reversed ranges
    ("5-1 * * * *", "minute", "minute field: range '5-1' is reversed (5 > 1); write it low-high"),
    ("0 0 * * FRI-MON", "day-of-week", "range 'FRI-MON' is reversed (5 > 1)"),
    ("0 0 * DEC-JAN *", "month", "range 'DEC-JAN' is reversed (12 > 1)"),
    ("0 0 * * 7-1", "day-of-week", "range '7-1' is reversed (7 > 1)"),
    # incomplete ranges
    ("1- * * * *", "minute", "'1-' is not a range a-b"),
    ("0 0 * * -5", "day-of-week", "'-5' is not a range a-b"),
    ("1-2-3 * * * *", "minute", "'2-3' is not a number 0-59"),
    # empty list items (an empty field cannot be written: whitespace separates fields)
    ("0 0 1,,2 * *", "day-of-month", "day-of-month field '1,,2' has an empty list item"),
    ("0, 0 * * *", "minute", "minute field '0,' has an empty list item"),
    ("0,0, 0 * * *", "minute", "has an empty list item"),
    (",5 0 * * *", "minute", "has an empty list item"),
    # unknown names and names in the wrong field
    ("0 0 * FOO *", "month", "month field: 'FOO' is not a number 1-12; names are JAN, FEB"),
    ("0 0 * * FOO", "day-of-week", "day-of-week field: 'FOO' is not a number 0-7; names are SUN"),
    ("0 0 * * MONDAY", "day-of-week", "(use the three-letter name MON)"),
    ("0 0 * * wednesday", "day-of-week", "(use the three-letter name WED)"),
    ("0 0 * JULY *", "month", "(use the three-letter name JUL)"),
    ("0 0 * April *", "month", "(use the three-letter name APR)"),
    ("0 0 * * JAN", "day-of-week", "'JAN' is not a number 0-7; names are SUN"),
    ("0 0 * MON *", "month", "'MON' is not a number 1-12; names are JAN"),
    ("JAN 0 * * *", "minute", "names such as 'JAN' are only allowed in the month and day-of-week"),
    ("0 JUL * * *", "hour", "names such as 'JUL' are only allowed in the month and day-of-week"),
    ("0 0 MON * *", "day-of-month", "names such as 'MON' are only allowed"),
    ("x 0 * * *", "minute", "minute field: 'x' is not a number 0-59"),
    ("0 0 1.5 * *", "day-of-month", "'1.5' is not a number 1-31"),
    ("0 0 \u0661 * *", "day-of-month", "is not a number 1-31"),   # an Arabic-Indic digit one
    # Quartz / Jenkins extensions
    ("0 0 L * *", "day-of-month", "'L' is not supported: clockwf takes standard five-field cron "
                                  "(no L, W, #, ? or H extensions)"),
    ("0 0 LW * *", "day-of-month", "'LW' is not supported"),
    ("0 0 15W * *", "day-of-month", "'15W' is not supported"),
    ("0 0 * * 5L", "day-of-week", "'5L' is not supported"),
    ("0 0 * * 5#3", "day-of-week", "'5#3' is not supported"),
    ("0 0 * * FRI#1", "day-of-week", "'FRI#1' is not supported"),
    ("0 0 ? * *", "day-of-month", "'?' is not supported"),
    ("0 0 * * ?", "day-of-week", "'?' is not supported"),
    ("H 0 * * *", "minute", "'H' is not supported"),
    ("H/15 * * * *", "minute", "'H' is not supported"),
    ("0 H * * *", "hour", "'H' is not supported"),
    # expressions that can never fire (both day fields must match, see the Vixie rule)
    ("0 0 30 2 *", "day-of-month", "'0 0 30 2 *' can never fire: no month in FEB has day 30"),
    ("0 0 31 2 *", "day-of-month", "no month in FEB has day 31"),
    ("0 0 31 4,6,9,11 *", "day-of-month", "no month in APR, JUN, SEP, NOV has day 31"),
    ("0 0 31 2 */7", "day-of-month", "'0 0 31 2 */7' can never fire"),
    ("0 0 30-31 feb *", "day-of-month", "no month in FEB has day 30"),
    ("0 0 31 apr-jun/2 *", "day-of-month", "no month in APR, JUN has day 31"),
])
def test_rejections(text: str, field: str | None, message: str) -> None:
    with pytest.raises(CronError) as caught:
        parse_cron(text)
    assert message in str(caught.value)
    assert caught.value.field == field
    assert caught.value.expression == text
    assert isinstance(caught.value, InvalidInput)


def test_rejects_non_text() -> None:
    with pytest.raises(CronError, match="a cron expression is text, got int"):
        parse_cron(5)  # type: ignore[arg-type]


def test_long_day_names_are_not_mistaken_for_extensions() -> None:
    # JULY contains L and WEDNESDAY contains W: the message must be about names.
    for text in ("0 0 * JULY *", "0 0 * * WEDNESDAY"):
        with pytest.raises(CronError) as caught:
            parse_cron(text)
        assert "not supported" not in str(caught.value)
        assert "three-letter name" in str(caught.value)


# -- can fire / cannot fire ----------------------------------------------------------------------

def test_feb_30_with_a_weekday_fires_on_that_weekday() -> None:
    # Neither day field starts with '*': OR rule, so every Monday in February fires.
    # February 2027 starts on a Monday.
    assert parse_cron("0 0 30 2 MON").day_or
    assert utc_fires("0 0 30 2 MON", "2027-01-01 00:00", 5) == [
        "2027-02-01 00:00", "2027-02-08 00:00", "2027-02-15 00:00", "2027-02-22 00:00",
        "2028-02-07 00:00",
    ]


def test_feb_29_fires_in_leap_years_only() -> None:
    assert utc_fires("0 0 29 2 *", "2027-01-01 00:00", 3) == [
        "2028-02-29 00:00", "2032-02-29 00:00", "2036-02-29 00:00"]
    # 2100 is not a leap year; 2000 was (divisible by 400).
    assert utc_fires("0 0 29 2 *", "2097-01-01 00:00", 2) == [
        "2104-02-29 00:00", "2108-02-29 00:00"]
    assert utc_fires("0 0 29 2 *", "1997-01-01 00:00", 2) == [
        "2000-02-29 00:00", "2004-02-29 00:00"]


def test_day_31_with_an_and_rule_weekday_fires_in_long_months() -> None:
    # '*/7' in day-of-week is {0} (Sunday) and starts with '*': AND rule.
    # Sundays that are the 31st: 2027-01-31, 2027-10-31, 2028-12-31.
    assert not parse_cron("0 0 31 * */7").day_or
    assert utc_fires("0 0 31 * */7", "2027-01-01 00:00", 3) == [
        "2027-01-31 00:00", "2027-10-31 00:00", "2028-12-31 00:00"]


# -- the Vixie day rule --------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "day_or"), [
    ("0 0 13 * 5", True),
    ("0 0 13 * FRI", True),
    ("0 0 1-31 * 5", True),      # the classic quirk: every day, since day-of-month is all days
    ("0 0 1,15 * 1-5", True),
    ("0 0 * * 5", False),
    ("0 0 13 * *", False),
    ("0 0 * * *", False),
    ("0 0 */2 * 5", False),      # '*/2' starts with '*': AND
    ("0 0 13 * */2", False),
    ("0 0 */1 * 1", False),
    ("0 0 1-31/2 * 5", True),    # the same days as '*/2', but it does not start with '*'
    ("@weekly", False),
    ("@monthly", False),
])
def test_day_or_rule(text: str, day_or: bool) -> None:
    assert parse_cron(text).day_or is day_or


def test_or_rule_fires_on_either_day() -> None:
    # August 2027: the 13th is a Friday; Fridays are 6, 13, 20, 27.
    assert utc_fires("0 0 13 * 5", "2027-08-01 00:00", 5) == [
        "2027-08-06 00:00", "2027-08-13 00:00", "2027-08-20 00:00", "2027-08-27 00:00",
        "2027-09-03 00:00"]
    # September 2027: the 13th is a Monday, it fires as well.
    assert utc_fires("0 0 13 * 5", "2027-09-04 00:00", 3) == [
        "2027-09-10 00:00", "2027-09-13 00:00", "2027-09-17 00:00"]
    # '0 0 1-31 * 5' is every day.
    assert utc_fires("0 0 1-31 * 5", "2027-08-01 00:00", 3) == [
        "2027-08-02 00:00", "2027-08-03 00:00", "2027-08-04 00:00"]


def test_and_rule_when_a_day_field_starts_with_star() -> None:
    # Odd days that are Fridays; August 2027: Fridays 6, 13, 20, 27 -> 13 and 27; September:
    # Fridays 3, 10, 17, 24 -> 3 and 17. croniter ORs these; Vixie cron ANDs them.
    assert utc_fires("0 0 */2 * 5", "2027-08-01 00:00", 4) == [
        "2027-08-13 00:00", "2027-08-27 00:00", "2027-09-03 00:00", "2027-09-17 00:00"]
    # The 13th when it is a Sunday, Tuesday, Thursday or Saturday ('*/2' = 0, 2, 4, 6).
    # 2027: Jan 13 Wed, Feb 13 Sat, Mar 13 Sat, Apr 13 Tue, May 13 Thu.
    assert utc_fires("0 0 13 * */2", "2027-01-01 00:00", 4) == [
        "2027-02-13 00:00", "2027-03-13 00:00", "2027-04-13 00:00", "2027-05-13 00:00"]


def test_describe_days_for_the_or_warning() -> None:
    assert parse_cron("0 0 13 * 5").describe_days() == (
        "on the 13th of the month and on every Friday")
    assert parse_cron("0 0 1,2,3,11,22 * 0,6").describe_days() == (
        "on the 1st, 2nd, 3rd, 11th and 22nd of the month and on every Sunday and Saturday")


# -- fixed-time vs wildcard jobs -----------------------------------------------------------------

@pytest.mark.parametrize(("text", "fixed"), [
    ("30 2 * * *", True),
    ("0 0-23 * * *", True),
    ("0 0-23/2 * * *", True),
    ("0,30 9-17 * * 1-5", True),
    ("0 */2 * * *", False),
    ("*/15 * * * *", False),
    ("* 2 * * *", False),
    ("*/5 2 * * *", False),
    ("0 * * * *", False),
    ("5 * 1 1 *", False),
    ("@hourly", False),
    ("@daily", True),
    ("@midnight", True),
    ("@weekly", True),
    ("@monthly", True),
    ("@yearly", True),
    ("@annually", True),
])
def test_fixed_vs_wildcard(text: str, fixed: bool) -> None:
    assert parse_cron(text).fixed is fixed


# -- uneven step warnings ------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "fragment"), [
    ("*/7 * * * *", "*/7 in the minute field is uneven: 7 does not divide 60, so after 56 it "
                    "fires again at 0, 4 apart instead of 7"),
    ("*/60 * * * *", "*/60 in the minute field means only 0"),
    ("*/90 * * * *", "*/90 in the minute field means only 0"),
    ("0 */5 * * *", "*/5 in the hour field is uneven: 5 does not divide 24"),
    ("0 0 * */5 *", "*/5 in the month field is uneven"),
    ("0 0 * * */2", "*/2 in the day-of-week field is uneven"),
])
def test_uneven_steps_warn(text: str, fragment: str) -> None:
    warnings = parse_cron(text).uneven_steps
    assert any(fragment in w for w in warnings), warnings


@pytest.mark.parametrize("text", [
    "*/15 * * * *", "*/1 * * * *", "*/30 * * * *", "0 */6 * * *", "0 */12 * * *",
    "0 0 * */3 *", "0 0 * * *", "0-59/7 * * * *", "5/7 * * * *", "@hourly",
])
def test_even_or_explicit_steps_do_not_warn(text: str) -> None:
    assert parse_cron(text).uneven_steps == ()


# -- matches() -----------------------------------------------------------------------------------

def test_matches_local_wall_time() -> None:
    expr = parse_cron("30 2 13 * 5")
    assert expr.matches(datetime(2027, 8, 13, 2, 30))        # the 13th (a Friday)
    assert expr.matches(datetime(2027, 9, 13, 2, 30))        # the 13th (a Monday): OR
    assert expr.matches(datetime(2027, 9, 10, 2, 30, 59))    # a Friday; seconds ignored
    assert not expr.matches(datetime(2027, 9, 11, 2, 30))    # a Saturday, not the 13th
    assert not expr.matches(datetime(2027, 9, 13, 2, 31))
    assert not expr.matches(datetime(2027, 9, 13, 3, 30))
    sundays = parse_cron("0 0 * * 7")
    assert sundays.matches(datetime(2027, 1, 3))
    assert not sundays.matches(datetime(2027, 1, 4))
    months = parse_cron("0 0 * FEB *")
    assert months.matches(datetime(2027, 2, 28))
    assert not months.matches(datetime(2027, 3, 1))


def test_repr() -> None:
    assert repr(parse_cron("0 0 * * *")) == "CronExpr('0 0 * * *')"
