"""Where "now" comes from. Only the command line and the daemon loop read the real clock; all
logic takes the instant as an argument. Tests and rehearsals inject their own clock."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep(self, seconds: float, wake: threading.Event | None = None) -> bool:
        """Sleep up to ``seconds``; returns True when woken early by ``wake``."""
        ...


class SystemClock:
    """The real wall clock (UTC)."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float, wake: threading.Event | None = None) -> bool:
        if seconds <= 0:
            return False
        if wake is None:
            time.sleep(seconds)
            return False
        return wake.wait(seconds)


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

    def sleep(self, seconds: float, wake: threading.Event | None = None) -> bool:
        self.advance(timedelta(seconds=max(seconds, 0)))
        return False


def parse_now(text: str | None) -> datetime:
    """``--now ISO`` or the real clock; a naive value is read as UTC."""
    if text is None:
        return SystemClock().now()
    from clockwf.timeutil import parse_instant

    return parse_instant(text, what="--now").astimezone(UTC)
