"""Fire keys in the store: an event whose name and id move a ':' between them is another
occurrence, and launches its own run (both stores)."""

from __future__ import annotations

from clockwf import runs
from clockwf.firekeys import parse
from clockwf.store import Store

from .scheduling_support import definition, publish_text, runs_of, utc

NOW = "2027-01-10T00:00:00Z"


def test_events_that_differ_only_in_where_a_colon_falls_are_two_runs(store: Store) -> None:
    # The same workflow listens to "order" first, then (republished) to "order:paid": the id
    # "paid:42" of the first and the id "42" of the second used to make one key,
    # event:billing:order:paid:42, and the second event launched nothing.
    publish_text(store, definition("billing", "type: event\nevent: order"), NOW)
    (first,) = runs.emit(store, "order", utc(NOW), event_id="paid:42")
    publish_text(store, definition("billing", "type: event\nevent: order:paid"), NOW)
    (second,) = runs.emit(store, "order:paid", utc(NOW), event_id="42")
    assert first.run_id is not None and second.run_id is not None
    assert first.fire_key != second.fire_key
    assert {(parse(r["fire_key"]).event, parse(r["fire_key"]).event_id)
            for r in runs_of(store)} == {("order", "paid:42"), ("order:paid", "42")}
    # ... and each is still idempotent under its own id.
    (again,) = runs.emit(store, "order:paid", utc(NOW), event_id="42")
    assert again.run_id is None and again.existing_run_id == second.run_id


def test_an_event_id_without_colon_or_percent_keeps_its_stored_key(store: Store) -> None:
    publish_text(store, definition("ev", "type: event\nevent: invoice:created"), NOW)
    (started,) = runs.emit(store, "invoice:created", utc(NOW), event_id="inv-7")
    assert started.fire_key == "event:ev:invoice:created:inv-7"


def test_a_percent_in_an_event_id_is_kept_apart_from_its_escape(store: Store) -> None:
    publish_text(store, definition("ev", "type: event\nevent: e"), NOW)
    (colon,) = runs.emit(store, "e", utc(NOW), event_id="a:b")
    (escape,) = runs.emit(store, "e", utc(NOW), event_id="a%3Ab")
    assert colon.run_id is not None and escape.run_id is not None
    assert [parse(r["fire_key"]).event_id for r in runs_of(store)] == ["a:b", "a%3Ab"]
