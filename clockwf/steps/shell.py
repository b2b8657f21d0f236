"""``run`` steps: ``/bin/sh -c COMMAND`` in a process group of its own.

The shell is the leader of a new session, so the step and everything it starts share one
process group, which is what a timeout, a cancel or a stop kills: SIGTERM to the group, then
SIGKILL to whatever is left after a grace period. A step ends when its shell exits; anything it
left running in its group is terminated the same way, so a step never outlives itself (a process
that moves itself to another session escapes this, as it does under cron). Standard output and
error are read from one pipe, interleaved, and only the last ``output_limit`` bytes are kept.

The run's payload goes to the shell on stdin and in a private file named by
``CLOCKWF_PAYLOAD_FILE`` (removed when the attempt ends); ``CLOCKWF_PAYLOAD`` holds it too while
it is at most :data:`PAYLOAD_ENV_LIMIT` bytes (the kernel refuses to start a program with one
environment string over 128 KiB).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO

from clockwf.steps.common import (
    FAILED,
    KILL_GRACE,
    OUTPUT_LIMIT,
    POLL_MAX,
    READ_SIZE,
    SUCCEEDED,
    TIMED_OUT,
    LineCallback,
    OutputTail,
    StepControl,
    StepOutcome,
    elapsed_ms,
    log,
    safe_line,
    seconds_text,
)

SHELL = "/bin/sh"
PAYLOAD_ENV_LIMIT = 32 * 1024     # bytes: CLOCKWF_PAYLOAD is set only up to this size
_LINGER = 0.25                    # after the shell exits: how long to wait for the pipe's EOF
_DRAIN_LIMIT = 1.0                # at the end: how long to wait for output still in flight
_AFTER_KILL_LIMIT = 5.0           # after SIGKILL: how long to wait for the group to vanish


# -- process groups ------------------------------------------------------------------------------

def group_alive(pgid: int) -> bool:
    """Whether any process of the group still lives (zombies do not count: on a host whose init
    does not reap orphans, they linger but hold nothing)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return any(state not in ("Z", "X") for _pid, state, _ppid in group_members(pgid))
    except OSError:
        return True  # no /proc: trust kill()


def group_members(pgid: int) -> Iterator[tuple[int, str, int]]:
    """(pid, state, parent pid) of each process whose process group is ``pgid``, read from
    /proc (OSError without it). A process that ends while it is read is left out."""
    with os.scandir("/proc") as entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as fh:
                    stat = fh.read()
            except OSError:
                continue
            fields = stat[stat.rfind(b")") + 2:].split()
            if len(fields) > 2 and int(fields[2]) == pgid:
                yield int(entry.name), fields[0].decode(), int(fields[1])


def signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


@dataclass(frozen=True)
class ShellRequest:
    command: str
    env: Mapping[str, str]          # the whole environment of the shell
    cwd: str | None
    stdin: bytes
    timeout: float | None           # seconds; None: no limit


