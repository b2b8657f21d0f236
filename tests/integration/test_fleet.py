"""Several daemons, exactly once (issue 6.1), at CI size: real processes tick the same rehearsed
instants of a span over schedules that fire every minute, on one SQLite file and on one
PostgreSQL database; every expected fire key is stored exactly once and was reported launched by
exactly one process, none is missing; with `clockwf worker` processes executing meanwhile, every
run is executed once. (bench/fleet.py measures the same at larger sizes; this test imports
nothing from bench/.)"""

from __future__ import annotations

import json
import signal
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clockwf import lifecycle
from clockwf.store import open_store
from clockwf.validate import validate_source

from .process_support import Race, python_process
from .scheduling_support import poll_until

pytestmark = pytest.mark.slow

T0 = datetime(2027, 1, 4, 0, 0, tzinfo=UTC)

TICKER = """
import json, sys
from datetime import datetime, timedelta
from clockwf.store import open_store
from clockwf.scheduler import tick
url, ns, start, minutes, batch = sys.argv[1:6]
store = open_store(url, ns)
with store.read() as tx:   # connected and migrated before the start
    tx.earliest_due()
print("ready", flush=True)
sys.stdin.readline()
keys = []
for m in range(1, int(minutes) + 1):
    report = tick(store, datetime.fromisoformat(start) + timedelta(minutes=m),
                  batch_size=int(batch))
    keys += [entry["fire_key"] for entry in report.launched]
store.close()
print(json.dumps({"keys": keys}))
"""


def publish(url: str, ns: str, count: int) -> None:
    """``count`` minutely workflows fleet-00000..., catchup: all."""
    reports = []
    for i in range(count):
        text = (f"id: fleet-{i:05d}\ntrigger: {{type: recurring, cron: '* * * * *'}}\n"
                "policy: {catchup: all, catchup_window: 1d, max_catchup: 1000}\n"
                "steps:\n  - id: noop\n    run: 'true'\n")
        reports.append(validate_source(text, f"fleet-{i:05d}.yaml", T0, for_publish=True))
    assert all(r.ok for r in reports)
    with open_store(url, ns) as store:
        lifecycle.publish(store, reports, T0)


def expected_keys(count: int, minutes: int) -> set[str]:
    return {f"recurring:fleet-{i:05d}:{T0 + timedelta(minutes=m):%Y-%m-%dT%H:%M:%SZ}"
            for i in range(count) for m in range(1, minutes + 1)}


def tick_race(race: Race, url: str, ns: str, *, minutes: int, processes: int,
              batch: int) -> list[list[str]]:
    """Release ``processes`` tickers at once; the fire keys each reported launched."""
    outputs = race(TICKER, [[url, ns, T0.isoformat(), str(minutes), str(batch)]] * processes)
    return [json.loads(out.strip().splitlines()[-1])["keys"] for out in outputs]


def stored_runs(url: str, ns: str) -> list[dict[str, Any]]:
    with open_store(url, ns) as store, store.read() as tx:
        return tx.list_runs(limit=100_000)


def check_exactly_once(per_process: list[list[str]], runs: list[dict[str, Any]],
                       expected: set[str]) -> None:
    stored = [r["fire_key"] for r in runs]
    reported = [key for keys in per_process for key in keys]
    assert len(stored) == len(set(stored)), "a fire key stored twice"
    assert set(stored) == expected, (len(expected - set(stored)), len(set(stored) - expected))
    assert sorted(reported) == sorted(expected), "not reported launched exactly once in all"


def test_three_processes_tick_every_occurrence_exactly_once(race: Race, store_url: str) -> None:
    # 200 schedules x 5 minutes, claimed 25 per transaction: many small transactions, so the
    # three processes interleave (and skip each other's locked rows on PostgreSQL).
    ns = f"fleet-{uuid.uuid4().hex[:8]}"
    publish(store_url, ns, 200)
    per_process = tick_race(race, store_url, ns, minutes=5, processes=3, batch=25)
    expected = expected_keys(200, 5)
    assert len(expected) == 1000
    check_exactly_once(per_process, stored_runs(store_url, ns), expected)


def test_three_processes_with_workers_run_each_occurrence_once(race: Race,
                                                               store_url: str) -> None:
    """Three `clockwf worker` processes execute while three tickers launch: every run ends
    succeeded, with exactly one step attempt."""
    ns = f"exec-{uuid.uuid4().hex[:8]}"
    publish(store_url, ns, 40)
    code = "import sys; from clockwf.cli import main; sys.exit(main())"
    workers = [python_process(code, "worker", "--db", store_url, "--namespace", ns,
                              "--workers", "4", "--grace", "10s", "--log-level", "warning")
               for _ in range(3)]   # (little output: nobody reads the pipes until the end)
    try:
        # A worker records its first heartbeat after it has installed its signal handlers:
        # wait for all three, so that the SIGTERM below asks for a drain and never kills a
        # process still starting (which would end it with -15, not 0).
        def registered() -> bool:
            with open_store(store_url, ns) as store, store.read() as tx:
                return len([d for d in tx.list_daemons() if d["role"] == "worker"]) == 3

        assert poll_until(registered, timeout=120), "the workers did not start"
        per_process = tick_race(race, store_url, ns, minutes=2, processes=3, batch=10)

        def all_ended() -> bool:
            runs = stored_runs(store_url, ns)
            return len(runs) == 80 and all(r["status"] not in ("queued", "running")
                                           for r in runs)

        assert poll_until(all_ended, timeout=120), "the workers did not execute every run"
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.communicate(timeout=60)
            except subprocess.TimeoutExpired:   # pragma: no cover - reported by the asserts
                w.kill()
                w.communicate()
    assert [w.returncode for w in workers] == [0, 0, 0], [w.stderr for w in workers]
    runs = stored_runs(store_url, ns)
    check_exactly_once(per_process, runs, expected_keys(40, 2))
    assert {r["status"] for r in runs} == {"succeeded"}
    with open_store(store_url, ns) as store, store.read() as tx:
        attempts = [tx.list_step_attempts(r["run_id"]) for r in runs]
    assert all([a["status"] for a in run] == ["succeeded"] for run in attempts), attempts
