"""A tick over many batches: each batch one transaction, every due schedule processed once, and
an error in any batch loses nothing and launches nothing twice. On PostgreSQL the tick writes one
batch while it plans the next (two transactions in flight); on SQLite it goes one at a time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from clockwf import lifecycle, scheduler
from clockwf.store import Store
from clockwf.validate import validate_source

from .scheduling_support import definition, fire_keys, utc

START = utc("2027-01-10T00:00:00Z")
DUE = START + timedelta(minutes=1)
N = 40


def publish_many(store: Store, n: int = N) -> None:
    reports = [validate_source(definition(f"job-{i:02d}", 'type: recurring\ncron: "* * * * *"'),
                               f"job-{i:02d}.yaml", START, for_publish=True) for i in range(n)]
    lifecycle.publish(store, reports, START)


def expected(n: int = N) -> list[str]:
    return sorted(f"recurring:job-{i:02d}:2027-01-10T00:01:00Z" for i in range(n))


def test_many_small_batches_launch_each_schedule_once(store: Store) -> None:
    publish_many(store)
    report = scheduler.tick(store, DUE, batch_size=7)
    assert [e["fire_key"] for e in report.launched] == expected()   # in claim order
    assert report.schedules == N and not report.duplicates
    assert fire_keys(store) == expected()
    with store.read() as tx:
        assert tx.earliest_due() == DUE + timedelta(minutes=1)
    again = scheduler.tick(store, DUE, batch_size=7)
    assert again.launched == [] and again.schedules == 0


def failing(real: Callable[..., Any], on_call: int) -> Callable[..., Any]:
    calls = []

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == on_call:
            raise RuntimeError(f"injected failure in call {on_call}")
        return real(*args, **kwargs)

    return wrapper


@pytest.mark.parametrize("where", ["write", "prepare"])
def test_a_failing_batch_loses_nothing_and_launches_nothing_twice(
        store: Store, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    publish_many(store)
    monkeypatch.setattr(scheduler, where, failing(getattr(scheduler, where), on_call=3))
    with pytest.raises(RuntimeError, match="injected failure"):
        scheduler.tick(store, DUE, batch_size=7)
    # Batches 1 and 2 committed (on PostgreSQL batch 2 may still have been in flight when
    # batch 3 failed: it is committed all the same); batch 3 and the rest did nothing.
    assert fire_keys(store) == expected()[:14]
    monkeypatch.undo()
    report = scheduler.tick(store, DUE, batch_size=7)
    assert sorted(e["fire_key"] for e in report.launched) == expected()[14:]
    assert fire_keys(store) == expected()


def test_the_report_lists_at_most_max_skips(store: Store,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    publish_many(store, 12)
    monkeypatch.setattr(scheduler, "MAX_SKIPS_LISTED", 5)
    late = DUE + timedelta(minutes=30)    # 00:30 and 00:31 are on time, 29 are coalesced
    report = scheduler.tick(store, late, batch_size=3)
    assert len(report.launched) == 24
    assert len(report.skipped) == 5       # of 12 skip groups, one per schedule


def test_a_tick_with_nothing_due_writes_nothing_and_takes_no_lock(
        store: Store, open_stores: Callable[..., Store]) -> None:
    publish_many(store, 3)
    assert store.earliest_due() == DUE                      # the store's one-statement probe
    with store.read() as tx:
        assert tx.earliest_due() == DUE                     # agrees with the transaction's
    other = open_stores()
    # Another process holds the write lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: the rows).
    with other.transaction() as tx:
        assert len(tx.claim_due(DUE, 10)) == 3
        quiet = scheduler.tick(store, DUE - timedelta(seconds=1))
        assert quiet.launched == [] and quiet.schedules == 0   # returned at once, no wait
    assert fire_keys(store) == []
    report = scheduler.tick(store, DUE)
    assert len(report.launched) == 3
    assert store.earliest_due() == DUE + timedelta(minutes=1)
