"""Store benchmark: the idle due-query cost as schedules grow, and bulk launch throughput.

    python bench/store.py [--quick] [--pg-url URL] [--no-pg]

(a) Idle cost: ``earliest_due`` and ``claim_due`` finding nothing (every schedule is due in the
    future), with 0, 10k, 100k and 1M schedules in the namespace (``--quick``: 0, 1k, 10k,
    100k), as µs per query inside an open transaction, and as a ratio to the empty table. A
    flat ratio means one index seek, whatever the number of schedules.
(b) Throughput in batches of 500, one transaction per batch: ``insert_runs`` + ``advance_schedules``
    of the same 500 schedules over and over ("launch": each workflow's run history grows, so a
    batch touches one index page per workflow, as minutely jobs do), and ``claim_due`` + the
    same over 500 fresh schedules per batch ("tick": what a daemon pass costs the store).

Schedules are bulk-loaded with plain SQL (executemany / COPY), not through publish. Figures are
medians of several repetitions. PostgreSQL: a temporary database is created next to the one
named by ``--pg-url`` (default ``CLOCKWF_TEST_PG_URL`` or postgresql://postgres@127.0.0.1/postgres)
and dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import fmt_size, pg_url, sqlite_url

from clockwf.store import Store, open_store
from clockwf.store.base import NewRun, ScheduleAdvance
from clockwf.store.sqlite import utc_text

NOW = datetime(2027, 1, 1, tzinfo=UTC)
COLUMNS = ("namespace, workflow_id, version, trigger_type, cron, timezone, status, "
           "next_fire_at, created_at, updated_at")
BATCH = 500


def _schedule_rows(ns: str, start: int, stop: int, first_due: datetime) -> Iterator[tuple[Any, ...]]:
    for i in range(start, stop):
        yield (ns, f"wf{i:07d}", 1, "recurring", "* * * * *", "UTC", "scheduled",
               first_due + timedelta(seconds=i), NOW, NOW)


def bulk_load(store: Store, ns: str, start: int, stop: int, first_due: datetime) -> None:
    """Add schedules ``start``..``stop`` to ``ns`` with plain SQL (bench only)."""
    with store.transaction() as tx:
        conn = tx.db.conn  # type: ignore[attr-defined]
        rows = _schedule_rows(ns, start, stop, first_due)
        if store.backend == "sqlite":
            conn.executemany(
                f"INSERT INTO schedules ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ((*r[:7], utc_text(r[7]), utc_text(r[8]), utc_text(r[9])) for r in rows))
        else:
            with conn.cursor().copy(f"COPY schedules ({COLUMNS}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)


def per_call_us(store: Store, call: Callable[[Any], object], *, calls: int, reps: int,
                write: bool) -> float:
    """Median over ``reps`` of the mean time of ``calls`` calls inside one transaction."""
    samples = []
    for _ in range(reps):
        with store.transaction() if write else store.read() as tx:
            started = time.perf_counter()
            for _ in range(calls):
                call(tx)
            samples.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(samples)


def per_tx_us(store: Store, call: Callable[[Any], object], *, calls: int, reps: int) -> float:
    """Median over ``reps`` of the mean time of a whole write transaction around ``call``."""
    samples = []
    for _ in range(reps):
        started = time.perf_counter()
        for _ in range(calls):
            with store.transaction() as tx:
                call(tx)
        samples.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(samples)


def idle_costs(store: Store, sizes: list[int], calls: int, reps: int) -> list[dict[str, Any]]:
    ns = store.ns
    future = NOW + timedelta(days=1)  # nothing is due at NOW
    loaded = 0
    results = []
    for size in sizes:
        started = time.perf_counter()
        bulk_load(store, ns, loaded, size, future)
        load_s = time.perf_counter() - started
        loaded = size
        with store.read() as tx:
            assert tx.claim_due(NOW, 100) == []
            assert (tx.earliest_due() is None) == (size == 0)
        results.append({
            "size": size,
            "load_s": load_s,
            "earliest_due": per_call_us(store, lambda tx: tx.earliest_due(), calls=calls,
                                        reps=reps, write=False),
            "claim_due": per_call_us(store, lambda tx: tx.claim_due(NOW, 100), calls=calls,
                                     reps=reps, write=True),
            "idle_tx": per_tx_us(store, lambda tx: tx.claim_due(NOW, 100),
                                 calls=max(calls // 10, 20), reps=reps),
        })
        print(f"  {store.backend}: {size} schedules loaded in {load_s:.1f} s", file=sys.stderr)
    return results


def throughput(store: Store, batches: int, reps: int) -> dict[str, float]:
    """fires/s for 'launch' (insert_runs + advance) and 'tick' (claim_due + the same)."""
    ns = store.ns
    total = batches * BATCH
    bulk_load(store, ns, 0, total, NOW - timedelta(hours=1))  # every one is due
    later = NOW + timedelta(hours=1)
    counter = iter(range(10**9))

    def launch(rows: list[dict[str, Any]] | list[str], tx: Any) -> None:
        wids = [r["workflow_id"] if isinstance(r, dict) else r for r in rows]
        n = next(counter)
        created = tx.insert_runs([
            NewRun(fire_key=f"recurring:{w}:{n}", workflow_id=w, workflow_version=1,
                   trigger_type="recurring", payload='{"schema": "WorkflowClockTrigger.v1"}',
                   metadata='{"lag_ms": 1}', created_at=NOW, scheduled_for=NOW, due_at=NOW)
            for w in wids])
        assert len(created) == len(wids)
        tx.advance_schedules([ScheduleAdvance(w, later, later, "scheduled", None,
                                              f"recurring:{w}:{n}", NOW, NOW) for w in wids])

    launch_s: list[float] = []  # per batch: medians resist the odd checkpoint or busy neighbour
    tick_s: list[float] = []
    for _ in range(reps):
        # launch: the same 500 schedules each time, new fire keys
        wids = [f"wf{i:07d}" for i in range(BATCH)]
        for _ in range(batches):
            started = time.perf_counter()
            with store.transaction() as tx:
                launch(wids, tx)
            launch_s.append(time.perf_counter() - started)
        # tick: claim the due ones 500 at a time, launch and advance them out of the way
        with store.transaction() as tx:  # make every schedule due again
            _reset_due(store, tx, ns)
        done = 0
        while True:
            started = time.perf_counter()
            with store.transaction() as tx:
                rows = tx.claim_due(NOW, BATCH)
                if rows:
                    launch(rows, tx)
            if len(rows) == BATCH:
                tick_s.append(time.perf_counter() - started)
            done += len(rows)
            if len(rows) < BATCH:
                break
        assert done == total, done
    return {"launch": BATCH / statistics.median(launch_s), "tick": BATCH / statistics.median(tick_s)}


def _reset_due(store: Store, tx: Any, ns: str) -> None:
    """Every schedule of ``ns`` due again (bench only SQL)."""
    due = NOW - timedelta(hours=1)
    if store.backend == "sqlite":
        tx.db.conn.execute("UPDATE schedules SET next_fire_at = ? WHERE namespace = ?",
                           (utc_text(due), ns))
    else:
        tx.db.conn.execute("UPDATE schedules SET next_fire_at = %s WHERE namespace = %s",
                           (due, ns))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for CI")
    parser.add_argument("--pg-url", default=os.environ.get(
        "CLOCKWF_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args()
    sizes = [0, 1_000, 10_000, 100_000] if args.quick else [0, 10_000, 100_000, 1_000_000]
    calls, reps = (200, 5) if args.quick else (1000, 7)
    batches = 10 if args.quick else 40

    backends: list[tuple[str, Callable[[], Any]]] = [("sqlite", sqlite_url)]
    if not args.no_pg:
        try:
            import psycopg

            psycopg.connect(args.pg_url, connect_timeout=5).close()
            backends.append(("postgresql", lambda: pg_url(args.pg_url)))
        except Exception as exc:  # the bench still reports SQLite
            print(f"PostgreSQL skipped: {exc}", file=sys.stderr)

    idle: dict[str, list[dict[str, Any]]] = {}
    rates: dict[str, dict[str, float]] = {}
    for name, make_url in backends:
        with make_url() as url:
            with open_store(url, "bench-idle") as store:
                idle[name] = idle_costs(store, sizes, calls, reps)
            with open_store(url, "bench-launch") as store:
                rates[name] = throughput(store, batches, reps=3)

    print(f"## Idle due query ({'quick' if args.quick else 'full'}; µs per query inside an open "
          "transaction, median; ratio to the empty table)\n")
    print("| store | schedules | earliest_due µs | ratio | claim_due µs | ratio "
          "| whole idle tx µs | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, rows in idle.items():
        base = rows[0]
        for r in rows:
            print(f"| {name} | {fmt_size(r['size'])} | {r['earliest_due']:.1f} | "
                  f"{r['earliest_due'] / base['earliest_due']:.2f} | {r['claim_due']:.1f} | "
                  f"{r['claim_due'] / base['claim_due']:.2f} | {r['idle_tx']:.0f} | "
                  f"{r['idle_tx'] / base['idle_tx']:.2f} |")
    print(f"\n## Throughput (batches of {BATCH}, one transaction each; fires/s from the median "
          "batch)\n")
    print("| store | launch: insert_runs + advance_schedules | tick: claim_due + launch |")
    print("|---|---:|---:|")
    for name, r in rates.items():
        print(f"| {name} | {r['launch']:,.0f} | {r['tick']:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
