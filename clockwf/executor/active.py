"""The runs an executor is running, as its threads share them, behind one lock.

The claimer (or a foreground :meth:`Executor.execute`) adds each run it claimed and counts the
table for its free worker slots; the run's worker removes it when the run ends; the lease keeper
and :meth:`Executor.stop` read copies of it, and ``stop`` waits until it is empty. Nothing is
called under the lock but a stop's deadline. Each run's own state is its
:class:`~clockwf.executor.state.RunControl`, behind a lock of its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from clockwf.executor.state import RunControl
from clockwf.store.base import Row


class ActiveRuns:
    """The controls of the runs being run, by run id, and a condition notified when one ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)   # notified when a run ends
        self._active: dict[int, RunControl] = {}

    def count(self) -> int:
        with self._lock:
            return len(self._active)

    def run_ids(self) -> list[int]:
        with self._lock:
            return sorted(self._active)

    def controls(self) -> list[RunControl]:
        with self._lock:
            return list(self._active.values())

    def add(self, row: Row) -> RunControl:
        """The control of the claimed run ``row``, in the table until :meth:`remove`."""
        control = RunControl(row)
        with self._lock:
            self._active[control.run_id] = control
        return control

    def remove(self, control: RunControl) -> None:
        """The run has ended: its control is done, then leaves the table."""
        control.done()
        with self._lock:
            self._active.pop(control.run_id, None)
            self._changed.notify_all()

    def wait_idle(self, deadline: Callable[[], float | None]) -> None:
        """Return when the table is empty or ``deadline()`` (a :func:`time.monotonic` instant,
        read again at least every 0.2 s; None: now) has passed."""
        with self._lock:
            while self._active:
                limit = deadline()
                remaining = 0.0 if limit is None else limit - time.monotonic()
                if remaining <= 0:
                    return
                self._changed.wait(min(remaining, 0.2))
