"""Publishing is all or nothing (docs/design.md §4.3, issue 3 item 5): a publish that fails for any reason
leaves every table exactly as it was, including the previously published version and its
schedule. Each kind of failure is checked against a full dump of the database, on SQLite and
PostgreSQL:

- an invalid file among valid ones, and duplicate ids in one publish (refused before writing);
- an error inside the transaction after some rows are written: injected at every operation in
  turn (a store whose transaction raises on its Nth call), as a store error and as a bug;
- a real error from the database itself (a trigger that raises when the second file's schedule
  is written), and a one-time schedule that has become past between validation and publish.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest

from clockwf import lifecycle
from clockwf.errors import DefinitionInvalid, InvalidInput, StoreError
from clockwf.scheduler import tick
from clockwf.store import Store, open_store
from clockwf.validate import FileReport, validate_source

from .faultkit import RawDb, assert_unchanged, utc

T0 = utc("2030-01-01T00:00:00Z")

V1 = "id: wf-a\ntrigger: {type: recurring, cron: '0 * * * *'}\nsteps:\n  - run: 'true'\n"
V2 = ("id: wf-a\ntrigger: {type: recurring, cron: '30 2 * * *', timezone: America/New_York}\n"
      "steps:\n  - run: 'true'\n")
NEW_C = "id: wf-c\ntrigger: {type: recurring, cron: '*/5 * * * *'}\nsteps:\n  - run: 'true'\n"
NEW_D = "id: wf-d\ntrigger: {type: event, event: thing.done}\nsteps:\n  - run: 'true'\n"
NEW_E = "id: wf-e\ntrigger: {type: schedule, run_at: '2030-01-02T09:00:00Z'}\n" \
        "steps:\n  - run: 'true'\n"
INVALID = "id: wf-bad\ntrigger: {type: recurring, cron: '61 * * * *'}\nsteps:\n  - run: 'true'\n"


@pytest.fixture
def store(db_url: str, namespace: str) -> Iterator[Store]:
    s = open_store(db_url, namespace)
    yield s
    s.close()


@pytest.fixture
def raw(db_url: str) -> Iterator[RawDb]:
    db = RawDb(db_url)
    yield db
    db.close()


def report(text: str, now: datetime = T0, name: str = "def.yaml") -> FileReport:
    r = validate_source(text, name, now, for_publish=True)
    return r


def seeded(store: Store) -> None:
    """v1 of wf-a with its schedule advanced by a tick, so every table has rows."""
    lifecycle.publish(store, [report(V1)], T0)
    tick(store, T0 + timedelta(hours=3, seconds=5))   # one run, two coalesced
    lifecycle.publish(store, [report(NEW_D, name="d.yaml")], T0)


def state_of_a(store: Store) -> tuple[Any, ...]:
    with store.read() as tx:
        workflow = tx.get_workflow("wf-a")
        schedule = tx.get_schedule("wf-a")
        versions = tx.list_versions("wf-a")
    assert workflow is not None and schedule is not None
    return (workflow["current_version"], [v["version"] for v in versions],
            schedule["cron"], schedule["next_fire_at"], schedule["last_fire_key"])


def test_invalid_file_among_valid_ones(store: Store, raw: RawDb) -> None:
    seeded(store)
    before, a_before = raw.dump(), state_of_a(store)
    batch = [report(V2, name="a.yaml"), report(INVALID, name="bad.yaml"),
             report(NEW_C, name="c.yaml")]
    with pytest.raises(DefinitionInvalid, match=r"nothing was published:\nbad\.yaml:2:34: "
                                                r"trigger\.cron: minute field: 61"):
        lifecycle.publish(store, batch, T0 + timedelta(hours=4))
    assert_unchanged(before, raw.dump(), "a batch with an invalid file")
    assert state_of_a(store) == a_before
    assert a_before[:3] == (1, [1], "0 * * * *")


def test_duplicate_ids_in_one_publish(store: Store, raw: RawDb) -> None:
    seeded(store)
    before = raw.dump()
    batch = [report(NEW_C, name="c1.yaml"), report(V2, name="a.yaml"),
             report(NEW_C.replace("*/5", "*/10"), name="c2.yaml")]
    with pytest.raises(DefinitionInvalid, match=r"'wf-c' is also defined in c1\.yaml"):
        lifecycle.publish(store, batch, T0 + timedelta(hours=4))
    assert_unchanged(before, raw.dump(), "a batch with duplicate ids")


class Injected(Exception):
    """The failure a test injects."""


class FailingTx:
    """A transaction that forwards to the real one and raises on its ``fail_at``-th call."""

    def __init__(self, tx: Any, fail_at: int, error: type[Exception], calls: list[str]) -> None:
        self._tx = tx
        self._fail_at = fail_at
        self._error = error
        self._calls = calls
        self.ns = tx.ns

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._tx, name)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            self._calls.append(name)
            if len(self._calls) == self._fail_at:
                raise self._error(f"injected failure at operation {len(self._calls)} ({name})")
            return target(*args, **kwargs)

        return call


class FailingStore:
    """A store whose write transactions fail at their ``fail_at``-th operation (all of one
    publish is one transaction, so the count runs across its files)."""

    def __init__(self, store: Store, fail_at: int, error: type[Exception]) -> None:
        self._store = store
        self.fail_at = fail_at
        self.error = error
        self.calls: list[str] = []
        self.ns = store.ns

    @contextmanager
    def transaction(self) -> Iterator[FailingTx]:
        with self._store.transaction() as tx:
            yield FailingTx(tx, self.fail_at, self.error, self.calls)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.mark.parametrize("error", [StoreError, Injected], ids=["store-error", "bug"])
def test_failure_at_every_operation_inside_the_transaction(store: Store, raw: RawDb,
                                                           error: type[Exception]) -> None:
    seeded(store)
    before, a_before = raw.dump(), state_of_a(store)
    batch = [report(V2, name="a.yaml"), report(NEW_C, name="c.yaml"),
             report(NEW_E, name="e.yaml"), report(NEW_D.replace("thing.done", "other"),
                                                   name="d.yaml")]
    now = T0 + timedelta(hours=4)
    fail_at = 0
    while True:
        fail_at += 1
        failing = FailingStore(store, fail_at, error)
        try:
            lifecycle.publish(failing, batch, now)  # type: ignore[arg-type]
        except error as exc:
            assert f"operation {fail_at} " in str(exc)
            assert_unchanged(before, raw.dump(), f"a failure at operation {fail_at} "
                             f"({failing.calls[-1]})")
            assert state_of_a(store) == a_before
            continue
        break   # fail_at is past the last operation: this publish went through
    operations = failing.calls
    assert fail_at == len(operations) + 1 and len(operations) >= 15, operations
    assert {"insert_version", "upsert_workflow", "upsert_schedule", "bump_changes"} <= set(
        operations)
    # Each failure point came after rows were written by the ones before it.
    assert operations.index("insert_version") < len(operations) - 5
    after = state_of_a(store)
    assert after[:3] == (2, [2, 1], "30 2 * * *")


def _install_failing_trigger(raw: RawDb, workflow_id: str) -> None:
    """A real database error when ``workflow_id``'s schedule row is written."""
    if raw.pg:
        raw.query("CREATE FUNCTION clockwf_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ "
                  "BEGIN IF NEW.workflow_id = '" + workflow_id + "' THEN "
                  "RAISE EXCEPTION 'refused by a test trigger'; END IF; RETURN NEW; END $$")
        raw.query("CREATE TRIGGER clockwf_test_refuse BEFORE INSERT OR UPDATE ON schedules "
                  "FOR EACH ROW EXECUTE FUNCTION clockwf_test_refuse()")
    else:
        raw.query("CREATE TRIGGER clockwf_test_refuse BEFORE INSERT ON schedules "
                  "WHEN NEW.workflow_id = '" + workflow_id + "' "
                  "BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END")


