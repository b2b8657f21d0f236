"""``clockwf daemon``: tick, sleep until the earliest due instant, repeat (docs/design.md §9).

The loop is the only place that reads the clock (through an injectable :class:`Clock`). It never
holds every schedule in memory: it asks the store for the earliest ``next_fire_at`` (one index
seek) and sleeps until then, capped by ``max_sleep``, woken early when a publish changes the
namespace (PostgreSQL LISTEN/NOTIFY; SQLite a cheap change-counter poll). A store outage is
logged and retried with backoff; the catch-up policy then applies. Signals, the heartbeat,
sd_notify and the drain of the executor at the end are the process lifecycle shared with
``clockwf worker`` (:class:`clockwf.service.Service`).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from clockwf.clock import Clock, SystemClock
from clockwf.errors import ClockwfError, StoreUnavailable
from clockwf.notify.service import AlertsService
from clockwf.scheduler import DEFAULT_BATCH, TickReport, tick
from clockwf.service import SdNotify, Service
from clockwf.store.base import Store
from clockwf.timeutil import iso_utc

__all__ = ["Daemon", "DaemonOptions", "SdNotify", "instance_name", "store_connections"]

log = logging.getLogger("clockwf.daemon")

BACKOFF_START = 1.0
BACKOFF_CAP = 30.0
WAIT_SLICE = 1.0
CLOCK_JUMP_S = 300.0   # the wall clock running this much ahead of elapsed time is a jump
MAIN_THREADS = 2       # the loop (tick, heartbeat, sleep) and the tick's batch writer


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(2)}"


def store_connections(workers: int, execute: bool = True) -> int:
    """Pooled store connections a daemon needs at most: its loop and the tick's batch writer
    (``scheduler._tick_overlapped``), plus (when it executes) one per worker thread, the
    claimer and the lease keeper: ``workers + 4`` (``--no-execute``: 2). PostgreSQL's pool is
    sized to exactly this; the LISTEN connection is one more (see clockwf.store.postgres)."""
    from clockwf.executor import THREADS_BESIDE_WORKERS

    return MAIN_THREADS + (workers + THREADS_BESIDE_WORKERS if execute else 0)


@dataclass
class DaemonOptions:
    max_sleep: float = 60.0
    batch_size: int = DEFAULT_BATCH
    execute: bool = True
    workers: int = 4
    lease_seconds: float = 30.0
    grace: float = 30.0
    exit_when_idle: bool = False
    run_for: float | None = None
    metrics_listen: str | None = None    # host:port serving /metrics


class _Backoff:
    """The loop's retry delay after a failed tick, and how long it has been failing."""

    def __init__(self) -> None:
        self.delay = BACKOFF_START
        self.failing_since: float | None = None   # monotonic time of the first failure
        self.failure = "store"                    # store (unavailable) | tick (other errors)

    def failed(self, failure: str) -> float:
        if self.failing_since is None:
            self.failing_since, self.failure = time.monotonic(), failure
        delay = self.delay
        self.delay = min(self.delay * 2, BACKOFF_CAP)
        return delay

    def recovered(self, launched: int) -> None:
        if self.failing_since is not None:
            outage = time.monotonic() - self.failing_since
            log.info("ticking again after %.1f s of failures: missed occurrences were caught "
                     "up by their policy", outage,
                     extra={"action": f"{self.failure}.recovered", "outage_s": outage,
                            "launched": launched})
        self.failing_since = None
        self.delay = BACKOFF_START


