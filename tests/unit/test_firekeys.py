"""Fire keys are unambiguous: distinct occurrences never share a key, and every key reads back
into the parts it was built from (clockwf.firekeys)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clockwf import firekeys
from clockwf.firekeys import FireKey, event_key, manual_key, parse
from clockwf.models import EVENT_PATTERN, ID_PATTERN
from clockwf.schedule import fire_key

SETTINGS = settings(derandomize=True, database=None, deadline=None, max_examples=200)

workflow_ids = st.from_regex(ID_PATTERN, fullmatch=True)
# Event names as the pattern allows them, and names built mostly of ':' and short words, where
# collisions would hide.
events = st.one_of(
    st.from_regex(EVENT_PATTERN, fullmatch=True),
    st.builds(lambda head, tail: head + tail, st.sampled_from("ab1"),
              st.text(alphabet="ab:", max_size=8)),
)
# Event ids and manual keys: 1-200 characters without whitespace (what `emit --id` and
# `run --key` accept), again with a bias towards ':', '%' and the escapes themselves.
_ANY = st.characters(blacklist_categories=("Cs",)).filter(lambda c: not c.isspace())
free_text = st.one_of(
    st.text(alphabet=_ANY, min_size=1, max_size=200),
    st.lists(st.sampled_from(["a", ":", "%", "%3A", "%25", "3A", "25"]), min_size=1,
             max_size=8).map("".join),
)


@SETTINGS
@given(workflow_ids, events, free_text)
def test_an_event_key_reads_back_into_its_parts(workflow_id: str, event: str,
                                               event_id: str) -> None:
    key = event_key(workflow_id, event, event_id)
    assert parse(key) == FireKey("event", workflow_id, event=event, event_id=event_id)


@SETTINGS
@given(st.tuples(workflow_ids, events, free_text), st.tuples(workflow_ids, events, free_text))
def test_distinct_events_never_share_a_key(a: tuple[str, str, str],
                                           b: tuple[str, str, str]) -> None:
    assert (event_key(*a) == event_key(*b)) == (a == b)


@SETTINGS
@given(workflow_ids, events, st.sampled_from(["", "a", "ab"]), st.sampled_from(["", "b", "bc"]))
def test_moving_a_colon_between_event_and_id_changes_the_key(
        workflow_id: str, event: str, left: str, right: str) -> None:
    # "a:b" + "c" and "a" + "b:c" both read "a:b:c" when the id is not encoded.
    first = event_key(workflow_id, f"{event}:{left}" if left else event, f"{right}x")
    second = event_key(workflow_id, event, f"{left}:{right}x" if left else f":{right}x")
    assert first != second


def test_the_collision_found_in_review() -> None:
    assert event_key("wf", "a:b", "c") != event_key("wf", "a", "b:c")
    assert event_key("wf", "a", "b:c") == "event:wf:a:b%3Ac"


@SETTINGS
@given(workflow_ids, events, free_text)
def test_keys_without_percent_or_colon_in_the_id_are_unchanged(
        workflow_id: str, event: str, event_id: str) -> None:
    """Keys stored before the encoding keep their meaning: no migration rewrites them."""
    if ":" not in event_id and "%" not in event_id:
        assert event_key(workflow_id, event, event_id) == f"event:{workflow_id}:{event}:{event_id}"


@SETTINGS
@given(workflow_ids, free_text)
def test_a_manual_key_is_the_whole_rest(workflow_id: str, key: str) -> None:
    built = manual_key(workflow_id, key)
    assert built == f"manual:{workflow_id}:{key}"     # as stored before: no change at all
    assert parse(built) == FireKey("manual", workflow_id, key=key)


@SETTINGS
@given(st.tuples(workflow_ids, free_text), st.tuples(workflow_ids, free_text))
def test_distinct_manual_runs_never_share_a_key(a: tuple[str, str], b: tuple[str, str]) -> None:
    assert (manual_key(*a) == manual_key(*b)) == (a == b)


@SETTINGS
@given(workflow_ids, st.sampled_from(["recurring", "schedule"]),
       st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9000, 1, 1),
                    timezones=st.just(UTC)))
def test_time_keys_read_back(workflow_id: str, kind: str, at: datetime) -> None:
    key = fire_key(kind, workflow_id, at)
    assert parse(key) == FireKey(kind, workflow_id, instant=at.strftime("%Y-%m-%dT%H:%M:%SZ"))


@SETTINGS
@given(workflow_ids, events, free_text, free_text)
def test_kinds_never_share_a_key(workflow_id: str, event: str, event_id: str,
                                 key: str) -> None:
    built = {event_key(workflow_id, event, event_id), manual_key(workflow_id, key),
             fire_key("recurring", workflow_id, datetime(2027, 1, 1, tzinfo=UTC)),
             fire_key("schedule", workflow_id, datetime(2027, 1, 1, tzinfo=UTC))}
    assert len(built) == 4
    assert {parse(k).kind for k in built} == set(firekeys.KINDS)


@SETTINGS
@given(free_text)
def test_encoding_round_trips_and_leaves_no_colon(text: str) -> None:
    encoded = firekeys.encode_part(text)
    assert ":" not in encoded
    assert firekeys.decode_part(encoded) == text


@pytest.mark.parametrize("text", ["", "event", "event:wf", "event:wf:x", "nightly:wf:x",
                                  ":wf:x", "event::a:b"])
def test_what_is_not_a_fire_key_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="fire key"):
        parse(text)
