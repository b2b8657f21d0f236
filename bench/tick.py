"""Tick benchmark: fires per second, the idle tick, launch lag, daemon memory, and anchors.

    python bench/tick.py [--quick] [--full] [--no-pg] [--only SECTIONS]

Sections (``--only a,b`` runs some of them):

(a) fires/s of one ``tick()`` that finds 10k due schedules, the full path (claim, cron engine,
    payload and provenance, run insert, advance, one transaction per batch), on SQLite and on
    PostgreSQL; on PostgreSQL also with 2 real processes (each its own connection) ticking the
    same instant, their launched fire keys counted and checked for duplicates. Each round uses a
    fresh namespace of 10k schedules (a mix of expressions and zones, all due at one instant) in
    the same database, so run history accumulates as it does in production. Also fires/s by batch
    size (schedules claimed per transaction), which is how DEFAULT_BATCH was chosen.
(b) idle tick: one ``tick()`` that finds nothing, with 0 (empty), 10k, 100k and 1M schedules in
    the namespace, as µs per tick and as a ratio to the empty store.
(c) launch lag of a live daemon process (``python -m clockwf daemon --no-execute``) with 1k
    schedules due in the same minute: run ``created_at`` minus the nominal instant, p50/p99, and
    when the last run of the burst was visible to another connection.
(d) daemon RSS (VmRSS of the process) after it has ticked, with 0 and with 1M schedules.
(e) anchors measured in the same run: APScheduler 3 (SQLAlchemyJobStore on SQLite) draining N
    due cron jobs, and a bare baseline: per job, croniter computes the next fire, a row is
    inserted and the job's next fire updated, 1000 jobs per transaction (sqlite3; psycopg with 1
    and 2 processes, jobs claimed with FOR UPDATE SKIP LOCKED).

Every figure is a median of several rounds; the ratios compare figures of this same run.
``--quick`` is a smoke-sized run (CI); ``--full`` repeats more and adds 3 processes.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    DUE,
    ROOT,
    Table,
    analyze,
    fmt_size,
    load_schedules,
    log,
    machine,
    median,
    pg_url,
    rate,
    ratio,
    run_workers,
    sql,
    store_urls,
    worker_ready,
)

from clockwf.scheduler import DEFAULT_BATCH, tick
from clockwf.store import open_store

NOW = DUE + timedelta(seconds=1)          # the instant the burst is ticked at: on time
MINUTELY = (("* * * * *", "UTC"),)
SECTIONS = "abcde"


# -- (a) fires per second ------------------------------------------------------------------------

class Burst:
    """``n`` schedules in namespace ``ns`` that all fire at the same instant, again and again.

    Round k makes every schedule due at DUE + k weeks (each expression of the mix fires then,
    in winter time everywhere), so the same workflows fire round after round and their run
    history grows as it does in production (each new fire key lands among the older keys of
    its workflow in the indexes)."""

    def __init__(self, url: str, ns: str, n: int) -> None:
        self.url, self.ns, self.n = url, ns, n
        self.round = 0
        with open_store(url, ns) as store:
            load_schedules(store, n, DUE)

    def next(self) -> datetime:
        """Make every schedule due at the next round's instant; returns that instant."""
        due = DUE + timedelta(weeks=self.round)
        self.round += 1
        if self.round > 1:
            with open_store(self.url, self.ns) as store:
                sql(store, "UPDATE schedules SET next_nominal_at = ?, next_fire_at = ?, "
                           "next_kind = 'normal' WHERE namespace = ?", due, due, self.ns)
                if store.backend == "postgresql":
                    analyze(store)
        if self.round > 9:
            raise ValueError("the mix stays in winter time for 9 weeks only")
        return due

    def keys(self, due: datetime) -> set[str]:
        return {f"recurring:wf{i:07d}:{due:%Y-%m-%dT%H:%M:%SZ}" for i in range(self.n)}


