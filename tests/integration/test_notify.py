"""Alerts end to end on both stores: each event is written with its state change, delivered to
a real HTTP receiver on 127.0.0.1 and a real command target, retried when a target fails, and
reported by ``clockwf status``."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from clockwf import lifecycle
from clockwf.clock import FixedClock
from clockwf.executor.ledger import Ledger
from clockwf.monitor import health
from clockwf.notify.body import notification_schema
from clockwf.notify.deliver import Deliverer, Settings, deliver_due
from clockwf.notify.outbox import check_expectations, q_all, q_one
from clockwf.scheduler import tick
from clockwf.store import Store
from clockwf.validate import validate_source

from .executor_support import make_executor, start, wait_for
from .notify_support import Receiver

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
SCHEMA = notification_schema()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def publish(store: Store, doc: dict[str, Any], now: datetime = T0) -> str:
    report = validate_source(json.dumps(doc), f"{doc['id']}.yaml", now, for_publish=True)
    assert report.ok, [str(d) for d in report.errors]
    lifecycle.publish(store, [report], now)
    return str(doc["id"])


def targets(receiver: Receiver, out: Path) -> list[dict[str, Any]]:
    return [{"webhook": {"url": receiver.url, "headers": {"X-Token": "${env:NOTIFY_TOKEN}"}}},
            {"command": f"cat >> {out}; echo >> {out}"}]


def notifications(store: Store) -> list[dict[str, Any]]:
    with store.read() as tx:
        rows = q_all(tx, "alerts_list_notifications", workflow_id=None, limit=1000)
        return [json.loads(q_one(tx, "alerts_get_notification", id=r["id"])["body"])
                for r in sorted(rows, key=lambda r: (r["created_at"], r["event"]))]


def deliver_all(store: Store, at: datetime = T0 + timedelta(days=30)) -> list[Any]:
    return deliver_due(store, "test", lambda: at, settings=Settings(attempts=3, backoff_s=1),
                       limit=1000)


def delivered_everywhere(store: Store, receiver: Receiver, out: Path) -> list[dict[str, Any]]:
    """Deliver what is pending; the receiver and the command target got the same documents."""
    outcomes = deliver_all(store)
    assert outcomes and all(o.status == "delivered" for o in outcomes), outcomes
    expected = sorted(n["id"] for n in notifications(store))
    got = receiver.wait(len(expected))
    assert sorted(r["body"]["id"] for r in got) == expected
    assert all(r["headers"]["Idempotency-Key"] == r["body"]["id"] for r in got)
    lines = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    assert sorted(n["id"] for n in lines) == expected
    for body in lines:
        jsonschema.validate(body, SCHEMA)
    return lines


def run_to_end(store: Store, wid: str) -> str:
    run_id = start(store, wid)
    return make_executor(store).execute(run_id)


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    value = f"secret-{uuid.uuid4().hex}"
    monkeypatch.setenv("NOTIFY_TOKEN", value)
    return value


def test_failed_streak_recovered_and_succeeded(store: Store, receiver: Receiver,
                                               tmp_path: Path, token: str) -> None:
    flag = tmp_path / "ok"
    out = tmp_path / "command.jsonl"
    wid = publish(store, {"id": "flaky", "notify": {
        "on": ["failed", "recovered", "succeeded"], "to": targets(receiver, out)},
        "steps": [{"run": f"echo trying; test -e {flag}"}]})
    assert run_to_end(store, wid) == "failed"
    assert run_to_end(store, wid) == "failed"      # same streak: no second alert (change)
    flag.touch()
    assert run_to_end(store, wid) == "succeeded"
    events = [n["event"] for n in notifications(store)]
    assert events == ["failed", "recovered", "succeeded"]
    outcomes = deliver_all(store)
    assert [o.status for o in outcomes] == ["delivered"] * 6
    got = receiver.wait(3)
    assert sorted(r["body"]["event"] for r in got) == ["failed", "recovered", "succeeded"]
    for request in got:
        body = request["body"]
        jsonschema.validate(body, SCHEMA)
        assert request["headers"]["Idempotency-Key"] == body["id"]
        assert request["headers"]["X-Token"] == token
        assert token not in json.dumps(body)
    failed = next(r["body"] for r in got if r["body"]["event"] == "failed")
    assert failed["streak"] == 1 and failed["status"] == "failed"
    assert "trying" in failed["output_tail"]
    recovered = next(r["body"] for r in got if r["body"]["event"] == "recovered")
    assert recovered["streak"] == 2
    lines = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    assert sorted(n["id"] for n in lines) == sorted(r["body"]["id"] for r in got)
    assert deliver_all(store) == []                 # delivered once, nothing left


def test_repeat_every_timed_out_and_interrupted(store: Store, receiver: Receiver,
                                                tmp_path: Path) -> None:
    wid = publish(store, {"id": "slowpoke", "notify": {
        "repeat": "every", "to": targets(receiver, tmp_path / "c")},
        "steps": [{"run": "sleep 5", "timeout": "1s"}]})
    assert run_to_end(store, wid) == "timed_out"
    assert run_to_end(store, wid) == "timed_out"    # repeat: every
    run_id = start(store, wid)
    with store.transaction() as tx:                  # a daemon claimed it, then died
        assert tx.claim_runs(owner="dead", now=T0, lease_seconds=-1, limit=10)
    sweeper = Ledger(store, "sweeper", FixedClock(T0 + timedelta(seconds=1)), lease_seconds=30)
    with store.transaction() as tx:
        assert sweeper.expire_leases(tx) == [run_id]
    found = notifications(store)
    assert [n["event"] for n in found] == ["timed_out", "timed_out", "interrupted"]
    assert [n["streak"] for n in found] == [1, 2, 3]
    assert found[2]["run_id"] == run_id
    deliver_all(store)
    assert len(receiver.wait(3)) == 3


def test_auto_pause_and_resume(store: Store, receiver: Receiver, tmp_path: Path) -> None:
    wid = publish(store, {"id": "breaks", "trigger": {"type": "recurring", "cron": "0 * * * *"},
                          "expect": {"pause_after_failures": 2},
                          "notify": {"to": targets(receiver, tmp_path / "c")},
                          "steps": [{"run": "exit 1"}]})
    assert run_to_end(store, wid) == "failed"
    with store.read() as tx:
        assert not tx.get_workflow(wid)["paused"]
    assert run_to_end(store, wid) == "failed"
    with store.read() as tx:
        workflow = tx.get_workflow(wid)
        schedule = tx.get_schedule(wid)
    assert workflow["paused"] and schedule["status"] == "paused"
    assert "auto-paused after 2 consecutive failed runs" in workflow["pause_note"]
    assert [n["event"] for n in notifications(store)] == ["failed", "auto_paused"]
    delivered_everywhere(store, receiver, tmp_path / "c")
    report = health(store, T0, overdue_after=timedelta(days=9999),
                    stale_after=timedelta(days=9999))
    assert any("breaks is paused: auto-paused" in p for p in report.problems)
    lifecycle.resume(store, wid, datetime.now(UTC))
    with store.read() as tx:
        assert tx.get_workflow(wid)["pause_note"] is None
        h = q_one(tx, "alerts_get_health", workflow_id=wid)
    assert h["auto_pause_reason"] is None and h["consecutive_failures"] == 0
    report = health(store, T0, overdue_after=timedelta(days=9999),
                    stale_after=timedelta(days=9999))
    assert not any("breaks" in p for p in report.problems)


def test_missed_once_per_workflow_per_tick_not_for_pause(store: Store, receiver: Receiver,
                                                         tmp_path: Path) -> None:
    out = tmp_path / "c"
    every = {"to": targets(receiver, out)}
    publish(store, {"id": "minutely", "trigger": {"type": "recurring", "cron": "* * * * *"},
                    "policy": {"catchup": "latest", "catchup_window": "5m"},
                    "notify": every, "steps": [{"run": "true"}]})
    publish(store, {"id": "paused-one", "trigger": {"type": "recurring", "cron": "* * * * *"},
                    "notify": every, "steps": [{"run": "true"}]})
    assert tick(store, T0 + timedelta(minutes=1)).launched     # on time: no alert
    assert notifications(store) == []
    lifecycle.pause(store, "paused-one", T0 + timedelta(minutes=1, seconds=30))
    # No daemon for 10 minutes: 12:02 .. 12:10 were not launched on time (the older ones
    # dropped, the newer coalesced); 12:11 is within its grace, so on time.
    report = tick(store, T0 + timedelta(minutes=11, seconds=30))
    assert [e["workflow_id"] for e in report.launched] == ["minutely"]
    lifecycle.resume(store, "paused-one", T0 + timedelta(minutes=12))
    tick(store, T0 + timedelta(minutes=12))
    found = notifications(store)
    assert [(n["event"], n["workflow_id"]) for n in found] == [("missed", "minutely")]
    assert found[0]["count"] == 9, found[0]
    assert found[0]["from"] == "2027-03-01T12:02:00Z" and found[0]["to"] == "2027-03-01T12:10:00Z"
    jsonschema.validate(found[0], SCHEMA)
    tick(store, T0 + timedelta(minutes=11, seconds=30))        # the same tick again: nothing
    assert len(notifications(store)) == 1
    assert delivered_everywhere(store, receiver, out)[0]["count"] == 9


def test_overdue_counted_from_first_publish_then_recovered(store: Store, receiver: Receiver,
                                                           tmp_path: Path) -> None:
    wid = publish(store, {"id": "deadman", "expect": {"success_within": "26h"},
                          "notify": {"to": targets(receiver, tmp_path / "c")},
                          "steps": [{"run": "true"}]})
    assert check_expectations(store, T0 + timedelta(hours=25)) == 0
    tick(store, T0 + timedelta(hours=26, seconds=1))             # the tick checks expectations
    tick(store, T0 + timedelta(hours=30))                        # alerted once
    found = notifications(store)
    assert [n["event"] for n in found] == ["overdue"]
    assert found[0]["expected_within"] == "1d2h" and "last_success_at" not in found[0]
    assert "first published" in found[0]["summary"]
    delivered_everywhere(store, receiver, tmp_path / "c")
    assert run_to_end(store, wid) == "succeeded"
    assert sorted(n["event"] for n in notifications(store)) == ["overdue", "recovered"]


def test_slow_run(store: Store, receiver: Receiver, tmp_path: Path) -> None:
    wid = publish(store, {"id": "long", "expect": {"finish_within": "30m"},
                          "notify": {"to": targets(receiver, tmp_path / "c")},
                          "steps": [{"run": "true"}]})
    run_id = start(store, wid)
    with store.transaction() as tx:
        assert tx.claim_runs(owner="w", now=T0, lease_seconds=86400, limit=5)
    assert check_expectations(store, T0 + timedelta(minutes=29)) == 0
    assert check_expectations(store, T0 + timedelta(minutes=31)) == 1
    assert check_expectations(store, T0 + timedelta(minutes=45)) == 0
    found = notifications(store)
    assert [(n["event"], n["run_id"]) for n in found] == [("slow", run_id)]
    delivered_everywhere(store, receiver, tmp_path / "c")


def test_failing_webhook_is_retried_then_reported_by_status(store: Store, receiver: Receiver,
                                                            tmp_path: Path) -> None:
    receiver.mode = "fail"
    publish(store, {"id": "hooked", "notify": {"to": [{"webhook": {"url": receiver.url}}]},
                    "steps": [{"run": "exit 1"}]})
    run_to_end(store, "hooked")
    settings = Settings(attempts=3, backoff_s=10)
    at = T0
    first = deliver_due(store, "d", lambda: at, settings=settings)
    assert [o.status for o in first] == ["pending"]
    assert deliver_due(store, "d", lambda: at + timedelta(seconds=5), settings=settings) == []
    second = deliver_due(store, "d", lambda: at + timedelta(seconds=11), settings=settings)
    third = deliver_due(store, "d", lambda: at + timedelta(seconds=40), settings=settings)
    assert [o.status for o in second + third] == ["pending", "failed"]
    assert len(receiver.wait(3)) == 3
    assert len({r["headers"]["Idempotency-Key"] for r in receiver.requests}) == 1
    report = health(store, T0, overdue_after=timedelta(days=9999),
                    stale_after=timedelta(days=9999))
    assert any(p.startswith(f"notifications to webhook {receiver.url} are failing: HTTP 500")
               for p in report.problems), report.problems
    receiver.mode = "ok"                             # a later success clears it
    run_to_end(store, "hooked")                      # same streak: nothing new ...
    publish(store, {"id": "hooked", "notify": {"repeat": "every",
                                               "to": [{"webhook": {"url": receiver.url}}]},
                    "steps": [{"run": "exit 1"}]})
    run_to_end(store, "hooked")
    assert [o.status for o in deliver_due(store, "d", lambda: at + timedelta(minutes=5),
                                          settings=settings)] == ["delivered"]
    report = health(store, T0, overdue_after=timedelta(days=9999),
                    stale_after=timedelta(days=9999))
    assert not any("notifications to" in p for p in report.problems)


def test_hanging_webhook_never_delays_a_tick(store: Store, receiver: Receiver) -> None:
    receiver.mode = "hang"
    publish(store, {"id": "hung", "notify": {"to": [{"webhook": {"url": receiver.url,
                                                                 "timeout": "20s"}}]},
                    "steps": [{"run": "exit 1"}]})
    publish(store, {"id": "ticker", "trigger": {"type": "recurring", "cron": "* * * * *"},
                    "steps": [{"run": "true"}]})
    run_to_end(store, "hung")
    deliverer = Deliverer(store, "bg", lambda: datetime.now(UTC))
    deliverer.start()
    try:
        receiver.wait(1)                             # the delivery is in flight, held
        for minute in range(1, 4):                   # ticks go on meanwhile
            report = tick(store, T0 + timedelta(minutes=minute))
            assert len(report.launched) == 1
        assert not receiver.release.is_set() and len(receiver.requests) == 1
    finally:
        receiver.release.set()
        deliverer.stop(timeout=30)


def test_apprise_json_target(store: Store, receiver: Receiver) -> None:
    port = receiver.server.server_address[1]
    publish(store, {"id": "via-apprise",
                    "notify": {"to": [{"apprise": f"json://127.0.0.1:{port}/apprise"}]},
                    "steps": [{"run": "exit 1"}]})
    run_to_end(store, "via-apprise")
    assert [o.status for o in deliver_all(store)] == ["delivered"]
    got = receiver.wait(1)[0]
    assert got["path"] == "/apprise"
    message = json.loads(got["body"]["message"])
    assert message["event"] == "failed" and message["workflow_id"] == "via-apprise"
    jsonschema.validate(message, SCHEMA)


def test_namespace_defaults_are_inherited(store: Store, receiver: Receiver,
                                          tmp_path: Path) -> None:
    from clockwf.notify.defaults import load_defaults, publish_defaults

    text = f"notify:\n  to:\n    - webhook: {{url: \"{receiver.url}\"}}\n"
    defaults = load_defaults(text, "defaults.yaml")
    assert publish_defaults(store, defaults, "defaults.yaml", T0) == "published"
    assert publish_defaults(store, defaults, "defaults.yaml", T0) == "unchanged"
    publish(store, {"id": "inherits", "steps": [{"run": "exit 1"}]})
    run_to_end(store, "inherits")
    deliver_all(store)
    assert receiver.wait(1)[0]["body"]["workflow_id"] == "inherits"


def test_two_threads_recording_the_same_overdue_write_it_once(store_url: str, store: Store,
                                                              open_stores: Any) -> None:
    publish(store, {"id": "dm", "expect": {"success_within": "1h"},
                    "notify": {"to": [{"command": "true"}]}, "steps": [{"run": "true"}]})
    others = [open_stores() for _ in range(3)]
    barrier = threading.Barrier(len(others))
    counts: list[int] = []

    def check(s: Store) -> None:
        barrier.wait()
        counts.append(check_expectations(s, T0 + timedelta(hours=2)))

    threads = [threading.Thread(target=check, args=(s,)) for s in others]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(counts) == [0, 0, 1]
    assert [n["event"] for n in notifications(store)] == ["overdue"]


def test_wait_helper_is_used() -> None:
    assert wait_for("a value", lambda: 1) == 1


def test_prune_keeps_what_is_still_to_deliver(store: Store, receiver: Receiver) -> None:
    publish(store, {"id": "pruned", "notify": {"repeat": "every",
                                               "to": [{"webhook": {"url": receiver.url}},
                                                      {"command": "true"}]},
                    "steps": [{"run": "exit 1"}]})
    run_to_end(store, "pruned")
    deliver_all(store)                                   # the first: delivered
    second = start(store, "pruned")                      # the second: still pending
    assert make_executor(store).execute(second) == "failed"
    far = datetime.now(UTC) + timedelta(days=1)
    with store.transaction() as tx:
        assert tx.prune(before=far, dry_run=True)["notifications"] == 1
        counts = tx.prune(before=far, dry_run=False)
    assert (counts["notification_deliveries"], counts["notifications"]) == (2, 1)
    left = notifications(store)
    assert [n["run_id"] for n in left] == [second]
    assert [o.status for o in deliver_all(store)] == ["delivered", "delivered"]


def test_hanging_webhook_is_retried_then_reported(store: Store, receiver: Receiver) -> None:
    receiver.mode = "hang"
    publish(store, {"id": "stuck", "notify": {"to": [{"webhook": {"url": receiver.url,
                                                                  "timeout": "1s"}}]},
                    "steps": [{"run": "exit 1"}]})
    run_to_end(store, "stuck")
    settings = Settings(attempts=2, backoff_s=30)
    first = deliver_due(store, "d", lambda: T0, settings=settings)
    assert [(o.status, o.attempts) for o in first] == [("pending", 1)]
    assert "within 1s" in first[0].detail
    second = deliver_due(store, "d", lambda: T0 + timedelta(seconds=31), settings=settings)
    assert [(o.status, o.attempts) for o in second] == [("failed", 2)]
    assert len(receiver.wait(2)) == 2
    report = health(store, T0, overdue_after=timedelta(days=3650),
                    stale_after=timedelta(days=3650))
    assert any(f"notifications to webhook {receiver.url} are failing" in p
               for p in report.problems), report.problems


def test_a_command_target_gets_a_step_s_environment_not_the_daemon_s(tmp_path: Path) -> None:
    """A notification command sees what a run step sees (PATH, HOME, ..., its own env:), never
    the daemon's store URL or PG* variables; a ${env:} it asks for is passed and masked."""
    from clockwf.notify.targets import send

    secret_url = "postgresql://clockwf:db-secret-pw@db.internal/clockwf"
    daemon_env = {"PATH": "/usr/bin:/bin", "HOME": "/root", "CLOCKWF_DB": secret_url,
                  "PGPASSWORD": "pg-secret-pw", "NOTIFY_SOCKET": "/run/x", "HOOK": "hook-secret"}
    out = tmp_path / "env.txt"
    target = {"command": {"run": f"env > {out}; echo \"token=$TOKEN\" >&2; exit 3",
                          "env": {"TOKEN": "${env:HOOK}"}}}
    sent = send(json.dumps(target), "cmd", b"{}", "n-1", "summary", environ=daemon_env)
    seen = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    assert seen["CLOCKWF_NOTIFICATION_ID"] == "n-1" and seen["TOKEN"] == "hook-secret"
    assert seen["PATH"] == "/usr/bin:/bin" and seen["HOME"] == "/root"
    for name in ("CLOCKWF_DB", "PGPASSWORD", "NOTIFY_SOCKET", "HOOK"):
        assert name not in seen
    assert not sent.ok and "token=***" in sent.detail and "hook-secret" not in sent.detail
