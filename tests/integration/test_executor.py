"""The executor against real stores (SQLite and PostgreSQL), real processes and real signals:
run steps, output, payload handling, timeouts, retries, cancels, leases, stop and the
foreground ``execute``."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from clockwf import runs
from clockwf.executor import Executor, backoff_delay
from clockwf.launcher import run_payload
from clockwf.scheduler import tick
from clockwf.store import Store

from .executor_support import (
    attempts,
    become_subreaper,
    group_gone,
    kill_group,
    make_executor,
    publish_def,
    read_int,
    run_row,
    start,
    status_is,
    wait_for,
)


@pytest.fixture
def executors(store: Store) -> Iterator[Callable[..., Executor]]:
    """Makes executors on the store under test; stops them all at the end."""
    made: list[Executor] = []

    def make(**kwargs: Any) -> Executor:
        ex = make_executor(store, **kwargs)
        made.append(ex)
        return ex

    yield make
    for ex in made:
        ex.stop(0)


@pytest.fixture
def subreaper() -> bool:
    return become_subreaper()


class Gate:
    """A step that marks that it started (``started`` in ``where``) and holds until the test
    opens the gate (creates ``go``)."""

    def __init__(self, where: Path, started: str = "started") -> None:
        self.started = where / started
        self.go = where / "go"

    def step(self, **extra: str) -> dict[str, str]:
        return {**extra, "run": f"touch {self.started}; "
                                f"while [ ! -e {self.go} ]; do sleep 0.02; done"}

    def wait_started(self, what: str = "the step to start") -> None:
        wait_for(what, self.started.exists)

    def hold(self, store: Store, ex: Executor, *after: dict[str, str], **first: str) -> int:
        """Start a run of this step (then ``after``) on ``ex``: its id, once the step runs."""
        run_id = start(store, publish_def(store, [self.step(**first), *after]))
        ex.start()
        self.wait_started()
        return run_id

    def open(self) -> None:
        self.go.touch()


@contextmanager
def reaped(pgid: int | None, *, what: str = "the process group to vanish",
           timeout: float = 30) -> Iterator[None]:
    """Run the block, then wait for the step's process group to vanish; whatever happens,
    kill what is left of it."""
    try:
        yield
        wait_for(what, lambda: pgid is not None and group_gone(pgid), timeout=timeout)
    finally:
        kill_group(pgid)


def actions(caplog: pytest.LogCaptureFixture, run_id: int | None = None) -> list[str]:
    return [getattr(r, "action", "") for r in caplog.records
            if r.name == "clockwf.executor"
            and (run_id is None or getattr(r, "run_id", None) == run_id)]


# -- run steps -------------------------------------------------------------------------------

def test_success_records_each_attempt_and_logs(store: Store, executors: Callable[..., Executor],
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="clockwf")
    wid = publish_def(store, [{"id": "hello", "run": "echo hello; echo oops >&2"},
                              {"id": "bye", "run": "printf bye"}])
    run_id = start(store, wid)
    assert executors().execute(run_id) == "succeeded"
    row = run_row(store, run_id)
    assert (row["status"], row["error"], row["lease_expires_at"]) == ("succeeded", None, None)
    assert row["started_at"] is not None and row["finished_at"] >= row["started_at"]
    steps = attempts(store, run_id)
    assert [(s["step_id"], s["attempt"], s["status"], s["exit_code"], s["output"])
            for s in steps] == [("hello", 1, "succeeded", 0, "hello\noops\n"),
                                ("bye", 1, "succeeded", 0, "bye")]
    assert all(s["duration_ms"] is not None and s["finished_at"] for s in steps)
    assert actions(caplog, run_id) == ["run.started", "step.attempt", "step.attempt",
                                       "run.finished"]


def test_failed_step_fails_the_run_and_skips_the_rest(
        store: Store, executors: Callable[..., Executor], tmp_path: Path) -> None:
    wid = publish_def(store, [{"id": "build", "run": "echo building; exit 3"},
                              {"id": "never", "run": f"touch {tmp_path}/ran"}])
    run_id = start(store, wid)
    assert executors().execute(run_id) == "failed"
    row = run_row(store, run_id)
    assert row["status"] == "failed"
    assert row["error"] == "step 'build' (1 of 2), attempt 1 of 1: exit code 3"
    [step] = attempts(store, run_id)
    assert (step["status"], step["exit_code"], step["error"], step["output"]) == \
        ("failed", 3, "exit code 3", "building\n")
    assert not (tmp_path / "ran").exists()


def test_output_tail_is_bounded(store: Store, executors: Callable[..., Executor]) -> None:
    wid = publish_def(store, [{"run": "i=0; while [ $i -lt 3000 ]; do echo line-$i; "
                                      "i=$((i+1)); done; printf '\\377 end'"}])
    run_id = start(store, wid)
    assert executors(output_limit=1000).execute(run_id) == "succeeded"
    [step] = attempts(store, run_id)
    output = step["output"]
    header, _, kept = output.partition("\n")
    assert header.startswith("[clockwf: output truncated, the first ")
    assert len(kept.encode()) <= 1000
    assert kept.endswith("line-2999\n\ufffd end")   # invalid UTF-8 replaced, not an error
    assert "line-0\n" not in kept


def test_payload_on_stdin_and_in_env_never_in_the_command(
        store: Store, executors: Callable[..., Executor], tmp_path: Path) -> None:
    payload = {"name": "$(touch pwned)", "more": "; touch pwned2", "tick": "`touch pwned3`",
               "quote": "'\"", "unicode": "café"}
    wid = publish_def(store, [{
        "run": "cat > stdin.json; printf '%s' \"$CLOCKWF_PAYLOAD\" > env.json; "
               "echo $CLOCKWF_PAYLOAD; "
               "echo \"$CLOCKWF_RUN_ID|$CLOCKWF_FIRE_KEY|$CLOCKWF_WORKFLOW_ID|$CLOCKWF_ATTEMPT|"
               "$CLOCKWF_SCHEDULED_FOR|$CLOCKWF_STEP_ID\" > ids",
        "cwd": str(tmp_path)}])
    run_id = start(store, wid, payload)
    assert executors().execute(run_id) == "succeeded"
    assert json.loads((tmp_path / "stdin.json").read_text()) == payload
    assert json.loads((tmp_path / "env.json").read_text()) == payload
    row = run_row(store, run_id)
    assert (tmp_path / "ids").read_text() == \
        f"{run_id}|{row['fire_key']}|{wid}|1||step-1\n"
    for name in ("pwned", "pwned2", "pwned3"):
        assert not (tmp_path / name).exists(), f"{name} was created: the payload ran"
    assert list(Path.cwd().glob("pwned*")) == []


def test_scheduled_for_of_a_time_triggered_run(store: Store,
                                               executors: Callable[..., Executor]) -> None:
    wid = publish_def(store, [{"run": "printf %s \"$CLOCKWF_SCHEDULED_FOR\""}],
                      trigger={"type": "recurring", "cron": "* * * * *",
                               "timezone": "America/New_York"})
    report = tick(store, datetime.now(UTC) + timedelta(minutes=2))
    [launched] = [e for e in report.launched if e["workflow_id"] == wid]
    run_id = launched["run_id"]
    assert executors().execute(run_id) == "succeeded"
    payload = json.loads(run_payload(run_row(store, run_id)))
    assert attempts(store, run_id)[0]["output"] == payload["scheduled_for"]
    assert payload["scheduled_for"].endswith(("-05:00", "-04:00"))


def test_a_run_executes_the_version_published_when_it_was_launched(
        store: Store, executors: Callable[..., Executor], tmp_path: Path) -> None:
    wid = publish_def(store, [{"id": "say", "run": f"echo one >> {tmp_path}/said"}])
    first = start(store, wid)
    publish_def(store, [{"id": "say", "run": f"echo two >> {tmp_path}/said"}], id=wid)
    second = start(store, wid)
    assert [run_row(store, r)["workflow_version"] for r in (first, second)] == [1, 2]
    executors(workers=1).start()
    for run_id in (first, second):
        wait_for(f"run {run_id}", status_is(store, run_id, "succeeded"))
    assert (tmp_path / "said").read_text() == "one\ntwo\n"


def test_cwd_and_env(store: Store, executors: Callable[..., Executor], tmp_path: Path) -> None:
    step = {"run": "pwd; echo \"$REPORT_DIR $FROM_DAEMON.\"", "cwd": str(tmp_path),
            "env": {"REPORT_DIR": "/var/reports"}}
    ex = executors(environ={"FROM_DAEMON": "inherited", "PATH": os.environ["PATH"]})
    run_id = start(store, publish_def(store, [step]))
    assert ex.execute(run_id) == "succeeded"
    assert attempts(store, run_id)[0]["output"] == \
        f"{os.path.realpath(tmp_path)}\n/var/reports .\n"   # the daemon's is not inherited
    run_id = start(store, publish_def(store, [{**step, "inherit_env": True}]))
    assert ex.execute(run_id) == "succeeded"
    assert attempts(store, run_id)[0]["output"] == \
        f"{os.path.realpath(tmp_path)}\n/var/reports inherited.\n"


def test_missing_cwd_fails_with_a_message(store: Store, executors: Callable[..., Executor],
                                          tmp_path: Path) -> None:
    wid = publish_def(store, [{"run": "true", "cwd": str(tmp_path / "nope")}])
    run_id = start(store, wid)
    assert executors().execute(run_id) == "failed"
    [step] = attempts(store, run_id)
    assert step["error"] == f"working directory {tmp_path / 'nope'} does not exist"
    assert "Traceback" not in (run_row(store, run_id)["error"] or "")


def test_env_refs_resolved_masked_and_missing(store: Store,
                                              executors: Callable[..., Executor]) -> None:
    secret = "s3cr3t-value-123"
    wid = publish_def(store, [{"run": "echo \"token=$TOKEN\"",
                               "env": {"TOKEN": "${env:MY_SECRET}"}}])
    run_id = start(store, wid)
    environ = {"MY_SECRET": secret, "PATH": os.environ["PATH"]}
    seen: list[str] = []
    ex = executors(environ=environ, on_output=seen.append)
    assert ex.execute(run_id) == "succeeded"
    assert attempts(store, run_id)[0]["output"] == "token=***\n"
    assert seen == ["token=***"]

    missing = publish_def(store, [{"run": "true", "retries": 3,
                                   "env": {"TOKEN": "Bearer ${env:CLOCKWF_TEST_UNSET}"}}])
    run_id = start(store, missing)
    assert ex.execute(run_id) == "failed"
    [step] = attempts(store, run_id)  # not retried: another attempt cannot help
    assert step["error"] == ("environment variable CLOCKWF_TEST_UNSET is not set (referenced "
                             "by steps[0].env.TOKEN)")


# -- timeouts, retries, cancels ----------------------------------------------------------------

TRAP_ALL = ("echo $$ > {d}/pgid; trap '' TERM; "
            "sh -c 'trap \"\" TERM; sleep 60 & echo $! > {d}/grandchild; wait' & "
            "echo $! > {d}/child; wait")


def test_timeout_kills_the_whole_group(store: Store, executors: Callable[..., Executor],
                                       tmp_path: Path, subreaper: bool) -> None:
    wid = publish_def(store, [{"id": "stuck", "run": TRAP_ALL.format(d=tmp_path),
                               "timeout": "1s"}])
    run_id = start(store, wid)
    assert executors(kill_grace=0.5).execute(run_id) == "timed_out"
    pgid = read_int(tmp_path / "pgid")
    child, grandchild = read_int(tmp_path / "child"), read_int(tmp_path / "grandchild")
    with reaped(pgid):
        assert pgid and child and grandchild
    row = run_row(store, run_id)
    assert row["status"] == "timed_out"
    assert row["error"] == ("step 'stuck' (1 of 1), attempt 1 of 1: timed out after 1s; its "
                            "process group was killed")
    [step] = attempts(store, run_id)
    assert (step["status"], step["exit_code"]) == ("timed_out", None)
    # The step's own record, not the test's clock: an attempt whose group survived the kill
    # would have waited out its 60 s sleep.
    assert step["duration_ms"] < 60_000


def test_retries_record_every_attempt(store: Store, executors: Callable[..., Executor],
                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="clockwf")
    flaky = publish_def(store, [{"id": "flaky", "retries": 2,
                                 "run": "echo try $CLOCKWF_ATTEMPT; "
                                        "[ $CLOCKWF_ATTEMPT -ge 2 ]"}])
    always = publish_def(store, [{"id": "broken", "retries": 2, "run": "exit 4"},
                                 {"id": "after", "run": "true"}])
    ex = executors(retry_backoff=(0.05, 0.1))
    first, second = start(store, flaky), start(store, always)
    assert ex.execute(first) == "succeeded"
    assert [(s["attempt"], s["status"], s["output"]) for s in attempts(store, first)] == \
        [(1, "failed", "try 1\n"), (2, "succeeded", "try 2\n")]
    assert ex.execute(second) == "failed"
    assert [(s["step_id"], s["attempt"], s["status"], s["exit_code"])
            for s in attempts(store, second)] == \
        [("broken", 1, "failed", 4), ("broken", 2, "failed", 4), ("broken", 3, "failed", 4)]
    assert run_row(store, second)["error"] == \
        "step 'broken' (1 of 2), attempt 3 of 3: exit code 4"
    assert actions(caplog, second).count("step.retry") == 2


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    delays = [backoff_delay(n, 1.0, 5.0) for n in range(1, 6)]
    for got, base in zip(delays, [1, 2, 4, 5, 5], strict=True):
        assert base <= got <= min(5.0, base * 1.1)


def test_cancel_while_running_kills_the_group(store: Store, executors: Callable[..., Executor],
                                              tmp_path: Path, subreaper: bool,
                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="clockwf")
    wid = publish_def(store, [{"id": "long", "retries": 3,
                               "run": f"echo $$ > {tmp_path}/pgid; sleep 60 & wait"},
                              {"id": "next", "run": f"touch {tmp_path}/next"}])
    run_id = start(store, wid)
    ex = executors()
    ex.start()
    pgid = wait_for("the step to start", lambda: read_int(tmp_path / "pgid"))
    with reaped(pgid, timeout=5):
        runs.cancel_runs(store, [run_id], datetime.now(UTC))
        row = wait_for("the run to be cancelled", status_is(store, run_id, "cancelled"),
                       timeout=10)
        assert row["error"] == "cancelled by `clockwf runs cancel`"
    [step] = attempts(store, run_id)   # a cancel is not retried
    assert (step["status"], step["error"]) == \
        ("cancelled", "cancelled: cancelled by `clockwf runs cancel`")
    assert not (tmp_path / "next").exists()
    assert "run.cancel_requested" in actions(caplog, run_id)


def test_cancelled_queued_run_never_starts(store: Store, executors: Callable[..., Executor],
                                           tmp_path: Path) -> None:
    wid = publish_def(store, [{"run": f"touch {tmp_path}/ran-$CLOCKWF_RUN_ID"}])
    doomed = start(store, wid)
    runs.cancel_runs(store, [doomed], datetime.now(UTC))
    later = start(store, wid)
    ex = executors()
    ex.start()
    wait_for("the later run", status_is(store, later, "succeeded"))
    assert run_row(store, doomed)["status"] == "cancelled"
    assert attempts(store, doomed) == []
    assert not (tmp_path / f"ran-{doomed}").exists()
    assert ex.execute(doomed) == "cancelled"


def test_pool_runs_queued_runs_in_parallel_up_to_workers(
        store: Store, executors: Callable[..., Executor], tmp_path: Path) -> None:
    gate = Gate(tmp_path, "in-$CLOCKWF_RUN_ID")
    wid = publish_def(store, [gate.step()])
    ids = [start(store, wid) for _ in range(3)]
    ex = executors(workers=2)
    ex.start()
    wait_for("two runs to start", lambda: len(list(tmp_path.glob("in-*"))) == 2)
    assert len(ex.active_runs) == 2
    assert sorted(run_row(store, i)["status"] for i in ids) == ["queued", "running", "running"]
    gate.open()
    for run_id in ids:
        wait_for(f"run {run_id}", status_is(store, run_id, "succeeded"))


# -- stop, leases, the foreground -------------------------------------------------------------

def test_stop_lets_a_step_finish_within_the_grace(
        store: Store, executors: Callable[..., Executor], tmp_path: Path) -> None:
    gate = Gate(tmp_path)
    ex = executors()
    run_id = gate.hold(store, ex)
    gate.open()
    ex.stop(10)
    assert run_row(store, run_id)["status"] == "succeeded"


def test_a_run_claimed_as_the_executor_stops_goes_back_to_the_queue(
        store: Store, executors: Callable[..., Executor], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="clockwf")
    wid = publish_def(store, [{"id": "count", "run": f"echo x >> {tmp_path}/ran"}])
    run_id = start(store, wid)
    ex = executors(workers=1)
    claimed = threading.Event()
    load = ex.ledger.definition

    def load_as_stop_comes(row: Any) -> Any:   # the worker is between claim and first step
        claimed.set()
        assert ex._stopping.wait(10)
        return load(row)

    monkeypatch.setattr(ex.ledger, "definition", load_as_stop_comes)
    ex.start()
    assert claimed.wait(10)
    assert run_row(store, run_id)["status"] == "running"
    ex.stop(10)
    row = run_row(store, run_id)
    assert (row["status"], row["lease_owner"], row["started_at"], row["finished_at"]) == (
        "queued", None, None, None)
    assert attempts(store, run_id) == [] and not (tmp_path / "ran").exists()
    assert "run.released" in actions(caplog, run_id)
    executors().start()                       # the next executor runs it, whole and once
    wait_for("the run", status_is(store, run_id, "succeeded"))
    assert (tmp_path / "ran").read_text() == "x\n"
    assert [a["status"] for a in attempts(store, run_id)] == ["succeeded"]


def test_stop_between_steps_interrupts_and_does_not_requeue(
        store: Store, executors: Callable[..., Executor], tmp_path: Path) -> None:
    gate = Gate(tmp_path)
    ex = executors()
    run_id = gate.hold(store, ex, {"id": "second", "run": f"touch {tmp_path}/second"}, id="first")
    stopper = threading.Thread(target=ex.stop, args=(10,))
    stopper.start()
    wait_for("the executor to stop claiming", ex._stopping.is_set)
    gate.open()
    stopper.join(15)
    row = run_row(store, run_id)
    assert row["status"] == "interrupted"   # a step ran: running it again whole is not safe
    assert row["error"] == ("interrupted: clockwf stopped before step 'second' (2 of 2) "
                            "started")
    assert [a["status"] for a in attempts(store, run_id)] == ["succeeded"]
    assert not (tmp_path / "second").exists()


def test_stop_after_the_grace_kills_and_interrupts(
        store: Store, executors: Callable[..., Executor], tmp_path: Path, subreaper: bool,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="clockwf")
    wid = publish_def(store, [{"id": "long", "run": f"echo $$ > {tmp_path}/pgid; "
                                                    "trap '' TERM; sleep 60 & wait"}])
    run_id = start(store, wid)
    queued_wid = publish_def(store, [{"run": "true"}])
    ex = executors(workers=1, kill_grace=0.5)
    ex.start()
    pgid = wait_for("the step to start", lambda: read_int(tmp_path / "pgid"))
    queued = start(store, queued_wid)   # no free slot: stays queued
    with reaped(pgid):
        ex.stop(0.5)
        # stop() returned, so it did not wait the 60 s sleep out; the group is gone with it.
        assert ex.active_runs == []
    row = run_row(store, run_id)
    assert row["status"] == "interrupted"
    assert row["error"] == ("interrupted: clockwf stopped and the run did not finish within "
                            "the 0.5s grace period; its process group was killed")
    assert [s["status"] for s in attempts(store, run_id)] == ["interrupted"]
    assert run_row(store, queued)["status"] == "queued"   # never claimed
    assert ex.active_runs == []
    assert {"executor.stopping", "executor.killing", "executor.stopped"} <= set(actions(caplog))


def test_execute_streams_output_in_the_foreground(
        store: Store, executors: Callable[..., Executor]) -> None:
    wid = publish_def(store, [{"run": "echo one; printf 'two\\nthree'"},
                              {"run": "echo four"}])
    run_id = start(store, wid)
    lines: list[str] = []
    assert executors(on_output=lines.append).execute(run_id) == "succeeded"
    assert lines == ["one", "two", "three", "four"]
    assert executors().execute(run_id) == "succeeded"   # finished already: its status


def test_execute_waits_for_a_run_another_executor_holds(
        store: Store, executors: Callable[..., Executor], tmp_path: Path) -> None:
    gate = Gate(tmp_path)
    run_id = gate.hold(store, executors())   # another executor runs it
    gate.open()
    assert executors().execute(run_id, wait_poll=0.05) == "succeeded"


def test_a_run_taken_over_is_not_overwritten(store: Store, executors: Callable[..., Executor],
                                             tmp_path: Path, subreaper: bool) -> None:
    """Another executor expired our lease (we looked dead): we stop the step and write
    nothing more about the run."""
    wid = publish_def(store, [{"run": f"echo $$ > {tmp_path}/pgid; sleep 60 & wait"}])
    run_id = start(store, wid)
    ex = executors()
    ex.start()
    pgid = wait_for("the step to start", lambda: read_int(tmp_path / "pgid"))
    with reaped(pgid, what="the step to be killed", timeout=10), \
            store.transaction() as tx:   # as if our lease had ended an hour ago
        tx.renew_leases(owner=ex.owner, run_ids=[run_id], lease_seconds=-3600)
        assert tx.expire_leases() == [run_id]
    wait_for("the executor to let go", lambda: ex.active_runs == [])
    row = run_row(store, run_id)
    assert row["status"] == "interrupted"
    assert row["error"] == "its daemon stopped renewing the lease (died or lost the store)"
    assert [s["status"] for s in attempts(store, run_id)] == ["interrupted"]


def test_a_result_is_not_written_after_the_run_was_taken(
        store: Store, executors: Callable[..., Executor], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    """The step ends right after the run was taken from us (usually before the renewer looks):
    its result is not written over the other executor's verdict."""
    caplog.set_level(logging.INFO, logger="clockwf")
    gate = Gate(tmp_path)
    ex = executors()
    run_id = gate.hold(store, ex, {"run": f"touch {tmp_path}/second"})
    with store.transaction() as tx:   # as if our lease had ended an hour ago
        tx.renew_leases(owner=ex.owner, run_ids=[run_id], lease_seconds=-3600)
        assert tx.expire_leases() == [run_id]
    gate.open()
    wait_for("the executor to let go", lambda: ex.active_runs == [])
    row = run_row(store, run_id)
    assert (row["status"], row["error"]) == \
        ("interrupted", "its daemon stopped renewing the lease (died or lost the store)")
    assert [s["status"] for s in attempts(store, run_id)] == ["interrupted"]
    assert not (tmp_path / "second").exists()
    assert "lease.lost" in actions(caplog, run_id)


