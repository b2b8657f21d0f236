"""``clockwf worker``: execute queued runs, schedule nothing; the same process lifecycle as the
daemon (:class:`clockwf.service.Service`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from clockwf.clock import Clock, SystemClock
from clockwf.service import SdNotify, Service
from clockwf.store.base import Store

log = logging.getLogger("clockwf.worker")

IDLE_SLICE = 1.0


def worker_connections(workers: int) -> int:
    """Pooled store connections a worker needs at most: its loop (heartbeat), one per worker
    thread, the claimer and the lease keeper."""
    from clockwf.executor import THREADS_BESIDE_WORKERS

    return 1 + workers + THREADS_BESIDE_WORKERS


@dataclass
class WorkerOptions:
    workers: int = 4
    lease_seconds: float = 30.0
    grace: float = 30.0


class Worker:
    def __init__(self, store: Store, *, instance: str, options: WorkerOptions | None = None,
                 clock: Clock | None = None, notify: SdNotify | None = None) -> None:
        from clockwf.executor import Executor

        self.options = options or WorkerOptions()
        self.clock = clock or SystemClock()
        self.executor = Executor(store, owner=instance, workers=self.options.workers,
                                 lease_seconds=self.options.lease_seconds, clock=self.clock)
        self.service = Service(store, name="worker", role="worker", instance=instance,
                               clock=self.clock, grace=self.options.grace, notify=notify,
                               describe=self._describe)
        self.service.executor = self.executor

    def _describe(self) -> str:
        return f"{len(self.executor.active_runs)} runs running"

    def install_signals(self) -> None:
        self.service.install_signals()

    def run(self) -> int:
        """Execute until a signal (or :meth:`Service.request_stop`), then drain."""
        log.info("worker %s starting (%d workers)", self.service.instance,
                 self.options.workers, extra={"action": "worker.started",
                                              "instance": self.service.instance})
        try:
            self.service.heartbeat(force=True, status="starting")
            self.executor.start()
            self.service.ready(f"executing with {self.options.workers} workers")
            while not self.service.stopping:
                self.service.sleep(IDLE_SLICE)
        finally:
            self.service.shutdown("")
        return 0
