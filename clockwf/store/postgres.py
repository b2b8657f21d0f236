"""The PostgreSQL store: psycopg 3, a bounded connection pool, LISTEN/NOTIFY for wake-ups.

Connections: a :class:`~clockwf.store.pgpool.BoundedPool` of at most ``pool_size`` (``clockwf
daemon`` and ``clockwf worker`` size it from their own threads, see
:func:`clockwf.daemon.store_connections`; other commands take ``CLOCKWF_PG_POOL_SIZE``,
default 4), plus one LISTEN connection while a daemon sleeps. A process therefore never holds
more than ``pool_size + 1`` connections. ``CLOCKWF_PG_TIMEOUT`` (default 10 s) bounds both
connecting and waiting for a free pooled connection. Every connection carries
``application_name`` ``<name>:<pid>`` (``clockwf-daemon:4242``), to be found in
``pg_stat_activity``.

Every connection runs in autocommit mode with the session time zone set to UTC, so
timestamptz values come back as aware UTC datetimes; each store transaction is an explicit
``BEGIN ... COMMIT``. Several daemons may share the database: due schedules and queued runs are
claimed with ``FOR UPDATE SKIP LOCKED``, fire keys are arbitrated by the UNIQUE index, and
leases and heartbeats are stamped and compared with the server's clock.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, dict_row

from clockwf.errors import InvalidInput, StoreError, StoreUnavailable
from clockwf.store.base import MigrationStatus, PoolStats, Row, Store
from clockwf.store.common import Connector, Migrator, env_number, load_queries
from clockwf.store.manager import Tx
from clockwf.store.pgpool import BoundedPool

POOL_SIZE_ENV = "CLOCKWF_PG_POOL_SIZE"
TIMEOUT_ENV = "CLOCKWF_PG_TIMEOUT"
DEFAULT_POOL_SIZE = 4
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_APPLICATION = "clockwf"

PgConnection = psycopg.Connection[DictRow]

# SQLSTATE classes that mean "the server cannot be used right now", not "the query is wrong":
# 08 connection exception, 53 insufficient resources, 57P admin/crash shutdown or cannot
# connect now, 3D000 the database does not exist.
_UNAVAILABLE_PREFIXES = ("08", "53", "57P", "3D000")


class PgConnector(Connector):
    def __init__(self, conn: PgConnection, queries: Mapping[str, str],
                 store: PostgresStore) -> None:
        super().__init__(queries)
        self.conn = conn
        self.store = store

    def _run(self, name: str, params: Mapping[str, Any]) -> psycopg.Cursor[DictRow]:
        try:
            return self.conn.execute(self.queries[name], params)
        except psycopg.Error as exc:
            raise self.store.map_error(exc) from exc

    def all(self, name: str, params: Mapping[str, Any]) -> list[Row]:
        cur = self._run(name, params)
        return cur.fetchall() if cur.description is not None else []

    def execute(self, name: str, params: Mapping[str, Any]) -> int:
        return self._run(name, params).rowcount

    def batch(self, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
              params: Mapping[str, Any]) -> list[Row]:
        bound = dict(params)
        bound.update(zip(columns, (list(col) for col in zip(*rows, strict=True)), strict=True))
        return self.all(name, bound)

    def script(self, sql: str) -> None:
        try:
            self.conn.execute(sql)  # no parameters: several statements in one go
        except psycopg.Error as exc:
            raise self.store.map_error(exc) from exc


class PostgresStore(Store):
    """A PostgreSQL database; ``create`` and ``check_schema`` as in
    :func:`clockwf.store.open_store` (the database itself must exist)."""

    backend = "postgresql"

    def __init__(self, url: str, ns: str, *, redacted_url: str, create: bool = True,
                 check_schema: bool = True, pool_size: int | None = None,
                 timeout: float | None = None, application_name: str | None = None) -> None:
        self.url = redacted_url
        self.ns = ns
        try:
            info = conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise InvalidInput(f"invalid PostgreSQL URL {redacted_url!r}: {exc}") from None
        self.where = (f"{info.get('host') or 'localhost'}:{info.get('port') or 5432}/"
                      f"{info.get('dbname') or info.get('user') or '(default)'}")
        self.timeout = timeout or env_number(TIMEOUT_ENV, DEFAULT_TIMEOUT_S)
        size = pool_size or int(env_number(POOL_SIZE_ENV, DEFAULT_POOL_SIZE))
        self._conninfo = url
        self._connect_kwargs: dict[str, Any] = {"autocommit": True, "row_factory": dict_row}
        if "connect_timeout" not in info:
            self._connect_kwargs["connect_timeout"] = max(1, round(self.timeout))
        if "application_name" not in info:
            self._connect_kwargs["application_name"] = (
                f"{application_name or DEFAULT_APPLICATION}:{os.getpid()}")
        self._queries = load_queries("postgresql")
        self._listener: PgConnection | None = None
        self._listen_lock = threading.Lock()

        self._connect().close()  # fail fast, with the server's reason
        self.pool = BoundedPool(self._connect, max(1, size), self.timeout, self.where)
        self.migrator = Migrator("postgresql", self.url,
                                 locked=partial(self._begin, lock_migrations=True),
                                 read=self._begin)
        try:
            if check_schema:
                self.migrator.ensure_current(initialise=create)
        except BaseException:
            self.close()
            raise

    # -- errors -------------------------------------------------------------------------------
    def unreachable(self, reason: str) -> StoreUnavailable:
        return StoreUnavailable(f"cannot reach PostgreSQL at {self.where}: {reason}")

    def map_error(self, exc: psycopg.Error) -> StoreError:
        text = " ".join(str(exc).split())
        if exc.sqlstate is None:  # raised by the client: it lost, or never had, the connection
            lost = isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
        else:
            lost = exc.sqlstate.startswith(_UNAVAILABLE_PREFIXES)
        if lost:
            return self.unreachable(text.removeprefix("connection failed: "))
        return StoreError(f"PostgreSQL error at {self.where}: {text}")

    # -- connections and transactions ---------------------------------------------------------
    def _connect(self) -> PgConnection:
        try:
            conn = psycopg.Connection[DictRow].connect(self._conninfo, **self._connect_kwargs)
        except psycopg.Error as exc:
            raise self.map_error(exc) from exc
        try:
            self._configure(conn)
        except psycopg.Error as exc:
            conn.close()
            raise self.map_error(exc) from exc
        return conn

    def _configure(self, conn: PgConnection) -> None:
        conn.execute(self._queries["set_utc"])

    @contextmanager
    def _begin(self, *, lock_migrations: bool = False) -> Iterator[PgConnector]:
        try:
            with self.pool.connection() as conn, conn.transaction():
                db = PgConnector(conn, self._queries, self)
                if lock_migrations:
                    db.all("lock_migrations", {})
                yield db
        except psycopg.Error as exc:
            raise self.map_error(exc) from exc

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self._begin() as db:
            yield Tx(db, self.ns)

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with self._begin() as db:
            yield Tx(db, self.ns)

    def earliest_due(self) -> datetime | None:
        try:
            with self.pool.connection() as conn:   # autocommit: one statement, one round trip
                return Tx(PgConnector(conn, self._queries, self), self.ns).earliest_due()
        except psycopg.Error as exc:
            raise self.map_error(exc) from exc

    # -- the rest of the contract -------------------------------------------------------------
    def migration_status(self) -> MigrationStatus:
        return self.migrator.status()

    def upgrade(self) -> list[tuple[int, str]]:
        return self.migrator.upgrade()

    def _read_counter(self) -> int:
        with self.read() as tx:
            return tx.change_counter()

    def wait_for_change(self, last_counter: int | None, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        with self._listen_lock:
            try:
                if self._listener is None or self._listener.closed or self._listener.broken:
                    self._listener = self._connect()
                    self._listener.execute(self._queries["listen"])
                # listening before reading: a change committed in between is not missed
                counter = self._read_counter()
                while counter == last_counter:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    for note in self._listener.notifies(timeout=remaining):
                        if note.payload == self.ns:
                            break
                    counter = self._read_counter()
                return counter
            except psycopg.Error as exc:
                self._drop_listener()
                raise self.map_error(exc) from exc
            except StoreError:
                self._drop_listener()
                raise

    def _drop_listener(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    @property
    def concurrent_writes(self) -> bool:
        return self.pool.size >= 2   # (two transactions, two pooled connections)

    def pool_stats(self) -> PoolStats | None:
        return self.pool.stats()

    def close(self) -> None:
        with self._listen_lock:
            self._drop_listener()
        pool = getattr(self, "pool", None)
        if pool is not None:
            pool.close()
