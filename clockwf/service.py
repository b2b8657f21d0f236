"""One process lifecycle for ``clockwf daemon`` and ``clockwf worker``.

:class:`Service` owns what both commands do around their work: signals, the heartbeat row in
the store, systemd's notify protocol, and the drain at the end.

- **Signals.** The first SIGTERM or SIGINT asks the main loop to stop: no new run is claimed
  and running steps may finish within ``grace`` seconds (then their process groups are killed
  and their runs end ``interrupted``). A second signal stops now: running steps are killed at
  once and their runs end ``interrupted``, as a lost lease would end them (when the store
  cannot be written, the lease expires and another executor's sweep does it).
- **Heartbeat.** Every ``HEARTBEAT_EVERY`` seconds, the ``daemons`` row of this instance
  (``clockwf status``); the database's clock stamps it.
- **sd_notify** (when ``$NOTIFY_SOCKET`` is set): ``READY=1`` once working, ``WATCHDOG=1`` at
  half of ``$WATCHDOG_USEC`` (also while draining), ``STATUS=`` lines, ``STOPPING=1`` and,
  while a drain lasts, ``EXTEND_TIMEOUT_USEC=`` so that systemd waits for the grace period.

Signal handlers only record the signal (taking a lock there could deadlock against the
interrupted main thread); the loops notice it.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime
from types import FrameType
from typing import Any, Protocol

from clockwf import __version__
from clockwf.clock import Clock
from clockwf.errors import ClockwfError
from clockwf.store.base import Store

log = logging.getLogger("clockwf.service")

HEARTBEAT_EVERY = 5.0
SLICE = 0.2                 # how often a sleeping loop looks at signals and the watchdog
EXTEND_MARGIN_S = 15.0      # EXTEND_TIMEOUT_USEC: the drain's remaining time plus this
EXTEND_EVERY = 5.0          # ... re-sent this often while draining


class Drainable(Protocol):
    """What the lifecycle needs of an executor."""

    @property
    def active_runs(self) -> list[int]: ...

    def hurry(self) -> None: ...

    def stop(self, grace: float) -> None: ...


class SdNotify:
    """systemd's notify protocol: datagrams to $NOTIFY_SOCKET (no-op when unset)."""

    def __init__(self, address: str | None = None) -> None:
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET")
        self.address = address or None
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
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
            with self._lock:
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


