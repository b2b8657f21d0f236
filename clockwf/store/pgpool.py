"""A bounded pool of PostgreSQL connections: never more than ``size`` open at once.

Each connection is either lent to one thread or idle in the pool, and a new one is opened only
while the pool has no idle one and fewer than ``size`` are lent, so the process never holds
more than ``size`` (PostgreSQL's pool also keeps one LISTEN connection beside it: see
:mod:`clockwf.store.postgres`). A thread that finds every connection lent waits up to
``timeout`` seconds: the wait is logged (``store.pool_wait``) and counted
(:meth:`BoundedPool.stats`, shown by ``clockwf status``).

Connections are opened on demand, never in the background: while the server is down, taking
one fails at once with the server's reason, and as soon as it is back the next transaction
uses it (no reconnection backoff to wait for). A connection the server closed (a restart,
``pg_terminate_backend``) is noticed when next taken, without a round trip, and replaced.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from clockwf.errors import StoreError, StoreUnavailable
from clockwf.store.base import PoolStats

log = logging.getLogger("clockwf.store")

WAIT_LOG_EVERY = 10.0   # seconds between two store.pool_wait warnings


class BoundedPool:
    def __init__(self, connect: Callable[[], Any], size: int, timeout: float,
                 where: str) -> None:
        if size < 1:
            raise StoreError("the connection pool needs at least one connection")
        self.size = size
        self.timeout = timeout
        self.where = where
        self._connect = connect
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._idle: list[Any] = []
        self._closed = False
        self._waits = 0
        self._wait_seconds = 0.0
        self._last_warning = -WAIT_LOG_EVERY

    def stats(self) -> PoolStats:
        with self._lock:
            return PoolStats(self.size, self._waits, round(self._wait_seconds, 3))

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """Lend a connection for the block (a new one when none is idle)."""
        self._acquire()
        try:
            conn = self._take()
        except BaseException:
            self._slots.release()
            raise
        try:
            yield conn
        finally:
            self._give_back(conn)
            self._slots.release()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    # -- inside ----------------------------------------------------------------------------------
    def _acquire(self) -> None:
        if self._closed:
            raise StoreError(f"the store at {self.where} is closed")
        if self._slots.acquire(blocking=False):
            return
        started = time.monotonic()
        with self._lock:
            self._waits += 1
        self._warn_waiting(started)
        got = self._slots.acquire(timeout=self.timeout)
        waited = time.monotonic() - started
        with self._lock:
            self._wait_seconds += waited
        if not got:
            raise StoreUnavailable(
                f"all {self.size} connections of this process to PostgreSQL at {self.where} "
                f"stayed busy for {self.timeout:g} s (raise CLOCKWF_PG_POOL_SIZE, or look for "
                "slow transactions)")

    def _warn_waiting(self, now: float) -> None:
        with self._lock:
            if now - self._last_warning < WAIT_LOG_EVERY:
                return
            self._last_warning = now
            waits = self._waits
        log.warning("all %d store connections are in use: waiting for one (%d waits so far; "
                    "see `clockwf status`)", self.size, waits,
                    extra={"action": "store.pool_wait", "pool_size": self.size,
                           "waits": waits})

    def _take(self) -> Any:
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return self._connect()
            if _usable(conn):
                return conn
            conn.close()

    def _give_back(self, conn: Any) -> None:
        from psycopg.pq import TransactionStatus

        healthy = (not conn.closed and not conn.broken
                   and conn.info.transaction_status == TransactionStatus.IDLE)
        with self._lock:
            if healthy and not self._closed:
                self._idle.append(conn)
                return
        conn.close()


def _usable(conn: Any) -> bool:
    """An idle connection has nothing to read unless the server ended it (it then sends an
    error and closes the socket): only then is it tried with a query."""
    if conn.closed or conn.broken:
        return False
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    if not poller.poll(0):
        return True
    import psycopg

    try:
        conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True
