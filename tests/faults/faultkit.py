"""A kit for fault tests: kill -9 at random instants, raw store probes and invariants, and a
private PostgreSQL server that a test may stop and start.

Pieces (each usable alone):

- :class:`ForkServer` starts ``clockwf`` command lines as *forked* children of one pre-imported
  Python process (a "zygote"), so that a child is working within milliseconds instead of after
  0.4 s of imports, and kills the child with SIGKILL after a given delay. The child runs exactly
  ``clockwf ARGS`` (``clockwf.cli.main``) and, in a traced zygote, marks on its stderr where each
  write transaction began and committed, so a test can tell where a kill landed.
  :func:`run_exec` does the same with a real ``python -m clockwf`` process.
- :class:`RawDb` reads a store with plain SQL (sqlite3 / psycopg), independent of clockwf's own
  store code: :meth:`RawDb.dump` is every row of every table, for "changed nothing" checks.
- :class:`Expected` is what a published schedule must have done up to an instant, and
  :func:`check_schedules` / :func:`check_runs_settled` check a store against it.
- :class:`PgServer` is a throw-away PostgreSQL cluster (initdb + pg_ctl, as the ``postgres`` OS
  user when run as root) on a free port.

Sizes come from the caller; ``FULL`` (``CLOCKWF_FAULTS_FULL=1``) asks for the long versions.
"""

from __future__ import annotations

import collections
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clockwf.schedule import Occurrence, ScheduleSpec, first_after, following
from clockwf.validate import validate_source
from tests.integration.executor_support import wait_for as poll

