"""Store outages (docs/design.md §10): "a store that is unreachable or locked gets a clear message and exit 3
from the CLI, and a retry with backoff in the daemon, which then catches up by policy".

- PostgreSQL stopped under a running daemon (a server of the test's own, initdb + pg_ctl in a
  temporary directory) and started again: the daemon keeps running, logs the outage, reconnects
  and launches the occurrence that came during the outage, once, by its catch-up policy.
- SQLite locked by another process (holding BEGIN IMMEDIATE) longer than the busy timeout: the
  CLI exits 3 naming the file; the daemon backs off and catches up once the lock is released.
- SQLite file read-only: exit 3 with a clear message, nothing changed, nothing lost.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.pg_support import require_pg
from tests.integration.process_support import SQLITE_LOCK_HOLDER, terminate

from .faultkit import PgServer, RawDb, assert_unchanged, child_env, iso_z, pg_bindir, ts, wait_for

pytestmark = pytest.mark.slow


def clockwf(*args: str, env: dict[str, str] | None = None,
            prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*(prefix or []), sys.executable, "-m", "clockwf", *args],
                          capture_output=True, text=True, timeout=120, check=False,
                          env=env or child_env())
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def one_time(wid: str, run_at: datetime, catchup: str) -> str:
    return (f"id: {wid}\ntrigger:\n  type: schedule\n  run_at: '{iso_z(run_at)}'\n"
            f"policy:\n  catchup: {catchup}\n  grace: 1s\n  catchup_window: 1h\n"
            "steps:\n  - run: 'true'\n")


class DaemonProcess:
    """``clockwf daemon --log-format json`` as a real process, its log in a file."""

    def __init__(self, tmp: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.log_path = tmp / "daemon.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "clockwf", "daemon", "--log-format", "json", *args],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env or child_env(), cwd=str(tmp))

    def records(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def actions(self) -> list[str]:
        return [str(r.get("action")) for r in self.records()]

    def wait_action(self, action: str, timeout: float, after: int = 0) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            assert self.proc.poll() is None, f"the daemon died:\n{self.log_path.read_text()}"
            hits = [r for r in self.records()[after:] if r.get("action") == action]
            return hits[0] if hits else None

        return dict(wait_for(found, timeout, f"the daemon to log {action}"))

    def stop(self) -> int:
        code = terminate(self.proc)
        self._log.close()
        assert "Traceback" not in self.log_path.read_text(), self.log_path.read_text()
        return code


def runs_of(db: RawDb, ns: str) -> list[dict[str, Any]]:
    return db.query("SELECT * FROM runs WHERE namespace = ? ORDER BY run_id", [ns])


# -- PostgreSQL stopped and started again ---------------------------------------------------------


@pytest.fixture
def pg_server() -> Iterator[PgServer]:
    bindir = pg_bindir()
    if bindir is None or not (bindir / "initdb").exists():
        require_pg("initdb and pg_ctl were not found (/usr/lib/postgresql/*/bin)")
    assert bindir is not None
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        require_pg("running as root without runuser to start PostgreSQL as postgres")
    server = PgServer(bindir)
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.mark.postgres
@pytest.mark.parametrize("stop_mode", ["fast", "immediate"])
def test_postgresql_restarted_under_a_running_daemon(pg_server: PgServer, tmp_path: Path,
                                                     stop_mode: str) -> None:
    url = pg_server.create_database("clockwf_outage")
    ns = "outage"
    assert clockwf("db", "upgrade", "--db", url).returncode == 0
    daemon = DaemonProcess(tmp_path, "--db", url, "--namespace", ns, "--workers", "2",
                           "--lease", "3s")
    db = RawDb(url)
    try:
        daemon.wait_action("daemon.started", 30)
        wait_for(lambda: db.query("SELECT 1 FROM daemons WHERE namespace = ?", [ns]), 30,
                 "the daemon's first heartbeat")
        db.close()
        # Two one-time schedules due a few seconds from now, then the server goes away.
        fire_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)
        files = []
        for wid, catchup in (("late-latest", "latest"), ("late-none", "none")):
            path = tmp_path / f"{wid}.yaml"
            path.write_text(one_time(wid, fire_at, catchup))
            files.append(str(path))
        published = clockwf("publish", "--db", url, "--namespace", ns, *files)
        assert published.returncode == 0, published.stderr
        pg_server.stop(stop_mode)
        down_at = datetime.now(UTC)
        assert down_at < fire_at, "the server went down too late for this test"

        # Down past the fire time and its 1 s grace: the daemon keeps running and says so,
        # within a couple of seconds (not after waiting out a connection pool's timeout).
        first = daemon.wait_action("store.unavailable", 30)
        assert first["level"] == "error" and "cannot reach PostgreSQL" in first["message"]
        detected = (ts(first["ts"]) - down_at).total_seconds()  # type: ignore[operator]
        assert detected < 5, f"the outage was reported {detected:.1f} s after it began"
        wait_for(lambda: datetime.now(UTC) > fire_at + timedelta(seconds=3), 30,
                 "the fire time to pass")
        assert daemon.proc.poll() is None
        outages = [r for r in daemon.records() if r.get("action") == "store.unavailable"]
        assert len(outages) >= 2
        retries = [r["retry_in"] for r in outages]
        assert retries == sorted(retries) and retries[-1] > retries[0]   # backing off
        with pytest.raises(Exception):   # noqa: B017 - really down: any driver error
            RawDb(url).query("SELECT 1")

        pg_server.start()
        up_at = datetime.now(UTC)
        recovered = daemon.wait_action("store.recovered", 60)
        assert recovered["outage_s"] > 3
        # Back at the daemon's next retry, whatever the connection pool's own backoff.
        latency = (ts(recovered["ts"]) - up_at).total_seconds()  # type: ignore[operator]
        backoff = max(r["retry_in"] for r in daemon.records()
                      if r.get("action") == "store.unavailable")
        assert latency < backoff + 5, f"recovered {latency:.1f} s after the server came back"
        print(f"\n[outage] PostgreSQL stop -m {stop_mode}: reported after {detected:.1f} s, "
              f"ticking again {latency:.1f} s after the restart (backoff {backoff:.0f} s)")
        run = wait_for(lambda: [r for r in runs_of(db, ns) if r["status"] == "succeeded"], 60,
                       "the caught-up run to succeed")[0]
        assert run["workflow_id"] == "late-latest"
        assert run["fire_key"] == f"schedule:late-latest:{fire_at:%Y-%m-%dT%H:%M:%SZ}"
        assert json.loads(run["metadata"])["catchup"] is True
        created = ts(run["created_at"])
        assert created is not None and created > fire_at + timedelta(seconds=1)

        # catchup: none: recorded missed, not launched.
        missed = db.query("SELECT status, status_reason FROM schedules WHERE namespace = ? "
                          "AND workflow_id = 'late-none'", [ns])[0]
        assert missed["status"] == "missed" and "catchup: none" in missed["status_reason"]
        skips = db.query("SELECT reason FROM skipped_occurrences WHERE namespace = ?", [ns])
        assert [s["reason"] for s in skips] == ["missed"]
        assert daemon.proc.poll() is None   # the same process all along
    finally:
        code = daemon.stop()
        db.close()
    assert code == 0
    # --log-format json means JSON lines only, library messages included (no bare text).
    lines = [line for line in daemon.log_path.read_text().splitlines() if line.strip()]
    assert lines and all(line.startswith("{") for line in lines), [
        line for line in lines if not line.startswith("{")][:3]
    final = RawDb(url)
    try:
        runs = runs_of(final, ns)
        assert len(runs) == 1, runs      # nothing twice
        assert {r["status"] for r in runs} == {"succeeded"}
    finally:
        final.close()


# -- SQLite locked by another process ---------------------------------------------------------


class LockHolder:
    """Another process holding the SQLite write lock (BEGIN IMMEDIATE) until released."""

    def __init__(self, path: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", SQLITE_LOCK_HOLDER, str(path)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "locked"

    def release(self) -> None:
        if self.proc.poll() is None:
            out, _ = self.proc.communicate("go\n", timeout=30)
            assert "released" in out


def sqlite_with(tmp_path: Path, wid: str, cron: str, now: datetime) -> Path:
    """A SQLite store (``clockwf.db`` in ``tmp_path``) where ``clockwf publish --now NOW``
    published one recurring workflow ``wid``."""
    path = tmp_path / "clockwf.db"
    spec = tmp_path / f"{wid}.yaml"
    spec.write_text(f"id: {wid}\ntrigger: {{type: recurring, cron: '{cron}'}}\n"
                    "steps:\n  - run: 'true'\n")
    assert clockwf("publish", "--db", str(path), "--now", iso_z(now), str(spec)).returncode == 0
    return path


def test_sqlite_locked_cli_exits_3_naming_the_file(tmp_path: Path) -> None:
    t0 = datetime(2030, 1, 1, tzinfo=UTC)
    path = sqlite_with(tmp_path, "hourly", "0 * * * *", t0)
    other = tmp_path / "other.yaml"
    other.write_text("id: other\nsteps:\n  - run: 'true'\n")
    env = child_env(CLOCKWF_BUSY_TIMEOUT_MS="300")
    db = RawDb(str(path))
    before = db.dump()
    holder = LockHolder(path)
    try:
        later = iso_z(t0 + timedelta(hours=3, minutes=5))
        for args in (["tick", "--now", later], ["publish", "--now", later, str(other)],
                     ["pause", "hourly"], ["run", "hourly"], ["emit", "anything"]):
            result = clockwf(*args, "--db", str(path), env=env)
            assert result.returncode == 3, (args, result.stdout, result.stderr)
            assert result.stderr.strip() == (f"error: the store {path} is locked by another "
                                             "process (waited 0.3 s)"), (args, result.stderr)
        # Reads still work (WAL), and nothing changed.
        listed = clockwf("list", "--db", str(path), "--format", "json", env=env)
        assert listed.returncode == 0 and listed.stdout.count('"workflow_id"') == 1
        assert_unchanged(before, db.dump(), "commands refused by a locked store")
    finally:
        holder.release()
    # Released: the missed hours are caught up by policy (latest: one run, two coalesced).
    result = clockwf("tick", "--db", str(path), "--now", iso_z(t0 + timedelta(hours=3,
                                                                                minutes=5)),
                     "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    tick = json.loads(result.stdout)
    assert [e["fire_key"] for e in tick["launched"]] == ["recurring:hourly:2030-01-01T03:00:00Z"]
    assert [e["reason"] for e in tick["skipped"]] == ["coalesced"]
    db.close()


def test_sqlite_locked_daemon_backs_off_and_catches_up(tmp_path: Path) -> None:
    path = tmp_path / "clockwf.db"
    env = child_env(CLOCKWF_BUSY_TIMEOUT_MS="300")
    assert clockwf("db", "upgrade", "--db", str(path), env=env).returncode == 0
    daemon = DaemonProcess(tmp_path, "--db", str(path), "--workers", "1", env=env)
    db = RawDb(str(path))
    holder: LockHolder | None = None
    try:
        daemon.wait_action("daemon.started", 30)
        wait_for(lambda: db.query("SELECT 1 FROM daemons"), 30, "the first heartbeat")
        fire_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
        spec = tmp_path / "soon.yaml"
        spec.write_text(one_time("soon", fire_at, "latest"))
        assert clockwf("publish", "--db", str(path), str(spec), env=env).returncode == 0
        holder = LockHolder(path)
        assert datetime.now(UTC) < fire_at, "locked too late for this test"
        first = daemon.wait_action("store.unavailable", 30)
        assert first["message"].startswith(f"store unavailable: the store {path} is locked "
                                           "by another process (waited 0.3 s)")
        wait_for(lambda: datetime.now(UTC) > fire_at + timedelta(seconds=3), 30,
                 "the fire time to pass while locked")
        outages = [r for r in daemon.records() if r.get("action") == "store.unavailable"]
        assert len(outages) >= 2 and outages[-1]["retry_in"] > outages[0]["retry_in"]
        assert runs_of(db, "default") == []     # nothing could be written meanwhile
        holder.release()
        daemon.wait_action("store.recovered", 60)
        run = wait_for(lambda: [r for r in runs_of(db, "default")
                                if r["status"] == "succeeded"], 60, "the caught-up run")[0]
        assert json.loads(run["metadata"])["catchup"] is True
        assert ts(run["created_at"]) > fire_at + timedelta(seconds=1)  # type: ignore[operator]
    finally:
        if holder is not None:
            holder.release()
        code = daemon.stop()
    assert code == 0
    assert len(runs_of(db, "default")) == 1
    db.close()


# -- SQLite file read-only ----------------------------------------------------------------------


def _unprivileged() -> list[str]:
    """A command prefix that makes root obey file modes (as test_store_errors.py does)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    assert setpriv is not None, "running as root without setpriv (util-linux)"
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search,-fowner"]


