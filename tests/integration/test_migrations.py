"""Versioned migrations: a new store (the whole chain in one go) equals the chain applied one
migration at a time; behind, ahead and racing stores."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from clockwf.errors import MigrationError, StoreError
from clockwf.store import open_store
from clockwf.store.common import Migration, load_migrations, schema_tables

ONLY_PG = [pytest.param("postgresql", marks=pytest.mark.postgres)]


@contextmanager
def raw(url: str) -> Iterator[Any]:
    """A plain driver connection (autocommit) for the test's own inspection SQL."""
    if url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            yield conn
    else:
        lite = sqlite3.connect(url, isolation_level=None)
        try:
            yield lite
        finally:
            lite.close()


def _normalise(sql: str) -> str:
    sql = re.sub(r"--[^\n]*", "", sql)
    sql = " ".join(sql.split())
    return re.sub(r"\s*([(),])\s*", r"\1", sql)


def schema_dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    with raw(url) as conn:
        if not url.startswith("postgresql://"):
            rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master "
                                "WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").fetchall()
            tables = [name for kind, name, _, _ in rows if kind == "table"]
            columns = [(table, *col) for table in tables
                       for col in conn.execute(f"PRAGMA table_xinfo({table})").fetchall()]
            return {"objects": [(t, n, tbl, _normalise(sql)) for t, n, tbl, sql in rows],
                    "columns": columns}
        return {
            "columns": conn.execute(
                "SELECT table_name, column_name, ordinal_position, data_type, is_nullable, "
                "column_default, is_identity, identity_generation "
                "FROM information_schema.columns WHERE table_schema = current_schema() "
                "ORDER BY table_name, ordinal_position").fetchall(),
            "indexes": conn.execute(
                "SELECT tablename, indexname, indexdef FROM pg_indexes "
                "WHERE schemaname = current_schema() ORDER BY 1, 2").fetchall(),
            "constraints": conn.execute(
                "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) "
                "FROM pg_constraint WHERE connamespace = current_schema()::regnamespace "
                "ORDER BY 1, 2").fetchall(),
        }


def migrate_to(url: str, version: int) -> list[tuple[int, str]]:
    """Build a store by applying the migration chain from 1 up to ``version``."""
    with open_store(url, check_schema=False) as store:
        return store.migrator.upgrade(target=version)  # type: ignore[attr-defined,no-any-return]


def test_migration_files_match_across_backends() -> None:
    sqlite, pg = load_migrations("sqlite"), load_migrations("postgresql")
    assert [(m.version, m.name) for m in sqlite] == [(m.version, m.name) for m in pg]
    assert schema_tables("sqlite") == schema_tables("postgresql")


def test_new_store_equals_the_migration_chain_step_by_step(fresh_url: str, backend: str,
                                               tmp_path: Path, request: Any) -> None:
    chain_url = (str(tmp_path / "chain.db") if backend == "sqlite"
                 else request.getfixturevalue("new_pg_database")())
    latest = load_migrations(backend)[-1].version
    assert [v for v, _ in migrate_to(chain_url, latest)] == list(range(1, latest + 1))
    open_store(fresh_url).close()  # a new store: the whole chain in one transaction
    fresh, chain = schema_dump(fresh_url), schema_dump(chain_url)
    assert fresh == chain
    assert len(fresh["columns"]) > 50


@pytest.mark.parametrize("backend", ONLY_PG, indirect=True)
def test_both_backends_have_the_same_columns(fresh_url: str, tmp_path: Path) -> None:
    sqlite_url = str(tmp_path / "columns.db")
    open_store(sqlite_url).close()
    open_store(fresh_url).close()
    lite = [(row[0], row[2]) for row in schema_dump(sqlite_url)["columns"]]
    pg = [(row[0], row[1]) for row in schema_dump(fresh_url)["columns"]]
    assert sorted(lite) == sorted(pg)


def test_new_store_records_every_version(fresh_url: str, backend: str) -> None:
    with open_store(fresh_url) as store:
        status = store.migration_status()
    expected = [(m.version, m.name) for m in load_migrations(backend)]
    assert status.current == status.latest == expected[-1][0]
    assert [(v, n) for v, n, _ in status.applied] == expected
    assert status.pending == []
    assert all(at.utcoffset() is not None for _, _, at in status.applied)


def test_upgrade_creates_an_empty_store(fresh_url: str, backend: str) -> None:
    chain = [(m.version, m.name) for m in load_migrations(backend)]
    assert chain[:3] == [(1, "initial"), (2, "runs"), (3, "execution")]
    with open_store(fresh_url, check_schema=False) as store:
        assert store.migration_status().current == 0
        applied = store.upgrade()
        assert applied == chain
        assert store.upgrade() == []
        assert store.migration_status().pending == []


