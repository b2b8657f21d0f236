"""Several daemons, exactly once (issue 6.1): N schedules firing every minute, ticked by several
processes at the same rehearsed instants; every expected fire key exactly once, none missing.

    python bench/fleet.py [--quick] [--full] [--no-pg]

Each configuration gets a fresh namespace in which N workflows are published (``* * * * *`` in
UTC, ``catchup: all`` with a one-day window, one step ``true``). Then P real processes, each with
its own connection, are released at the same instant and each ticks every minute of the span
(T0 + 1 min ... T0 + M min) through :func:`clockwf.scheduler.tick`, the daemon's unit of work,
with the rehearsed instant injected as ``now``. The processes race through the span
independently (one may tick 00:12 while another is at 00:09): with ``catchup: all`` every
occurrence must still launch, so what is checked is exactly-once:

- the store holds exactly the N x M expected fire keys, no other, none twice;
- the processes together reported each of them launched exactly once (no double launch).

Scheduling: PostgreSQL with 1, 2 and 3 processes, SQLite with 1 and 3 (several processes on one
file are safe; one writes at a time), reporting fires/s (expected fires over the time from the
first process's start to the last one's end).

Execution: a smaller span (N_exec schedules, M_exec minutes) where each process also runs an
:class:`clockwf.executor.Executor` (4 workers, the real clock for leases) on the trivial step,
until no run is queued or running: every run must end ``succeeded`` with exactly one step
attempt, itself succeeded.

Sizes: default 2,000 schedules x 10 minutes (execution: 200 x 3); ``--quick`` 200 x 5
(execution: 50 x 2); ``--full`` 2,000 x 30 (execution: 500 x 4). The CI-sized pytest is
tests/integration/test_fleet.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Table, log, machine, median, rate, run_workers, sql, store_urls, worker_ready

from clockwf import lifecycle
from clockwf.store import open_store
from clockwf.validate import validate_source

T0 = datetime(2027, 1, 4, 0, 0, tzinfo=UTC)


def definition(i: int, *, execute: bool) -> str:
    return (f"id: fleet-{i:05d}\n"
            "trigger:\n"
            "  type: recurring\n"
            '  cron: "* * * * *"\n'
            "policy:\n"
            "  catchup: all\n"
            "  catchup_window: 1d\n"
            "  max_catchup: 1000\n"
            "steps:\n"
            f"  - id: {'noop' if execute else 'never-run'}\n"
            "    run: 'true'\n")


def publish(url: str, ns: str, n: int, *, execute: bool) -> None:
    reports = [validate_source(definition(i, execute=execute), f"fleet-{i:05d}.yaml", T0,
                               for_publish=True) for i in range(n)]
    bad = [str(e) for r in reports for e in r.errors]
    if bad:
        raise ValueError(bad[:3])
    with open_store(url, ns) as store:
        lifecycle.publish(store, reports, T0)


def expected_keys(n: int, minutes: int) -> set[str]:
    return {f"recurring:fleet-{i:05d}:{T0 + timedelta(minutes=m):%Y-%m-%dT%H:%M:%SZ}"
            for i in range(n) for m in range(1, minutes + 1)}


@dataclass
class FleetResult:
    backend: str
    processes: int
    schedules: int
    minutes: int
    expected: int
    stored: int
    distinct: int
    reported: int
    missing: int
    extra: int
    duplicates: int
    seconds: float
    per_process: list[int]
    execution: dict[str, Any] = field(default_factory=dict)

    @property
    def exactly_once(self) -> bool:
        return (self.stored == self.distinct == self.expected == self.reported
                and not (self.missing or self.extra or self.duplicates))

    @property
    def fires_per_s(self) -> float:
        return self.expected / self.seconds

    def summary(self) -> str:
        text = (f"{self.backend} x{self.processes}: {self.expected} expected, {self.stored} "
                f"stored ({self.distinct} distinct), {self.reported} reported launched, "
                f"{self.missing} missing, {self.extra} extra, {self.duplicates} reported twice; "
                f"{self.fires_per_s:,.0f} fires/s; per process {self.per_process}")
        if self.execution:
            text += f"; execution {self.execution}"
        return text


def run_fleet(url: str, backend: str, ns: str, *, schedules: int, minutes: int,
              processes: int, execute: bool = False, batch: int | None = None,
              timeout: float = 600) -> FleetResult:
    """Publish ``schedules`` workflows in ``ns``, let ``processes`` processes tick every minute
    of the span (and execute the runs, with ``execute``), and check the store. ``batch``:
    schedules claimed per transaction (default: the daemon's)."""
    from clockwf.scheduler import DEFAULT_BATCH

    publish(url, ns, schedules, execute=execute)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", url, ns, str(minutes),
           "1" if execute else "0", str(batch or DEFAULT_BATCH)]
    results = run_workers([cmd] * processes, timeout=timeout)
    reported = [key for r in results for key in r["keys"]]
    expected = expected_keys(schedules, minutes)
    with open_store(url, ns) as store, store.read() as tx:
        runs = tx.list_runs(limit=10 * len(expected) + 10)
    stored = [r["fire_key"] for r in runs]
    result = FleetResult(
        backend=backend, processes=processes, schedules=schedules, minutes=minutes,
        expected=len(expected), stored=len(stored), distinct=len(set(stored)),
        reported=len(reported), missing=len(expected - set(stored)),
        extra=len(set(stored) - expected), duplicates=len(reported) - len(set(reported)),
        seconds=max(r["end"] for r in results) - min(r["start"] for r in results),
        per_process=[len(r["keys"]) for r in results])
    if execute:
        result.execution = execution_check(url, ns, runs)
    return result