def fires_once(burst: Burst, batch: int) -> float:
    """One tick at the next round's instant (plus 1 s); fires/s of that tick."""
    due = burst.next()
    with open_store(burst.url, burst.ns) as store:
        with store.read() as tx:    # a connection ready, as in a running daemon
            tx.earliest_due()
        began = time.perf_counter()
        report = tick(store, due + timedelta(seconds=1), batch_size=batch)
        elapsed = time.perf_counter() - began
    if len(report.launched) != burst.n:
        raise AssertionError(f"launched {len(report.launched)} of {burst.n}")
    return burst.n / elapsed


class _TimedCursor:
    """A sqlite3 cursor that adds the time spent in its calls to ``spent``."""

    def __init__(self, cursor: Any, spent: list[float]) -> None:
        self._cursor, self._spent = cursor, spent

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._cursor, name, value)

    def execute(self, *args: Any) -> Any:
        began = time.perf_counter()
        try:
            return self._cursor.execute(*args)
        finally:
            self._spent[0] += time.perf_counter() - began

    def fetchall(self) -> Any:
        began = time.perf_counter()
        try:
            return self._cursor.fetchall()
        finally:
            self._spent[0] += time.perf_counter() - began


class _TimedConnection:
    """A sqlite3 connection that adds the time spent in SQLite calls to ``spent``."""

    def __init__(self, conn: Any, spent: list[float]) -> None:
        self._conn, self._spent = conn, spent

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def cursor(self) -> _TimedCursor:
        return _TimedCursor(self._conn.cursor(), self._spent)

    def execute(self, *args: Any) -> Any:
        began = time.perf_counter()
        try:
            return self._conn.execute(*args)
        finally:
            self._spent[0] += time.perf_counter() - began

    def executemany(self, *args: Any) -> Any:
        began = time.perf_counter()
        try:
            return self._conn.executemany(*args)
        finally:
            self._spent[0] += time.perf_counter() - began