def test_database_error_in_the_middle_of_a_batch(store: Store, raw: RawDb) -> None:
    seeded(store)
    _install_failing_trigger(raw, "wf-c")
    before, a_before = raw.dump(), state_of_a(store)
    batch = [report(V2, name="a.yaml"), report(NEW_C, name="c.yaml"),
             report(NEW_E, name="e.yaml")]
    with pytest.raises(StoreError, match="refused by a test trigger") as info:
        lifecycle.publish(store, batch, T0 + timedelta(hours=4))
    assert info.value.exit_code == 1
    assert_unchanged(before, raw.dump(), "a database error after wf-a v2 was written")
    assert state_of_a(store) == a_before


def test_one_time_become_past_inside_the_transaction(store: Store, raw: RawDb) -> None:
    """Validated while its run_at was ahead; by the publish instant it is past: refused from
    inside the transaction, after wf-a v2 and wf-c were written."""
    seeded(store)
    before = raw.dump()
    batch = [report(V2, name="a.yaml"), report(NEW_C, name="c.yaml"),
             report(NEW_E, name="e.yaml")]
    with pytest.raises(InvalidInput, match="run_at must lie in the future"):
        lifecycle.publish(store, batch, utc("2030-01-03T00:00:00Z"))
    assert_unchanged(before, raw.dump(), "a one-time schedule past at publish")
