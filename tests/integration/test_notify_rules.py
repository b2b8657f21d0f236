"""The alerting rules as properties, over any sequence of run outcomes, on both stores:
``repeat: change`` sends the first failure of each streak and a ``recovered`` after it,
``repeat: every`` each failure; ``cancelled`` is neither; ``pause_after_failures`` pauses once
per streak; the streak in each notification counts the failed runs since the last success."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clockwf import lifecycle
from clockwf.clock import FixedClock
from clockwf.executor.ledger import Ledger
from clockwf.notify.outbox import q_all, q_one
from clockwf.runs import start_manual
from clockwf.store import Store, open_store
from clockwf.validate import validate_source

T0 = datetime(2027, 5, 1, tzinfo=UTC)
OUTCOMES = st.lists(st.sampled_from(["succeeded", "failed", "timed_out", "interrupted",
                                     "cancelled"]), max_size=12)


def publish(store: Store, doc: dict[str, Any]) -> None:
    report = validate_source(json.dumps(doc), "wf.yaml", T0, for_publish=True)
    assert report.ok, [str(d) for d in report.errors]
    lifecycle.publish(store, [report], T0)


def finish(store: Store, status: str, at: datetime) -> None:
    started = start_manual(store, "wf", at)
    ledger = Ledger(store, "o", FixedClock(at), lease_seconds=3600)
    with store.transaction() as tx:
        [claimed] = tx.claim_runs(owner="o", now=at, lease_seconds=3600, limit=1)
        assert claimed["run_id"] == started.run_id
        assert ledger.finish_run(tx, started.run_id, status, None)


def expected(outcomes: list[str], repeat: str, pause_after: int | None) -> list[tuple[str, int]]:
    """The model: (event, streak) in order."""
    events: list[tuple[str, int]] = []
    streak, failing, paused = 0, False, False
    for outcome in outcomes:
        if outcome == "cancelled":
            continue
        if outcome == "succeeded":
            if failing:
                events.append(("recovered", streak))
            streak, failing = 0, False
            continue
        streak += 1
        if repeat == "every" or not failing:
            events.append((outcome, streak))
        failing = True
        if pause_after is not None and streak >= pause_after and not paused:
            events.append(("auto_paused", streak))
            paused = True
    return events


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(outcomes=OUTCOMES, repeat=st.sampled_from(["change", "every"]),
       pause_after=st.one_of(st.none(), st.integers(1, 4)))
def test_notifications_follow_the_rules(store_url: str, outcomes: list[str], repeat: str,
                                        pause_after: int | None) -> None:
    with open_store(store_url, f"p-{uuid.uuid4().hex[:10]}") as store:
        doc: dict[str, Any] = {"id": "wf", "notify": {
            "repeat": repeat, "on": ["failed", "timed_out", "interrupted", "recovered",
                                     "auto_paused"], "to": [{"command": "true"}]},
            "steps": [{"run": "true"}]}
        if pause_after is not None:
            doc["expect"] = {"pause_after_failures": pause_after}
        publish(store, doc)
        for i, outcome in enumerate(outcomes):
            finish(store, outcome, T0 + timedelta(minutes=i))
        with store.read() as tx:
            rows = q_all(tx, "alerts_list_notifications", workflow_id="wf", limit=1000)
            bodies = [json.loads(q_one(tx, "alerts_get_notification", id=r["id"])["body"])
                      for r in rows]
            health = q_one(tx, "alerts_get_health", workflow_id="wf")
            workflow = tx.get_workflow("wf")
        bodies.sort(key=lambda b: (b["run_id"], b["event"] == "auto_paused"))
        assert [(b["event"], b.get("streak", 0)) for b in bodies] == \
            expected(outcomes, repeat, pause_after)
        assert len({b["id"] for b in bodies}) == len(bodies)
        model = expected(outcomes, repeat, pause_after)
        assert bool(workflow["paused"]) == any(e == "auto_paused" for e, _ in model)
        real = [o for o in outcomes if o != "cancelled"]
        tail = len(real) - (max((i for i, o in enumerate(real) if o == "succeeded"),
                                default=-1) + 1)
        assert health["consecutive_failures"] == tail