class _Pipes:
    """Feeds the shell's stdin and reads its output without blocking either way."""

    def __init__(self, proc: subprocess.Popen[bytes], data: bytes, tail: OutputTail) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        self.tail = tail
        self.sel = selectors.DefaultSelector()
        self.stdout: IO[bytes] | None = proc.stdout
        self.stdin: IO[bytes] | None = proc.stdin
        self.pending = memoryview(data)
        os.set_blocking(proc.stdout.fileno(), False)
        self.sel.register(proc.stdout.fileno(), selectors.EVENT_READ, "out")
        if self.pending:
            os.set_blocking(proc.stdin.fileno(), False)
            self.sel.register(proc.stdin.fileno(), selectors.EVENT_WRITE, "in")
        else:
            self._close_stdin()

    @property
    def eof(self) -> bool:
        return self.stdout is None

    def _close_stdin(self) -> None:
        if self.stdin is not None:
            with contextlib.suppress(KeyError, OSError, ValueError):
                self.sel.unregister(self.stdin.fileno())
            with contextlib.suppress(OSError):  # EPIPE on close: the shell did not read it
                self.stdin.close()
            self.stdin = None

    def _close_stdout(self) -> None:
        if self.stdout is not None:
            with contextlib.suppress(KeyError, OSError, ValueError):
                self.sel.unregister(self.stdout.fileno())
            self.stdout.close()
            self.stdout = None

    def pump(self, timeout: float) -> None:
        """Move data for up to ``timeout`` s (less when something happens)."""
        if not self.sel.get_map():
            time.sleep(max(timeout, 0))
            return
        for key, _mask in self.sel.select(max(timeout, 0)):
            if key.data == "out" and self.stdout is not None:
                try:
                    chunk = os.read(self.stdout.fileno(), READ_SIZE)
                except BlockingIOError:
                    continue
                if chunk:
                    self.tail.feed(chunk)
                else:
                    self._close_stdout()
            elif key.data == "in" and self.stdin is not None:
                try:
                    written = os.write(self.stdin.fileno(), self.pending[:READ_SIZE])
                except BlockingIOError:
                    continue
                except OSError:  # the shell closed its stdin (or exited): it did not want it
                    self._close_stdin()
                    continue
                self.pending = self.pending[written:]
                if not self.pending:
                    self._close_stdin()

    def close(self) -> None:
        self._close_stdin()
        self._close_stdout()
        self.sel.close()


def _terminate(proc: subprocess.Popen[bytes], pipes: _Pipes, kill_grace: float) -> None:
    """SIGTERM to the whole group, SIGKILL to what is left after ``kill_grace`` s; returns when
    no process of the group is left (or, at worst, shortly after SIGKILL)."""
    pgid = proc.pid
    signal_group(pgid, signal.SIGTERM)
    for sig, limit in ((signal.SIGKILL, kill_grace), (None, _AFTER_KILL_LIMIT)):
        deadline = time.monotonic() + limit
        poll = 0.002
        while True:
            proc.poll()  # reap the shell so that it does not count as alive
            if not group_alive(pgid):
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            pipes.pump(min(poll, remaining))
            poll = min(poll * 2, POLL_MAX)
        if sig is not None:
            signal_group(pgid, sig)


def run_shell(request: ShellRequest, control: StepControl, *, output_limit: int = OUTPUT_LIMIT,
              kill_grace: float = KILL_GRACE, on_line: LineCallback | None = None,
              redact: Callable[[str], str] = str) -> StepOutcome:
    """Run ``/bin/sh -c COMMAND`` in a new process group until it exits, times out or is
    ended through ``control``. Never raises for a failure of the command itself."""
    started = time.monotonic()
    if request.cwd is not None and not os.path.isdir(request.cwd):
        what = "does not exist" if not os.path.exists(request.cwd) else "is not a directory"
        return StepOutcome(FAILED, 0, error=f"working directory {request.cwd} {what}")
    try:
        proc = subprocess.Popen(  # the command is passed verbatim
            [SHELL, "-c", request.command], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, cwd=request.cwd, env=dict(request.env),
            start_new_session=True, close_fds=True)
    except OSError as exc:
        where = f" in {request.cwd}" if request.cwd else ""
        return StepOutcome(FAILED, elapsed_ms(started),
                           error=redact(f"cannot start {SHELL}{where}: {exc.strerror or exc}"))
    tail = OutputTail(output_limit, on_line=safe_line(on_line), redact=redact)
    pipes = _Pipes(proc, request.stdin, tail)
    deadline = None if request.timeout is None else started + request.timeout
    try:
        ending = _wait(proc, pipes, control, deadline, request.timeout, kill_grace)
        drain = time.monotonic() + _DRAIN_LIMIT
        while not pipes.eof and time.monotonic() < drain:  # a process outside the group may
            pipes.pump(drain - time.monotonic())            # hold the pipe: do not wait for it
    except BaseException:
        # KeyboardInterrupt in a foreground run, or a bug: the group must not outlive us
        signal_group(proc.pid, signal.SIGKILL)
        raise
    finally:
        pipes.close()
        tail.close()
        if proc.poll() is None:
            signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
    duration = elapsed_ms(started)
    output = tail.text()
    if ending is not None:
        return StepOutcome(ending[0], duration, output=output, error=redact(ending[1]))
    return _exited(proc.returncode, duration, output)


