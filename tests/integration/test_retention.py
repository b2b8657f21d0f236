"""``clockwf prune``: finished history older than an age goes; unfinished runs never do."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

import clockwf.cli.worker  # noqa: F401  registers `prune` even before the CLI imports it
from clockwf.cli import main
from clockwf.errors import InvalidInput
from clockwf.retention import prune
from clockwf.store import Store
from clockwf.store.base import NewRun

NOW = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=40)


def _runs(store: Store) -> dict[str, int]:
    """old-done (finished 40 days ago, with a step attempt), old-queued, old-running,
    new-done (finished an hour ago)."""
    keys = ["old-done", "old-queued", "old-running", "new-done"]
    runs = [NewRun(fire_key=f"manual:{k}:1", workflow_id=k, workflow_version=1,
                   trigger_type="manual", payload="{}", metadata="{}", created_at=OLD)
            for k in keys]
    with store.transaction() as tx:
        created = tx.insert_runs(runs)
        ids = {k: created[f"manual:{k}:1"] for k in keys}
        for key in ("old-done", "old-running", "new-done"):
            assert tx.claim_run(ids[key], owner="w", now=OLD, lease_seconds=86400) is not None
        tx.insert_step_attempt(run_id=ids["old-done"], step_index=0, attempt=1,
                               step_id="s", kind="run", started_at=OLD)
        tx.finish_step_attempt(run_id=ids["old-done"], step_index=0, attempt=1,
                               status="succeeded", finished_at=OLD, duration_ms=5, exit_code=0,
                               http_status=None, output="out", error=None)
        tx.finish_run(ids["old-done"], owner="w", status="succeeded", error=None, now=OLD)
        tx.finish_run(ids["new-done"], owner="w", status="failed", error="x",
                      now=NOW - timedelta(hours=1))
    return ids


def test_prune_dry_run_then_for_real(store: Store) -> None:
    ids = _runs(store)
    dry = prune(store, older_than=timedelta(days=30), now=NOW, dry_run=True)
    assert dry.as_json() == {"dry_run": True, "before": "2027-05-02T12:00:00Z",
                             "deleted": {"step_attempts": 1, "runs": 1, "skips": 0,
                                         "schedules": 0, "notification_deliveries": 0,
                                         "notifications": 0}}
    with store.read() as tx:
        assert tx.get_run(ids["old-done"]) is not None   # a dry run deletes nothing
    done = prune(store, older_than=timedelta(days=30), now=NOW)
    assert done.deleted == dry.deleted
    with store.read() as tx:
        assert tx.get_run(ids["old-done"]) is None
        assert tx.list_step_attempts(ids["old-done"]) == []
        left = {k: tx.get_run(i) for k, i in ids.items() if k != "old-done"}
    assert {k: r["status"] for k, r in left.items() if r is not None} == \
        {"old-queued": "queued", "old-running": "running", "new-done": "failed"}


def test_prune_refuses_a_zero_age(store: Store) -> None:
    with pytest.raises(InvalidInput):
        prune(store, older_than=timedelta(0), now=NOW)


def test_prune_command_json(store: Store, store_url: str, namespace: str,
                            capsys: pytest.CaptureFixture[str]) -> None:
    _runs(store)
    args = ["prune", "--older-than", "30d", "--db", store_url, "--namespace", namespace,
            "--now", "2027-06-01T12:00:00Z", "--format", "json"]
    assert main([*args, "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)["deleted"]["runs"] == 1
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == {"dry_run": False, "before": "2027-05-02T12:00:00Z",
                   "deleted": {"step_attempts": 1, "runs": 1, "skips": 0, "schedules": 0,
                               "notification_deliveries": 0, "notifications": 0}}
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["deleted"]["runs"] == 0
    assert main(["prune", "--older-than", "soon", "--db", store_url]) == 2