def _proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (from /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def where_time_goes(burst: Burst, batch: int) -> dict[str, float]:
    """µs per fire of one tick: wall time, this process's CPU, and the store's part: on SQLite
    the time inside sqlite3 calls (its type converters included), on PostgreSQL the CPU of the
    server processes serving this database (all of them: backends, WAL writer ...)."""
    due = burst.next()
    with open_store(burst.url, burst.ns) as store:
        with store.read() as tx:
            tx.earliest_due()
        spent = [0.0]
        server_pids: list[int] = []
        if store.backend == "sqlite":
            store._local.conn = _TimedConnection(store._local.conn, spent)  # type: ignore[attr-defined]
        else:
            server_pids = [int(r[0]) for r in sql(
                store, "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                       "OR backend_type NOT IN ('client backend')")]
        server0 = sum(_proc_cpu(pid) for pid in server_pids)
        cpu0 = time.process_time()
        began = time.perf_counter()
        tick(store, due + timedelta(seconds=1), batch_size=batch)
        wall = time.perf_counter() - began
        cpu = time.process_time() - cpu0
        server = sum(_proc_cpu(pid) for pid in server_pids) - server0
    per = 1e6 / burst.n
    if store.backend == "sqlite":
        return {"wall": wall * per, "client": cpu * per, "store": spent[0] * per,
                "python": (wall - spent[0]) * per}
    return {"wall": wall * per, "client": cpu * per, "store": server * per,
            "python": cpu * per}


def fires_parallel(burst: Burst, batch: int, procs: int) -> dict[str, Any]:
    """``procs`` processes tick the same due schedules at the same instant."""
    due = burst.next()
    cmd = [sys.executable, __file__, "--worker", "tick", burst.url, burst.ns, str(batch),
           (due + timedelta(seconds=1)).isoformat()]
    results = run_workers([cmd] * procs)
    keys = [k for r in results for k in r["keys"]]
    expected = burst.keys(due)
    with open_store(burst.url, burst.ns) as store:
        stored = sql(store, "SELECT count(*) AS n, count(DISTINCT fire_key) AS keys FROM runs "
                            "WHERE namespace = ? AND scheduled_for = ?", burst.ns, due)[0]
    duplicates = len(keys) - len(set(keys))
    missing = len(expected - set(keys))
    if duplicates or missing or tuple(stored) != (burst.n, burst.n):
        raise AssertionError(f"{procs} processes: {duplicates} duplicate and {missing} missing "
                             f"fire keys; store has {tuple(stored)}")
    elapsed = max(r["end"] for r in results) - min(r["start"] for r in results)
    return {"rate": burst.n / elapsed, "shares": [len(r["keys"]) for r in results]}


def tick_worker(url: str, ns: str, batch: str, now: str) -> None:
    with open_store(url, ns) as store:
        with store.read() as tx:   # a pooled connection ready, as in a running daemon
            tx.earliest_due()
        worker_ready()
        start = time.time()
        report = tick(store, datetime.fromisoformat(now), batch_size=int(batch))
        end = time.time()
    print(json.dumps({"start": start, "end": end,
                      "keys": [entry["fire_key"] for entry in report.launched]}))


def section_a(backends: list[tuple[str, Callable[[], Any]]], args: argparse.Namespace,
              tables: list[Table]) -> dict[str, Any]:
    n = 2_000 if args.quick else 10_000
    rounds = 3 if args.quick else 8 if args.full else 6   # (at most 8: see Burst)
    batches = [100, 250, 500, 1000] if not args.quick else [250, 1000]
    if args.full:
        batches = [50, 100, 250, 500, 1000, 2000]
    results: dict[str, Any] = {}
    sweep: dict[str, dict[int, float]] = {}
    split: dict[str, dict[str, float]] = {}
    for name, make_url in backends:
        with make_url() as url:
            # 1 process and (PostgreSQL) several take turns, round after round, so that a busy
            # spell of the machine hits each alike
            procs_list = ([1, 2, 3] if args.full else [1, 2]) if name == "postgresql" else [1]
            bursts_by_procs = {p: Burst(url, f"x{p}", n) for p in procs_list}
            fires_once(bursts_by_procs[1], DEFAULT_BATCH)   # warm-up: caches, files, stats
            runs: dict[int, list[dict[str, Any]]] = {p: [] for p in procs_list}
            for _ in range(rounds):
                for procs in procs_list:
                    if procs == 1:
                        runs[1].append({"rate": fires_once(bursts_by_procs[1],
                                                           DEFAULT_BATCH)})
                    else:
                        runs[procs].append(fires_parallel(bursts_by_procs[procs],
                                                          DEFAULT_BATCH, procs))
            results[name] = {}
            for procs in procs_list:
                results[name][str(procs)] = median(r["rate"] for r in runs[procs])
                if procs > 1:
                    results[name][f"{procs}-shares"] = runs[procs][-1]["shares"]
                log(f"  (a) {name} x{procs}: {results[name][str(procs)]:,.0f} fires/s")
            splits = [where_time_goes(Burst(url, f"split{k}", n), DEFAULT_BATCH)
                      for k in range(3)]
            split[name] = {key: median(s[key] for s in splits) for key in splits[0]}
            # the sizes take turns, round after round, so that a busy spell hits all alike
            bursts = {b: Burst(url, f"batch{b}", n) for b in batches}
            samples: dict[int, list[float]] = {b: [] for b in batches}
            for k in range(1 + (2 if args.quick else 4)):
                for b in batches:
                    rate_ = fires_once(bursts[b], b)
                    if k:                          # the first round is a warm-up
                        samples[b].append(rate_)
            sweep[name] = {b: median(v) for b, v in samples.items()}
    rows = []
    for name, r in results.items():
        for procs in ("1", "2", "3"):
            if procs in r:
                shares = r.get(f"{procs}-shares")
                rows.append([name, procs, rate(r[procs]), f"{n / r[procs] * 1000:.0f} ms",
                             ratio(r[procs], results[name]["1"]),
                             "/".join(map(str, shares)) if shares else "-"])
    tables.append(Table(
        f"(a) Fires per second: one tick finding {fmt_size(n)} due schedules "
        f"(batch {DEFAULT_BATCH}, median of {rounds})",
        ["store", "processes", "fires/s", f"{fmt_size(n)} drained in", "vs 1 process",
         "fires per process (last round)"], rows,
        "Full path: claim (FOR UPDATE SKIP LOCKED on PostgreSQL), plan with the cron engine, "
        "WorkflowClockTrigger.v1 payload and provenance, run insert under its fire key, advance; "
        "one transaction per batch. Processes: real processes with their own connections, "
        "released at the same instant; no duplicate and no missing fire key (checked)."))
    tables.append(Table(
        "(a) Where the time of one fire goes (µs per fire, one process, median of 3 ticks)",
        ["store", "wall", "in the store", "clockwf's Python", "this process's CPU",
         "ceiling from the store alone"],
        [[name, f"{v['wall']:.0f}", f"{v['store']:.0f}", f"{v['python']:.0f}",
          f"{v['client']:.0f}", rate(1e6 / v["store"]) if v["store"] else "-"]
         for name, v in split.items()],
        "SQLite: 'in the store' is the time inside sqlite3 calls (its type converters "
        "included); clockwf's Python is the rest of the wall time. PostgreSQL: 'in the store' is "
        "the CPU used by the server processes meanwhile (backend, WAL writer ...), clockwf's "
        "Python is this process's CPU (psycopg included); the wall time also includes waiting "
        "for WAL flushes and round trips. The ceiling is the fires/s if clockwf's own work "
        "took no time."))
    tables.append(Table(
        "(a) Fires per second by batch size (schedules claimed per transaction)",
        ["store", *[str(b) for b in batches]],
        [[name, *[rate(sweep[name][b]) for b in batches]] for name in sweep],
        f"DEFAULT_BATCH = {DEFAULT_BATCH}."))
    return results


# -- (b) idle tick -------------------------------------------------------------------------------

def section_b(backends: list[tuple[str, Callable[[], Any]]], args: argparse.Namespace,
              tables: list[Table], keep: dict[str, Any]) -> None:
    sizes = [0, 1_000, 10_000, 100_000] if args.quick else [0, 10_000, 100_000, 1_000_000]
    calls, reps = (100, 5) if args.quick else (500, 7)
    future = DUE + timedelta(days=7)    # every schedule is due a week later: nothing at DUE
    rows = []
    for name, make_url in backends:
        context = make_url()
        url = context.__enter__()
        keep.setdefault("contexts", []).append(context)
        keep[name] = url
        loaded = 0
        base = None
        with open_store(url, "idle") as store:
            floor = _round_trip_us(store, calls, reps)
            for size in sizes:
                if size > loaded:
                    seconds = load_schedules(store, size - loaded, future, start=loaded)
                    log(f"  (b) {name}: {fmt_size(size)} schedules loaded in {seconds:.1f} s")
                    loaded = size
                for _ in range(20):
                    tick(store, NOW)                      # warm-up
                samples = []
                for _ in range(reps):
                    began = time.perf_counter()
                    for _ in range(calls):
                        report = tick(store, NOW)
                    samples.append((time.perf_counter() - began) / calls * 1e6)
                    assert not report.launched
                us = median(samples)
                base = us if base is None else base
                rows.append([name, fmt_size(size), f"{us:.0f}", ratio(us, base),
                             f"{floor:.0f}", ratio(us, floor)])
    tables.append(Table(
        f"(b) Idle tick: one tick() that finds nothing (µs, median of {reps}x{calls})",
        ["store", "schedules", "µs per tick", "vs empty", "SELECT 1 µs", "vs SELECT 1"], rows,
        "A tick that finds nothing due is one statement outside any explicit transaction (no "
        "BEGIN IMMEDIATE, no row locks): min(next_fire_at), one seek on the partial index "
        "schedules_due. 'SELECT 1' is the floor: one bare statement on the store's own "
        "connection (PostgreSQL: one loopback round trip; the pool checks a connection "
        "without a round trip, by polling its socket)."))


def _round_trip_us(store: Any, calls: int, reps: int) -> float:
    """µs of one ``SELECT 1`` on the store's own connection: the least any store call costs."""
    if store.backend == "sqlite":
        conn = store._connection()

        def once() -> None:
            conn.execute("SELECT 1").fetchone()
    else:
        def once() -> None:
            with store.pool.connection() as conn:
                conn.execute("SELECT 1").fetchone()
    for _ in range(20):
        once()
    samples = []
    for _ in range(reps):
        began = time.perf_counter()
        for _ in range(calls):
            once()
        samples.append((time.perf_counter() - began) / calls * 1e6)
    return median(samples)


# -- (c) launch lag and (d) memory of a live daemon ------------------------------------------------

class Daemon:
    """``python -m clockwf daemon --no-execute`` as a child process."""

    def __init__(self, url: str, ns: str, log_path: Path) -> None:
        self.url, self.ns = url, ns
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self.log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "clockwf", "daemon", "--no-execute", "--db", url,
             "--namespace", ns, "--max-sleep", "5s", "--log-format", "json"],
            stdout=subprocess.DEVNULL, stderr=self.log, env=env)

    def wait_ticked(self, store: Any, timeout: float = 60) -> None:
        """Until the daemon has written its first heartbeat (it does so after its first tick)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the daemon exited with {self.proc.returncode}")
            with store.read() as tx:
                if any(d["pid"] == self.proc.pid for d in tx.list_daemons()):
                    return
            time.sleep(0.05)
        raise RuntimeError("the daemon did not tick in time")

    def rss_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def launch_lag(url: str, n: int, tmp: Path) -> dict[str, float]:
    ns = f"lag{int(time.time())}"
    now = datetime.now(UTC)
    due = (now + timedelta(seconds=70)).replace(second=0, microsecond=0)   # 10 s to 70 s away
    with open_store(url, ns) as store:
        load_schedules(store, n, due, mix=MINUTELY)
        daemon = Daemon(url, ns, tmp / f"lag-{ns}.log")
        try:
            daemon.wait_ticked(store)
            log(f"  (c) daemon ready; waiting {(due - datetime.now(UTC)).total_seconds():.0f} s "
                f"for {due:%H:%M:%S}")
            time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds() - 0.5))
            visible_at = None
            while visible_at is None:
                with store.read() as tx:
                    count = tx.run_status_counts().get("queued", 0)
                if count >= n:
                    visible_at = datetime.now(UTC)
                else:
                    time.sleep(0.005)
                if datetime.now(UTC) > due + timedelta(seconds=30):
                    raise RuntimeError(f"only {count} of {n} runs after 30 s")
        finally:
            daemon.stop()
        with store.read() as tx:
            runs = tx.list_runs(limit=n + 10)
    lags = [(r["created_at"] - r["scheduled_for"]).total_seconds() * 1000 for r in runs]
    return {"p50": percentile(lags, 50), "p99": percentile(lags, 99), "max": max(lags),
            "visible": (visible_at - due).total_seconds() * 1000}


def section_c(backends: list[tuple[str, Callable[[], Any]]], args: argparse.Namespace,
              tables: list[Table], keep: dict[str, Any], tmp: Path) -> None:
    n = 200 if args.quick else 1000
    rows = []
    for name, _ in backends:
        if args.quick and name != "sqlite":
            continue
        r = launch_lag(keep[name], n, tmp)
        rows.append([name, n, f"{r['p50']:.1f}", f"{r['p99']:.1f}", f"{r['max']:.1f}",
                     f"{r['visible']:.0f}"])
        log(f"  (c) {name}: p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms, all visible after "
            f"{r['visible']:.0f} ms")
    tables.append(Table(
        f"(c) Launch lag of a live daemon, {n} schedules due in the same minute (ms)",
        ["store", "schedules", "p50", "p99", "max", "all visible after"], rows,
        "Lag: run created_at minus its nominal instant (the tick's `now`, read when it wakes). "
        "All visible after: when another connection first saw every run of the burst, after "
        "the nominal instant (polling every 5 ms), i.e. including the time to launch them."))


def section_d(backends: list[tuple[str, Callable[[], Any]]], args: argparse.Namespace,
              tables: list[Table], keep: dict[str, Any], tmp: Path) -> None:
    rows = []
    big = 100_000 if args.quick else 1_000_000
    burst = 1_000 if args.quick else 10_000
    for name, _ in backends:
        url = keep[name]
        figures = []
        for ns, label in (("empty", "0"), ("idle", fmt_size(big))):
            with open_store(url, ns) as store:
                daemon = Daemon(url, ns, tmp / f"rss-{name}-{ns}.log")
                try:
                    daemon.wait_ticked(store)
                    time.sleep(1.0)
                    figures.append((label, daemon.rss_mb()))
                finally:
                    daemon.stop()
        # the same store with a burst due now as well: RSS once it has been launched
        minute = datetime.now(UTC).replace(second=0, microsecond=0)
        with open_store(url, "idle") as store:
            load_schedules(store, burst, minute, start=big, mix=MINUTELY)
            daemon = Daemon(url, "idle", tmp / f"rss-{name}-burst.log")
            try:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    with store.read() as tx:
                        if tx.run_status_counts().get("queued", 0) >= burst:
                            break
                    time.sleep(0.1)
                time.sleep(1.0)
                figures.append((f"{fmt_size(big)} + {fmt_size(burst)} launched",
                                daemon.rss_mb()))
            finally:
                daemon.stop()
        base = figures[0][1]
        for label, mb in figures:
            rows.append([name, label, f"{mb:.1f}", ratio(mb, base)])
        log(f"  (d) {name}: " + ", ".join(f"{label}: {mb:.1f} MB" for label, mb in figures))
    tables.append(Table(
        "(d) Daemon memory (VmRSS, MB) after it has ticked",
        ["store", "schedules in the store", "RSS MB", "vs empty"], rows,
        "`clockwf daemon --no-execute` as a process; read from /proc/<pid>/status after its "
        "first tick (and, in the last row, after it launched a burst due at that minute)."))


# -- (e) anchors -----------------------------------------------------------------------------------

def apscheduler_drain(n: int, tmp: Path) -> float:
    """Due cron jobs executed per second by APScheduler 3 on a SQLite job store."""
    import threading

    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger

    path = tmp / f"aps-{n}-{time.monotonic_ns()}.db"
    done = threading.Event()
    _APS_STATE.update(count=0, target=n, done=done)
    scheduler = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(
        url=f"sqlite:///{path}")}, executors={"default": ThreadPoolExecutor(10)},
        timezone="UTC")
    scheduler.start(paused=True)
    past = datetime.now(UTC) - timedelta(seconds=5)
    for i in range(n):
        scheduler.add_job(_aps_job, CronTrigger.from_crontab("* * * * *", timezone="UTC"),
                          id=f"job{i}", next_run_time=past, misfire_grace_time=3600,
                          coalesce=True, replace_existing=True)
    began = time.perf_counter()
    scheduler.resume()
    if not done.wait(600):
        raise RuntimeError(f"APScheduler ran {_APS_STATE['count']} of {n} jobs")
    elapsed = time.perf_counter() - began
    scheduler.shutdown(wait=False)
    return n / elapsed


_APS_STATE: dict[str, Any] = {}


def _aps_job() -> None:
    import threading

    lock = _APS_STATE.setdefault("lock", threading.Lock())
    with lock:
        _APS_STATE["count"] += 1
        if _APS_STATE["count"] >= _APS_STATE["target"]:
            _APS_STATE["done"].set()


BARE_SCHEMA = (
    "CREATE TABLE jobs (id integer PRIMARY KEY, cron text NOT NULL, next_fire {ts} NOT NULL)",
    "CREATE INDEX jobs_next ON jobs (next_fire)",
    "CREATE TABLE fires (id {serial} PRIMARY KEY, job_id integer NOT NULL, fire_at {ts} NOT NULL,"
    " UNIQUE (job_id, fire_at))",
)


def bare_setup(conn: Any, backend: str, n: int) -> None:
    """The bare baseline's two tables and ``n`` jobs due at DUE (``* * * * *``)."""
    ts, serial = (("text", "integer") if backend == "sqlite"
                  else ("timestamptz", "bigint GENERATED ALWAYS AS IDENTITY"))
    for statement in BARE_SCHEMA:
        conn.execute(statement.format(ts=ts, serial=serial))
    due: Any = DUE.isoformat() if backend == "sqlite" else DUE
    mark = "?" if backend == "sqlite" else "%s"
    with _bare_tx(conn, backend):
        conn.cursor().executemany(f"INSERT INTO jobs (id, cron, next_fire) VALUES ({mark}, "
                                  f"'* * * * *', {mark})", [(i, due) for i in range(n)])


class _bare_tx:
    def __init__(self, conn: Any, backend: str) -> None:
        self.conn, self.backend = conn, backend

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE" if self.backend == "sqlite" else "BEGIN")

    def __exit__(self, kind: object, *_: object) -> None:
        self.conn.execute("COMMIT" if kind is None else "ROLLBACK")


def bare_drain(conn: Any, backend: str, batch: int = 1000) -> int:
    """Fire every due job: per batch of ``batch`` jobs one transaction that selects them,
    computes each next fire with croniter, inserts a fire row and updates the job."""
    from croniter import croniter  # type: ignore[import-untyped]

    if backend == "sqlite":
        select = "SELECT id, cron, next_fire FROM jobs WHERE next_fire <= ? ORDER BY next_fire LIMIT ?"
        insert = "INSERT INTO fires (job_id, fire_at) VALUES (?, ?) ON CONFLICT DO NOTHING"
        update = "UPDATE jobs SET next_fire = ? WHERE id = ?"
        now: Any = NOW.isoformat()
    else:
        select = ("SELECT id, cron, next_fire FROM jobs WHERE next_fire <= %s ORDER BY next_fire "
                  "LIMIT %s FOR UPDATE SKIP LOCKED")
        insert = "INSERT INTO fires (job_id, fire_at) VALUES (%s, %s) ON CONFLICT DO NOTHING"
        update = "UPDATE jobs SET next_fire = %s WHERE id = %s"
        now = NOW
    fired = 0
    parsed: dict[str, Any] = {}   # one croniter per expression, moved to each job's instant
    while True:
        with _bare_tx(conn, backend):
            rows = conn.execute(select, (now, batch)).fetchall()
            fires, moves = [], []
            for job_id, cron, at in rows:
                at = datetime.fromisoformat(at) if isinstance(at, str) else at
                it = parsed.get(cron)
                if it is None:
                    it = parsed[cron] = croniter(cron, at)
                it.set_current(at, force=True)
                nxt = it.get_next(datetime)
                stamp: Any = at.isoformat() if backend == "sqlite" else at
                fires.append((job_id, stamp))
                moves.append((nxt.isoformat() if backend == "sqlite" else nxt, job_id))
            conn.cursor().executemany(insert, fires)
            conn.cursor().executemany(update, moves)
        fired += len(rows)
        if len(rows) < batch:
            return fired


def bare_sqlite(n: int, tmp: Path) -> float:
    import sqlite3

    path = tmp / f"bare-{time.monotonic_ns()}.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    bare_setup(conn, "sqlite", n)
    began = time.perf_counter()
    fired = bare_drain(conn, "sqlite")
    elapsed = time.perf_counter() - began
    conn.close()
    assert fired == n, fired
    return n / elapsed


def bare_pg(n: int, procs: int) -> float:
    import psycopg

    with pg_url() as url:
        with psycopg.connect(url, autocommit=True) as conn:
            bare_setup(conn, "postgresql", n)
            conn.execute("ANALYZE jobs")
        results = run_workers([[sys.executable, __file__, "--worker", "bare", url]] * procs)
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT count(*), count(DISTINCT (job_id, fire_at)) "
                               "FROM fires").fetchone()
    assert row is not None and tuple(row) == (n, n), row
    assert sum(r["fired"] for r in results) == n
    return n / (max(r["end"] for r in results) - min(r["start"] for r in results))


