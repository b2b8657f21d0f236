"""Leases are read on the database's clock: a host whose clock runs ahead by more than the
lease does not mark another host's healthy runs ``interrupted``.

The second daemon runs under Debian's ``faketime`` (libfaketime, LD_PRELOAD: its Python reads
a wall clock 10 minutes ahead); both daemons share one PostgreSQL server, the one clock that
decides. (A SQLite file lives on one host, whose processes share one clock.)
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from clockwf.store import Store

from .executor_support import kill_group, publish_def, read_int, run_row, start, wait_for
from .process_support import clockwf_process, stop_process

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

