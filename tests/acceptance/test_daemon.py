"""The daemon as a real process: on-time launches, wake-up on publish, sd_notify over a real
datagram socket, a clean stop on SIGTERM (docs/design.md §9)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.integration.executor_support import wait_for
from tests.integration.process_support import NotifyListener

from .cli_support import ROOT, Clockwf


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOCKWF_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["CLOCKWF_DB"] = str(tmp / "clockwf.db")
    env.update(extra)
    return env


def _runs(clockwf: Clockwf, db: Path) -> list[dict]:  # type: ignore[type-arg]
    result = clockwf("runs", "--db", str(db), "--format", "json")
    assert result.code == 0, result.err
    return list(result.json()["runs"])


@pytest.fixture
def notify(tmp_path: Path):  # type: ignore[no-untyped-def]
    listener = NotifyListener(tmp_path / "notify.sock")
    yield listener
    listener.close()


def test_daemon_launches_on_time_wakes_on_publish_notifies_and_stops(
        tmp_path: Path, clockwf: Clockwf, notify: NotifyListener) -> None:
    db = tmp_path / "clockwf.db"
    minutely = tmp_path / "minutely.yaml"
    minutely.write_text("id: minutely\ntrigger: {type: recurring, cron: '* * * * *'}\n"
                        "steps:\n  - run: 'true'\n")
    assert clockwf("publish", "--db", str(db), str(minutely)).code == 0

    proc = subprocess.Popen(
        [sys.executable, "-m", "clockwf", "daemon", "--no-execute", "--max-sleep", "60s",
         "--log-format", "json"],
        env=_env(tmp_path, NOTIFY_SOCKET=str(notify.path), WATCHDOG_USEC="2000000"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        wait_for("READY=1", lambda: "READY=1" in notify.seen(), timeout=30)
        assert any(m.startswith("STATUS=") for m in notify.seen())

        # The once-a-minute job: launched at its minute, not a max-sleep later.
        run = wait_for("the first minutely run", lambda: _runs(clockwf, db), timeout=75)[0]
        created = datetime.fromisoformat(run["created_at"].replace("Z", "+00:00"))
        scheduled = datetime.fromisoformat(run["scheduled_for"])
        assert scheduled.second == 0 and scheduled.microsecond == 0
        assert timedelta(0) <= created - scheduled < timedelta(seconds=5), (created, scheduled)
        assert run["fire_key"] == ("recurring:minutely:"
                                   + scheduled.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))

        # A publish wakes the sleeping daemon: a one-time job 3 s from now is launched on time
        # although the daemon went to sleep until the next minute.
        at = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
        once = tmp_path / "once.yaml"
        once.write_text(f"id: once\ntrigger: {{type: schedule, run_at: '{at.isoformat()}'}}\n"
                        "steps:\n  - run: 'true'\n")
        assert clockwf("publish", "--db", str(db), str(once)).code == 0
        first_once = wait_for("the one-time run", lambda: [
            r for r in _runs(clockwf, db) if r["workflow_id"] == "once"], timeout=20)[0]
        lag = (datetime.fromisoformat(first_once["created_at"].replace("Z", "+00:00")) - at)
        assert timedelta(0) <= lag < timedelta(seconds=3), lag

        assert "WATCHDOG=1" in notify.seen()

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        wait_for("STOPPING=1", lambda: "STOPPING=1" in notify.seen(), timeout=5)
        stderr = proc.stderr.read() if proc.stderr else ""
        actions = [json.loads(line).get("action") for line in stderr.splitlines()
                   if line.startswith("{")]
        assert "daemon.started" in actions and "daemon.signal" in actions
        assert "daemon.stopped" in actions and "launch.created" in actions
        status = clockwf("status", "--db", str(db), "--format", "json")
        daemons = status.json()["daemons"]
        assert len(daemons) == 1 and daemons[0]["stopped_at"] is not None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
            print(proc.stderr.read() if proc.stderr else "")