def bare_worker(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        worker_ready()
        start = time.time()
        fired = bare_drain(conn, "postgresql")
        end = time.time()
    print(json.dumps({"start": start, "end": end, "fired": fired}))


def section_e(backends: list[tuple[str, Callable[[], Any]]], args: argparse.Namespace,
              tables: list[Table], fires: dict[str, Any], tmp: Path) -> None:
    rounds = 3 if args.quick else 5
    n_aps = 500 if args.quick else 2000
    n = 2_000 if args.quick else 10_000
    aps = median(apscheduler_drain(n_aps, tmp) for _ in range(rounds))
    log(f"  (e) APScheduler: {aps:,.0f} jobs/s")
    bare = {("sqlite", "1"): median(bare_sqlite(n, tmp) for _ in range(rounds))}
    log(f"  (e) bare sqlite: {bare[('sqlite', '1')]:,.0f} fires/s")
    if any(name == "postgresql" for name, _ in backends):
        for procs in (1, 2):
            bare[("postgresql", str(procs))] = median(bare_pg(n, procs) for _ in range(rounds))
            log(f"  (e) bare postgresql x{procs}: {bare[('postgresql', str(procs))]:,.0f}")
    rows: list[list[Any]] = [["APScheduler 3.x, SQLAlchemyJobStore on SQLite", "sqlite", 1,
                              rate(aps), "-", "-"]]
    for (store, procs), value in bare.items():
        ours = fires.get(store, {}).get(procs)
        rows.append(["bare: croniter + insert + update, 1000 per transaction", store, procs,
                     rate(value), rate(ours) if ours else "-",
                     ratio(ours, value) if ours else "-"])
    if "sqlite" in fires:
        rows.append(["clockwf tick()", "sqlite", 1, rate(fires["sqlite"]["1"]), "-", "-"])
        rows[0][4] = rate(fires["sqlite"]["1"])
        rows[0][5] = ratio(fires["sqlite"]["1"], aps)
    tables.append(Table(
        f"(e) Anchors on this machine, this run (median of {rounds})",
        ["what", "store", "processes", "fires/s", "clockwf fires/s (a)", "clockwf vs anchor"],
        rows,
        f"APScheduler: {n_aps} cron jobs (`* * * * *`) due at once, 10 executor threads, "
        f"until each has run once. Bare: {fmt_size(n)} jobs due at once, the minimum a "
        "persistent cron scheduler must do per fire (no payload, no provenance, two indexes); "
        "croniter parses each expression once and is moved to each job's instant "
        "(set_current), its fastest use."))


# -- main --------------------------------------------------------------------------------------------

def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        kind, rest = sys.argv[2], sys.argv[3:]
        {"tick": tick_worker, "bare": bare_worker}[kind](*rest)
        return 0
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke sizes, for CI")
    parser.add_argument("--full", action="store_true", help="more rounds, also 3 processes")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--only", default=SECTIONS, help="sections to run, e.g. a,b")
    args = parser.parse_args()
    only = set(args.only.replace(",", ""))
    backends = store_urls(args.no_pg)
    tables: list[Table] = []
    keep: dict[str, Any] = {}
    fires: dict[str, Any] = {}
    import tempfile

    with tempfile.TemporaryDirectory(prefix="clockwf-bench-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            if "a" in only:
                fires = section_a(backends, args, tables)
            if only & set("bcd"):
                section_b(backends, args, tables, keep)
            if "c" in only:
                section_c(backends, args, tables, keep, tmp)
            if "d" in only:
                section_d(backends, args, tables, keep, tmp)
            if "e" in only:
                section_e(backends, args, tables, fires, tmp)
        finally:
            for context in reversed(keep.get("contexts", [])):
                context.__exit__(None, None, None)
    print(f"## bench/tick.py ({'quick' if args.quick else 'full' if args.full else 'default'})"
          f"\n\nMachine: {machine()}\n")
    for table in tables:
        print(table.render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
