"""One run, top to bottom: its steps in order, each attempted up to ``retries + 1`` times
with backoff, then its final status (see :mod:`clockwf.executor.state` for who may change
what while it runs)."""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass

from clockwf.errors import ClockwfError
from clockwf.executor.attempt import AttemptSettings, ClaimedRun, run_attempt
from clockwf.executor.ledger import Ledger
from clockwf.executor.state import RunControl
from clockwf.models import Step
from clockwf.steps import CANCELLED, FAILED, INTERRUPTED, SUCCEEDED, StepOutcome
from clockwf.store.base import Row

log = logging.getLogger("clockwf.executor")

QUEUED = "queued"   # a run given back to the queue
SIGINT_MESSAGE = "cancelled: interrupted (SIGINT) while running in the foreground"


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): ``min(cap, base *
    2**(attempt-1))`` plus up to 10 % jitter (never above ``cap``)."""
    delay: float = min(cap, base * 2.0 ** (attempt - 1))
    return min(cap, delay * random.uniform(1.0, 1.1))


@dataclass(frozen=True)
class RunContext:
    """What every run of one executor shares."""

    ledger: Ledger
    attempts: AttemptSettings
    backoff: tuple[float, float]
    stopping: threading.Event     # the executor stops: no new step or retry starts


class RunExecution:
    """Executes one claimed run in the calling thread; :meth:`execute` returns the status it
    ended with (``queued`` when it went back to the queue)."""

    def __init__(self, context: RunContext, row: Row, control: RunControl) -> None:
        self.context = context
        self.ledger = context.ledger
        self.row = row
        self.control = control
        self.run_id = control.run_id
        self.started = time.monotonic()

    def execute(self) -> str:
        """:meth:`_steps`, with any unexpected error ending the run ``failed``."""
        try:
            return self._steps()
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # a bug or a store failure: logged, and the run ends failed
            log.exception("run %s: executor error", self.run_id,
                          extra={"action": "run.error", "run_id": self.run_id})
            if self.control.lost:
                return INTERRUPTED
            error = f"internal error in the executor: {type(exc).__name__}: {exc}"
            if isinstance(exc, ClockwfError):
                error = f"the executor could not record the run: {exc.message}"
            return self.ledger.finish_quietly(self.run_id, FAILED, error) or FAILED

    def _steps(self) -> str:
        row = self.row
        definition = self.ledger.definition(row)
        log.info("run %s of %s (version %s) started", self.run_id, row["workflow_id"],
                 row["workflow_version"],
                 extra={"action": "run.started", "run_id": self.run_id,
                        "workflow_id": row["workflow_id"], "fire_key": row["fire_key"],
                        "owner": self.ledger.owner})
        if definition is None:
            return self._end(FAILED, f"version {row['workflow_version']} of "
                                     f"{row['workflow_id']} is not in the store")
        run = ClaimedRun(row, definition)
        for index, step in enumerate(definition.steps):
            ended = self._step(run, index, step)
            if ended is not None:
                return ended
        return self._end(SUCCEEDED, None)

    def _step(self, run: ClaimedRun, index: int, step: Step) -> str | None:
        """Every attempt of one step; None when it succeeded, else how the run ended."""
        control = self.control
        step_id = run.definition.step_id(index)
        where = f"step {step_id!r} ({index + 1} of {len(run.definition.steps)})"
        attempts = step.retries + 1
        for attempt in range(1, attempts + 1):
            if control.reason is not None:
                return self._end_by_request()
            if self.context.stopping.is_set():
                return self._stopped(index, attempt, where)
            began = self.ledger.begin_attempt(self.run_id, index, attempt, step_id, step.kind)
            if began == "lost":
                self._lost()
                return self._end(INTERRUPTED, None)
            if began == "cancel":
                return self._end(CANCELLED, None)
            outcome = self._attempt(run, index, step_id, step, attempt, attempts)
            if control.lost:
                return self._end(INTERRUPTED, None)
            if outcome.status == SUCCEEDED:
                return None
            if outcome.status in (CANCELLED, INTERRUPTED):
                return self._end_by_request(outcome)
            if attempt == attempts or not outcome.retryable:
                return self._end(outcome.status,
                                 f"{where}, attempt {attempt} of {attempts}: {outcome.error}")
            self._backoff(step_id, attempt, attempts)  # a cancel or a stop: seen above
        raise AssertionError("unreachable: the last attempt always ends the loop")

    def _attempt(self, run: ClaimedRun, index: int, step_id: str, step: Step, attempt: int,
                 attempts: int) -> StepOutcome:
        """Run one attempt and record it (a run found not ours any more becomes lost)."""
        try:
            outcome = run_attempt(run, self.control, index, step, attempt,
                                  self.context.attempts)
        except KeyboardInterrupt:  # Ctrl-C in the foreground: the group is killed
            self.control.request(CANCELLED, SIGINT_MESSAGE)
            self.ledger.record_attempt(self.run_id, index, attempt, step_id,
                                       StepOutcome(CANCELLED, 0, error=SIGINT_MESSAGE), attempts)
            raise
        if not self.ledger.record_attempt(self.run_id, index, attempt, step_id, outcome,
                                          attempts):
            self._lost()
        return outcome

    def _stopped(self, index: int, attempt: int, where: str) -> str:
        """The executor stops before this attempt: back to the queue if nothing ran yet."""
        if index == 0 and attempt == 1 and self._release():
            return QUEUED
        again = f"attempt {attempt} " if attempt > 1 else ""
        return self._end(INTERRUPTED, f"interrupted: clockwf stopped before {where} {again}"
                                      "started")

    def _backoff(self, step_id: str, attempt: int, attempts: int) -> None:
        """Wait before the next attempt; return early on a cancel or a stop."""
        delay = backoff_delay(attempt, *self.context.backoff)
        log.info("run %s: step %s attempt %d of %d failed; retrying in %.1f s", self.run_id,
                 step_id, attempt, attempts, delay,
                 extra={"action": "step.retry", "run_id": self.run_id, "step_id": step_id,
                        "attempt": attempt, "delay_s": round(delay, 3)})
        deadline = time.monotonic() + delay
        while (remaining := deadline - time.monotonic()) > 0:
            if self.context.stopping.is_set() or self.control.wait(min(remaining, 0.1)):
                return

    def _end_by_request(self, outcome: StepOutcome | None = None) -> str:
        reason = self.control.reason
        status, message = reason if reason is not None else (
            (outcome.status, outcome.error or "") if outcome is not None else (INTERRUPTED, ""))
        if status == CANCELLED and self.control.cancel_from_store:
            message = ""  # keep the stored reason
        return self._end(status, message or None)

    def _lost(self) -> None:
        """We found out while writing that the run is no longer ours."""
        if self.control.mark_lost():
            log.warning("run %s is not ours any more (now %s): stopping it without writing",
                        self.run_id, self.ledger.stored_status(self.run_id),
                        extra={"action": "lease.lost", "run_id": self.run_id})

    def _release(self) -> bool:
        """Stopping before the run's first step started: back to the queue, for another
        executor (or this daemon's next start) to run it whole. False when that cannot be
        done (a step attempt exists, or the run is not ours); it is then ended as usual."""
        if not self.control.begin_finishing():   # the keeper leaves it alone from here on
            return False
        if not self.ledger.release(self.run_id):
            self.control.resume()
            return False
        log.info("run %s of %s returned to the queue: this executor is stopping and none "
                 "of its steps had started", self.run_id, self.control.workflow_id,
                 extra={"action": "run.released", "run_id": self.run_id,
                        "workflow_id": self.control.workflow_id})
        return True

    def _end(self, status: str, error: str | None) -> str:
        """Finish the run under our lease; the status it ends with."""
        run_id = self.run_id
        if not self.control.begin_finishing():  # lost: logged as lease.lost when found out
            final = self.ledger.stored_status(run_id)
            log.debug("run %s was taken from this executor (now %s); nothing written",
                      run_id, final, extra={"action": "lease.lost", "run_id": run_id})
            return final
        if not self.ledger.finish(run_id, status, error):
            self.control.mark_lost()
            final = self.ledger.stored_status(run_id)
            log.warning("run %s was taken from this executor (now %s); its result %s is not "
                        "written", run_id, final, status,
                        extra={"action": "lease.lost", "run_id": run_id})
            return final
        duration_ms = int((time.monotonic() - self.started) * 1000)
        log.log(logging.INFO if status == SUCCEEDED else logging.WARNING,
                "run %s of %s %s in %d ms%s", run_id, self.control.workflow_id, status,
                duration_ms, f": {error}" if error else "",
                extra={"action": "run.finished", "run_id": run_id,
                       "workflow_id": self.control.workflow_id, "status": status,
                       "duration_ms": duration_ms})
        return status