def _wait(proc: subprocess.Popen[bytes], pipes: _Pipes, control: StepControl,
          deadline: float | None, timeout: float | None, kill_grace: float
          ) -> tuple[str, str] | None:
    """Pump the pipes until the shell exits, or until ``control`` or ``deadline`` ends the step:
    then its group is terminated and the ending (status, message) returned. After a shell that
    exited by itself (None), its output is collected and what it left in its group
    terminated."""
    poll = 0.001
    while proc.poll() is None:
        ending = control.reason
        if ending is None and deadline is not None and time.monotonic() >= deadline:
            ending = (TIMED_OUT, f"timed out after {seconds_text(timeout or 0)}; "
                                 "its process group was killed")
        if ending is not None:
            _terminate(proc, pipes, kill_grace)
            return ending
        pipes.pump(poll)
        poll = min(poll * 2, POLL_MAX)
    # the shell is done: collect its output, then end what it left in its group
    linger = time.monotonic() + _LINGER
    while not pipes.eof and time.monotonic() < linger:
        pipes.pump(linger - time.monotonic())
    if group_alive(proc.pid):
        _terminate(proc, pipes, kill_grace)
    return None


def _exited(code: int, duration: int, output: str | None) -> StepOutcome:
    """The outcome of a shell that exited by itself with ``code`` (negative: the signal that
    killed it)."""
    if code == 0:
        return StepOutcome(SUCCEEDED, duration, exit_code=0, output=output)
    if code > 0:
        return StepOutcome(FAILED, duration, exit_code=code, output=output,
                           error=f"exit code {code}")
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    return StepOutcome(FAILED, duration, output=output, error=f"the shell was killed by {name}")


def write_payload_file(payload: bytes) -> str:
    """A new file only the daemon's user can read (mode 0600), holding ``payload``."""
    fd, path = tempfile.mkstemp(prefix="clockwf-payload-", suffix=".json")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
    except OSError:
        remove_payload_file(path)
        raise
    return path


def remove_payload_file(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:  # the step removed it itself
        pass
    except OSError as exc:
        log.warning("cannot remove the payload file %s: %s", path, exc.strerror or exc,
                    extra={"action": "step.payload_file_left", "path": path})


def payload_environment(payload: bytes, path: str) -> dict[str, str]:
    """The payload variables of a ``run`` attempt."""
    env = {"CLOCKWF_PAYLOAD_FILE": path}
    if len(payload) <= PAYLOAD_ENV_LIMIT:
        env["CLOCKWF_PAYLOAD"] = payload.decode("utf-8", "replace")
    return env


def run_command(command: str, env: Mapping[str, str], cwd: str | None, payload: bytes,
                timeout: float | None, control: StepControl, *,
                output_limit: int = OUTPUT_LIMIT, kill_grace: float = KILL_GRACE,
                on_line: LineCallback | None = None,
                redact: Callable[[str], str] = str) -> StepOutcome:
    """One ``run`` attempt with its payload on stdin, in ``CLOCKWF_PAYLOAD_FILE`` and, while
    small, in ``CLOCKWF_PAYLOAD`` (an inherited ``CLOCKWF_PAYLOAD`` never passes through)."""
    try:
        path = write_payload_file(payload)
    except OSError as exc:
        return StepOutcome(FAILED, 0, error=f"cannot write the payload file in "
                                            f"{tempfile.gettempdir()}: {exc.strerror or exc}")
    try:
        full = {name: value for name, value in env.items()
                if name not in ("CLOCKWF_PAYLOAD", "CLOCKWF_PAYLOAD_FILE")}
        full.update(payload_environment(payload, path))
        return run_shell(ShellRequest(command, full, cwd, payload, timeout), control,
                         output_limit=output_limit, kill_grace=kill_grace, on_line=on_line,
                         redact=redact)
    finally:
        remove_payload_file(path)
