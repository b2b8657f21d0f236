"""The tick's store writes through stdlib sqlite3 (what clockwf does) and through sqlite-utils.

    python bench/vs_sqlite_utils.py [--quick]

The design's package list named sqlite-utils; clockwf does not use it. This measures what it
would cost on the hot path: per batch of due schedules, a tick inserts one run per fire under
its unique fire key, learns which keys were free (the run ids it created), and advances each
schedule. Both sides do exactly that on the same file, schema (the migration chain) and rows, in
one ``BEGIN IMMEDIATE`` transaction per batch:

- **clockwf**: ``Tx.insert_runs`` (one ``executemany`` of ``INSERT ... ON CONFLICT (namespace,
  fire_key) DO NOTHING``, the created runs read back above a high-water mark) and
  ``Tx.advance_schedules`` (one ``executemany`` of a primary-key ``UPDATE``).
- **sqlite-utils**: ``Table.insert_all(rows, ignore=True)`` (multi-row ``INSERT OR IGNORE``),
  the same read-back (sqlite-utils reports only the last rowid), and ``Table.update(pk, values)``
  per schedule, its idiom for changing a row (it reads the row first to raise ``NotFoundError``);
  and, to separate the two, ``insert_all`` with the advance as clockwf does it.

Both sides convert datetimes to the stored UTC text themselves. Prints fires/s (median of the
rounds) and the ratio; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

import sqlite_utils
from _common import Table, load_schedules, log, machine, median, rate, ratio, workflow_id

from clockwf.launcher import time_run
from clockwf.schedule import ScheduleSpec, first_after
from clockwf.store import open_store
from clockwf.store.base import NewRun, ScheduleAdvance
from clockwf.store.sqlite import utc_text
from clockwf.store.tx_base import RUN_COLUMNS, run_values

DUE = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)    # a Monday: every expression of the mix fires
MIX = (("0 9 * * *", "UTC"), ("0 * * * *", "UTC"), ("*/5 * * * *", "UTC"),
       ("0 9 * * MON-FRI", "UTC"), ("0 9 * * 1", "UTC"))


def batch(count: int, round_: int) -> tuple[list[NewRun], list[ScheduleAdvance]]:
    """A tick's writes for ``count`` schedules, fresh fire keys for each round."""
    now = DUE + timedelta(weeks=round_)
    runs, advances = [], []
    for i in range(count):
        cron, zone = MIX[i % len(MIX)]
        spec = ScheduleSpec(workflow_id=workflow_id(i), trigger_type="recurring", timezone=zone,
                            cron=cron)
        occ = first_after(spec, now - timedelta(seconds=1))
        assert occ is not None
        runs.append(time_run(spec, 1, occ, now=now, catchup=False, instance="bench"))
        nxt = first_after(spec, occ.nominal)
        assert nxt is not None
        advances.append(ScheduleAdvance(spec.workflow_id, nxt.nominal, nxt.due, "scheduled",
                                        None, occ.fire_key, now, now, nxt.kind))
    return runs, advances


ADVANCE_SQL = ("UPDATE schedules SET next_nominal_at = ?, next_kind = ?, next_fire_at = ?, "
               "status = ?, status_reason = ?, last_fire_key = coalesce(?, last_fire_key), "
               "last_fired_at = coalesce(?, last_fired_at), updated_at = ? "
               "WHERE namespace = ? AND workflow_id = ?")


def _text(value: object) -> object:
    return utc_text(value) if isinstance(value, datetime) else value


