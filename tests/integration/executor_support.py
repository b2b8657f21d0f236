"""Helpers shared by the executor tests: publish a definition, start a run, poll for a
condition, and make sure a process group is really gone."""

from __future__ import annotations

import ctypes
import json
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from clockwf import runs
from clockwf.clock import SystemClock
from clockwf.executor import Executor
from clockwf.lifecycle import publish
from clockwf.steps.shell import group_members
from clockwf.store import Store
from clockwf.store.base import Row
from clockwf.validate import validate_source

T = TypeVar("T")
FAST = {"lease_seconds": 3.0, "retry_backoff": (0.05, 0.2), "kill_grace": 1.0,
        "poll_interval": 0.2}


def publish_def(store: Store, steps: list[dict[str, Any]], **extra: Any) -> str:
    """Publish a manual workflow with these steps (JSON is YAML); returns its id."""
    wid = extra.pop("id", f"wf-{uuid.uuid4().hex[:8]}")
    doc = {"id": wid, "steps": steps, **extra}
    now = datetime.now(UTC)
    report = validate_source(json.dumps(doc), f"{wid}.yaml", now, for_publish=True)
    assert report.ok, [str(d) for d in report.errors]
    publish(store, [report], now)
    return wid


def start(store: Store, wid: str, payload: Any = None) -> int:
    started = runs.start_manual(store, wid, datetime.now(UTC), payload=payload)
    assert started.run_id is not None
    return started.run_id


def make_executor(store: Store, **kwargs: Any) -> Executor:
    options: dict[str, Any] = {"owner": f"test-{uuid.uuid4().hex[:8]}", "clock": SystemClock(),
                               **FAST}
    options.update(kwargs)
    return Executor(store, **options)


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 15.0,
             interval: float = 0.02) -> T:
    """Poll ``probe`` until it returns something truthy (returned) or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def run_row(store: Store, run_id: int) -> Row:
    with store.read() as tx:
        row = tx.get_run(run_id)
    assert row is not None
    return row


def attempts(store: Store, run_id: int) -> list[Row]:
    with store.read() as tx:
        return tx.list_step_attempts(run_id)


def status_is(store: Store, run_id: int, *statuses: str) -> Callable[[], Row | None]:
    def probe() -> Row | None:
        row = run_row(store, run_id)
        return row if row["status"] in statuses else None
    return probe


def read_int(path: os.PathLike[str] | str) -> int | None:
    try:
        with open(path) as fh:
            text = fh.read().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


# -- process groups --------------------------------------------------------------------------

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Make this process the reaper of orphaned descendants (Linux), so that a group whose
    processes were killed really disappears even where PID 1 does not reap zombies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def reap_orphans(pgid: int) -> None:
    """Reap the zombies of the group that were re-parented to us (never the leader, which is
    the executor's own child and is reaped by it)."""
    if not os.path.isdir("/proc"):
        return
    for pid, state, ppid in list(group_members(pgid)):
        if state == "Z" and ppid == os.getpid() and pid != pgid:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


def group_gone(pgid: int) -> bool:
    """True once ``os.killpg(pgid, 0)`` raises ProcessLookupError: no process is left."""
    reap_orphans(pgid)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def kill_group(pgid: int | None) -> None:
    if pgid is None:
        return
    try:
        os.killpg(pgid, 9)
    except (ProcessLookupError, PermissionError):
        pass
