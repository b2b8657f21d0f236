"""``clockwf daemon``: tick, sleep until the earliest due instant, repeat (docs/design.md §9).

The loop is the only place that reads the clock (through an injectable :class:`Clock`). It never
holds every schedule in memory: it asks the store for the earliest ``next_fire_at`` (one index
seek) and sleeps until then, capped by ``max_sleep``, woken early when a publish changes the
namespace (PostgreSQL LISTEN/NOTIFY; SQLite a cheap change-counter poll). A store outage is
logged and retried with backoff; the catch-up policy then applies. SIGTERM and SIGINT stop the
loop between transactions. Under systemd it speaks sd_notify (READY, WATCHDOG, STATUS).
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

from clockwf import __version__
from clockwf.clock import Clock, SystemClock
from clockwf.errors import ClockwfError, StoreUnavailable
from clockwf.notify.service import AlertsService
from clockwf.scheduler import DEFAULT_BATCH, TickReport, tick
from clockwf.store.base import Store
from clockwf.timeutil import iso_utc

log = logging.getLogger("clockwf.daemon")

BACKOFF_START = 1.0
BACKOFF_CAP = 30.0
HEARTBEAT_EVERY = 5.0
WAIT_SLICE = 1.0
CLOCK_JUMP_S = 300.0   # the wall clock running this much ahead of elapsed time is a jump


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(2)}"


class SdNotify:
    """systemd's notify protocol: datagrams to $NOTIFY_SOCKET (no-op when unset)."""

    def __init__(self, address: str | None = None) -> None:
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET")
        self.address = address or None
        self._sock: socket.socket | None = None
        usec = os.environ.get("WATCHDOG_USEC")
        pid = os.environ.get("WATCHDOG_PID")
        self.watchdog_interval: float | None = None
        if usec and usec.isdigit() and (not pid or pid == str(os.getpid())):
            self.watchdog_interval = int(usec) / 1e6 / 2
        self._last_watchdog = 0.0

    def send(self, *states: str) -> bool:
        if not self.address:
            return False
        target = self.address
        if target.startswith("@"):
            target = "\0" + target[1:]
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                # Never block the scheduler on a receiver that does not read.
                self._sock.setblocking(False)
            self._sock.sendto("\n".join(states).encode(), target)
            return True
        except BlockingIOError:
            log.warning("sd_notify to %s dropped: the receiver's queue is full", self.address,
                        extra={"action": "sdnotify.dropped"})
            return False
        except OSError as exc:
            log.warning("sd_notify to %s failed: %s", self.address, exc,
                        extra={"action": "sdnotify.failed"})
            return False

    def watchdog(self, force: bool = False) -> None:
        if self.watchdog_interval is None:
            return
        now = time.monotonic()
        if force or now - self._last_watchdog >= self.watchdog_interval:
            self._last_watchdog = now
            self.send("WATCHDOG=1")


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


