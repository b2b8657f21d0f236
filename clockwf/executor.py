"""Executing runs (docs/design.md §8): claim queued runs under a lease, run their steps, record every
attempt, and never leave a run ``running`` that nobody runs.

Threads of an :class:`Executor` (each uses its own store connection):

- the **claimer** claims queued runs up to the free worker slots (``claim_runs``: oldest first,
  serial runs one at a time), hands them to the pool, and every ``lease/3`` turns the runs of
  dead executors into ``interrupted`` (``expire_leases``). It polls about once a second and is
  woken early by :meth:`Executor.wake` (a tick launched runs) or when a slot frees up.
- a bounded **pool** of worker threads, one run each: steps in order, ``retries`` extra attempts
  with exponential backoff, the run's final status.
- the **renewer** extends the leases of our runs every ``lease/3`` and, about once a second,
  reads them back: a requested cancel (``clockwf runs cancel``, overlap ``cancel_previous``)
  kills the step's process group and ends the run ``cancelled``; a run that is no longer ours
  (our lease expired and another executor marked it ``interrupted``) is killed and left alone.

Every write about a run happens only while we hold its lease: an attempt is started and
finished, and the run finished, only if the run is still ``running`` under our owner id.

:meth:`Executor.stop` stops claiming and lets running steps finish within a grace period; no new
step or retry starts meanwhile (the run ends ``interrupted``, saying which step did not start;
a run none of whose steps had started goes back to the queue instead, for another executor).
When the grace period is over the remaining steps' process groups are killed and their runs end
``interrupted`` with a message that says so.

Log records carry a stable ``extra["action"]``: see :data:`ACTIONS`.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import TypeVar

from clockwf.clock import Clock
from clockwf.errors import ClockwfError, InvalidInput, NotFound, Refused, StoreUnavailable
from clockwf.lifecycle import load_definition
from clockwf.models import Definition, Step
from clockwf.steps import (
    CANCELLED,
    FAILED,
    INTERRUPTED,
    KILL_GRACE,
    OUTPUT_LIMIT,
    SUCCEEDED,
    Attempt,
    StepControl,
    StepOutcome,
    build_opener,
    run_attempt,
)
from clockwf.store.base import Row, Store, Tx
from clockwf.timeutil import iso_utc

log = logging.getLogger("clockwf.executor")

ACTIONS = (
    "executor.started", "executor.stopping", "executor.killing", "executor.stopped",
    "executor.error", "run.started", "run.finished", "run.waiting", "run.cancel_requested",
    "run.error", "run.released", "step.attempt", "step.retry", "lease.expired", "lease.lost",
    "lease.renew_failed", "store.error",
)
QUEUED = "queued"   # a run given back to the queue (see Executor._release)
FINAL_STATUSES = ("succeeded", "failed", "timed_out", "cancelled", "interrupted")
DEFAULT_BACKOFF = (1.0, 60.0)         # (base, cap) seconds between attempts of a step
DEFAULT_HTTP_TIMEOUT = 30.0
SIGINT_MESSAGE = "cancelled: interrupted (SIGINT) while running in the foreground"
OutputCallback = Callable[[str], None]
T = TypeVar("T")


class RunControl(StepControl):
    """What the worker running one run must know from the other threads."""

    def __init__(self, row: Row) -> None:
        super().__init__()
        self.run_id: int = int(row["run_id"])
        self.workflow_id: str = str(row["workflow_id"])
        self.lost = False              # the run is not ours any more: write nothing about it
        self.cancel_from_store = False  # the run's stored error already says why
        self.finishing = False         # the worker is writing the final status


@dataclass(frozen=True)
class _Run:
    """A claimed run and the definition version it executes."""

    row: Row
    definition: Definition

    @property
    def run_id(self) -> int:
        return int(self.row["run_id"])

    @property
    def payload(self) -> str:
        return str(self.row["payload"] or "{}")

    def scheduled_for(self) -> str:
        """The occurrence's local time with offset (time triggers), else ''."""
        try:
            meta = json.loads(self.row.get("metadata") or "{}")
        except json.JSONDecodeError:
            meta = {}
        local = meta.get("scheduled_for") if isinstance(meta, dict) else None
        if isinstance(local, str) and local:
            return local
        return iso_utc(self.row.get("scheduled_for")) or ""


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): ``min(cap, base *
    2**(attempt-1))`` plus up to 10 % jitter (never above ``cap``)."""
    delay: float = min(cap, base * 2.0 ** (attempt - 1))
    return min(cap, delay * random.uniform(1.0, 1.1))


def _seconds(value: float) -> str:
    return f"{value:g}s"


class Executor:
    """Executes the queued runs of one store namespace with a bounded pool of threads.

    ``owner`` names this executor in run leases (unique per process). ``on_output`` receives
    each line of output of ``run`` steps (decoded, secrets masked) as it is produced.
    ``environ`` is where ``${env:NAME}`` is resolved and what steps inherit (default: the
    process environment, read when each step starts)."""

    def __init__(self, store: Store, *, owner: str, workers: int = 4,
                 lease_seconds: float = 30.0, clock: Clock,
                 output_limit: int = OUTPUT_LIMIT,
                 retry_backoff: tuple[float, float] = DEFAULT_BACKOFF,
                 on_output: OutputCallback | None = None,
                 kill_grace: float = KILL_GRACE, poll_interval: float = 1.0,
                 environ: Mapping[str, str] | None = None) -> None:
        if workers < 1:
            raise InvalidInput("the executor needs at least one worker")
        if lease_seconds <= 0:
            raise InvalidInput("the lease must be longer than 0 s")
        if retry_backoff[0] < 0 or retry_backoff[1] < retry_backoff[0]:
            raise InvalidInput("retry backoff must be (base, cap) with 0 <= base <= cap")
        self.store = store
        self.owner = owner
        self.workers = workers
        self.lease = timedelta(seconds=lease_seconds)
        self.clock = clock
        self.output_limit = output_limit
        self.backoff = retry_backoff
        self.on_output = on_output
        self.kill_grace = kill_grace
        self.poll_interval = poll_interval
        self.environ = environ
        self.renew_interval = lease_seconds / 3
        self.check_interval = min(1.0, self.renew_interval)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)   # notified when a run ends
        self._active: dict[int, RunControl] = {}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._renewer_stop = threading.Event()
        self._claimer: threading.Thread | None = None
        self._renewer: threading.Thread | None = None
        self._renewer_lock = threading.Lock()
        self._renewer_users = 0
        self._pool: ThreadPoolExecutor | None = None
        self._started = False
        self._stopped = False
        self._stop_deadline: float | None = None
        self._opener = build_opener()

    # -- public --------------------------------------------------------------------------------
    def start(self) -> None:
        """Start claiming and executing queued runs in the background."""
        with self._lock:
            if self._started or self._stopped:
                raise Refused("this executor was started already")
            self._started = True
        self._pool = ThreadPoolExecutor(max_workers=self.workers,
                                        thread_name_prefix="clockwf-run")
        self._acquire_renewer()
        self._claimer = threading.Thread(target=self._claim_loop, name="clockwf-claimer",
                                         daemon=True)
        self._claimer.start()
        log.info("executor %s started: %d workers, lease %s", self.owner, self.workers,
                 _seconds(self.lease.total_seconds()),
                 extra={"action": "executor.started", "owner": self.owner,
                        "workers": self.workers})

    def wake(self) -> None:
        """New runs may be queued: claim now rather than at the next poll."""
        self._wake.set()

    @property
    def active_runs(self) -> list[int]:
        with self._lock:
            return sorted(self._active)

    def hurry(self) -> None:
        """During :meth:`stop`: end the grace period now (a second SIGTERM). Takes no lock,
        so a signal handler may call it; :meth:`stop` notices within 0.2 s."""
        self._stop_deadline = time.monotonic()

    def stop(self, grace: float) -> None:
        """Stop claiming; let running steps finish within ``grace`` s, then kill their process
        groups and end their runs ``interrupted``. Returns when no run is ours any more."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            running = len(self._active)
        self._stop_deadline = time.monotonic() + max(grace, 0)
        self._stopping.set()
        self._wake.set()
        log.info("executor %s stopping: %d runs still running, grace %s", self.owner, running,
                 _seconds(grace), extra={"action": "executor.stopping", "owner": self.owner,
                                         "running": running, "grace_s": grace})
        if self._claimer is not None:
            self._claimer.join()
        self._wait_idle(lambda: self._stop_deadline)
        with self._lock:
            left = list(self._active.values())
        if left:
            message = (f"interrupted: clockwf stopped and the run did not finish within the "
                       f"{_seconds(grace)} grace period; its process group was killed")
            log.warning("killing %d runs still running after the grace period: %s", len(left),
                        ", ".join(str(c.run_id) for c in left),
                        extra={"action": "executor.killing", "run_ids": [c.run_id for c in left]})
            for control in left:
                control.request(INTERRUPTED, message)
            kill_deadline = time.monotonic() + self.kill_grace + 10
            self._wait_idle(lambda: kill_deadline)
            with self._lock:
                stuck = list(self._active.values())
            for control in stuck:  # a worker that does not answer: end the run for it
                control.lost = True
                self._finish_quietly(control.run_id, INTERRUPTED, message)
        if self._started:
            self._release_renewer()
        if self._pool is not None:
            self._pool.shutdown(wait=False)
        log.info("executor %s stopped", self.owner,
                 extra={"action": "executor.stopped", "owner": self.owner})

    def execute(self, run_id: int, *, wait_poll: float = 0.5) -> str:
        """Run one queued run here, in the calling thread (``clockwf run ID --wait``), and
        return its final status. If another executor runs it (or it waits for an earlier
        serial run of its workflow), wait for its end. Ctrl-C kills the step's process group
        and ends the run ``cancelled`` (KeyboardInterrupt is re-raised).

        :raises NotFound: no such run in the namespace.
        """
        self._acquire_renewer()
        try:
            announced = False
            next_sweep = 0.0
            while True:
                if self._stopping.is_set():
                    raise Refused("the executor is stopping")
                now = self.clock.now()
                with self.store.transaction() as tx:
                    row = tx.claim_run(run_id, owner=self.owner, now=now,
                                       lease_until=now + self.lease)
                    current = row if row is not None else tx.get_run(run_id)
                if current is None:
                    raise NotFound(f"no run {run_id} in namespace {self.store.ns!r}")
                if row is not None:
                    break
                if current["status"] in FINAL_STATUSES:
                    return str(current["status"])
                if time.monotonic() >= next_sweep:  # a dead daemon's run may block this one
                    self._sweep()
                    next_sweep = time.monotonic() + 2.0
                if not announced:
                    announced = True
                    # A warning: whoever waits in the foreground must see why nothing happens.
                    log.warning("run %s is %s%s; waiting for it", run_id, current["status"],
                             " under another executor" if current["status"] == "running"
                             else " behind an earlier run of its workflow",
                             extra={"action": "run.waiting", "run_id": run_id,
                                    "status": current["status"]})
                time.sleep(wait_poll)
            control = self._register(row)
            try:
                return self._guarded(row, control)
            except KeyboardInterrupt:
                if not control.finishing and not control.lost:
                    control.finishing = True
                    self._finish_quietly(run_id, CANCELLED, SIGINT_MESSAGE)
                raise
            finally:
                self._unregister(control)
        finally:
            self._release_renewer()

    # -- bookkeeping ---------------------------------------------------------------------------
    def _register(self, row: Row) -> RunControl:
        control = RunControl(row)
        with self._lock:
            self._active[control.run_id] = control
        return control

    def _unregister(self, control: RunControl) -> None:
        with self._lock:
            self._active.pop(control.run_id, None)
            self._changed.notify_all()
        self._wake.set()  # a slot is free

    def _wait_idle(self, deadline: Callable[[], float | None]) -> None:
        with self._lock:
            while self._active:
                limit = deadline()
                remaining = 0.0 if limit is None else limit - time.monotonic()
                if remaining <= 0:
                    return
                self._changed.wait(min(remaining, 0.2))

    def _acquire_renewer(self) -> None:
        """The renewer runs while someone needs it: :meth:`start` until :meth:`stop`, and each
        :meth:`execute` while it runs."""
        with self._renewer_lock:
            self._renewer_users += 1
            if self._renewer is None:
                self._renewer_stop.clear()
                self._renewer = threading.Thread(target=self._renew_loop,
                                                 name="clockwf-renewer", daemon=True)
                self._renewer.start()

    def _release_renewer(self) -> None:
        with self._renewer_lock:
            self._renewer_users -= 1
            if self._renewer_users > 0 or self._renewer is None:
                return
            self._renewer_stop.set()
            self._renewer.join()
            self._renewer = None

    def _tx(self, write: bool = True) -> AbstractContextManager[Tx]:
        return self.store.transaction() if write else self.store.read()

    def _retrying(self, what: str, fn: Callable[[], T]) -> T:
        """``fn`` (one transaction), retried while the store is unavailable for up to about
        one lease period (our lease may still be renewed meanwhile)."""
        deadline = time.monotonic() + max(self.lease.total_seconds(), 5.0)
        delay = 0.1
        while True:
            try:
                return fn()
            except StoreUnavailable as exc:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("store unavailable while %s (%s); retrying", what, exc.message,
                            extra={"action": "store.error", "what": what})
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    # -- the claimer ---------------------------------------------------------------------------
    def _claim_loop(self) -> None:
        next_sweep = 0.0
        failures = 0
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                if time.monotonic() >= next_sweep:
                    self._sweep()
                    next_sweep = time.monotonic() + max(self.renew_interval, 0.2)
                self._claim_some()
                failures = 0
            except Exception as exc:
                failures += 1
                delay = min(30.0, 0.5 * 2 ** min(failures, 6))
                if isinstance(exc, ClockwfError):
                    log.warning("cannot claim runs: %s; retrying in %s", exc.message,
                                _seconds(delay), extra={"action": "store.error"})
                else:
                    log.exception("claimer failed; retrying in %s", _seconds(delay),
                                  extra={"action": "executor.error"})
                self._stopping.wait(delay)
                continue
            self._wake.wait(self.poll_interval)

    def _sweep(self) -> None:
        now = self.clock.now()
        with self._lock:
            ours = [c.run_id for c in self._active.values() if not c.lost]
        with self.store.transaction() as tx:
            if ours:
                # Ours first, at the same instant: a sweep must never expire this executor's
                # own live runs, however far the wall clock jumped since the renewer last ran.
                tx.renew_leases(owner=self.owner, run_ids=ours, lease_until=now + self.lease)
            expired = tx.expire_leases(now)
        for run_id in expired:
            log.warning("run %s interrupted: its executor stopped renewing its lease", run_id,
                        extra={"action": "lease.expired", "run_id": run_id})

    def _claim_some(self) -> None:
        with self._lock:
            free = self.workers - len(self._active)
        if free <= 0 or self._stopping.is_set():
            return
        now = self.clock.now()
        with self.store.transaction() as tx:
            rows = tx.claim_runs(owner=self.owner, now=now, lease_until=now + self.lease,
                                 limit=free)
        assert self._pool is not None
        for row in rows:
            control = self._register(row)
            self._pool.submit(self._work, row, control)

    def _work(self, row: Row, control: RunControl) -> None:
        try:
            self._guarded(row, control)
        finally:
            self._unregister(control)

    # -- the renewer ---------------------------------------------------------------------------
    def _renew_loop(self) -> None:
        next_renew = time.monotonic() + self.renew_interval
        while not self._renewer_stop.wait(self.check_interval):
            with self._lock:
                controls = [c for c in self._active.values() if not c.finishing]
            if not controls:
                continue
            renew = time.monotonic() >= next_renew
            ids = [c.run_id for c in controls]
            try:
                now = self.clock.now()
                with self._tx(write=renew) as tx:
                    if renew:
                        tx.renew_leases(owner=self.owner, run_ids=ids,
                                        lease_until=now + self.lease)
                    rows = {run_id: tx.get_run(run_id) for run_id in ids}
            except Exception as exc:
                message = exc.message if isinstance(exc, ClockwfError) else repr(exc)
                log.warning("cannot %s the leases of runs %s: %s", "renew" if renew else "check",
                            ids, message, extra={"action": "lease.renew_failed",
                                                 "run_ids": ids})
                continue
            if renew:
                next_renew = time.monotonic() + self.renew_interval
            for control in controls:
                self._apply(control, rows.get(control.run_id))

    def _holds(self, row: Row | None) -> bool:
        return row is not None and row["status"] == "running" and row["lease_owner"] == self.owner

    def _apply(self, control: RunControl, row: Row | None) -> None:
        if control.finishing:
            return
        if not self._holds(row):
            if not control.lost:
                control.lost = True
                state = "gone" if row is None else str(row["status"])
                control.request(INTERRUPTED, f"this executor lost the run (it is {state} now)")
                log.warning("run %s is not ours any more (%s): stopping it without writing",
                            control.run_id, state,
                            extra={"action": "lease.lost", "run_id": control.run_id})
            return
        assert row is not None
        if row["cancel_requested"]:
            reason = row.get("error") or "cancel requested"
            if control.request(CANCELLED, f"cancelled: {reason}"):
                control.cancel_from_store = True
                log.info("run %s: cancel requested (%s)", control.run_id, reason,
                         extra={"action": "run.cancel_requested", "run_id": control.run_id})

    # -- one run -------------------------------------------------------------------------------
    def _guarded(self, row: Row, control: RunControl) -> str:
        """:meth:`_run`, with any unexpected error ending the run ``failed``."""
        try:
            return self._run(row, control)
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            log.exception("run %s: executor error", control.run_id,
                          extra={"action": "run.error", "run_id": control.run_id})
            if control.lost:
                return INTERRUPTED
            error = f"internal error in the executor: {type(exc).__name__}: {exc}"
            if isinstance(exc, ClockwfError):
                error = f"the executor could not record the run: {exc.message}"
            return self._finish_quietly(control.run_id, FAILED, error) or FAILED

    def _load(self, row: Row) -> Definition | None:
        def read() -> Row | None:
            with self.store.read() as tx:
                return tx.get_version(row["workflow_id"], int(row["workflow_version"]))
        version = self._retrying("reading the definition", read)
        return None if version is None else load_definition(version)

    def _run(self, row: Row, control: RunControl) -> str:
        run_id = control.run_id
        started = time.monotonic()
        definition = self._load(row)
        log.info("run %s of %s (version %s) started", run_id, row["workflow_id"],
                 row["workflow_version"],
                 extra={"action": "run.started", "run_id": run_id,
                        "workflow_id": row["workflow_id"], "fire_key": row["fire_key"],
                        "owner": self.owner})
        if definition is None:
            return self._end(control, started, FAILED,
                             f"version {row['workflow_version']} of {row['workflow_id']} is not "
                             "in the store")
        run = _Run(row, definition)
        count = len(definition.steps)
        for index, step in enumerate(definition.steps):
            step_id = definition.step_id(index)
            attempts = step.retries + 1
            attempt = 0
            while True:
                attempt += 1
                where = f"step {step_id!r} ({index + 1} of {count})"
                if control.reason is not None:
                    return self._end_by_request(control, started)
                if self._stopping.is_set():
                    if index == 0 and attempt == 1 and self._release(control):
                        return QUEUED
                    return self._end(control, started, INTERRUPTED,
                                     f"interrupted: clockwf stopped before {where} "
                                     f"{'attempt ' + str(attempt) + ' ' if attempt > 1 else ''}"
                                     "started")
                state = self._retrying("starting a step", partial(
                    self._begin_attempt, run_id, index, attempt, step_id, step.kind))
                if state == "lost":
                    self._lost(control)
                    return self._end(control, started, INTERRUPTED, None)
                if state == "cancel":
                    return self._end(control, started, CANCELLED, None)
                try:
                    outcome = self._attempt(run, control, index, step_id, step, attempt)
                except KeyboardInterrupt:  # Ctrl-C in the foreground: the group is killed
                    control.request(CANCELLED, SIGINT_MESSAGE)
                    self._record(run_id, index, attempt, step_id,
                                 StepOutcome(CANCELLED, 0, error=SIGINT_MESSAGE), attempts)
                    raise
                recorded = self._record(run_id, index, attempt, step_id, outcome, attempts)
                if not recorded:
                    self._lost(control)
                if control.lost:
                    return self._end(control, started, INTERRUPTED, None)
                if outcome.status == SUCCEEDED:
                    break
                if outcome.status in (CANCELLED, INTERRUPTED):
                    return self._end_by_request(control, started, outcome)
                if attempt < attempts and outcome.retryable:
                    # a cancel or a stop during the wait is handled at the top of the loop
                    self._backoff(control, run_id, step_id, attempt, attempts)
                    continue
                return self._end(control, started, outcome.status,
                                 f"{where}, attempt {attempt} of {attempts}: {outcome.error}")
        return self._end(control, started, SUCCEEDED, None)

    def _backoff(self, control: RunControl, run_id: int, step_id: str, attempt: int,
                 attempts: int) -> None:
        """Wait before the next attempt; return early on a cancel or a stop."""
        delay = backoff_delay(attempt, *self.backoff)
        log.info("run %s: step %s attempt %d of %d failed; retrying in %.1f s", run_id, step_id,
                 attempt, attempts, delay,
                 extra={"action": "step.retry", "run_id": run_id, "step_id": step_id,
                        "attempt": attempt, "delay_s": round(delay, 3)})
        deadline = time.monotonic() + delay
        while (remaining := deadline - time.monotonic()) > 0:
            if self._stopping.is_set() or control.wait(min(remaining, 0.1)):
                return

    def _end_by_request(self, control: RunControl, started: float,
                        outcome: StepOutcome | None = None) -> str:
        reason = control.reason
        status, message = reason if reason is not None else (
            (outcome.status, outcome.error or "") if outcome is not None else (INTERRUPTED, ""))
        if status == CANCELLED and control.cancel_from_store:
            message = ""  # keep the stored reason
        return self._end(control, started, status, message or None)

    # -- store writes under our lease ----------------------------------------------------------
    def _begin_attempt(self, run_id: int, index: int, attempt: int, step_id: str,
                       kind: str) -> str:
        with self.store.transaction() as tx:
            current = tx.get_run(run_id)
            if not self._holds(current):
                return "lost"
            assert current is not None
            if current["cancel_requested"]:
                return "cancel"
            tx.insert_step_attempt(run_id=run_id, step_index=index, attempt=attempt,
                                   step_id=step_id, kind=kind, started_at=self.clock.now())
        return "ok"

    def _lost(self, control: RunControl) -> None:
        """We found out while writing that the run is no longer ours."""
        if not control.lost:
            control.lost = True
            log.warning("run %s is not ours any more (now %s): stopping it without writing",
                        control.run_id, self._stored_status(control.run_id),
                        extra={"action": "lease.lost", "run_id": control.run_id})

    def _record(self, run_id: int, index: int, attempt: int, step_id: str,
                outcome: StepOutcome, attempts: int) -> bool:
        """Finish the attempt's record (only while the run is ours); False if it is not."""
        def write() -> bool:
            with self.store.transaction() as tx:
                if not self._holds(tx.get_run(run_id)):
                    return False
                tx.finish_step_attempt(
                    run_id=run_id, step_index=index, attempt=attempt, status=outcome.status,
                    finished_at=self.clock.now(), duration_ms=outcome.duration_ms,
                    exit_code=outcome.exit_code, http_status=outcome.http_status,
                    output=outcome.output, error=outcome.error)
                return True

        written = self._retrying("recording a step attempt", write)
        code = (f"exit {outcome.exit_code}" if outcome.exit_code is not None else
                f"HTTP {outcome.http_status}" if outcome.http_status is not None else "")
        log.log(logging.INFO if outcome.status == SUCCEEDED else logging.WARNING,
                "run %s: step %s attempt %d of %d %s%s in %d ms%s", run_id, step_id, attempt,
                attempts, outcome.status, f" ({code})" if code else "", outcome.duration_ms,
                f": {outcome.error}" if outcome.error else "",
                extra={"action": "step.attempt", "run_id": run_id, "step_id": step_id,
                       "step_index": index, "attempt": attempt, "status": outcome.status,
                       "exit_code": outcome.exit_code, "http_status": outcome.http_status,
                       "duration_ms": outcome.duration_ms, "recorded": written})
        return written

    def _release(self, control: RunControl) -> bool:
        """Stopping before the run's first step started: back to the queue, for another
        executor (or this daemon's next start) to run it whole. False when that cannot be
        done (a step attempt exists, or the run is not ours); it is then ended as usual."""
        control.finishing = True   # the renewer leaves it alone from here on

        def release() -> bool:
            with self.store.transaction() as tx:
                return tx.release_run(control.run_id, owner=self.owner)

        try:
            released = self._retrying("returning the run to the queue", release)
        except StoreUnavailable:
            released = False
        if released:
            log.info("run %s of %s returned to the queue: this executor is stopping and none "
                     "of its steps had started", control.run_id, control.workflow_id,
                     extra={"action": "run.released", "run_id": control.run_id,
                            "workflow_id": control.workflow_id})
        else:
            control.finishing = False
        return released

    def _end(self, control: RunControl, started: float, status: str, error: str | None) -> str:
        """Finish the run under our lease; the status it ends with."""
        control.finishing = True
        run_id = control.run_id
        if control.lost:  # logged as lease.lost when it was found out
            final = self._stored_status(run_id)
            log.debug("run %s was taken from this executor (now %s); nothing written",
                      run_id, final, extra={"action": "lease.lost", "run_id": run_id})
            return final

        def finish() -> bool:
            with self.store.transaction() as tx:
                return tx.finish_run(run_id, owner=self.owner, status=status, error=error,
                                     now=self.clock.now())

        if not self._retrying("finishing the run", finish):
            control.lost = True
            final = self._stored_status(run_id)
            log.warning("run %s was taken from this executor (now %s); its result %s is not "
                        "written", run_id, final, status,
                        extra={"action": "lease.lost", "run_id": run_id})
            return final
        duration_ms = int((time.monotonic() - started) * 1000)
        log.log(logging.INFO if status == SUCCEEDED else logging.WARNING,
                "run %s of %s %s in %d ms%s", run_id, control.workflow_id, status, duration_ms,
                f": {error}" if error else "",
                extra={"action": "run.finished", "run_id": run_id,
                       "workflow_id": control.workflow_id, "status": status,
                       "duration_ms": duration_ms})
        return status

    def _finish_quietly(self, run_id: int, status: str, error: str) -> str | None:
        """Last resort (a worker that failed or does not answer): no retries, no raise."""
        try:
            with self.store.transaction() as tx:
                if tx.finish_run(run_id, owner=self.owner, status=status, error=error,
                                 now=self.clock.now()):
                    log.warning("run %s ended %s: %s", run_id, status, error,
                                extra={"action": "run.finished", "run_id": run_id,
                                       "status": status})
                    return status
        except Exception as exc:
            log.error("cannot end run %s (%s): its lease will expire and it will be marked "
                      "interrupted", run_id, exc, extra={"action": "store.error",
                                                         "run_id": run_id})
        return None

    def _stored_status(self, run_id: int) -> str:
        try:
            with self.store.read() as tx:
                row = tx.get_run(run_id)
        except ClockwfError:
            return INTERRUPTED
        return INTERRUPTED if row is None else str(row["status"])

    # -- one attempt ---------------------------------------------------------------------------
    def _env_source(self) -> Mapping[str, str]:
        return os.environ if self.environ is None else self.environ

    def _attempt(self, run: _Run, control: RunControl, index: int, step_id: str, step: Step,
                 attempt: int) -> StepOutcome:
        return run_attempt(
            Attempt(step, index, run.payload, self._clockwf_env(run, step_id, attempt),
                    run.definition.inherit_env),
            control, environ=self._env_source(), output_limit=self.output_limit,
            kill_grace=self.kill_grace, on_line=self.on_output, opener=self._opener)

    def _clockwf_env(self, run: _Run, step_id: str, attempt: int) -> dict[str, str]:
        row = run.row
        return {
            "CLOCKWF_RUN_ID": str(row["run_id"]),
            "CLOCKWF_FIRE_KEY": str(row["fire_key"]),
            "CLOCKWF_SCHEDULED_FOR": run.scheduled_for(),
            "CLOCKWF_WORKFLOW_ID": str(row["workflow_id"]),
            "CLOCKWF_WORKFLOW_VERSION": str(row["workflow_version"]),
            "CLOCKWF_TRIGGER_TYPE": str(row["trigger_type"]),
            "CLOCKWF_STEP_ID": step_id,
            "CLOCKWF_ATTEMPT": str(attempt),
            "CLOCKWF_PAYLOAD": run.payload,
        }


def _user_agent() -> str:
    from clockwf import __version__

    return f"clockwf/{__version__}"

