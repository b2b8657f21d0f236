"""What both stores share: the named-SQL loader, the connector interface, the migration runner.

A backend provides a :class:`Connector` (run one named query inside an open transaction) and
two transaction factories; everything else, the store operations (:mod:`clockwf.store.manager`)
and the migrations (:class:`Migrator`), is written once on top of them.
"""

from __future__ import annotations

import abc
import os
import re
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from importlib.abc import Traversable
from typing import Any

from clockwf.errors import InvalidInput, MigrationError, StoreError
from clockwf.store.base import MigrationStatus, Row

_NAME_LINE = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)
_MIGRATION_FILE = re.compile(r"^(\d{4})_(\w+)\.sql$")
_CREATE_TABLE = re.compile(r"^\s*CREATE TABLE (\w+)", re.MULTILINE | re.IGNORECASE)
_DROP_TABLE = re.compile(r"^\s*DROP TABLE (?:IF EXISTS )?(\w+)", re.MULTILINE | re.IGNORECASE)


def env_number(name: str, default: float) -> float:
    """A positive number from the environment variable ``name`` (``default`` when unset)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1
    if value <= 0:
        raise InvalidInput(f"{name}={raw!r}: expected a positive number")
    return value


def _sql_dir(backend: str) -> Traversable:
    return resources.files("clockwf.store").joinpath("sql", backend)


# Where pyformat_params finds no parameter: a string, a quoted name, a comment, a ``::`` cast.
# Else a ``:name`` parameter, or a literal ``%`` (psycopg reads ``%`` as a placeholder).
_SQL_TOKEN = re.compile(r"""
    (?P<keep> '(?:[^']|'')*'          # a string ('' inside is a quote)
            | "(?:[^"]|"")*"          # a quoted name
            | --[^\n]*               # a comment to the end of the line
            | /\*.*?\*/             # a block comment
            | ::                      # a cast, never a parameter
            )
  | (?<![\w:]):(?P<param>[A-Za-z_]\w*)
  | (?P<percent>%)
