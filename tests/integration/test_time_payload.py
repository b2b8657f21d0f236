"""The WorkflowClockTrigger.v1 payload of a time-triggered run is derived from the run's fields
and provenance (nothing of it is stored whole): what the step receives and what `runs show`
prints are byte for byte the pinned document, on both stores."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clockwf.cli import main
from clockwf.launcher import DERIVED_PAYLOAD, run_payload
from clockwf.scheduler import tick
from clockwf.store import Store

from .executor_support import make_executor, run_row
from .scheduling_support import definition, publish_text

ZONE = "America/New_York"
# A Tuesday in winter; a `now` with microseconds, 2.25 s after the occurrence it launches.
NOMINAL = datetime(2031, 1, 7, 14, 30, tzinfo=UTC)
NOW = NOMINAL + timedelta(seconds=2, microseconds=250_000)


def pinned(wid: str, version: int, fired_at: str, *, catchup: bool = False) -> str:
    """The document as it was stored whole before it was derived (key order included)."""
    return ('{"schema":"WorkflowClockTrigger.v1","trigger_type":"recurring",'
            f'"workflow_id":"{wid}","workflow_version":{version},'
            f'"fire_key":"recurring:{wid}:2031-01-07T14:30:00Z",'
            '"scheduled_for":"2031-01-07T09:30:00-05:00",'
            '"scheduled_for_utc":"2031-01-07T14:30:00Z",'
            f'"fired_at":"{fired_at}","timezone":"{ZONE}","cron":"30 9 * * 2",'
            f'"run_at":null,"catchup":{json.dumps(catchup)},"backfill":false}}')


def test_the_step_and_runs_show_get_the_pinned_payload(store: Store, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    wid = "billing"
    text = definition(wid, f'type: recurring\ncron: "30 9 * * 2"\ntimezone: {ZONE}',
                      steps=f"steps:\n  - run: cat > {tmp_path}/stdin.json\n")
    publish_text(store, text, NOMINAL - timedelta(hours=1))
    report = tick(store, NOW)
    [launched] = [e for e in report.launched if e["workflow_id"] == wid]
    row = run_row(store, launched["run_id"])
    assert row["payload"] == DERIVED_PAYLOAD   # nothing of it is stored whole
    expected = pinned(wid, 1, "2031-01-07T14:30:02.250000Z")
    assert run_payload(row) == expected
    ex = make_executor(store)
    try:
        assert ex.execute(launched["run_id"]) == "succeeded"
    finally:
        ex.stop(0)
    assert (tmp_path / "stdin.json").read_text() == expected
    capsys.readouterr()
    assert main(["runs", "show", str(launched["run_id"]), "--db", store.url,
                 "--namespace", store.ns, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["payload"] == json.loads(expected)


def test_a_payload_stored_whole_is_handed_on_as_stored() -> None:
    """Runs stored before the payload was derived (and manual or event runs) keep theirs."""
    stored = '{"schema":"WorkflowClockTrigger.v1","x":[1,"é"]}'
    run = {"payload": stored, "trigger_type": "recurring", "metadata": "{}"}
    assert run_payload(run) == stored