def test_store_behind_is_refused_until_upgraded(fresh_url: str, backend: str) -> None:
    later = [(m.version, m.name) for m in load_migrations(backend)][2:]
    assert migrate_to(fresh_url, 2) == [(1, "initial"), (2, "runs")]
    with pytest.raises(StoreError) as info:
        open_store(fresh_url)
    message = str(info.value)
    assert f"schema version 2 but this clockwf needs {later[-1][0]}" in message
    assert "pending: 3 execution" in message and "clockwf db upgrade" in message
    with open_store(fresh_url, check_schema=False) as store:
        status = store.migration_status()
        assert (status.current, status.pending) == (2, later)
        assert store.upgrade() == later
    with open_store(fresh_url) as store, store.transaction() as tx:
        tx.bump_changes()


def test_store_ahead_is_refused(fresh_url: str, backend: str) -> None:
    latest = load_migrations(backend)[-1].version
    open_store(fresh_url).close()
    with raw(fresh_url) as conn:
        conn.execute("INSERT INTO clockwf_migrations (version, name, applied_at) "
                     "VALUES (99, 'from_the_future', '2030-01-01T00:00:00.000000Z')")
    latest = load_migrations("sqlite")[-1].version
    with pytest.raises(MigrationError, match=r"schema version 99, newer than this clockwf "
                                             rf"knows \({latest}\): refusing to use it"):
        open_store(fresh_url)
    with open_store(fresh_url, check_schema=False) as store:
        assert store.migration_status().current == 99
        with pytest.raises(MigrationError, match="newer than this clockwf"):
            store.upgrade()


def test_a_database_with_foreign_tables_is_refused(fresh_url: str) -> None:
    with raw(fresh_url) as conn:
        conn.execute("CREATE TABLE runs (id integer)")
    with pytest.raises(MigrationError, match="already has tables named runs but no "
                                             "clockwf_migrations table"):
        open_store(fresh_url)


def test_a_failing_migration_changes_nothing(fresh_url: str, backend: str) -> None:
    latest = load_migrations(backend)[-1].version
    with open_store(fresh_url) as store:
        migrator = store.migrator  # type: ignore[attr-defined]
        assert migrator.latest == latest
        migrator.migrations = (*migrator.migrations, Migration(
            latest + 1, "broken", "CREATE TABLE half_done (a integer);\n"
                                  "INSERT INTO no_such_table (a) VALUES (1);\n"))
        migrator.latest = latest + 1
        with pytest.raises(StoreError):
            store.upgrade()
        status = store.migration_status()
    assert (status.current, status.pending) == (latest, [(latest + 1, "broken")])
    with raw(fresh_url) as conn:
        if fresh_url.startswith("postgresql://"):
            found = conn.execute("SELECT to_regclass('half_done')").fetchone()[0]
        else:
            found = conn.execute("SELECT name FROM sqlite_master "
                                 "WHERE name = 'half_done'").fetchone()
    assert found is None


FIRST_USE = """
import json, sys
from clockwf.store import open_store
print("ready", flush=True)
sys.stdin.readline()
with open_store(sys.argv[1]) as store:
    status = store.migration_status()
print(json.dumps([status.current, len(status.applied)]))
"""

UPGRADER = """
import json, sys
from clockwf.store import open_store
print("ready", flush=True)
sys.stdin.readline()
with open_store(sys.argv[1], check_schema=False) as store:
    print(json.dumps(store.upgrade()))
"""


@pytest.mark.slow
def test_concurrent_first_use_initialises_once(fresh_url: str, backend: str,
                                               race: Callable[..., list[str]]) -> None:
    chain = load_migrations(backend)
    outputs = race(FIRST_USE, [[fresh_url]] * 4)
    assert [json.loads(out) for out in outputs] == [[chain[-1].version, len(chain)]] * 4


def test_concurrent_upgrades_apply_each_migration_once(fresh_url: str, backend: str,
                                                       race: Callable[..., list[str]]) -> None:
    chain = [(m.version, m.name) for m in load_migrations(backend)]
    migrate_to(fresh_url, 1)
    outputs = race(UPGRADER, [[fresh_url]] * 3)
    applied = sorted(tuple(m) for out in outputs for m in json.loads(out))
    assert applied == chain[1:]
    with open_store(fresh_url) as store:
        assert [v for v, _, _ in store.migration_status().applied] == [v for v, _ in chain]


# -- migration 10: SQLite CHECK constraints without IN lists --------------------------------------

_IN_LIST = re.compile(r"\bIN\s*\(\s*'[^']*'\s*,\s*'[^']*'\s*,", re.IGNORECASE)


def test_sqlite_checks_have_no_in_list_of_more_than_two_values(tmp_path: Path) -> None:
    """SQLite builds a temporary B-tree for such a list on every row it checks (migration 10);
    no table of a new store may have one again, and none of its inserts may open one."""
    url = str(tmp_path / "checks.db")
    open_store(url).close()
    with raw(url) as conn:
        tables = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' "
                              "AND name NOT LIKE 'sqlite_%'").fetchall()
        offenders = [name for name, sql in tables if _IN_LIST.search(sql)]
        assert offenders == []
        assert any("status = 'queued' OR" in sql for name, sql in tables if name == "runs")
        plan = conn.execute(
            "EXPLAIN INSERT INTO runs (namespace, fire_key, workflow_id, workflow_version, "
            "trigger_type, status, payload, metadata, created_at) "
            "VALUES ('n', 'k', 'w', 1, 'recurring', 'queued', '', '{}', 'x')").fetchall()
    assert [op for op in plan if op[1] == "OpenEphemeral"] == []


