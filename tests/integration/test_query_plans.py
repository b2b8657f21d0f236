"""The due queries are index range scans on schedules_due, never a full scan (10k schedules)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clockwf.store import Store
from clockwf.store.common import load_queries
from clockwf.store.sqlite import _bind, utc_text

N = 10_000
T0 = datetime(2027, 1, 1, tzinfo=UTC)
NOW = T0 + timedelta(seconds=N // 2)   # half of the schedules are due

DUE_QUERIES: dict[str, dict[str, Any]] = {
    "claim_due": {"now": NOW, "limit": 100},
    "claim_due_after": {"now": NOW, "limit": 100, "after_at": T0, "after_id": "wf00010"},
    "earliest_due": {},
    "overdue_schedules": {"now": NOW, "limit": 10},
}


def _rows(ns: str) -> Iterator[tuple[Any, ...]]:
    for i in range(N):
        status = "paused" if i % 10 == 0 else "scheduled"
        yield (ns, f"wf{i:05d}", 1, "recurring", "* * * * *", "UTC", status,
               T0 + timedelta(seconds=i), T0, T0)


@pytest.fixture
def loaded(store: Store) -> Store:
    """10k schedules in the store's namespace, plus 10k in another, loaded with bulk SQL."""
    columns = ("namespace, workflow_id, version, trigger_type, cron, timezone, status, "
               "next_fire_at, created_at, updated_at")
    with store.transaction() as tx:
        conn = tx.db.conn  # type: ignore[attr-defined]
        for ns in (store.ns, store.ns + "-neighbour"):
            if store.backend == "sqlite":
                conn.executemany(
                    f"INSERT INTO schedules ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    ([*row[:7], utc_text(row[7]), utc_text(row[8]), utc_text(row[9])]
                     for row in _rows(ns)))
            else:
                with conn.cursor().copy(f"COPY schedules ({columns}) FROM STDIN") as copy:
                    for row in _rows(ns):
                        copy.write_row(row)
    return store


def _sqlite_plan(store: Store, name: str, params: dict[str, Any]) -> str:
    sql = load_queries("sqlite")[name]
    with store.read() as tx:
        conn = tx.db.conn  # type: ignore[attr-defined]
        rows = conn.execute("EXPLAIN QUERY PLAN " + sql, _bind({"ns": store.ns, **params}))
        return "\n".join(r["detail"] for r in rows.fetchall())


def _pg_plan(store: Store, name: str, params: dict[str, Any], mode: str) -> str:
    """The plan of a named query as a prepared statement (psycopg prepares a query run five
    times); ``force_generic_plan`` shows the plan that holds for any parameter values."""
    from psycopg import sql

    names: list[str] = []

    def placeholder(m: re.Match[str]) -> str:
        if m.group(1) not in names:
            names.append(m.group(1))
        return f"${names.index(m.group(1)) + 1}"

    text = re.sub(r"%\((\w+)\)s", placeholder, load_queries("postgresql")[name])
    values = {"ns": store.ns, **params}
    statement = f"plan_{name}"
    with store.read() as tx:
        conn = tx.db.conn  # type: ignore[attr-defined]
        conn.execute("SELECT set_config('plan_cache_mode', %s, true)", (mode,))
        conn.execute(sql.SQL("PREPARE {} AS {}").format(sql.Identifier(statement),
                                                        sql.SQL(text)))
        try:
            args = sql.SQL(", ").join(sql.Literal(values[n]) for n in names)
            explain = sql.SQL("EXPLAIN (FORMAT JSON) EXECUTE {}").format(
                sql.Identifier(statement))
            if names:
                explain = sql.Composed([explain, sql.SQL("("), args, sql.SQL(")")])
            plan = conn.execute(explain).fetchone()["QUERY PLAN"]
        finally:
            conn.execute(sql.SQL("DEALLOCATE {}").format(sql.Identifier(statement)))
    return json.dumps(plan)


@pytest.mark.parametrize("name", sorted(DUE_QUERIES))
def test_due_queries_use_the_schedules_due_index(loaded: Store, name: str) -> None:
    params = DUE_QUERIES[name]
    if loaded.backend == "sqlite":
        plan = _sqlite_plan(loaded, name, params)
        assert "USING INDEX schedules_due" in plan or "USING COVERING INDEX schedules_due" in plan
        assert "SCAN schedules" not in plan and "TEMP B-TREE" not in plan, plan
        return
    for mode in ("force_custom_plan", "force_generic_plan"):  # as first run, and as prepared
        plan = _pg_plan(loaded, name, params, mode)
        assert '"Index Name": "schedules_due"' in plan, plan
        assert "Seq Scan" not in plan and '"Sort"' not in plan, plan


def test_due_queries_answer_correctly_at_scale(loaded: Store) -> None:
    with loaded.transaction() as tx:
        first = tx.claim_due(NOW, 3)
        page = tx.claim_due(NOW, 2, after=(first[-1]["next_fire_at"], first[-1]["workflow_id"]))
        earliest = tx.earliest_due()
        assert len(tx.claim_due(NOW, N)) == 4500   # seconds 0..5000, less every tenth paused
    assert [r["workflow_id"] for r in first] == ["wf00001", "wf00002", "wf00003"]
    assert [r["workflow_id"] for r in page] == ["wf00004", "wf00005"]
    assert earliest == T0 + timedelta(seconds=1)
