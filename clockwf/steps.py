"""One attempt of one step: a shell command or an HTTP request (docs/design.md §8). No store, no threads
of the executor: :mod:`clockwf.executor` decides which attempt runs, records it and retries.

``run`` steps start ``/bin/sh -c COMMAND`` as the leader of a new session, so the step and
everything it starts share one process group, which is what a timeout, a cancel or a stop
kills: SIGTERM to the group, then SIGKILL to whatever is left after a grace period. A step ends
when its shell exits; anything it left running in its group is terminated the same way, so a
step never outlives itself (a process that moves itself to another session escapes this, as it
does under cron). Standard output and error are read from one pipe, interleaved, and only the
last ``output_limit`` bytes are kept.

``http`` steps send the run's payload as a JSON body with :mod:`urllib.request` (TLS verified
with the default context) and need a 2xx answer. A redirect is followed only to the same scheme,
and without the step's own headers when it leads to another host.

``${env:NAME}`` references are resolved here, from the executor's environment, when the attempt
starts. The resolved values are registered as :class:`Secrets` and replaced by ``***`` in every
output tail, error and streamed line, so they are never stored or printed; messages name the
unresolved template.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import selectors
import signal
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import urlsplit

from clockwf.models import ENV_REF_RE
from clockwf.timeutil import format_duration

OUTPUT_LIMIT = 64 * 1024          # bytes of output (or response body) kept per attempt
KILL_GRACE = 5.0                  # seconds between SIGTERM and SIGKILL to a process group
MIN_SECRET_LENGTH = 4             # shorter resolved values are not masked (they would mask
                                  # ordinary text everywhere)
SHELL = "/bin/sh"
_READ_SIZE = 64 * 1024
_LINGER = 0.25                    # after the shell exits: how long to wait for the pipe's EOF
_DRAIN_LIMIT = 1.0                # at the end: how long to wait for output still in flight
_AFTER_KILL_LIMIT = 5.0           # after SIGKILL: how long to wait for the group to vanish
_POLL_MAX = 0.05

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


# -- secrets and ${env:NAME} ---------------------------------------------------------------------

class MissingVariable(Exception):
    """An ``${env:NAME}`` reference names a variable that is not set."""

    def __init__(self, name: str, where: str) -> None:
        self.name = name
        self.where = where
        self.message = f"environment variable {name} is not set (referenced by {where})"
        super().__init__(self.message)


@dataclass
class Secrets:
    """Values resolved from ``${env:NAME}`` during one attempt; masked wherever text leaves it."""

    values: set[str] = field(default_factory=set)

    def add(self, value: str) -> None:
        if len(value) >= MIN_SECRET_LENGTH:
            self.values.add(value)

    def redact(self, text: str) -> str:
        for value in sorted(self.values, key=len, reverse=True):
            text = text.replace(value, "***")
        return text


def resolve_refs(template: str, where: str, environ: Mapping[str, str],
                 secrets: Secrets) -> str:
    """``template`` with each ``${env:NAME}`` replaced by the variable's value.

    :raises MissingVariable: a referenced variable is not set (``where`` names the field, e.g.
        ``steps[1].http.headers.Authorization``).
    """
    def value(match: Any) -> str:
        name = match.group(1)
        found = environ.get(name)
        if found is None:
            raise MissingVariable(name, where)
        secrets.add(found)
        return found

    return ENV_REF_RE.sub(value, template)


# -- output --------------------------------------------------------------------------------------

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


def _safe_line(callback: LineCallback | None) -> LineCallback | None:
    """A streaming callback that can never break the step (a closed pipe, a bug)."""
    if callback is None:
        return None

    def call(line: str) -> None:
        try:
            callback(line)
        except Exception:  # streaming is best effort
            pass

    return call


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _seconds(value: float) -> str:
    return format_duration(value) if value >= 1 and value == int(value) else f"{value:g}s"


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
        entries = os.scandir("/proc")
    except OSError:
        return True  # no /proc: trust kill()
    with entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as fh:
                    stat = fh.read()
            except OSError:
                continue
            fields = stat[stat.rfind(b")") + 2:].split()
            if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
                return True
    return False


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
                    chunk = os.read(self.stdout.fileno(), _READ_SIZE)
                except BlockingIOError:
                    continue
                if chunk:
                    self.tail.feed(chunk)
                else:
                    self._close_stdout()
            elif key.data == "in" and self.stdin is not None:
                try:
                    written = os.write(self.stdin.fileno(), self.pending[:_READ_SIZE])
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
            poll = min(poll * 2, _POLL_MAX)
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
        return StepOutcome(FAILED, _elapsed_ms(started),
                           error=redact(f"cannot start {SHELL}{where}: {exc.strerror or exc}"))
    tail = OutputTail(output_limit, on_line=_safe_line(on_line), redact=redact)
    pipes = _Pipes(proc, request.stdin, tail)
    deadline = None if request.timeout is None else started + request.timeout
    ending: tuple[str, str] | None = None
    try:
        poll = 0.001
        while proc.poll() is None:
            ending = control.reason
            if ending is None and deadline is not None and time.monotonic() >= deadline:
                ending = (TIMED_OUT, f"timed out after {_seconds(request.timeout or 0)}; "
                                     "its process group was killed")
            if ending is not None:
                _terminate(proc, pipes, kill_grace)
                break
            pipes.pump(poll)
            poll = min(poll * 2, _POLL_MAX)
        else:
            # the shell is done: collect its output, then end what it left in its group
            linger = time.monotonic() + _LINGER
            while not pipes.eof and time.monotonic() < linger:
                pipes.pump(linger - time.monotonic())
            if group_alive(proc.pid):
                _terminate(proc, pipes, kill_grace)
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
    duration = _elapsed_ms(started)
    output = tail.text()
    if ending is not None:
        return StepOutcome(ending[0], duration, output=output, error=redact(ending[1]))
    code = proc.returncode
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


# -- http ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HttpRequest:
    url: str                        # resolved
    method: str
    headers: Mapping[str, str]      # resolved
    body: bytes | None
    timeout: float
    label: str                      # the url template, for messages (never the resolved url)


class _RedirectRefused(urllib.error.HTTPError):
    pass


class _SafeRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to the same scheme; to another host, without our headers."""

    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
                         headers: Any, newurl: str) -> urllib.request.Request | None:
        old, new = urlsplit(req.full_url), urlsplit(newurl)
        if new.scheme.lower() != old.scheme.lower():
            raise _RedirectRefused(
                req.full_url, code,
                f"refused a redirect from {old.scheme or '?'} to {new.scheme or '?'}",
                headers, fp)
        follow = super().redirect_request(req, fp, code, msg, headers, newurl)
        if follow is not None and new.netloc.lower() != old.netloc.lower():
            for name in list(follow.headers):
                if name.lower() not in ("user-agent", "accept"):
                    del follow.headers[name]
        return follow


