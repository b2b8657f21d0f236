"""Next-fire throughput of rrule, every and calendar schedules beside raw dateutil.rrule, in one run.

    python bench/schedules.py [--quick]

For each case, "1000 successive nexts" walks 1000 occurrences the way the tick does (the
planner's ``first_after`` then ``following``, which apply the zone, DST, bounds and calendar),
and the baseline iterates 1000 wall times of the same rule with bare ``dateutil.rrule`` from the
same dtstart (naive local times: no zone, no DST, no calendar, no search from an arbitrary
instant): the floor any rrule-based scheduler starts from. The ratio is clockwf's time over the
baseline's (the cost of the zone, DST, bounds, calendar and the resumable search). Medians of several rounds after
a warm-up, measured in this same run. Prints a Markdown table preceded by the machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from _common import machine
from dateutil.rrule import rrulestr

from clockwf.schedule import ScheduleSpec, _engine, _rrule_engine, first_after, following
from clockwf.validate import validate_source

START = datetime(2027, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    label: str
    trigger: str
    rule: str | None          # the rule for the dateutil baseline (None: no baseline)
    dtstart: datetime | None


CASES = [
    Case("rrule daily 09:00, Berlin", 'rrule: "FREQ=DAILY"\ndtstart: "2027-01-01T09:00"\n'
         "timezone: Europe/Berlin", "FREQ=DAILY", datetime(2027, 1, 1, 9)),
    Case("rrule last weekday of month, Berlin",
         'rrule: "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"\ndtstart: "2027-01-01T17:00"\n'
         "timezone: Europe/Berlin", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
         datetime(2027, 1, 1, 17)),
    Case("rrule every other Tuesday, New York",
         'rrule: "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU"\ndtstart: "2027-01-05T08:30"\n'
         "timezone: America/New_York", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
         datetime(2027, 1, 5, 8, 30)),
    Case("rrule every 15 minutes, Sydney", 'rrule: "FREQ=MINUTELY;INTERVAL=15"\n'
         'dtstart: "2027-01-01T00:00"\ntimezone: Australia/Sydney', "FREQ=MINUTELY;INTERVAL=15",
         datetime(2027, 1, 1)),
    Case("rrule weekdays 09:00 + DE-BY holidays, next business day",
         'rrule: "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"\ndtstart: "2027-01-01T09:00"\n'
         "timezone: Europe/Berlin\ncalendar:\n  holidays: {country: DE, subdiv: BY}\n"
         "  on_excluded: next_business_day", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
         datetime(2027, 1, 1, 9)),
    Case("cron daily 09:00 + US holidays, skip", 'cron: "0 9 * * *"\ntimezone: America/New_York'
         "\ncalendar:\n  holidays: {country: US}", "FREQ=DAILY", datetime(2027, 1, 1, 9)),
    Case("every 90m, Berlin", 'every: 90m\nanchor: "2027-01-01T00:00:00+01:00"\n'
         "timezone: Europe/Berlin", "FREQ=MINUTELY;INTERVAL=90", datetime(2027, 1, 1)),
]


def spec_of(case: Case) -> ScheduleSpec:
    text = "id: bench\ntrigger:\n  type: recurring\n" + textwrap.indent(case.trigger, "  ") + \
        "\nsteps:\n  - run: 'true'\n"
    report = validate_source(text, "bench.yaml", START)
    if not report.ok or report.definition is None:
        raise SystemExit(f"{case.label}: {[str(e) for e in report.errors]}")
    spec = ScheduleSpec.from_definition(report.definition)
    assert spec is not None
    return spec


def clockwf_walk(case: Case, n: int) -> Callable[[], object]:
    def run() -> object:
        _engine.cache_clear()    # fresh engines each round: no memo carried over
        _rrule_engine.cache_clear()
        spec = spec_of(case)
        occ = first_after(spec, START)
        for _ in range(n - 1):
            assert occ is not None
            occ = following(spec, occ)
        return occ
    return run


def dateutil_walk(case: Case, n: int) -> Callable[[], object]:
    assert case.rule is not None and case.dtstart is not None
    rule_text, dtstart = case.rule, case.dtstart

    def run() -> object:
        rule: Any = rrulestr(rule_text, dtstart=dtstart)
        return list(islice(rule, n))
    return run


def measure(action: Callable[[], object], rounds: int) -> float:
    action()   # warm-up
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        action()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (CI smoke run)")
    args = parser.parse_args()
    rounds = 3 if args.quick else 7
    n = 1000
    print(machine())
    print()
    print(f"| case | clockwf, {n} nexts (ms) | dateutil.rrule, {n} wall times (ms) | "
          "clockwf / dateutil |")
    print("|---|--:|--:|--:|")
    for case in CASES:
        mine = measure(clockwf_walk(case, n), rounds)
        base = measure(dateutil_walk(case, n), rounds)
        print(f"| {case.label} | {mine * 1000:.1f} | {base * 1000:.1f} | {mine / base:.1f} |")
        sys.stdout.flush()
    print()
    print("clockwf: the planner's walk (zone, DST, bounds, calendar, fire keys); dateutil: "
          "naive wall times of the same rule, iterated from dtstart.")


if __name__ == "__main__":
    main()
