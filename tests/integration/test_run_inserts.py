"""A batch of runs reports exactly the runs it created, with their stored ids, whatever mix of
free and taken fire keys it holds (SQLite skips reading them back when every key was free),
and the SQLite batches bind each row by position."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clockwf.errors import StoreError
from clockwf.store import Store
from clockwf.store.base import NewRun
from clockwf.store.sqlite import _numbered

T0 = datetime(2027, 1, 4, 14, 0, tzinfo=UTC)
KEYS = st.integers(min_value=0, max_value=30).map(lambda i: f"recurring:wf{i % 4}:{i:03d}")


def run(key: str) -> NewRun:
    return NewRun(fire_key=key, workflow_id=key.split(":")[1], workflow_version=1,
                  trigger_type="recurring", payload="", metadata="{}", created_at=T0,
                  scheduled_for=T0, due_at=T0)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(KEYS, max_size=12), min_size=1, max_size=4))
def test_each_batch_reports_the_runs_it_created(store: Store, batches: list[list[str]]) -> None:
    prefix = f"t{datetime.now(UTC).timestamp():.6f}:"   # a fresh key space per example
    taken: set[str] = set()
    for keys in batches:
        keys = [prefix + k for k in keys]
        with store.transaction() as tx:
            created = tx.insert_runs([run(k) for k in keys])
        assert set(created) == set(keys) - taken
        taken |= set(keys)
        with store.read() as tx:
            stored = {r["fire_key"]: r["run_id"] for r in tx.runs_by_fire_keys(list(created))}
        assert created == stored
        # run ids follow the fire-key order within a batch
        assert sorted(created, key=created.__getitem__) == sorted(created)


def test_named_parameters_become_numbered_outside_literals_and_comments() -> None:
    sql = ("-- the user's :note is not a parameter\n"
           "UPDATE t SET a = :b, c = ':b' WHERE n = :ns AND x = :b")
    assert _numbered(sql, ("b", "ns")) == "UPDATE t SET a = ?1, c = ':b' WHERE n = ?2 AND x = ?1"
    with pytest.raises(StoreError, match=":ns"):
        _numbered(sql, ("b",))