WORKER = """
import sys
import clockwf.cli.worker  # registers `clockwf worker` even before the CLI imports it
from clockwf.cli import main
sys.exit(main(["worker", *sys.argv[1:]]))
"""


@contextmanager
def worker_on_step(spawn: Callable[..., subprocess.Popen[str]], marker: Path,
                   *args: str) -> Iterator[subprocess.Popen[str]]:
    """A ``clockwf worker ARGS`` process, once its step wrote its process group to ``marker``;
    the worker and the step's group are killed at the end if still there."""
    worker = spawn(WORKER, *args)
    pgid = None
    try:
        pgid = wait_for("the worker to start the step", lambda: read_int(marker))
        yield worker
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        kill_group(pgid)


def test_a_killed_worker_s_run_becomes_interrupted(
        store: Store, store_url: str, namespace: str, executors: Callable[..., Executor],
        spawn: Callable[..., subprocess.Popen[str]], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="clockwf")
    wid = publish_def(store, [{"run": f"echo $$ > {tmp_path}/marker; sleep 60"}])
    run_id = start(store, wid)
    with worker_on_step(spawn, tmp_path / "marker", "--db", store_url, "--namespace",
                        namespace, "--workers", "1", "--lease", "2s") as worker:
        row = run_row(store, run_id)
        assert row["status"] == "running" and row["lease_owner"].startswith("worker:")
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        sweeper = executors(lease_seconds=1.0)
        sweeper.start()
        row = wait_for("the run to be interrupted", status_is(store, run_id, "interrupted"),
                       timeout=15)
    assert row["error"] == "its daemon stopped renewing the lease (died or lost the store)"
    assert [s["status"] for s in attempts(store, run_id)] == ["interrupted"]
    # logged once the sweep's transaction committed, maybe after the status was read
    wait_for("lease.expired in the log", lambda: "lease.expired" in actions(caplog, run_id))


def test_worker_stops_cleanly_on_sigterm(
        store: Store, store_url: str, namespace: str,
        spawn: Callable[..., subprocess.Popen[str]], tmp_path: Path) -> None:
    wid = publish_def(store, [{"run": f"echo $$ > {tmp_path}/marker; sleep 60 & wait"}])
    run_id = start(store, wid)
    with worker_on_step(spawn, tmp_path / "marker", "--db", store_url, "--namespace",
                        namespace, "--lease", "3s", "--grace", "0s") as worker:
        worker.send_signal(signal.SIGTERM)
        _out, err = worker.communicate(timeout=20)
    assert worker.returncode == 0, err
    assert "[executor.stopped]" in err
    row = run_row(store, run_id)
    assert row["status"] == "interrupted" and "grace period" in row["error"]
    with store.read() as tx:
        [daemon] = [d for d in tx.list_daemons() if d["role"] == "worker"]
    assert daemon["stopped_at"] is not None
