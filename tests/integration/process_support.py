"""Helpers for tests that run ``clockwf daemon`` and ``clockwf worker`` as real processes: a
systemd stand-in on a real notify socket, starting the command, reading its JSON log."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

# ``python -c SQLITE_LOCK_HOLDER FILE``: holds the SQLite file's write lock (BEGIN IMMEDIATE),
# says "locked", and lets it go at a line on its stdin, saying "released".
SQLITE_LOCK_HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()   # hold the write lock until told
conn.execute("ROLLBACK")
print("released", flush=True)
"""


class NotifyListener:
    """A systemd stand-in: a unix datagram socket read by a thread, as systemd reads it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                lines = self.sock.recv(4096).decode().splitlines()
            except TimeoutError:
                continue
            with self._lock:
                self.messages.extend(lines)

    def seen(self) -> list[str]:
        with self._lock:
            return list(self.messages)

    def count(self, prefix: str) -> int:
        return sum(1 for m in self.seen() if m.startswith(prefix))

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def clockwf_process(args: Sequence[str], *, prefix: Sequence[str] = (),
                    **env: str) -> subprocess.Popen[str]:
    """``clockwf ARGS`` in a process of its own (``prefix``: a wrapper such as faketime),
    logging JSON lines on stderr; no CLOCKWF_ variable of ours leaks in."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CLOCKWF_")}
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environ.get("PYTHONPATH")]))
    environ.update(env)
    return subprocess.Popen([*prefix, sys.executable, "-m", "clockwf", *args,
                             "--log-format", "json"], env=environ, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def stop_process(proc: subprocess.Popen[str]) -> str:
    """Kill the process, and its session (a wrapper's child too), if it still runs; its
    stderr."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _out, err = proc.communicate(timeout=30)
    return err


def terminate(proc: subprocess.Popen[Any], timeout: float = 30) -> int:
    """Stop the process as a service manager would: SIGTERM, then SIGKILL if it has not exited
    after ``timeout`` s. Its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


def log_actions(stderr: str) -> list[str]:
    return [json.loads(line).get("action", "") for line in stderr.splitlines()
            if line.startswith("{")]


def python_process(code: str, *args: str) -> subprocess.Popen[str]:
    """Start ``python -c code args...`` with clockwf importable; pipes on all three streams."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.Popen([sys.executable, "-c", code, *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def run_race(code: str, args_per_process: list[list[str]], timeout: float = 120) -> list[str]:
    """Run one process per argument list; each prints ``ready``, waits for a line on stdin,
    then does its work. All are released at once; returns their stdout (after ``ready``)."""
    procs = [python_process(code, *args) for args in args_per_process]
    try:
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline()
            assert line.strip() == "ready", (line, p.stderr.read() if p.stderr else "")
        for p in procs:   # every one is ready: release them together
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        ended = [p.communicate(timeout=timeout) for p in procs]
        assert [p.returncode for p in procs] == [0] * len(procs), [err for _o, err in ended]
        return [out for out, _err in ended]
    finally:
        for p in procs:
            p.kill()   # a no-op for one that has exited
            p.wait()


Race = Callable[..., list[str]]