def execution_check(url: str, ns: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Every run succeeded, with exactly one step attempt, itself succeeded."""
    with open_store(url, ns) as store:
        attempts = sql(store, "SELECT run_id, count(*) AS n, "
                              "sum(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END) AS ok "
                              "FROM run_steps WHERE namespace = ? GROUP BY run_id", ns)
    per_run = {run_id: (int(n), int(ok)) for run_id, n, ok in attempts}
    statuses: dict[str, int] = {}
    for r in runs:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    return {
        "runs": len(runs),
        "statuses": statuses,
        "runs with one attempt": sum(1 for r in runs if per_run.get(r["run_id"]) == (1, 1)),
        "runs without an attempt": sum(1 for r in runs if r["run_id"] not in per_run),
        "runs with several attempts": sum(1 for n, _ in per_run.values() if n > 1),
        "attempt rows": sum(n for n, _ in per_run.values()),
    }


def executed_once(result: FleetResult) -> bool:
    e = result.execution
    return (e["statuses"] == {"succeeded": e["runs"]} and e["runs with one attempt"] == e["runs"]
            and e["attempt rows"] == e["runs"])


def worker(url: str, ns: str, minutes: str, execute: str, batch: str) -> None:
    """One fleet process: tick every minute of the span; with an executor, then execute until
    nothing is queued or running (in any process)."""
    import os

    from clockwf.clock import SystemClock
    from clockwf.daemon import store_connections
    from clockwf.executor import Executor
    from clockwf.scheduler import tick

    # as a daemon sizes its pool: the tick's two threads, plus the executor's when it executes
    with open_store(url, ns, pool_size=store_connections(4, execute == "1")) as store:
        with store.read() as tx:   # connected and migrated before the start
            tx.earliest_due()
        executor = None
        if execute == "1":
            executor = Executor(store, owner=f"fleet-{os.getpid()}", workers=4,
                                lease_seconds=30, clock=SystemClock(), poll_interval=0.2)
        worker_ready()
        start = time.time()
        if executor is not None:
            executor.start()
        keys: list[str] = []
        for m in range(1, int(minutes) + 1):
            report = tick(store, T0 + timedelta(minutes=m), batch_size=int(batch))
            keys += [entry["fire_key"] for entry in report.launched]
            if executor is not None and report.launched:
                executor.wake()
        end = time.time()
        if executor is not None:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                with store.read() as tx:
                    counts = tx.run_status_counts()
                if not counts.get("queued") and not counts.get("running"):
                    break
                time.sleep(0.2)
            executor.stop(grace=10)
    print(json.dumps({"start": start, "end": end, "keys": keys}))


SIZES = {  # (schedules, minutes, execution schedules, execution minutes)
    "quick": (200, 5, 50, 2),
    "default": (2000, 10, 200, 3),
    "full": (2000, 30, 500, 4),
}


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(*sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="CI sizes")
    parser.add_argument("--full", action="store_true", help="2,000 x 30 minutes")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args()
    size = "quick" if args.quick else "full" if args.full else "default"
    n, minutes, n_exec, m_exec = SIZES[size]
    rounds = 1 if args.quick else 3
    rows: list[list[Any]] = []
    exec_rows: list[list[Any]] = []
    failures = 0
    counter = iter(range(10**6))
    for backend, make_url in store_urls(args.no_pg):
        with make_url() as url:
            base = None
            for procs in ([1, 2, 3] if backend == "postgresql" else [1, 3]):
                results = [run_fleet(url, backend, f"fleet{next(counter)}", schedules=n,
                                     minutes=minutes, processes=procs) for _ in range(rounds)]
                for r in results:
                    log("  " + r.summary())
                    failures += not r.exactly_once
                speed = median(r.fires_per_s for r in results)
                base = speed if base is None else base
                last = results[-1]
                rows.append([backend, procs, f"{n:,} x {minutes} min", f"{last.expected:,}",
                             "yes" if all(r.exactly_once for r in results) else "NO",
                             f"{sum(r.missing for r in results)}",
                             f"{sum(r.duplicates + r.stored - r.distinct for r in results)}",
                             rate(speed), f"{speed / base:.2f}x",
                             "/".join(map(str, last.per_process))])
            r = run_fleet(url, backend, f"exec{next(counter)}", schedules=n_exec,
                          minutes=m_exec, processes=3, execute=True)
            log("  " + r.summary())
            ok = r.exactly_once and executed_once(r)
            failures += not ok
            e = r.execution
            exec_rows.append([backend, 3, f"{n_exec} x {m_exec} min", e["runs"],
                              e["statuses"].get("succeeded", 0), e["runs with one attempt"],
                              e["attempt rows"], "yes" if ok else "NO"])
    print(f"## bench/fleet.py ({size})\n\nMachine: {machine()}\n")
    print(Table(
        f"Several daemons ticking the same instants (fires/s: median of {rounds})",
        ["store", "processes", "schedules x span", "expected fires", "exactly once",
         "missing", "duplicates", "fires/s", "vs 1 process", "fires per process (last)"],
        rows,
        "Every minute of the span ticked by every process (`tick()` with the rehearsed "
        "instant as now); `catchup: all`, so a process that runs ahead or behind still "
        "launches every occurrence and only exactly-once is left to check. Duplicates: keys "
        "stored or reported twice.").render())
    print(Table(
        "Executed once: 3 processes, each ticking and running an Executor (4 workers)",
        ["store", "processes", "schedules x span", "runs", "succeeded", "with exactly one "
         "attempt", "step attempts", "executed once"], exec_rows).render())
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