class Service:
    """The lifecycle of one ``daemon`` or ``worker`` process (see the module's text).

    ``name`` prefixes the log actions (``daemon.signal``, ``worker.stopped``); ``role`` is
    the heartbeat's role; ``describe`` gives the heartbeat's status text."""

    def __init__(self, store: Store, *, name: str, role: str, instance: str, clock: Clock,
                 grace: float, notify: SdNotify | None = None,
                 describe: Callable[[], str] | None = None) -> None:
        self.store = store
        self.name = name
        self.role = role
        self.instance = instance
        self.clock = clock
        self.grace = grace
        self.notify = notify or SdNotify()
        self.describe = describe or (lambda: "running")
        self.executor: Drainable | None = None
        self.started_at = clock.now()
        self.last_tick_at: datetime | None = None
        self.stop_event = threading.Event()
        self._signals: list[str] = []
        self._last_heartbeat = 0.0

    # -- signals -------------------------------------------------------------------------------
    def install_signals(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._signals.append(signal.Signals(signum).name)   # no lock: see the module's text
        if len(self._signals) > 1 and self.executor is not None:
            self.executor.hurry()

    def request_stop(self) -> None:
        """Ask the main loop to stop (from any thread), as a first signal does."""
        self.stop_event.set()

    @property
    def stopping(self) -> bool:
        if self._signals and not self.stop_event.is_set():
            name = self._signals[0]
            log.info("received %s: stopping (a second signal stops at once)", name,
                     extra={"action": f"{self.name}.signal", "signal": name})
            self.stop_event.set()
        return self.stop_event.is_set()

    @property
    def hurried(self) -> bool:
        return len(self._signals) > 1

    # -- while working ---------------------------------------------------------------------------
    def ready(self, status: str) -> None:
        self.notify.send("READY=1", f"STATUS={status}")

    def status(self, status: str) -> None:
        self.notify.send(f"STATUS={status}")

    def heartbeat(self, *, force: bool = False, status: str | None = None) -> None:
        """Write the heartbeat row (at most every HEARTBEAT_EVERY s unless ``force``);
        store errors are raised."""
        mono = time.monotonic()
        if not force and mono - self._last_heartbeat < HEARTBEAT_EVERY:
            return
        self._last_heartbeat = mono
        with self.store.transaction() as tx:
            tx.heartbeat(instance_id=self.instance, hostname=socket.gethostname(),
                         pid=os.getpid(), role=self.role, version=__version__,
                         started_at=self.started_at, last_tick_at=self.last_tick_at,
                         status=status or self.describe(), pool=self.store.pool_stats())

    def keepalive(self, status: str | None = None, *, force: bool = False) -> bool:
        """Watchdog and heartbeat; False when the heartbeat could not be written (logged)."""
        self.notify.watchdog()
        try:
            self.heartbeat(status=status, force=force)
        except ClockwfError as exc:
            log.warning("cannot write the heartbeat: %s", exc.message,
                        extra={"action": "heartbeat.failed"})
            return False
        except Exception:  # a bug: logged with an action, the loop goes on
            log.exception("cannot write the heartbeat", extra={"action": "heartbeat.error"})
            return False
        return True

    def sleep(self, seconds: float) -> None:
        """Sleep in short slices, keeping the watchdog and heartbeat; returns early once
        stopping."""
        end = time.monotonic() + seconds
        while not self.stopping and (remaining := end - time.monotonic()) > 0:
            time.sleep(min(remaining, SLICE))
            self.keepalive()

    # -- the end -------------------------------------------------------------------------------
    def shutdown(self, summary: str) -> None:
        """STOPPING=1, drain the executor within the grace period (the watchdog and
        EXTEND_TIMEOUT_USEC kept meanwhile), mark this instance stopped."""
        self.notify.send("STOPPING=1", "STATUS=stopping")
        if self.executor is not None:
            self._drain(self.executor)
        try:
            with self.store.transaction() as tx:
                tx.mark_daemon_stopped(self.instance, self.clock.now())
        except ClockwfError as exc:
            log.warning("cannot mark %s stopped: %s", self.instance, exc.message,
                        extra={"action": "heartbeat.failed"})
        log.info("%s %s stopped%s", self.name, self.instance, summary,
                 extra={"action": f"{self.name}.stopped", "instance": self.instance})

    def _drain(self, executor: Drainable) -> None:
        self.keepalive(status="stopping", force=True)
        if self.hurried:
            executor.hurry()
        done = threading.Event()
        keeper = threading.Thread(target=self._keep_draining, args=(done,),
                                  name="clockwf-drain", daemon=True)
        keeper.start()
        try:
            executor.stop(self.grace)
        finally:
            done.set()
            keeper.join()

    def _keep_draining(self, done: threading.Event) -> None:
        """While the executor drains: the watchdog, EXTEND_TIMEOUT_USEC, a second signal."""
        deadline = time.monotonic() + max(self.grace, 0)
        next_extend = 0.0
        announced = False
        while True:
            self.notify.watchdog()
            if self.hurried and not announced:
                announced = True
                self._announce_hurry()
                deadline = time.monotonic()
            if time.monotonic() >= next_extend:
                remaining = max(deadline - time.monotonic(), 0) + EXTEND_MARGIN_S
                self.notify.send(f"EXTEND_TIMEOUT_USEC={int(remaining * 1e6)}",
                                 f"STATUS=stopping: {len(_runs(self.executor))} runs draining")
                next_extend = time.monotonic() + EXTEND_EVERY
            if done.wait(SLICE):
                if self.hurried and not announced:   # it came after the last look
                    self._announce_hurry()
                return

    def _announce_hurry(self) -> None:
        log.warning("received a second signal: stopping now",
                    extra={"action": f"{self.name}.hurry"})


def _runs(executor: Any) -> list[int]:
    return list(executor.active_runs) if executor is not None else []
