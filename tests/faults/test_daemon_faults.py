"""The daemon loop under failures it did not expect: it logs, backs off and carries on."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest

from clockwf import daemon as daemon_module
from clockwf import lifecycle
from clockwf import service as service_module
from clockwf.clock import FixedClock
from clockwf.daemon import Daemon, DaemonOptions
from clockwf.errors import StoreUnavailable
from clockwf.store import Store, open_store
from clockwf.validate import validate_source

from .faultkit import utc, wait_for

T0 = utc("2030-01-01T00:00:00Z")


class FlakyStore:
    """Forwards to a store; while ``failing``, its write transactions raise ``error``."""

    def __init__(self, store: Store, error: Exception) -> None:
        self._store = store
        self.failing = True
        self.error = error

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        if self.failing:
            raise self.error
        with self._store.transaction() as tx:
            yield tx

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.fixture
def store(db_url: str, namespace: str) -> Iterator[Store]:
    s = open_store(db_url, namespace)
    report = validate_source("id: hourly\ntrigger: {type: recurring, cron: '0 * * * *'}\n"
                             "steps:\n  - run: 'true'\n", "h.yaml", T0, for_publish=True)
    lifecycle.publish(s, [report], T0)
    yield s
    s.close()


@pytest.mark.parametrize("error, logged", [
    (RuntimeError("a bug in a tick"), "tick.error"),
    (StoreUnavailable("the store is away"), "store.unavailable"),
], ids=["bug", "outage"])
def test_the_loop_survives_a_failing_tick(store: Store, monkeypatch: pytest.MonkeyPatch,
                                          caplog: pytest.LogCaptureFixture,
                                          error: Exception, logged: str) -> None:
    monkeypatch.setattr(daemon_module, "BACKOFF_START", 0.3)
    monkeypatch.setattr(service_module, "HEARTBEAT_EVERY", 0.0)  # heartbeats fail meanwhile too
    caplog.set_level(logging.INFO, logger="clockwf")
    flaky = FlakyStore(store, error=error)
    clock = FixedClock(T0 + timedelta(hours=1, seconds=5))
    d = Daemon(flaky, clock=clock,  # type: ignore[arg-type]
               options=DaemonOptions(execute=False, max_sleep=0.05))
    thread = threading.Thread(target=d.run, daemon=True)

    def failures() -> list[logging.LogRecord]:
        return [r for r in caplog.records if getattr(r, "action", None) == logged]

    thread.start()
    try:
        wait_for(lambda: len(failures()) >= 3, 30, f"three {logged} records")
        assert thread.is_alive() and d.launched == 0
        flaky.failing = False
        wait_for(lambda: d.launched == 1, 30, "the launch after the failures")
    finally:
        d.stop()
        thread.join(timeout=30)
    assert not thread.is_alive()
    records = failures()
    delays = [r.__dict__["retry_in"] for r in records]
    assert delays == [0.3 * 2**i for i in range(len(delays))]   # backing off
    for before, after in itertools.pairwise(records):   # as announced, although each
        waited = after.created - before.created          # heartbeat failed meanwhile
        assert waited >= 0.9 * before.__dict__["retry_in"], (waited, before.__dict__)
    if logged == "tick.error":
        assert failures()[0].exc_info is not None   # the traceback is in the log, once each
    kind = "tick" if logged == "tick.error" else "store"
    recovered = [r for r in caplog.records if getattr(r, "action", None) == f"{kind}.recovered"]
    assert len(recovered) == 1 and recovered[0].__dict__["launched"] == 1
    with store.read() as tx:
        runs = tx.list_runs()
    assert [r["fire_key"] for r in runs] == ["recurring:hourly:2030-01-01T01:00:00Z"]