def build_opener() -> urllib.request.OpenerDirector:
    """urllib with certificate verification (the default context) and safe redirects."""
    return urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=ssl.create_default_context()), _SafeRedirects())


@dataclass
class _HttpResult:
    done: threading.Event = field(default_factory=threading.Event)
    abandoned: bool = False
    status: int | None = None
    reason: str = ""
    error: str | None = None        # the request failed (no status, or a broken body)
    refused: str | None = None      # a redirect that was not followed
    timed_out: bool = False


def _describe(exc: BaseException, label: str) -> tuple[str, bool]:
    """(message, timed out) for a failed request."""
    if isinstance(exc, TimeoutError):
        return f"no answer from {label} in time", True
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            return f"no answer from {label} in time", True
        if isinstance(reason, ssl.SSLCertVerificationError):
            return (f"TLS certificate verification failed for {label}: "
                    f"{reason.verify_message or reason}"), False
        if isinstance(reason, OSError) and reason.strerror:
            return f"cannot reach {label}: {reason.strerror}", False
        return f"cannot reach {label}: {reason}", False
    if isinstance(exc, ssl.SSLError):
        return f"TLS error with {label}: {exc.reason or exc}", False
    if isinstance(exc, http.client.HTTPException):
        return f"bad HTTP answer from {label}: {type(exc).__name__} {exc}".rstrip(), False
    if isinstance(exc, ValueError):
        return f"invalid request to {label}: {exc}", False
    if isinstance(exc, OSError):
        return f"request to {label} failed: {exc.strerror or exc}", False
    return f"request to {label} failed: {type(exc).__name__}: {exc}", False


def _http_worker(request: HttpRequest, opener: urllib.request.OpenerDirector,
                 tail: OutputTail, result: _HttpResult) -> None:
    try:
        req = urllib.request.Request(request.url, data=request.body, method=request.method,
                                     headers=dict(request.headers))
        try:
            response: Any = opener.open(req, timeout=request.timeout)
        except _RedirectRefused as exc:
            response = exc
            result.refused = exc.msg
        except urllib.error.HTTPError as exc:
            response = exc
        with response:
            result.status = int(getattr(response, "status", None) or response.code)
            result.reason = str(getattr(response, "reason", "") or "")
            while not result.abandoned:
                chunk = response.read(_READ_SIZE)
                if not chunk:
                    break
                tail.feed(chunk)
    except BaseException as exc:  # reported as the attempt's failure
        result.error, result.timed_out = _describe(exc, request.label)
    finally:
        result.done.set()


def run_http(request: HttpRequest, control: StepControl, *, output_limit: int = OUTPUT_LIMIT,
             opener: urllib.request.OpenerDirector | None = None,
             redact: Callable[[str], str] = str) -> StepOutcome:
    """Send one request; succeed on a 2xx. The request runs in a helper thread so that a
    cancel, a stop or the overall timeout ends the attempt at once (the helper then ends by
    its socket timeout)."""
    started = time.monotonic()
    tail = OutputTail(output_limit, redact=redact)
    result = _HttpResult()
    helper = threading.Thread(target=_http_worker, name="clockwf-http", daemon=True,
                              args=(request, opener or build_opener(), tail, result))
    helper.start()
    deadline = started + request.timeout
    while not result.done.wait(min(_POLL_MAX, max(deadline - time.monotonic(), 0))):
        reason = control.reason
        if reason is not None:
            result.abandoned = True
            return StepOutcome(reason[0], _elapsed_ms(started), http_status=result.status,
                               output=tail.text(), error=redact(reason[1]))
        if time.monotonic() >= deadline:
            result.abandoned = True
            return StepOutcome(TIMED_OUT, _elapsed_ms(started), http_status=result.status,
                               output=tail.text(),
                               error=f"no complete answer from {request.label} within "
                                     f"{_seconds(request.timeout)}")
    duration = _elapsed_ms(started)
    output = tail.text()
    if result.status is None or result.error is not None:
        status = TIMED_OUT if result.timed_out else FAILED
        return StepOutcome(status, duration, http_status=result.status, output=output,
                           error=redact(result.error or f"no answer from {request.label}"))
    if 200 <= result.status < 300:
        return StepOutcome(SUCCEEDED, duration, http_status=result.status, output=output)
    detail = result.refused or f"HTTP {result.status} {result.reason}".rstrip()
    return StepOutcome(FAILED, duration, http_status=result.status, output=output,
                       error=redact(f"{detail} from {request.label} (a 2xx answer is needed)"))
