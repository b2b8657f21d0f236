"""Where "now" comes from. Only the command line and the daemon loop read the real clock; all
logic takes the instant as an argument. Tests and rehearsals inject their own clock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """What reads "now". Waiting is not the clock's: loops wait on events and the monotonic
    clock, so a test that moves this clock never has to move sleeps with it."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real wall clock (UTC)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to (tests, simulations)."""

    def __init__(self, start: datetime) -> None:
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta



def parse_now(text: str | None) -> datetime:
    """``--now ISO`` or the real clock; a naive value is read as UTC."""
    if text is None:
        return SystemClock().now()
    from clockwf.timeutil import parse_instant

    return parse_instant(text, what="--now").astimezone(UTC)