ROOT = Path(__file__).resolve().parents[2]
FULL = os.environ.get("CLOCKWF_FAULTS_FULL") == "1"
TX_BEGIN = "@@tx-begin"
TX_COMMIT = "@@tx-commit"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def iso_z(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a clockwf child: ours without CLOCKWF_* settings, clockwf importable
    from this checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOCKWF_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["COLUMNS"] = "200"
    env.update(extra)
    return env


def wait_for(predicate: Callable[[], Any], timeout: float, what: str,
             interval: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns something true; fail after ``timeout`` s (the
    integration tests' poll, with the arguments in the order these tests give them)."""
    return poll(what, predicate, timeout, interval)


# -- running clockwf and killing it --------------------------------------------------------------


@dataclass
class Outcome:
    """One clockwf process: how it ended, and what it wrote."""

    argv: list[str]
    mode: str                 # fork | exec
    delay: float | None       # when the kill was due (None: let it finish)
    code: int                 # exit code; -9 when SIGKILL ended it
    elapsed: float
    output: str

    @property
    def killed(self) -> bool:
        return self.code == -signal.SIGKILL

    def marks(self) -> list[tuple[str, float]]:
        """The traced transaction marks (fork mode): (TX_BEGIN or TX_COMMIT, seconds since the
        process started)."""
        found = []
        for line in self.output.splitlines():
            if line.startswith((TX_BEGIN, TX_COMMIT)):
                what, _, at = line.partition(" ")
                found.append((what, float(at)))
        return found

    def windows(self) -> list[tuple[float, float]]:
        """(begin, commit) of each write transaction that committed."""
        out, begin = [], None
        for what, at in self.marks():
            if what == TX_BEGIN:
                begin = at
            elif begin is not None:
                out.append((begin, at))
                begin = None
        return out

    @property
    def open_transaction(self) -> bool:
        """Killed between the start of a write transaction and the end of its commit (fork
        mode only: the zygote traces transactions)."""
        marks = self.marks()
        return self.killed and bool(marks) and marks[-1][0] == TX_BEGIN

    @property
    def commits(self) -> int:
        return sum(1 for what, _ in self.marks() if what == TX_COMMIT)

    @property
    def output_text(self) -> str:
        """The output without the transaction marks."""
        return "".join(line + "\n" for line in self.output.splitlines()
                       if not line.startswith("@@tx-"))


ZYGOTE = r"""
import contextlib, json, os, select, signal, sys, time, traceback

import clockwf.cli, clockwf.daemon, clockwf.executor
from clockwf.store.sqlite import SqliteStore
try:
    from clockwf.store.postgres import PostgresStore
except ImportError:
    PostgresStore = None
from clockwf.cli import main


STARTED = 0.0


def mark(what):
    os.write(2, f"{what} {time.monotonic() - STARTED:.6f}\n".encode())


def traced(cls):
    original = cls.transaction

    @contextlib.contextmanager
    def transaction(self):
        mark("@@tx-begin")
        with original(self) as tx:
            yield tx
        mark("@@tx-commit")

    cls.transaction = transaction


if os.environ.get("FAULTKIT_TRACE") == "1":
    for cls in (SqliteStore, PostgresStore):
        if cls is not None:
            traced(cls)

reply = sys.stdout
print("ready", flush=True)
for line in sys.stdin:
    req = json.loads(line)
    started = STARTED = time.monotonic()
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            fd = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            os.environ.clear()
            os.environ.update(req["env"])
            code = main(req["argv"])
        except BaseException:
            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code if isinstance(code, int) else 70)
    pidfd = os.pidfd_open(pid)
    delay = req["delay"]
    ready, _, _ = select.select([pidfd], [], [], req["timeout"] if delay is None else delay)
    if not ready:
        os.kill(pid, signal.SIGKILL)   # not reaped yet, so the pid cannot have been reused
    _, status = os.waitpid(pid, 0)
    os.close(pidfd)
    reply.write(json.dumps({"code": os.waitstatus_to_exitcode(status),
                            "elapsed": time.monotonic() - started,
                            "timed_out": delay is None and not ready}) + "\n")
    reply.flush()
"""


class ForkServer:
    """Runs ``clockwf ARGS`` as forked children of a pre-imported zygote process."""

    def __init__(self, workdir: Path, *, trace: bool = True) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        env = child_env(FAULTKIT_TRACE="1" if trace else "0")
        self.proc = subprocess.Popen([sys.executable, "-c", ZYGOTE], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env,
                                     cwd=str(workdir))
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.strip() == "ready", f"the zygote did not start: {line!r}"
        self._count = 0

    def run(self, argv: Sequence[str], *, delay: float | None, env: dict[str, str],
            timeout: float = 120.0) -> Outcome:
        """Run ``clockwf argv``; SIGKILL it after ``delay`` s (None: wait up to ``timeout``)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._count += 1
        log = self.workdir / f"child-{self._count % 4}.log"
        request = {"argv": list(argv), "delay": delay, "env": env, "log": str(log),
                   "timeout": timeout}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        assert answer, "the zygote died"
        result = json.loads(answer)
        output = log.read_text(errors="replace")
        assert not result["timed_out"], f"clockwf {argv} did not finish in {timeout} s: {output}"
        return Outcome(list(argv), "fork", delay, int(result["code"]), float(result["elapsed"]),
                       output)

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def run_exec(argv: Sequence[str], *, delay: float | None, env: dict[str, str], log: Path,
             timeout: float = 120.0) -> Outcome:
    """Run ``python -m clockwf argv`` as a real process; SIGKILL it after ``delay`` s."""
    started = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "clockwf", *argv], stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                cwd=str(log.parent))
        try:
            code = proc.wait(timeout=timeout if delay is None else delay)
        except subprocess.TimeoutExpired:
            proc.kill()   # Popen does not reap before this, so the pid is still ours
            code = proc.wait()
            assert delay is not None, f"clockwf {argv} did not finish in {timeout} s"
    return Outcome(list(argv), "exec", delay, code, time.monotonic() - started,
                   log.read_text(errors="replace"))


@dataclass
class KillStats:
    """What a kill campaign did, for assertions and the report."""

    runs: int = 0
    kills: int = 0
    kills_exec: int = 0
    kills_in_transaction: int = 0
    kills_without_effect: int = 0
    completed: int = 0
    elapsed: float = 0.0
    codes: collections.Counter[int] = field(default_factory=collections.Counter)

    def record(self, outcome: Outcome, changed: bool | None = None) -> None:
        self.runs += 1
        self.codes[outcome.code] += 1
        if outcome.killed:
            self.kills += 1
            self.kills_exec += outcome.mode == "exec"
            self.kills_in_transaction += outcome.open_transaction
            if changed is False:
                self.kills_without_effect += 1
        else:
            self.completed += 1

    def summary(self) -> dict[str, Any]:
        return {"processes": self.runs, "kills": self.kills, "of which exec": self.kills_exec,
                "killed inside a write transaction": self.kills_in_transaction,
                "killed before changing anything": self.kills_without_effect,
                "ran to the end": self.completed, "exit codes": dict(self.codes),
                "seconds": round(self.elapsed, 1)}


class Delays:
    """Seeded kill delays. Half are uniform over the life of a process ([floor, 1.1 x the
    running estimate of how long an unkilled one takes]); the other half, once a traced run has
    shown where its write transactions lie, uniform over one of those windows (a few
    milliseconds either side included), so that many kills land between BEGIN and the end of
    COMMIT rather than in start-up."""

    def __init__(self, rng: random.Random, initial: float, floor: float = 0.0) -> None:
        self.rng = rng
        self.estimate = initial
        self.floor = floor
        self.windows: list[tuple[float, float]] = []

    def pick(self) -> float:
        if self.windows and self.rng.random() < 0.5:
            begin, commit = self.rng.choice(self.windows)
            return max(0.0, self.rng.uniform(begin - 0.003, commit + 0.003))
        return self.floor + self.rng.uniform(0.0, 1.1 * max(self.estimate - self.floor, 0.01))

    def learn(self, outcome: Outcome) -> None:
        if not outcome.killed:
            self.estimate = 0.7 * self.estimate + 0.3 * outcome.elapsed
        self.windows = outcome.windows() or self.windows


# -- reading a store with plain SQL ---------------------------------------------------------------


def _normal(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_z(value)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


class RawDb:
    """Plain SQL on a store, outside clockwf's store code. Placeholders are written ``?``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.pg = url.startswith(("postgresql://", "postgres://"))
        self._conn: Any = None

    def _connect(self) -> Any:
        if self._conn is None:
            if self.pg:
                import psycopg

                self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
                self._conn.execute("SET TIME ZONE 'UTC'")
            else:
                path = self.url.removeprefix("sqlite:///")
                self._conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        return self._conn

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        conn = self._connect()
        text = sql.replace("?", "%s") if self.pg else sql
        cur = conn.execute(text, tuple(params))
        if cur.description is None:
            return []
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Queries inside see one consistent state of the database (a killed client's COMMIT
        may still land on the server while a check reads)."""
        conn = self._connect()
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ" if self.pg else "BEGIN")
        try:
            yield
        finally:
            conn.execute("COMMIT")

    def tables(self) -> list[str]:
        if self.pg:
            rows = self.query("SELECT tablename AS name FROM pg_tables "
                              "WHERE schemaname = current_schema() ORDER BY 1")
        else:
            rows = self.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1")
        return [str(r["name"]) for r in rows]

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table (every namespace), in a canonical order."""
        out: dict[str, list[tuple[Any, ...]]] = {}
        for table in self.tables():
            rows = self.query(f'SELECT * FROM "{table}"')  # table names come from the catalog
            out[table] = sorted((tuple(_normal(v) for v in r.values()) for r in rows), key=repr)
        return out

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None


def ts(value: Any) -> datetime | None:
    """A stored instant as an aware UTC datetime (SQLite keeps text, PostgreSQL datetimes)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return utc(str(value))


def assert_unchanged(before: dict[str, list[tuple[Any, ...]]],
                     after: dict[str, list[tuple[Any, ...]]], what: str) -> None:
    assert before.keys() == after.keys(), f"{what}: tables changed"
    for table in before:
        assert before[table] == after[table], (
            f"{what}: table {table} changed: removed {set(before[table]) - set(after[table])}, "
            f"added {set(after[table]) - set(before[table])}")


# -- what a schedule must have done ---------------------------------------------------------------


@dataclass
class Expected:
    """Every occurrence of one published schedule from its publish instant up to a horizon."""

    workflow_id: str
    spec: ScheduleSpec
    occurrences: list[Occurrence]
    horizon: datetime
    published_at: datetime

    @classmethod
    def of(cls, text: str, published_at: datetime, horizon: datetime) -> Expected:
        report = validate_source(text, "expected.yaml", published_at, for_publish=True)
        definition = report.raise_for_errors()
        spec = ScheduleSpec.from_definition(definition)
        assert spec is not None, f"{definition.id} has no time trigger"
        occs: list[Occurrence] = []
        occ = first_after(spec, published_at)
        while occ is not None:
            occs.append(occ)
            if occ.nominal > horizon:
                break   # one beyond the horizon: where a settled schedule points
            occ = following(spec, occ)
        return cls(definition.id, spec, occs, horizon, published_at)

    def index_of(self, nominal: datetime) -> int:
        for i, occ in enumerate(self.occurrences):
            if occ.nominal == nominal:
                return i
        raise AssertionError(f"{self.workflow_id}: next_nominal_at {iso_z(nominal)} is not one "
                             "of its occurrences")


@dataclass
class ScheduleState:
    """What :func:`check_schedules` found for one schedule."""

    launched: int
    skipped: int
    position: int           # index of the next occurrence (len(occurrences) when done)


def check_schedules(db: RawDb, ns: str, expected: Iterable[Expected], *,
                    settled_at: datetime | None = None,
                    launches: Callable[[Expected, Occurrence], bool | None] | None = None,
                    ) -> dict[str, ScheduleState]:
    """Check the store's schedules, runs and skip records against ``expected``; true at every
    instant, whatever was killed when:

    - every fire key at most once, every run an occurrence of its schedule;
    - no half-written schedule: the runs and skip records of a schedule are exactly its
      occurrences before ``next_nominal_at`` (each launched or recorded skipped, never both),
      ``next_nominal_at`` / ``next_fire_at`` are exactly the occurrence after them, and
      ``last_fire_key`` is the latest launched one;
    - with ``settled_at``: no schedule behind, every occurrence due by then is processed;
    - with ``launches(expected, occ)``: whether each processed occurrence must have been
      launched (True), skipped (False) or either (None).
    """
    with db.snapshot():
        schedules = {r["workflow_id"]: r for r in db.query(
            "SELECT * FROM schedules WHERE namespace = ?", [ns])}
        run_rows = db.query("SELECT workflow_id, fire_key, scheduled_for, trigger_type "
                            "FROM runs WHERE namespace = ? "
                            "AND trigger_type IN ('recurring', 'schedule')", [ns])
        skip_rows = db.query("SELECT workflow_id, fire_key, scheduled_for, scheduled_until, "
                             "occurrences, reason FROM skipped_occurrences "
                             "WHERE namespace = ?", [ns])
    runs: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    keys: collections.Counter[str] = collections.Counter()
    for r in run_rows:
        runs[r["workflow_id"]].append(r)
        keys[r["fire_key"]] += 1
    duplicates = [k for k, n in keys.items() if n > 1]
    assert not duplicates, f"fire keys launched more than once: {duplicates[:10]}"
    skips: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for r in skip_rows:
        skips[r["workflow_id"]].append(r)

    states: dict[str, ScheduleState] = {}
    for exp in expected:
        wid = exp.workflow_id
        row = schedules.get(wid)
        assert row is not None, f"{wid}: no schedule row"
        nominal = ts(row["next_nominal_at"])
        position = len(exp.occurrences) if nominal is None else exp.index_of(nominal)
        if nominal is not None:
            nxt = exp.occurrences[position]
            assert ts(row["next_fire_at"]) == nxt.due, (
                f"{wid}: next_fire_at {row['next_fire_at']} but the occurrence at "
                f"{iso_z(nominal)} is due {iso_z(nxt.due)}")
            assert row["status"] in ("scheduled", "paused"), (wid, row["status"])
        else:
            assert row["status"] in ("completed", "missed"), (wid, row["status"])
        done = exp.occurrences[:position]
        by_key = {o.fire_key: o for o in exp.occurrences}
        launched = {r["fire_key"] for r in runs.get(wid, [])}
        strays = launched - {o.fire_key for o in done}
        assert not strays, (f"{wid}: runs for occurrences that are not before next_nominal_at "
                            f"{row['next_nominal_at']} (half-written?): {sorted(strays)[:5]}")
        for r in runs.get(wid, []):
            assert ts(r["scheduled_for"]) == by_key[r["fire_key"]].nominal, r
        not_launched = [o for o in done if o.fire_key not in launched]
        recorded = skips.get(wid, [])
        for s in recorded:
            first, until = ts(s["scheduled_for"]), ts(s["scheduled_until"])
            assert first is not None and until is not None
            assert nominal is None or until < nominal, (
                f"{wid}: skip record {s} reaches past next_nominal_at {iso_z(nominal)}")
            assert s["fire_key"] in by_key and by_key[s["fire_key"]].nominal == first, s
        covered = 0
        for occ in not_launched:
            holders = [s for s in recorded
                       if ts(s["scheduled_for"]) <= occ.nominal <= ts(s["scheduled_until"])]  # type: ignore[operator]
            assert holders, (f"{wid}: occurrence {occ.fire_key} is neither launched nor "
                             "recorded as skipped (lost)")
            covered += 1
        total = sum(int(s["occurrences"]) for s in recorded)
        assert total == covered, (f"{wid}: skip records count {total} occurrences but "
                                  f"{covered} were not launched")
        if launched:
            latest = max((by_key[k] for k in launched), key=lambda o: o.nominal)
            assert row["last_fire_key"] == latest.fire_key, (
                f"{wid}: last_fire_key {row['last_fire_key']}, latest launched "
                f"{latest.fire_key}")
        if settled_at is not None and nominal is not None:
            assert exp.occurrences[position].due > settled_at, (
                f"{wid} is behind: {iso_z(nominal)} was due by {iso_z(settled_at)}")
        if launches is not None:
            for occ in done:
                must = launches(exp, occ)
                if must is not None:
                    assert (occ.fire_key in launched) == must, (
                        f"{wid}: {occ.fire_key} {'not ' if must else ''}launched, "
                        f"kind {occ.kind}")
        states[wid] = ScheduleState(len(launched), len(not_launched), position)
    return states


def check_runs_settled(db: RawDb, ns: str, *, steps: int,
                       marker: Path | None = None) -> dict[str, int]:
    """After recovery: no run queued or running, none stuck in a step; each succeeded run ran
    every step exactly once (attempt 1), and (``marker``: lines ``<run id> <step index>``
    appended by the steps themselves) no step of any run was executed twice."""
    runs = db.query("SELECT run_id, status, error FROM runs WHERE namespace = ?", [ns])
    statuses = collections.Counter(str(r["status"]) for r in runs)
    assert set(statuses) <= {"succeeded", "interrupted"}, statuses
    for r in runs:
        if r["status"] == "interrupted":
            assert r["error"], r
    attempts = db.query("SELECT run_id, step_index, attempt, status FROM run_steps "
                        "WHERE namespace = ?", [ns])
    stuck = [a for a in attempts if a["status"] == "running"]
    assert not stuck, f"step attempts left running: {stuck[:5]}"
    by_run: dict[int, list[dict[str, Any]]] = collections.defaultdict(list)
    for a in attempts:
        by_run[int(a["run_id"])].append(a)
    for r in runs:
        if r["status"] == "succeeded":
            got = sorted((int(a["step_index"]), int(a["attempt"]), a["status"])
                         for a in by_run[int(r["run_id"])])
            assert got == [(i, 1, "succeeded") for i in range(steps)], (r, got)
    executed: collections.Counter[tuple[int, int]] = collections.Counter()
    if marker is not None and marker.exists():
        for line in marker.read_text().splitlines():
            run_id, step = line.split()
            executed[(int(run_id), int(step))] += 1
        twice = [k for k, n in executed.items() if n > 1]
        assert not twice, f"steps executed more than once: {twice[:10]}"
        for r in runs:
            if r["status"] == "succeeded":
                for i in range(steps):
                    assert executed[(int(r["run_id"]), i)] == 1, (r, i)
    return {"runs": len(runs), **{f"runs {k}": v for k, v in sorted(statuses.items())},
            "step executions": sum(executed.values())}


# -- a PostgreSQL server of our own ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_bindir() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    if candidates:
        return candidates[-1].parent
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


class PgServer:
    """A private PostgreSQL cluster in a temporary directory, on a free port. As root, initdb
    and the server run as the ``postgres`` OS user (initdb refuses root)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.base = Path(tempfile.mkdtemp(prefix="clockwf-pg-"))
        self.data = self.base / "data"
        self.logfile = self.base / "server.log"
        self.port = free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            import pwd

            user = pwd.getpwnam("postgres")
            os.chown(self.base, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-sync", "--no-instructions")

    def _run(self, tool: str, *args: str, timeout: float = 90) -> str:
        proc = subprocess.run([*self._as, str(self.bindir / tool), *args], capture_output=True,
                              text=True, timeout=timeout, check=False, cwd=str(self.base))
        assert proc.returncode == 0, f"{tool} {args} failed: {proc.stdout}{proc.stderr}"
        return proc.stdout

    def start(self) -> None:
        # fsync off is safe for a server crash (stop -m immediate): committed WAL is in the
        # page cache. synchronous_commit stays on, or a crash could lose acknowledged commits.
        options = (f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c full_page_writes=off")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-o", options,
                  "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        proc = subprocess.run([*self._as, str(self.bindir / "pg_ctl"), "-D", str(self.data),
                               "status"], capture_output=True, text=True, check=False)
        return proc.returncode == 0

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # a name the test made up
        return self.url(name)

    def cleanup(self) -> None:
        if self.running():
            try:
                self.stop("immediate")
            except AssertionError:
                pass
        shutil.rmtree(self.base, ignore_errors=True)
