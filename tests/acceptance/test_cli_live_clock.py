"""A rehearsal clock never leaks into live work (real subprocesses).

CLOCKWF_NOW is the environment twin of --now, for rehearsals (tick, next, simulate, explain).
Exported in a shell, it must not make `run`, `status`, `daemon` or `worker` stamp, judge or
execute work at a fake instant: they refuse it (exit 2) and touch nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .cli_support import ROOT, Clockwf, Result

EXAMPLES = sorted(str(p) for p in (ROOT / "examples").glob("*.yaml"))
PUBLISHED = "2027-03-13T12:00:00Z"
REHEARSAL = "2027-03-13T13:01:00Z"


def run_with_env(*args: str, env: dict[str, str], timeout: float = 60) -> Result:
    """``clockwf ARGS`` with only these CLOCKWF_ variables in its environment."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("CLOCKWF_")}
    full["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), full.get("PYTHONPATH")]))
    full.update(env)
    proc = subprocess.run([sys.executable, "-m", "clockwf", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=timeout, env=full, check=False)
    return Result(proc)


@pytest.fixture
def db(tmp_path: Path, clockwf: Clockwf) -> str:
    path = str(tmp_path / "clockwf.db")
    assert clockwf("publish", "--db", path, "--now", PUBLISHED, *EXAMPLES).code == 0
    return path


LIVE = {
    "run": ["run", "manual-cleanup", "--wait"],
    "run with --now": ["run", "manual-cleanup", "--now", REHEARSAL],
    "status": ["status", "--format", "json"],
    "daemon": ["daemon", "--exit-when-idle", "--run-for", "20s"],
    "worker": ["worker"],
}


@pytest.mark.parametrize("argv", LIVE.values(), ids=LIVE.keys())
def test_live_commands_refuse_an_exported_rehearsal_clock(clockwf: Clockwf, db: str,
                                                          argv: list[str]) -> None:
    command = argv[0]
    refused = run_with_env(*argv, "--db", db, env={"CLOCKWF_NOW": REHEARSAL})
    assert refused.code == 2, (refused.out, refused.err)
    assert "CLOCKWF_NOW" in refused.err and f"clockwf {command}" in refused.err
    assert "unset" in refused.err and refused.out == ""
    # Nothing happened: no run started, no daemon or worker registered itself.
    assert clockwf("runs", "--db", db, "--format", "json").json()["runs"] == []
    status = clockwf("status", "--db", db, "--format", "json", "--now", REHEARSAL).json()
    assert status["daemons"] == []


def test_run_and_status_still_take_now_on_their_command_line(clockwf: Clockwf, db: str) -> None:
    started = clockwf("run", "manual-cleanup", "--db", db, "--now", REHEARSAL, "--format", "json")
    assert started.code == 0, started.err
    status = clockwf("status", "--db", db, "--now", REHEARSAL, "--format", "json")
    assert status.code in (0, 1) and status.json()["runs"]["queued"] == 1
    assert status.json()["now"] == REHEARSAL


def test_rehearsal_commands_keep_the_exported_clock(db: str) -> None:
    env = {"CLOCKWF_NOW": REHEARSAL}
    ticked = run_with_env("tick", "--db", db, "--format", "json", env=env)
    assert ticked.code == 0, ticked.err
    assert ticked.json()["now"].startswith("2027-03-13T13:01")
    assert "recurring:heartbeat:2027-03-13T13:00:00Z" in {
        e["fire_key"] for e in ticked.json()["launched"]}
    nxt = run_with_env("next", "--cron", "0 * * * *", "-n", "1", "--format", "json", env=env)
    assert nxt.code == 0, nxt.err
    assert "2027-03-13T14:00:00" in nxt.out
    explained = run_with_env("explain", "heartbeat", "--at", "2027-03-13T13:00",
                             "--db", db, env=env)
    assert explained.code == 0, explained.err
