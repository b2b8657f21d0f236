"""What the benchmarks share: throwaway stores, bulk loading, timing, the machine, tables.

Not a benchmark itself. Schedules are bulk-loaded with plain SQL (executemany / COPY), not
through publish, so that a million of them take seconds; each row is what publish would write
for a recurring schedule that has fired before (``last_fire_key`` set), pointing at a normal
occurrence.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clockwf import __version__  # noqa: E402
from clockwf.cron import CronSchedule  # noqa: E402
from clockwf.store import Store  # noqa: E402
from clockwf.store.sqlite import utc_text  # noqa: E402

PG_ADMIN_URL = os.environ.get("CLOCKWF_TEST_PG_URL",
                              "postgresql://postgres@127.0.0.1:5432/postgres")

# A Monday, 14:00 UTC: an instant at which every expression of MIX fires.
DUE = datetime(2027, 1, 4, 14, 0, tzinfo=UTC)

# The schedules a benchmark loads cycle through these (cron, zone) pairs: a realistic mix of
# expressions and zones, each of which has an occurrence at DUE (checked by load_schedules).
MIX: tuple[tuple[str, str], ...] = (
    ("* * * * *", "UTC"),
    ("*/5 * * * *", "UTC"),
    ("0 * * * *", "Europe/Berlin"),
    ("0 9 * * 1-5", "America/New_York"),
    ("0 15 * * *", "Europe/Paris"),
    ("30 19 * * *", "Asia/Kolkata"),
    ("0 23 * * *", "Asia/Tokyo"),
    ("*/15 * * * *", "America/Los_Angeles"),
    ("0 14 * * MON", "UTC"),
    ("0 1 * * *", "Australia/Sydney"),
)

SCHEDULE_COLUMNS = ("namespace", "workflow_id", "version", "trigger_type", "cron", "timezone",
                    "status", "next_nominal_at", "next_kind", "next_fire_at", "last_fire_key",
                    "last_fired_at", "created_at", "updated_at")


def workflow_id(i: int) -> str:
    return f"wf{i:07d}"


def _check_mix(at: datetime) -> None:
    for cron, zone in MIX:
        fire = CronSchedule(cron, zone).next_fire(at - timedelta(seconds=1))
        if fire is None or fire.at != at or fire.kind != "normal":
            raise ValueError(f"{cron!r} in {zone} does not fire at {at.isoformat()}")


def schedule_rows(ns: str, start: int, stop: int, due: datetime,
                  mix: Sequence[tuple[str, str]] = MIX) -> Iterator[tuple[Any, ...]]:
    """Rows for schedules ``start``..``stop`` of ``ns``, every one due at ``due``."""
    before = due - timedelta(minutes=1)
    for i in range(start, stop):
        cron, zone = mix[i % len(mix)]
        wid = workflow_id(i)
        yield (ns, wid, 1, "recurring", cron, zone, "scheduled", due, "normal", due,
               f"recurring:{wid}:{before:%Y-%m-%dT%H:%M:%SZ}", before, before, before)


def load_schedules(store: Store, count: int, due: datetime, *, start: int = 0,
                   mix: Sequence[tuple[str, str]] = MIX, chunk: int = 100_000) -> float:
    """Add schedules ``start``..``start + count`` to the store's namespace, all due at ``due``
    (which must be an occurrence of every (cron, zone) of ``mix``); returns the seconds taken."""
    if mix is MIX:
        _check_mix(due)
    began = time.perf_counter()
    columns = ", ".join(SCHEDULE_COLUMNS)
    for low in range(start, start + count, chunk):
        rows = schedule_rows(store.ns, low, min(low + chunk, start + count), due, mix)
        with store.transaction() as tx:
            conn = tx.db.conn  # type: ignore[attr-defined]
            if store.backend == "sqlite":
                marks = ", ".join("?" * len(SCHEDULE_COLUMNS))
                conn.executemany(f"INSERT INTO schedules ({columns}) VALUES ({marks})",
                                 ([utc_text(v) if isinstance(v, datetime) else v for v in r]
                                  for r in rows))
            else:
                with conn.cursor().copy(f"COPY schedules ({columns}) FROM STDIN") as copy:
                    for r in rows:
                        copy.write_row(r)
    if store.backend == "postgresql":
        analyze(store)
    return time.perf_counter() - began


def analyze(store: Store) -> None:
    """Fresh planner statistics (what autovacuum would soon do after a bulk load)."""
    with store.transaction() as tx:
        tx.db.conn.execute("ANALYZE schedules")  # type: ignore[attr-defined]


def sql(store: Store, text: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run one bench-only statement (``?`` placeholders) in its own transaction; rows as
    tuples."""
    with store.transaction() as tx:
        conn = tx.db.conn  # type: ignore[attr-defined]
        if store.backend == "postgresql":
            text = text.replace("?", "%s")
        else:
            params = tuple(utc_text(p) if isinstance(p, datetime) else p for p in params)
        cur = conn.execute(text, params)
        rows = cur.fetchall() if cur.description else []
        return [tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in rows]