def test_sqlite_read_only_exits_3_and_loses_nothing(tmp_path: Path) -> None:
    t0 = datetime(2030, 1, 1, tzinfo=UTC)
    path = sqlite_with(tmp_path, "daily", "0 6 * * *", t0)
    db = RawDb(str(path))
    before = db.dump()
    db.close()
    later = iso_z(t0 + timedelta(hours=6, seconds=30))
    prefix = _unprivileged()
    path.chmod(0o444)
    try:
        for args in (["tick", "--now", later], ["pause", "daily"], ["run", "daily"]):
            result = clockwf(*args, "--db", str(path), prefix=prefix)
            assert result.returncode == 3, (args, result.stdout, result.stderr)
            assert result.stderr.strip() == (
                f"error: the store {path} is read-only: clockwf needs write access to the "
                "file and to its directory (SQLite writes -wal and -shm files beside it)"), (
                args, result.stderr)
    finally:
        path.chmod(0o644)
    db = RawDb(str(path))
    assert_unchanged(before, db.dump(), "commands refused by a read-only store")
    # Writable again: the occurrence that came meanwhile is launched, on time (grace 1m).
    result = clockwf("tick", "--db", str(path), "--now", later, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert [e["fire_key"] for e in json.loads(result.stdout)["launched"]] == [
        "recurring:daily:2030-01-01T06:00:00Z"]
    again = clockwf("tick", "--db", str(path), "--now", later, "--format", "json")
    assert json.loads(again.stdout)["launched"] == []
    db.close()