class Daemon:
    def __init__(self, store: Store, *, clock: Clock | None = None,
                 options: DaemonOptions | None = None, instance: str | None = None,
                 notify: SdNotify | None = None,
                 executor_factory: Callable[..., Any] | None = None) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self.options = options or DaemonOptions()
        self.instance = instance or instance_name()
        self.notify = notify or SdNotify()
        self.stop_event = threading.Event()
        self.started_at = self.clock.now()
        self.last_tick_at: datetime | None = None
        self._last_now: datetime | None = None    # the clock at the previous tick
        self._last_mono: float | None = None      # time.monotonic() then
        self._last_heartbeat = 0.0
        self._counter: int | None = None
        self._executor: Any = None
        self._executor_factory = executor_factory
        self.ticks = 0
        self.launched = 0
        self._signalled: int | None = None
        self._alerts = AlertsService(store, self.instance, self.clock.now,
                                     metrics_listen=self.options.metrics_listen)

    # -- control ------------------------------------------------------------------------------
    def stop(self, *_: Any) -> None:
        """Ask the loop to stop after the current transaction (from any thread)."""
        self.stop_event.set()

    def install_signals(self) -> None:
        # The handler only records the signal: taking a lock there (an Event's, a logging
        # handler's) could deadlock against the interrupted main thread. The loop notices it.
        def handler(signum: int, _frame: FrameType | None) -> None:
            self._signalled = signum

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    @property
    def stopping(self) -> bool:
        if self._signalled is not None and not self.stop_event.is_set():
            name = signal.Signals(self._signalled).name
            log.info("received %s: stopping after the current transaction", name,
                     extra={"action": "daemon.signal", "signal": name})
            self.stop_event.set()
        return self.stop_event.is_set()

    # -- the loop -----------------------------------------------------------------------------
    def run(self) -> int:
        log.info("daemon %s starting on %s (namespace %s)", self.instance, self.store.url,
                 self.store.ns, extra={"action": "daemon.started", "instance": self.instance})
        self._alerts.start()
        if self.options.execute:
            self._start_executor()
        ready = False
        backoff = BACKOFF_START
        failing_since: float | None = None   # monotonic time of the first failed tick
        failure = "store"                    # store (unavailable) | tick (any other error)
        deadline = (time.monotonic() + self.options.run_for) if self.options.run_for else None
        try:
            while not self.stopping:
                if deadline is not None and time.monotonic() >= deadline:
                    break
                try:
                    report = self.tick_once()
                    if not ready:
                        self.notify.send("READY=1", f"STATUS={self._status(report)}")
                        ready = True
                    if failing_since is not None:
                        outage = time.monotonic() - failing_since
                        log.info("ticking again after %.1f s of failures: missed occurrences "
                                 "were caught up by their policy", outage,
                                 extra={"action": f"{failure}.recovered", "outage_s": outage,
                                        "launched": len(report.launched)})
                        failing_since = None
                    backoff = BACKOFF_START
                    if self.options.exit_when_idle and self._idle() and self._alerts.idle():
                        log.info("nothing due and no run queued or running: exiting",
                                 extra={"action": "daemon.idle_exit"})
                        break
                    self._sleep_until_due()
                except StoreUnavailable as exc:
                    failing_since, failure = failing_since or time.monotonic(), "store"
                    log.error("store unavailable: %s (retrying in %.0f s)", exc.message,
                              backoff, extra={"action": "store.unavailable",
                                              "retry_in": backoff})
                    self.notify.send(f"STATUS=store unavailable: {exc.message}")
                    self.notify.watchdog()
                    self._wait(backoff)
                    backoff = min(backoff * 2, BACKOFF_CAP)
                except ClockwfError as exc:
                    failing_since, failure = failing_since or time.monotonic(), "tick"
                    log.error("tick failed: %s (retrying in %.0f s)", exc.message, backoff,
                              extra={"action": "tick.failed"})
                    self._wait(backoff)
                    backoff = min(backoff * 2, BACKOFF_CAP)
                except Exception:
                    # A bug, or a row no code path expected: dying would take the running steps
                    # down with the daemon and a restart would meet the same error. Say so
                    # loudly and retry with backoff, like an outage; `clockwf status` reports
                    # the schedules that fall behind meanwhile.
                    failing_since, failure = failing_since or time.monotonic(), "tick"
                    log.exception("tick failed unexpectedly (retrying in %.0f s)", backoff,
                                  extra={"action": "tick.error", "retry_in": backoff})
                    self._wait(backoff)
                    backoff = min(backoff * 2, BACKOFF_CAP)
        finally:
            self._shutdown()
        return 0

    def tick_once(self) -> TickReport:
        now = self.clock.now()
        mono = time.monotonic()
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
        report = tick(self.store, now, instance=self.instance,
                      batch_size=self.options.batch_size)
        self._alerts.ticked(report, time.monotonic() - mono)
        self.ticks += 1
        self.launched += len(report.launched)
        self.last_tick_at = now
        if report.launched and self._executor is not None:
            self._executor.wake()
        self._heartbeat(now, force=bool(report.launched) or self.ticks == 1)
        self.notify.watchdog()
        if report.launched or report.skipped:
            self.notify.send(f"STATUS={self._status(report)}")
        return report

    def _status(self, report: TickReport) -> str:
        return (f"ticked {iso_utc(report.now)}: {len(report.launched)} launched, "
                f"{len(report.skipped)} skipped; {self.launched} launched since start")

    def _heartbeat(self, now: datetime, force: bool = False) -> None:
        mono = time.monotonic()
        if not force and mono - self._last_heartbeat < HEARTBEAT_EVERY:
            return
        self._last_heartbeat = mono
        role = "daemon" if self.options.execute else "scheduler"
        with self.store.transaction() as tx:
            tx.heartbeat(instance_id=self.instance, hostname=socket.gethostname(),
                         pid=os.getpid(), role=role, version=__version__,
                         started_at=self.started_at, now=now, last_tick_at=self.last_tick_at,
                         status="running")

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
                try:
                    counter = self.store.wait_for_change(self._counter, slice_)
                except Exception:
                    return
                if self._counter is not None and counter != self._counter:
                    self._counter = counter
                    log.debug("woken by a change", extra={"action": "daemon.woken"})
                    return
                self._counter = counter
            else:
                time.sleep(min(slice_, 0.2))
            try:
                self._heartbeat(self.clock.now())
            except Exception:
                if watch_changes:
                    return

    # -- executor -----------------------------------------------------------------------------
    def _start_executor(self) -> None:
        factory = self._executor_factory
        if factory is None:
            from clockwf.executor import Executor

            factory = Executor
        self._executor = factory(self.store, owner=self.instance, workers=self.options.workers,
                                 lease_seconds=self.options.lease_seconds, clock=self.clock)
        self._executor.start()

    def _shutdown(self) -> None:
        self.notify.send("STOPPING=1", "STATUS=stopping")
        if self._executor is not None:
            self._executor.stop(self.options.grace)
        self._alerts.stop()
        try:
            with self.store.transaction() as tx:
                tx.mark_daemon_stopped(self.instance, self.clock.now())
        except ClockwfError:
            pass
        log.info("daemon %s stopped after %d ticks, %d runs launched", self.instance,
                 self.ticks, self.launched, extra={"action": "daemon.stopped"})
