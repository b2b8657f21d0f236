"""The README's figures: every headline number measured side by side in one run, in one table.

    python bench/summary.py [--quick] [--rounds N]

It runs the same measurements as the other scripts (their functions, not copies): the cron
engine against cronsim and croniter (bench/cron_next.py), fires/s of a tick finding 10k due
schedules on SQLite and on PostgreSQL with 1, 2 and 3 processes, against APScheduler 3's drain
rate and a bare cron-and-insert baseline (bench/tick.py (a), (e)), the idle tick at 1M schedules
against an empty store (b), daemon memory with 1M schedules (d) and launch lag (c). Each row
says what it is compared with; figures are medians of the rounds. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cron_next
import tick as tickbench
from _common import (
    DUE,
    load_schedules,
    log,
    machine,
    pg_url,
    sqlite_url,
)

from clockwf.scheduler import DEFAULT_BATCH, tick
from clockwf.store import open_store


def median(values: list[float]) -> float:
    return statistics.median(values)


def rate(x: float) -> str:
    return f"{x:,.0f}"


def idle_tick_us(url: str, ns: str, calls: int, reps: int) -> float:
    with open_store(url, ns) as store:
        for _ in range(20):
            tick(store, tickbench.NOW)
        samples = []
        for _ in range(reps):
            began = time.perf_counter()
            for _ in range(calls):
                assert not tick(store, tickbench.NOW).launched
            samples.append((time.perf_counter() - began) / calls * 1e6)
    return median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per tick figure")
    args = parser.parse_args()
    n = 2_000 if args.quick else 10_000
    big = 100_000 if args.quick else 1_000_000
    rounds = 2 if args.quick else args.rounds
    rows: list[list[str]] = []

    # -- the cron engine -----------------------------------------------------------------------
    measured = []
    for case in cron_next.CASES:
        measured.append(cron_next.measure(case, args.quick))
        log(f"cron: {case.label}")
    for peer in ("cronsim", "croniter"):
        ratios = [m.first_ops["clockwf"] / m.first_ops[peer] for m in measured]
        ours = median([m.first_ops["clockwf"] for m in measured])
        theirs = median([m.first_ops[peer] for m in measured])
        rows.append(["cron next-fire, construct + first next (ops/s, median of 5 cases)",
                     rate(ours), f"{peer} {rate(theirs)}",
                     f"{median(ratios):.2f}x (worst case {min(ratios):.2f}x)"])
    many = [m.many_ms["cronsim"] / m.many_ms["clockwf"] for m in measured]
    rows.append(["cron next-fire, 1000 successive nexts (ms, median of 5 cases)",
                 f"{median([m.many_ms['clockwf'] for m in measured]):.1f}",
                 f"cronsim {median([m.many_ms['cronsim'] for m in measured]):.1f}",
                 f"{median(many):.2f}x faster (worst case {min(many):.2f}x)"])

    with tempfile.TemporaryDirectory(prefix="clockwf-summary-") as tmp_name:
        tmp = Path(tmp_name)
        with sqlite_url() as sqlite, pg_url() as pg:
            # -- tick throughput ---------------------------------------------------------------
            aps = tickbench.apscheduler_drain(min(n, 2_000), tmp)
            log(f"APScheduler 3: {aps:,.0f} jobs/s")
            # Each round runs the bare loop on the same store kind right after the tick, so
            # that a busy spell of the (shared) machine hits both alike: the ratio is the median
            # of the rounds' ratios.
            bare: dict[str, float] = {}
            ratios: dict[str, float] = {}
            fires: dict[tuple[str, int], float] = {}
            for name, url, procs_list in (("SQLite", sqlite, [1]), ("PostgreSQL", pg, [1, 2, 3])):
                bursts = {p: tickbench.Burst(url, f"burst{p}", n) for p in procs_list}
                tickbench.fires_once(bursts[1], DEFAULT_BATCH)      # warm-up
                samples: dict[int, list[float]] = {p: [] for p in procs_list}
                bares: list[float] = []
                for _ in range(rounds):
                    for p in procs_list:
                        if p == 1:
                            samples[p].append(tickbench.fires_once(bursts[p],
                                                                   DEFAULT_BATCH))
                        else:
                            samples[p].append(tickbench.fires_parallel(
                                bursts[p], DEFAULT_BATCH, p)["rate"])
                    bares.append(tickbench.bare_sqlite(n, tmp) if name == "SQLite"
                                 else tickbench.bare_pg(n, 1))
                for p in procs_list:
                    fires[(name, p)] = median(samples[p])
                    log(f"tick {name} x{p}: {fires[(name, p)]:,.0f} fires/s")
                bare[name] = median(bares)
                ratios[name] = median(t / b for t, b in zip(samples[1], bares, strict=True))
                log(f"bare {name}: {bare[name]:,.0f} fires/s; tick / bare {ratios[name]:.2f}x")
            for (name, p), value in fires.items():
                rows.append([f"tick: fires/s, {n:,} due schedules, {name}, {p} "
                             f"process{'es' if p > 1 else ''}", rate(value),
                             f"APScheduler 3 {rate(aps)}", f"{value / aps:.1f}x"])
            for name in ("SQLite", "PostgreSQL"):
                rows.append([f"tick: fires/s, {name}, 1 process, vs a bare baseline",
                             rate(fires[(name, 1)]),
                             f"bare croniter + insert + update {rate(bare[name])}",
                             f"{ratios[name]:.2f}x (median of the rounds' ratios)"])
            drained = n / fires[("SQLite", 1)], n / fires[("PostgreSQL", 1)]
            rows.append([f"tick: a burst of {n:,} due schedules drained (ms)",
                         f"SQLite {drained[0] * 1000:.0f}, PostgreSQL {drained[1] * 1000:.0f}",
                         "target 1000", "-"])

            # -- idle tick at 1M -----------------------------------------------------------------
            future = DUE + timedelta(days=7)
            for name, url in (("SQLite", sqlite), ("PostgreSQL", pg)):
                calls, reps = (100, 3) if args.quick else (300, 5)
                empty = idle_tick_us(url, "idle-empty", calls, reps)
                with open_store(url, "idle") as store:
                    seconds = load_schedules(store, big, future)
                log(f"{name}: {big:,} schedules loaded in {seconds:.0f} s")
                full = idle_tick_us(url, "idle", calls, reps)
                with open_store(url, "idle") as store:
                    floor = tickbench._round_trip_us(store, calls, reps)
                rows.append([f"idle tick (µs), {name}, {big:,} schedules", f"{full:.0f}",
                             f"empty store {empty:.0f} (a bare SELECT 1: {floor:.0f})",
                             f"{full / empty:.2f}x"])

            # -- daemon memory with 1M schedules (SQLite; the store loaded above) ---------------
            sizes = []
            for ns in ("idle-empty", "idle"):
                with open_store(sqlite, ns) as store:
                    daemon = tickbench.Daemon(sqlite, ns, tmp / f"rss-{ns}.log")
                    try:
                        daemon.wait_ticked(store)
                        time.sleep(1.0)
                        sizes.append(daemon.rss_mb())
                    finally:
                        daemon.stop()
            rows.append([f"daemon RSS (MB), SQLite, {big:,} schedules", f"{sizes[1]:.1f}",
                         f"empty store {sizes[0]:.1f}", f"{sizes[1] / sizes[0]:.2f}x"])

            # -- launch lag of a live daemon -------------------------------------------------
            lag_n = 200 if args.quick else 1_000
            lag = tickbench.launch_lag(sqlite, lag_n, tmp)
            rows.append([f"launch lag (ms), live daemon, {lag_n:,} schedules due in one "
                         "minute, SQLite", f"p50 {lag['p50']:.1f}, p99 {lag['p99']:.1f}",
                         "target p99 < 100",
                         f"all {lag_n:,} visible after {lag['visible']:.0f} ms"])

    print(f"Machine: {machine()}\n")
    print("| measure | clockwf | compared with (same run) | ratio |")
    print("|---|--:|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\nMedians of {rounds} rounds (cron: 7 runs per case); "
          f"{'quick sizes' if args.quick else 'full sizes'}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
