"""Next-fire throughput of clockwf, cronsim and croniter on the same cases, in one run.

    python bench/cron_next.py [--quick]

Two measures per case, each the median of several repetitions after a warm-up:

- "construct + first next": parse the expression, attach the zone, compute the first fire after
  a fixed start (operations per second; higher is better);
- "1000 successive nexts": the next 1000 fires from one constructed schedule (milliseconds;
  lower is better).

The ratios are clockwf's speed over each peer's (above 1 means clockwf is faster). The last
columns say whether each peer's first 1000 fires are the same instants as clockwf's: they are
not always (croniter fires fixed-time jobs twice at fall-back and ORs ``*/2`` day fields; cronsim
is wrong in the cases listed in tests/unit/test_cron_properties.py). Prints a Markdown table for
the README, preceded by the machine it ran on.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from zoneinfo import ZoneInfo

from _common import cpu_name
from croniter import croniter  # type: ignore[import-untyped]
from cronsim import CronSim

import clockwf
from clockwf.cron import CronSchedule


@dataclass(frozen=True)
class Case:
    label: str
    cron: str
    zone: str

    @property
    def start(self) -> datetime:
        return datetime(2027, 1, 1, 0, 0, tzinfo=ZoneInfo(self.zone))


CASES = [
    Case("daily 02:30, New York", "30 2 * * *", "America/New_York"),
    Case("`*/5 * * * *`, UTC", "*/5 * * * *", "UTC"),
    Case("`0 9 * * 1-5`, Berlin", "0 9 * * 1-5", "Europe/Berlin"),
    Case("`0 0 29 2 *` (leap day), UTC", "0 0 29 2 *", "UTC"),
    Case("`0 12 1 * 1` (OR rule), UTC", "0 12 1 * 1", "UTC"),
]


# -- the three libraries, doing the same things ----------------------------------------------------

def clockwf_first(case: Case) -> datetime:
    return clockwf.next_fires(case.cron, case.zone, case.start, 1)[0]


def cronsim_first(case: Case) -> datetime:
    return next(CronSim(case.cron, case.start))


def croniter_first(case: Case) -> datetime:
    value: datetime = croniter(case.cron, case.start).get_next(datetime)
    return value


def clockwf_many(case: Case, n: int) -> list[datetime]:
    return CronSchedule(case.cron, case.zone).next_fires(case.start, n)


def cronsim_many(case: Case, n: int) -> list[datetime]:
    return list(islice(CronSim(case.cron, case.start), n))


def croniter_many(case: Case, n: int) -> list[datetime]:
    it = croniter(case.cron, case.start)
    return [it.get_next(datetime) for _ in range(n)]


LIBRARIES: dict[str, tuple[Callable[[Case], datetime], Callable[[Case, int], list[datetime]]]] = {
    "clockwf": (clockwf_first, clockwf_many),
    "cronsim": (cronsim_first, cronsim_many),
    "croniter": (croniter_first, croniter_many),
}


# -- timing -----------------------------------------------------------------------------------------

def per_call_seconds(actions: dict[str, Callable[[], object]], target: float,
                     repeats: int) -> dict[str, float]:
    """Median time per call of each action. Each repetition times every action in turn (so a
    slow spell of the machine hits all libraries alike), calling it enough times to take about
    ``target`` seconds; a warm-up comes first."""
    loops = {}
    for name, action in actions.items():
        begin = time.perf_counter()
        action()                                     # warm-up: caches, zone files
        action()
        once = max((time.perf_counter() - begin) / 2, 1e-7)
        loops[name] = max(1, round(target / once))
    samples: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(repeats):
        for name, action in actions.items():
            n = loops[name]
            begin = time.perf_counter()
            for _ in range(n):
                action()
            samples[name].append((time.perf_counter() - begin) / n)
    return {name: statistics.median(values) for name, values in samples.items()}


@dataclass
class Row:
    case: Case
    first_ops: dict[str, float]       # library -> construct + first next, per second
    many_ms: dict[str, float]         # library -> 1000 successive nexts, milliseconds
    same: dict[str, bool]             # library -> same 1000 instants as clockwf


def measure(case: Case, quick: bool) -> Row:
    target, repeats = (0.02, 3) if quick else (0.15, 7)
    first = per_call_seconds({name: (lambda f=f: f(case))  # type: ignore[misc]
                              for name, (f, _) in LIBRARIES.items()}, target, repeats)
    many = per_call_seconds({name: (lambda m=m: m(case, 1000))  # type: ignore[misc]
                             for name, (_, m) in LIBRARIES.items()}, target, repeats)
    reference = [d.timestamp() for d in clockwf_many(case, 1000)]
    same = {name: [d.timestamp() for d in m(case, 1000)] == reference
            for name, (_, m) in LIBRARIES.items()}
    return Row(case, {name: 1 / s for name, s in first.items()},
               {name: 1000 * s for name, s in many.items()}, same)


def machine() -> str:
    cpu = cpu_name()
    versions = []
    for module in ("cronsim", "croniter"):
        try:
            from importlib.metadata import version
            versions.append(f"{module} {version(module)}")
        except Exception:   # pragma: no cover - only when run from a checkout without metadata
            versions.append(module)
    return (f"Python {platform.python_version()} ({platform.python_implementation()}), "
            f"{platform.system()} {platform.machine()}, {cpu}; clockwf {clockwf.__version__}, "
            f"{', '.join(versions)}")


def table(rows: list[Row]) -> str:
    out = [
        "| case | clockwf first/s | cronsim first/s | croniter first/s | vs cronsim | vs croniter "
        "| clockwf 1000 (ms) | cronsim 1000 (ms) | croniter 1000 (ms) | vs cronsim | vs croniter "
        "| cronsim same | croniter same |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|:-:|:-:|",
    ]
    for row in rows:
        f, m = row.first_ops, row.many_ms
        out.append(
            f"| {row.case.label} | {f['clockwf']:,.0f} | {f['cronsim']:,.0f} | "
            f"{f['croniter']:,.0f} | {f['clockwf'] / f['cronsim']:.2f}x | "
            f"{f['clockwf'] / f['croniter']:.2f}x | {m['clockwf']:.2f} | {m['cronsim']:.2f} | "
            f"{m['croniter']:.2f} | {m['cronsim'] / m['clockwf']:.2f}x | "
            f"{m['croniter'] / m['clockwf']:.2f}x | {'yes' if row.same['cronsim'] else 'no'} | "
            f"{'yes' if row.same['croniter'] else 'no'} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true",
                        help="fewer loops and repetitions (a smoke run, noisier numbers)")
    args = parser.parse_args(argv)
    rows = []
    for case in CASES:
        rows.append(measure(case, args.quick))
        print(f"measured {case.label}", file=sys.stderr)
    print(f"Machine: {machine()}")
    print()
    print(table(rows))
    print()
    print("first/s: construct + first next, operations per second (median of "
          f"{3 if args.quick else 7} runs). 1000 (ms): 1000 successive nexts. "
          "vs: clockwf's speed over the peer's. same: the peer's first 1000 fires are the same "
          "instants as clockwf's.")
    slower = [row.case.label for row in rows
              if row.first_ops["clockwf"] < row.first_ops["cronsim"]
              or row.many_ms["clockwf"] > row.many_ms["cronsim"]]
    if slower:
        print(f"\nclockwf is slower than cronsim on: {', '.join(slower)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