class Daemon:
    def __init__(self, store: Store, *, clock: Clock | None = None,
                 options: DaemonOptions | None = None, instance: str | None = None,
                 notify: SdNotify | None = None,
                 executor_factory: Callable[..., Any] | None = None) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self.options = options or DaemonOptions()
        self.instance = instance or instance_name()
        self.service = Service(store, name="daemon",
                               role="daemon" if self.options.execute else "scheduler",
                               instance=self.instance, clock=self.clock,
                               grace=self.options.grace, notify=notify)
        self.notify = self.service.notify
        self.stop_event = self.service.stop_event
        self.started_at = self.service.started_at
        self._last_now: datetime | None = None    # the clock at the previous tick
        self._last_mono: float | None = None      # time.monotonic() then
        self._counter: int | None = None
        self._executor: Any = None
        self._executor_factory = executor_factory
        self.ticks = 0
        self.launched = 0
        self._ready = False
        self._alerts = AlertsService(store, self.instance, self.clock.now,
                                     metrics_listen=self.options.metrics_listen)

    # -- control ------------------------------------------------------------------------------
    def stop(self, *_: Any) -> None:
        """Ask the loop to stop after the current transaction (from any thread)."""
        self.service.request_stop()

    def install_signals(self) -> None:
        self.service.install_signals()

    @property
    def stopping(self) -> bool:
        return self.service.stopping

    @property
    def last_tick_at(self) -> datetime | None:
        return self.service.last_tick_at

    # -- the loop -----------------------------------------------------------------------------
    def run(self) -> int:
        log.info("daemon %s starting on %s (namespace %s)", self.instance, self.store.url,
                 self.store.ns, extra={"action": "daemon.started", "instance": self.instance})
        self._alerts.start()
        if self.options.execute:
            self._start_executor()
        deadline = (time.monotonic() + self.options.run_for) if self.options.run_for else None
        backoff = _Backoff()
        try:
            while not self.stopping:
                if deadline is not None and time.monotonic() >= deadline:
                    break
                if self._cycle_guarded(backoff):
                    break
        finally:
            try:
                self.service.shutdown(f" after {self.ticks} ticks, {self.launched} runs launched")
            finally:
                self._alerts.stop()
        return 0

    def _cycle(self, backoff: _Backoff) -> bool:
        """Tick, then sleep until something is due; True when the loop should end."""
        report = self.tick_once()
        if not self._ready:
            self.service.ready(self._status(report))
            self._ready = True
        backoff.recovered(len(report.launched))
        if self.options.exit_when_idle and self._idle() and self._alerts.idle():
            log.info("nothing due, no run queued or running, no notification pending: exiting",
                     extra={"action": "daemon.idle_exit"})
            return True
        self._sleep_until_due()
        return False

    def _cycle_guarded(self, backoff: _Backoff) -> bool:
        """:meth:`_cycle`; a failure is logged and waited for with backoff."""
        try:
            return self._cycle(backoff)
        except StoreUnavailable as exc:
            delay = backoff.failed("store")
            log.error("store unavailable: %s (retrying in %.0f s)", exc.message, delay,
                      extra={"action": "store.unavailable", "retry_in": delay})
            self.service.status(f"store unavailable: {exc.message}")
            self.notify.watchdog()
        except ClockwfError as exc:
            delay = backoff.failed("tick")
            log.error("tick failed: %s (retrying in %.0f s)", exc.message, delay,
                      extra={"action": "tick.failed"})
        except Exception:
            # A bug, or a row no code path expected: dying would take the running steps down
            # with the daemon and a restart would meet the same error. Say so loudly and retry
            # with backoff, like an outage; `clockwf status` reports the schedules that fall
            # behind meanwhile.
            delay = backoff.failed("tick")
            log.exception("tick failed unexpectedly (retrying in %.0f s)", delay,
                          extra={"action": "tick.error", "retry_in": delay})
        self._wait(delay)
        return False

    def tick_once(self) -> TickReport:
        now = self.clock.now()
        mono = time.monotonic()
        self._check_clock(now, mono)
        report = tick(self.store, now, instance=self.instance,
                      batch_size=self.options.batch_size)
        self._alerts.ticked(report, time.monotonic() - mono)
        self.ticks += 1
        self.launched += len(report.launched)
        self.service.last_tick_at = now
        if report.launched and self._executor is not None:
            self._executor.wake()
        self.service.heartbeat(force=bool(report.launched) or self.ticks == 1)
        self.notify.watchdog()
        if report.launched or report.skipped:
            self.service.status(self._status(report))
        return report

    def _check_clock(self, now: datetime, mono: float) -> None:
        last, last_mono = self._last_now, self._last_mono
        if last is not None and now < last - timedelta(seconds=1):
            # Warned once per jump (compared with the previous tick, not the latest instant
            # ever seen): while the clock catches up nothing is due, and ticks stay quiet.
            log.warning("the clock moved backward by %s (from %s to %s); occurrences already "
                        "launched are not launched again", last - now, iso_utc(last),
                        iso_utc(now), extra={"action": "clock.backward",
                                             "seconds": (last - now).total_seconds()})
        elif last is not None and last_mono is not None:
            ahead = (now - last).total_seconds() - (mono - last_mono)
            if ahead > CLOCK_JUMP_S:
                log.warning("the clock moved forward by %s more than time passed (from %s to "
                            "%s); missed occurrences are caught up by their policy",
                            timedelta(seconds=round(ahead)), iso_utc(last), iso_utc(now),
                            extra={"action": "clock.forward", "seconds": ahead})
        self._last_now, self._last_mono = now, mono

    def _status(self, report: TickReport) -> str:
        return (f"ticked {iso_utc(report.now)}: {len(report.launched)} launched, "
                f"{len(report.skipped)} skipped; {self.launched} launched since start")

    def _idle(self) -> bool:
        with self.store.read() as tx:
            counts = tx.run_status_counts()
            earliest = tx.earliest_due()
        if counts.get("queued", 0) or counts.get("running", 0):
            return False
        return earliest is None or earliest > self.clock.now()

    def _sleep_until_due(self) -> None:
        with self.store.read() as tx:
            earliest = tx.earliest_due()
            if self._counter is None:
                self._counter = tx.change_counter()
        now = self.clock.now()
        if earliest is not None and earliest <= now:
            return   # a backlog (catch-up beyond max_catchup): tick again at once
        seconds = self.options.max_sleep
        if earliest is not None:
            seconds = min(seconds, (earliest - now).total_seconds())
        if self.options.exit_when_idle:
            seconds = min(seconds, 1.0)
        self._wait(max(seconds, 0.0), watch_changes=True)

    def _wait(self, seconds: float, watch_changes: bool = False) -> None:
        """Sleep in short slices so that signals, the watchdog and publishes are noticed.

        A store failure while sleeping until due (``watch_changes``) ends the sleep: the next
        tick meets it and reports it. While backing off after a failure it does not: the
        backoff is what the log announced. Either way it never escapes from here (this runs
        inside the loop's error handlers)."""
        end = time.monotonic() + seconds
        while not self.stopping:
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            self.notify.watchdog()
            slice_ = min(remaining, WAIT_SLICE)
            if watch_changes:
                if self._woken(slice_):
                    return
            else:
                time.sleep(min(slice_, 0.2))
            if not self.service.keepalive() and watch_changes:
                return

    def _woken(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for a publish; True when one came or the store failed."""
        try:
            counter = self.store.wait_for_change(self._counter, seconds)
        except ClockwfError as exc:
            log.debug("cannot watch for changes (%s): ticking now", exc.message,
                      extra={"action": "daemon.watch_failed"})
            return True
        if self._counter is not None and counter != self._counter:
            self._counter = counter
            log.debug("woken by a change", extra={"action": "daemon.woken"})
            return True
        self._counter = counter
        return False

    # -- executor -----------------------------------------------------------------------------
    def _start_executor(self) -> None:
        factory = self._executor_factory
        if factory is None:
            from clockwf.executor import Executor

            factory = Executor
        self._executor = factory(self.store, owner=self.instance, workers=self.options.workers,
                                 lease_seconds=self.options.lease_seconds, clock=self.clock)
        self.service.executor = self._executor
        self._executor.start()
