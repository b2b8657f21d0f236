"""Publishing a set of definitions from a source, with prune, and ``diff``'s plan of it (both
stores).

The plan must say exactly what the publish then does: that is checked over random sequences of
sets, not only on examples.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clockwf import lifecycle
from clockwf.errors import DefinitionInvalid, Refused
from clockwf.plan import plan
from clockwf.store.base import Store
from clockwf.validate import FileReport, validate_source

NOW = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)


def definition(wid: str, cron: str = "0 3 * * *", overlap: str = "allow",
               command: str = "echo 0") -> FileReport:
    text = (f"id: {wid}\ntrigger: {{type: recurring, cron: '{cron}', timezone: Europe/Paris}}\n"
            f"policy: {{overlap: {overlap}}}\nsteps:\n  - run: {command}\n")
    report = validate_source(text, f"defs/{wid}.yaml", NOW, for_publish=True)
    assert report.ok, report.errors
    return report


def states(store: Store) -> dict[str, tuple[bool, str | None]]:
    return {r["workflow_id"]: (bool(r["paused"]), r.get("published_from"))
            for r in lifecycle.list_workflows(store)}


def test_source_is_recorded_on_each_version_and_shown(store: Store) -> None:
    lifecycle.publish_set(store, [definition("a")], NOW, source="git.example.com/ops//s")
    detail = lifecycle.show(store, "a")
    assert detail.workflow["published_from"] == "git.example.com/ops//s"
    assert [v["published_from"] for v in detail.versions] == ["git.example.com/ops//s"]
    # same content from another source: a new version, so the version says where it came from
    out = lifecycle.publish_set(store, [definition("a")], NOW, source="elsewhere")
    assert [p.status for p in out.published] == ["published"]
    # same content, no source stated: unchanged, and it keeps its source
    again = lifecycle.publish(store, [definition("a")], NOW)
    assert [p.status for p in again] == ["unchanged"]
    changed = lifecycle.publish(store, [definition("a", command="echo changed")], NOW)
    assert [p.status for p in changed] == ["published"]
    detail = lifecycle.show(store, "a")
    assert [v["published_from"] for v in detail.versions] == ["elsewhere", "elsewhere",
                                                              "git.example.com/ops//s"]


def test_prune_pauses_only_what_the_same_source_published(store: Store) -> None:
    lifecycle.publish_set(store, [definition(w) for w in ("a", "b", "c")], NOW, source="one")
    lifecycle.publish_set(store, [definition("theirs")], NOW, source="two")
    lifecycle.publish(store, [definition("by-hand")], NOW)
    out = lifecycle.publish_set(store, [definition("a"), definition("b")], NOW, source="one",
                                prune="pause")
    assert [(c.workflow_id, c.status) for c in out.pruned] == [("c", "paused")]
    assert states(store) == {"a": (False, "one"), "b": (False, "one"), "c": (True, "one"),
                             "theirs": (False, "two"), "by-hand": (False, None)}
    assert lifecycle.show(store, "c").workflow["pause_note"] == "pruned: no longer in one"
    again = lifecycle.publish_set(store, [definition("a"), definition("b")], NOW, source="one",
                                  prune="pause")
    assert again.pruned == []          # already paused: nothing to do
    # c comes back: the publish resumes it; a pause by hand is left alone
    lifecycle.pause(store, "b", NOW, "by hand")
    later = NOW + timedelta(days=2)
    assert {c.workflow_id: c.status for c in plan(
        store, [definition(w) for w in "abc"], later, source="one", prune="pause").changes} == {
        "a": "unchanged", "b": "unchanged", "c": "changed"}
    back = lifecycle.publish_set(store, [definition(w) for w in "abc"], later, source="one",
                                 prune="pause")
    assert [(c.workflow_id, c.status, c.skipped) for c in back.resumed] == [("c", "resumed", 2)]
    assert {w: s[0] for w, s in states(store).items() if w in "abc"} == {
        "a": False, "b": True, "c": False}


def test_prune_delete_keeps_versions(store: Store) -> None:
    lifecycle.publish_set(store, [definition(w) for w in ("a", "b", "c")], NOW, source="one")
    out = lifecycle.publish_set(store, [definition("a"), definition("b")], NOW, source="one",
                                prune="delete")
    assert [(c.workflow_id, c.status) for c in out.pruned] == [("c", "deleted")]
    assert set(states(store)) == {"a", "b"}
    with store.read() as tx:
        assert tx.get_version("c", 1) is not None


def test_a_prune_of_more_than_half_is_refused_and_nothing_changes(store: Store) -> None:
    lifecycle.publish_set(store, [definition(w) for w in ("a", "b", "c")], NOW, source="one")
    before = states(store)
    with pytest.raises(Refused, match=r"would pause 2 of the 3 workflows published from one "
                                      r"\(b, c\), more than half.*--yes"):
        lifecycle.publish_set(store, [definition("a", cron="0 4 * * *"), definition("new")],
                              NOW, source="one", prune="pause")
    assert states(store) == before     # the publish was rolled back with the prune
    assert lifecycle.show(store, "a").workflow["current_version"] == 1
    out = lifecycle.publish_set(store, [definition("a"), definition("new")], NOW,
                                source="one", prune="pause", confirm=True)
    assert sorted(c.workflow_id for c in out.pruned) == ["b", "c"]
    # exactly half is not more than half
    lifecycle.publish_set(store, [definition(w) for w in ("p", "q")], NOW, source="two")
    half = lifecycle.publish_set(store, [definition("p")], NOW, source="two", prune="delete")
    assert [c.workflow_id for c in half.pruned] == ["q"]


def test_plan_shows_diff_and_fires_when_the_trigger_changes(store: Store) -> None:
    lifecycle.publish_set(store, [definition("a"), definition("b"), definition("c")], NOW,
                          source="one")
    result = plan(store, [definition("a", cron="30 4 * * *"), definition("b", overlap="skip"),
                          definition("new")], NOW, source="one", prune="pause")
    by_id = {c.workflow_id: c for c in result.changes}
    assert {w: c.status for w, c in by_id.items()} == {
        "a": "changed", "b": "changed", "new": "new", "c": "removed"}
    assert "-trigger: {type: recurring, cron: '0 3 * * *'" in by_id["a"].diff
    assert "+trigger: {type: recurring, cron: '30 4 * * *'" in by_id["a"].diff
    assert by_id["a"].fires_before == ["2027-01-05T03:00:00+01:00", "2027-01-06T03:00:00+01:00",
                                       "2027-01-07T03:00:00+01:00"]
    assert by_id["a"].fires_after == ["2027-01-05T04:30:00+01:00", "2027-01-06T04:30:00+01:00",
                                      "2027-01-07T04:30:00+01:00"]
    assert "+policy: {overlap: skip}" in by_id["b"].diff
    assert by_id["b"].fires_before is None     # the trigger did not change
    assert result.changed and result.refused is None


Step = tuple[frozenset[str], frozenset[str], str | None]   # ids, ids with changed content, prune


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(
    st.frozensets(st.sampled_from("abcde"), min_size=1),
    st.frozensets(st.sampled_from("abcde")),
    st.sampled_from([None, "pause", "delete"])), min_size=1, max_size=4))
def test_the_plan_is_what_publish_then_does(open_stores: Callable[..., Store],
                                            steps: list[Step]) -> None:
    store = open_stores(f"p-{uuid.uuid4().hex[:8]}")
    generation: dict[str, int] = {}
    now = NOW
    for ids, touched, prune in steps:
        for wid in touched:
            generation[wid] = generation.get(wid, 0) + 1
        reports = [definition(w, command=f"echo {generation.get(w, 0)}") for w in sorted(ids)]
        predicted = plan(store, reports, now, source="src", prune=prune)
        try:
            out = lifecycle.publish_set(store, reports, now, source="src", prune=prune)
        except Refused:
            assert predicted.refused is not None
            continue
        assert predicted.refused is None
        back = {c.workflow_id for c in out.resumed}
        did = {p.workflow_id: ("unchanged" if p.status == "unchanged"
                               and p.workflow_id not in back else "published")
               for p in out.published}
        did.update({c.workflow_id: "pruned" for c in out.pruned})
        expected = {c.workflow_id: {"new": "published", "changed": "published",
                                    "unchanged": "unchanged", "removed": "pruned"}[c.status]
                    for c in predicted.changes}
        assert did == expected
        assert not plan(store, reports, now, source="src", prune=prune).changed
        now += timedelta(minutes=1)


def test_plan_refuses_what_publish_refuses_naming_the_file(store: Store) -> None:
    bad = validate_source("id: x\n", "defs/x.yaml", NOW, for_publish=True)
    with pytest.raises(DefinitionInvalid, match=r"publish would refuse these files:\n"
                                                r"defs/x\.yaml:1:1: steps: missing"):
        plan(store, [definition("a"), bad], NOW)
    with pytest.raises(DefinitionInvalid, match=r"also defined in defs/a\.yaml"):
        plan(store, [definition("a"), definition("a")], NOW)