def test_sqlite_checks_still_refuse_what_they_refused(tmp_path: Path) -> None:
    url = str(tmp_path / "refuse.db")
    open_store(url).close()
    insert = ("INSERT INTO runs (namespace, fire_key, workflow_id, workflow_version, "
              "trigger_type, status, payload, metadata, created_at) "
              "VALUES ('n', ?, 'w', 1, ?, ?, '', '{}', 'x')")
    with raw(url) as conn:
        for n, (trigger, status) in enumerate([("recurring", "bogus"), ("cron", "queued"),
                                               ("recurring", "QUEUED"), ("recurring", None)]):
            with pytest.raises(sqlite3.IntegrityError):
                conn.execute(insert, (f"k{n}", trigger, status))
        for n, status in enumerate(["queued", "running", "succeeded", "failed", "timed_out",
                                    "cancelled", "interrupted"]):
            conn.execute(insert, (f"ok{n}", "event", status))


def test_migration_10_keeps_rows_and_autoincrement_sequences(tmp_path: Path) -> None:
    """A run id or skip id is never given twice: the rebuilt tables keep their sequences even
    where the newest rows were pruned before the upgrade."""
    url = str(tmp_path / "seq.db")
    migrate_to(url, 9)
    with raw(url) as conn:
        for n in range(1, 6):
            conn.execute("INSERT INTO runs (namespace, fire_key, workflow_id, workflow_version, "
                         "trigger_type, status, payload, metadata, created_at) VALUES "
                         "('n', ?, 'w', 1, 'manual', 'succeeded', '', '{}', "
                         "'2027-01-01T00:00:00.000000Z')", (f"manual:w:{n}",))
            conn.execute("INSERT INTO skipped_occurrences (namespace, workflow_id, fire_key, "
                         "scheduled_for, scheduled_until, reason, recorded_at) VALUES "
                         "('n', 'w', ?, 'a', 'a', 'missed', 'a')", (f"recurring:w:{n}",))
        conn.execute("DELETE FROM runs WHERE run_id >= 4")
        conn.execute("DELETE FROM skipped_occurrences WHERE id = 5")
        before = conn.execute("SELECT run_id, fire_key FROM runs ORDER BY run_id").fetchall()
    migrate_to(url, 10)
    with raw(url) as conn:
        assert conn.execute("SELECT run_id, fire_key FROM runs ORDER BY run_id").fetchall() \
            == before
        assert dict(conn.execute("SELECT name, seq FROM sqlite_sequence").fetchall()) == \
            {"runs": 5, "skipped_occurrences": 5}
        conn.execute("INSERT INTO runs (namespace, fire_key, workflow_id, workflow_version, "
                     "trigger_type, status, payload, metadata, created_at) VALUES "
                     "('n', 'manual:w:new', 'w', 1, 'manual', 'queued', '', '{}', 'x')")
        new_id = conn.execute("SELECT run_id FROM runs WHERE fire_key = 'manual:w:new'")
        assert new_id.fetchone()[0] == 6
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert not {name for name in names if name.endswith("_old")}
    assert {"runs_queued", "runs_active", "runs_leases", "runs_by_workflow", "schedules_due",
            "skipped_by_workflow", "deliveries_due"} <= names


# -- migration 11: when a daemon last reported a tick, on the database's clock ---------------------

def test_migration_11_dates_the_last_tick_of_existing_daemons(fresh_url: str) -> None:
    """A daemon that had ticked counts from its last heartbeat (the best the old row knows), so
    status does not call every daemon stale at the upgrade; one that never ticked (a worker)
    stays without a tick."""
    migrate_to(fresh_url, 10)
    with raw(fresh_url) as conn:
        for instance, last_tick in (("ticked", "'2027-01-04T08:59:00.000000Z'"),
                                    ("worker", "NULL")):
            conn.execute("INSERT INTO daemons (namespace, instance_id, hostname, pid, role, "
                         "version, started_at, heartbeat_at, last_tick_at) VALUES ('n', "
                         f"'{instance}', 'h', 1, 'daemon', 'v', '2027-01-04T08:00:00.000000Z', "
                         f"'2027-01-04T09:00:00.000000Z', {last_tick})")
    migrate_to(fresh_url, 11)
    with raw(fresh_url) as conn:
        dated = conn.execute("SELECT instance_id FROM daemons "
                             "WHERE ticked_at = heartbeat_at").fetchall()
        undated = conn.execute("SELECT instance_id FROM daemons "
                               "WHERE ticked_at IS NULL").fetchall()
    assert [tuple(r) for r in dated] == [("ticked",)]
    assert [tuple(r) for r in undated] == [("worker",)]
