"""One run's state as the threads of an executor share it, behind one lock.

The worker thread runs the run; the lease keeper (renewer) and :meth:`Executor.stop` may learn
something about it meanwhile. Every change goes through :class:`RunControl`, whose phase moves
only along these arrows::

    running ──> finishing ──> done          the worker writes the final status
       │            │
       │            └──> running            returning the run to the queue failed
       └──> lost ──────> done               not ours any more: nothing more is written

``running``: ours; the keeper renews its lease and may ask its step to end (a cancel, a lost
lease). ``finishing``: the worker is writing the final status; the keeper leaves it alone.
``lost``: another executor took it (our lease expired) or the store says it ended; the worker
kills its step and writes nothing.
"""

from __future__ import annotations

import enum
import threading

from clockwf.steps import CANCELLED, INTERRUPTED, StepControl
from clockwf.store.base import Row


class Phase(enum.Enum):
    RUNNING = "running"
    FINISHING = "finishing"
    LOST = "lost"
    DONE = "done"


class RunControl(StepControl):
    """What the worker running one run must know from the other threads, and the one lock
    that guards it. (As a :class:`StepControl` it also ends the running step on request.)"""

    def __init__(self, row: Row) -> None:
        super().__init__()
        self.run_id: int = int(row["run_id"])
        self.workflow_id: str = str(row["workflow_id"])
        self._guard = threading.Lock()
        self._phase = Phase.RUNNING
        self._cancel_from_store = False   # the run's stored error already says why

    @property
    def phase(self) -> Phase:
        with self._guard:
            return self._phase

    @property
    def lost(self) -> bool:
        return self.phase is Phase.LOST

    @property
    def renewable(self) -> bool:
        """The keeper renews and checks this run (it is ours and nobody is finishing it)."""
        return self.phase is Phase.RUNNING

    @property
    def cancel_from_store(self) -> bool:
        with self._guard:
            return self._cancel_from_store

    # -- the keeper's transitions ---------------------------------------------------------------
    def take_away(self, why: str) -> bool:
        """The store says the run is not ours: running -> lost, and its step is asked to end.
        False when it was not running (finishing: the final write decides; lost already)."""
        with self._guard:
            if self._phase is not Phase.RUNNING:
                return False
            self._phase = Phase.LOST
        self.request(INTERRUPTED, f"this executor lost the run ({why})")
        return True

    def cancel(self, reason: str) -> bool:
        """A cancel was requested in the store: its step is asked to end ``cancelled`` (the
        stored reason is kept). False when the run is not running or another request won."""
        with self._guard:
            if self._phase is not Phase.RUNNING:
                return False
            if not self.request(CANCELLED, f"cancelled: {reason}"):
                return False
            self._cancel_from_store = True
        return True

    # -- the worker's transitions ---------------------------------------------------------------
    def begin_finishing(self) -> bool:
        """running -> finishing; False otherwise (lost: nothing is written; finishing: another
        path of the worker is writing already)."""
        with self._guard:
            if self._phase is not Phase.RUNNING:
                return False
            self._phase = Phase.FINISHING
            return True

    def resume(self) -> None:
        """finishing -> running (the run could not be returned to the queue)."""
        with self._guard:
            if self._phase is Phase.FINISHING:
                self._phase = Phase.RUNNING

    def mark_lost(self) -> bool:
        """The worker found out while writing that the run is not ours: -> lost. True when
        this is news."""
        with self._guard:
            if self._phase in (Phase.LOST, Phase.DONE):
                return False
            self._phase = Phase.LOST
            return True

    def done(self) -> None:
        with self._guard:
            self._phase = Phase.DONE