""", re.VERBOSE | re.DOTALL)


def pyformat_params(sql: str) -> str:
    """SQL written with SQLite's ``:name`` parameters, in psycopg's ``%(name)s`` style.

    A ``:name`` inside a string, a quoted name or a comment stays as it is, and so does a
    ``::type`` cast; every literal ``%`` is doubled, comments and strings included: psycopg
    reads the whole text for placeholders."""
    def one(m: re.Match[str]) -> str:
        if m.group("param") is not None:
            return f"%({m.group('param')})s"
        if m.group("percent") is not None:
            return "%%"
        return m.group("keep").replace("%", "%%")
    return _SQL_TOKEN.sub(one, sql)


def parse_queries(text: str, where: str) -> dict[str, str]:
    """The named blocks of a queries file: ``-- name: x`` starts block ``x``."""
    parts = _NAME_LINE.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise StoreError(f"{where} names {name!r} twice")
        lines = body.strip().splitlines()
        while lines and (not lines[-1].strip() or lines[-1].lstrip().startswith("--")):
            lines.pop()  # comments that introduce the next block
        queries[name] = "\n".join(lines).rstrip(";")
    return queries


def merge_queries(backend: str, common_text: str, own_text: str) -> dict[str, str]:
    """The queries of ``backend``: the shared ones (``:name`` style, turned into ``%(name)s``
    for PostgreSQL) and its own. A name defined in both texts is refused: each query has one
    text, and there is never a doubt which one runs."""
    common = parse_queries(common_text, "common/queries.sql")
    own = parse_queries(own_text, f"{backend}/queries.sql")
    twice = sorted(set(common) & set(own))
    if twice:
        raise StoreError(f"{backend}/queries.sql defines {', '.join(twice)}, which "
                         "common/queries.sql defines already: keep one of the two")
    if backend == "postgresql":
        common = {name: pyformat_params(text) for name, text in common.items()}
    return {**common, **own}


@cache
def load_queries(backend: str) -> Mapping[str, str]:
    """Every named query of ``backend``: ``sql/common/queries.sql`` and
    ``sql/<backend>/queries.sql`` (:func:`merge_queries`)."""
    common = resources.files("clockwf.store").joinpath("sql", "common", "queries.sql")
    own = _sql_dir(backend).joinpath("queries.sql")
    return merge_queries(backend, common.read_text("utf-8"), own.read_text("utf-8"))


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


@cache
def load_migrations(backend: str) -> tuple[Migration, ...]:
    """``sql/<backend>/migrations/NNNN_name.sql`` in order; versions must be 1, 2, 3 ..."""
    found = []
    for entry in _sql_dir(backend).joinpath("migrations").iterdir():
        m = _MIGRATION_FILE.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text("utf-8")))
    found.sort(key=lambda mig: mig.version)
    if [mig.version for mig in found] != list(range(1, len(found) + 1)):
        raise StoreError(f"{backend} migrations are not numbered 1..n: "
                         f"{[mig.version for mig in found]}")
    return tuple(found)


@cache
def schema_tables(backend: str) -> frozenset[str]:
    """The tables that the migration chain creates (and does not drop again)."""
    tables: set[str] = set()
    for mig in load_migrations(backend):
        tables |= {name.lower() for name in _CREATE_TABLE.findall(mig.sql)}
        tables -= {name.lower() for name in _DROP_TABLE.findall(mig.sql)}
    return frozenset(tables)


class Connector(abc.ABC):
    """Runs the named queries of one backend inside one open transaction; maps driver errors.

    List and tuple parameters are sequences of scalars (a backend passes them as an array or as
    JSON); datetimes are aware.
    """

    def __init__(self, queries: Mapping[str, str]) -> None:
        self.queries = queries

    @abc.abstractmethod
    def all(self, name: str, params: Mapping[str, Any]) -> list[Row]:
        """Every row the query returns (none for a statement without a result)."""

    def one(self, name: str, params: Mapping[str, Any]) -> Row | None:
        rows = self.all(name, params)
        return rows[0] if rows else None

    @abc.abstractmethod
    def execute(self, name: str, params: Mapping[str, Any]) -> int:
        """Run a statement; returns the number of rows it changed."""

    @abc.abstractmethod
    def batch(self, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
              params: Mapping[str, Any]) -> list[Row]:
        """Run the named statement for a whole batch of rows, in the backend's cheapest form.

        PostgreSQL: ONE statement, the rows passed as one array per column (named by the
        column) besides ``params``; returns the statement's rows. SQLite: the statement is a
        one-row statement, run once per row with executemany() (SQLite has no round trips to
        save, and packing the rows into one JSON parameter costs more than the statements); it
        returns no rows, so an operation that needs some back reads them with a query."""

    @abc.abstractmethod
    def script(self, sql: str) -> None:
        """Run a script of several statements without parameters (migrations)."""


TxFactory = Callable[[], AbstractContextManager[Connector]]


class Migrator:
    """Versioned migrations recorded in ``clockwf_migrations``.

    ``locked`` opens a write transaction that holds the store's migration lock (SQLite: BEGIN
    IMMEDIATE; PostgreSQL: an advisory transaction lock); every decision to migrate is re-checked
    under it, so two processes starting at once never both migrate.
    """

    def __init__(self, backend: str, where: str, *, locked: TxFactory, read: TxFactory) -> None:
        self.backend = backend
        self.where = where
        self.migrations = load_migrations(backend)
        self.latest = self.migrations[-1].version
        self._locked = locked
        self._read = read

    # -- reading ------------------------------------------------------------------------------
    def _applied(self, db: Connector) -> list[tuple[int, str, datetime]] | None:
        """Applied migrations, or None when the store has no migrations table."""
        if db.one("migrations_table", {}) is None:
            return None
        return [(r["version"], r["name"], r["applied_at"])
                for r in db.all("applied_migrations", {})]

    def status(self) -> MigrationStatus:
        with self._read() as db:
            applied = self._applied(db) or []
        done = {version for version, _, _ in applied}
        return MigrationStatus(
            current=max(done, default=0),
            latest=self.latest,
            applied=applied,
            pending=[(m.version, m.name) for m in self.migrations if m.version not in done],
        )

    # -- checks -------------------------------------------------------------------------------
    def ensure_current(self, *, initialise: bool) -> None:
        """Initialise an empty store (when asked) and refuse one that is behind or ahead."""
        status = self.status()
        if initialise and status.current == 0:
            self.initialise()  # or another process just did
            status = self.status()
        if status.current > self.latest:
            raise self._ahead(status.current)
        if status.pending:
            names = ", ".join(f"{v} {n}" for v, n in status.pending)
            raise StoreError(
                f"the store {self.where} has schema version {status.current} but this clockwf "
                f"needs {self.latest} (pending: {names}): run `clockwf db upgrade` with the "
                "same --db to migrate it"
            )

    def _ahead(self, current: int) -> MigrationError:
        return MigrationError(
            f"the store {self.where} has schema version {current}, newer than this clockwf "
            f"knows ({self.latest}): refusing to use it; upgrade clockwf"
        )

    def _refuse_foreign(self, db: Connector) -> None:
        ours = schema_tables(self.backend)
        clash = sorted(r["name"] for r in db.all("existing_tables", {})
                       if str(r["name"]).lower() in ours)
        if clash:
            raise MigrationError(
                f"the database {self.where} already has tables named {', '.join(clash)} but no "
                "clockwf_migrations table: it is not a clockwf store; use another database"
            )

    # -- changing -----------------------------------------------------------------------------
    def _create(self, db: Connector) -> list[tuple[int, str]]:
        """Build an empty store by applying the whole migration chain in one transaction and
        record every version (caller holds the lock). The migrations are the only description
        of the schema: there is no second copy to keep equal to them."""
        self._refuse_foreign(db)
        now = datetime.now(UTC)
        for m in self.migrations:
            db.script(m.sql)
            db.execute("record_migration", {"version": m.version, "name": m.name,
                                            "applied_at": now})
        return [(m.version, m.name) for m in self.migrations]

    def initialise(self) -> bool:
        """Create the schema of an empty store; False when another process got there first."""
        with self._locked() as db:
            if self._applied(db) is not None:
                return False
            self._create(db)
            return True

    def upgrade(self, target: int | None = None) -> list[tuple[int, str]]:
        """Apply pending migrations up to ``target`` (default: all), each in its own transaction
        under the lock; returns those applied here. An empty store gets the whole chain in one
        transaction when ``target`` is None, else one migration per transaction up to ``target``."""
        done: list[tuple[int, str]] = []
        while True:
            with self._locked() as db:
                applied = self._applied(db)
                if applied is None:
                    if target is None:
                        return self._create(db)
                    self._refuse_foreign(db)
                    applied = []
                versions = {version for version, _, _ in applied}
                if max(versions, default=0) > self.latest:
                    raise self._ahead(max(versions))
                pending = [m for m in self.migrations if m.version not in versions
                           and (target is None or m.version <= target)]
                if not pending:
                    return done
                m = pending[0]
                db.script(m.sql)
                db.execute("record_migration", {"version": m.version, "name": m.name,
                                                "applied_at": datetime.now(UTC)})
            done.append((m.version, m.name))