def with_sqlite_utils(path: Path, ns: str, *, update_per_row: bool = True,
                      ) -> Callable[[list[NewRun], list[ScheduleAdvance]], int]:
    conn = sqlite3.connect(path, isolation_level=None)
    db = sqlite_utils.Database(conn)
    runs_table, schedules = db.table("runs"), db.table("schedules")

    def write(runs: list[NewRun], advances: list[ScheduleAdvance]) -> int:
        conn.execute("BEGIN IMMEDIATE")
        high = conn.execute("SELECT coalesce(max(run_id), 0) FROM runs").fetchone()[0]
        rows = [{"namespace": ns, **{c: _text(v) for c, v in zip(RUN_COLUMNS, run_values(r),
                                                                  strict=True)}}
                for r in sorted(runs, key=lambda r: r.fire_key)]
        runs_table.insert_all(rows, ignore=True, batch_size=100)
        created = conn.execute("SELECT fire_key, run_id FROM runs WHERE namespace = ? AND "
                               "run_id > ?", (ns, high)).fetchall()
        if not update_per_row:
            conn.executemany(ADVANCE_SQL, [(
                _text(a.next_nominal_at), a.next_kind, _text(a.next_fire_at), a.status,
                a.status_reason, a.last_fire_key, _text(a.last_fired_at), _text(a.updated_at),
                ns, a.workflow_id) for a in advances])
        for a in advances if update_per_row else ():
            schedules.update((ns, a.workflow_id), {
                "next_nominal_at": _text(a.next_nominal_at), "next_kind": a.next_kind,
                "next_fire_at": _text(a.next_fire_at), "status": a.status,
                "status_reason": a.status_reason, "last_fire_key": a.last_fire_key,
                "last_fired_at": _text(a.last_fired_at), "updated_at": _text(a.updated_at)})
        conn.execute("COMMIT")
        return len(created)

    return write


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer rounds")
    args = parser.parse_args()
    count, rounds, size = (2000, 3, 500) if args.quick else (10_000, 5, 1000)
    print(f"Machine: {machine()}, sqlite-utils {version('sqlite-utils')}\n")
    with tempfile.TemporaryDirectory() as tmp:
        results: dict[str, list[float]] = {"clockwf": [], "sqlite-utils": [],
                                           "insert_all": []}
        stores = {}
        for side in results:
            path = Path(tmp) / f"{side}.db"
            store = open_store(f"sqlite:///{path}", "bench")
            load_schedules(store, count, DUE, mix=MIX)
            stores[side] = (store, path)
        utils_write = with_sqlite_utils(stores["sqlite-utils"][1], "bench")
        insert_all_write = with_sqlite_utils(stores["insert_all"][1], "bench",
                                             update_per_row=False)

        def clockwf_write(runs: list[NewRun], advances: list[ScheduleAdvance]) -> int:
            with stores["clockwf"][0].transaction() as tx:
                created = tx.insert_runs(runs)
                tx.advance_schedules(advances)
            return len(created)

        writers = {"clockwf": clockwf_write, "sqlite-utils": utils_write,
                   "insert_all": insert_all_write}
        for round_ in range(rounds):
            runs, advances = batch(count, round_)
            for side, write in writers.items():
                began = time.perf_counter()
                created = 0
                for low in range(0, count, size):
                    created += write(runs[low:low + size], advances[low:low + size])
                elapsed = time.perf_counter() - began
                assert created == count, (side, created)
                # the same batch again: every key is taken, nothing is created
                again = sum(write(runs[low:low + size], advances[low:low + size])
                            for low in range(0, count, size))
                assert again == 0, (side, again)
                results[side].append(count / elapsed)
                log(f"round {round_ + 1}/{rounds} {side}: {count / elapsed:,.0f} fires/s")
        for store, _path in stores.values():
            store.close()
    ours, theirs = median(results["clockwf"]), median(results["sqlite-utils"])
    insert_only = median(results["insert_all"])
    print(Table(
        f"Run insert + schedule advance, {count:,} fires in batches of {size}, SQLite",
        ["writes through", "fires/s (median)", "vs clockwf"],
        [["clockwf (stdlib sqlite3, executemany)", rate(ours), "1.00x"],
         ["sqlite-utils (insert_all ignore=True, update per row)", rate(theirs),
          ratio(theirs, ours)],
         ["sqlite-utils insert_all, stdlib executemany update", rate(insert_only),
          ratio(insert_only, ours)]],
        note=f"Medians of {rounds} rounds; the store writes only (no claim, no planning).",
    ).render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
