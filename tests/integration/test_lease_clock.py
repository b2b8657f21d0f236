"""Leases and heartbeats are read on the database's clock: a host whose clock runs ahead by
more than the lease does not mark another host's healthy runs ``interrupted``, and ``clockwf
status`` there does not call a live daemon stale.

The process ahead runs under Debian's ``faketime`` (libfaketime, LD_PRELOAD: its Python reads
a wall clock 10 minutes ahead); the daemons share one PostgreSQL server, the one clock that
decides. (A SQLite file lives on one host, whose processes share one clock.)
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from clockwf.monitor import Health, health
from clockwf.store import Store

from .executor_support import kill_group, publish_def, read_int, run_row, start, wait_for
from .process_support import ROOT, clockwf_process, stop_process

AHEAD = ["-f", "+10m"]   # far more than the 3 s lease
ONLY_PG = [pytest.param("postgresql", marks=pytest.mark.postgres)]


def _faketime() -> str:
    path = shutil.which("faketime")
    assert path is not None, "faketime is needed (Debian package faketime; .ci/run installs it)"
    return path


@pytest.mark.parametrize("backend", ONLY_PG, indirect=True)
def test_a_daemon_whose_clock_runs_ahead_interrupts_no_healthy_run(
        store: Store, store_url: str, tmp_path: Path) -> None:
    faketime = _faketime()
    probe = subprocess.run([faketime, *AHEAD, "python3", "-c",
                            "import time; print(int(time.time()))"],
                           capture_output=True, text=True, check=True)
    assert int(probe.stdout) > int(subprocess.run(
        ["date", "+%s"], capture_output=True, text=True, check=True).stdout) + 500
    hold = start(store, publish_def(store, [{
        "run": f"echo $$ > {tmp_path}/pgid; i=0; "
               f"while [ ! -e {tmp_path}/go ] && [ $i -lt 1200 ]; "
               "do sleep 0.05; i=$((i+1)); done"}]))
    args = ["daemon", "--db", store_url, "--namespace", store.ns, "--workers", "1",
            "--lease", "3s", "--max-sleep", "1s"]
    first = clockwf_process(args)
    ahead: subprocess.Popen[str] | None = None
    pgid = None
    try:
        pgid = wait_for("the first daemon to start the step",
                        lambda: read_int(tmp_path / "pgid"), timeout=30)
        owner = run_row(store, hold)["lease_owner"]
        ahead = clockwf_process(args, prefix=[faketime, *AHEAD])
        # The first daemon's only worker is busy: the one ahead runs the probe, and has
        # swept for expired leases before it claimed it (its claim loop sweeps first).
        probe_run = start(store, publish_def(store, [{"run": "true"}]))
        done = wait_for("the daemon ahead to run the probe",
                        lambda: (row := run_row(store, probe_run))["status"] == "succeeded"
                        and row, timeout=30)
        assert done["lease_owner"] != owner
        row = run_row(store, hold)
        assert (row["status"], row["lease_owner"]) == ("running", owner), row
        (tmp_path / "go").touch()
        row = wait_for("the held run to finish",
                       lambda: (r := run_row(store, hold))["status"] != "running" and r,
                       timeout=30)
        assert row["status"] == "succeeded", row
    finally:
        errors = [stop_process(p) for p in (first, ahead) if p is not None]
        kill_group(pgid)
    assert all("lease.expired" not in err for err in errors), errors


def _status(store_url: str, ns: str, *, prefix: list[str]) -> tuple[int, dict[str, Any]]:
    """``clockwf status --format json`` as a process of its own (``prefix``: faketime); its
    exit code and document."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOCKWF_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run([*prefix, sys.executable, "-m", "clockwf", "status", "--db", store_url,
                           "--namespace", ns, "--format", "json"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def _age_daemons(store_url: str, ns: str, by: timedelta,
                 columns: tuple[str, ...] = ("heartbeat_at", "ticked_at")) -> None:
    """Move the namespace's daemon ``columns`` back by ``by``, with SQL on the database."""
    if store_url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(store_url, autocommit=True) as conn:
            for column in columns:
                conn.execute(f"UPDATE daemons SET {column} = {column} - %s "
                             "WHERE namespace = %s", (by, ns))
        return
    # UTCTIME is fixed-width text, YYYY-MM-DDTHH:MM:SS.ffffffZ: shift the seconds part.
    with sqlite3.connect(store_url) as conn:
        for column in columns:
            conn.execute(f"UPDATE daemons SET {column} = strftime('%Y-%m-%dT%H:%M:%S', "
                         f"substr({column}, 1, 19), ?) || substr({column}, 20) "
                         "WHERE namespace = ?", (f"-{int(by.total_seconds())} seconds", ns))
    conn.close()


