"""The wall clock jumping (docs/design.md §9, §10), on an injected clock driving a real in-process Daemon:

- back an hour between ticks: nothing is launched twice (the schedules' positions, not the
  clock, say what has run), and one ``clock.backward`` warning is logged for the jump;
- forward a day: the missed occurrences are caught up by each schedule's policy (``latest``,
  ``all``, ``none``; one-time too), each exactly once, and a ``clock.forward`` warning is logged;
- forward while a run executes: the run is not interrupted by its own daemon's lease sweep.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clockwf import lifecycle
from clockwf.clock import FixedClock
from clockwf.daemon import Daemon, DaemonOptions
from clockwf.runs import metadata
from clockwf.store import Store, open_store
from clockwf.validate import validate_source

from .faultkit import utc, wait_for


@pytest.fixture
def store(db_url: str, namespace: str) -> Iterator[Store]:
    s = open_store(db_url, namespace)
    yield s
    s.close()


def publish(store: Store, now: datetime, *texts: str) -> None:
    reports = [validate_source(t, f"def{i}.yaml", now, for_publish=True)
               for i, t in enumerate(texts)]
    assert all(r.ok for r in reports), [str(e) for r in reports for e in r.errors]
    lifecycle.publish(store, reports, now)


def recurring(wid: str, cron: str, catchup: str, *, steps: str = "  - run: 'true'\n") -> str:
    return (f"id: {wid}\ntrigger: {{type: recurring, cron: '{cron}'}}\n"
            f"policy: {{catchup: {catchup}, catchup_window: 48h, grace: 1m}}\nsteps:\n{steps}")


def each_catchup(prefix: str, cron: str) -> list[str]:
    """The same recurring schedule under each catch-up policy: ``PREFIX-latest``, ``-all``,
    ``-none``."""
    return [recurring(f"{prefix}-{policy}", cron, policy) for policy in ("latest", "all", "none")]


def paused_daemon(store: Store, at: datetime, caplog: pytest.LogCaptureFixture,
                  **options: Any) -> tuple[FixedClock, Daemon]:
    """A daemon that launches without executing, on a clock the test sets; its INFO log
    captured."""
    clock = FixedClock(at)
    daemon = Daemon(store, clock=clock, options=DaemonOptions(execute=False, **options))
    caplog.set_level(logging.INFO, logger="clockwf")
    return clock, daemon


def one_time(wid: str, run_at: datetime, catchup: str) -> str:
    return (f"id: {wid}\ntrigger: {{type: schedule, run_at: '{run_at.isoformat()}'}}\n"
            f"policy: {{catchup: {catchup}, catchup_window: 48h}}\nsteps:\n  - run: 'true'\n")


def runs(store: Store) -> list[dict[str, Any]]:
    with store.read() as tx:
        return sorted(tx.list_runs(limit=100_000), key=lambda r: r["run_id"])


def keys(store: Store) -> Counter[str]:
    return Counter(r["fire_key"] for r in runs(store))


def skips(store: Store, wid: str) -> list[dict[str, Any]]:
    with store.read() as tx:
        return tx.skips_between(wid, utc("2000-01-01T00:00:00Z"), utc("2100-01-01T00:00:00Z"))


def actions(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "action", None) == name]


def test_clock_back_an_hour_launches_nothing_twice(store: Store,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    t0 = utc("2030-06-01T12:00:00Z")
    publish(store, t0, *each_catchup("every10", "*/10 * * * *"),
            one_time("once", t0 + timedelta(minutes=25), "latest"))
    clock, daemon = paused_daemon(store, t0, caplog)

    def tick_every_5m(start: datetime, end: datetime) -> list[str]:
        launched: list[str] = []
        at = start
        while at <= end:
            clock.set(at)
            report = daemon.tick_once()
            assert report.duplicates == []
            launched += [e["fire_key"] for e in report.launched]
            at += timedelta(minutes=5)
        return launched

    first = tick_every_5m(t0 + timedelta(seconds=5), t0 + timedelta(minutes=40, seconds=5))
    assert len(first) == 3 * 4 + 1          # 12:10 .. 12:40 for each, and the one-time
    assert not actions(caplog, "clock.backward")

    # Back an hour: the same wall times come again; nothing is due again.
    replay = tick_every_5m(t0 - timedelta(minutes=20, seconds=-5),
                           t0 + timedelta(minutes=40, seconds=5))
    assert replay == []
    warned = actions(caplog, "clock.backward")
    assert len(warned) == 1, [r.getMessage() for r in warned]   # once per jump, not per tick
    assert warned[0].levelno == logging.WARNING
    assert warned[0].__dict__["seconds"] == pytest.approx(3600)
    assert "not launched again" in warned[0].getMessage()

    later = tick_every_5m(t0 + timedelta(minutes=45, seconds=5),
                          t0 + timedelta(minutes=60, seconds=5))
    assert sorted(later) == sorted(f"recurring:every10-{p}:2030-06-01T{hm}:00Z"
                                   for p in ("latest", "all", "none") for hm in ("12:50",
                                                                                  "13:00"))
    counted = keys(store)
    assert set(counted.values()) == {1}
    assert len(counted) == 3 * 6 + 1
    assert all(metadata(r)["catchup"] is False for r in runs(store))


def test_clock_back_an_hour_in_the_daemon_loop(store: Store,
                                               caplog: pytest.LogCaptureFixture) -> None:
    """The same, with the loop itself running (sleeping until due, capped by max_sleep)."""
    t0 = utc("2030-06-01T12:00:00Z")
    publish(store, t0, recurring("minutely", "* * * * *", "all"))
    clock, daemon = paused_daemon(store, t0 + timedelta(minutes=3, seconds=1), caplog,
                                  max_sleep=0.05)
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: len(keys(store)) == 3, 20, "three minutely runs")
        clock.set(t0 - timedelta(minutes=57))                  # back an hour
        wait_for(lambda: actions(caplog, "clock.backward"), 20, "the clock.backward warning")
        ticks = daemon.ticks
        wait_for(lambda: daemon.ticks > ticks + 5, 20, "more ticks on the early clock")
        assert len(keys(store)) == 3
        clock.set(t0 + timedelta(minutes=5, seconds=1))        # back where it was, and on
        wait_for(lambda: len(keys(store)) == 5, 20, "the next two minutely runs")
    finally:
        daemon.stop()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert set(keys(store).values()) == {1}
    assert len(actions(caplog, "clock.backward")) == 1


def test_clock_forward_a_day_catches_up_by_policy(store: Store,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    t0 = utc("2030-06-01T00:00:00Z")
    publish(store, t0, *each_catchup("hourly", "0 * * * *"),
            one_time("once-latest", t0 + timedelta(hours=9, minutes=30), "latest"),
            one_time("once-none", t0 + timedelta(hours=9, minutes=30), "none"))
    clock, daemon = paused_daemon(store, t0 + timedelta(hours=1, seconds=10), caplog)
    report = daemon.tick_once()
    assert sorted(e["workflow_id"] for e in report.launched) == [
        "hourly-all", "hourly-latest", "hourly-none"]

    jump_to = t0 + timedelta(days=1, hours=1, minutes=30)     # 24 hourly occurrences missed
    clock.set(jump_to)
    report = daemon.tick_once()
    assert report.duplicates == []
    forward = actions(caplog, "clock.forward")
    assert len(forward) == 1 and forward[0].__dict__["seconds"] > 86_000
    launched = Counter(e["workflow_id"] for e in report.launched)
    assert launched == {"hourly-all": 24, "hourly-latest": 1, "once-latest": 1}
    by_key = {r["fire_key"]: r for r in runs(store)}
    assert metadata(by_key["recurring:hourly-latest:2030-06-02T01:00:00Z"])["catchup"] is True
    assert "recurring:hourly-latest:2030-06-01T23:00:00Z" not in by_key
    assert all(metadata(by_key[f"recurring:hourly-all:{t}"])["catchup"] is True
               for t in ("2030-06-01T02:00:00Z", "2030-06-02T01:00:00Z"))
    assert metadata(by_key["schedule:once-latest:2030-06-01T09:30:00Z"])["catchup"] is True
    # Not launched, each recorded with its reason.
    assert [(s["reason"], s["occurrences"]) for s in skips(store, "hourly-latest")] == [
        ("coalesced", 23)]
    assert [(s["reason"], s["occurrences"]) for s in skips(store, "hourly-none")] == [
        ("missed", 24)]
    assert skips(store, "hourly-all") == []
    assert [s["reason"] for s in skips(store, "once-none")] == ["missed"]
    with store.read() as tx:
        assert tx.get_schedule("once-none")["status"] == "missed"  # type: ignore[index]
        assert tx.get_schedule("once-latest")["status"] == "completed"  # type: ignore[index]

    # The same instant again, then the next hour: nothing twice, then one each.
    again = daemon.tick_once()
    assert again.launched == [] and again.duplicates == []
    clock.set(t0 + timedelta(days=1, hours=2, seconds=5))
    nxt = daemon.tick_once()
    assert sorted(e["fire_key"] for e in nxt.launched) == [
        f"recurring:hourly-{p}:2030-06-02T02:00:00Z" for p in ("all", "latest", "none")]
    counted = keys(store)
    assert set(counted.values()) == {1}
    assert len(counted) == 3 + (24 + 1 + 0) + 1 + 3


def test_clock_forward_does_not_interrupt_a_running_run(store: Store, tmp_path: Any) -> None:
    """A run executing while the wall clock jumps ahead (an NTP step, a resumed VM) is not
    interrupted by its own daemon: its lease is renewed, not swept as expired.

    The step runs until the test lets it finish, so the jump always happens mid-run; the test
    waits for what it needs to have happened (the run started; its lease renewed after the
    jump) instead of sleeping."""
    go = tmp_path / "go"
    t0 = datetime.now(UTC).replace(microsecond=0)
    publish(store, t0 - timedelta(minutes=5), recurring(
        "slow", "* * * * *", "latest",
        steps=f"  - run: 'for i in $(seq 1200); do [ -f {go} ] && exit 0; sleep 0.05; done; "
              "exit 1'\n"))
    clock = FixedClock(t0)
    daemon = Daemon(store, clock=clock, options=DaemonOptions(
        execute=True, workers=1, lease_seconds=1.5, max_sleep=0.1))
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        [running] = wait_for(lambda: [r for r in runs(store) if r["status"] == "running"], 30,
                             "the run to start")
        clock.advance(timedelta(days=1))
        # Leases are stamped on the database's clock, which did not jump: the proof is that
        # the lease keeps being renewed after the jump (its end moves on) and the run runs on.
        before = running["lease_expires_at"]
        renewed = wait_for(lambda: [r for r in runs(store) if r["lease_expires_at"] is not None
                                    and r["lease_expires_at"] > before], 30,
                           "a lease renewal after the jump")
        assert renewed[0]["status"] == "running"
        go.touch()
        done = wait_for(lambda: [r for r in runs(store)
                                 if r["status"] not in ("queued", "running")], 30,
                        "the run to end")
    finally:
        go.touch()
        daemon.stop()
        thread.join(timeout=60)
    assert done[0]["status"] == "succeeded", done[0]
