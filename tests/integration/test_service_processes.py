"""``clockwf daemon`` and ``clockwf worker`` share one process lifecycle: real processes, real
signals, a real notify socket. A first SIGTERM drains within --grace (systemd is told
STOPPING=1 and how long to wait, and the watchdog is kept); a second one stops at once, the
run ending ``interrupted`` as a lost lease would."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from clockwf.store import Store

from .executor_support import kill_group, publish_def, read_int, run_row, start, wait_for
from .process_support import NotifyListener, clockwf_process, log_actions, stop_process

WATCHDOG_USEC = "1000000"     # the process must send WATCHDOG=1 every 0.5 s
COMMANDS = {
    "daemon": ["daemon", "--workers", "1", "--lease", "3s", "--grace", "120s",
               "--max-sleep", "1s"],
    "worker": ["worker", "--workers", "1", "--lease", "3s", "--grace", "120s"],
}


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifyListener]:
    listener = NotifyListener(tmp_path / "notify.sock")
    yield listener
    listener.close()


def _hold(tmp_path: Path) -> list[dict[str, str]]:
    """A step that says it started and waits (at most a minute) for the file ``go``."""
    return [{"run": f"echo $$ > {tmp_path}/pgid; i=0; "
                    f"while [ ! -e {tmp_path}/go ] && [ $i -lt 1200 ]; "
                    "do sleep 0.05; i=$((i+1)); done"}]


@dataclass
class Service:
    proc: subprocess.Popen[str]
    run_id: int
    err: str = ""    # its stderr, once stopped


@contextmanager
def service_on_step(command: str, store: Store, store_url: str, notify: NotifyListener,
                    tmp_path: Path) -> Iterator[Service]:
    """``clockwf COMMAND`` as a service, once it runs a step that holds (:func:`_hold`);
    killed at the end if still there, with the step's process group."""
    run_id = start(store, publish_def(store, _hold(tmp_path)))
    proc = clockwf_process([*COMMANDS[command], "--db", store_url, "--namespace", store.ns],
                           NOTIFY_SOCKET=str(notify.path), WATCHDOG_USEC=WATCHDOG_USEC)
    service = Service(proc, run_id)
    pgid = None
    try:
        wait_for("READY=1", lambda: "READY=1" in notify.seen(), timeout=30)
        pgid = wait_for("the step to start", lambda: read_int(tmp_path / "pgid"), timeout=30)
        yield service
    finally:
        service.err = stop_process(proc)
        kill_group(pgid)


@pytest.mark.parametrize("command", ["daemon", "worker"])
def test_first_signal_drains_within_the_grace(command: str, store: Store, store_url: str,
                                              notify: NotifyListener, tmp_path: Path) -> None:
    with service_on_step(command, store, store_url, notify, tmp_path) as service:
        proc, run_id = service.proc, service.run_id
        assert any(m.startswith("STATUS=") for m in notify.seen())
        wait_for("WATCHDOG=1", lambda: notify.count("WATCHDOG=1") >= 2)
        proc.send_signal(signal.SIGTERM)
        wait_for("STOPPING=1", lambda: "STOPPING=1" in notify.seen())
        # draining: systemd is asked to wait for the grace period, the watchdog goes on
        extend = wait_for("EXTEND_TIMEOUT_USEC", lambda: [
            m for m in notify.seen() if m.startswith("EXTEND_TIMEOUT_USEC=")])
        assert int(extend[0].split("=")[1]) > 100_000_000   # the 120 s grace, and more
        beats = notify.count("WATCHDOG=1")
        wait_for("WATCHDOG=1 while draining", lambda: notify.count("WATCHDOG=1") > beats + 1)
        assert proc.poll() is None and run_row(store, run_id)["status"] == "running"
        (tmp_path / "go").touch()     # the step finishes within the grace
        assert proc.wait(timeout=60) == 0
    assert run_row(store, run_id)["status"] == "succeeded", service.err
    actions = log_actions(service.err)
    assert f"{command}.signal" in actions and f"{command}.stopped" in actions
    assert f"{command}.hurry" not in actions
    with store.read() as tx:
        [me] = tx.list_daemons()
    assert me["stopped_at"] is not None
    assert me["role"] == command


@pytest.mark.parametrize("command", ["daemon", "worker"])
def test_second_signal_stops_now(command: str, store: Store, store_url: str,
                                 notify: NotifyListener, tmp_path: Path) -> None:
    with service_on_step(command, store, store_url, notify, tmp_path) as service:
        proc = service.proc
        proc.send_signal(signal.SIGTERM)
        wait_for("STOPPING=1", lambda: "STOPPING=1" in notify.seen())
        assert proc.poll() is None     # draining within the 120 s grace
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0   # far sooner than the grace period
    row = run_row(store, service.run_id)
    assert row["status"] == "interrupted", service.err
    assert "second signal" in row["error"]
    actions = log_actions(service.err)
    assert f"{command}.hurry" in actions and f"{command}.stopped" in actions
    assert "executor.killing" in actions
