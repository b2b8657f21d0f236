"""The SQLite store: one file, stdlib sqlite3, a connection per thread, WAL.

Writes run under ``BEGIN IMMEDIATE`` (the database's single write lock, taken up front so a
transaction never fails half-way on a lock upgrade); reads under ``BEGIN``. Times are stored as
fixed-width UTC text ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in columns declared ``UTCTIME``, so text
order is time order and the due query is an index range scan; this module converts them both
ways itself (no global datetime adapter is registered). ``CLOCKWF_BUSY_TIMEOUT_MS`` (default
5000) is how long a transaction waits for another process's write lock before the store is
reported locked.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import lru_cache, partial
from typing import Any

from clockwf.errors import StoreError, StoreUnavailable
from clockwf.store.base import MigrationStatus, NewRun, Row, Store
from clockwf.store.common import Connector, Migrator, env_number, load_queries
from clockwf.store.manager import Tx
from clockwf.store.tx_base import RUN_COLUMNS, by_fire_key, run_values

BUSY_TIMEOUT_ENV = "CLOCKWF_BUSY_TIMEOUT_MS"
DEFAULT_BUSY_TIMEOUT_MS = 5000
POLL_INTERVAL_S = 0.2  # wait_for_change: how often the change counter is read

_BEGIN_WRITE = "BEGIN IMMEDIATE"
_BEGIN_READ = "BEGIN"


def utc_text(dt: datetime) -> str:
    """An aware datetime as the stored text: ``2027-03-14T07:00:00.000000Z``."""
    if dt.tzinfo is UTC:
        return _utc_text(dt)
    if dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt!r}: the store needs aware UTC datetimes")
    return _utc_text(dt.astimezone(UTC))


@lru_cache(maxsize=1 << 14)
def _utc_text(dt: datetime) -> str:
    """Cached: a batch repeats the same instants (one ``now``, fires on the same minute), and
    the conversion is a third of the cost of a bulk insert. Only UTC datetimes are keys: two
    datetimes in one zone that differ only in ``fold`` compare and hash equal."""
    return dt.isoformat(timespec="microseconds")[:26] + "Z"  # drop "+00:00"


def _utc_from_text(raw: bytes) -> datetime:
    return datetime.fromisoformat(raw.decode())  # the trailing Z makes it aware, in UTC


sqlite3.register_converter("UTCTIME", _utc_from_text)
# Every datetime bound to a statement is stored as utc_text() (a naive one is refused there).
# As an adapter, sqlite3 calls it for the datetime values only, from C: a batch binds its rows
# as they are, with no per-value test in Python (a third of a run insert's Python time).
sqlite3.register_adapter(datetime, utc_text)


def _db_now() -> str:
    """``clockwf_now()`` in SQL: the database's clock. A SQLite file lives on one host, whose
    clock this is; leases and heartbeats read it in SQL, as PostgreSQL's ``clock_timestamp()``
    is read there, so that the queries of both stores have one shape."""
    return _utc_text(datetime.now(UTC))


def _db_lease(seconds: float) -> str:
    """``clockwf_lease(seconds)`` in SQL: when a lease taken now for ``seconds`` ends."""
    return _utc_text(datetime.now(UTC) + timedelta(seconds=seconds))


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return utc_text(value)
    raise TypeError(f"cannot store {type(value).__name__} {value!r}")


def _bind(params: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, list | tuple):
            value = json.dumps(value, default=_json_default)
        out[key] = value
    return out


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> Row:
    return dict(zip([column[0] for column in cursor.description], row, strict=True))


_NAMED_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@lru_cache(maxsize=64)
def _numbered(sql: str, names: tuple[str, ...]) -> str:
    """``sql`` with each ``:name`` replaced by ``?N``, N its place in ``names`` (1-based), so
    that a batch binds each row as a tuple rather than a dict built per row (outside quoted
    literals and comment lines only; sqlite3 checks that each row has as many values)."""
    def number(match: re.Match[str]) -> str:
        try:
            return f"?{names.index(match.group(1)) + 1}"
        except ValueError:
            raise StoreError(f"no value for the parameter :{match.group(1)}") from None

    code = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    pieces = code.split("'")
    pieces[::2] = [_NAMED_PARAMETER.sub(number, piece) for piece in pieces[::2]]
    return "'".join(pieces)


def split_script(script: str) -> list[str]:
    """The statements of a SQL script (sqlite3 runs one statement per call, and its
    executescript() would commit the open transaction first)."""
    statements, pending = [], ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            code = "\n".join(line for line in pending.splitlines()
                             if not line.lstrip().startswith("--"))
            if code.strip(" \t\n;"):
                statements.append(pending.strip())
            pending = ""
    if pending.strip(" \t\n;"):
        raise StoreError(f"incomplete SQL statement at the end of the script: {pending[:80]!r}")
    return statements


class SqliteConnector(Connector):
    def __init__(self, conn: sqlite3.Connection, queries: Mapping[str, str],
                 store: SqliteStore) -> None:
        super().__init__(queries)
        self.conn = conn
        self.store = store

    def all(self, name: str, params: Mapping[str, Any]) -> list[Row]:
        # Plain tuples, made into dicts here: the column names are read once per query rather
        # than once per row (the connection's row factory does that), which a claim of
        # hundreds of wide schedule rows notices.
        cursor = self.conn.cursor()
        cursor.row_factory = None
        try:
            cursor.execute(self.queries[name], _bind(params))
            rows = cursor.fetchall()
        except sqlite3.Error as exc:
            raise self.store.map_error(exc) from exc
        if not rows:
            return []
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in rows]

    def execute(self, name: str, params: Mapping[str, Any]) -> int:
        try:
            return self.conn.execute(self.queries[name], _bind(params)).rowcount
        except sqlite3.Error as exc:
            raise self.store.map_error(exc) from exc

    def batch(self, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
              params: Mapping[str, Any]) -> list[Row]:
        """executemany() of the one-row statement ``name``; returns no rows (see Connector)."""
        self.batch_count(name, columns, rows, params)
        return []

    def batch_count(self, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
                    params: Mapping[str, Any]) -> int:
        """As :meth:`batch`; returns the number of rows the statements changed."""
        common = _bind(params)
        sql = _numbered(self.queries[name], (*columns, *common))
        values = tuple(common.values())
        try:
            return self.conn.executemany(sql, (tuple(row) + values for row in rows)).rowcount
        except sqlite3.Error as exc:
            raise self.store.map_error(exc) from exc

    def script(self, sql: str) -> None:
        try:
            for statement in split_script(sql):
                self.conn.execute(statement)
        except sqlite3.Error as exc:
            raise self.store.map_error(exc) from exc


class SqliteTx(Tx):
    """The SQLite transaction: the shared operations, and its own way of creating runs."""

    def get_schedule(self, workflow_id: str, *, for_update: bool = False) -> Row | None:
        # No row lock to take: the write transaction's BEGIN IMMEDIATE already excludes
        # every other writer.
        return super().get_schedule(workflow_id)

    def insert_runs(self, runs: Sequence[NewRun]) -> dict[str, int]:
        # The batch is one executemany() of a one-row INSERT (the cheapest way to write many
        # rows into SQLite), which returns no rows. The runs it created are read back instead:
        # this transaction holds the database's write lock (BEGIN IMMEDIATE) and run_id is
        # AUTOINCREMENT, so they are exactly the runs above the high-water mark read before.
        # In fire-key order, as the contract asks (run ids follow it).
        # When every key was free (the usual case: the rows changed are as many as the runs),
        # the new ids are the next ones after the mark, given in statement order (AUTOINCREMENT
        # gives max(mark, largest id) + 1, and no other writer runs), so nothing is read back.
        runs = sorted(runs, key=by_fire_key)
        high = self.db.one("runs_high_water", self._p())
        assert high is not None
        db = self.db
        assert isinstance(db, SqliteConnector)
        inserted = db.batch_count("insert_runs", RUN_COLUMNS, [run_values(r) for r in runs],
                                  self._p())
        first = int(high["run_id"]) + 1
        if inserted == len(runs):
            return {run.fire_key: first + i for i, run in enumerate(runs)}
        created = self.db.all("runs_created_after", self._p(run_id=high["run_id"]))
        return {row["fire_key"]: row["run_id"] for row in created}


class SqliteStore(Store):
    """A SQLite file; ``create`` and ``check_schema`` as in :func:`clockwf.store.open_store`."""

    backend = "sqlite"

    def __init__(self, path: str, ns: str, *, create: bool = True, check_schema: bool = True,
                 busy_timeout_ms: int | None = None) -> None:
        self.path = os.path.abspath(path)
        self.url = "sqlite:///" + self.path
        self.ns = ns
        if busy_timeout_ms is None:
            busy_timeout_ms = int(env_number(BUSY_TIMEOUT_ENV, DEFAULT_BUSY_TIMEOUT_MS))
        self.busy_timeout_ms = busy_timeout_ms
        self._queries = load_queries("sqlite")
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        self._closed = False
        # BEGIN IMMEDIATE is the migration lock: one writer at a time, re-checked inside
        self.migrator = Migrator("sqlite", self.url, locked=partial(self._begin, _BEGIN_WRITE),
                                 read=partial(self._begin, _BEGIN_READ))
        if not create and not os.path.exists(self.path):
            raise StoreError(f"there is no clockwf store at {self.path} "
                             "(one is created on first use, or by `clockwf db upgrade`)")
        try:
            self._connection()
            if check_schema:
                self.migrator.ensure_current(initialise=create)
        except BaseException:
            self.close()
            raise

    # -- errors -------------------------------------------------------------------------------
    def map_error(self, exc: sqlite3.Error) -> StoreError:
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
        text = str(exc)
        if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in text:
            return StoreUnavailable(
                f"the store {self.path} is locked by another process "
                f"(waited {self.busy_timeout_ms / 1000:.1f} s)")
        if code == sqlite3.SQLITE_CANTOPEN or "unable to open" in text:
            return StoreUnavailable(
                f"cannot open the store {self.path}: check that its directory exists and that "
                "this user may read and write the file and its directory")
        if code == sqlite3.SQLITE_READONLY or "readonly" in text:
            return StoreUnavailable(
                f"the store {self.path} is read-only: clockwf needs write access to the file "
                "and to its directory (SQLite writes -wal and -shm files beside it)")
        if code in (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL) or "disk" in text:
            return StoreUnavailable(
                f"disk error on the store {self.path} ({text}): check the disk, its free "
                "space and the file's permissions")
        if code == sqlite3.SQLITE_NOTADB:
            return StoreError(f"{self.path} is not a SQLite database")
        return StoreError(f"SQLite error on {self.path}: {text}")

    # -- connections and transactions ---------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self._closed:
            raise StoreError(f"the store {self.path} is closed")
        try:
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None,
                detect_types=sqlite3.PARSE_DECLTYPES | sqlite3.PARSE_COLNAMES,
                check_same_thread=False,  # only so that close() may close every thread's
            )
        except sqlite3.Error as exc:
            raise self.map_error(exc) from exc
        with self._guard:
            self._conns.append(conn)
        try:
            conn.row_factory = _dict_row
            conn.create_function("clockwf_now", 0, _db_now)
            conn.create_function("clockwf_lease", 1, _db_lease)
            conn.execute(self._queries["pragma_journal_mode"])
            conn.execute(self._queries["pragma_synchronous"])
        except sqlite3.Error as exc:
            raise self.map_error(exc) from exc
        self._local.conn = conn
        return conn

    @contextmanager
    def _begin(self, begin: str) -> Iterator[SqliteConnector]:
        conn = self._connection()
        if conn.in_transaction:
            raise StoreError("a transaction is already open in this thread (they do not nest)")
        try:
            conn.execute(begin)
        except sqlite3.Error as exc:
            raise self.map_error(exc) from exc
        try:
            yield SqliteConnector(conn, self._queries, self)
        except BaseException:
            self._rollback(conn)
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback(conn)
            raise self.map_error(exc) from exc

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the transaction is gone either way

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self._begin(_BEGIN_WRITE) as db:
            yield SqliteTx(db, self.ns)

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with self._begin(_BEGIN_READ) as db:
            yield SqliteTx(db, self.ns)

    def earliest_due(self) -> datetime | None:
        conn = self._connection()
        if conn.in_transaction:
            raise StoreError("a transaction is already open in this thread (they do not nest)")
        # Autocommit: the statement is its own read transaction, and takes no write lock.
        return SqliteTx(SqliteConnector(conn, self._queries, self), self.ns).earliest_due()

    # -- the rest of the contract -------------------------------------------------------------
    def migration_status(self) -> MigrationStatus:
        return self.migrator.status()

    def upgrade(self) -> list[tuple[int, str]]:
        return self.migrator.upgrade()

    def wait_for_change(self, last_counter: int | None, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while True:
            with self.read() as tx:
                counter = tx.change_counter()
            remaining = deadline - time.monotonic()
            if counter != last_counter or remaining <= 0:
                return counter
            time.sleep(min(POLL_INTERVAL_S, remaining))

    def close(self) -> None:
        self._closed = True
        with self._guard:
            conns, self._conns = self._conns, []
        for conn in conns:
            try:
                conn.close()
            except sqlite3.Error:
                pass
        self._local = threading.local()
