"""The lease protocol, executor side: renew the leases of our runs, read them back, and sweep
the runs of dead executors.

Leases are compared with the database's clock only (``renew_leases``/``expire_leases`` compute
and compare ``lease_expires_at`` in SQL), so hosts whose clocks disagree never expire each
other's live runs. The keeper's thread runs while someone needs it: the executor's pool from
``start`` to ``stop``, and each foreground ``execute``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from clockwf.errors import ClockwfError
from clockwf.executor.ledger import Ledger
from clockwf.executor.state import RunControl
from clockwf.store.base import Row

log = logging.getLogger("clockwf.executor")


class LeaseKeeper:
    """Every ``lease/3`` renews the leases of the runs ``controls()`` lists; about once a
    second reads them back: a requested cancel (``clockwf runs cancel``, overlap
    ``cancel_previous``) ends the step ``cancelled``; a run that is no longer ours (our lease
    expired and another executor marked it ``interrupted``) becomes lost."""

    def __init__(self, ledger: Ledger, controls: Callable[[], list[RunControl]]) -> None:
        self.ledger = ledger
        self.controls = controls
        self.renew_interval = ledger.lease_seconds / 3
        self.check_interval = min(1.0, self.renew_interval)
        self._lock = threading.Lock()
        self._users = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- the thread, shared by its users ---------------------------------------------------------
    def acquire(self) -> None:
        with self._lock:
            self._users += 1
            if self._thread is None:
                self._stop.clear()
                self._thread = threading.Thread(target=self._loop, name="clockwf-renewer",
                                                daemon=True)
                self._thread.start()

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users > 0 or self._thread is None:
                return
            self._stop.set()
            self._thread.join()
            self._thread = None

    # -- the sweep (called by the claimer) -------------------------------------------------------
    def sweep(self) -> None:
        """Renew ours, then turn the runs of dead executors into ``interrupted``."""
        ours = [c.run_id for c in self.controls() if not c.lost]
        for run_id in self.ledger.renew_and_expire(ours):
            log.warning("run %s interrupted: its executor stopped renewing its lease", run_id,
                        extra={"action": "lease.expired", "run_id": run_id})

    # -- the renewer thread ----------------------------------------------------------------------
    def _loop(self) -> None:
        next_renew = time.monotonic() + self.renew_interval
        while not self._stop.wait(self.check_interval):
            controls = [c for c in self.controls() if c.renewable]
            if not controls:
                continue
            renew = time.monotonic() >= next_renew
            ids = [c.run_id for c in controls]
            try:
                rows = self.ledger.renew_and_read(ids, renew)
            except Exception as exc:  # logged with an action; retried at the next check
                message = exc.message if isinstance(exc, ClockwfError) else repr(exc)
                log.warning("cannot %s the leases of runs %s: %s", "renew" if renew else "check",
                            ids, message, extra={"action": "lease.renew_failed",
                                                 "run_ids": ids})
                continue
            if renew:
                next_renew = time.monotonic() + self.renew_interval
            for control in controls:
                self._apply(control, rows.get(control.run_id))

    def _apply(self, control: RunControl, row: Row | None) -> None:
        if not self.ledger.holds(row):
            state = "gone" if row is None else str(row["status"])
            if control.take_away(f"it is {state} now"):
                log.warning("run %s is not ours any more (%s): stopping it without writing",
                            control.run_id, state,
                            extra={"action": "lease.lost", "run_id": control.run_id})
            return
        assert row is not None
        if row["cancel_requested"]:
            reason = row.get("error") or "cancel requested"
            if control.cancel(reason):
                log.info("run %s: cancel requested (%s)", control.run_id, reason,
                         extra={"action": "run.cancel_requested", "run_id": control.run_id})