# -- throwaway stores --------------------------------------------------------------------------

@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="clockwf-bench-") as tmp:
        yield str(Path(tmp) / "bench.db")


@contextmanager
def pg_url(admin_url: str = PG_ADMIN_URL) -> Iterator[str]:
    """A new, empty PostgreSQL database next to the one ``admin_url`` names; dropped after."""
    import psycopg
    from psycopg import sql as pgsql

    name = f"clockwf_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
    try:
        yield urlsplit(admin_url)._replace(path="/" + name).geturl()
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                pgsql.Identifier(name)))


def pg_available(admin_url: str = PG_ADMIN_URL) -> str | None:
    """None when PostgreSQL answers at ``admin_url``, else the reason it does not."""
    try:
        import psycopg

        psycopg.connect(admin_url, connect_timeout=5).close()
        return None
    except Exception as exc:
        return str(exc).strip() or type(exc).__name__


def store_urls(no_pg: bool) -> list[tuple[str, Callable[[], Any]]]:
    """(backend, url context factory) for SQLite and, when it answers, PostgreSQL."""
    out: list[tuple[str, Callable[[], Any]]] = [("sqlite", sqlite_url)]
    if not no_pg:
        problem = pg_available()
        if problem is None:
            out.append(("postgresql", pg_url))
        else:
            print(f"PostgreSQL skipped: {problem}", file=sys.stderr)
    return out


# -- timing and reporting ----------------------------------------------------------------------

def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fmt_size(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k" if n >= 1000 else str(n)


def cpu_name() -> str:
    """The CPU model (from /proc/cpuinfo where there is one)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> str:
    cpu = cpu_name()
    pg = ""
    if pg_available() is None:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            pg = f", PostgreSQL {row[0].split()[0]}" if row else ""
    import sqlite3

    return (f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
            f"SQLite {sqlite3.sqlite_version}{pg}, clockwf {__version__}")


@dataclass
class Table:
    """A Markdown table, printed on stdout."""

    title: str
    headers: Sequence[str]
    rows: list[Sequence[Any]]
    note: str = ""

    def render(self) -> str:
        out = [f"### {self.title}", "", "| " + " | ".join(self.headers) + " |",
               "|" + "|".join("---" if i == 0 else "--:" for i in range(len(self.headers))) + "|"]
        for row in self.rows:
            out.append("| " + " | ".join(str(cell) for cell in row) + " |")
        if self.note:
            out += ["", self.note]
        return "\n".join(out) + "\n"


def rate(n: float) -> str:
    return f"{n:,.0f}"


def ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}x" if base else "-"


# -- several processes released at once ----------------------------------------------------------

WORKER_PROTOCOL = """A worker prints ``ready`` once set up, waits for a line on stdin, does its work
and prints one JSON object as its last line."""


def run_workers(commands: Sequence[Sequence[str]], timeout: float = 600) -> list[dict[str, Any]]:
    """Start one process per command (each following WORKER_PROTOCOL), release them all at the
    same instant once every one is ready, and return their JSON results in order."""
    import json
    import subprocess

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    procs = [subprocess.Popen(list(cmd), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for cmd in commands]
    try:
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline()
            if line.strip() != "ready":
                err = p.stderr.read() if p.stderr else ""
                raise RuntimeError(f"worker did not start: {line!r} {err[-2000:]}")
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        results = []
        for p in procs:
            out, err = p.communicate(timeout=timeout)
            if p.returncode != 0:
                raise RuntimeError(f"worker failed ({p.returncode}): {err[-2000:]}")
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def worker_ready() -> None:
    """The worker side of WORKER_PROTOCOL: say ready, wait for the go."""
    print("ready", flush=True)
    sys.stdin.readline()
