"""Executing runs: claim queued runs under a lease, run their steps, record every attempt, and
never leave a run ``running`` that nobody runs.

The rooms, each a module:

- :mod:`~clockwf.executor.pool`: :class:`Executor`, the claimer thread and the bounded pool
  of worker threads (one run each); ``stop`` drains within a grace period.
- :mod:`~clockwf.executor.active`: the runs an executor is running, shared between its threads
  behind one lock.
- :mod:`~clockwf.executor.leases`: the lease keeper thread (renew, read back: cancels and lost
  runs) and the sweep that ends the runs of dead executors. Leases are compared with the
  database's clock, never a host's.
- :mod:`~clockwf.executor.state`: one run's state shared between threads, behind one lock.
- :mod:`~clockwf.executor.run`: one run's state machine, top to bottom.
- :mod:`~clockwf.executor.ledger`: every store write about a run, under our lease;
  ``Ledger.finish_run`` is where a run's final status is written.
- :mod:`~clockwf.executor.attempt`: building one step attempt and running it through
  :mod:`clockwf.steps`.

Log records carry a stable ``extra["action"]``: see :data:`ACTIONS`.
"""

from clockwf.executor.attempt import AttemptSettings, ClaimedRun
from clockwf.executor.pool import (
    DEFAULT_BACKOFF,
    FINAL_STATUSES,
    THREADS_BESIDE_WORKERS,
    Executor,
)
from clockwf.executor.run import QUEUED, SIGINT_MESSAGE, backoff_delay
from clockwf.executor.state import Phase, RunControl

ACTIONS = (
    "executor.started", "executor.stopping", "executor.killing", "executor.stopped",
    "executor.error", "run.started", "run.finished", "run.waiting", "run.cancel_requested",
    "run.error", "run.released", "step.attempt", "step.retry", "lease.expired", "lease.lost",
    "lease.renew_failed", "store.error",
)

__all__ = ["ACTIONS", "DEFAULT_BACKOFF", "FINAL_STATUSES", "QUEUED",
           "SIGINT_MESSAGE", "THREADS_BESIDE_WORKERS", "AttemptSettings", "ClaimedRun",
           "Executor", "Phase", "RunControl", "backoff_delay"]
