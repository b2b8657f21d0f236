"""The executor: claims queued runs up to its free worker slots and runs each in a thread of a
bounded pool; stops by draining within a grace period."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from clockwf.clock import Clock
from clockwf.errors import ClockwfError, InvalidInput, NotFound, Refused
from clockwf.executor.active import ActiveRuns
from clockwf.executor.attempt import AttemptSettings, OutputCallback
from clockwf.executor.leases import LeaseKeeper
from clockwf.executor.ledger import Ledger
from clockwf.executor.run import SIGINT_MESSAGE, RunContext, RunExecution
from clockwf.executor.state import RunControl
from clockwf.steps import CANCELLED, INTERRUPTED, KILL_GRACE, OUTPUT_LIMIT
from clockwf.store.base import Row, Store

log = logging.getLogger("clockwf.executor")

FINAL_STATUSES = ("succeeded", "failed", "timed_out", "cancelled", "interrupted")
DEFAULT_BACKOFF = (1.0, 60.0)         # (base, cap) seconds between attempts of a step
THREADS_BESIDE_WORKERS = 2            # the claimer and the lease keeper (store connections)


def _seconds(value: float) -> str:
    return f"{value:g}s"


class Executor:
    """Executes the queued runs of one store namespace with a bounded pool of threads.

    ``owner`` names this executor in run leases (unique per process). ``on_output`` receives
    each line of output of ``run`` steps (decoded, secrets masked) as it is produced.
    ``environ`` is where ``${env:NAME}`` is resolved and what steps inherit (default: the
    process environment, read when each step starts). Each thread uses at most one store
    connection at a time: ``workers + THREADS_BESIDE_WORKERS`` in all."""

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
        self.clock = clock
        self.kill_grace = kill_grace
        self.poll_interval = poll_interval
        self.ledger = Ledger(store, owner, clock, lease_seconds)
        self._stopping = threading.Event()
        self.context = RunContext(self.ledger, AttemptSettings(
            output_limit=output_limit, kill_grace=kill_grace, on_output=on_output,
            environ=environ), retry_backoff, self._stopping)
        self._lock = threading.Lock()   # guards _started and _stopped
        self._runs = ActiveRuns()
        self.keeper = LeaseKeeper(self.ledger, self._runs.controls)
        self._wake = threading.Event()
        self._claimer: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._started = False
        self._stopped = False
        self._stop_deadline: float | None = None
        self._hurried = False

    # -- public --------------------------------------------------------------------------------
    def start(self) -> None:
        """Start claiming and executing queued runs in the background."""
        with self._lock:
            if self._started or self._stopped:
                raise Refused("this executor was started already")
            self._started = True
        self._pool = ThreadPoolExecutor(max_workers=self.workers,
                                        thread_name_prefix="clockwf-run")
        self.keeper.acquire()
        self._claimer = threading.Thread(target=self._claim_loop, name="clockwf-claimer",
                                         daemon=True)
        self._claimer.start()
        log.info("executor %s started: %d workers, lease %s", self.owner, self.workers,
                 _seconds(self.ledger.lease_seconds),
                 extra={"action": "executor.started", "owner": self.owner,
                        "workers": self.workers})

    def wake(self) -> None:
        """New runs may be queued: claim now rather than at the next poll."""
        self._wake.set()

    @property
    def active_runs(self) -> list[int]:
        return self._runs.run_ids()

    def hurry(self) -> None:
        """During :meth:`stop`: end the grace period now (a second signal). Takes no lock, so
        a signal handler may call it; :meth:`stop` notices within 0.2 s."""
        self._hurried = True
        self._stop_deadline = time.monotonic()

    def stop(self, grace: float) -> None:
        """Stop claiming; let running steps finish within ``grace`` s, then kill their process
        groups and end their runs ``interrupted``. Returns when no run is ours any more."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        running = self._runs.count()
        if not self._hurried:
            self._stop_deadline = time.monotonic() + max(grace, 0)
        self._stopping.set()
        self._wake.set()
        log.info("executor %s stopping: %d runs still running, grace %s", self.owner, running,
                 _seconds(grace), extra={"action": "executor.stopping", "owner": self.owner,
                                         "running": running, "grace_s": grace})
        if self._claimer is not None:
            self._claimer.join()
        self._runs.wait_idle(lambda: self._stop_deadline)
        self._kill_the_rest(grace)
        if self._started:
            self.keeper.release()
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
        self.keeper.acquire()
        try:
            row = self._claim_one(run_id, wait_poll)
            if isinstance(row, str):
                return row
            control = self._runs.add(row)
            try:
                return RunExecution(self.context, row, control).execute()
            except KeyboardInterrupt:
                if control.begin_finishing():
                    self.ledger.finish_quietly(run_id, CANCELLED, SIGINT_MESSAGE)
                raise
            finally:
                self._unregister(control)
        finally:
            self.keeper.release()

    # -- claiming ------------------------------------------------------------------------------
    def _claim_one(self, run_id: int, wait_poll: float) -> Row | str:
        """Claim ``run_id``, waiting while it must; its final status if it ended meanwhile."""
        announced = False
        next_sweep = 0.0
        while True:
            if self._stopping.is_set():
                raise Refused("the executor is stopping")
            with self.store.transaction() as tx:
                row = tx.claim_run(run_id, owner=self.owner, now=self.clock.now(),
                                   lease_seconds=self.ledger.lease_seconds)
                current = row if row is not None else tx.get_run(run_id)
            if current is None:
                raise NotFound(f"no run {run_id} in namespace {self.store.ns!r}")
            if row is not None:
                return row
            if current["status"] in FINAL_STATUSES:
                return str(current["status"])
            if time.monotonic() >= next_sweep:  # a dead daemon's run may block this one
                self.keeper.sweep()
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

    def _claim_loop(self) -> None:
        next_sweep = 0.0
        failures = 0
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                if time.monotonic() >= next_sweep:
                    self.keeper.sweep()
                    next_sweep = time.monotonic() + max(self.keeper.renew_interval, 0.2)
                self._claim_some()
                failures = 0
            except Exception as exc:  # logged with an action; retried with backoff
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

    def _claim_some(self) -> None:
        free = self.workers - self._runs.count()
        if free <= 0 or self._stopping.is_set():
            return
        with self.store.transaction() as tx:
            rows = tx.claim_runs(owner=self.owner, now=self.clock.now(),
                                 lease_seconds=self.ledger.lease_seconds, limit=free)
        assert self._pool is not None
        for row in rows:
            control = self._runs.add(row)
            self._pool.submit(self._work, row, control)

    def _work(self, row: Row, control: RunControl) -> None:
        try:
            RunExecution(self.context, row, control).execute()
        finally:
            self._unregister(control)

    # -- bookkeeping ---------------------------------------------------------------------------
    def _unregister(self, control: RunControl) -> None:
        self._runs.remove(control)
        self._wake.set()  # a slot is free

    def _kill_the_rest(self, grace: float) -> None:
        """After the grace period: kill the steps still running and end their runs."""
        left = self._runs.controls()
        if not left:
            return
        if self._hurried:
            message = ("interrupted: clockwf was told to stop now (a second signal); its "
                       "process group was killed")
        else:
            message = (f"interrupted: clockwf stopped and the run did not finish within the "
                       f"{_seconds(grace)} grace period; its process group was killed")
        log.warning("killing %d runs still running after the grace period: %s", len(left),
                    ", ".join(str(c.run_id) for c in left),
                    extra={"action": "executor.killing", "run_ids": [c.run_id for c in left]})
        for control in left:
            control.request(INTERRUPTED, message)
        kill_deadline = time.monotonic() + self.kill_grace + 10
        self._runs.wait_idle(lambda: kill_deadline)
        for control in self._runs.controls():  # a worker that does not answer: end the run for it
            if control.mark_lost():
                self.ledger.finish_quietly(control.run_id, INTERRUPTED, message)
