"""What every kind of step shares: the outcome of an attempt, the control another thread uses to
end it, and the bounded, masked tail of its output."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from clockwf.timeutil import format_duration

log = logging.getLogger("clockwf.steps")

OUTPUT_LIMIT = 64 * 1024          # bytes of output (or response body) kept per attempt
KILL_GRACE = 5.0                  # seconds between SIGTERM and SIGKILL to a process group
READ_SIZE = 64 * 1024
POLL_MAX = 0.05

LineCallback = Callable[[str], None]

# statuses of an attempt (the run_steps.status values other than 'running')
SUCCEEDED, FAILED, TIMED_OUT = "succeeded", "failed", "timed_out"
CANCELLED, INTERRUPTED = "cancelled", "interrupted"


@dataclass(frozen=True)
class StepOutcome:
    """What one attempt did."""

    status: str                     # succeeded | failed | timed_out | cancelled | interrupted
    duration_ms: int
    exit_code: int | None = None
    http_status: int | None = None
    output: str | None = None       # bounded tail, secrets masked
    error: str | None = None        # why it did not succeed, secrets masked
    retryable: bool = True          # False: another attempt cannot help (a missing variable)


class StepControl:
    """Lets another thread end a running attempt now: a cancel, a stop, a lost lease.

    The first request wins; the attempt ends with its status and message."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._reason: tuple[str, str] | None = None

    def request(self, status: str, message: str) -> bool:
        """Ask the attempt to end as ``status``; False when another request came first."""
        with self._lock:
            if self._reason is not None:
                return False
            self._reason = (status, message)
        self._event.set()
        return True

    @property
    def reason(self) -> tuple[str, str] | None:
        with self._lock:
            return self._reason

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` s; True as soon as a request has been made."""
        return self._event.wait(max(timeout, 0))


class OutputTail:
    """Keeps the last ``limit`` bytes of a stream; optionally hands out each complete line."""

    def __init__(self, limit: int, *, on_line: LineCallback | None = None,
                 redact: Callable[[str], str] = str) -> None:
        self.limit = max(limit, 0)
        self.total = 0
        self._tail = bytearray()
        self._on_line = on_line
        self._redact = redact
        self._partial = bytearray()

    def feed(self, data: bytes) -> None:
        if not data:
            return
        self.total += len(data)
        self._tail += data
        if len(self._tail) > self.limit:
            del self._tail[:len(self._tail) - self.limit]
        if self._on_line is not None:
            self._partial += data
            *lines, rest = bytes(self._partial).split(b"\n")
            self._partial = bytearray(rest)
            if len(self._partial) > self.limit:  # a line with no end in sight: hand it out
                lines.append(bytes(self._partial))
                self._partial.clear()
            for line in lines:
                self._emit(line)

    def _emit(self, line: bytes) -> None:
        if self._on_line is not None:
            self._on_line(self._redact(line.decode("utf-8", "replace").rstrip("\r")))

    def close(self) -> None:
        """Hand out a last line that had no newline."""
        if self._partial:
            self._emit(bytes(self._partial))
            self._partial.clear()

    @property
    def truncated(self) -> bool:
        return self.total > len(self._tail)

    def text(self) -> str | None:
        """The kept tail, decoded (invalid UTF-8 replaced), secrets masked; None when empty."""
        if self.total == 0:
            return None
        data = bytes(self._tail)
        if not self.truncated:
            return self._redact(data.decode("utf-8", "replace"))
        # the cut fell inside a line (and maybe inside a secret): start at the next line
        cut = data.find(b"\n")
        if 0 <= cut < len(data) - 1:
            data = data[cut + 1:]
        dropped = self.total - len(data)
        return (f"[clockwf: output truncated, the first {dropped} bytes are not kept]\n"
                + self._redact(data.decode("utf-8", "replace")))


def safe_line(callback: LineCallback | None) -> LineCallback | None:
    """A streaming callback that can never break the step (a closed pipe, a bug): its first
    failure is logged, the rest of the attempt's lines are not streamed."""
    if callback is None:
        return None
    broken = False

    def call(line: str) -> None:
        nonlocal broken
        if broken:
            return
        try:
            callback(line)
        except Exception as exc:  # streaming is best effort; the output is still kept
            broken = True
            log.warning("streaming a step's output failed (%s: %s); the rest of this attempt's "
                        "output is kept but not streamed", type(exc).__name__, exc,
                        extra={"action": "step.stream_failed"})

    return call


def elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def seconds_text(value: float) -> str:
    return format_duration(value) if value >= 1 and value == int(value) else f"{value:g}s"
