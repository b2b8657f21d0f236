"""Every write the executor makes about a run, each in one transaction and only while the run
is ``running`` under our owner id (our lease).

:meth:`Ledger.finish_run` is the one place where the executor writes a run's final status
(``succeeded``, ``failed``, ``timed_out``, ``cancelled``, ``interrupted``); a run whose lease
expired is ended by :meth:`Ledger.expire_leases` instead (another executor's sweep).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from clockwf.clock import Clock
from clockwf.errors import ClockwfError, StoreUnavailable
from clockwf.lifecycle import load_definition
from clockwf.models import Definition
from clockwf.notify.outbox import record_run_outcome
from clockwf.steps import INTERRUPTED, SUCCEEDED, StepOutcome
from clockwf.store.base import Row, Store
from clockwf.store.manager import Tx

log = logging.getLogger("clockwf.executor")
T = TypeVar("T")


class Ledger:
    def __init__(self, store: Store, owner: str, clock: Clock, lease_seconds: float) -> None:
        self.store = store
        self.owner = owner
        self.clock = clock
        self.lease_seconds = lease_seconds

    def holds(self, row: Row | None) -> bool:
        """The run (a stored row) is ours: running under our owner id."""
        return (row is not None and row["status"] == "running"
                and row["lease_owner"] == self.owner)

    def retrying(self, what: str, fn: Callable[[], T]) -> T:
        """``fn`` (one transaction), retried while the store is unavailable for up to about
        one lease period (our lease may still be renewed meanwhile)."""
        deadline = time.monotonic() + max(self.lease_seconds, 5.0)
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

    # -- reads ---------------------------------------------------------------------------------
    def definition(self, row: Row) -> Definition | None:
        """The definition version the run executes (None: not in the store)."""
        def read() -> Row | None:
            with self.store.read() as tx:
                return tx.get_version(row["workflow_id"], int(row["workflow_version"]))
        version = self.retrying("reading the definition", read)
        return None if version is None else load_definition(version)

    def stored_status(self, run_id: int) -> str:
        try:
            with self.store.read() as tx:
                row = tx.get_run(run_id)
        except ClockwfError:
            return INTERRUPTED
        return INTERRUPTED if row is None else str(row["status"])

    # -- step attempts -------------------------------------------------------------------------
    def begin_attempt(self, run_id: int, index: int, attempt: int, step_id: str,
                      kind: str) -> str:
        """``ok`` (the attempt is recorded as started), ``lost`` or ``cancel``."""
        def write() -> str:
            with self.store.transaction() as tx:
                current = tx.get_run(run_id)
                if not self.holds(current):
                    return "lost"
                assert current is not None
                if current["cancel_requested"]:
                    return "cancel"
                tx.insert_step_attempt(run_id=run_id, step_index=index, attempt=attempt,
                                       step_id=step_id, kind=kind, started_at=self.clock.now())
            return "ok"
        return self.retrying("starting a step", write)

    def record_attempt(self, run_id: int, index: int, attempt: int, step_id: str,
                       outcome: StepOutcome, attempts: int) -> bool:
        """Finish the attempt's record (only while the run is ours); False if it is not."""
        def write() -> bool:
            with self.store.transaction() as tx:
                if not self.holds(tx.get_run(run_id)):
                    return False
                tx.finish_step_attempt(
                    run_id=run_id, step_index=index, attempt=attempt, status=outcome.status,
                    finished_at=self.clock.now(), duration_ms=outcome.duration_ms,
                    exit_code=outcome.exit_code, http_status=outcome.http_status,
                    output=outcome.output, error=outcome.error)
                return True

        written = self.retrying("recording a step attempt", write)
        _log_attempt(run_id, index, attempt, step_id, outcome, attempts, written)
        return written

    # -- the run -------------------------------------------------------------------------------
    def finish_run(self, tx: Tx, run_id: int, status: str, error: str | None) -> bool:
        """THE place where the executor writes a run's final status, inside ``tx``; False
        when the run is not ours any more (nothing written). The notifications the outcome
        calls for are written in the same transaction (docs/alerts.md)."""
        now = self.clock.now()
        finished = tx.finish_run(run_id, owner=self.owner, status=status, error=error, now=now)
        if finished:
            record_run_outcome(tx, [run_id], now)
        return finished

    def finish(self, run_id: int, status: str, error: str | None) -> bool:
        """:meth:`finish_run` in a transaction of its own, retried through an outage."""
        def write() -> bool:
            with self.store.transaction() as tx:
                return self.finish_run(tx, run_id, status, error)
        return self.retrying("finishing the run", write)

    def finish_quietly(self, run_id: int, status: str, error: str) -> str | None:
        """Last resort (a worker that failed or does not answer, a second signal): one try,
        no raise; the status written, or None (the lease will expire instead)."""
        try:
            with self.store.transaction() as tx:
                if self.finish_run(tx, run_id, status, error):
                    log.warning("run %s ended %s: %s", run_id, status, error,
                                extra={"action": "run.finished", "run_id": run_id,
                                       "status": status})
                    return status
        except Exception as exc:  # logged with an action; the lease expires
            log.error("cannot end run %s (%s): its lease will expire and it will be marked "
                      "interrupted", run_id, exc, extra={"action": "store.error",
                                                         "run_id": run_id})
        return None

    def release(self, run_id: int) -> bool:
        """Back to the queue, provided no step attempt of it started; False otherwise."""
        def write() -> bool:
            with self.store.transaction() as tx:
                return tx.release_run(run_id, owner=self.owner)
        try:
            return self.retrying("returning the run to the queue", write)
        except StoreUnavailable:
            return False

    # -- leases --------------------------------------------------------------------------------
    def renew_and_expire(self, ours: list[int]) -> list[int]:
        """One sweep: renew our leases first (a sweep must never expire this executor's own
        live runs), then end every run whose lease ended before the database's clock."""
        with self.store.transaction() as tx:
            if ours:
                tx.renew_leases(owner=self.owner, run_ids=ours, lease_seconds=self.lease_seconds)
            return self.expire_leases(tx)

    def expire_leases(self, tx: Tx) -> list[int]:
        """Runs whose executor stopped renewing their lease end ``interrupted`` (the other
        place a run's final status is written, for runs of a dead executor), with their
        notifications in the same transaction."""
        ids = tx.expire_leases()
        if ids:
            record_run_outcome(tx, ids, self.clock.now())
        return ids

    def renew_and_read(self, ids: list[int], renew: bool) -> dict[int, Row | None]:
        """Renew the leases of ``ids`` (when ``renew``) and read the runs back."""
        context = self.store.transaction() if renew else self.store.read()
        with context as tx:
            if renew:
                tx.renew_leases(owner=self.owner, run_ids=ids, lease_seconds=self.lease_seconds)
            return {run_id: tx.get_run(run_id) for run_id in ids}


def _log_attempt(run_id: int, index: int, attempt: int, step_id: str, outcome: StepOutcome,
                 attempts: int, written: bool) -> None:
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