def test_status_reads_heartbeat_ages_on_the_database_clock(
        store: Store, store_url: str, backend: str) -> None:
    """``clockwf status`` on a host whose clock runs 10 minutes ahead still sees the daemon that
    just heartbeated, and sees one whose heartbeat is an hour old on the database's clock as
    stale, whatever the clocks of the hosts say (design.md §8.2, §9).

    On SQLite the database's clock is the clock of the host the file is on, read by each
    process that opens it (faketime changes it for that process alone), so there the fresh
    heartbeat is read by a status process on the host's own clock."""
    ahead = [_faketime(), *AHEAD]
    daemon = clockwf_process(["daemon", "--db", store_url, "--namespace", store.ns,
                              "--no-execute", "--max-sleep", "1s"])
    try:
        def ticked() -> bool:
            with store.read() as tx:
                return any(d["last_tick_at"] for d in tx.list_daemons())

        wait_for("the daemon's first tick", ticked, timeout=30)
        code, fresh = _status(store_url, store.ns,
                              prefix=ahead if backend == "postgresql" else [])
    finally:
        err = stop_process(daemon)       # SIGKILL: its row stays as a live daemon left it
    assert (code, fresh["problems"]) == (0, []), (fresh, err)
    [seen] = fresh["daemons"]
    assert seen["stopped_at"] is None and seen["heartbeat_age_s"] >= 0
    if backend == "postgresql":       # the status process did run ahead of the heartbeat
        ran_at = datetime.fromisoformat(fresh["now"].replace("Z", "+00:00"))
        heartbeat = datetime.fromisoformat(seen["heartbeat_at"].replace("Z", "+00:00"))
        assert ran_at - heartbeat > timedelta(minutes=9)

    _age_daemons(store_url, store.ns, timedelta(hours=1))
    for prefix in ([], ahead):
        code, stale = _status(store_url, store.ns, prefix=prefix)
        assert code == 1, stale
        [problem] = stale["problems"]
        assert problem.startswith("no daemon has ticked within 5m (last tick "), problem
        assert "reported 1h" in problem and "ago on the database's clock" in problem
        assert stale["daemons"][0]["heartbeat_age_s"] >= 3600
        assert stale["daemons"][0]["tick_age_s"] >= 3600


def test_a_daemon_that_heartbeats_without_ticking_is_stale(
        store: Store, store_url: str) -> None:
    """A daemon whose ticks fail keeps heartbeating while it backs off, reporting the same
    last tick: its fresh heartbeat does not make it a ticking daemon. The tick's age is
    ``ticked_at``, stamped on the database's clock by the heartbeat that first reports a new
    tick (docs/design.md §9), and a new tick makes it live again."""
    first = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
    now = datetime.now(UTC)

    def beat(last_tick_at: datetime | None) -> Health:
        with store.transaction() as tx:
            tx.heartbeat(instance_id="host:1", hostname="host", pid=1, role="daemon",
                         version="test", started_at=first, last_tick_at=last_tick_at,
                         status=None)
        return health(store, now, overdue_after=timedelta(minutes=5),
                      stale_after=timedelta(minutes=5))

    never = beat(None)
    assert never.problems == ["no daemon has ticked within 5m (no daemon has ever ticked)"]
    assert beat(first).problems == []
    _age_daemons(store_url, store.ns, timedelta(hours=1), columns=("ticked_at",))
    failing = beat(first)                   # the same last tick: a heartbeat while backing off
    [problem] = failing.problems
    assert problem.startswith("no daemon has ticked within 5m (last tick 2027-01-04T09:00:00Z, "
                              "reported 1h"), problem
    ages = failing.as_json()["daemons"][0]
    assert ages["tick_age_s"] >= 3600 > ages["heartbeat_age_s"], ages
    [still] = beat(None).problems                # a beat without a tick keeps the stored one
    assert still.startswith("no daemon has ticked within 5m (last tick 2027-01-04T09:00:00Z, "
                            "reported 1h"), still
    assert beat(first + timedelta(minutes=1)).problems == []
